"""`layerscope report`: an HTML or PDF report of a case or of `scan --out` results."""

from __future__ import annotations

import argparse
import sys

from deepfake_gui.cli.common import _ProgressBar


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`report (--case NAME | --results FILE.jsonl) --out FILE`."""
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
