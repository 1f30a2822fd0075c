"""Score a video's pictures: sampled frames streamed in batches, one score per frame.

Memory stays bounded for an hour of video: frames are decoded lazily, only one
batch of crops is held at a time, and per frame only a few numbers are kept.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.engine.face_gate import faces_record, largest_face_share
from deepfake_gui.engine.score_image import combined_caveat, crops, encode_crops, plan_tiles
from deepfake_gui.engine.track import TrackScore, rounded

FACE_CHECKS = 12  # frames checked for a face when the detector cannot judge faces (up to twice as many)
# and for content a picture detector cannot judge (flat colour, screenshot, chart, document): analysis/content.py


@dataclass(frozen=True)
class VideoOptions:
    frames_per_second: float = 2.0
    faces: bool = False  # score face crops instead of whole-frame tiles
    face_backend: str = "auto"
    tiles_per_frame: int = 1  # native-resolution tiles per frame (1 = the centre tile)
    aggregation: str = "logsumexp"  # frames -> track score
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.frames_per_second <= 0:
            raise ValueError(f"frames_per_second must be positive, got {self.frames_per_second}")


def _frame_items(frame: np.ndarray, size: int, options: VideoOptions, device: str) -> tuple[list[np.ndarray], int]:
    """The crops one frame contributes, and how many of them are faces."""
    if options.faces:
        from deepfake_gui.encoders.faces import detect_faces

        found = detect_faces(frame, backend=options.face_backend, size=size, device=device)
        if found:
            return [found[0].crop], 1
    # copies, not views: a view would keep the whole decoded frame alive until its batch is scored
    tiles = crops(frame, plan_tiles(frame.shape[0], frame.shape[1], size, options.tiles_per_frame))
    return [np.ascontiguousarray(t) for t in tiles], 0


def score_video_frames(path: str | Path, active, options: VideoOptions, cancel: CancelToken,
                       expected_frames: int | None = None, decoder=None) -> Generator[Progress, None, TrackScore]:
    """Yield Progress per batch of frames; return the TrackScore.

    ``decoder`` (engine.decoding) decodes the frames, in a worker process for the CLI; None decodes here.
    """
    from deepfake_gui.analysis.aggregate import aggregate
    from deepfake_gui.analysis.content import check_image
    from deepfake_gui.media.video import iter_video_frames

    detector, encoder = active.detector, active.encoder
    size = int(encoder.spec.preprocessing["size"])
    device = str(getattr(encoder, "device", "cpu"))
    times: list[float] = []
    frame_scores: list[float] = []
    feature_sum: np.ndarray | None = None
    pending: list[np.ndarray] = []
    owners: list[int] = []  # frame number of each pending crop
    n_faces = 0
    shortest = 1 << 30  # the frames' shorter side, in pixels

    def flush() -> None:
        nonlocal feature_sum
        if not pending:
            return
        rows, _ = encode_crops(active, pending, tokens=False, batch_size=options.batch_size, cancel=cancel)
        scores = detector.decision(rows)
        owner = np.asarray(owners)
        for frame_no in np.unique(owner):
            mine = scores[owner == frame_no]
            frame_scores.append(aggregate(mine, "logsumexp") if len(mine) > 1 else float(mine[0]))
        batch_sum = rows.sum(axis=0).astype(np.float64)
        feature_sum = batch_sum if feature_sum is None else feature_sum + batch_sum
        pending.clear()
        owners.clear()

    face_record = faces_record(detector.meta or {})
    face_every = max(1, (expected_frames or 0) // FACE_CHECKS)  # about FACE_CHECKS frames spread over the video
    face_shares: list[float] = []
    contents: list = []  # analysis.content.ContentCheck of the same sampled frames
    n_crops = 0
    decoded = (iter_video_frames(path, per_second=options.frames_per_second) if decoder is None
               else decoder.video_frames(path, options.frames_per_second))
    for frame_no, frame in enumerate(decoded):
        cancel.raise_if_cancelled()
        items, faces = _frame_items(frame.image, size, options, device)
        if frame_no % face_every == 0 and len(contents) < 2 * FACE_CHECKS:
            contents.append(check_image(frame.image))
            if face_record is not None:
                face_shares.append(largest_face_share(frame.image))
        shortest = min(shortest, *frame.image.shape[:2])
        n_faces += faces
        times.append(frame.time_s)
        pending.extend(items)
        owners.extend([frame_no] * len(items))
        n_crops += len(items)
        if len(pending) >= options.batch_size:
            flush()
            yield Progress(len(times), expected_frames, f"{active.name}: frame {len(times)}")
    flush()
    if not frame_scores:
        raise ValueError("no frame could be decoded")
    scores_arr = np.asarray(frame_scores)
    how = detector.aggregation_for("frames", options.aggregation)
    decision = aggregate(scores_arr, how) if len(scores_arr) > 1 else float(scores_arr[0])
    probability = float(detector.probability(np.array([decision]))[0])
    features = (feature_sum / max(n_crops, 1)).astype(np.float32)[None, :]  # type: ignore[operator]
    threshold_score = detector.file_calibration.threshold_score
    series = {"kind": "frame", "detector": active.name, "time_s": rounded(times), "score": rounded(scores_arr),
              "probability": rounded(detector.probability(scores_arr))}
    arrays = {"frame_times_s": np.asarray(times), "frame_scores": scores_arr, "threshold_score": threshold_score,
              "band_score": detector.file_calibration.band_scores,
              "platt": (detector.file_calibration.platt.a, detector.file_calibration.platt.b)}
    facts = {"n_frames": len(times), "faces_requested": options.faces, "frames_with_face": n_faces,
             "frames_per_second": options.frames_per_second, "small_frames": shortest < size,
             "frame_short_side": shortest}
    facts["content_check"] = frames_content(contents)
    if face_record is not None:  # the detector cannot judge faces (engine/face_gate.py): were there any?
        share_min = float(face_record.get("share_min", 0.03))
        facts["face_check"] = {"frames_checked": len(face_shares),
                               "frames_with_face": int(sum(x >= share_min for x in face_shares))
                               + (n_faces if options.faces else 0),
                               "largest_face_share": round(max(face_shares, default=0.0), 3)}
    caveats = []
    # the lean towards fake only matters when the file was not called real anyway (frames at 0.00: no caveat)
    if len(scores_arr) > 1 and how != "mean" and probability >= detector.file_calibration.band[0]:
        caveats.append(combined_caveat(active.name, len(scores_arr), "frames", how))
    return TrackScore(active.name, "frames", decision, probability, None, features, how,
                      series, arrays, caveats, facts, detector.file_calibration)


def frames_content(checks: list) -> dict:
    """What the sampled frames show: how many were checked, how many a picture detector cannot judge, and why."""
    from collections import Counter

    failed = [c for c in checks if c.reasons]
    kinds = dict(Counter(c.kind for c in checks))
    out = {"frames_checked": len(checks), "frames_unjudgeable": len(failed), "kinds": kinds}
    if failed:
        common = max(kinds, key=lambda k: (k != "photo-like", kinds[k]))  # the commonest failing kind
        out["reason"] = next(c.reasons[0] for c in failed if c.kind == common)
    return out
