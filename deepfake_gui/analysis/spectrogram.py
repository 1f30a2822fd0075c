"""Log-mel spectrogram of a mono track, for display next to per-window scores.

Plain numpy rather than torchaudio: no torch import for a picture, and the frames
are computed block by block so an hour of audio never holds the whole STFT in
memory. The conventions follow torchaudio.transforms.MelSpectrogram's defaults
(periodic Hann window, centred frames with reflect padding, power spectrum, HTK mel
scale, unnormalised triangular filters) followed by AmplitudeToDB(top_db).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_AMIN = 1e-10  # power floor before log10, as torchaudio's AmplitudeToDB
_BLOCK_FRAMES = 2048  # STFT frames computed at once (about 4 MB at n_fft=512)


@dataclass
class Spectrogram:
    db: np.ndarray  # (n_mels, T) float32 mel power in dB (unscaled STFT, as torchaudio), floored at max - top_db
    times_s: np.ndarray  # (T,) centre time of each column
    freqs_hz: np.ndarray  # (n_mels,) centre frequency of each mel band
    sample_rate: int
    top_db: float = 80.0
    frames_per_column: int = 1  # > 1 when max_frames averaged blocks of STFT frames

    def to_summary(self) -> dict:
        """Shape and ranges (no pixel data), small enough for a JSON report."""
        n_mels, n_cols = self.db.shape
        return {
            "shape": [int(n_mels), int(n_cols)],
            "time_range_s": [float(self.times_s[0]), float(self.times_s[-1])] if n_cols else None,
            "freq_range_hz": [float(self.freqs_hz[0]), float(self.freqs_hz[-1])] if n_mels else None,
            "db_range": [float(self.db.min()), float(self.db.max())] if self.db.size else None,
            "sample_rate": int(self.sample_rate),
            "top_db": float(self.top_db),
            "frames_per_column": int(self.frames_per_column),
        }


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_fft: int, sample_rate: int, n_mels: int, fmin: float, fmax: float,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(n_fft // 2 + 1, n_mels) triangular filters and the n_mels band centres in Hz."""
    bin_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_hz[:, None] - lower) / (centre - lower)
    falling = (upper - bin_hz[:, None]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)), centre


def _periodic_hann(win_length: int, n_fft: int) -> np.ndarray:
    """torch.hann_window(win_length) zero-padded to n_fft, centred as torch.stft does."""
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(win_length) / win_length)
    left = (n_fft - win_length) // 2
    return np.pad(window, (left, n_fft - win_length - left))


def _reflect_take(audio: np.ndarray, start: int, stop: int) -> np.ndarray:
    """audio[start:stop] where indices outside [0, n) are mirrored (numpy's "reflect").

    Slicing a virtual padded signal avoids copying an hour-long track just to pad it.
    """
    n = len(audio)
    idx = np.arange(start, stop)
    if n > 1:
        period = 2 * (n - 1)
        idx = np.mod(idx, period)
        idx = np.where(idx >= n, period - idx, idx)
    else:
        idx = np.zeros_like(idx)
    return audio[idx]


def _validate(audio: np.ndarray, sample_rate: int, n_mels: int, fmin: float, fmax: float,
              win_s: float, hop_s: float, top_db: float, max_frames: int | None) -> None:
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio (1-D), got shape {audio.shape}")
    if audio.size == 0:
        raise ValueError("cannot compute a spectrogram of empty audio")
    if sample_rate <= 0 or n_mels <= 0 or win_s <= 0 or hop_s <= 0 or top_db <= 0:
        raise ValueError("sample_rate, n_mels, win_s, hop_s and top_db must be positive")
    if not 0 <= fmin < fmax <= sample_rate / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= {sample_rate / 2:g} Hz, got fmin={fmin}, fmax={fmax}")
    if max_frames is not None and max_frames < 1:
        raise ValueError("max_frames must be at least 1")


def log_mel_spectrogram(
    audio: np.ndarray,
    sample_rate: int,
    n_mels: int = 64,
    win_s: float = 0.025,
    hop_s: float = 0.010,
    fmin: float = 0,
    fmax: float | None = None,
    top_db: float = 80.0,
    max_frames: int | None = None,
) -> Spectrogram:
    """Mel power spectrogram in dB, at most ``max_frames`` columns wide.

    When the track has more STFT frames than ``max_frames`` (an hour at 10 ms hops
    is 360,000), consecutive blocks of frames are averaged in power before the dB
    conversion, so a GUI gets a bounded image and a loud burst is not lost.
    """
    audio = np.asarray(audio, dtype=np.float32)
    fmax = sample_rate / 2 if fmax is None else fmax
    _validate(audio, sample_rate, n_mels, fmin, fmax, win_s, hop_s, top_db, max_frames)
    win_length = max(1, round(win_s * sample_rate))
    hop = max(1, round(hop_s * sample_rate))
    n_fft = 1 << max(1, math.ceil(math.log2(win_length)))
    window = _periodic_hann(win_length, n_fft).astype(np.float32)
    fbank, centres = mel_filterbank(n_fft, sample_rate, n_mels, fmin, fmax)
    fbank = fbank.astype(np.float32)

    n_frames = 1 + len(audio) // hop
    per_col = 1 if max_frames is None else max(1, math.ceil(n_frames / max_frames))
    n_cols = math.ceil(n_frames / per_col)
    block = per_col * max(1, _BLOCK_FRAMES // per_col)  # whole columns per block
    pad = n_fft // 2
    power = np.empty((n_cols, n_mels), dtype=np.float64)
    for first in range(0, n_frames, block):
        count = min(block, n_frames - first)
        segment = _reflect_take(audio, first * hop - pad, (first + count - 1) * hop - pad + n_fft)
        frames = np.lib.stride_tricks.sliding_window_view(segment, n_fft)[::hop] * window
        spec = np.fft.rfft(frames, axis=1)
        mel = (spec.real**2 + spec.imag**2).astype(np.float32) @ fbank  # (count, n_mels)
        col0 = first // per_col
        cols = math.ceil(count / per_col)
        padded = np.full((cols * per_col, n_mels), np.nan)
        padded[:count] = mel
        power[col0 : col0 + cols] = np.nanmean(padded.reshape(cols, per_col, n_mels), axis=1)

    db = 10.0 * np.log10(np.maximum(power, _AMIN))
    db = np.maximum(db, db.max() - top_db).T.astype(np.float32)
    centre_idx = np.arange(n_frames, dtype=np.float64) * hop / sample_rate
    padded_t = np.full(n_cols * per_col, np.nan)
    padded_t[:n_frames] = centre_idx
    times = np.nanmean(padded_t.reshape(n_cols, per_col), axis=1)
    return Spectrogram(
        db=np.ascontiguousarray(db),
        times_s=times,
        freqs_hz=centres,
        sample_rate=int(sample_rate),
        top_db=float(top_db),
        frames_per_column=per_col,
    )
