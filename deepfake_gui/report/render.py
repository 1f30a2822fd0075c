"""Render scan results into one self-contained HTML report (Jinja2, autoescaped), or a PDF of it.

The HTML carries its CSS inline and every picture as a base64 PNG, so the file can be
mailed or archived alone. The PDF is the same HTML laid out by WeasyPrint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from deepfake_gui import __version__
from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.results import ScanResult, clean_text
from deepfake_gui.report.context import CaseMeta, detector_versions, file_view, summary_rows, tool_versions

TEMPLATE = "report.html.j2"
FORMATS = (".html", ".htm", ".pdf")


def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    # autoescape on for every template: file names, metadata and notes are attacker-controlled
    return Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_html(results: Sequence[ScanResult], case: CaseMeta | None = None,
                progress: Callable[[int, int, str], None] | None = None) -> str:
    """The report as one HTML string; ``progress(done, total, name)`` is called per file."""
    from deepfake_gui.report.figures import figures_for

    case = case or CaseMeta()
    cards = detector_versions(list(results))
    by_name = {c["name"]: c for c in cards}
    files = []
    for i, result in enumerate(results, start=1):
        if progress is not None:
            progress(i - 1, len(results), Path(result.path).name)
        files.append(file_view(i, result, case, figures_for(result), by_name))
    if progress is not None:
        progress(len(results), len(results), "")
    return _environment().get_template(TEMPLATE).render(
        case=case, files=files, summary=summary_rows(files), detector_cards=cards,
        tool_version=__version__, scan_versions=tool_versions(list(results)),
        generated_utc=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def write_report(results: Sequence[ScanResult], out: str | Path, case: CaseMeta | None = None,
                 progress: Callable[[int, int, str], None] | None = None) -> Path:
    """Write an HTML or PDF report (chosen by the suffix of ``out``); returns the path written."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise LayerScopeError(f"{out}: a report must end in .html or .pdf, not {suffix or 'no suffix'!r}")
    if not results:
        raise LayerScopeError(f"{out}: there are no results to report")
    html = clean_text(render_html(results, case, progress))  # a file name that is not UTF-8 cannot stop it
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".pdf":
        from deepfake_gui.report.pdf import html_to_pdf

        html_to_pdf(html, out)
    else:
        out.write_text(html, encoding="utf-8")
    return out
