"""`layerscope` command line: a thin front end over the engine's jobs.

Nothing heavy is imported at module import time (no torch, no Qt), so
`layerscope --help` answers instantly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from deepfake_gui import __version__
from deepfake_gui.core.present import fmt_number

SUBCOMMANDS = ("scan", "train", "evaluate", "models", "cache", "bench", "gui", "cases", "report", "adapt")
_USER_HF_OFFLINE = os.environ.get("HF_HUB_OFFLINE")  # what the user set, before our default


def _na(value: object, spec: str = ".3f") -> str:
    """A figure as the CLI prints it: "n/a" when there is none (core.present.fmt_number)."""
    return fmt_number(value, spec, missing="n/a")


def _emit(obj, out) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, allow_nan=False, default=str) + "\n")
    out.flush()


class _ProgressBar:
    """tqdm on stderr, silent when stderr is not a terminal (pipes, CI)."""

    def __init__(self, desc: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(desc=desc, unit="file", file=sys.stderr, disable=None, leave=False)

    def update(self, done: int, total: int | None, message: str) -> None:
        if total is not None and self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        self.bar.set_postfix_str(message[:40], refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


# ------------------------------------------------------------------ commands
def cmd_scan(args: argparse.Namespace) -> int:
    """Exit 0: every file has a result; 1: some are errors or partial; 2: usage errors (docs/reliability.md)."""
    from deepfake_gui.core.errors import LayerScopeError, UsageError
    from deepfake_gui.core.jobs import Progress
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.scan import ScanOptions, scan_job

    missing = [p for p in args.paths if not os.path.lexists(p)]  # before any model loads or --out is truncated
    if missing:
        raise UsageError("no such file or folder: " + ", ".join(_printable(p) for p in missing)
                         + " (nothing was scanned)")
    try:
        options = ScanOptions(
            device=args.device, detectors=args.detector or [], window_s=args.window, hop_s=args.hop,
            audio_aggregation=args.aggregation or "logsumexp", image_aggregation=args.aggregation or "logsumexp",
            frame_aggregation=args.aggregation or "logsumexp", max_tiles=args.max_tiles,
            frames_per_second=args.fps, faces=args.faces, fusion_rule=args.fusion_rule,
            batch_size=getattr(args, "batch_size", None),
            keep_arrays=bool(getattr(args, "case", None)),  # a case stores the arrays its views need
            decode_timeout_s=args.decode_timeout or None,
            memory_budget_bytes=_budget_bytes(args.memory_budget),
        )
    except LayerScopeError as exc:
        raise UsageError(str(exc)) from None
    counts = {"ok": 0, "partial": 0, "error": 0}
    events = _case_events(args, _scan_events(args, options, scan_job))  # a bad case name fails here
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    with _native_stderr_to_log() as log:
        bar = _ProgressBar("scan")
        try:
            for event in events:
                if isinstance(event, Progress):
                    bar.update(event.done, event.total, event.message)
                elif isinstance(event, ScanResult):
                    event = _emit_result(event, out)
                    counts[event.status if event.status in counts else "error"] += 1
        finally:
            bar.close()
            if out is not sys.stdout:
                out.close()
        print(f"scanned {sum(counts.values())} files: {counts['ok']} ok, {counts['partial']} partial, "
              f"{counts['error']} with errors", file=sys.stderr)
    if log.get("lines"):
        print(f"{log['lines']} lines of decoder messages (libtiff, FFmpeg) are in {log['path']}", file=sys.stderr)
    return 0 if counts["ok"] == sum(counts.values()) else 1


def _budget_bytes(gigabytes: float) -> int | None:
    """--memory-budget GB as bytes; 0 = no budget. A negative or not-a-number budget is a usage error."""
    import math

    from deepfake_gui.core.errors import UsageError

    if not math.isfinite(gigabytes) or gigabytes < 0:
        raise UsageError(f"--memory-budget must be a number of GB, at least 0 (0 = no budget), not {gigabytes}")
    return int(gigabytes * (1 << 30)) or None


@contextmanager
def _native_stderr_to_log() -> Iterator[dict]:
    """Native decoders (libtiff, FFmpeg) print warnings straight to file descriptor 2; send them to a log file.

    On a folder of odd files they flooded the terminal between the progress bar
    and the summary. Python's own stderr (progress, summary, tracebacks) keeps
    the terminal. Only when stderr is the process's fd 2 (not under a test capture).
    """
    import tempfile

    info: dict = {}
    try:
        real = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        real = False
    if not real:
        yield info
        return
    sys.stderr.flush()
    log = tempfile.NamedTemporaryFile(prefix="layerscope-decoders-", suffix=".log", delete=False)  # noqa: SIM115
    saved = os.dup(2)
    python_stderr = sys.stderr
    sys.stderr = open(os.dup(saved), "w", encoding=python_stderr.encoding or "utf-8",  # noqa: SIM115
                      errors="backslashreplace", buffering=1)
    os.dup2(log.fileno(), 2)
    try:
        yield info
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        sys.stderr.close()
        sys.stderr = python_stderr
        log.close()
        with open(log.name, "rb") as fh:
            lines = fh.read().count(b"\n")
        if lines:
            info.update(lines=lines, path=log.name)
        else:
            os.unlink(log.name)


def _emit_result(result, out):
    """Write one result line; a result that is not valid JSON (NaN, infinity) becomes its file's error line."""
    try:
        _emit(result.to_json_dict(), out)
        return result
    except ValueError as exc:
        from deepfake_gui.core.results import ScanResult

        failed = ScanResult(path=result.path, status="error", sha256=result.sha256, modality=result.modality,
                            media=result.media, integrity=result.integrity,
                            error=f"{result.path}: unexpected ValueError: its result could not be written as "
                                  f"JSON ({exc})")
        _emit(failed.to_json_dict(), out)
        return failed


