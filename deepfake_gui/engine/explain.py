"""The Python API the GUI and reports call to draw a result's evidence.

Scan keeps the JSON line short; the arrays behind it (per-step scores, heatmaps)
ride on ``ScanResult.arrays``. What is cheap to recompute on demand (a
spectrogram, one video frame) is computed here when a view asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from deepfake_gui.core.results import ScanResult

if TYPE_CHECKING:
    from deepfake_gui.analysis.calibration import Platt

SPECTROGRAM_RATE = 16_000
SPECTROGRAM_MAX_COLUMNS = 4000
ENVELOPE_BINS = 2000  # min/max pairs of a waveform's envelope


@dataclass
class Heatmap:
    """Probe scores over the image, aligned to the original pixels (NaN where nothing was scored)."""

    values: np.ndarray  # (H, W) float32 decision scores
    threshold_score: float  # the decision score at the detector's threshold
    detector: str
    note: str = "where the probe responded, not proof of manipulation"


@dataclass
class TimeSeries:
    """Scores over time for one track and detector, with what the plot's reference lines need."""

    times_s: np.ndarray
    scores: np.ndarray  # decision scores (logit scale)
    kind: str  # step | window | frame
    detector: str
    threshold_score: float
    ends_s: np.ndarray | None = None  # windows only


def _arrays(result: ScanResult, track: str, detector: str | None) -> tuple[str, dict]:
    prefix = f"{track}/"
    keys = [k for k in result.arrays if k.startswith(prefix)]
    if detector is not None:
        keys = [k for k in keys if k == prefix + detector]
    elif track in result.series:  # the detector that leads the track
        lead = result.series[track].get("detector")
        keys = [k for k in keys if k == prefix + lead] or keys
    elif track == "image" and result.heatmap:
        keys = [k for k in keys if k == prefix + result.heatmap.get("detector", "")] or keys
    if not keys:
        raise KeyError(f"{result.path}: no {track} arrays (scanned with keep_arrays=False, or no detector ran)")
    return keys[0].split("/", 1)[1], result.arrays[keys[0]]


def image_heatmap(result: ScanResult, detector: str | None = None, full_size: bool = True) -> Heatmap:
    """The heatmap of an image result, at the original image's size (or the stored scale)."""
    from deepfake_gui.engine.score_image import upsample_heatmap

    name, arrays = _arrays(result, "image", detector)
    values = arrays["heatmap"]
    if full_size:
        values = upsample_heatmap(values, tuple(arrays["image_shape"]))
    return Heatmap(values, float(arrays["threshold_score"]), name)


def audio_series(result: ScanResult, kind: str = "step", detector: str | None = None) -> TimeSeries:
    """Per-time-step (``step``) or per-window (``window``) scores of the audio track."""
    name, arrays = _arrays(result, "audio", detector)
    if kind == "step":
        return TimeSeries(np.asarray(arrays["step_times_s"]), np.asarray(arrays["step_scores"]), "step", name,
                          float(arrays["threshold_score"]))
    bounds = np.asarray(arrays["window_bounds_s"])
    return TimeSeries(bounds[:, 0], np.asarray(arrays["window_scores"]), "window", name,
                      float(arrays["threshold_score"]), bounds[:, 1])


def frame_series(result: ScanResult, detector: str | None = None) -> TimeSeries:
    name, arrays = _arrays(result, "frames", detector)
    return TimeSeries(np.asarray(arrays["frame_times_s"]), np.asarray(arrays["frame_scores"]), "frame", name,
                      float(arrays["threshold_score"]))


def segment_series(result: ScanResult, track: str = "audio", detector: str | None = None) -> TimeSeries:
    """The smoothed series the segment rule thresholded (engine/segments.py), with the rule's threshold.

    Draw it with ``suspected_segments`` shaded: that is exactly how the segments were found.
    """
    name, arrays = _arrays(result, track, detector)
    if "segment_scores" not in arrays:
        raise KeyError(f"{result.path}: no segment series for the {track} track")
    return TimeSeries(np.asarray(arrays["segment_times_s"]), np.asarray(arrays["segment_scores"]), "smoothed", name,
                      float(arrays["segment_threshold_score"]))


def suspected_segments(result: ScanResult, track: str | None = None, detector: str | None = None) -> list[dict]:
    """The result's suspected segments, optionally of one track and one detector (dicts as in the JSON)."""
    return [s for s in result.segments
            if (track is None or s["track"] == track) and (detector is None or s["detector"] == detector)]


