"""Localization metrics: how well per-time-step scores and heatmaps point at the manipulated part.

Pure numpy, positive class = manipulated throughout. Conventions follow
../shared/data/localization/README.md ("How to score localization"):

- temporal: the timeline is cut into frames of ``frame_s`` (20 ms for audio, 1/25 s
  for video pictures), frame k = [k * frame_s, (k + 1) * frame_s); a frame is
  positive when more than half of it lies inside a true segment. A detector's
  series (steps, windows or sampled frames, each covering [start, end)) is put on
  those frames by the overlap-weighted mean of the items that overlap each frame.
  Frame AUC and EER are pooled over all frames of all files, partial and control;
- segments: temporal IoU between the union of predicted and of true segments;
- spatial: pixel AUC of the heatmap against the mask, IoU of the thresholded map,
  and the pointing game (is the map's maximum inside the mask dilated by a few px).

AUC is the Mann-Whitney statistic with ties counted half; EER reuses
analysis.metrics.eer, so every figure here means what it means elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Span = tuple[float, float]


# ------------------------------------------------------------------ ranking metrics
def auc(labels, scores) -> float:
    """ROC AUC (probability that a random positive outscores a random negative; ties count half).

    NaN scores are dropped. Raises ValueError without both classes.
    """
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError("labels and scores differ in length")
    keep = ~np.isnan(s)
    y, s = y[keep], s[keep]
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("need both positive and negative items to compute an AUC")
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks = np.empty(len(s), dtype=np.float64)
    # average ranks (1-based) over ties
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def eer(labels, scores) -> float:
    """Equal error rate (analysis.metrics.eer), NaN scores dropped."""
    from deepfake_gui.analysis.metrics import eer as _eer

    y = np.asarray(labels).astype(int).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    keep = ~np.isnan(s)
    return _eer(y[keep], s[keep])[0]


def histogram_auc(pos_counts: np.ndarray, neg_counts: np.ndarray) -> float:
    """AUC from per-bin counts of positives and negatives over the same ascending bins (ties within a bin half)."""
    pos = np.asarray(pos_counts, dtype=np.float64)
    neg = np.asarray(neg_counts, dtype=np.float64)
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    below = np.cumsum(neg) - neg  # negatives in lower bins
    return float(((below + neg / 2) * pos).sum() / (n_pos * n_neg))


def bootstrap_pooled_auc(per_unit: Sequence[tuple[np.ndarray, np.ndarray]], groups: Sequence[str],
                         n_draws: int = 1000, bins: int = 2048, seed: int = 0) -> tuple[float, float]:
    """95% interval of a pooled AUC (frames or pixels), resampling groups with replacement.

    ``per_unit``: (labels, scores) of each file or image. Scores are binned on
    shared quantile edges so that each draw costs O(bins); the point estimate
    should come from ``auc`` on the unbinned scores.
    """
    groups_arr = np.asarray(groups)
    all_scores = np.concatenate([np.asarray(s, dtype=np.float64).ravel() for _, s in per_unit])
    all_scores = all_scores[np.isfinite(all_scores)]
    if all_scores.size == 0:
        return float("nan"), float("nan")
    edges = np.unique(np.quantile(all_scores, np.linspace(0, 1, bins + 1)[1:-1]))
    hist = np.zeros((len(per_unit), 2, len(edges) + 1))
    for i, (y, s) in enumerate(per_unit):
        y = np.asarray(y).astype(bool).ravel()
        s = np.asarray(s, dtype=np.float64).ravel()
        ok = np.isfinite(s)
        idx = np.searchsorted(edges, s[ok], side="right")
        hist[i, 0] = np.bincount(idx[y[ok]], minlength=len(edges) + 1)
        hist[i, 1] = np.bincount(idx[~y[ok]], minlength=len(edges) + 1)
    uniq, inverse = np.unique(groups_arr, return_inverse=True)
    by_group = np.zeros((len(uniq), 2, len(edges) + 1))
    np.add.at(by_group, inverse, hist)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_draws):
        pick = by_group[rng.integers(0, len(uniq), len(uniq))].sum(axis=0)
        value = histogram_auc(pick[0], pick[1])
        if np.isfinite(value):
            values.append(value)
    if not values:
        return float("nan"), float("nan")
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


# ------------------------------------------------------------------ temporal
def n_frames(duration_s: float, frame_s: float) -> int:
    """Frames of ``frame_s`` covering [0, duration) (a last partial frame counts)."""
    return max(int(np.ceil(duration_s / frame_s - 1e-9)), 0)


def overlap_with(spans: Sequence[Span], starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Seconds of each [start, end) interval covered by the union of ``spans``."""
    starts = np.asarray(starts, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.float64)
    covered = np.zeros_like(starts)
    for a, b in union(spans):
        covered += np.clip(np.minimum(ends, b) - np.maximum(starts, a), 0.0, None)
    return covered


