"""Lazy video frame iteration with sampling and seeking (PyAV).

Frames are decoded one at a time and converted to RGB uint8 only when they are
kept, so a one-hour video costs the memory of a few frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_gui.core.errors import MediaError
from deepfake_gui.media.av_util import explain_av_error, open_container, real_video_streams


@dataclass(frozen=True)
class VideoFrame:
    index: int  # decode order index among all frames of the stream
    time_s: float  # presentation time
    image: np.ndarray  # (H, W, 3) uint8
    keyframe: bool


def _frame_time(frame, stream) -> float:
    if frame.pts is not None and frame.time_base is not None:
        start = stream.start_time * stream.time_base if stream.start_time is not None else 0
        return float(frame.pts * frame.time_base - start)
    return float(frame.time or 0.0)


def iter_video_frames(
    path: str | Path,
    *,
    every_n: int | None = None,
    per_second: float | None = None,
    keyframes_only: bool = False,
    start_s: float = 0.0,
    end_s: float | None = None,
) -> Iterator[VideoFrame]:
    """Yield sampled frames in time order.

    Exactly one sampling rule applies: ``every_n`` (every Nth frame), ``per_second``
    (the first frame at or after each 1/N s tick) or ``keyframes_only``. With none,
    every frame is yielded. ``start_s`` seeks to the keyframe before it and skips
    forward, so seeking costs at most one GOP of decoding.
    """
    rules = sum(x is not None and x is not False for x in (every_n, per_second, keyframes_only or None))
    if rules > 1:
        raise ValueError("choose one of every_n, per_second, keyframes_only")
    if every_n is not None and every_n < 1:
        raise ValueError("every_n must be >= 1")
    if per_second is not None and per_second <= 0:
        raise ValueError("per_second must be > 0")
    with open_container(path) as container:
        streams = real_video_streams(container)
        if not streams:
            raise MediaError(path, "no video stream", "the file has no moving-picture track", "unsupported")
        stream = streams[0]
        stream.thread_type = "AUTO"
        if keyframes_only:
            stream.codec_context.skip_frame = "NONKEY"
        if start_s > 0:
            offset = int(start_s / stream.time_base) + (stream.start_time or 0)
            container.seek(offset, stream=stream, backward=True, any_frame=False)
        next_tick = start_s
        kept_index = 0
        try:
            for index, frame in enumerate(container.decode(stream)):
                t = _frame_time(frame, stream)
                if t < start_s - 1e-6:
                    continue
                if end_s is not None and t > end_s:
                    break
                if every_n is not None:
                    keep = kept_index % every_n == 0
                    kept_index += 1
                elif per_second is not None:
                    keep = t + 1e-6 >= next_tick
                    if keep:
                        # skip ticks the stream jumped over (variable frame rate)
                        while next_tick <= t + 1e-6:
                            next_tick += 1.0 / per_second
                else:
                    keep = True
                if keep:
                    yield VideoFrame(index, t, frame.to_ndarray(format="rgb24"), bool(frame.key_frame))
        except MediaError:
            raise
        except Exception as exc:  # FFmpeg errors mid-stream: truncated or corrupt data
            import av

            if isinstance(exc, (av.FFmpegError, OSError, ValueError)):
                raise explain_av_error(path, exc) from exc
            raise


def read_frame_at(path: str | Path, time_s: float) -> VideoFrame:
    """The frame shown at ``time_s`` (the last frame starting at or before it)."""
    best: VideoFrame | None = None
    for frame in iter_video_frames(path, start_s=max(0.0, time_s - 1e-3)):
        best = frame
        break
    if best is None:
        raise MediaError(path, "seek failed", f"no frame at or after {time_s:.3f} s", "unsupported")
    return best


def frame_times(path: str | Path, per_second: float | None = None) -> np.ndarray:
    """Timestamps the sampler would visit, without converting pixels (for timelines)."""
    return np.array([f.time_s for f in iter_video_frames(path, per_second=per_second)], dtype=np.float64)
