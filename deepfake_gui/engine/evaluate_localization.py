"""The localization evaluation: scan a localization set, then measure *where*, not only *whether*.

Input: a folder with a ``manifest.csv`` in the format of ../shared/data/localization
(``path, modality, label, generator, group, mask_path, video_segments,
audio_segments, duration_s, details``), or a folder whose sub-folders hold such
manifests (the localization root: image/, audio/, video/). Every file goes through
the real scan pipeline (engine/scan.py, arrays kept), so the figures describe what
a user sees: the per-step and per-frame series, the suspected segments of
engine/segments.py, the heatmaps and the verdicts.

Output keys (``LocalizationReport.metrics``):
- ``temporal``: one row per (part, track, detector): frame AUC/EER of the smoothed
  series the segment rule thresholds (``frame_auc``, with a group-bootstrap 95% CI),
  of the raw per-step / per-frame scores (``frame_auc_step``) and, for audio, of the
  2 s windows (``frame_auc_window``); segment IoU, true segments found, controls with
  segments, partial files with a segment overlapping the truth (issue 20's target pair, with controls with
  segments); the detector's file-level AUC and the share of partial files it calls fake; per generator.
  Segment figures are given for each track's lead detector only (scan lists its segments only).
- ``spatial``: one row per (part, detector): pixel AUC, IoU at the best threshold and at
  the detector's threshold, pointing game, per generator; ``regions``: untouched images with flagged pixels and
  spliced images with flagged pixels inside the region, at a few thresholds.
- ``files``: per part, the file verdicts (all detectors fused, as scan reports them).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.engine.localization_manifest import Item, load_manifest

AUDIO_FRAME_S = 0.02  # PartialSpoof-style 20 ms frames
VIDEO_FPS = 25.0  # the localization set's frame rate; frame k = [k/25, (k+1)/25)
BASELINES = {  # quoted from ../shared/data/localization/README.md, not re-run here
    "audio_frame_auc_logmel_lr": {"all": 0.77, "world-vocoder": 0.99, "griffin-lim": 0.56},
    "image_pixel_auc_high_frequency_energy": 0.64,
    "image_pointing_game_high_frequency_energy": 0.46,
}


@dataclass
class TrackRecord:
    """One detector's series on one timed track of one file, with the truth."""

    item: Item
    track: str  # audio | frames
    detector: str
    lead: bool
    times: np.ndarray
    scores: np.ndarray
    kind: str  # centre (audio steps) | start (sampled frames)
    threshold_score: float  # where the segment rule's threshold starts (segments.segment_base_score), score scale
    file_score: float
    verdict: str | None
    predicted: list[tuple[float, float]]
    windows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # starts, ends, scores (audio)

    @property
    def true(self) -> list[tuple[float, float]]:
        return self.item.truth.get(self.track, [])

    @property
    def generator(self) -> str:
        return self.item.track_generators.get(self.track, "real") if self.true else "real"

    @property
    def duration_s(self) -> float:
        return float(self.item.duration_s or (self.times.max() if len(self.times) else 0.0))


@dataclass
class ImageRecord:
    item: Item
    detector: str
    lead: bool
    heatmap: np.ndarray
    mask: np.ndarray
    threshold_score: float
    probability_half_score: float  # the score whose calibrated probability is 0.5
    file_score: float
    verdict: str | None
    segment_base_score: float | None = None  # where a timed track's segments start (segments.segment_base_score)
    region: dict | None = None  # the heatmap head's suspected region (score_image.suspected_region), lead only


@dataclass
class LocalizationReport:
    metrics: dict
    data: str