def frame_labels(segments: Sequence[Span], duration_s: float, frame_s: float) -> np.ndarray:
    """True for frames more than half inside the true segments."""
    k = np.arange(n_frames(duration_s, frame_s))
    starts, ends = k * frame_s, np.minimum((k + 1) * frame_s, duration_s)
    return overlap_with(segments, starts, ends) > (ends - starts) / 2 + 1e-9  # exactly half is not "more than"


def frame_scores(starts: np.ndarray, ends: np.ndarray, scores: np.ndarray, duration_s: float,
                 frame_s: float) -> np.ndarray:
    """A series of items covering [start, end) put on the frame grid.

    Each frame gets the overlap-weighted mean of the items overlapping it; a frame
    no item overlaps takes the nearest item's score (by centre), so every frame of
    the file is scored.
    """
    starts = np.asarray(starts, dtype=np.float64).ravel()
    ends = np.asarray(ends, dtype=np.float64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    n = n_frames(duration_s, frame_s)
    if n == 0 or s.size == 0:
        return np.full(n, np.nan)
    ok = np.isfinite(s) & (ends > starts)
    starts, ends, s = starts[ok], ends[ok], s[ok]
    total = np.zeros(n)
    weight = np.zeros(n)
    first = np.clip(np.floor(starts / frame_s).astype(int), 0, n - 1)
    last = np.clip(np.ceil(ends / frame_s).astype(int) - 1, 0, n - 1)
    span = int((last - first).max()) + 1 if len(first) else 0
    for offset in range(span):  # items rarely cover more than a window's frames: loop over offsets, not items
        k = first + offset
        live = k <= last
        kk = k[live]
        w = np.clip(np.minimum(ends[live], (kk + 1) * frame_s) - np.maximum(starts[live], kk * frame_s), 0, None)
        np.add.at(total, kk, w * s[live])
        np.add.at(weight, kk, w)
    out = np.where(weight > 0, total / np.maximum(weight, 1e-12), np.nan)
    missing = np.isnan(out)
    if missing.any() and s.size:
        centres = (starts + ends) / 2
        order = np.argsort(centres)
        frame_c = (np.flatnonzero(missing) + 0.5) * frame_s
        pos = np.clip(np.searchsorted(centres[order], frame_c), 1, max(len(order) - 1, 1))
        left = order[np.maximum(pos - 1, 0)]
        right = order[np.minimum(pos, len(order) - 1)]
        nearest = np.where(np.abs(centres[left] - frame_c) <= np.abs(centres[right] - frame_c), left, right)
        out[missing] = s[nearest]
    return out


def union(spans: Sequence[Span]) -> list[Span]:
    """Sorted, merged, non-empty spans."""
    ordered = sorted((float(a), float(b)) for a, b in spans if b > a)
    merged: list[Span] = []
    for a, b in ordered:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def total_length(spans: Sequence[Span]) -> float:
    return float(sum(b - a for a, b in union(spans)))


def intersection_length(a: Sequence[Span], b: Sequence[Span]) -> float:
    ua, ub = union(a), union(b)
    return float(sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in ua for s2, e2 in ub))


