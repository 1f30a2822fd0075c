"""Has this speech been through a phone call's voice codec? A check before any sound verdict.

Why: a mobile call's codec (AMR-NB on GSM and 3G) rebuilds the voice from a model of speech, as a
vocoder does, and even a landline's G.711 adds quantisation noise to every quiet moment. The sound
detectors learned generation from the fine structure of the phase, quiet cells included, so a genuine
voice through such a channel looks generated to them: through a simulated mobile call, 9 of 30 genuine
development recordings were called fake, and the lead detector ranked coded genuine against coded
generated speech at chance (docs/measurements.md, "Phone calls"). Nobody trained them on phone calls,
so the honest answer on one is "inconclusive, and why".

The check is a small network (one hidden layer of 128 ReLU units) on the phase-coherence features (the
mean per-bin deviation of the phase advance at 384 and 448-sample windows, 16 kHz) up to 3.8 kHz, trained
on the development recordings as they are and through a plain telephone band-pass (not a codec), against
the same recordings through G.711 and AMR-NB calls (with and without the band-pass), each band-passed one
read back both through scipy's resampler and as the call's own 8 kHz file through the scan's decoder.
Built by ``scripts/build_voice_codec_check.py``; its figures are in ``voice_codec.json``.
Stored as JSON + safetensors, validated on load (no pickle).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

CHECK_DIR = Path(__file__).with_name("voice_codec_check")
RATE = 16_000
SIZES = (384, 448)
MAX_HZ = 3_800  # the band every call keeps: above it a call holds only what the decoder's resampler left
HIDDEN = 128


class VoiceCodecCheckError(ValueError):
    """The stored check is missing or does not match what this code computes."""


def kept_bins(n_fft: int, max_hz: float = MAX_HZ) -> int:
    """How many STFT bins of an ``n_fft`` window lie at or below ``max_hz``."""
    return int(max_hz * n_fft // RATE) + 1


def kept_columns() -> np.ndarray:
    """Where the check's features sit among all bins' (``codec_features(audio, max_hz=RATE / 2)``)."""
    starts = np.cumsum([0] + [n // 2 + 1 for n in SIZES[:-1]])
    return np.concatenate([start + np.arange(kept_bins(n)) for start, n in zip(starts, SIZES, strict=True)])


def codec_features(audio: np.ndarray, max_hz: float = MAX_HZ) -> np.ndarray:
    """The phase-coherence features of mono 16 kHz audio up to MAX_HZ: the 384 and 448-sample windows' bins.

    Only the telephone band: a call's file is at 8 kHz, and what lies above 4 kHz once it is read at 16 kHz
    depends on the decoder's resampler, not on the call (a first version that read every bin fired on calls
    resampled by scipy and on none read back by FFmpeg).
    """
    from deepfake_gui.encoders.families.phase import phase_deviation, sound_mask

    parts = []
    for n_fft in SIZES:
        deviation, energy = phase_deviation(np.asarray(audio, dtype=np.float32), n_fft)
        parts.append(deviation[sound_mask(energy)][:, : kept_bins(n_fft, max_hz)].mean(axis=0))
    return np.concatenate(parts).astype(np.float64)


@dataclass(frozen=True)
class VoiceCodecCheck:
    """A one-hidden-layer network (ReLU) on standardised features; its output is a logit."""

    w1: np.ndarray  # (features, hidden)
    b1: np.ndarray  # (hidden,)
    w2: np.ndarray  # (hidden,)
    b2: float
    scaler_mean: np.ndarray
    scaler_std: np.ndarray
    threshold: float
    card: dict

    def logit(self, features: np.ndarray) -> np.ndarray:
        """(n, features) -> (n,) logits: above ``threshold``, the speech sounds like it went through a voice codec."""
        x = (np.atleast_2d(features) - self.scaler_mean) / self.scaler_std
        return np.maximum(x @ self.w1 + self.b1, 0.0) @ self.w2 + self.b2

    def score(self, audio: np.ndarray) -> float:
        return float(self.logit(codec_features(audio))[0])

    def reason(self, score: float) -> dict[str, str] | None:
        if score <= self.threshold:
            return None
        return {"code": "voice-codec", "message": (
            "sounds like a phone call: the voice went through a telephone codec (AMR on mobile calls, G.711 on "
            "landlines), which rebuilds speech the way a generator does; the sound detectors were not trained on "
            "calls and call genuine ones fake, so they cannot judge this recording")}

    @classmethod
    def load(cls, folder: Path = CHECK_DIR) -> VoiceCodecCheck:
        from safetensors.numpy import load_file

        card_path, weights_path = folder / "voice_codec.json", folder / "voice_codec.safetensors"
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
            arrays = load_file(str(weights_path))
        except (OSError, ValueError) as exc:
            raise VoiceCodecCheckError(f"{folder}: voice-codec check unreadable: {exc}") from exc
        width = sum(kept_bins(n) for n in SIZES)
        shapes = {"w1": (width, HIDDEN), "b1": (HIDDEN,), "w2": (HIDDEN,), "b2": (1,), "scaler_mean": (width,),
                  "scaler_std": (width,)}
        for name, shape in shapes.items():
            a = arrays.get(name)
            if a is None or a.shape != shape or not np.isfinite(a).all():
                raise VoiceCodecCheckError(f"{weights_path}: {name} must be {shape} finite numbers")
        if np.any(arrays["scaler_std"] <= 0):
            raise VoiceCodecCheckError(f"{weights_path}: scaler_std must be positive")
        features = card.get("features") or {}
        if features != {"sizes": list(SIZES), "sample_rate": RATE, "max_hz": MAX_HZ}:
            raise VoiceCodecCheckError(f"{card_path}: features {features} are not what this code computes "
                                       f"(sizes {list(SIZES)}, {RATE} Hz, bins up to {MAX_HZ} Hz)")
        try:
            threshold = float(card["threshold"])
        except (KeyError, TypeError, ValueError) as exc:
            raise VoiceCodecCheckError(f"{card_path}: threshold must be a number") from exc
        if not np.isfinite(threshold):
            raise VoiceCodecCheckError(f"{card_path}: threshold must be finite")
        a = {k: v.astype(np.float64) for k, v in arrays.items()}
        return cls(a["w1"], a["b1"], a["w2"], float(a["b2"][0]), a["scaler_mean"], a["scaler_std"], threshold, card)

    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        folder.mkdir(parents=True, exist_ok=True)
        arrays = {"w1": self.w1, "b1": self.b1, "w2": self.w2, "b2": np.array([self.b2]),
                  "scaler_mean": self.scaler_mean, "scaler_std": self.scaler_std}
        save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in arrays.items()},
                  str(folder / "voice_codec.safetensors"))
        card = self.card | {"threshold": self.threshold, "model": f"one hidden layer of {HIDDEN} ReLU units, logit out",
                            "features": {"sizes": list(SIZES), "sample_rate": RATE, "max_hz": MAX_HZ}}
        (folder / "voice_codec.json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")


@lru_cache(maxsize=1)
def shipped_check() -> VoiceCodecCheck | None:
    """The check that ships with LayerScope, or None where its files are absent (not built in this checkout)."""
    if not (CHECK_DIR / "voice_codec.json").is_file():
        return None
    return VoiceCodecCheck.load(CHECK_DIR)
