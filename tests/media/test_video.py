"""Video: sampling rules, seeking, frame identity from pixels, and bounded memory."""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from media_factory import VIDEO_FPS, VIDEO_FRAMES, VIDEO_GOP, VIDEO_H, VIDEO_W

from deepfake_gui.core.errors import MediaError
from deepfake_gui.media import VideoFrame, iter_video_frames, probe, read_frame_at
from deepfake_gui.media.video import frame_times

PERIOD = 1.0 / VIDEO_FPS


def pixel_index(frame: VideoFrame) -> int:
    """Frame i of the fixture is uniform gray 10*i: recover i from the pixels."""
    return int(round(float(frame.image.mean()) / 10.0))


def assert_consistent(frames: list[VideoFrame]) -> None:
    """Every frame's index, time and pixels agree; times strictly increase."""
    for f in frames:
        assert f.image.shape == (VIDEO_H, VIDEO_W, 3) and f.image.dtype == np.uint8
        assert pixel_index(f) == f.index
        assert f.time_s == pytest.approx(f.index / VIDEO_FPS, abs=1e-6)
        assert f.keyframe == (f.index % VIDEO_GOP == 0)
    times = [f.time_s for f in frames]
    assert all(b > a for a, b in itertools.pairwise(times))


@pytest.mark.parametrize("name", ["mp4", "mp4_video_only"])
def test_all_frames_in_order(media_files: dict[str, Path], name: str) -> None:
    frames = list(iter_video_frames(media_files[name]))
    assert [f.index for f in frames] == list(range(VIDEO_FRAMES))
    assert_consistent(frames)
    # the uniform gray survives H.264 within a few levels
    for f in frames:
        assert abs(float(f.image.mean()) - 10 * f.index) < 3


@pytest.mark.parametrize("n", [1, 3, 7, 25])
def test_every_n(media_files: dict[str, Path], n: int) -> None:
    frames = list(iter_video_frames(media_files["mp4"], every_n=n))
    assert [f.index for f in frames] == list(range(0, VIDEO_FRAMES, n))
    assert_consistent(frames)


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (1, [0, 10]),
        (2, [0, 5, 10, 15]),
        (3, [0, 4, 7, 10, 14, 17]),  # first frame at/after 0, 1/3, 2/3, 1, 4/3, 5/3 s
        (100, list(range(VIDEO_FRAMES))),  # faster than the video: every frame once
    ],
)
def test_per_second(media_files: dict[str, Path], rate: float, expected: list[int]) -> None:
    frames = list(iter_video_frames(media_files["mp4"], per_second=rate))
    assert [f.index for f in frames] == expected
    assert_consistent(frames)


def test_keyframes_only(media_files: dict[str, Path]) -> None:
    frames = list(iter_video_frames(media_files["mp4"], keyframes_only=True))
    assert [f.index for f in frames] == list(range(0, VIDEO_FRAMES, VIDEO_GOP))
    assert all(f.keyframe for f in frames)
    assert_consistent(frames)


@pytest.mark.parametrize("start", [0.05, 0.1, 0.35, 0.5, 0.99, 1.0, 1.23, 1.9])
def test_start_s_seeks(media_files: dict[str, Path], start: float) -> None:
    frames = list(iter_video_frames(media_files["mp4"], start_s=start))
    first = frames[0]
    assert first.time_s >= start - 1e-6
    assert first.time_s - start < PERIOD + 1e-6
    expected_first = math.ceil(start * VIDEO_FPS - 1e-6)
    assert [f.index for f in frames] == list(range(expected_first, VIDEO_FRAMES))
    assert_consistent(frames)  # the pixels prove the seek landed on the right frame


def test_start_s_with_sampling(media_files: dict[str, Path]) -> None:
    path = media_files["mp4"]
    assert [f.index for f in iter_video_frames(path, start_s=0.35, every_n=4)] == [4, 8, 12, 16]
    assert [f.index for f in iter_video_frames(path, start_s=0.35, per_second=2)] == [4, 9, 14, 19]
    assert [f.index for f in iter_video_frames(path, start_s=0.35, keyframes_only=True)] == [5, 10, 15]


def test_end_s(media_files: dict[str, Path]) -> None:
    frames = list(iter_video_frames(media_files["mp4"], start_s=0.5, end_s=1.0))
    assert [f.index for f in frames] == [5, 6, 7, 8, 9, 10]


def test_start_past_the_end_yields_nothing(media_files: dict[str, Path]) -> None:
    assert list(iter_video_frames(media_files["mp4"], start_s=5.0)) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"every_n": 2, "per_second": 1.0},
        {"every_n": 2, "keyframes_only": True},
        {"every_n": 0},
        {"per_second": 0},
        {"start_s": -1.0},
    ],
)
def test_bad_arguments(media_files: dict[str, Path], kwargs: dict) -> None:
    with pytest.raises(ValueError):
        next(iter_video_frames(media_files["mp4"], **kwargs))


@pytest.mark.parametrize(
    ("t", "expected"),
    [(0.0, 0), (0.05, 0), (0.1, 1), (0.35, 3), (0.5, 5), (0.99, 9), (1.0, 10), (1.23, 12), (1.99, 19)],
)
def test_read_frame_at_returns_the_frame_on_screen(media_files: dict[str, Path], t: float, expected: int) -> None:
    frame = read_frame_at(media_files["mp4"], t)
    assert frame.index == expected
    assert pixel_index(frame) == expected
    assert frame.time_s <= t + 1e-9 < frame.time_s + PERIOD


def test_read_frame_at_past_the_end(media_files: dict[str, Path]) -> None:
    with pytest.raises(MediaError) as err:
        read_frame_at(media_files["mp4"], 2.5)
    assert "past the end of the video (2.000 s)" in str(err.value)
    with pytest.raises(ValueError):
        read_frame_at(media_files["mp4"], -0.1)


def test_frame_times(media_files: dict[str, Path]) -> None:
    np.testing.assert_allclose(frame_times(media_files["mp4"], per_second=2), [0.0, 0.5, 1.0, 1.5])
    assert len(frame_times(media_files["mp4"])) == VIDEO_FRAMES


@pytest.mark.parametrize("name", ["tone_8k_mono.wav", "mp3_cover"])
def test_no_video_stream(media_files: dict[str, Path], name: str) -> None:
    # MP3 cover art is a one-frame "video" stream flagged attached_pic: not a video
    with pytest.raises(MediaError) as err:
        next(iter_video_frames(media_files[name]))
    assert err.value.reason == "unsupported"
    assert "no video stream" in str(err.value)
    with pytest.raises(MediaError):
        read_frame_at(media_files[name], 0.0)


def test_streaming_a_long_video_keeps_memory_flat(long_video: Path) -> None:
    info = probe(long_video, with_hash=False)
    assert (info.width, info.height, info.duration_s) == (320, 240, pytest.approx(60.0))
    proc = psutil.Process()
    next(iter_video_frames(long_video, per_second=1))  # load codecs before measuring
    before = proc.memory_info().rss
    peak = before
    started = time.perf_counter()
    times = []
    for frame in iter_video_frames(long_video, per_second=1):
        assert frame.image.shape == (240, 320, 3)
        times.append(frame.time_s)
        peak = max(peak, proc.memory_info().rss)
    elapsed = time.perf_counter() - started
    np.testing.assert_allclose(times, np.arange(60.0), atol=1e-6)
    assert peak - before < 100 * 2**20, f"RSS grew by {(peak - before) / 2**20:.0f} MB"
    assert elapsed < 5.0
