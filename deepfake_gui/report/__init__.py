"""Case and scan reports: one self-contained HTML file (Jinja2, images embedded) or a PDF of it (no Qt here).

    from deepfake_gui.report import CaseMeta, write_report
    write_report(results, "report.pdf", CaseMeta(name="case 12", statuses={path: "suspicious"}))
"""

from deepfake_gui.report.context import CaseMeta
from deepfake_gui.report.render import render_html, write_report
from deepfake_gui.report.sources import (
    case_inputs_from_entries,
    case_report_inputs,
    load_results_jsonl,
    report_command,
    rescan,
    select_files,
)

__all__ = [
    "CaseMeta",
    "case_inputs_from_entries",
    "case_report_inputs",
    "load_results_jsonl",
    "render_html",
    "report_command",
    "rescan",
    "select_files",
    "write_report",
]