def _printable(path: str) -> str:
    """A path as valid UTF-8 text for messages (undecodable bytes shown as U+FFFD)."""
    from deepfake_gui.core.results import clean_text

    return clean_text(str(path))


def _scan_events(args: argparse.Namespace, options, scan_job):
    """The local scan job, or the same job spread over Ray (--cluster)."""
    if not getattr(args, "cluster", None):
        return scan_job(args.paths, options)
    from deepfake_gui.cluster.ray_scan import parse_cluster, ray_scan_job

    return ray_scan_job(args.paths, options, cluster=parse_cluster(args.cluster))


def _case_events(args: argparse.Namespace, events):
    """--case NAME: each result is stored in the case (one transaction) before it is printed."""
    if not getattr(args, "case", None):
        return events
    from deepfake_gui.cases import record_into_case, validate_case_name
    from deepfake_gui.core.errors import LayerScopeError, UsageError

    try:
        name = validate_case_name(args.case)  # a bad name fails before the first file
    except LayerScopeError as exc:
        raise UsageError(str(exc)) from None
    return record_into_case(events, name)


def _run_job(job, desc: str):
    """Drive an engine job: progress to stderr, return its final result object."""
    from deepfake_gui.core.jobs import Progress

    bar = _ProgressBar(desc)
    result = None
    try:
        for event in job:
            if isinstance(event, Progress):
                bar.update(event.done, event.total, event.message)
            else:
                result = event
    finally:
        bar.close()
    return result