# ------------------------------------------------------------------ scanning
def collect(items: list[Item], detectors: list, options, cancel: CancelToken | None = None,
            ) -> Generator[Progress, None, tuple[list[TrackRecord], list[ImageRecord], list[dict]]]:
    """Scan the items with the real pipeline (arrays kept) and keep what the metrics need."""
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.scan import scan_job
    from deepfake_gui.engine.segments import segment_base_score

    options.keep_arrays = True
    by_path = {str(Path(it.path).resolve()): it for it in items}  # scan results carry absolute paths
    by_name = {d.name: d for d in detectors}
    tracks: list[TrackRecord] = []
    images: list[ImageRecord] = []
    files: list[dict] = []
    for event in scan_job([it.path for it in items], options, cancel, detectors=detectors):
        if isinstance(event, Progress):
            yield event
            continue
        if not isinstance(event, ScanResult):
            continue
        item = by_path[str(Path(event.path).resolve())]
        files.append({"path": event.path, "part": item.part, "label": item.label, "generator": item.generator,
                      "group": item.group, "verdict": event.verdict, "probability": event.probability,
                      "status": event.status, "error": event.error})
        if event.status != "ok":
            continue
        leads = {t: s.get("detector") for t, s in event.series.items()}
        if event.heatmap:
            leads["image"] = event.heatmap.get("detector")
        for key, arrays in event.arrays.items():
            track, name = key.split("/", 1)
            info = event.detectors.get(name, {})
            active = by_name.get(name)
            if active is None:
                continue
            calibration = active.detector.file_calibration
            if track == "image":
                images.append(_image_record(event, item, name, leads.get("image") == name, calibration, info))
                continue
            kind = "centre" if "step_times_s" in arrays else "start"
            times = np.asarray(arrays["step_times_s"] if kind == "centre" else arrays["frame_times_s"], np.float64)
            scores = np.asarray(arrays["step_scores"] if kind == "centre" else arrays["frame_scores"], np.float64)
            windows = None
            if "window_bounds_s" in arrays:
                bounds = np.asarray(arrays["window_bounds_s"])
                windows = (bounds[:, 0], bounds[:, 1], np.asarray(arrays["window_scores"], np.float64))
            predicted = [(s["start_s"], s["end_s"]) for s in event.segments
                         if s["track"] == track and s["detector"] == name]
            tracks.append(TrackRecord(item, track, name, leads.get(track) == name, times, scores, kind,
                                      segment_base_score(calibration), float(info.get("score", np.nan)),
                                      info.get("verdict"), predicted, windows))
    return tracks, images, files


def _image_record(result, item: Item, name: str, lead: bool, calibration, info: dict) -> ImageRecord:
    from PIL import Image

    from deepfake_gui.engine.explain import image_heatmap
    from deepfake_gui.engine.segments import segment_base_score

    heatmap = image_heatmap(result, name)
    heat = heatmap.values.astype(np.float64)
    if item.mask_path is not None:
        with Image.open(item.mask_path) as im:
            mask = np.asarray(im.convert("L")) > 127
        if mask.shape != heat.shape:
            raise LayerScopeError(f"{item.mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but the image "
                                  f"{item.path} is {heat.shape[1]}x{heat.shape[0]}")
    else:
        mask = np.zeros(heat.shape, dtype=bool)
    region = (result.heatmap or {}).get("region") if lead else None
    # the heatmap's own threshold (a heatmap head sets one; else the verdict's), as the image view draws it
    return ImageRecord(item, name, lead, heat, mask, heatmap.threshold_score, calibration.platt.inverse(0.5),
                       float(info.get("score", np.nan)), info.get("verdict"), segment_base_score(calibration),
                       region)


# ------------------------------------------------------------------ metrics
def _temporal_files(records: list[TrackRecord], series: str, rule=None) -> list[dict]:
    """The dicts analysis.localization.temporal_report reads, for one series kind.

    ``series``: ``smoothed`` (what the segment rule thresholds), ``step`` (raw scores),
    ``window`` (audio windows). ``rule`` re-runs the segment rule with other parameters.
    """
    from deepfake_gui.engine.segments import RULES, series_segments, smooth_scores, step_intervals

    out = []
    for r in records:
        the_rule = rule or RULES[r.track]
        order = np.argsort(r.times, kind="stable")
        times, raw = r.times[order], r.scores[order]
        starts, ends = step_intervals(times, r.duration_s, r.kind)
        if series == "window" and r.windows is not None:
            starts, ends, scores = r.windows
        elif series == "smoothed":
            scores = smooth_scores(times, raw, the_rule.smooth_s)
        else:
            scores = raw
        predicted = r.predicted if rule is None else [
            (a, b) for a, b, _, _ in series_segments(times, raw, r.threshold_score, rule, r.duration_s, r.kind)]
        out.append({"true": r.true, "predicted": predicted, "duration_s": r.duration_s, "starts": starts,
                    "ends": ends, "scores": scores, "generator": r.generator, "group": r.item.group,
                    "file_score": r.file_score, "verdict": r.verdict})
    return out


