"""The Python API the GUI and reports call to draw a result's evidence.

Scan keeps the JSON line short; the arrays behind it (per-step scores, heatmaps)
ride on ``ScanResult.arrays``. What is cheap to recompute on demand (a
spectrogram, one video frame) is computed here when a view asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_gui.core.results import ScanResult

SPECTROGRAM_RATE = 16_000
SPECTROGRAM_MAX_COLUMNS = 4000


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

    Returns engine.evaluate_localization.Item (``truth`` per track, ``mask_path`` for images).
    """
    from deepfake_gui.core.errors import LayerScopeError
    from deepfake_gui.engine.evaluate_localization import load_manifest

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


def video_frame(path: str | Path, time_s: float) -> np.ndarray:
    """The RGB frame shown at ``time_s`` (what the timeline click displays)."""
    from deepfake_gui.media.video import read_frame_at

    return read_frame_at(path, time_s).image
