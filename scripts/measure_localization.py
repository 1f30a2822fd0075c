"""Measure how well LayerScope localizes partial fakes, and choose the segment rule's parameters.

Protocol (../shared/EVALUATION.md, ../shared/data/localization/README.md):

1. Scan the three parts of the localization set (audio, video, image) with the shipped
   detectors through the real scan pipeline (engine/evaluate_localization.collect).
2. Choose the segment rule (engine/segments.py) per track by a grid search that
   maximises the mean per-file segment IoU (a control counts 1 when nothing is
   flagged, 0 otherwise), averaged over the track's detectors: the audio rule on the
   audio part, the video-picture rule on the video part's frames. Grouped 5-fold CV
   (StratifiedGroupKFold by ``group``, seed 0): in each fold the grid point is chosen on
   the other folds and applied to the held-out groups; the out-of-fold figures are the
   honest ones. The shipped rule is the grid point chosen on all groups, so figures
   computed with it on this set are in-sample for the rule (three or four numbers
   fitted, not a model, but still say so).
3. Report the localization metrics with the shipped rule (the same code as
   `layerscope evaluate --localization`), write docs/measurements/localization.json,
   the model-card summary docs/measurements/localization_model_card.json, and a
   timeline picture (true and suspected segments shaded).

    .venv/bin/python scripts/measure_localization.py
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

GRID = {
    "smooth_s": [0.0, 0.2, 0.5, 0.75, 1.0, 1.5, 2.0],
    "threshold_offset": [-3.0, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0],
    "merge_gap_s": [0.0, 0.25, 0.5, 1.0],
    "min_duration_s": [0.0, 0.25, 0.5, 0.75, 1.0, 1.5],
}


def _run(job):
    while True:
        try:
            next(job)
        except StopIteration as stop:
            return stop.value


# ------------------------------------------------------------------ rule search
def _prepared(records, smooth_values):
    """Per record: sorted times, intervals and the smoothed series for each smoothing width."""
    from deepfake_gui.engine.segments import smooth_scores, step_intervals

    out = []
    for r in records:
        order = np.argsort(r.times, kind="stable")
        t, s = r.times[order], r.scores[order]
        starts, ends = step_intervals(t, r.duration_s, r.kind)
        out.append({"record": r, "starts": starts, "ends": ends,
                    "smoothed": {w: smooth_scores(t, s, w) for w in smooth_values}})
    return out


def _ious(prepared, rule) -> np.ndarray:
    """Per-file segment IoU of a rule (controls: 1 when nothing is flagged)."""
    from deepfake_gui.analysis.localization import segment_iou
    from deepfake_gui.engine.segments import extract_segments

    values = []
    for p in prepared:
        r = p["record"]
        segs = extract_segments(p["starts"], p["ends"], p["smoothed"][rule.smooth_s], r.threshold_score, rule)
        values.append(segment_iou([(a, b) for a, b, _, _ in segs], r.true))
    return np.asarray(values)


def search_rule(records, folds: int = 5, seed: int = 0) -> dict:
    """Grid search with grouped CV; returns the chosen rule, out-of-fold figures and the grid's top."""
    from sklearn.model_selection import StratifiedGroupKFold

    from deepfake_gui.engine.segments import SegmentRule

    detectors = sorted({r.detector for r in records})
    prepared = _prepared(records, GRID["smooth_s"])
    rules = [SegmentRule(*values) for values in itertools.product(*GRID.values())]
    table = np.stack([_ious(prepared, rule) for rule in rules])  # (n_rules, n_records)
    det_index = np.array([detectors.index(r.detector) for r in records])
    # files are the unit of the split (each detector's record of a file goes to the same side)
    file_keys = sorted({str(r.item.path) for r in records})
    file_of = np.array([file_keys.index(str(r.item.path)) for r in records])
    first = {file_of[i]: records[i] for i in range(len(records))}
    labels = np.array([int(bool(first[k].true)) for k in range(len(file_keys))])
    groups = np.array([first[k].item.group for k in range(len(file_keys))])

    def objective(mask: np.ndarray) -> np.ndarray:
        """Mean over detectors of the mean IoU over the masked records, for every rule."""
        per_det = [table[:, mask & (det_index == d)].mean(axis=1) for d in range(len(detectors))
                   if (mask & (det_index == d)).any()]
        return np.mean(per_det, axis=0)

    splitter = StratifiedGroupKFold(n_splits=min(folds, len(set(groups))), shuffle=True, random_state=seed)
    oof = np.full(len(records), np.nan)
    per_fold = []
    for train_files, test_files in splitter.split(np.zeros(len(file_keys)), labels, groups):
        train = np.isin(file_of, train_files)
        test = np.isin(file_of, test_files)
        best = int(np.argmax(objective(train)))
        oof[test] = table[best, test]
        per_fold.append({"rule": vars(rules[best]).copy(), "train_objective": float(objective(train)[best]),
                         "test_objective": float(objective(test)[best]), "n_test_files": int(len(test_files))})
    everything = np.ones(len(records), dtype=bool)
    scores = objective(everything)
    best = int(np.argmax(scores))
    top = np.argsort(-scores, kind="stable")[:5]
    partial = np.array([bool(r.true) for r in records])
    return {
        "objective": "mean per-file segment IoU (controls: 1 if nothing flagged, else 0), mean over detectors",
        "grid": GRID, "n_rules": len(rules), "n_files": len(file_keys), "n_groups": int(len(set(groups))),
        "detectors": detectors,
        "chosen_on_all_groups": vars(rules[best]).copy(), "in_sample_objective": float(scores[best]),
        "out_of_fold": {
            "objective": float(np.mean([np.nanmean(oof[det_index == d]) for d in range(len(detectors))])),
            "per_detector": {name: {
                "segment_iou_all": float(np.nanmean(oof[det_index == d])),
                "segment_iou_partial": float(np.nanmean(oof[(det_index == d) & partial])),
                "controls_clean": float(np.nanmean(oof[(det_index == d) & ~partial])),
            } for d, name in enumerate(detectors)},
            "per_fold": per_fold,
        },
        "top5_on_all": [{"rule": vars(rules[i]).copy(), "objective": float(scores[i])} for i in top],
    }


