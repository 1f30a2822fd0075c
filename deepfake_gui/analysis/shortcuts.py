"""Features that say nothing about generation, for the shortcut audit.

If duration, loudness, lead-in silence, bandwidth, JPEG quality, picture size or
colour statistics separate a data set's real and fake files, a detector can score
well by learning them. The audit trains a classic model on these alone, the same
way as the detector; where the detector does not clearly beat it, the detector may
be learning the data set, not the generator, and its model card says so.
"""

from __future__ import annotations

import numpy as np

AUDIO_NAMES = ("duration_s", "loudness_db", "peak_db", "lead_silence_s", "trail_silence_s", "bandwidth_hz",
               "log_high_band_share")
IMAGE_NAMES = ("width", "height", "aspect", "jpeg_quality", "mean_r", "mean_g", "mean_b", "std_r", "std_g", "std_b",
               "saturation", "grey")


def audio_shortcuts(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Duration, loudness, peak, lead-in and trailing silence, 99% bandwidth, energy share above 4 kHz."""
    from deepfake_gui.analysis.caveats import edge_silence

    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if len(x) == 0:
        return np.zeros(len(AUDIO_NAMES))
    lead, trail = edge_silence(x, sample_rate)
    n_fft = 512
    hop = max(1, sample_rate // 100)
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, (0, n_fft)), n_fft)[::hop]
    power = (np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2).sum(axis=0) + 1e-12
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    cum = np.cumsum(power) / power.sum()
    bandwidth = float(freqs[min(int(np.searchsorted(cum, 0.99)), len(freqs) - 1)])
    high = float(power[freqs > 4000].sum() / power.sum())
    rms = float(np.sqrt(np.mean(x**2))) + 1e-12
    return np.array([len(x) / sample_rate, 20 * np.log10(rms), 20 * np.log10(np.abs(x).max() + 1e-12), lead, trail,
                     bandwidth, np.log10(high + 1e-12)])


def image_shortcuts(rgb: np.ndarray, jpeg_quality: float | None) -> np.ndarray:
    """Size, aspect, JPEG quality (100 when not a JPEG), channel means and spreads, saturation, grey flag."""
    rgb = np.asarray(rgb, dtype=np.float64)
    h, w = rgb.shape[:2]
    grey = rgb.mean(axis=2)
    mx, mn = rgb.max(axis=2), rgb.min(axis=2)
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-9), 0.0)
    is_grey = float(np.abs(rgb - grey[..., None]).mean() < 1.0)
    return np.array([w, h, w / max(h, 1), 100.0 if jpeg_quality is None else jpeg_quality,
                     *rgb.mean(axis=(0, 1)), *rgb.std(axis=(0, 1)), sat.mean(), is_grey])
