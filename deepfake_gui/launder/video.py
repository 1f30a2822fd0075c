"""H.264 re-encoding of a video, the way a platform or messenger re-encodes an upload.

A suspect video has usually been through at least one such trip: downscaled, encoded
with x264 at a CRF well above the camera's, its sound re-encoded as low bit-rate AAC.
:func:`reencode_h264` reproduces that with PyAV's bundled FFmpeg (libx264, native
AAC-LC) and keeps everything a detector aligns on: the frame rate, every frame's
timestamp and the track's length. x264's output depends on its thread count, so the
count is fixed (1 by default): the same input and settings give the same bytes on
every machine, and cached copies stay valid.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np

from deepfake_gui.core.errors import MediaError

VIDEO_ENCODER = "libx264"
PRESET = "veryfast"
THREADS = 1  # fixed: x264 is deterministic for a given thread count only
AUDIO_ENCODER = "aac"  # FFmpeg's native AAC-LC (libfdk_aac is not in PyAV's wheels)
AUDIO_BITRATE = 128_000  # what a good-quality upload keeps; the social conditions go far lower
AAC_FRAME = 1024
AudioFn = Callable[[np.ndarray, int], np.ndarray]  # (mono float32 samples, rate) -> samples at the same rate


def scaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """``width`` x ``height`` times ``scale``, each rounded to the nearest even number (yuv420p), at least 2."""
    def even(n: int) -> int:
        return max(2, int(n * scale / 2 + 0.5) * 2)

    return even(width), even(height)


def _audio_track(src: Path) -> tuple[np.ndarray, int] | None:
    """The first audio track as mono float32 at its own rate, or None for a silent video."""
    from deepfake_gui.media import load_audio
    from deepfake_gui.media.av_util import open_container

    with open_container(src) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate or stream.rate or 0)
    if rate <= 0:
        raise MediaError(src, "cannot decode audio", "the audio track states no sample rate", "unsupported")
    return load_audio(src, rate), rate


def mux_mono_audio(out, stream, samples: np.ndarray, rate: int) -> None:
    """Encode mono float samples (clipped to [-1, 1]) in 1024-sample frames into ``stream`` of ``out``, then flush."""
    import av

    x = np.ascontiguousarray(np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0))
    for start in range(0, len(x), AAC_FRAME):
        frame = av.AudioFrame.from_ndarray(x[None, start:start + AAC_FRAME], format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def reencode_h264(src: str | Path, dst: str | Path, crf: int, scale: float = 1.0, audio_fn: AudioFn | None = None,
                  *, audio_bitrate: int = AUDIO_BITRATE, preset: str = PRESET, threads: int = THREADS) -> Path:
    """``src`` re-encoded as H.264 (yuv420p, CRF ``crf``, ``scale`` x the size, even sides) + AAC in an MP4 at ``dst``.

    Frames keep their timestamps (so the frame rate and duration are the source's);
    downscaling uses area averaging, upscaling bicubic. The first audio track, if any,
    is decoded to mono at its own rate, passed through ``audio_fn`` (e.g. a codec round
    trip from deepfake_gui.launder.audio) and encoded as AAC-LC at ``audio_bitrate``;
    mono because every detector here reads mono. The audio is held whole while
    ``audio_fn`` runs; the video is streamed frame by frame.
    """
    if not 0 <= int(crf) <= 51:
        raise ValueError(f"crf must be in 0..51, got {crf}")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    src, dst = Path(src), Path(dst)
    track = _audio_track(src)
    if track is not None and audio_fn is not None:
        track = (np.asarray(audio_fn(track[0], track[1]), dtype=np.float32), track[1])
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        _transcode(src, dst, int(crf), scale, track, audio_bitrate, preset, threads)
    except BaseException:
        dst.unlink(missing_ok=True)  # never leave a half-written MP4 that looks like a copy
        raise
    return dst


def _transcode(src: Path, dst: Path, crf: int, scale: float, track: tuple[np.ndarray, int] | None,
               audio_bitrate: int, preset: str, threads: int) -> None:
    import av

    from deepfake_gui.media.av_util import explain_av_error, open_container, real_video_streams

    with open_container(src) as inp:
        streams = real_video_streams(inp)
        if not streams:
            raise MediaError(src, "no video stream", "the file has no moving-picture track", "unsupported")
        ivs = streams[0]
        rate = ivs.average_rate or ivs.guessed_rate or Fraction(25)
        time_base = ivs.time_base or Fraction(1, 90_000)
        with av.open(str(dst), mode="w", format="mp4") as out:
            ovs = out.add_stream(VIDEO_ENCODER, rate=rate, options={"crf": str(crf), "preset": preset})
            ovs.pix_fmt = "yuv420p"
            ovs.codec_context.time_base = time_base  # the source's clock: timestamps copied as they are
            ovs.codec_context.thread_count = int(threads)
            oas = None
            if track is not None:
                oas = out.add_stream(AUDIO_ENCODER, rate=track[1], layout="mono")
                oas.bit_rate = int(audio_bitrate)
            size: tuple[int, int] | None = None
            last_pts: int | None = None
            decoded_any = False
            try:
                for i, frame in enumerate(inp.decode(ivs)):
                    decoded_any = True
                    if size is None:
                        size = scaled_size(frame.width, frame.height, scale)
                        ovs.width, ovs.height = size
                    shrink = size[0] * size[1] < frame.width * frame.height
                    pts = frame.pts if frame.pts is not None else round(i / rate / time_base)
                    if frame.time_base not in (None, time_base):
                        pts = round(pts * frame.time_base / time_base)
                    if last_pts is not None and pts <= last_pts:  # x264 refuses non-increasing timestamps
                        pts = last_pts + 1
                    scaled = frame.reformat(width=size[0], height=size[1], format="yuv420p",
                                            interpolation="AREA" if shrink else "BICUBIC")
                    scaled.pts, scaled.time_base, last_pts = pts, time_base, pts
                    out.mux(ovs.encode(scaled))
            except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
                raise explain_av_error(src, exc, opened=decoded_any) from exc
            if size is None:
                raise MediaError(src, "no video frames", "the video track decoded to no frames", "empty")
            out.mux(ovs.encode(None))
            if oas is not None and track is not None:
                mux_mono_audio(out, oas, *track)


__all__ = ["AUDIO_BITRATE", "AUDIO_ENCODER", "PRESET", "THREADS", "VIDEO_ENCODER", "AudioFn", "reencode_h264",
           "scaled_size"]
