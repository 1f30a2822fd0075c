"""`layerscope` command line: a thin front end over the engine's jobs.

One parser (`build_parser`), assembled from one module per command: each has
`add_parser(subparsers)` and its `cmd_*` handler; what they share is in
`cli/common.py`. Nothing heavy is imported at module import time (no torch, no
Qt): the command modules import the engine inside their handlers, so
`layerscope --help` answers instantly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from deepfake_gui import __version__
from deepfake_gui.cli import adapt, bench, cache, cases, evaluate, gui, models, report, scan, train
from deepfake_gui.cli.adapt import cmd_adapt
from deepfake_gui.cli.bench import cmd_bench
from deepfake_gui.cli.cache import cmd_cache
from deepfake_gui.cli.cases import cmd_cases
from deepfake_gui.cli.common import _emit, _na, _print_table, _ProgressBar, _run_job
from deepfake_gui.cli.evaluate import cmd_evaluate
from deepfake_gui.cli.gui import cmd_gui
from deepfake_gui.cli.models import cmd_models
from deepfake_gui.cli.report import cmd_report
from deepfake_gui.cli.scan import cmd_scan
from deepfake_gui.cli.train import cmd_train

__all__ = [
    "SUBCOMMANDS", "_ProgressBar", "_emit", "_na", "_print_table", "_run_job", "build_parser", "cmd_adapt",
    "cmd_bench", "cmd_cache", "cmd_cases", "cmd_evaluate", "cmd_gui", "cmd_models", "cmd_report", "cmd_scan",
    "cmd_train", "main",
]

# The commands in the order `layerscope --help` lists them.
COMMANDS = (scan, train, evaluate, adapt, bench, models, cache, cases, report, gui)
SUBCOMMANDS = ("scan", "train", "evaluate", "models", "cache", "bench", "gui", "cases", "report", "adapt")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerscope",
        description="Tell whether an image, video or sound file was made by a generative model, and show "
        "why and where. With no command (or with file paths), opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"layerscope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
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

