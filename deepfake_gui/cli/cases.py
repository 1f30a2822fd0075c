"""`layerscope cases ...`: list, show, rename and delete cases (the case database is `deepfake_gui.cases`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from deepfake_gui.cli.common import _print_table

_TABLE = [("file", "file"), ("verdict", "verdict"), ("probability", "probability"), ("review", "review_status"),
          ("sha256", "sha256"), ("scanned (UTC)", "scanned_utc")]


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`cases [list|show|rename|delete]`."""
    p = sub.add_parser("cases", help="list, show, rename and delete cases (scan into one with `scan --case NAME`)")
    p.set_defaults(func=cmd_cases, cases_command="list", json=False)
    csub = p.add_subparsers(dest="cases_command", metavar="ACTION")
    q = csub.add_parser("list", help="every case with its number of files and last scan")
    q.add_argument("--json", action="store_true", help="print a JSON array")
    q = csub.add_parser("show", help="a case's files: verdict, probability, review status, sha256, scan time")
    q.add_argument("name")
    q.add_argument("--json", action="store_true", help="print one JSON object (full sha256, notes, errors)")
    q = csub.add_parser("rename", help="give a case a new name")
    q.add_argument("name")
    q.add_argument("new_name")
    q = csub.add_parser("delete", help="delete a case from the database (never the evidence files)")
    q.add_argument("name")
    q.add_argument("--yes", action="store_true", help="required: deleting a case cannot be undone")


def cmd_cases(args: argparse.Namespace) -> int:
    from deepfake_gui.cases.store import CaseStore, delete_case, list_cases, rename_case
    from deepfake_gui.core.errors import LayerScopeError

    action = args.cases_command or "list"
    if action == "list":
        cases = list_cases()
        if args.json:
            print(json.dumps([c.to_json_dict() for c in cases], indent=2, ensure_ascii=False))
        elif not cases:
            print("no cases yet: `layerscope scan PATH --case NAME` makes one", file=sys.stderr)
        else:
            _print_table([{"name": c.name, "files": c.n_files, "results": c.n_results, "created (UTC)": c.created_utc,
                           "last scan (UTC)": c.last_scan_utc or "-"} for c in cases],
                         ["name", "files", "results", "created (UTC)", "last scan (UTC)"], strip=True)
        return 0
    if action == "show":
        with CaseStore.open(args.name) as store:
            info, entries = store.info(), store.entries(arrays=False)
        rows = [e.to_row() for e in entries]
        if args.json:
            summary = {**info.to_json_dict(), "n_files": info.n_files, "files": rows}  # files: the rows, not a count
            print(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
            return 0
        # the name quoted and not prefixed: a case called "case 12" must not read "case case 12"
        print(f"{_quoted(info.name)}: {len(rows)} file(s), created {info.created_utc}")
        if info.notes:
            print(f"notes: {info.notes}")
        _print_table([_table_row(r) for r in rows], [title for title, _key in _TABLE], strip=True)
        return 0
    if action == "rename":
        print(f"renamed case {args.name!r} to {rename_case(args.name, args.new_name)!r}")
        return 0
    if action == "delete":
        if not args.yes:
            raise LayerScopeError(f"deleting case {args.name!r} cannot be undone: add --yes")
        delete_case(args.name)
        print(f"deleted case {args.name!r} (the evidence files are untouched)")
        return 0
    raise AssertionError(action)


def _table_row(row: dict[str, Any]) -> dict[str, str]:
    out = {}
    for title, key in _TABLE:
        value = row[key]
        if key == "verdict":
            value = value or ("error" if row["status"] != "ok" else "none")
        elif key == "probability":
            value = "-" if value is None else f"{value:.3f}"
        elif key == "sha256":
            value = (value or "-")[:12]
        out[title] = str(value)
    return out


def _quoted(name: str) -> str:
    """A case name as a heading: in quotes, with "Case" in front only when the name does not say it."""
    return f'"{name}"' if name.casefold().startswith("case") else f'Case "{name}"'
