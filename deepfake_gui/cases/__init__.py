"""The case database: every scan stored per investigation, reopened without rescanning (no Qt here).

Names are imported on first use (PEP 562), so importing the package (the CLI's `scan --case`
and `cases` handlers do, lazily) does not pay for numpy and SQLite until a name is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "load_case_job": "jobs", "record_into_case": "jobs",
    "REVIEW_STATUSES": "schema", "SCHEMA_VERSION": "schema", "default_db_path": "schema",
    "CaseEntry": "store", "CaseInfo": "store", "CaseStore": "store", "case_exists": "store",
    "delete_case": "store", "list_cases": "store", "rename_case": "store", "validate_case_name": "store",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'deepfake_gui.cases' has no attribute {name!r}")
    return getattr(importlib.import_module(f"deepfake_gui.cases.{module}"), name)
