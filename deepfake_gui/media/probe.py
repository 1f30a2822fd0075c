"""What a file is, sniffed from its bytes: Pillow first, then PyAV.

probe() also proves the file decodes (first frame / first audio packet), so a
truncated file fails here with a clear message rather than midway through a scan.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from deepfake_gui.core.errors import MediaError
from deepfake_gui.core.hashing import sha256_file

Modality = Literal["image", "video", "audio"]


@dataclass
class MediaInfo:
    path: str
    modality: Modality
    container: str
    codec: str
    byte_size: int
    sha256: str
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    frame_count: int | None = None
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    audio_codec: str | None = None  # a video's audio track
    has_audio: bool = False
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def probe(path: str | Path, *, with_hash: bool = True) -> MediaInfo:
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        raise MediaError(path, "cannot open", "no such file", "unreadable") from exc
    except OSError as exc:
        raise MediaError(path, "cannot open", exc.strerror or str(exc), "unreadable") from exc
    if not path.is_file():
        raise MediaError(path, "cannot open", "not a regular file", "unsupported")
    if stat.st_size == 0:
        raise MediaError(path, "empty file", "0 bytes", "empty")
    if not os.access(path, os.R_OK):
        raise MediaError(path, "cannot open", "permission denied", "unreadable")
    info = _probe_image(path, stat.st_size)
    if info is None:
        info = _probe_av(path, stat.st_size)
    if with_hash:
        info.sha256 = sha256_file(path)
    return info


def _probe_image(path: Path, size: int) -> MediaInfo | None:
    from PIL import Image, UnidentifiedImageError

    from deepfake_gui.media.image import IMAGE_FORMATS, check_pixel_count, load_image

    try:
        with Image.open(path, formats=IMAGE_FORMATS) as im:
            fmt = im.format or "image"
            width, height = im.size
            n_frames = int(getattr(im, "n_frames", 1) or 1)
            mode = im.mode
            duration_ms = 0.0
            if n_frames > 1:
                for i in range(n_frames):
                    im.seek(i)
                    duration_ms += float(im.info.get("duration", 0) or 0)
    except UnidentifiedImageError:
        return None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaError(path, "cannot open image", str(exc), "truncated") from exc
    check_pixel_count(path, fmt, width, height)
    image = load_image(path)  # proves it decodes; applies EXIF orientation
    height, width = image.shape[:2]
    animated = n_frames > 1
    return MediaInfo(
        path=str(path),
        modality="image",
        container=fmt.lower(),
        codec=fmt.lower(),
        byte_size=size,
        sha256="",
        width=width,
        height=height,
        frame_count=n_frames,
        duration_s=duration_ms / 1000.0 if animated else None,
        fps=(n_frames / (duration_ms / 1000.0)) if animated and duration_ms > 0 else None,
        extra={"mode": mode, "animated": animated},
    )


def _probe_av(path: Path, size: int) -> MediaInfo:
    import av

    from deepfake_gui.media.av_util import explain_av_error, open_container, real_video_streams

    with open_container(path) as container:
        fmt = container.format.name if container.format else "unknown"
        videos = real_video_streams(container)
        audios = list(container.streams.audio)
        if not videos and not audios:
            raise MediaError(path, "not a media file", "no audio or video stream found", "not-media")
        container_duration = (
            float(container.duration) / av.time_base if container.duration not in (None, 0) else None
        )
        audio = audios[0] if audios else None
        try:
            if videos:
                info = _video_info(path, size, fmt, videos[0], container_duration)
                _first_frame(container, videos[0])
            else:
                info = _audio_info(path, size, fmt, audio, container_duration)
                _first_frame(container, audio)
        except MediaError:
            raise
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise explain_av_error(path, exc) from exc
        if info.modality == "video" and audio is not None:
            info.has_audio = True
            info.audio_codec = audio.codec_context.name
            info.sample_rate = audio.codec_context.sample_rate or audio.rate
            info.channels = audio.codec_context.channels
        if info.duration_s is None or info.duration_s <= 0:
            raise MediaError(path, "not a media file", "the stream has no duration", "not-media")
        return info


def _first_frame(container, stream) -> None:
    for _ in container.decode(stream):
        return
    raise MediaError(container.name, "no decodable frames", "the stream decoded to nothing", "truncated")


def _stream_duration(stream, fallback: float | None) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return fallback


def _video_info(path: Path, size: int, fmt: str, stream, container_duration: float | None) -> MediaInfo:
    fps = float(stream.average_rate) if stream.average_rate else (
        float(stream.guessed_rate) if stream.guessed_rate else None
    )
    duration = _stream_duration(stream, container_duration)
    frames = int(stream.frames) if stream.frames else None
    extra = {}
    if frames is None and fps and duration:
        frames = round(fps * duration)
        extra["frame_count_estimated"] = True
    return MediaInfo(
        path=str(path),
        modality="video",
        container=fmt,
        codec=stream.codec_context.name,
        byte_size=size,
        sha256="",
        width=stream.codec_context.width,
        height=stream.codec_context.height,
        fps=fps,
        frame_count=frames,
        duration_s=duration,
        extra=extra,
    )


def _audio_info(path: Path, size: int, fmt: str, stream, container_duration: float | None) -> MediaInfo:
    return MediaInfo(
        path=str(path),
        modality="audio",
        container=fmt,
        codec=stream.codec_context.name,
        byte_size=size,
        sha256="",
        duration_s=_stream_duration(stream, container_duration),
        sample_rate=stream.codec_context.sample_rate or stream.rate,
        channels=stream.codec_context.channels,
    )
