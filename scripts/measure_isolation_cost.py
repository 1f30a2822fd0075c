"""What isolating the scoring's decoding costs: seconds per file with the decoders here and in the worker.

Usage: PYTHONPATH=. python scripts/measure_isolation_cost.py [--images DIR] [--audio DIR] [-n N] [--rounds R]

One process loads the shipped detectors once, then scans the same N pictures
and N sound files (spread over each folder's sub-folders) under three set-ups,
rotating their order round by round so that load from elsewhere falls on all
of them alike:

- ``before``: the previous CLI default, the probe in the worker and the
  scoring's decoding (picture, audio track, frames, content check, metadata)
  in the scan's own process;
- ``isolated``: the CLI default now, every decode in the worker and the 2 GB
  memory budget (engine/isolate.py, engine/memory.py);
- ``in-process``: everything in the scan's process (the GUI's set-up).

Per set-up and modality it prints the median seconds per file from the first
result line to the last (the workers' start-up is left out: the CLI starts
them while it loads the models; it is given alone): wall time, CPU time of the
scan and its decoding workers (on a shared machine the steadier figure), and
the time the scan's own thread spent waiting for decoded data (the decoders'
calls, timed); with the ratios isolated / before.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

MEDIA_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".flac", ".wav", ".mp3", ".m4a", ".ogg"}
SETUPS = ("before", "isolated", "in-process")
DECODER_CALLS = ("image", "audio", "audio_chunks", "video_frames", "jpeg_quality", "provenance")
DECODE_SECONDS: Counter[str] = Counter()  # time the scan's thread spent in decoder calls, per set-up


def spread(folder: Path, n: int) -> list[Path]:
    """``n`` files taken evenly across the sorted list (so every sub-folder has its share)."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in MEDIA_SUFFIXES and p.is_file())
    if len(files) <= n:
        return files
    step = len(files) / n
    return [files[int(k * step)] for k in range(n)]


LIVE_DECODERS: list = []  # the current scan's decoders, for their workers' CPU time


