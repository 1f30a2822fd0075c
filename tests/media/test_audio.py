"""Audio: resampled mono float32 with the right length, pitch and level; sliding windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media_factory import AUDIO_SPECS, TONE_HZ, VIDEO_FPS, VIDEO_FRAMES

from deepfake_gui.core.errors import MediaError
from deepfake_gui.media import AudioWindow, iter_audio_windows, load_audio

LOSSY = {"libmp3lame", "libopus", "aac"}


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1.0 / rate)[spectrum.argmax()])


def peak_level(samples: np.ndarray) -> float:
    """Sine amplitude from the RMS of the middle half (away from codec edge effects)."""
    n = len(samples)
    return float(np.sqrt(2) * samples[n // 4 : 3 * n // 4].std())


@pytest.mark.parametrize("name", list(AUDIO_SPECS))
@pytest.mark.parametrize("rate", [16_000, 22_050])
def test_load_audio_resamples_every_format(media_files: dict[str, Path], name: str, rate: int) -> None:
    codec, _, _, channels, seconds = AUDIO_SPECS[name]
    audio = load_audio(media_files[name], rate)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - seconds * rate) <= 4
    assert dominant_hz(audio, rate) == pytest.approx(TONE_HZ, abs=1.0)
    # channel c holds 0.5 / (c + 1): mono is 0.5, stereo averages to (0.5 + 0.25) / 2
    expected = 0.5 if channels == 1 else 0.375
    assert peak_level(audio) == pytest.approx(expected, abs=0.02 if codec in LOSSY else 0.002)
    assert np.abs(audio).max() <= 1.0


def test_default_rate_is_16k(media_files: dict[str, Path]) -> None:
    audio = load_audio(media_files["tone_44k_stereo.wav"])
    assert len(audio) == 24_000


def test_stereo_is_averaged_not_summed(media_files: dict[str, Path]) -> None:
    # libswresample's own downmix is (L + R) / sqrt(2) = 0.53 here; the mean is 0.375
    stereo = load_audio(media_files["tone_44k_stereo.wav"], 44_100)
    t = np.arange(len(stereo)) / 44_100
    expected = 0.375 * np.sin(2 * np.pi * TONE_HZ * t)
    np.testing.assert_allclose(stereo, expected, atol=2e-4)  # 16-bit quantisation


def test_mono_at_its_own_rate_is_the_samples(media_files: dict[str, Path]) -> None:
    audio = load_audio(media_files["tone_8k_mono.flac"], 8_000)
    t = np.arange(12_000) / 8_000
    np.testing.assert_allclose(audio, 0.5 * np.sin(2 * np.pi * TONE_HZ * t), atol=1e-4)


def test_audio_track_of_an_mp4(media_files: dict[str, Path]) -> None:
    audio = load_audio(media_files["mp4"])
    seconds = VIDEO_FRAMES / VIDEO_FPS
    # exact length: the AAC end padding beyond the MP4's stated duration is dropped
    assert len(audio) == int(seconds * 16_000)
    assert dominant_hz(audio, 16_000) == pytest.approx(TONE_HZ, abs=1.0)
    assert peak_level(audio) == pytest.approx(0.375, abs=0.02)


def test_max_seconds(media_files: dict[str, Path]) -> None:
    audio = load_audio(media_files["tone_44k_stereo.wav"], max_seconds=0.5)
    assert len(audio) == 8_000
    np.testing.assert_array_equal(audio, load_audio(media_files["tone_44k_stereo.wav"])[:8_000])


def test_no_audio_track(media_files: dict[str, Path]) -> None:
    with pytest.raises(MediaError) as err:
        load_audio(media_files["mp4_video_only"])
    assert err.value.reason == "unsupported"
    assert str(err.value) == f"{media_files['mp4_video_only']}: no audio track: the file has no audio stream"


def _starts(windows: list[AudioWindow]) -> list[float]:
    return [round(w.start_s, 6) for w in windows]


@pytest.mark.parametrize(
    ("window", "hop", "starts"),
    [
        (0.5, 0.25, [0.0, 0.25, 0.5, 0.75, 1.0]),  # fits exactly: no extra tail window
        (0.4, 0.3, [0.0, 0.3, 0.6, 0.9, 1.1]),  # 0.9 + 0.4 < 1.5: tail window aligned to the end
        (1.0, 1.0, [0.0, 0.5]),
        (1.5, 1.0, [0.0]),  # window == clip
        (0.7, 1.0, [0.0, 0.8]),  # hop > window: gaps, but the tail is still covered
    ],
)
def test_window_starts_lengths_and_tail(
    media_files: dict[str, Path], window: float, hop: float, starts: list[float]
) -> None:
    windows = list(iter_audio_windows(media_files["tone_44k_stereo.wav"], window, hop))
    assert _starts(windows) == starts
    for w in windows:
        assert w.sample_rate == 16_000
        assert w.samples.dtype == np.float32
        assert len(w.samples) == round(window * 16_000)
        assert w.start_s >= 0 and w.end_s <= 1.5 + 1e-9  # never outside the clip
    assert windows[-1].end_s == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("name", "window", "hop", "rate"),
    [
        ("tone_44k_stereo.wav", 0.4, 0.3, 16_000),
        ("tone_8k_mono.flac", 0.25, 0.1, 8_000),
        ("tone_44k_stereo.mp3", 0.5, 0.2, 16_000),
        ("tone_48k_mono.ogg", 0.33, 0.17, 16_000),
        ("tone_44k_stereo.m4a", 0.4, 0.4, 22_050),
        ("mp4", 0.6, 0.45, 16_000),
    ],
)
def test_windows_are_slices_of_load_audio(
    media_files: dict[str, Path], name: str, window: float, hop: float, rate: int
) -> None:
    full = load_audio(media_files[name], rate)
    windows = list(iter_audio_windows(media_files[name], window, hop, rate))
    covered = np.zeros(len(full), dtype=bool)
    for w in windows:
        start = round(w.start_s * rate)
        assert start / rate == w.start_s  # start times are exact sample positions
        np.testing.assert_array_equal(w.samples, full[start : start + len(w.samples)])
        assert start + len(w.samples) <= len(full)
        covered[start : start + len(w.samples)] = True
    regular = [round(w.start_s * rate) for w in windows[:-1]]
    assert regular == [i * round(hop * rate) for i in range(len(regular))]
    assert covered[-1] and covered[0]  # first and last sample are scored
    if hop <= window:
        assert covered.all()


def test_clip_shorter_than_window_is_one_window(media_files: dict[str, Path]) -> None:
    path = media_files["short_16k_mono.wav"]
    windows = list(iter_audio_windows(path, window_s=1.0, hop_s=0.5))
    assert len(windows) == 1
    w = windows[0]
    assert w.start_s == 0.0
    assert len(w.samples) == 4_800
    assert w.end_s == pytest.approx(0.3)
    np.testing.assert_array_equal(w.samples, load_audio(path))


@pytest.mark.parametrize(("window", "hop"), [(0.0, 0.1), (1.0, 0.0), (-1.0, 0.5)])
def test_window_arguments(media_files: dict[str, Path], window: float, hop: float) -> None:
    with pytest.raises(ValueError):
        next(iter_audio_windows(media_files["short_16k_mono.wav"], window, hop))


def test_audio_window_end() -> None:
    w = AudioWindow(start_s=1.0, samples=np.zeros(800, dtype=np.float32), sample_rate=16_000)
    assert w.end_s == pytest.approx(1.05)
