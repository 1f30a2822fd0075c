"""log_mel_spectrogram(): where a tone lands, the time axis, the dB floor, decimation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepfake_gui.analysis.spectrogram import log_mel_spectrogram


def _tone(rate: int, seconds: float, freq: float = 1000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("rate", [8000, 16000, 44100])
def test_a_1khz_tone_peaks_in_the_band_centred_nearest_1khz(rate: int) -> None:
    spec = log_mel_spectrogram(_tone(rate, 1.0), rate)
    assert spec.db.shape == (64, len(spec.times_s)) and spec.db.dtype == np.float32
    assert spec.freqs_hz.shape == (64,) and np.all(np.diff(spec.freqs_hz) > 0)
    nearest = int(np.argmin(np.abs(spec.freqs_hz - 1000.0)))
    assert int(np.argmax(spec.db.mean(axis=1))) == nearest


def test_times_span_the_duration() -> None:
    spec = log_mel_spectrogram(_tone(16000, 2.0), 16000, hop_s=0.01)
    assert spec.times_s[0] == 0.0
    assert spec.times_s[-1] == pytest.approx(2.0, abs=0.01)
    assert np.allclose(np.diff(spec.times_s), 0.01)


def test_silence_sits_at_the_floor() -> None:
    audio = np.concatenate([_tone(16000, 0.5), np.zeros(8000, dtype=np.float32)])
    spec = log_mel_spectrogram(audio, 16000, top_db=80.0)
    floor = spec.db.max() - 80.0
    assert spec.db.min() == pytest.approx(floor)
    assert np.all(spec.db[:, spec.times_s > 0.55] == pytest.approx(floor))
    assert spec.db[:, spec.times_s < 0.45].max() == spec.db.max()


def test_max_frames_averages_blocks_of_columns() -> None:
    audio = _tone(8000, 10.0)  # 1001 frames at 10 ms
    spec = log_mel_spectrogram(audio, 8000, max_frames=100)
    assert spec.db.shape[1] <= 100 and spec.frames_per_column == 11
    assert 0.0 < spec.times_s[0] < spec.times_s[-1] <= 10.0
    summary = spec.to_summary()
    json.dumps(summary)
    assert summary["shape"] == list(spec.db.shape)
    assert summary["time_range_s"][1] <= 10.0
    assert summary["freq_range_hz"][1] < 4000.0


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        log_mel_spectrogram(np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(ValueError, match="mono"):
        log_mel_spectrogram(np.zeros((2, 100), dtype=np.float32), 16000)
    with pytest.raises(ValueError, match="fmax"):
        log_mel_spectrogram(np.zeros(100, dtype=np.float32), 16000, fmax=9000)
