"""Score an audio track: one encoder pass per 30 s chunk, then windows and steps from the token scores.

The shipped audio encoders pool by averaging frames, and the probe is linear, so
the probe's score of a window's pooled state equals the mean of the probe's
scores of the window's frames. One pass with token states therefore gives the
per-time-step series (20 ms for Whisper, 10 ms for GE2E), every sliding window's
score, and the file score exactly as training computed it, at the cost of a
single encoder pass instead of one per overlapping window. (phase-coherence pools only the
frames that hold sound, so its file score leaves digital silence out while a window's mean of
steps keeps it: over silence its windows read slightly differently from its file score.)
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.engine.track import TrackScore, rounded

CHUNK_S = 30.0  # the encoders' longest item (Whisper's context); as in training
MIN_TAIL_S = 1.0  # a shorter last sliver is end-aligned instead, as in training
STEP_BIN_S = 0.1  # the JSON line's per-step summary: 0.1 s bins resolve a 0.5 s stretch
STEP_MAX_BINS = 3000  # longer files get wider bins, so the JSON line stays short


@dataclass(frozen=True)
class AudioOptions:
    window_s: float = 2.0
    hop_s: float = 0.5
    aggregation: str = "logsumexp"

    def __post_init__(self) -> None:
        if self.window_s <= 0 or self.hop_s <= 0:
            raise ValueError(f"audio windows need a positive length and hop, got {self.window_s} / {self.hop_s}")
        if self.hop_s > self.window_s:
            raise ValueError(f"an audio hop of {self.hop_s:g} s longer than the {self.window_s:g} s window would "
                             "leave parts of the file unscored")


def fixed_chunks(chunks: Iterable[np.ndarray], rate: int, chunk_s: float = CHUNK_S,
                 min_tail_s: float = MIN_TAIL_S) -> Iterator[tuple[int, np.ndarray]]:
    """Re-cut a decoded stream into ``chunk_s`` pieces: (start sample, samples).

    Memory stays at about two chunks however long the stream. A last piece shorter
    than ``min_tail_s`` is end-aligned (it overlaps the previous chunk), exactly
    as feature extraction for training does.
    """
    size = int(round(chunk_s * rate))
    buffer = np.zeros(0, dtype=np.float32)
    start = 0
    previous: np.ndarray | None = None
    for piece in chunks:
        buffer = np.concatenate([buffer, np.asarray(piece, dtype=np.float32)])
        while len(buffer) >= size:
            chunk, buffer = buffer[:size], buffer[size:]
            if previous is not None:
                yield start - size, previous
            previous = chunk
            start += size
    if previous is None:
        if len(buffer):
            yield 0, buffer
        return
    if len(buffer) == 0:
        yield start - size, previous
    elif len(buffer) < int(round(min_tail_s * rate)):
        yield start - size, previous
        tail = np.concatenate([previous, buffer])[-size:]
        yield start + len(buffer) - size, tail
    else:
        yield start - size, previous
        yield start, buffer


def window_bounds(duration_s: float, window_s: float, hop_s: float) -> np.ndarray:
    """(K, 2) window [start, end) times; the last is end-aligned so every instant is covered."""
    if duration_s <= window_s:
        return np.array([[0.0, duration_s]])
    starts = list(np.arange(0.0, duration_s - window_s + 1e-9, hop_s))
    if starts[-1] + window_s < duration_s - 1e-6:
        starts.append(duration_s - window_s)
    starts_arr = np.asarray(starts)
    return np.stack([starts_arr, starts_arr + window_s], axis=1)


def window_scores(times: np.ndarray, steps: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Mean step score inside each window (cumulative sums: O(T + K) for an hour of steps)."""
    order = np.argsort(times, kind="stable")
    times, steps = times[order], steps[order]
    csum = np.concatenate([[0.0], np.cumsum(steps, dtype=np.float64)])
    lo = np.searchsorted(times, bounds[:, 0], side="left")
    hi = np.searchsorted(times, bounds[:, 1], side="left")
    hi = np.where(hi == lo, np.minimum(lo + 1, len(times)), hi)  # a window between two steps takes the next
    lo = np.minimum(lo, len(times) - 1)
    return (csum[hi] - csum[lo]) / np.maximum(hi - lo, 1)