# ------------------------------------------------------------------ resolution
SMOOTHING_CURVE_S = [0.0, 0.1, 0.2, 0.5, 1.0, 1.5, 2.0]
LENGTH_BINS_S = [(0.0, 1.0), (1.0, 1.5), (1.5, 10.0)]


def resolution_curve(records, frame_s: float) -> dict:
    """Pooled frame AUC of the smoothed series against the smoothing width: what time resolution really holds."""
    from deepfake_gui.analysis.localization import temporal_report
    from deepfake_gui.engine.evaluate_localization import _temporal_files
    from deepfake_gui.engine.segments import SegmentRule

    out = {}
    for name in sorted({r.detector for r in records}):
        mine = [r for r in records if r.detector == name]
        out[name] = {f"{w:g}": temporal_report(_temporal_files(mine, "smoothed", SegmentRule(smooth_s=w)), frame_s,
                                               0)["frame_auc"] for w in SMOOTHING_CURVE_S}
    return out


def by_true_length(records) -> dict:
    """Shipped-rule segments against true segments grouped by length: is a short stretch found?"""
    from deepfake_gui.analysis.localization import intersection_length, segment_iou

    out = {}
    for name in sorted({r.detector for r in records}):
        rows = {}
        for lo, hi in LENGTH_BINS_S:
            mine = [r for r in records if r.detector == name and len(r.true) == 1 and lo <= r.true[0][1] -
                    r.true[0][0] < hi]
            if not mine:
                continue
            rows[f"{lo:g}-{hi:g} s"] = {
                "n": len(mine),
                "found": float(np.mean([intersection_length(r.predicted, r.true) > 0 for r in mine])),
                "segment_iou": float(np.mean([segment_iou(r.predicted, r.true) for r in mine])),
            }
        out[name] = rows
    return out


