"""What a file is, sniffed from its bytes: Pillow first, then PyAV.

probe() also proves the file decodes (first frame / first audio packet), so a
truncated file fails here with a clear message rather than midway through a scan.
"""

from __future__ import annotations

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
    """Identify a file by content and prove it decodes; raises MediaError saying why not.

    ``with_hash=False`` skips the SHA-256 (a full read) for quick listings.
    """
    from deepfake_gui.media.av_util import check_file

    path = Path(path)
    size = check_file(path)
    info = _probe_image(path, size)
    if info is None:
        info = _probe_av(path, size)
    if with_hash:
        info.sha256 = sha256_file(path)
    return info


def _probe_image(path: Path, size: int) -> MediaInfo | None:
    from PIL import Image, UnidentifiedImageError

    from deepfake_gui.media.image import (
        IMAGE_FORMATS,
        check_frame_count,
        check_pixel_count,
        decode_error,
        load_image,
    )

    fmt = "image"
    try:
        with Image.open(path, formats=IMAGE_FORMATS) as im:
            fmt = im.format or "image"
            mode = im.mode
            # before any seek: seeking a GIF decodes the frame at the claimed size
            check_pixel_count(path, fmt, *im.size)
            n_frames = int(getattr(im, "n_frames", 1) or 1)
            check_frame_count(path, fmt, n_frames)
            duration_ms = 0.0
            if n_frames > 1:
                for i in range(n_frames):
                    im.seek(i)
                    check_pixel_count(path, fmt, *im.size)  # a frame's extents may grow the canvas
                    im.load()  # WebP sets info["duration"] only once the frame is decoded
                    duration_ms += float(im.info.get("duration", 0) or 0)
    except UnidentifiedImageError:
        return None
    except MediaError:
        raise
    except Exception as exc:  # anything a decoder raises on untrusted bytes is the file's error
        raise decode_error(path, fmt, exc) from exc
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


def _is_image_demuxer(fmt: str) -> bool:
    return fmt == "image2" or fmt.endswith("_pipe")


def _probe_av(path: Path, size: int) -> MediaInfo:
    """Audio/video through FFmpeg.

    A file counts as media only if it has at least one stream, its first frame
    decodes and it has a positive duration. Decode failures are blamed on the file
    being "not media" unless its magic bytes name a real container (then it is
    truncated or corrupt): FFmpeg will happily open random bytes called ``.aac``.
    """
    import av

    from deepfake_gui.media.av_util import (
        audio_channels,
        codec_name,
        container_label,
        explain_av_error,
        open_container,
        read_head,
        real_video_streams,
        structure_problem,
    )

    head = read_head(path)
    label = container_label(path, head)
    with open_container(path) as container:
        fmt = container.format.name if container.format else "unknown"
        videos = real_video_streams(container)
        audios = list(container.streams.audio)
        if not videos and not audios:
            raise MediaError(path, "not a media file", "no audio or video stream found", "not-media")
        if _is_image_demuxer(fmt):
            # Pillow (tried first) did not recognise it, so LayerScope cannot decode it
            try:
                _first_frame(container, videos[0], label)
            except (MediaError, av.FFmpegError, OSError, ValueError, EOFError) as exc:
                raise MediaError(path, "not a media file", "not a decodable image or recording",
                                 "not-media") from exc
            raise MediaError(path, "unsupported image format",
                             f"FFmpeg reads it as {codec_name(videos[0])}, but images are decoded by "
                             "Pillow (PNG, JPEG, WebP, GIF, BMP, TIFF)", "unsupported")
        problem = structure_problem(path, head)  # e.g. moov first and mdat cut short
        if problem is not None:
            raise MediaError(path, f"truncated {label}", problem, "truncated")
        container_duration = (
            float(container.duration) / av.time_base if container.duration not in (None, 0) else None
        )
        audio = audios[0] if audios else None
        try:
            if videos:
                info = _video_info(path, size, fmt, videos[0], container_duration)
                _first_frame(container, videos[0], label)
            else:
                info = _audio_info(path, size, fmt, audio, container_duration)
                _first_frame(container, audio, label)
        except MediaError:
            raise
        except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
            raise explain_av_error(path, exc) from exc
        if info.modality == "video" and audio is not None:
            info.has_audio = True
            info.audio_codec = codec_name(audio)
            info.sample_rate = audio.codec_context.sample_rate or audio.rate
            info.channels = audio_channels(audio)
        if info.duration_s is None or info.duration_s <= 0:
            raise MediaError(path, "not a media file", "the stream has no duration", "not-media")
        return info


def _first_frame(container, stream, label: str | None) -> None:
    for _ in container.decode(stream):
        return
    if label is None:
        raise MediaError(container.name, "not a media file", "FFmpeg decoded no frames from it", "not-media")
    raise MediaError(container.name, f"truncated {label}", "the stream decoded to no frames", "truncated")


def _stream_duration(stream, fallback: float | None) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return fallback


def _video_info(path: Path, size: int, fmt: str, stream, container_duration: float | None) -> MediaInfo:
    from deepfake_gui.media.av_util import codec_name

    fps = float(stream.average_rate) if stream.average_rate else (
        float(stream.guessed_rate) if stream.guessed_rate else None
    )
    duration = _stream_duration(stream, container_duration)
    frames = int(stream.frames) if stream.frames else None
    extra = {}
    if frames is None and fps and duration:
        frames = round(fps * duration)
        extra["frame_count_estimated"] = True
    from deepfake_gui.media.image import PIXEL_BUDGET

    width, height = stream.codec_context.width or 0, stream.codec_context.height or 0
    if width * height > PIXEL_BUDGET:  # each sampled frame is decoded whole to RGB
        raise MediaError(path, "video too large", f"its frames claim {width}x{height} pixels, above the "
                         f"{PIXEL_BUDGET // 1_000_000} MP budget per picture; nothing was decoded", "too-large")
    return MediaInfo(
        path=str(path),
        modality="video",
        container=fmt,
        codec=codec_name(stream),
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
    from deepfake_gui.media.av_util import audio_channels, codec_name

    return MediaInfo(
        path=str(path),
        modality="audio",
        container=fmt,
        codec=codec_name(stream),
        byte_size=size,
        sha256="",
        duration_s=_stream_duration(stream, container_duration),
        sample_rate=stream.codec_context.sample_rate or stream.rate,
        channels=audio_channels(stream),
    )
