"""Measure how many PDF pages a report of a mixed batch takes (issue 22: 11 files once made 41 pages).

Scans the same mixed folder the screenshots use (pictures, voices, partly faked videos from the
shared data) with the shipped detectors, keeping the arrays as the app does, writes the PDF and
prints its page count and the pages per file. ``--png DIR`` also renders every page to PNG
(with pdftoppm) so the layout can be looked at.

    .venv/bin/python scripts/report_pages.py --data ../shared/data --out /tmp/report.pdf --png /tmp/pages \
        --shot docs/screenshots/report_page.png --shot-page 11
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path


def pick_files(data: Path, count: int) -> list[Path]:
    """The screenshot batch (scripts/screenshots.py app_batch), topped up with more videos, then cut to ``count``."""
    sys.path.insert(0, str(Path(__file__).parent))
    from screenshots import app_batch

    picks = app_batch(data)
    extra = sorted((data / "localization" / "video").glob("*.mp4"))
    picks += [p for p in extra if p not in picks]
    return picks[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--out", type=Path, required=True, help="the PDF to write")
    parser.add_argument("--count", type=int, default=11, help="how many files (default 11)")
    parser.add_argument("--png", type=Path, default=None, help="also render each page to PNG here (pdftoppm)")
    parser.add_argument("--shot", type=Path, default=None,
                        help="also save one page as a PNG for the docs (e.g. docs/screenshots/report_page.png)")
    parser.add_argument("--shot-page", type=int, default=2, help="which page --shot saves (default 2)")
    args = parser.parse_args(argv)

    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.detectors import resolve_detectors
    from deepfake_gui.engine.scan import ScanOptions, scan_job
    from deepfake_gui.report import CaseMeta
    from deepfake_gui.report.pdf import html_to_pdf
    from deepfake_gui.report.render import render_html

    files = pick_files(args.data.resolve(), args.count)
    start = time.monotonic()
    results = [r for r in scan_job(files, ScanOptions(device="cpu", keep_arrays=True),
                                   detectors=resolve_detectors(device="cpu")) if isinstance(r, ScanResult)]
    scanned = time.monotonic()
    html = render_html(results, CaseMeta(name="page count", source="scripts/report_pages.py"))
    html_to_pdf(html, args.out)
    import weasyprint

    pages = len(weasyprint.HTML(string=html).render().pages)
    print(f"{len(results)} files ({', '.join(sorted({r.modality or '?' for r in results}))}): {pages} pages, "
          f"{pages / max(len(results), 1):.1f} per file; scan {scanned - start:.0f} s, "
          f"report {time.monotonic() - scanned:.0f} s; wrote {args.out}")
    if args.png is None and args.shot is None:
        return 0
    if shutil.which("pdftoppm") is None:
        print("pdftoppm is not installed (apt-get install poppler-utils): no PNGs", file=sys.stderr)
        return 1
    if args.png is not None:
        args.png.mkdir(parents=True, exist_ok=True)
        subprocess.run(["pdftoppm", "-r", "50", "-png", str(args.out), str(args.png / "page")], check=True)
        print(f"pages as PNG in {args.png}")
    if args.shot is not None:
        page = str(args.shot_page)
        subprocess.run(["pdftoppm", "-r", "90", "-png", "-singlefile", "-f", page, "-l", page, str(args.out),
                        str(args.shot.with_suffix(""))], check=True)
        print(f"page {page} as {args.shot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
