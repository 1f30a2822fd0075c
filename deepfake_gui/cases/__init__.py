"""The case database: every scan stored per investigation, reopened without rescanning (no Qt here)."""

from deepfake_gui.cases.jobs import load_case_job, record_into_case
from deepfake_gui.cases.schema import REVIEW_STATUSES, SCHEMA_VERSION, default_db_path
from deepfake_gui.cases.store import (
    CaseEntry,
    CaseInfo,
    CaseStore,
    case_exists,
    delete_case,
    list_cases,
    rename_case,
    validate_case_name,
)

__all__ = [
    "REVIEW_STATUSES",
    "SCHEMA_VERSION",
    "CaseEntry",
    "CaseInfo",
    "CaseStore",
    "case_exists",
    "default_db_path",
    "delete_case",
    "list_cases",
    "load_case_job",
    "record_into_case",
    "rename_case",
    "validate_case_name",
]