def segment_iou(predicted: Sequence[Span], true: Sequence[Span]) -> float:
    """Temporal IoU of the unions; 1.0 when both are empty (nothing there, nothing claimed)."""
    inter = intersection_length(predicted, true)
    both = total_length(predicted) + total_length(true) - inter
    return 1.0 if both <= 0 else inter / both


def segment_hits(predicted: Sequence[Span], true: Sequence[Span]) -> tuple[int, int]:
    """(true segments overlapped by a prediction, predicted segments overlapping no true segment)."""
    found = sum(1 for t in true if intersection_length(predicted, [t]) > 0)
    false = sum(1 for p in predicted if intersection_length([p], true) == 0)
    return found, false


def temporal_report(files: Sequence[dict], frame_s: float, n_draws: int = 1000) -> dict:
    """Frame-level and segment-level figures of one track over files.

    Each file dict: ``true`` (list of spans), ``predicted`` (spans), ``duration_s``,
    ``starts``/``ends``/``scores`` (the series), ``generator``, ``group``, and
    optionally ``file_score`` and ``verdict``. Controls have ``true == []``.
    """
    labels, scores, units, groups = [], [], [], []
    for f in files:
        y = frame_labels(f["true"], f["duration_s"], frame_s)
        s = frame_scores(f["starts"], f["ends"], f["scores"], f["duration_s"], frame_s)
        labels.append(y)
        scores.append(s)
        units.append((y, s))
        groups.append(f["group"])
    out: dict = {"frame_s": frame_s, "n_files": len(files),
                 "n_partial": sum(bool(f["true"]) for f in files),
                 "n_control": sum(not f["true"] for f in files)}
    y_all, s_all = np.concatenate(labels), np.concatenate(scores)
    out["n_frames"] = int(len(y_all))
    out["n_positive_frames"] = int(y_all.sum())
    both = 0 < y_all.sum() < len(y_all)
    out["frame_auc"] = auc(y_all, s_all) if both else None
    out["frame_eer"] = eer(y_all, s_all) if both else None
    out["frame_auc_ci95"] = list(bootstrap_pooled_auc(units, groups, n_draws)) if both and n_draws else None
    in_partial = np.concatenate([np.full(len(y), bool(f["true"])) for y, f in zip(labels, files, strict=True)])
    yp, sp = y_all[in_partial], s_all[in_partial]
    out["frame_auc_partial_only"] = auc(yp, sp) if 0 < yp.sum() < len(yp) else None
    out["per_generator"] = {}
    for gen in sorted({f["generator"] for f in files if f["true"]}):
        keep = np.concatenate([np.full(len(y), (not f["true"]) or f["generator"] == gen)
                               for y, f in zip(labels, files, strict=True)])
        mine = [f for f in files if f["true"] and f["generator"] == gen]
        out["per_generator"][gen] = {
            "frame_auc": auc(y_all[keep], s_all[keep]) if 0 < y_all[keep].sum() < keep.sum() else None,
            "segment_iou": float(np.mean([segment_iou(f["predicted"], f["true"]) for f in mine])),
            "n": len(mine),
        }
    out.update(segment_report(files))
    out.update(file_report(files))
    return out


def segment_report(files: Sequence[dict]) -> dict:
    """Segment IoU and hit counts of predicted against true segments."""
    partial = [f for f in files if f["true"]]
    controls = [f for f in files if not f["true"]]
    ious = [segment_iou(f["predicted"], f["true"]) for f in partial]
    hits = [segment_hits(f["predicted"], f["true"]) for f in partial]
    n_true = sum(len(f["true"]) for f in partial)
    n_pred = sum(len(f["predicted"]) for f in files)
    false_segments = sum(h[1] for h in hits) + sum(len(f["predicted"]) for f in controls)
    return {
        "segment_iou": float(np.mean(ious)) if ious else None,
        "segment_iou_all": float(np.mean([segment_iou(f["predicted"], f["true"]) for f in files])) if files else None,
        # the trivial reference: flag each partial file from start to end
        "segment_iou_flag_everything": (float(np.mean([total_length(f["true"]) / f["duration_s"] for f in partial]))
                                        if partial else None),
        "true_segments_found": (sum(h[0] for h in hits) / n_true) if n_true else None,
        # the issue-20 target pair: partial files keeping a segment that overlaps the truth, untouched with any
        "partial_with_overlapping_segment": (sum(intersection_length(f["predicted"], f["true"]) > 0 for f in partial)
                                             / len(partial)) if partial else None,
        "predicted_segments": n_pred,
        "false_segments": false_segments,
        "controls_with_segments": (sum(bool(f["predicted"]) for f in controls) / len(controls)) if controls else None,
        "flagged_seconds_per_control_minute": (
            60 * sum(total_length(f["predicted"]) for f in controls) / sum(f["duration_s"] for f in controls)
            if controls else None),
    }


