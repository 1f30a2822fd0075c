"""Scan a folder of odd, broken and hostile files with `layerscope scan` and report how the batch held up.

Usage: python scripts/bench_hostile_corpus.py FOLDER [--out results.jsonl] [-- extra scan options]

It runs the real CLI in a child process (the shipped detectors, the decoding
worker and its limits, as a user gets them) and prints one JSON object: files
found on disk, result lines, lines per status and error kind, tracebacks on
stderr, files stopped by the time limit, crashed decoders, the exit code, the
wall time and the peak resident memory of the scan and its decoding worker.
Example corpus: Pillow's Tests/images (docs/reliability.md has the figures).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def files_on_disk(root: Path) -> int:
    """What the scan should account for: every non-hidden entry that is not a folder (special files included)."""
    count = 0
    for _folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        count += sum(not n.startswith(".") for n in names)
    return count


def error_kind(line: dict) -> str:
    """'truncated PNG', 'image too large', ...: the part of the message after the path."""
    text = line.get("error") or ""
    rest = text[len(line["path"]) + 2:] if text.startswith(line["path"]) else text
    return rest.split(":", 1)[0][:60]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, help="keep the JSON lines here (default: a temporary file)")
    parser.add_argument("scan_args", nargs="*", help="extra `layerscope scan` options, after --")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="layerscope-bench-")) / "results.jsonl"
    command = [sys.executable, "-m", "deepfake_gui.cli", "scan", str(args.folder), "--out", str(out),
               "--device", "cpu", *args.scan_args]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, errors="replace")
    wall_s = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest of the scan and its worker
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines() if x.strip()]
    statuses = collections.Counter(r["status"] for r in lines)
    kinds = collections.Counter(error_kind(r) for r in lines if r["status"] != "ok")
    report = {
        "folder": str(args.folder), "files_on_disk": files_on_disk(args.folder), "result_lines": len(lines),
        "distinct_paths": len({r.get("path_bytes") or r["path"] for r in lines}),
        "statuses": dict(statuses), "error_kinds": dict(kinds.most_common()),
        "unexpected_errors": sum("unexpected " in (r.get("error") or "") for r in lines),
        "timed_out": kinds.get("decoder took too long", 0), "decoder_crashed": kinds.get("decoder crashed", 0),
        "verdict_on_error_lines": sum(r["status"] == "error" and r.get("verdict") is not None for r in lines),
        "tracebacks_on_stderr": proc.stderr.count("Traceback (most recent call last)"),
        "stderr_lines": len(proc.stderr.splitlines()), "exit_code": proc.returncode,
        "wall_s": round(wall_s, 1), "peak_rss_mib": round(peak_kib / 1024), "results": str(out),
    }
    print(json.dumps(report, indent=2))
    if report["tracebacks_on_stderr"]:
        print(proc.stderr[-3000:], file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