# ------------------------------------------------------------------ picture
def draw_timeline(records, out: Path, title: str) -> dict:
    """One file's series, threshold, true and suspected segments, for the README."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deepfake_gui.engine.segments import RULES, smooth_scores

    fig, axes = plt.subplots(len(records), 1, figsize=(12, 2.4 * len(records) + 0.7), sharex=True, squeeze=False)
    for ax, r in zip(axes[:, 0], records, strict=True):
        order = np.argsort(r.times)
        t, s = r.times[order], r.scores[order]
        rule = RULES[r.track]
        thr = r.threshold_score + rule.threshold_offset
        if r.kind == "start":  # sampled frames: each score holds until the next frame
            ax.step(np.r_[t, r.duration_s], np.r_[s, s[-1]], where="post", color="C0", lw=1.6,
                    label=f"per-frame score, {1 / np.median(np.diff(t)):g} fps")
            shown = s
        else:
            smooth = smooth_scores(t, s, rule.smooth_s)
            ax.plot(t, s, color="0.8", lw=0.5, label="per-step score (20 ms)")
            ax.plot(t, smooth, color="C0", lw=1.6, label=f"smoothed ({rule.smooth_s:g} s), as the rule uses it")
            shown = smooth
        ax.axhline(thr, color="C3", ls="--", lw=1, label="segment threshold")
        lo, hi = min(np.nanmin(shown), thr), max(np.nanmax(shown), thr)
        pad = 0.25 * (hi - lo + 1e-6)
        ax.set_ylim(lo - pad, hi + pad)
        for i, (a, b) in enumerate(r.true):
            ax.axvspan(a, b, ymin=0.0, ymax=0.1, color="k", alpha=0.85, zorder=3,
                       label="true segment" if i == 0 else None)
        for i, (a, b) in enumerate(r.predicted):
            ax.axvspan(a, b, ymin=0.1, ymax=1.0, color="C1", alpha=0.25,
                       label="suspected segment" if i == 0 else None)
        ax.set_ylabel("score (logit)")
        ax.set_title(f"{'pictures' if r.track == 'frames' else 'sound'}: {r.detector}", fontsize=9, loc="left")
        ax.set_xlim(0, r.duration_s)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, framealpha=0.9)
    axes[-1, 0].set_xlabel("time (s)")
    fig.suptitle(title, fontsize=9)
    fig.text(0.01, 0.005, "Shading shows where the detector responded, not proof of manipulation.", fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return {"path": str(out), "file": str(records[0].item.path), "tracks": [r.track for r in records]}


def _pick_example(tracks):
    """A video whose pictures and sound were both manipulated, lead detectors; else an audio file."""
    from deepfake_gui.analysis.localization import segment_iou

    video = {}
    for r in tracks:
        if r.item.part == "video" and r.lead and r.item.label != "real" and len(r.item.truth.get("frames", [])) \
                and len(r.item.truth.get("audio", [])):
            video.setdefault(str(r.item.path), {})[r.track] = r
    both = [v for v in video.values() if {"frames", "audio"} <= set(v)]
    if both:  # the file in the middle of the IoU ranking: typical, not the best case
        ranked = sorted(both, key=lambda v: sum(segment_iou(x.predicted, x.true) for x in v.values()))
        chosen = ranked[len(ranked) // 2]
        return [chosen["frames"], chosen["audio"]]
    audio = [r for r in tracks if r.lead and r.true]
    audio.sort(key=lambda r: segment_iou(r.predicted, r.true))
    return [audio[len(audio) // 2]]


# ------------------------------------------------------------------ main
def main() -> int:
    from deepfake_gui.core.config import ensure_offline_default
    from deepfake_gui.engine.detectors import resolve_detectors
    from deepfake_gui.engine.evaluate_localization import (
        AUDIO_FRAME_S,
        BASELINES,
        caveats,
        collect,
        file_rows,
        json_safe,
        load_manifest,
        spatial_rows,
        temporal_rows,
    )
    from deepfake_gui.engine.scan import ScanOptions
    from deepfake_gui.engine.segments import RULES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/localization")
    ap.add_argument("--out", default="docs/measurements/localization.json")
    ap.add_argument("--model-card", default="docs/measurements/localization_model_card.json")
    ap.add_argument("--picture", default="docs/screenshots/localization_timeline.png")
    ap.add_argument("--fps", type=float, default=2.0, help="video frames scored per second (scan default 2)")
    ap.add_argument("--draws", type=int, default=1000, help="group-bootstrap draws for the 95%% intervals")
    args = ap.parse_args()
    ensure_offline_default()

    root = Path(args.data)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    detectors = resolve_detectors([], "cpu", True)
    timings["load_detectors_s"] = time.perf_counter() - t0
    tracks, images, files, items = [], [], [], []
    for part in ("audio", "video", "image"):
        part_items = load_manifest(root / part)
        items += part_items
        t0 = time.perf_counter()
        options = ScanOptions(device="cpu", frames_per_second=args.fps, keep_arrays=True)
        got = _run(collect(part_items, detectors, options))
        timings[f"scan_{part}_s"] = time.perf_counter() - t0
        print(f"scanned {part}: {len(part_items)} files in {timings[f'scan_{part}_s']:.0f} s", file=sys.stderr)
        tracks += got[0]
        images += got[1]
        files += got[2]

    t0 = time.perf_counter()
    search = {
        "audio": search_rule([r for r in tracks if r.item.part == "audio" and r.track == "audio"]),
        "frames": search_rule([r for r in tracks if r.item.part == "video" and r.track == "frames"]),
    }
    timings["rule_search_s"] = time.perf_counter() - t0
    for track, found in search.items():
        shipped = vars(RULES[track])
        found["shipped_rule"] = dict(shipped)
        found["shipped_matches_search"] = shipped == found["chosen_on_all_groups"]
        if not found["shipped_matches_search"]:
            print(f"note: RULES[{track!r}] = {shipped} but the search chose {found['chosen_on_all_groups']}: "
                  "update engine/segments.py and rerun", file=sys.stderr)

    t0 = time.perf_counter()
    metrics = {
        "kind": "localization", "data": str(root), "frames_per_second": args.fps,
        "temporal": temporal_rows(tracks, args.draws), "spatial": spatial_rows(images, args.draws),
        "files": file_rows(files), "baselines": BASELINES, "caveats": caveats(items, detectors),
        "failed": [{"path": f["path"], "error": f["error"]} for f in files if f["status"] != "ok"],
    }
    audio_part = [r for r in tracks if r.item.part == "audio"]
    metrics["resolution"] = {
        "smoothing_curve_frame_auc": resolution_curve(audio_part, AUDIO_FRAME_S),
        "by_true_segment_length": by_true_length(audio_part),
    }
    timings["metrics_s"] = time.perf_counter() - t0
    example = _pick_example(tracks)
    picture = draw_timeline(example, Path(args.picture),
                            f"{Path(example[0].item.path).name}: true segments (black band) and suspected segments "
                            "(orange) from the shipped detectors")
    result = {
        "measured": time.strftime("%Y-%m-%d"), "command": "scripts/measure_localization.py " + " ".join(sys.argv[1:]),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "device": "cpu"},
        "protocol": __doc__.split("\n\n")[1:3], "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "rule_search": search, "metrics": metrics, "picture": picture,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(json_safe(result), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    card = model_card(metrics, search, detectors)
    Path(args.model_card).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}, {args.model_card} and {args.picture}", file=sys.stderr)
    return 0


def model_card(metrics: dict, search: dict, detectors) -> dict:
    """Headline localization figures per shipped detector bundle, for the model card."""
    folders = {d.name: d.folder.name for d in detectors}
    card: dict = {"note": "where the detector responded, not proof: measured on ../shared/data/localization (dev "
                          "photos and speakers, the same as the detectors' training data), see docs/measurements.md",
                  "detectors": {}}
    for row in metrics["temporal"]:
        entry = card["detectors"].setdefault(folders.get(row["detector"], row["detector"]), {"name": row["detector"]})
        oof = search.get(row["track"], {}).get("out_of_fold", {}).get("per_detector", {}).get(row["detector"])
        entry[f"{row['part']}/{row['track']}"] = {
            "frame_auc": _r(row["frame_auc"]), "frame_auc_ci95": [_r(v) for v in row["frame_auc_ci95"] or []],
            "frame_eer": _r(row["frame_eer"]), "frame_s": row["frame_s"],
            "frame_auc_raw_steps": _r(row["frame_auc_step"]),
            "segment_iou": _r(row["segment_iou"]), "true_segments_found": _r(row["true_segments_found"]),
            "controls_with_segments": _r(row["controls_with_segments"]),
            "segment_iou_out_of_fold": _r(oof["segment_iou_partial"]) if oof and row["part"] == (
                "audio" if row["track"] == "audio" else "video") else None,
            "file_auc": _r(row.get("file_auc")), "partial_detected_fake": _r(row.get("partial_detected_fake")),
        }
    for row in metrics["spatial"]:
        entry = card["detectors"].setdefault(folders.get(row["detector"], row["detector"]), {"name": row["detector"]})
        entry[f"{row['part']}/heatmap"] = {
            "pixel_auc": _r(row.get("pixel_auc")), "pixel_auc_ci95": [_r(v) for v in row.get("pixel_auc_ci95") or []],
            "pointing_game": _r(row.get("pointing_game")),
            "iou_best_threshold": _r(row["iou_best_threshold"]["iou"]),
            "iou_detector_threshold": _r(row["iou_fixed"]["detector_threshold"]["iou"]),
            "file_auc": _r(row.get("file_auc")), "partial_detected_fake": _r(row.get("partial_detected_fake")),
        }
    return card


def _r(value, digits: int = 3):
    return None if value is None else round(float(value), digits)


if __name__ == "__main__":
    raise SystemExit(main())
