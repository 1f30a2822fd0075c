"""`layerscope bench`: throughput on generated media."""

from __future__ import annotations

import argparse

from deepfake_gui.cli.common import _run_job


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`bench`."""
    p = sub.add_parser("bench", help="throughput benchmark on generated media (a measurement, takes minutes)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--quick", action="store_true", help="fewer and shorter inputs (a smoke run, noisier figures)")
    p.add_argument("--video-seconds", type=float, default=None,
                   help="length of the generated video (default 60; 3600 measures the 1-hour target directly)")
    p.add_argument("--work", default=None, help="folder for the generated media (default: the cache folder)")
    p.set_defaults(func=cmd_bench)


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
