"""Container and stream tags of video and audio files (PyAV), without decoding a frame.

Tags such as ``encoder`` (``Lavf…`` for FFmpeg, ``HandBrake``, a phone's
firmware), ``creation_time``, ``handler_name`` (``Core Media Video`` on Apple
devices, ``VideoHandler`` for FFmpeg) and ``com.apple.quicktime.*`` say which
tool last wrote the file; a re-encode usually replaces them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepfake_gui.provenance._text import clip, to_text
from deepfake_gui.provenance.fingerprints import Field, xmp_fields

MAX_TAGS = 40  # per container or stream, in the summary
MAX_STREAMS = 16


def _tags(metadata: Any) -> dict[str, str]:
    """A tag dict cut to MAX_TAGS keys and SUMMARY_CHARS per value, keys sorted for stable output."""
    items = sorted((to_text(k), v) for k, v in dict(metadata or {}).items())
    return {k: clip(v) for k, v in items[:MAX_TAGS] if k}


def read_av_metadata(path: str | Path) -> tuple[dict[str, Any], list[Field]]:
    """(summary, fields) of a video or audio file; errors are listed under ``errors``.

    The summary holds the container format, its tags, the ``encoder`` and
    ``creation_time`` found anywhere, the handler names and each stream's type,
    codec and tags. ``fields`` carries every tag for the generator hints.
    """
    from deepfake_gui.core.errors import MediaError
    from deepfake_gui.media.av_util import codec_name, is_attached_picture, open_container

    meta: dict[str, Any] = {"kind": "av", "errors": []}
    fields: list[Field] = []
    try:
        with open_container(path) as container:
            meta["format"] = container.format.name if container.format else None
            raw_tags = dict(container.metadata or {})
            meta["container_tags"] = _tags(raw_tags)
            fields.extend(Field(f"tag:{to_text(k)}", to_text(v)) for k, v in raw_tags.items())
            streams = []
            for stream in list(container.streams)[:MAX_STREAMS]:
                stream_tags = dict(stream.metadata or {})
                kind = "cover" if is_attached_picture(stream) else stream.type
                try:
                    codec = codec_name(stream)
                except Exception:  # a stream whose codec FFmpeg does not know
                    codec = None
                streams.append({"index": stream.index, "type": kind, "codec": codec, "tags": _tags(stream_tags)})
                fields.extend(Field(f"stream{stream.index}:{to_text(k)}", to_text(v)) for k, v in stream_tags.items())
            meta["streams"] = streams
    except MediaError as exc:  # not media, truncated: the message already names the file
        meta["errors"].append(f"container tags unreadable: {exc.what}: {exc.why}")
        return meta, fields
    except Exception as exc:  # FFmpeg internals on hostile input
        meta["errors"].append(f"container tags unreadable: {type(exc).__name__}: {exc}")
        return meta, fields
    for key in ("encoder", "creation_time"):
        value = next((f.value for f in fields if f.name == key and f.value), None)
        meta[key] = clip(value) if value else None
    meta["handler_names"] = sorted({clip(f.value) for f in fields if f.name == "handler_name" and f.value})
    xmp = next((f.value for f in fields if f.name == "xmp" and f.value), None)  # some muxers expose XMP as a tag
    meta["xmp_present"] = xmp is not None
    if xmp:
        fields.extend(xmp_fields(xmp))
    return meta, fields
