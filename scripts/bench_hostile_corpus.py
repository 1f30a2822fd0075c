"""Scan a folder of odd, broken and hostile files with `layerscope scan` and report how the batch held up.

Usage: python scripts/bench_hostile_corpus.py FOLDER [--out results.jsonl] [-- extra scan options]

It runs the real CLI in a child process (the shipped detectors, the decoding
worker and its limits, as a user gets them) and prints one JSON object: files
found on disk, result lines, lines per status and error kind, tracebacks on
stderr, files stopped by the time limit, crashed decoders, the exit code, the
wall time and the peak resident memory: of the scan's own process and of its
decoding workers apart (sampled from /proc on Linux), and of the largest.
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
import threading
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


def _peak_kib(pid: int) -> int:
    """VmHWM of a live process (its own peak: Linux carries ru_maxrss across exec, VmHWM starts afresh)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next((int(line.split()[1]) for line in fh if line.startswith("VmHWM:")), 0)
    except (OSError, ValueError):
        return 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return found


def watch_peaks(proc: subprocess.Popen, peaks: dict[str, int], every_s: float = 0.25) -> None:
    """Sample the scan's and its workers' peaks until it ends (a worker's last 0.25 s may be missed)."""
    while proc.poll() is None:
        peaks["scan"] = max(peaks["scan"], _peak_kib(proc.pid))
        for child in _children(proc.pid):
            peaks["workers"] = max(peaks["workers"], _peak_kib(child))
        time.sleep(every_s)


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
    peaks = {"scan": 0, "workers": 0}
    with tempfile.TemporaryFile() as err_file:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err_file)
        watcher = threading.Thread(target=watch_peaks, args=(proc, peaks), daemon=True)
        if sys.platform.startswith("linux"):
            watcher.start()
        proc.wait()
        wall_s = time.perf_counter() - started
        err_file.seek(0)
        stderr = err_file.read().decode("utf-8", "replace")
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
        "tracebacks_on_stderr": stderr.count("Traceback (most recent call last)"),
        "stderr_lines": len(stderr.splitlines()), "exit_code": proc.returncode,
        "wall_s": round(wall_s, 1), "peak_rss_mib": round(peak_kib / 1024),
        "scan_process_peak_rss_mib": round(peaks["scan"] / 1024),
        "decoding_workers_peak_rss_mib": round(peaks["workers"] / 1024), "results": str(out),
    }
    print(json.dumps(report, indent=2))
    if report["tracebacks_on_stderr"]:
        print(stderr[-3000:], file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