def cmd_bench(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from deepfake_gui.engine.bench import BenchOptions, bench_job, format_report

    options = BenchOptions(device=args.device, work_dir=Path(args.work) if args.work else None)
    if args.quick:
        options = BenchOptions(device=args.device, images=8, audio_files=2, audio_seconds=5.0, video_seconds=10.0,
                               scales=(1, 4), work_dir=options.work_dir)
    if args.video_seconds:
        options.video_seconds = args.video_seconds
    report = _run_job(bench_job(options), "bench")
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def _int_list(text: str, option: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"layerscope: {option} takes comma-separated integers, got {text!r}") from None


def _robustness_lines(table: dict) -> list[str]:
    seen = set(table.get("in_augmentation") or [])
    lines = [f"robustness ({table['method']}; augmentation: {table['augment']}):"]
    for name, row in table["conditions"].items():
        auc, eer = _na(row["auc"]), _na(row["eer"])
        mark = "  (in the augmentation pool)" if name in seen else ""
        lines.append(f"  {name:16s} AUC {auc:>6}  EER {eer:>6}  n={row['n']}{mark}")
    return lines


def _protocol_lines(m: dict, meta: dict) -> list[str]:
    """The held-out figures of a freshly trained detector: what users will see on new generators and sources."""
    out: list[str] = []
    for key, title in (("logo", "leave-one-generator-out"), ("loso", "leave-one-source-out")):
        table = m.get(key) or {}
        if not table.get("held_out"):
            continue
        out.append(f"{title}: mean AUC {table['mean_auc']:.3f}, worst {table['min_auc']:.3f}")
        for name, row in table["held_out"].items():
            ci = row.get("ci95")
            ci_text = f" (95% CI {ci[0]:.3f}-{ci[1]:.3f})" if ci else ""
            auc = _na(row["auc"])
            out.append(f"  {name:32s} AUC {auc}{ci_text}  real {row['n_real']}, fake {row['n_fake']}")
    sel = meta.get("selective")
    if sel:
        out.append(f"held-out calibration: coverage {sel['coverage']:.1%}, accuracy on committed files "
                   f"{sel['accuracy_committed']:.1%}, real files called fake {sel['false_accusation']:.1%} "
                   f"(band {meta['inconclusive_band'][0]:.3f}-{meta['inconclusive_band'][1]:.3f})")
    audit = m.get("shortcut_audit")
    if audit:
        out.append(f"shortcut audit: {audit['verdict']}")
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from deepfake_gui.engine.train import TrainOptions, train_job

    layers = _int_list(args.layers, "--layers") if args.layers else None
    robustness: bool | list[str] = False
    if args.robustness is not None:
        robustness = [c for c in args.robustness.split(",") if c.strip()] or True
    data = [Path(d) for d in args.data]
    opts = TrainOptions(data=data if len(data) > 1 else data[0], encoder=args.encoder, out=Path(args.out),
                        sweep=args.layer is None and layers is None, layer=args.layer, layers=layers,
                        top_k=args.top_k, classifier=args.classifier, folds=args.folds, device=args.device,
                        name=args.name, domain_note=args.domain_note, augment=args.augment,
                        augment_copies=args.augment_copies, robustness=robustness, seed=args.seed,
                        select_by=args.select_by, protocols=not args.no_protocols,
                        shortcut_audit=not args.no_shortcut_audit, image_tiles=args.image_tiles, C=args.C)
    if args.encoder == "fusion":
        from deepfake_gui.engine.train_fusion import train_fusion_job

        clip_name, resnet_name = args.fusion_encoders.split(",")
        report = _run_job(train_fusion_job(opts, clip_name, resnet_name), "train fusion")
        m = report.meta["metrics"]
        summary = {"detector": str(report.bundle_path), "encoder": "fusion", "encoders": [clip_name, resnet_name],
                   "cv": {k: m[k] for k in ("cv_auc", "cv_auc_ci95", "cv_eer", "cv_min_dcf")},
                   "per_generator": m["per_generator"], "per_fold": m["per_fold"], "timings_s": report.timings,
                   "failed_files": report.failed}
        print(json.dumps(summary, indent=2) if args.json else
              f"fusion detector: out-of-fold AUC {m['cv_auc']:.3f}, EER {m['cv_eer']:.3f}; saved {report.bundle_path}")
        return 0
    report = _run_job(train_job(opts), "train")
    chosen_names = [report.meta["layer_names"][i] for i in range(len(report.chosen))]
    m = report.meta["metrics"]
    if args.json:
        print(json.dumps({
            "detector": str(report.bundle_path),
            "encoder": args.encoder,
            "layers": [{"layer": r["layer"], "name": r["name"], "auc": r["auc"], "auc_std": r["auc_std"],
                        "eer": r["eer"], "eer_std": r["eer_std"], "accuracy": r["accuracy"],
                        "accuracy_std": r["accuracy_std"], "logo_mean_auc": r.get("logo_mean_auc")}
                       for r in report.layers],
            "headline": m.get("headline"),
            "logo": m.get("logo"),
            "loso": m.get("loso"),
            "selective": report.meta.get("selective"),
            "shortcut_audit": m.get("shortcut_audit"),
            "chosen_layer": report.chosen[0] if len(report.chosen) == 1 else report.chosen,
            "chosen_layer_names": chosen_names,
            "cv": {k: m[k] for k in ("cv_auc", "cv_auc_ci95", "cv_eer", "cv_min_dcf")},
            "per_generator": m["per_generator"],
            "learning_curve": m["learning_curve"],
            "attribution_cv": report.meta.get("attribution_cv"),
            "one_class": m.get("one_class"),
            "clustering": m.get("clustering"),
            "timings_s": report.timings,
            "failed_files": report.failed,
            "augmentation": report.meta.get("augmentation"),
            "robustness": report.robustness,
        }, indent=2))
        return 0
    by_logo = any(r.get("logo_mean_auc") is not None for r in report.layers)
    print(f"{'layer':>5}  {'name':12s} {'dim':>5}  {'AUC':>15}  {'EER':>15}  {'accuracy':>15}"
          + ("  LOGO AUC" if by_logo else ""))
    for r in report.layers:
        mark = " <- chosen" if r["layer"] in report.chosen else ""
        logo = f"  {r['logo_mean_auc']:.3f}   " if r.get("logo_mean_auc") is not None else ""
        print(f"{r['layer']:>5}  {r['name']:12s} {r['dim']:>5}  {r['auc']:.3f} ± {r['auc_std']:.3f}    "
              f"{r['eer']:.3f} ± {r['eer_std']:.3f}    {r['accuracy']:.3f} ± {r['accuracy_std']:.3f}{logo}{mark}")
    if by_logo:
        print("layers chosen by leave-one-generator-out mean AUC (LOGO), not by in-domain CV")
    print("\n".join(_protocol_lines(m, report.meta)))
    lo, hi = m["cv_auc_ci95"]
    print(f"\nchosen: {', '.join(chosen_names)}; out-of-fold AUC {m['cv_auc']:.3f} (95% CI by group {lo:.3f}-{hi:.3f}),"
          f" EER {m['cv_eer']:.3f}, minDCF {m['cv_min_dcf']:.3f}")
    for gen, v in m["per_generator"].items():
        print(f"  real vs {gen:24s} AUC {v['auc']:.3f}  (n={v['n']})")
    oc = m.get("one_class") or {}
    if oc:
        print(f"one-class (real only, Mahalanobis): AUC {oc['auc']:.3f}; per generator: "
              + ", ".join(f"{g} {v['auc']:.3f}" for g, v in oc["per_generator"].items()))
    cl = m.get("clustering")
    if cl:
        print(f"clusters of the fakes: k={cl['k']} (silhouette {cl['silhouette']:.2f}), purity {cl['purity']:.3f} "
              f"against {cl['n_generators']} generators, ARI {cl['adjusted_rand']:.3f}")
    if report.meta.get("attribution_cv"):
        print(f"attribution (real + each generator), cross-validated accuracy "
              f"{report.meta['attribution_cv']['accuracy']:.3f}")
    print("learning curve: " + ", ".join(f"{c['fraction']:.0%}: {c['auc']:.3f}" for c in m["learning_curve"]))
    aug = report.meta.get("augmentation")
    if aug:
        print(f"augmentation {aug['policy']}: {aug['n_copies']} laundered copies ("
              + ", ".join(f"{k} {v}" for k, v in aug["per_condition"].items()) + ")")
    if report.robustness:
        print("\n".join(_robustness_lines(report.robustness)))
    t = report.timings
    print(f"timings: features {t['features_s']:.1f} s, sweep {t['sweep_s']:.1f} s, final fit {t['final_fit_s']:.1f} s")
    if report.failed:
        print(f"{len(report.failed)} file(s) could not be used, e.g. {report.failed[0]}", file=sys.stderr)
    print(f"saved {report.bundle_path}")
    return 0


def cmd_adapt(args: argparse.Namespace) -> int:
    """Adapt a detector with known-genuine files of one person / device / channel (engine/adapt.py)."""
    from pathlib import Path

    from deepfake_gui.engine.adapt import AdaptOptions, adapt_job, report_dict
    from deepfake_gui.engine.detectors import find_detector

    opts = AdaptOptions(detector=find_detector(args.detector), real=[Path(p) for p in args.real], out=Path(args.out),
                        weight=args.weight, reference_name=args.reference_name, name=args.name,
                        training=Path(args.training) if args.training else None, drop_flagged=args.drop_flagged,
                        exclude=[Path(p) for p in args.exclude or []], suspects=[Path(p) for p in args.suspect or []],
                        device=args.device)
    summary = report_dict(_run_job(adapt_job(opts), "adapt"))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    check, figures = summary["check"], summary["figures"]
    for item in check["flagged"]:
        print(f"flagged reference (base detector says fake, p={item['probability']:.2f}): {item['path']}")
    for path in check["overlapping_suspects"]:
        print(f"suspect is also a reference: {path}")
    refs = summary["reference_set"]
    print(f"adapted {summary['base']['name']} with {refs['n_files']} references ({refs['name']}), weight "
          f"{summary['weight']:g}; saved {summary['detector']}")
    print(f"references called fake: {figures['reference_false_alarm_before']:.1%} before, "
          f"{figures['reference_false_alarm_after']:.1%} after (held out); training AUC after "
          f"{figures['training_cv_auc_after']:.3f}")
    for warning in summary["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
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
              f"detector's threshold {_na(fixed['iou'])}; flag-everything {_na(r.get('iou_flag_everything'))}")
        print(f"  file AUC {_na(r.get('file_auc'))}; spliced images called fake "
              f"{_na(r.get('partial_detected_fake'), '.0%')}")
        for gen, v in r["per_generator"].items():
            print(f"    {gen:28s} pixel AUC {_na(v['pixel_auc'])}  pointing {_na(v['pointing_game'])}  (n={v['n']})")
    for part, f in m["files"].items():
        print(f"\n{part} files (all detectors fused): partial called fake {_na(f.get('partial_called_fake'), '.0%')}, "
              f"inconclusive {_na(f.get('partial_called_inconclusive'), '.0%')}; untouched called fake "
              f"{_na(f.get('real_called_fake'), '.0%')}")
    for c in m["caveats"]:
        print(f"caveat: {c}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from deepfake_gui.encoders.registry import get_spec, list_encoders
    from deepfake_gui.encoders.weights import fetch_weights, locate_weights

    if args.models_command in (None, "list"):
        rows = []
        for name in list_encoders(include_test=args.all):
            spec = get_spec(name)
            status = locate_weights(spec, verify=False)
            rows.append({
                "name": name, "modality": spec.modality, "family": spec.family, "layers": spec.num_layers,
                "size_mb": round((spec.size_bytes or 0) / 1e6, 1), "status": status.status,
                "licence": spec.licence, "source": status.source if status.path else spec.install_hint,
                "path": str(status.path) if status.path else None,
            })
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            _print_table(rows, ["name", "modality", "family", "layers", "size_mb", "status", "licence"])
            missing = [r["name"] for r in rows if r["status"] == "missing"]
            if missing:
                print(f"\nmissing weights: fetch with `layerscope models fetch NAME` "
                      f"(needs a network) or copy them into {_models_dir()}/NAME/", file=sys.stderr)
        return 0
    if args.models_command == "fetch":
        status = fetch_weights(get_spec(args.name), user_env_offline=_USER_HF_OFFLINE == "1")
        print(f"{args.name}: {status.status} ({status.path or status.source})")
        return 0 if status.status == "present" else 1
    if args.models_command == "verify":
        bad = 0
        names = args.names or list_encoders(include_test=False)
        for name in names:
            spec = get_spec(name)
            status = locate_weights(spec, verify=True)
            expected = next((w.sha256 for w in spec.weights if w.sha256), None)
            verdict = status.status
            if status.status == "present" and not expected:
                verdict = "present (no published checksum; sha256 recorded)"
            print(f"{name:20s} {verdict:14s} {status.sha256 or ''} {status.detail}")
            bad += status.status == "checksum-mismatch"
        return 1 if bad else 0
    raise AssertionError(args.models_command)


def cmd_cache(args: argparse.Namespace) -> int:
    from deepfake_gui.encoders.cache import FeatureCache

    cache = FeatureCache()
    if args.cache_command == "clear":
        print(f"removed {cache.clear()} cached feature entries from {cache.root}")
        return 0
    stats = cache.stats()
    if args.json:
        print(json.dumps(stats))
    else:
        print(f"feature cache {stats['path']}: {stats['entries']} entries, {stats['bytes'] / 1e6:.1f} MB")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from deepfake_gui.report import report_command

    bar = _ProgressBar("report")
    found: list[str] = []  # where moved files were found, said after the progress bar
    try:
        out = report_command(args.out, case=args.case, results=args.results, files=args.files or [],
                             rescan_files=args.rescan, device=args.device, progress=bar.update,
                             look_in=args.look_in or [], tell=found.append)
    finally:
        bar.close()
        for line in found:
            print(line, file=sys.stderr)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    from deepfake_gui.gui.app import run_app

    return run_app(list(getattr(args, "paths", []) or []))


def _models_dir() -> str:
    from deepfake_gui.core.config import models_dir

    return str(models_dir())


def _print_table(rows: list[dict], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) if rows else len(c) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in columns))


