"""`layerscope` command line: a thin front end over the engine's jobs.

Nothing heavy is imported at module import time (no torch, no Qt), so
`layerscope --help` answers instantly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from deepfake_gui import __version__

SUBCOMMANDS = ("scan", "train", "evaluate", "models", "cache", "bench", "gui")
_USER_HF_OFFLINE = os.environ.get("HF_HUB_OFFLINE")  # what the user set, before our default


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
    from deepfake_gui.core.jobs import Progress
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.scan import ScanOptions, scan_job

    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    bar = _ProgressBar("scan")
    n_ok = n_err = 0
    try:
        for event in scan_job(args.paths, ScanOptions(device=args.device)):
            if isinstance(event, Progress):
                bar.update(event.done, event.total, event.message)
            elif isinstance(event, ScanResult):
                _emit(event.to_json_dict(), out)
                n_ok += event.status == "ok"
                n_err += event.status != "ok"
    finally:
        bar.close()
        if out is not sys.stdout:
            out.close()
    print(f"scanned {n_ok + n_err} files: {n_ok} ok, {n_err} with errors", file=sys.stderr)
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
        print(f"{args.name}: {status.status} ({status.path})")
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


def cmd_gui(args: argparse.Namespace) -> int:
    from deepfake_gui.gui.app import run_app

    return run_app(list(getattr(args, "paths", []) or []))


def _not_yet(name: str) -> Callable[[argparse.Namespace], int]:
    def run(_args: argparse.Namespace) -> int:
        print(f"layerscope {name}: not available yet in this version ({__version__}).", file=sys.stderr)
        return 2

    return run


def _models_dir() -> str:
    from deepfake_gui.core.config import models_dir

    return str(models_dir())


def _print_table(rows: list[dict], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) if rows else len(c) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in columns))


# -------------------------------------------------------------------- parser
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
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("train", help="sweep encoder layers and train a detector (not available yet)")
    p.set_defaults(func=_not_yet("train"))
    p = sub.add_parser("evaluate", help="measure a detector on a labelled data set (not available yet)")
    p.set_defaults(func=_not_yet("evaluate"))
    p = sub.add_parser("bench", help="throughput benchmark on generated media (not available yet)")
    p.set_defaults(func=_not_yet("bench"))

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
    from deepfake_gui.core.errors import LayerScopeError

    try:
        return int(args.func(args) or 0)
    except LayerScopeError as exc:
        print(f"layerscope: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("layerscope: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