def manifest_item(path: str | Path, max_levels: int = 3):
    """The localization manifest row of a file (``manifest.csv`` in one of its parent folders, as in
    ../shared/data/localization), or None when no manifest lists it or the manifest cannot be read.

    Returns engine.localization_manifest.Item (``truth`` per track, ``mask_path`` for images).
    """
    from deepfake_gui.core.errors import LayerScopeError
    from deepfake_gui.engine.localization_manifest import load_manifest

    target = Path(path).resolve()
    folder = target.parent
    for _ in range(max_levels):
        manifest = folder / "manifest.csv"
        if manifest.is_file():
            try:
                for item in load_manifest(manifest):
                    if item.path.resolve() == target:
                        return item
            except (LayerScopeError, OSError):
                return None
        folder = folder.parent
    return None


def true_segments(path: str | Path, max_levels: int = 3) -> dict[str, list[tuple[float, float]]] | None:
    """True segments of a file listed in a localization manifest (a ``manifest.csv`` in one of its
    parent folders, as in ../shared/data/localization), keyed by track (audio, frames); None if unlisted.

    Lets a timeline show the truth in a second band when it is known.
    """
    item = manifest_item(path, max_levels)
    return None if item is None else item.truth


def true_mask(path: str | Path, max_levels: int = 3) -> np.ndarray | None:
    """The manipulated region of an image listed in a localization manifest (bool (H, W), True =
    manipulated, from its ``mask_path`` PNG, white = manipulated); None if unlisted or without a mask.

    Lets the image view put the truth beside the heatmap, so a reader can judge the heatmap.
    """
    from PIL import Image

    item = manifest_item(path, max_levels)
    if item is None or item.mask_path is None or not Path(item.mask_path).is_file():
        return None
    with Image.open(item.mask_path) as im:
        return np.asarray(im.convert("L")) > 127


def audio_spectrogram(path: str | Path, sample_rate: int = SPECTROGRAM_RATE,
                      max_columns: int = SPECTROGRAM_MAX_COLUMNS):
    """Log-mel spectrogram of a file's sound (audio file or video track), with its time and frequency axes.

    Returns analysis.spectrogram.Spectrogram: ``db`` (n_mels, T), ``times_s``, ``freqs_hz``.
    Long files are decimated in time to at most ``max_columns`` columns.
    """
    from deepfake_gui.analysis.spectrogram import log_mel_spectrogram
    from deepfake_gui.media import load_audio

    audio = load_audio(path, sample_rate)
    return log_mel_spectrogram(audio, sample_rate, max_frames=max_columns)


@dataclass
class Envelope:
    times_s: np.ndarray
    low: np.ndarray
    high: np.ndarray


def waveform_envelope(path: str, duration_s: float, rate: int = SPECTROGRAM_RATE,
                      bins: int = ENVELOPE_BINS) -> Envelope:
    """Min/max per block of samples, streamed: memory stays at one chunk, however long the file."""
    from deepfake_gui.media.audio import iter_audio_chunks

    per_bin = max(1, int(np.ceil(max(duration_s, 1e-3) * rate / bins)))
    lows, highs = [], []
    carry = np.zeros(0, dtype=np.float32)
    for chunk in iter_audio_chunks(path, rate):
        buf = np.concatenate([carry, chunk])
        n = len(buf) // per_bin * per_bin
        if n:
            blocks = buf[:n].reshape(-1, per_bin)
            lows.append(blocks.min(axis=1))
            highs.append(blocks.max(axis=1))
        carry = buf[n:]
    if carry.size:
        lows.append(carry[None].min(axis=1))
        highs.append(carry[None].max(axis=1))
    low = np.concatenate(lows) if lows else np.zeros(0, np.float32)
    high = np.concatenate(highs) if highs else np.zeros(0, np.float32)
    return Envelope((np.arange(len(low)) + 0.5) * per_bin / rate, low, high)


def picture(path: str | Path) -> np.ndarray:
    """The picture as decoded for scoring (RGB, EXIF-rotated): what the image view shows under its heatmap."""
    from deepfake_gui.media import load_image

    return load_image(path)


def video_frame(path: str | Path, time_s: float) -> np.ndarray:
    """The RGB frame shown at ``time_s`` (what the timeline click displays)."""
    from deepfake_gui.media.video import read_frame_at

    return read_frame_at(path, time_s).image


