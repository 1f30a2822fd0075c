"""`layerscope adapt`: refit a detector with known-genuine files of a person, device or channel."""

from __future__ import annotations

import argparse
import json
import sys

from deepfake_gui.cli.common import _run_job


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`adapt --detector DIR --real PATH... --out DIR`."""
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