def temporal_rows(records: list[TrackRecord], n_draws: int = 1000, rules: dict | None = None) -> list[dict]:
    """One row per (part, track, detector)."""
    from deepfake_gui.analysis.localization import temporal_report
    from deepfake_gui.engine.segments import RULES

    rows = []
    keys = sorted({(r.item.part, r.track, r.detector) for r in records})
    for part, track, name in keys:
        mine = [r for r in records if (r.item.part, r.track, r.detector) == (part, track, name)]
        frame_s = AUDIO_FRAME_S if track == "audio" else 1.0 / VIDEO_FPS
        rule = (rules or {}).get(track)
        row = {"part": part, "track": track, "detector": name, "lead": any(r.lead for r in mine),
               "rule": vars(rule or RULES[track]).copy(), "series": "smoothed"}
        row.update(temporal_report(_temporal_files(mine, "smoothed", rule), frame_s, n_draws))
        step = temporal_report(_temporal_files(mine, "step", rule), frame_s, 0)
        row["frame_auc_step"], row["frame_eer_step"] = step["frame_auc"], step["frame_eer"]
        row["per_generator_step"] = {g: v["frame_auc"] for g, v in step["per_generator"].items()}
        if any(r.windows is not None for r in mine):
            window = temporal_report(_temporal_files(mine, "window", rule), frame_s, 0)
            row["frame_auc_window"], row["frame_eer_window"] = window["frame_auc"], window["frame_eer"]
        step_s = [float(np.median(np.diff(np.sort(r.times)))) for r in mine if len(r.times) > 1]
        row["native_step_s"] = round(float(np.median(step_s)), 4) if step_s else None
        if not row["lead"]:  # scan lists the lead detector's segments only: none to measure here
            row.update(dict.fromkeys(SEGMENT_FIGURES))
            row["segments"] = "scan lists the segments of each track's lead detector only"
        rows.append(row)
    return rows


SEGMENT_FIGURES = ("segment_iou", "segment_iou_all", "true_segments_found", "partial_with_overlapping_segment",
                   "predicted_segments", "false_segments", "controls_with_segments",
                   "flagged_seconds_per_control_minute", "partial_with_segment")


def spatial_rows(records: list[ImageRecord], n_draws: int = 1000) -> list[dict]:
    from deepfake_gui.analysis.localization import file_report, spatial_report

    rows = []
    for part, name in sorted({(r.item.part, r.detector) for r in records}):
        mine = [r for r in records if (r.item.part, r.detector) == (part, name)]
        items = [{"heatmap": r.heatmap, "mask": r.mask, "generator": r.item.generator, "group": r.item.group}
                 for r in mine]
        thresholds = {"detector_threshold": mine[0].threshold_score, "probability_0.5": mine[0].probability_half_score}
        row = {"part": part, "detector": name, "lead": any(r.lead for r in mine)}
        row.update(spatial_report(items, thresholds, n_draws=n_draws))
        row.update(file_report([{"true": [(0.0, 1.0)] if r.mask.any() else [], "predicted": [],
                                 "file_score": r.file_score, "verdict": r.verdict} for r in mine]))
        row.pop("partial_with_segment", None)
        row["regions"] = region_rates(mine)
        rows.append(row)
    return rows


def region_rates(records: list[ImageRecord]) -> dict:
    """The segment target read on heatmaps: untouched images with any pixel at or above a threshold, and spliced
    images whose above-threshold pixels overlap the mask; at the heatmap's threshold (a heatmap head's own, else
    the detector's calibrated threshold, as the image view draws it), at the upper edge of its inconclusive band
    (where a timed track's segments start), and at the threshold (chosen on these images) that overlaps the most
    spliced regions with at most 20% of untouched images flagged: what a reader of the heatmap would see. With a
    heatmap head, also its region rule (``head_region_rule``): untouched images given a suspected region, spliced
    ones whose box overlaps the mask."""
    controls = [r for r in records if not r.mask.any()]
    spliced = [r for r in records if r.mask.any()]

    def rates(threshold: float) -> dict:
        return {"threshold": float(threshold),
                "controls_with_region": (float(np.mean([(r.heatmap >= threshold).any() for r in controls]))
                                         if controls else None),
                "partial_with_overlapping_region": (float(np.mean([((r.heatmap >= threshold) & r.mask).any()
                                                                   for r in spliced])) if spliced else None)}

    out = {}
    regions = [r for r in records if r.region is not None]
    if regions:  # the heatmap head's region rule, as scan reports it: a box, or none
        def found(r: ImageRecord) -> bool:
            return bool(r.region.get("found"))

        def overlaps(r: ImageRecord) -> bool:
            if not found(r):
                return False
            x0, y0, x1, y1 = r.region["box_xyxy"]
            return bool(r.mask[y0:y1, x0:x1].any())

        untouched = [found(r) for r in regions if not r.mask.any()]
        partial = [overlaps(r) for r in regions if r.mask.any()]
        out["head_region_rule"] = {"controls_with_region": float(np.mean(untouched)) if untouched else None,
                                   "partial_with_overlapping_region": float(np.mean(partial)) if partial else None,
                                   "rule": regions[0].region.get("rule")}
    base = records[0].segment_base_score
    for key, threshold in (("detector_threshold", records[0].threshold_score), ("band_upper_edge", base)):
        if threshold is not None:
            out[key] = rates(threshold)
    if controls and spliced:  # the most spliced regions any one threshold keeps with <= 20% of untouched flagged
        peaks = sorted({float(np.nanmax(r.heatmap)) for r in controls if np.isfinite(r.heatmap).any()} or {0.0})
        allowed = [t for t in peaks + [np.nextafter(peaks[-1], np.inf)] if rates(t)["controls_with_region"] <= 0.2]
        best = max((rates(t) for t in allowed), key=lambda x: (x["partial_with_overlapping_region"], -x["threshold"]))
        out["best_with_untouched_at_most_20%"] = {**best, "note": "threshold chosen on these images (optimistic)"}
    return out


