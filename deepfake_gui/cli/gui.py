"""`layerscope gui [PATH...]`: the desktop app (the CLI's one, lazy, import of the GUI)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`gui [PATH...]` (also `layerscope` alone or with file paths)."""
    p = sub.add_parser("gui", help="open the desktop app")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.set_defaults(func=cmd_gui)


def cmd_gui(args: argparse.Namespace) -> int:
    from deepfake_gui.gui.app import run_app

    return run_app(list(getattr(args, "paths", []) or []))
