"""`layerscope cache [info|clear]`: the feature cache."""

from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`cache [info|clear]`."""
    p = sub.add_parser("cache", help="show or clear the feature cache")
    p.add_argument("cache_command", nargs="?", choices=["info", "clear"], default="info")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_cache)


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