def file_report(files: Sequence[dict]) -> dict:
    """File level: AUC of the file score (partial vs control) and the share of partial files detected."""
    out: dict = {}
    labelled = [f for f in files if f.get("file_score") is not None]
    y = np.array([bool(f["true"]) for f in labelled])
    if labelled and 0 < y.sum() < len(y):
        out["file_auc"] = auc(y, [f["file_score"] for f in labelled])
    partial = [f for f in files if f["true"] and f.get("verdict") is not None]
    controls = [f for f in files if not f["true"] and f.get("verdict") is not None]
    if partial:
        out["partial_detected_fake"] = sum(f["verdict"] == "fake" for f in partial) / len(partial)
        out["partial_fake_or_inconclusive"] = sum(f["verdict"] != "real" for f in partial) / len(partial)
        out["partial_with_segment"] = sum(bool(f["predicted"]) for f in partial) / len(partial)
    if controls:
        out["controls_called_fake"] = sum(f["verdict"] == "fake" for f in controls) / len(controls)
    return out


# ------------------------------------------------------------------ spatial
def dilate(mask: np.ndarray, radius_px: int) -> np.ndarray:
    """Binary dilation with a disc of ``radius_px`` (numpy only)."""
    m = np.asarray(mask, dtype=bool)
    if radius_px <= 0:
        return m.copy()
    h, w = m.shape
    padded = np.pad(m, radius_px)
    out = np.zeros_like(m)
    for dy in range(-radius_px, radius_px + 1):
        for dx in range(-radius_px, radius_px + 1):
            if dy * dy + dx * dx <= radius_px * radius_px:
                out |= padded[radius_px + dy : radius_px + dy + h, radius_px + dx : radius_px + dx + w]
    return out


def mask_iou(predicted: np.ndarray, mask: np.ndarray) -> float:
    """IoU of two binary maps; 1.0 when both are empty."""
    p, m = np.asarray(predicted, dtype=bool), np.asarray(mask, dtype=bool)
    both = (p | m).sum()
    return 1.0 if both == 0 else float((p & m).sum() / both)


def pointing_hit(heatmap: np.ndarray, mask: np.ndarray, tolerance_px: int = 4) -> bool:
    """Is the heatmap's maximum (the first, row-major; NaN ignored) inside the mask dilated by ``tolerance_px``?"""
    h = np.asarray(heatmap, dtype=np.float64)
    if not np.isfinite(h).any():
        return False
    peak = np.unravel_index(int(np.nanargmax(h)), h.shape)
    return bool(dilate(mask, tolerance_px)[peak])


def best_threshold_iou(heatmaps: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                       candidates: np.ndarray | None = None) -> tuple[float, float]:
    """(threshold, mean IoU) for the single threshold that maximises the mean IoU over the images.

    One threshold for the whole set (not one per image, which would peek at each mask).
    """
    if candidates is None:
        values = np.concatenate([np.asarray(h, dtype=np.float64)[np.isfinite(h)] for h in heatmaps])
        candidates = np.unique(np.quantile(values, np.linspace(0.0, 1.0, 101)))
    best = (float("nan"), -1.0)
    for t in candidates:
        value = float(np.mean([mask_iou(np.nan_to_num(h, nan=-np.inf) >= t, m)
                               for h, m in zip(heatmaps, masks, strict=True)]))
        if value > best[1]:
            best = (float(t), value)
    return best


