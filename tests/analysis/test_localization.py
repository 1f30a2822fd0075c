"""Localization metrics against hand-computed cases (analysis/localization.py)."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_gui.analysis import localization as loc


# ------------------------------------------------------------------ ranking
def test_auc_hand_computed_and_ties() -> None:
    # positives 0.35 and 0.8 against negatives 0.1 and 0.4: 0.35 beats one of two, 0.8 both -> 3/4
    assert loc.auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert loc.auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # a tie counts half
    assert loc.auc([0, 1, 1], [0.2, 0.2, 0.9]) == pytest.approx(0.75)  # (0.5 + 1) / 2
    assert loc.auc([1, 0], [0.0, 1.0]) == 0.0
    assert loc.auc([0, 1, 0], [0.1, 0.9, np.nan]) == 1.0  # NaN dropped
    with pytest.raises(ValueError, match="both"):
        loc.auc([1, 1], [0.1, 0.2])


def test_auc_matches_sklearn_on_random_data() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    s = np.round(rng.normal(size=500) + y, 1)  # rounded: plenty of ties
    assert loc.auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_eer_and_histogram_auc() -> None:
    assert loc.eer([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == pytest.approx(0.0)
    # per-bin counts: negatives in bins 0 and 1, positives in bins 1 and 2
    # pairs: pos@1 vs neg@0 win, vs neg@1 tie (half); pos@2 wins both -> (1 + 0.5 + 2) / 4
    assert loc.histogram_auc(np.array([0, 1, 1]), np.array([1, 1, 0])) == pytest.approx(0.875)
    assert np.isnan(loc.histogram_auc(np.array([0, 0]), np.array([1, 1])))


def test_bootstrap_interval_of_a_perfect_ranking_is_one() -> None:
    units = [(np.array([0, 0, 1]), np.array([0.1, 0.2, 0.9])), (np.array([0, 1]), np.array([0.3, 0.8]))]
    lo, hi = loc.bootstrap_pooled_auc(units, ["a", "b"], n_draws=50)
    assert lo == pytest.approx(1.0) and hi == pytest.approx(1.0)


# ------------------------------------------------------------------ temporal
def test_frame_labels_more_than_half_inside() -> None:
    # frames of 20 ms over 0.1 s; the segment 0.03-0.07 covers exactly half of frames 1 and 3 (not more)
    assert loc.frame_labels([(0.03, 0.07)], 0.1, 0.02).tolist() == [False, False, True, False, False]
    assert loc.frame_labels([(0.029, 0.07)], 0.1, 0.02).tolist() == [False, True, True, False, False]
    assert loc.frame_labels([], 0.1, 0.02).tolist() == [False] * 5
    # a last partial frame counts, judged on its own length
    assert loc.frame_labels([(0.095, 0.2)], 0.105, 0.02).tolist() == [False] * 5 + [True]


def test_frame_scores_overlap_weighted_and_nearest_fill() -> None:
    # item 0 covers [0, 0.03) with score 1, item 1 covers [0.03, 0.05) with score 3
    out = loc.frame_scores(np.array([0.0, 0.03]), np.array([0.03, 0.05]), np.array([1.0, 3.0]), 0.08, 0.02)
    # frame 1 = [0.02, 0.04): 10 ms of each -> 2; frame 3 = [0.06, 0.08) has no item -> nearest (item 1)
    assert out.tolist() == pytest.approx([1.0, 2.0, 3.0, 3.0])
    # a 2 s window's score is given to every frame it covers
    win = loc.frame_scores(np.array([0.0, 1.0]), np.array([2.0, 3.0]), np.array([0.0, 4.0]), 3.0, 0.5)
    assert win.tolist() == pytest.approx([0.0, 0.0, 2.0, 2.0, 4.0, 4.0])


def test_segment_iou_and_hits() -> None:
    assert loc.segment_iou([(0.0, 2.0)], [(1.0, 3.0)]) == pytest.approx(1 / 3)
    assert loc.segment_iou([], []) == 1.0
    assert loc.segment_iou([], [(1.0, 2.0)]) == 0.0
    assert loc.segment_iou([(0.0, 1.0)], []) == 0.0
    assert loc.segment_iou([(0.0, 1.0), (0.5, 2.0)], [(0.0, 2.0)]) == pytest.approx(1.0)  # unions
    assert loc.segment_iou([(0.0, 1.0), (2.0, 3.0)], [(0.5, 2.5)]) == pytest.approx(1.0 / 3.0)
    assert loc.segment_hits([(0.0, 1.0), (5.0, 6.0)], [(0.5, 2.0), (3.0, 4.0)]) == (1, 1)
    assert loc.union([(2, 3), (0, 1), (0.5, 2.5), (4, 4)]) == [(0.0, 3.0)]


def _file(true, predicted, scores, generator="gen", group="g", duration=1.0, file_score=None, verdict=None):
    n = len(scores)
    starts = np.arange(n) * duration / n
    return {"true": true, "predicted": predicted, "duration_s": duration, "starts": starts,
            "ends": starts + duration / n, "scores": np.asarray(scores, float), "generator": generator,
            "group": group, "file_score": file_score, "verdict": verdict}


def test_temporal_report_on_a_hand_made_set() -> None:
    # 1 s files, 4 items of 0.25 s, frames of 0.25 s: the item grid is the frame grid
    files = [
        _file([(0.5, 1.0)], [(0.5, 1.0)], [0, 0, 5, 5], "a", "g1", file_score=3.0, verdict="fake"),
        _file([(0.0, 0.5)], [(0.25, 0.75)], [4, 4, 1, 0], "b", "g2", file_score=2.0, verdict="real"),
        _file([], [(0.0, 0.25)], [2, 0, 0, 0], "real", "g3", file_score=1.0, verdict="real"),
    ]
    r = loc.temporal_report(files, 0.25, n_draws=0)
    y = [0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    s = [0, 0, 5, 5, 4, 4, 1, 0, 2, 0, 0, 0]
    assert r["n_frames"] == 12 and r["n_positive_frames"] == 4
    assert r["frame_auc"] == pytest.approx(loc.auc(y, s)) == pytest.approx(1.0)
    assert r["segment_iou"] == pytest.approx((1.0 + 1 / 3) / 2)
    assert r["segment_iou_all"] == pytest.approx((1.0 + 1 / 3 + 0.0) / 3)
    assert r["segment_iou_flag_everything"] == pytest.approx(0.5)
    assert r["true_segments_found"] == 1.0 and r["false_segments"] == 1 and r["predicted_segments"] == 3
    assert r["controls_with_segments"] == 1.0
    assert r["flagged_seconds_per_control_minute"] == pytest.approx(15.0)  # 0.25 s in 1 s
    assert r["file_auc"] == 1.0
    assert r["partial_detected_fake"] == 0.5 and r["partial_fake_or_inconclusive"] == 0.5
    assert r["controls_called_fake"] == 0.0 and r["partial_with_segment"] == 1.0
    assert r["partial_with_overlapping_segment"] == 1.0
    assert set(r["per_generator"]) == {"a", "b"}
    assert r["per_generator"]["a"]["segment_iou"] == 1.0 and r["per_generator"]["a"]["n"] == 1


def test_a_segment_beside_the_truth_is_a_segment_but_not_an_overlapping_one() -> None:
    files = [_file([(0.5, 1.0)], [(0.0, 0.25)], [5, 0, 0, 0], "a", "g1"),
             _file([(0.5, 1.0)], [(0.5, 0.75)], [0, 0, 5, 0], "a", "g2")]
    r = loc.segment_report(files)
    assert r["partial_with_overlapping_segment"] == 0.5 and r["true_segments_found"] == 0.5


# ------------------------------------------------------------------ spatial
def test_dilate_and_pointing_game() -> None:
    mask = np.zeros((9, 9), bool)
    mask[4, 4] = True
    assert loc.dilate(mask, 1).sum() == 5  # a plus
    assert loc.dilate(mask, 2).sum() == 13
    heat = np.zeros((9, 9))
    heat[4, 7] = 1.0  # three pixels right of the mask
    assert not loc.pointing_hit(heat, mask, tolerance_px=2)
    assert loc.pointing_hit(heat, mask, tolerance_px=3)
    heat[0, 0] = np.nan
    assert loc.pointing_hit(heat, mask, tolerance_px=4)  # NaN ignored


def test_mask_iou_best_threshold_and_spatial_report() -> None:
    pred = np.array([[1, 1, 0, 0]], bool)
    mask = np.array([[0, 1, 1, 0]], bool)
    assert loc.mask_iou(pred, mask) == pytest.approx(1 / 3)
    assert loc.mask_iou(np.zeros(4, bool), np.zeros(4, bool)) == 1.0
    rng = np.random.default_rng(0)
    items = []
    for i in range(4):
        m = np.zeros((20, 20), bool)
        m[2 + i : 8 + i, 3:9] = True
        items.append({"heatmap": m * 2.0 + rng.random((20, 20)), "mask": m, "generator": f"g{i % 2}",
                      "group": f"p{i}"})
    items.append({"heatmap": rng.random((20, 20)), "mask": np.zeros((20, 20), bool), "generator": "real",
                  "group": "p9"})
    r = loc.spatial_report(items, {"fixed": 1.5}, tolerance_px=0, n_draws=20)
    assert r["n_spliced"] == 4 and r["n_controls"] == 1
    assert r["pixel_auc"] == 1.0 and r["pixel_auc_ci95"] == pytest.approx([1.0, 1.0])
    assert r["pixel_auc_with_controls"] == 1.0
    assert r["pointing_game"] == 1.0
    assert r["iou_best_threshold"]["iou"] == 1.0
    assert r["iou_fixed"]["fixed"]["iou"] == 1.0 and r["iou_fixed"]["fixed"]["area_flagged_controls"] == 0.0
    assert r["iou_flag_everything"] == pytest.approx(36 / 400)
    assert set(r["per_generator"]) == {"g0", "g1"}
    # a map that points at the wrong place
    wrong = [{**it, "heatmap": (~it["mask"]) * 1.0} for it in items[:4]]
    r2 = loc.spatial_report(wrong, {"fixed": 0.5}, tolerance_px=0, n_draws=0)
    assert r2["pixel_auc"] == 0.0 and r2["pointing_game"] == 0.0 and r2["iou_fixed"]["fixed"]["iou"] == 0.0