def cpu_s() -> float:
    """CPU seconds so far of this process (all its threads) and of the current scan's live decoding workers.

    Less disturbed than wall time by other load on a shared machine. A worker's
    time is read from /proc (Linux) while it runs, so its start-up can be left out.
    """
    import os
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    total = own.ru_utime + own.ru_stime
    ticks = os.sysconf("SC_CLK_TCK")
    for decoder in LIVE_DECODERS:
        worker = getattr(decoder, "_worker", None)
        if worker is None:
            continue
        try:
            with open(f"/proc/{worker.process.pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def _timed_iter(items: Iterator, key: str) -> Iterator:
    while True:
        started = time.perf_counter()
        try:
            item = next(items)
        except StopIteration:
            DECODE_SECONDS[key] += time.perf_counter() - started
            return
        DECODE_SECONDS[key] += time.perf_counter() - started
        yield item


def time_decoder_calls() -> None:
    """Wrap the scoring decoders' calls (not the probe: it runs ahead, on the read-ahead thread) with a timer."""
    from deepfake_gui.engine.decoding import LocalDecoder
    from deepfake_gui.engine.isolate import IsolatedDecoder

    for cls in (LocalDecoder, IsolatedDecoder):
        for name in DECODER_CALLS:
            original = getattr(cls, name)

            def timed(self, *args, _original=original, **kwargs):
                key = getattr(self, "setup", "?")
                started = time.perf_counter()
                try:
                    value = _original(self, *args, **kwargs)
                finally:
                    DECODE_SECONDS[key] += time.perf_counter() - started
                return _timed_iter(value, key) if isinstance(value, Iterator) else value

            setattr(cls, name, timed)


def _decoders_for(setup: str):
    """engine.scan._decoders for ``setup``, each decoder labelled for the timer."""
    from deepfake_gui.engine import scan as scan_module
    from deepfake_gui.engine.decoding import LocalDecoder
    from deepfake_gui.engine.isolate import IsolatedDecoder

    original = scan_module._decoders

    def decoders(options):
        if setup == "before":
            prober = IsolatedDecoder(options.decode_timeout_s)
            prober.start()
            pair = (LocalDecoder(), prober)
        else:
            pair = original(options)
        pair[0].setup = setup
        LIVE_DECODERS[:] = [d for d in pair if d is not None]
        return pair

    return decoders


def run(setup: str, files: list[Path], detectors: list) -> tuple[float, float, float]:
    """(wall from the first result to the last, CPU, decode wait) seconds per file for one scan; every line ok."""
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine import scan as scan_module
    from deepfake_gui.engine.memory import DEFAULT_BUDGET_BYTES
    from deepfake_gui.engine.scan import ScanOptions, scan_job

    original = scan_module._decoders
    scan_module._decoders = _decoders_for(setup)
    options = ScanOptions(device="cpu", decode_timeout_s=None if setup == "in-process" else 120.0,
                          memory_budget_bytes=DEFAULT_BUDGET_BYTES if setup == "isolated" else None)
    DECODE_SECONDS[setup] = 0.0
    stamps: list[float] = []
    results: list[ScanResult] = []
    cpu_started = cpu = 0.0
    try:
        for event in scan_job(files, options, detectors=detectors):
            if isinstance(event, ScanResult):
                if not stamps:  # the clocks start at the first line: the workers' start-up is left out
                    cpu_started = cpu_s()
                stamps.append(time.perf_counter())
                results.append(event)
                if len(results) == len(files):
                    cpu = cpu_s() - cpu_started  # before the scan's end stops its workers
    finally:
        scan_module._decoders = original
        LIVE_DECODERS.clear()
    bad = [(r.path, r.error) for r in results if r.status != "ok"]
    if len(results) != len(files) or bad:
        raise SystemExit(f"{setup}: not every file was scored: {bad[:3]}")
    n = len(files) - 1
    return (stamps[-1] - stamps[0]) / n, cpu / n, DECODE_SECONDS[setup] / len(files)


def worker_start_s() -> float:
    """Seconds to spawn a decoding worker and have it answer once (paid once per scan, during model loading)."""
    from deepfake_gui.engine.isolate import IsolatedDecoder

    decoder = IsolatedDecoder()
    started = time.perf_counter()
    try:
        decoder._ready_worker()
        return time.perf_counter() - started
    finally:
        decoder.close()


def summary(runs: dict[str, list[tuple[float, float, float]]]) -> dict:
    out: dict = {}
    for k, figure in enumerate(("wall_s_per_file", "cpu_s_per_file", "decode_wait_s_per_file")):
        median = {s: statistics.median(r[k] for r in runs[s]) for s in SETUPS}
        out[figure] = {s: round(v, 4) for s, v in median.items()}
        if figure != "decode_wait_s_per_file":
            out[figure]["ratio_isolated_vs_before"] = round(median["isolated"] / median["before"], 3)
        else:
            out[figure]["added_by_isolation_ms"] = round((median["isolated"] - median["before"]) * 1000, 1)
    out["wall_runs"] = {s: [round(r[0], 4) for r in runs[s]] for s in SETUPS}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=Path("/work/shared/data/image"))
    parser.add_argument("--audio", type=Path, default=Path("/work/shared/data/audio"))
    parser.add_argument("-n", type=int, default=48, help="files per modality (default 48)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (default: torch's choice); 1 makes CPU time a steady measure of the work "
                        "on a shared machine (no threads spinning while they wait for a core)")
    args = parser.parse_args()
    from deepfake_gui.engine.detectors import resolve_detectors

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    time_decoder_calls()
    detectors = resolve_detectors(device="cpu")
    sets = {"image": spread(args.images, args.n), "audio": spread(args.audio, args.n)}
    for files in sets.values():  # warm-up: the encoders' first calls, imports, the file cache
        run("in-process", files[:4], detectors)
    runs: dict[str, dict[str, list]] = {m: {s: [] for s in SETUPS} for m in sets}
    for k in range(args.rounds):
        order = SETUPS[k % 3:] + SETUPS[:k % 3]
        for modality, files in sets.items():
            for setup in order:
                runs[modality][setup].append(run(setup, files, detectors))
    report = {"files_per_modality": {m: len(f) for m, f in sets.items()}, "rounds": args.rounds,
              "torch_threads": args.threads or "default",
              "worker_start_s": round(worker_start_s(), 3), **{m: summary(runs[m]) for m in sets}}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