# --------------------------------------------------------------- the probability scale
def probability_scale(result: ScanResult, track: str, detector: str) -> Platt:
    """Decision score -> calibrated P(fake) under the calibration that made ``detector``'s verdict on this file.

    The scorers store it (``platt`` in the arrays). Results made before that are solved from the two
    points they hold on both scales: the inconclusive band's edges as scores (``band_score``) and as
    probabilities (``detectors[...]["inconclusive_band"]``). With neither, the score is read as a
    logit (a=1, b=0), which is what a decision score is before calibration.
    """
    from deepfake_gui.analysis.calibration import Platt

    arrays = result.arrays.get(f"{track}/{detector}") or {}
    if arrays.get("platt") is not None:
        a, b = (float(v) for v in arrays["platt"])
        return Platt(a, b)
    scores = arrays.get("band_score")
    probs = (result.detectors.get(detector) or {}).get("inconclusive_band")
    if scores is not None and probs and len(scores) == 2 and len(probs) == 2:
        s0, s1 = sorted(float(v) for v in scores)
        p0, p1 = sorted(float(v) for v in probs)
        if s1 - s0 > 1e-6 and 0 < p0 < p1 < 1:
            l0, l1 = np.log(p0 / (1 - p0)), np.log(p1 / (1 - p1))
            a = float((l1 - l0) / (s1 - s0))
            return Platt(a, float(l0 - a * s0))
    return Platt(1.0, 0.0)


@dataclass
class ProbabilityTrack:
    """One detector's scores over time on the 0-1 probability scale, with the lines that belong there.

    What the timelines plot and the report draws, so both read the same numbers. ``smooth_*``
    (audio) is the 1 s average of the per-step scores that the segment rule reads; single 20 ms
    steps swing by tens of logits and say little (engine/segments.py).
    """

    track: str  # frames | audio
    detector: str
    kind: str  # frame | window
    times_s: np.ndarray  # frame times, or window centres
    probability: np.ndarray
    threshold: float
    band: tuple[float, float] | None
    file_probability: float | None  # this detector's P(fake) for the whole file
    file_verdict: str | None
    smooth_times_s: np.ndarray | None = None
    smooth_probability: np.ndarray | None = None

    def peak_between(self, start_s: float, end_s: float) -> float | None:
        """The highest plotted probability inside [start, end]: the smoothed trace where there is one."""
        times, values = ((self.smooth_times_s, self.smooth_probability) if self.smooth_probability is not None
                         else (self.times_s, self.probability))
        inside = (times >= start_s - 1e-9) & (times <= end_s + 1e-9) & np.isfinite(values)
        return float(values[inside].max()) if inside.any() else None


def probability_track(result: ScanResult, track: str, detector: str | None = None) -> ProbabilityTrack:
    """A track's scores mapped through its detector's verdict calibration (KeyError when no arrays)."""
    series = frame_series(result, detector) if track == "frames" else audio_series(result, "window", detector)
    name = series.detector
    scale = probability_scale(result, track, name)
    arrays = result.arrays[f"{track}/{name}"]
    times = series.times_s if series.ends_s is None else (series.times_s + series.ends_s) / 2
    band_scores = arrays.get("band_score")
    band = None
    if band_scores is not None and len(band_scores) == 2:
        lo, hi = sorted(float(v) for v in scale(np.asarray(band_scores, float)))
        band = (lo, hi)
    info = result.detectors.get(name) or {}
    out = ProbabilityTrack(track, name, series.kind, np.asarray(times, float), scale(series.scores),
                           float(scale(np.array([series.threshold_score]))[0]), band,
                           None if info.get("probability") is None else float(info["probability"]),
                           info.get("verdict"))
    if track == "audio" and "segment_scores" in arrays:
        smooth = segment_series(result, track, name)
        out.smooth_times_s, out.smooth_probability = np.asarray(smooth.times_s, float), scale(smooth.scores)
    return out


def segment_peak(result: ScanResult, segment: dict) -> float | None:
    """A suspected segment's peak P(fake), read off the series the timeline draws for its detector.

    With arrays: the plotted trace inside the segment. From a JSON line alone: the stored per-frame /
    per-window probabilities of that detector overlapping it; else the engine's own ``peak_probability``.
    """
    track, detector = str(segment.get("track")), str(segment.get("detector"))
    start, end = float(segment["start_s"]), float(segment["end_s"])
    try:
        peak = probability_track(result, track, detector).peak_between(start, end)
    except KeyError:
        peak = _json_peak(result, track, detector, start, end)
    if peak is None:
        stored = segment.get("peak_probability")
        return None if stored is None else float(stored)
    return peak


def _json_peak(result: ScanResult, track: str, detector: str, start: float, end: float) -> float | None:
    series = (result.series or {}).get(track) or {}
    if series.get("detector") != detector or "probability" not in series:
        return None
    probs = np.asarray(series["probability"], float)
    starts = np.asarray(series.get("time_s") or series.get("start_s") or [], float)
    ends = np.asarray(series["end_s"], float) if series.get("end_s") else starts
    if len(starts) != len(probs) or not len(probs):
        return None
    inside = (ends >= start) & (starts <= end)
    return float(probs[inside].max()) if inside.any() else None
