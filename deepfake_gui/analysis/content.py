"""Is there anything here a detector can judge? Content checks before any verdict.

The detectors learned photographs and read speech. A screenshot, a chart, a flat
colour, a 1x1 picture, a tone or a chord is none of those, and a probe scores it
anyway, often as "fake" with confidence. These checks measure the content itself,
need no model, and name what the file is instead ("a screenshot or drawing, not
a photograph"), so the verdict can say "inconclusive" with a reason.

Pure functions over decoded arrays; thresholds are module constants, chosen so
that every photo and every speech file of the shared development sets (real and
generated) passes (tests/analysis/test_content.py and docs/measurements).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Images
MIN_IMAGE_SIDE = 32  # px: below this there is no texture to judge
MIN_IMAGE_PIXELS = 64 * 64
FLAT_TEXTURED_SHARE = 0.005  # share of pixels whose Laplacian reaches 3 grey levels; dev photos have >= 0.014
GRAPHICS_EQUAL_NEIGHBOURS = 0.5  # share of horizontally adjacent pixels with identical RGB ...
GRAPHICS_SMALL_STEPS = 0.2  # ... while few neighbours differ by 1-3 levels (smooth photo regions do; flat UI doesn't)
ANALYSIS_SIDE = 1024  # images are checked on a centred crop of at most this side (native pixels)

# Audio
MIN_AUDIO_S = 1.0  # seconds of sound
SILENCE_DB = -50.0  # dBFS: a whole file quieter than this is silence
STATIONARY_SPECTRUM = 0.92  # median correlation of log spectra 0.2 s apart: sustained notes and tones
SPEECHLIKE_MODULATION = 0.18  # share of envelope modulation energy in 2-8 Hz (syllable rate)
NOISE_FLATNESS = 0.35  # spectral flatness of the loudest frames: broadband noise, not a voice
NOISE_VOICED = 0.03  # share of active frames with a pitch; read speech has 0.05-0.97
# share of voiced frame pairs whose pitch holds within 0.5%: notes and tones, not a voice (none of the 2,287
# development files has both this and PEAK_CONCENTRATION; 0.9 let a synthesised melody at 0.896 through)
STEADY_PITCH = 0.8
PEAK_CONCENTRATION = 0.98  # energy share of the 20 strongest spectral bins: pure harmonics
NOISE_FLOOR_PERCENTILE = 5.0  # per-frequency floor: this percentile of a bin's power over the file's frames


@dataclass
class ContentCheck:
    """What the file's content is, measured; ``reasons`` are empty when a detector can judge it."""

    kind: str  # "photo-like" | "graphics" | "flat" | "tiny" | "speech-like" | "tone" | "music" | "noise" | ...
    stats: dict[str, float] = field(default_factory=dict)
    reasons: list[dict[str, str]] = field(default_factory=list)  # {"code", "message"}

    @property
    def judgeable(self) -> bool:
        return not self.reasons

    def to_dict(self) -> dict:
        return {"kind": self.kind, "stats": {k: round(float(v), 4) for k, v in self.stats.items()},
                "reasons": list(self.reasons)}


