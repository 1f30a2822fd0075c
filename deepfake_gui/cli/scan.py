"""`layerscope scan`: one JSON line per file; exit 0, 1 or 2 (docs/reliability.md)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from deepfake_gui.cli.common import _emit, _ProgressBar


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`scan PATH...`."""
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
            skip_paths=(args.out,) if args.out else (),
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
