"""Opening containers with PyAV and turning FFmpeg's terse errors into sentences."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deepfake_gui.core.errors import MediaError


def explain_av_error(path: str | Path, exc: Exception) -> MediaError:
    text = str(exc)
    lowered = text.lower()
    suffix = Path(path).suffix.lower().lstrip(".") or "file"
    if "moov atom not found" in lowered:
        return MediaError(path, f"truncated {suffix.upper()}", "no moov atom (the file was cut short)", "truncated")
    if "invalid data found" in lowered or "could not find codec parameters" in lowered:
        return MediaError(path, "not a media file", "FFmpeg found no decodable audio or video", "not-media")
    if "end of file" in lowered or "truncat" in lowered:
        return MediaError(path, "truncated file", text, "truncated")
    return MediaError(path, "cannot decode", text or type(exc).__name__)


@contextmanager
def open_container(path: str | Path) -> Iterator[object]:
    import av

    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise explain_av_error(path, exc) from exc
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise explain_av_error(path, exc) from exc
    try:
        yield container
    finally:
        container.close()


def real_video_streams(container) -> list:
    """Video streams that are moving pictures, not MP3/M4A cover art."""
    streams = []
    for stream in container.streams.video:
        disposition = getattr(stream, "disposition", None)
        attached = False
        if disposition is not None:
            try:
                import av

                attached = bool(disposition & av.stream.Disposition.attached_pic)
            except (AttributeError, TypeError):
                attached = False
        if not attached:
            streams.append(stream)
    return streams