# -------------------------------------------------------------------- parser
def _batch_size_arg(text: str) -> int | None:
    """--batch-size: a positive whole number, or "auto" (None: scan chooses, see engine.scan.scan_batch_size)."""
    if text.strip().lower() == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, or auto, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerscope",
        description="Tell whether an image, video or sound file was made by a generative model, and show "
        "why and where. With no command (or with file paths), opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"layerscope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("scan", help="scan files and folders; one JSON object per file on stdout")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--out", metavar="FILE", help="write JSON lines here instead of stdout")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--detector", action="append", metavar="NAME|DIR",
                   help="a detector bundle folder or name (repeatable); replaces the defaults of its modality")
    p.add_argument("--window", type=float, default=2.0, metavar="S", help="audio window length (default 2 s)")
    p.add_argument("--hop", type=float, default=0.5, metavar="S", help="audio window hop (default 0.5 s)")
    p.add_argument("--aggregation", choices=["mean", "logsumexp", "max"],
                   help="windows/tiles/frames -> file score (default logsumexp; see the README)")
    p.add_argument("--fps", type=float, default=2.0, help="video frames scored per second (default 2)")
    p.add_argument("--faces", action="store_true", help="score face crops of video frames instead of whole frames")
    p.add_argument("--max-tiles", type=int, default=64, help="native-resolution tiles per image (default 64)")
    p.add_argument("--batch-size", type=_batch_size_arg, default=None, metavar="N|auto",
                   help="image tiles / video frames per encoder call (default auto: 16 on the CPU, "
                   "from free memory on a GPU)")
    p.add_argument("--fusion-rule", choices=["max", "mean"], default="max",
                   help="how a video's frame and audio scores make one (default max: either track fake)")
    p.add_argument("--cluster", metavar="ray[=ADDRESS]",
                   help="scan on Ray: a local instance (ray) or an existing cluster (ray=ADDRESS); needs [cluster]")
    p.add_argument("--decode-timeout", type=float, default=120.0, metavar="S",
                   help="decode every file (probe, pictures, frames, audio, metadata) in worker processes limited "
                   "to 4 GB; a decoder that crashes, passes 4 GB or gives no answer within S seconds (default 120) "
                   "costs that file an error line and the scan goes on; 0 decodes in the scan's own process")
    p.add_argument("--memory-budget", type=float, default=2.0, metavar="GB",
                   help="no file may take the scan's process more than GB above its size with the detectors "
                   "loaded (default 2); beyond it the file gets an error line and the scan goes on; 0 = no budget")
    p.add_argument("--case", metavar="NAME", help="also store every result in this case (created if new; see "
                   "`layerscope cases`); a rescanned file gets a new version")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("train", help="sweep encoder layers with grouped CV and save a detector bundle")
    p.add_argument("--data", required=True, action="append",
                   help="folder with real/ and fake/<generator>/, or a manifest.csv; repeat to train on several "
                        "data sets together (groups stay apart, each set's sources are held out in turn)")
    p.add_argument("--encoder", required=True,
                   help="encoder name (see `layerscope models list`), or `fusion` for the CLIP + prompt + ResNet MLP")
    p.add_argument("--select-by", choices=["auto", "logo", "cv"], default="auto",
                   help="choose layers by leave-one-generator-out mean AUC (logo; auto = when there are at least "
                        "two generators) or by grouped-CV AUC (cv)")
    p.add_argument("--image-tiles", type=int, default=9, metavar="N",
                   help="images: average the features of up to N native-resolution tiles, as scan sees a picture "
                        "(default 9; 0 = resize the whole picture)")
    p.add_argument("--no-protocols", action="store_true",
                   help="skip the leave-one-generator-out / leave-one-source-out tables and held-out calibration")
    p.add_argument("--no-shortcut-audit", action="store_true",
                   help="skip the classic model on duration, loudness, size and colour statistics")
    p.add_argument("--fusion-encoders", default="clip-vit-b-32,resnet-101", metavar="CLIP,RESNET",
                   help="the two encoders of --encoder fusion (default: clip-vit-b-32,resnet-101)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--sweep", action="store_true", help="probe every layer and keep the best (default)")
    mode.add_argument("--layer", type=int, help="probe only this layer index")
    mode.add_argument("--layers", metavar="I,J,...", help="probe exactly these layer indices together (no sweep)")
    p.add_argument("--top-k", type=int, default=1, help="concatenate the k best layers (default 1)")
    p.add_argument("--classifier", choices=["logreg", "svm"], default="logreg")
    p.add_argument("--C", type=float, default=1.0,
                   help="inverse regularisation strength of the probe (default 1; smaller = simpler, which can carry "
                        "better to unseen generators: compare the leave-one-generator-out figures)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--out", required=True, help="detector bundle folder to write")
    p.add_argument("--name", help="detector name (default: encoder and layer)")
    p.add_argument("--domain-note", metavar="TEXT",
                   help="the training data in words (e.g. '8 kHz telephone read speech; TTS fakes'); every scan "
                        "result with this detector repeats it")
    p.add_argument("--augment", choices=["none", "social", "codec"], default="none",
                   help="train also on laundered copies of the training items: social (images: social-network "
                        "chain, JPEG, rescale, WebP; audio: low bit-rate codecs and phone band) or codec "
                        "(re-compression only); copies stay in their original's group and are cached")
    p.add_argument("--augment-copies", type=int, default=1, metavar="N", help="laundered copies per item (default 1)")
    p.add_argument("--robustness", nargs="?", const="", default=None, metavar="A,B,...",
                   help="also measure grouped-CV AUC/EER under laundering conditions (default: the modality's "
                        "standard set) into the model card and robustness.png")
    p.add_argument("--seed", type=int, default=0, help="seed of the folds and the laundering draws (default 0)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=cmd_train)

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
    p = sub.add_parser("adapt", help="adapt a detector with known-genuine files of a person, device or channel")
    p.add_argument("--detector", required=True, metavar="DIR", help="the base detector bundle folder")
    p.add_argument("--real", required=True, nargs="+", metavar="PATH",
                   help="genuine files or folders of the person / device / channel (at least 10 files; audio: 60 s); "
                        "a folder's manifest.csv with columns path,group (path relative to the folder) sets the "
                        "held-out calibration groups, e.g. all tiles of one photo in one group")
    p.add_argument("--weight", type=float, default=5.0, help="sample weight of each reference (default 5)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the adapted bundle")
    p.add_argument("--reference-name", help='the reference set in words, e.g. "Speaker: Jane Doe, phone line"')
    p.add_argument("--name", help="the adapted detector's name (default: base name + reference set)")
    p.add_argument("--training", metavar="PATH", help="the base's training data, if not at its training.root")
    p.add_argument("--drop-flagged", action="store_true", help="leave out references the base detector calls fake")
    p.add_argument("--exclude", nargs="+", metavar="FILE", help="references to leave out")
    p.add_argument("--suspect", nargs="+", metavar="PATH", help="files under investigation: flagged when they are "
                                                                "also references (sha256)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_adapt)
    p = sub.add_parser("bench", help="throughput benchmark on generated media (a measurement, takes minutes)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--quick", action="store_true", help="fewer and shorter inputs (a smoke run, noisier figures)")
    p.add_argument("--video-seconds", type=float, default=None,
                   help="length of the generated video (default 60; 3600 measures the 1-hour target directly)")
    p.add_argument("--work", default=None, help="folder for the generated media (default: the cache folder)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("models", help="list, fetch and verify encoder weights")
    p.set_defaults(func=cmd_models, models_command=None, json=False, all=False)
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    q = msub.add_parser("list", help="every encoder with its weights status")
    q.add_argument("--json", action="store_true", help="print a JSON array")
    q.add_argument("--all", action="store_true", help="include the tiny random-init test encoders")
    q = msub.add_parser("fetch", help="download an encoder's weights (needs a network)")
    q.add_argument("name")
    q = msub.add_parser("verify", help="check weights against their sha256")
    q.add_argument("names", nargs="*")

    p = sub.add_parser("cache", help="show or clear the feature cache")
    p.add_argument("cache_command", nargs="?", choices=["info", "clear"], default="info")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_cache)

    from deepfake_gui.cases.cli import add_cases_parser

    add_cases_parser(sub)

    p = sub.add_parser("report", help="write an HTML or PDF report of a case or of `scan --out` results")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--case", metavar="NAME", help="a case from the case database")
    src.add_argument("--results", metavar="FILE.jsonl", help="JSON lines written by `layerscope scan --out`")
    p.add_argument("--files", nargs="+", metavar="FILE", help="only these files (path, file name or sha256 prefix)")
    p.add_argument("--out", required=True, metavar="report.html|report.pdf", help="the report to write")
    p.add_argument("--rescan", action="store_true",
                   help="with --results: scan the files again (read-only) for the heatmaps and timelines a "
                        "JSON line does not store")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="device for --rescan")
    p.add_argument("--look-in", action="append", metavar="FOLDER",
                   help="a folder where files moved since the scan may be now: each is found again by its "
                        "SHA-256 and the report says where (repeatable)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("gui", help="open the desktop app")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.set_defaults(func=cmd_gui)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from deepfake_gui.core.config import ensure_offline_default

    ensure_offline_default()
    if not argv or (argv[0] not in SUBCOMMANDS and not argv[0].startswith("-")):
        argv = ["gui", *argv]  # `layerscope` or `layerscope FILE...` opens the app
    args = build_parser().parse_args(argv)
    from deepfake_gui.core.errors import LayerScopeError, UsageError

    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"layerscope: error: {exc}", file=sys.stderr)
        return 2
    except LayerScopeError as exc:
        print(f"layerscope: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("layerscope: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
