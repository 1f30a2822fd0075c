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
    """Presentation time in seconds from the stream's start (mp4 edit lists may start > 0)."""
    time_base = frame.time_base or stream.time_base
    if frame.pts is not None and time_base is not None:
        start = stream.start_time * stream.time_base if stream.start_time is not None else 0
        return float(frame.pts * time_base - start)
    return float(frame.time or 0.0)


def _video_stream(container, path: str | Path):
    streams = real_video_streams(container)
    if not streams:
        raise MediaError(path, "no video stream", "the file has no moving-picture track", "unsupported")
    stream = streams[0]
    stream.thread_type = "AUTO"
    return stream


def _fps(stream) -> float | None:
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else None


def _decode(
    path: str | Path, container, stream, start_s: float, keyframes_only: bool
) -> Iterator[tuple[int, float, object]]:
    """(frame index, time, av.VideoFrame) in presentation order, from the keyframe before start_s.

    Without a seek the index is an exact count. After a seek (or when non-key frames
    are skipped) the frames before are never decoded, so the index is derived from
    the timestamp at the stream's average rate: exact for constant-frame-rate files.
    """
    import av

    fps = _fps(stream)
    if keyframes_only:
        stream.codec_context.skip_frame = "NONKEY"
    index = -1
    decoded_any = False
    try:
        seeked = start_s > 0
        if seeked:
            offset = int(start_s / stream.time_base) + (stream.start_time or 0)
            container.seek(offset, stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            decoded_any = True
            t = _frame_time(frame, stream)
            if fps and (keyframes_only or (seeked and index < 0)):
                index = round(t * fps)
            else:
                index += 1
            yield index, t, frame
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise explain_av_error(path, exc, opened=decoded_any) from exc


def _sample(
    path: str | Path,
    *,
    every_n: int | None,
    per_second: float | None,
    keyframes_only: bool,
    start_s: float,
    end_s: float | None,
) -> Iterator[tuple[int, float, object]]:
    """The sampling rules of iter_video_frames, on undecoded-to-RGB frames."""
    rules = sum(x is not None and x is not False for x in (every_n, per_second, keyframes_only or None))
    if rules > 1:
        raise ValueError("choose one of every_n, per_second, keyframes_only")
    if every_n is not None and every_n < 1:
        raise ValueError("every_n must be >= 1")
    if per_second is not None and per_second <= 0:
        raise ValueError("per_second must be > 0")
    if start_s < 0:
        raise ValueError("start_s must be >= 0")
    with open_container(path) as container:
        stream = _video_stream(container, path)
        next_tick = start_s
        kept_index = 0
        for index, t, frame in _decode(path, container, stream, start_s, keyframes_only):
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
                yield index, t, frame


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

    Exactly one sampling rule applies: ``every_n`` (every Nth frame from ``start_s``),
    ``per_second`` (the first frame at or after each 1/N s tick) or ``keyframes_only``.
    With none, every frame is yielded. ``start_s`` seeks to the keyframe before it and
    skips forward, so seeking costs at most one GOP of decoding; the first frame
    yielded is the first whose time is >= ``start_s``.
    """
    for index, t, frame in _sample(
        path, every_n=every_n, per_second=per_second, keyframes_only=keyframes_only,
        start_s=start_s, end_s=end_s,
    ):
        yield VideoFrame(index, t, frame.to_ndarray(format="rgb24"), bool(frame.key_frame))


def read_frame_at(path: str | Path, time_s: float) -> VideoFrame:
    """The frame shown at ``time_s``: the last frame starting at or before it.

    A time inside the last frame's display period still returns the last frame;
    a time past the end of the video raises MediaError.
    """
    if time_s < 0:
        raise ValueError("time_s must be >= 0")
    with open_container(path) as container:
        stream = _video_stream(container, path)
        fps = _fps(stream)
        for start in (time_s, 0.0):  # if an imprecise seek overshoots, decode from the start
            best = None
            for index, t, frame in _decode(path, container, stream, start, False):
                if t > time_s + 1e-6:
                    break
                best = (index, t, frame)
            if best is not None or start == 0.0:
                break
            container.seek(0, stream=stream, backward=True, any_frame=False)
        if best is None:
            raise MediaError(path, "seek failed", f"no frame at or before {time_s:.3f} s", "unsupported")
        index, t, frame = best
        if frame.duration and (frame.time_base or stream.time_base):
            period = float(frame.duration * (frame.time_base or stream.time_base))
        else:
            period = 1.0 / fps if fps else 0.0
        if time_s > t + period + 1e-6:
            raise MediaError(
                path, "seek failed", f"{time_s:.3f} s is past the end of the video ({t + period:.3f} s)",
                "unsupported",
            )
        return VideoFrame(index, t, frame.to_ndarray(format="rgb24"), bool(frame.key_frame))


def frame_times(path: str | Path, per_second: float | None = None) -> np.ndarray:
    """Timestamps the sampler would visit, without converting pixels (for timelines)."""
    times = [t for _, t, _ in _sample(
        path, every_n=None, per_second=per_second, keyframes_only=False, start_s=0.0, end_s=None,
    )]
    return np.array(times, dtype=np.float64)
