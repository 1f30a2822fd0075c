"""`layerscope models list|fetch|verify`: encoder weights."""

from __future__ import annotations

import argparse
import json
import os
import sys

from deepfake_gui.cli.common import _print_table

_USER_HF_OFFLINE = os.environ.get("HF_HUB_OFFLINE")  # what the user set, before our default


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`models [list|fetch|verify]`."""
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
        print(f"{args.name}: {status.status} ({status.path or status.source})")
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


def _models_dir() -> str:
    from deepfake_gui.core.config import models_dir

    return str(models_dir())