def spatial_report(items: Sequence[dict], fixed_thresholds: dict[str, float], tolerance_px: int = 4,
                   n_draws: int = 1000) -> dict:
    """Pixel AUC, IoU (best and fixed thresholds) and pointing game over spliced images.

    Each item: ``heatmap`` (H, W) scores, ``mask`` (H, W) bool (all False for a
    control), ``generator``, ``group``. ``fixed_thresholds``: name -> threshold on
    the heatmap's scale (e.g. the detector's). AUC pooled over the spliced images'
    pixels, and again with the controls' pixels as extra negatives.
    """
    spliced = [it for it in items if np.asarray(it["mask"]).any()]
    controls = [it for it in items if not np.asarray(it["mask"]).any()]
    out: dict = {"n_spliced": len(spliced), "n_controls": len(controls), "tolerance_px": tolerance_px}
    if not spliced:
        return out

    def pooled(subset: Sequence[dict], draws: int) -> tuple[float | None, list[float] | None]:
        units = [(np.asarray(it["mask"], bool).ravel(), np.asarray(it["heatmap"], np.float64).ravel())
                 for it in subset]
        y = np.concatenate([u[0] for u in units])
        s = np.concatenate([u[1] for u in units])
        if not 0 < y.sum() < len(y):
            return None, None
        ci = list(bootstrap_pooled_auc(units, [it["group"] for it in subset], draws)) if draws else None
        return auc(y, s), ci

    out["pixel_auc"], out["pixel_auc_ci95"] = pooled(spliced, n_draws)
    if controls:
        out["pixel_auc_with_controls"] = pooled([*spliced, *controls], 0)[0]
    per_image_auc = [auc(np.asarray(it["mask"]).ravel(), np.asarray(it["heatmap"]).ravel()) for it in spliced
                     if not np.asarray(it["mask"]).all()]
    out["pixel_auc_per_image_mean"] = float(np.mean(per_image_auc)) if per_image_auc else None
    heat = [np.asarray(it["heatmap"], np.float64) for it in spliced]
    masks = [np.asarray(it["mask"], bool) for it in spliced]
    threshold, best = best_threshold_iou(heat, masks)
    out["iou_best_threshold"] = {"threshold": threshold, "iou": best,
                                 "note": "one threshold for the whole set, chosen on these images (optimistic)"}
    out["iou_fixed"] = {name: {"threshold": t, "iou": float(np.mean([mask_iou(np.nan_to_num(h, nan=-np.inf) >= t, m)
                                                                    for h, m in zip(heat, masks, strict=True)])),
                               "area_flagged_controls": (float(np.mean([
                                   (np.nan_to_num(np.asarray(c["heatmap"], np.float64), nan=-np.inf) >= t).mean()
                                   for c in controls])) if controls else None)}
                        for name, t in fixed_thresholds.items()}
    out["pointing_game"] = float(np.mean([pointing_hit(h, m, tolerance_px) for h, m in zip(heat, masks, strict=True)]))
    out["mask_area_mean"] = float(np.mean([m.mean() for m in masks]))
    out["iou_flag_everything"] = out["mask_area_mean"]  # the trivial reference: every pixel flagged
    out["per_generator"] = {}
    for gen in sorted({it["generator"] for it in spliced}):
        mine = [i for i, it in enumerate(spliced) if it["generator"] == gen]
        units_y = np.concatenate([masks[i].ravel() for i in mine])
        units_s = np.concatenate([heat[i].ravel() for i in mine])
        out["per_generator"][gen] = {
            "n": len(mine),
            "pixel_auc": auc(units_y, units_s) if 0 < units_y.sum() < len(units_y) else None,
            "iou_best_threshold": float(np.mean([mask_iou(np.nan_to_num(heat[i], nan=-np.inf) >= threshold, masks[i])
                                                 for i in mine])),
            "pointing_game": float(np.mean([pointing_hit(heat[i], masks[i], tolerance_px) for i in mine])),
        }
    return out