def _reason(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _centre_crop(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    y0, x0 = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return image[y0 : y0 + side, x0 : x0 + side]


def image_stats(rgb: np.ndarray) -> dict[str, float]:
    """Texture and graphics statistics of an (H, W, 3) uint8 image."""
    h, w = rgb.shape[:2]
    crop = _centre_crop(np.asarray(rgb), ANALYSIS_SIDE)
    stats: dict[str, float] = {"width": float(w), "height": float(h)}
    if min(crop.shape[:2]) < 3:
        return stats | {"texture": 0.0, "texture_mean": 0.0, "textured_share": 0.0, "equal_neighbours": 1.0,
                        "small_step_share": 0.0}
    grey = crop.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    lap = np.abs(4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:])
    step = np.abs(crop[:, 1:].astype(np.int16) - crop[:, :-1].astype(np.int16)).max(axis=2)
    equal = float((step == 0).mean())
    small = float(((step >= 1) & (step <= 3)).mean())
    stats |= {"texture": float(np.median(lap)), "texture_mean": float(lap.mean()),
              "textured_share": float((lap >= 3).mean()),
              "equal_neighbours": equal, "small_step_share": small / max(small + equal, 1e-9)}
    return stats


def check_image(rgb: np.ndarray) -> ContentCheck:
    """Too small, flat, or synthetic graphics: a photo detector has nothing to judge."""
    stats = image_stats(rgb)
    w, h = int(stats["width"]), int(stats["height"])
    if min(w, h) < MIN_IMAGE_SIDE or w * h < MIN_IMAGE_PIXELS:
        return ContentCheck("tiny", stats, [_reason(
            "too-small", f"too small to judge: {w}x{h} pixels (at least {MIN_IMAGE_SIDE} px a side and "
            f"{MIN_IMAGE_PIXELS} pixels are needed for the traces a generator leaves)")])
    if stats["textured_share"] < FLAT_TEXTURED_SHARE:
        return ContentCheck("flat", stats, [_reason(
            "no-texture", "a flat colour or smooth gradient: there is no texture for a detector to judge")])
    if stats["equal_neighbours"] >= GRAPHICS_EQUAL_NEIGHBOURS and stats["small_step_share"] < GRAPHICS_SMALL_STEPS:
        return ContentCheck("graphics", stats, [_reason(
            "graphics", "a screenshot, chart, document or drawing, not a photograph: "
            f"{stats['equal_neighbours']:.0%} of neighbouring pixels are identical, as in rendered graphics; "
            "the detectors only know photographs and generated pictures")])
    return ContentCheck("photo-like", stats)


def _frames(x: np.ndarray, size: int, hop: int) -> np.ndarray:
    if len(x) < size:
        x = np.pad(x, (0, size - len(x)))
    return np.lib.stride_tricks.sliding_window_view(x, size)[::hop]


def audio_stats(audio: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Loudness, active duration, spectral stationarity, syllable-rate modulation and flatness."""
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    stats: dict[str, float] = {"duration_s": len(x) / sample_rate}
    if len(x) == 0:
        return stats | {"level_db": -200.0, "active_s": 0.0}
    frame, hop = int(0.032 * sample_rate), int(0.01 * sample_rate)
    frames = _frames(x, frame, hop)
    energy = np.sqrt((frames**2).mean(axis=1)) + 1e-12
    level = 20 * np.log10(energy)
    peak = level.max()
    active = level > max(peak - 40.0, SILENCE_DB)
    stats |= {"level_db": float(20 * np.log10(np.sqrt((x**2).mean()) + 1e-12)), "peak_db": float(peak),
              "active_s": float(active.sum() * hop / sample_rate)}
    if active.sum() < 10:
        return stats
    spec = np.abs(np.fft.rfft(frames * np.hanning(frame), axis=1)) ** 2 + 1e-12
    logspec = np.log(spec)
    lag = max(1, int(0.2 * sample_rate / hop))
    idx = np.flatnonzero(active)
    idx = idx[idx + lag < len(frames)]
    idx = idx[active[idx + lag]]
    if len(idx):
        a = logspec[idx] - logspec[idx].mean(axis=1, keepdims=True)
        b = logspec[idx + lag] - logspec[idx + lag].mean(axis=1, keepdims=True)
        corr = (a * b).sum(1) / np.maximum(np.sqrt((a * a).sum(1) * (b * b).sum(1)), 1e-12)
        stats["stationarity"] = float(np.median(corr))
    envelope = energy - energy.mean()
    if len(envelope) >= 64:
        mod = np.abs(np.fft.rfft(envelope * np.hanning(len(envelope)))) ** 2
        freqs = np.fft.rfftfreq(len(envelope), hop / sample_rate)
        band = (freqs >= 2) & (freqs <= 8)
        stats["syllable_modulation"] = float(mod[band].sum() / max(mod[freqs > 0.5].sum(), 1e-12))
    stats["noise_snr_db"] = noise_floor_snr_db(spec)
    loud = spec[level >= np.percentile(level, 75)]
    flatness = np.exp(np.log(loud).mean(axis=1)) / loud.mean(axis=1)
    stats["flatness"] = float(np.median(flatness))
    return stats | _voicing(x, sample_rate)


def noise_floor_snr_db(spec: np.ndarray) -> float:
    """Signal power over the steady noise floor (dB), from a power spectrogram (frames x bins).

    Minimum statistics: speech leaves every frequency quiet now and then (between syllables and
    harmonics), a steady noise does not, so a bin's low percentile over time is its noise floor.
    The power of stationary noise in one bin is exponentially distributed, so that percentile is
    scaled back to a mean (x 1 / -ln(1 - p)). Measured on the development sets: telephone speech
    reads 19.6-65 dB, studio speech from -5 (recorded with noise) to 50; samples of both with white
    noise added at 20 dB SNR read 12.5-18.5, at 10 dB 8-10. A sound that never pauses in
    any frequency (a held tone, a hum, music under the voice) reads near 0 dB: steady, whatever it is.
    """
    p = NOISE_FLOOR_PERCENTILE / 100.0
    floor = np.percentile(spec, NOISE_FLOOR_PERCENTILE, axis=0) / -np.log1p(-p)
    floor = np.minimum(floor, spec.mean(axis=0))  # a steady tone's bin is at its mean, not 20x above it
    return float(10 * np.log10(spec.sum(axis=1).mean() / max(float(floor.sum()), 1e-20)))


def _voicing(x: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Share of active frames with a pitch (60-400 Hz), how steady that pitch is, and how peaky the spectrum is.

    A voice glides in pitch and has unvoiced consonants; a tone or an instrument's note holds its pitch
    exactly and puts its energy into a few harmonics; noise has no pitch at all.
    """
    frame, hop = int(0.04 * sample_rate), int(0.01 * sample_rate)
    frames = _frames(x, frame, hop)
    level = 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-12)
    frames = frames[level > max(level.max() - 40.0, SILENCE_DB)]
    if len(frames) < 4:
        return {}
    frames = frames - frames.mean(axis=1, keepdims=True)
    power = np.abs(np.fft.rfft(frames * np.hanning(frame), 2 * frame, axis=1)) ** 2
    ac = np.fft.irfft(power, axis=1)[:, :frame]
    ac = ac / (ac[:, :1] + 1e-12)
    lo, hi = int(sample_rate / 400), int(sample_rate / 60)
    window = ac[:, lo:hi]
    lag = window.argmax(axis=1)
    interior = (lag > 0) & (lag < window.shape[1] - 1)  # a peak at the edge is a slope, not a pitch
    voiced = (window.max(axis=1) > 0.5) & interior
    f0 = sample_rate / (lag + lo)
    both = voiced[1:] & voiced[:-1]
    glide = np.abs(np.log(f0[1:] / f0[:-1]))[both]
    big = 2048 if sample_rate >= 16000 else 1024
    long_frames = _frames(x, big, big // 2)
    spec = np.abs(np.fft.rfft(long_frames * np.hanning(big), axis=1)) ** 2
    total = spec.sum(axis=1)
    loud = total > total.max() * 1e-3
    top = np.sort(spec[loud], axis=1)[:, -20:].sum(axis=1) / total[loud]
    return {"voiced": float(voiced.mean()), "steady_pitch": float((glide < 0.005).mean()) if len(glide) else 0.0,
            "peak_concentration": float(np.median(top))}


def check_audio(audio: np.ndarray, sample_rate: int) -> ContentCheck:
    """Silence, too short, a steady tone or music, or noise: a speech detector has nothing to judge."""
    stats = audio_stats(audio, sample_rate)
    if stats.get("peak_db", -200.0) < SILENCE_DB:
        return ContentCheck("silence", stats, [_reason(
            "silence", f"silence: the loudest moment is {stats.get('peak_db', -200.0):.0f} dBFS")])
    if stats["active_s"] < MIN_AUDIO_S:
        return ContentCheck("too-short", stats, [_reason(
            "too-short", f"too short to judge: {stats['active_s']:.2f} s of sound (at least {MIN_AUDIO_S:g} s "
            "of speech is needed)")])
    stationary = stats.get("stationarity", 0.0) >= STATIONARY_SPECTRUM
    chord = stationary and stats.get("syllable_modulation", 1.0) < SPEECHLIKE_MODULATION
    if not chord and (stats.get("flatness", 0.0) >= NOISE_FLATNESS or stats.get("voiced", 1.0) < NOISE_VOICED):
        return ContentCheck("noise", stats, [_reason(
            "noise", "noise, not a voice: there is no pitch in it; the detectors only know speech")])
    notes = (stats.get("steady_pitch", 0.0) >= STEADY_PITCH
             and stats.get("peak_concentration", 0.0) >= PEAK_CONCENTRATION)
    if chord or notes:
        return ContentCheck("tone-or-music", stats, [_reason(
            "not-speech", "steady tones or music, not speech: the sound barely changes from moment to moment "
            "and has no syllable rhythm; the detectors only know speech")])
    return ContentCheck("speech-like", stats)