def step_summary(times: np.ndarray, steps: np.ndarray, duration_s: float) -> dict:
    """The per-step scores binned for the JSON line: mean step score per ``bin_s`` from 0 s.

    The full per-step series stays on ``ScanResult.arrays`` (step_times_s, step_scores).
    """
    step_s = float(np.median(np.diff(times))) if len(times) > 1 else duration_s
    bin_s = max(STEP_BIN_S, duration_s / STEP_MAX_BINS)
    n = max(1, int(np.ceil(duration_s / bin_s - 1e-9)))
    index = np.clip(np.floor(np.asarray(times) / bin_s).astype(int), 0, n - 1)
    total = np.bincount(index, np.asarray(steps, dtype=np.float64), minlength=n)
    count = np.bincount(index, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return {"step_s": round(step_s, 4), "bin_s": round(bin_s, 4), "start_s": 0.0, "score": rounded(means)}


def score_audio_track(
    path: str | Path,
    active,
    options: AudioOptions,
    cancel: CancelToken,
    track: str = "audio",
    decoder=None,
) -> Generator[Progress, None, TrackScore]:
    """Yield Progress per chunk; return the TrackScore. ``active`` is an engine.detectors.ActiveDetector.

    ``decoder`` (engine.decoding) decodes the track, in a worker process for the CLI; None decodes here.
    """
    from deepfake_gui.analysis.aggregate import aggregate
    from deepfake_gui.analysis.caveats import edge_silence
    from deepfake_gui.engine.detector_features import encode_items
    from deepfake_gui.media.narrowband import iter_detector_audio

    detector, encoder, encoders = active.detector, active.encoder, active.warm_encoders()
    rate = int(encoder.spec.preprocessing["sample_rate"])
    feature_sum: np.ndarray | None = None
    n_samples = 0
    step_times: list[np.ndarray] = []
    step_scores: list[np.ndarray] = []
    covered_s = 0.0
    lead_s = trail_s = 0.0
    weight_total = 0
    decoded = iter_detector_audio(path, rate) if decoder is None else decoder.audio_chunks(path, rate)
    for index, (start, chunk) in enumerate(fixed_chunks(decoded, rate)):
        cancel.raise_if_cancelled()
        if index == 0:
            lead_s = edge_silence(chunk, rate)[0]
        trail_s = edge_silence(chunk, rate)[1]
        batches = encode_items(detector, encoders, [chunk], tokens=True)  # each encoder it reads, once
        row = detector.inputs(batches)[0].astype(np.float64)
        weight = len(chunk)  # chunks weighted by length, overlap included: as training pools them
        feature_sum = row * weight if feature_sum is None else feature_sum + row * weight
        weight_total += weight
        tokens = detector.token_decision(detector.token_inputs(batches))[0].float().cpu().numpy()
        times = np.asarray(batches[detector.encoder_name].token_times, dtype=np.float64) + start / rate
        keep = times >= covered_s  # an end-aligned tail repeats part of the previous chunk
        step_times.append(times[keep])
        step_scores.append(tokens[keep].astype(np.float64))
        n_samples = max(n_samples, start + len(chunk))
        covered_s = n_samples / rate
        yield Progress(index + 1, None, f"{active.name}: {covered_s:.0f} s of audio")
    if feature_sum is None:
        raise ValueError("the audio track is empty")
    duration_s = n_samples / rate
    features = (feature_sum / weight_total).astype(np.float32)[None, :]
    times_all = np.concatenate(step_times)
    steps_all = np.concatenate(step_scores)
    bounds = window_bounds(duration_s, options.window_s, options.hop_s)
    windows = window_scores(times_all, steps_all, bounds)
    caveats: list[str] = []
    how = detector.aggregation_for("audio", options.aggregation, options.window_s, options.hop_s)
    if how == "mean":
        decision = float(detector.decision(features)[0])  # the trained quantity: mean over all frames
    else:
        decision = aggregate(windows, how)
    calibration = detector.calibration_for("audio", options.window_s, options.hop_s, how)
    if calibration is None:
        calibration = detector.file_calibration
        caveats.append(f"{active.name} has no calibration for {options.window_s:g} s windows, {options.hop_s:g} s "
                       f"hop and {options.aggregation}: its probability uses the whole-file calibration and "
                       "overstates fakeness (use the defaults for calibrated figures)")
    probability = float(calibration.probability(np.array([decision]))[0])
    series = {
        "kind": "window", "detector": active.name, "window_s": options.window_s, "hop_s": options.hop_s,
        "start_s": rounded(bounds[:, 0]), "end_s": rounded(bounds[:, 1]),
        # the windows' probabilities under the calibration that made the verdict (as the threshold and band)
        "score": rounded(windows), "probability": rounded(calibration.probability(windows)),
        "steps": step_summary(times_all, steps_all, duration_s),
    }
    arrays = {
        "step_times_s": times_all.astype(np.float32), "step_scores": steps_all.astype(np.float32),
        "window_bounds_s": bounds, "window_scores": windows,
        # reference lines on the score scale, from the calibration that made the verdict
        "threshold_score": calibration.threshold_score, "band_score": calibration.band_scores,
        "platt": (calibration.platt.a, calibration.platt.b),  # score -> P(fake): the timelines' probability axis
    }
    facts = {"duration_s": duration_s, "leading_silence_s": lead_s, "trailing_silence_s": trail_s,
             "window_s": options.window_s, "step_s": float(np.median(np.diff(times_all))) if len(times_all) > 1
             else None}
    return TrackScore(active.name, track, decision, probability, None, features, how,
                      series, arrays, caveats, facts, calibration)