def file_rows(files: list[dict]) -> dict:
    """Per part: how the fused file verdicts treat partial files and controls."""
    out = {}
    for part in sorted({f["part"] for f in files}):
        mine = [f for f in files if f["part"] == part and f["status"] == "ok"]
        partial = [f for f in mine if f["label"] != "real"]
        real = [f for f in mine if f["label"] == "real"]
        row = {"n_partial": len(partial), "n_real": len(real),
               "n_failed": sum(f["status"] != "ok" for f in files if f["part"] == part)}
        if partial:
            row["partial_called_fake"] = sum(f["verdict"] == "fake" for f in partial) / len(partial)
            row["partial_called_inconclusive"] = sum(f["verdict"] == "inconclusive" for f in partial) / len(partial)
            row["partial_called_real"] = sum(f["verdict"] == "real" for f in partial) / len(partial)
        if real:
            row["real_called_fake"] = sum(f["verdict"] == "fake" for f in real) / len(real)
            row["real_called_real"] = sum(f["verdict"] == "real" for f in real) / len(real)
        y = [f["label"] != "real" for f in mine if f["probability"] is not None]
        p = [f["probability"] for f in mine if f["probability"] is not None]
        if 0 < sum(y) < len(y):
            from deepfake_gui.analysis.localization import auc

            row["file_auc"] = auc(y, p)
        out[part] = row
    return out


def caveats(items: list[Item], detectors: list) -> list[str]:
    """What a reader of these figures must know."""
    out = ["a heatmap or a timeline shows where the detector responded, not proof of manipulation"]
    trained = {d.name: str((d.detector.meta.get("training") or {}).get("root", "")) for d in detectors}
    if any("shared/data" in root for root in trained.values()) and any("localization" in str(it.path)
                                                                      for it in items):
        out.append("the shipped detectors were trained on ../shared/data/audio and ../shared/data/image, which hold "
                   "the same speakers, sentences and photos as this localization set (its real controls and the "
                   "untouched parts of its partial files are training material): in-domain and partly in-sample")
    return out


def localization_job(data_dir: Path, detector_specs: list[str] | None = None, device: str = "auto",
                     cancel: CancelToken | None = None, frames_per_second: float = 2.0, n_draws: int = 1000,
                     ) -> Iterator[Progress | LocalizationReport]:
    """Yield Progress while scanning, then one LocalizationReport."""
    from deepfake_gui.engine.detectors import resolve_detectors
    from deepfake_gui.engine.scan import ScanOptions

    items = load_manifest(Path(data_dir))
    options = ScanOptions(device=device, detectors=list(detector_specs or []), frames_per_second=frames_per_second,
                          keep_arrays=True)
    yield Progress(0, len(items), "loading detectors")
    detectors = resolve_detectors(options.detectors, device, True)
    tracks, images, files = yield from collect(items, detectors, options, cancel)
    metrics = {
        "kind": "localization", "data": str(data_dir), "frames_per_second": frames_per_second,
        "audio_frame_s": AUDIO_FRAME_S, "video_frame_s": 1.0 / VIDEO_FPS,
        "temporal": temporal_rows(tracks, n_draws), "spatial": spatial_rows(images, n_draws),
        "files": file_rows(files), "baselines": BASELINES, "caveats": caveats(items, detectors),
        "failed": [{"path": f["path"], "error": f["error"]} for f in files if f["status"] != "ok"],
    }
    yield LocalizationReport(json_safe(metrics), str(data_dir))


def json_safe(obj):
    """Metrics with NaN/inf as None and numpy scalars as Python numbers, so strict JSON can hold them."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
