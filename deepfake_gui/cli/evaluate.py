"""`layerscope evaluate`: a detector on a labelled set; `--genuine`, `--launder` and `--localization` variants."""

from __future__ import annotations

import argparse
import json
import os
import sys

from deepfake_gui.cli.common import _na, _run_job


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`evaluate --detector ... --data ...`."""
    p = sub.add_parser("evaluate", help="measure a detector bundle on a labelled data set")
    p.add_argument("--detector", action="append", metavar="DIR",
                   help="detector bundle folder (with --localization: a bundle folder or name, repeatable, replacing "
                        "the shipped defaults of its modality)")
    p.add_argument("--data", required=True, help="folder with real/ and fake/<generator>/, or a manifest.csv")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--genuine", action="store_true",
                   help="--data is a manifest of genuine files with a kind column (scripts/make_ood_corpus.py): "
                        "scan them all with the defaults (or --detector) and report the share called fake per kind")
    p.add_argument("--localization", action="store_true",
                   help="measure where: frame-level AUC/EER, segment IoU, pixel AUC, pointing game, from a "
                        "localization manifest (e.g. ../shared/data/localization/audio)")
    p.add_argument("--fps", type=float, default=2.0, help="with --localization: video frames scored per second "
                                                          "(default 2, as scan)")
    p.add_argument("--draws", type=int, default=1000, help="with --localization: group-bootstrap draws for the "
                                                            "95%% intervals (0: none)")
    p.add_argument("--launder", action="store_true",
                   help="also score the data under each standard laundering condition (re-compression, rescale, "
                        "codecs, noise); laundered copies go to the app cache")
    p.add_argument("--conditions", metavar="A,B,...", help="with --launder: conditions to run (default: the "
                                                           "standard set of the detector's modality)")
    p.add_argument("--seed", type=int, default=0, help="with --launder: seed of the random conditions (default 0)")
    p.add_argument("--plot", metavar="PATH", help="with --launder: write the robustness plot (PNG) here (default: "
                                                  "robustness-<data folder>.png in the detector folder)")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from deepfake_gui.core.errors import LayerScopeError
    from deepfake_gui.engine.detectors import find_detector
    from deepfake_gui.engine.evaluate import evaluate_job

    if args.localization:
        return _evaluate_localization(args)
    if args.genuine:
        return _evaluate_genuine(args)
    if not args.detector or len(args.detector) != 1:
        raise LayerScopeError("evaluate needs exactly one --detector bundle folder (several are allowed only with "
                              "--localization)")
    if getattr(args, "launder", False):
        return _evaluate_launder(args)
    report = _run_job(evaluate_job(find_detector(args.detector[0]), Path(args.data), args.device), "evaluate")
    m = report.metrics
    if args.json:
        print(json.dumps(m, indent=2))
        return 0
    print(f"detector {report.detector} on {report.data}: {m['n_real']} real, {m['n_fake']} fake")
    print(f"AUC {m['auc']:.3f}  AP {m['ap']:.3f}  EER {m['eer']:.3f}  minDCF {m['min_dcf']:.3f} "
          f"(P_fake={m['min_dcf_params']['p_fake']}, C_miss={m['min_dcf_params']['c_miss']}, "
          f"C_fa={m['min_dcf_params']['c_fa']})")
    print(f"at threshold {m['threshold']:.3f}: accuracy {m['accuracy']:.3f}, F1 {m['f1']:.3f}; "
          f"inconclusive {m['inconclusive_rate']:.1%}")
    for gen, v in m["per_generator"].items():
        print(f"  real vs {gen:24s} AUC {v['auc']:.3f}  (n={v['n']})")
    if "attribution" in m:
        a = m["attribution"]
        print(f"attribution accuracy {a['accuracy']:.3f}; confusion (rows true, columns predicted):")
        cls = a["classes"]
        print(" " * 26 + " ".join(f"{c[:10]:>10}" for c in cls))
        for t, row in a["confusion"].items():
            print(f"  {t[:24]:24s}" + " ".join(f"{row.get(c, 0):>10}" for c in cls))
    for name, o in (m.get("one_class") or {}).items():
        target = "" if o["false_alarm_target"] is None else f", target false alarm {o['false_alarm_target']:.0%}"
        threshold = "none" if o["threshold"] is None else f"{o['threshold']:.4g}"
        auc = _na(o["auc"])
        print(f"{name} model ({o['method']} on {o['fitted_on']}): distance AUC {auc}; "
              f"threshold {threshold}{target}")
        if o.get("meaning"):
            print(f"  ({o['meaning']})")
        print(f"  {'':32s} {'AUC':>6}  {'flagged':>8}  {'n':>5}")
        if o["real_flagged"] is not None:
            print(f"  {'real (false alarms)':32s} {'':>6}  {o['real_flagged']:>8.1%}  {m['n_real']:>5}")
        for gen, v in o["per_generator"].items():
            gauc = _na(v["auc"])
            print(f"  real vs {gen[:24]:24s} {gauc:>6}  {v['flagged']:>8.1%}  {v['n']:>5}")
    for c in m["caveats"]:
        print(f"caveat: {c}")
    return 0


def _evaluate_genuine(args: argparse.Namespace) -> int:
    """False accusations per kind of genuine file, through the full scan (content checks and gate included)."""
    from pathlib import Path

    from deepfake_gui.engine.false_accusation import false_accusation_job
    from deepfake_gui.engine.scan import ScanOptions

    options = ScanOptions(device=args.device, detectors=list(args.detector or []), keep_arrays=False,
                          provenance=False)
    report = _run_job(false_accusation_job(Path(args.data), options), "evaluate --genuine").to_dict()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"genuine files in {report['data']}: share called fake (false accusations) per kind")
    print(f"{'kind':16s} {'n':>4} {'fake':>5} {'incon.':>6} {'real':>5} {'err':>4} {'false acc.':>10} "
          f"{'coverage':>9}  reasons")
    for kind, row in [*report["per_kind"].items(), ("total", report["total"])]:
        reasons = ", ".join(f"{k} {v}" for k, v in row.get("reasons", {}).items())
        print(f"{kind:16s} {row['n']:>4} {row['called_fake']:>5} {row['inconclusive']:>6} {row['called_real']:>5} "
              f"{row['errors']:>4} {row['false_accusation_rate']:>10.1%} {row['coverage']:>9.1%}  {reasons}")
    if report["total"]["without_reason"]:
        print(f"{report['total']['without_reason']} file(s) were not called real and give no reason", file=sys.stderr)
    return 0


def _evaluate_launder(args: argparse.Namespace) -> int:
    """`evaluate --launder`: AUC / EER clean and under each laundering condition (engine/robustness.py)."""
    from pathlib import Path

    from deepfake_gui.engine.detectors import find_detector
    from deepfake_gui.engine.robustness import format_table, robustness_job

    names = [n for n in (args.conditions or "").split(",") if n.strip()] or None
    detector = find_detector(args.detector[0])
    data = Path(args.data)
    data_name = (data.parent if data.is_file() else data).name
    plot = Path(args.plot) if args.plot else detector / f"robustness-{data_name}.png"
    if not args.plot and not os.access(detector, os.W_OK):
        plot = None
        print(f"note: {detector} is not writable, so no robustness plot is written (use --plot PATH)", file=sys.stderr)
    job = robustness_job(detector, data, names, seed=args.seed, device=args.device, plot=plot)
    report = _run_job(job, "evaluate --launder")
    if args.json:
        print(json.dumps(report.results, indent=2))
    else:
        print(format_table(report))
    return 0


def _evaluate_localization(args: argparse.Namespace) -> int:
    """`evaluate --localization`: where, not only whether (engine/evaluate_localization.py)."""
    from pathlib import Path

    from deepfake_gui.engine.evaluate_localization import localization_job

    job = localization_job(Path(args.data), args.detector or [], args.device, frames_per_second=args.fps,
                           n_draws=args.draws)
    m = _run_job(job, "evaluate --localization").metrics
    if args.json:
        print(json.dumps(m, indent=2, allow_nan=False, default=float))
        return 0
    print(f"localization on {m['data']} (audio frames {m['audio_frame_s'] * 1000:g} ms, video frames "
          f"{m['video_frame_s'] * 1000:g} ms; video pictures scored at {m['frames_per_second']:g} fps)")
    for r in m["temporal"]:
        lead = " (lead)" if r["lead"] else ""
        ci = r.get("frame_auc_ci95") or [None, None]
        print(f"\n{r['part']}/{r['track']}  {r['detector']}{lead}: {r['n_partial']} partial, {r['n_control']} "
              f"untouched")
        print(f"  frame AUC {_na(r['frame_auc'])} (95% CI {_na(ci[0])}-{_na(ci[1])}), EER {_na(r['frame_eer'])} "
              f"[smoothed {r['rule']['smooth_s']:g} s]; raw steps {_na(r['frame_auc_step'])} "
              f"(every {_na(r['native_step_s'], 'g')} s)"
              + (f"; 2 s windows {_na(r['frame_auc_window'])}" if r.get("frame_auc_window") is not None else ""))
        print(f"  segment IoU {_na(r['segment_iou'])} (flag-everything {_na(r['segment_iou_flag_everything'])}); "
              f"true segments found {_na(r['true_segments_found'], '.0%')}; untouched files with a segment "
              f"{_na(r['controls_with_segments'], '.0%')}")
        print(f"  file AUC {_na(r.get('file_auc'))}; partial files called fake "
              f"{_na(r.get('partial_detected_fake'), '.0%')}, fake or inconclusive "
              f"{_na(r.get('partial_fake_or_inconclusive'), '.0%')}")
        for gen, v in r["per_generator"].items():
            print(f"    {gen:28s} frame AUC {_na(v['frame_auc'])}  segment IoU {_na(v['segment_iou'])}  (n={v['n']})")
    for r in m["spatial"]:
        lead = " (lead)" if r["lead"] else ""
        fixed = r["iou_fixed"]["detector_threshold"]
        ci = r.get("pixel_auc_ci95") or [None, None]
        print(f"\n{r['part']}/heatmap  {r['detector']}{lead}: {r['n_spliced']} spliced, {r['n_controls']} untouched")
        print(f"  pixel AUC {_na(r.get('pixel_auc'))} (95% CI {_na(ci[0])}-{_na(ci[1])}); pointing game "
              f"{_na(r.get('pointing_game'))} (mask dilated {r['tolerance_px']} px)")
        print(f"  IoU at the best threshold {_na(r['iou_best_threshold']['iou'])} (chosen on this set), at the "
              f"heatmap's threshold {_na(fixed['iou'])}; flag-everything {_na(r.get('iou_flag_everything'))}")
        print(f"  file AUC {_na(r.get('file_auc'))}; spliced images called fake "
              f"{_na(r.get('partial_detected_fake'), '.0%')}")
        rule = (r.get("regions") or {}).get("head_region_rule")
        if rule:  # the detector's heatmap head: a suspected region, as scan reports it
            print(f"  suspected regions: untouched images with one {_na(rule['controls_with_region'], '.0%')}, "
                  f"spliced images with one overlapping the mask {_na(rule['partial_with_overlapping_region'], '.0%')}"
                  f" ({rule['rule']})")
        for gen, v in r["per_generator"].items():
            print(f"    {gen:28s} pixel AUC {_na(v['pixel_auc'])}  pointing {_na(v['pointing_game'])}  (n={v['n']})")
    for part, f in m["files"].items():
        print(f"\n{part} files (all detectors fused): partial called fake {_na(f.get('partial_called_fake'), '.0%')}, "
              f"inconclusive {_na(f.get('partial_called_inconclusive'), '.0%')}; untouched called fake "
              f"{_na(f.get('real_called_fake'), '.0%')}")
    for c in m["caveats"]:
        print(f"caveat: {c}")
    return 0
