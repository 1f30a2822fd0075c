"""Classic per-file features for the shortcut audit and the classic baselines.

Audio (16 kHz): ``shortcut`` = duration, loudness, peak, lead-in / trailing silence, 99% bandwidth,
energy above 4 kHz; ``logmel`` = 40-band log-mel (to 8 kHz) mean and std (each data README's baseline);
``lfcc`` = 60 linear-frequency log-band means and stds and their deltas' stds (ASVspoof's classic front end).
Images: ``shortcut`` = width, height, aspect, JPEG quality, channel means/stds, saturation, grey flag;
``residual`` = high-pass residual spectrum (radial 32 bins + 16x16 log-spectrum grid of a 256 px crop).
Writes ``<out>/<set>__classic.npz``. Usage: python scripts/research/classic_features.py MANIFEST OUT_DIR
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

SR = 16000


def audio_features(path: Path) -> dict[str, np.ndarray]:
    from deepfake_gui.analysis.shortcuts import audio_shortcuts
    from deepfake_gui.media import load_audio

    x = load_audio(path, SR).astype(np.float64)
    n_fft, hop = 512, 160
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, (0, n_fft)), n_fft)[::hop]
    spec = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2 + 1e-12  # (T, 257)
    shortcut = audio_shortcuts(x, SR)  # the same features as train's shortcut audit
    mel = _mel_filters(40, n_fft, 8000) @ spec.T  # (40, T)
    logmel = np.log(mel + 1e-10)
    edges = np.linspace(0, spec.shape[1], 61).astype(int)
    lin = np.log(np.stack([spec[:, a:b].mean(1) for a, b in itertools.pairwise(edges)], 1))  # (T, 60)
    delta = np.diff(lin, axis=0)
    return {"shortcut": shortcut, "logmel": np.concatenate([logmel.mean(1), logmel.std(1)]),
            "lfcc": np.concatenate([lin.mean(0), lin.std(0), delta.std(0)])}


def _mel_filters(n_mels: int, n_fft: int, fmax: float) -> np.ndarray:
    def hz_to_mel(f):
        return 2595 * np.log10(1 + np.asarray(f) / 700)

    def mel_to_hz(m):
        return 700 * (10 ** (np.asarray(m) / 2595) - 1)

    freqs = np.fft.rfftfreq(n_fft, 1 / SR)
    pts = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(fmax), n_mels + 2))
    fb = np.zeros((n_mels, len(freqs)))
    for i in range(n_mels):
        lo, mid, hi = pts[i], pts[i + 1], pts[i + 2]
        fb[i] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
    return fb


def image_features(path: Path) -> dict[str, np.ndarray]:
    from deepfake_gui.analysis.shortcuts import image_shortcuts
    from deepfake_gui.media import load_image
    from deepfake_gui.media.measure import jpeg_quality_estimate

    rgb = load_image(path).astype(np.float64)
    h, w = rgb.shape[:2]
    grey = rgb.mean(2)
    shortcut = image_shortcuts(rgb, jpeg_quality_estimate(path))  # the same features as train's shortcut audit
    side = min(256, h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    crop = grey[y0:y0 + side, x0:x0 + side]
    blur = (crop + np.roll(crop, 1, 0) + np.roll(crop, -1, 0) + np.roll(crop, 1, 1) + np.roll(crop, -1, 1)) / 5
    resid = crop - blur
    spec = np.log(np.abs(np.fft.fftshift(np.fft.fft2(resid))) ** 2 + 1e-6)
    yy, xx = np.indices(spec.shape)
    r = np.hypot(yy - side / 2, xx - side / 2) / (side / 2 * np.sqrt(2))
    bins = np.minimum((r * 32).astype(int), 31)
    radial = np.bincount(bins.ravel(), spec.ravel(), 32) / np.maximum(np.bincount(bins.ravel(), minlength=32), 1)
    g = 16
    grid = spec[: side // g * g, : side // g * g].reshape(g, side // g, g, side // g).mean((1, 3)).ravel()
    lap = np.abs(4 * crop - np.roll(crop, 1, 0) - np.roll(crop, -1, 0) - np.roll(crop, 1, 1) - np.roll(crop, -1, 1))
    return {"shortcut": shortcut, "residual": np.concatenate([radial, grid, [lap.mean(), lap.std()]])}


def main() -> None:
    from deepfake_gui.engine.datasets import load_dataset

    manifest, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    data = load_dataset(manifest)
    is_image = data.paths[0].suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"}
    rows: dict[str, list[np.ndarray]] = {}
    for path in data.paths:
        feats = image_features(path) if is_image else audio_features(path)
        for k, v in feats.items():
            rows.setdefault(k, []).append(np.asarray(v, dtype=np.float32))
    out = out_dir / f"{manifest.parent.name}__classic.npz"
    np.savez(out, paths=np.array([str(p) for p in data.paths]), **{k: np.stack(v) for k, v in rows.items()})
    print("wrote", out)


if __name__ == "__main__":
    main()
