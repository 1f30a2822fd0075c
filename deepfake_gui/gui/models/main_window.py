"""What the main window knows and decides, without Qt (the view: gui/main_window.py).

``WindowModel`` keeps the window's scans (each with its paths in the queue and what it has
yielded), the search for moved files and where each moved file was found, the selected
result, the scan options (the detectors a saved or default set makes active), and the
progress bar. It words every message: the progress bar, the status bar's notices
(``take_notices``) and the Problems panel's entries (``take_problems``), and the texts the
batch table and the title bar show. The rows themselves stay in the Qt table model
(gui/batch_model.py), which the view owns.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepfake_gui import __version__
from deepfake_gui.core.jobs import Progress
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.relocate import Relocations, relocate_job, wanted_for
from deepfake_gui.engine.scan import ScanOptions
from deepfake_gui.gui.models.common import Bar, ProgressClock, error_reason, format_eta

MAX_RECENT = 10
NOTICE_MS = 10_000  # how long a notice stays on the status bar
# Tools beside the batch, each built on first use (they import pyqtgraph and scikit-learn helpers).
TOOL_TABS: dict[str, tuple[str, str]] = {
    "explorer": ("Embedding explorer", "deepfake_gui.gui.views.embeddings:EmbeddingExplorer"),
    "lab": ("Probe lab", "deepfake_gui.gui.views.probe_lab:ProbeLab"),
}
VERDICT_CHOICES = (("All verdicts", None), ("Fake", "fake"), ("Real", "real"),
                   ("Inconclusive", "inconclusive"), ("No verdict", "none"))
MODALITY_CHOICES = (("All media", None), ("Images", "image"), ("Videos", "video"), ("Audio", "audio"),
                    ("Unreadable", "unknown"))


@dataclass(eq=False)
class Scan:
    """One scan the window started: its handle (``cancel()``), its paths in the queue, what it has yielded."""

    handle: Any
    paths: list[str]
    done: int = 0
    errors: int = 0


@dataclass(frozen=True)
class Problem:
    """An entry of the Problems panel: what (a file name or a step), why, and the details behind it."""

    title: str
    message: str
    details: str = ""


def empty_table_text(shown: int, total: int, scanning: bool) -> str:
    """What an empty batch table tells the user to do (nothing when rows are shown)."""
    if shown:
        return ""
    if total:
        return (f"No file matches the filters ({total} hidden): choose All verdicts and All media above "
                "to see them again.")
    if scanning:
        return "Scanning: each file appears here as soon as it is scored."
    return ("No files yet. Drop images, videos, sound files or whole folders here, or use File ▸ Open; "
            "File ▸ Open case… brings back an earlier investigation.")


def window_title(case: str | None) -> str:
    return f"{case} — LayerScope {__version__}" if case else f"LayerScope {__version__}"


def recent_list(value: Any) -> list[str]:
    """The stored recent-files value as a list (a settings file returns a one-item list as a plain string)."""
    if isinstance(value, str):
        value = [value] if value else []
    return [str(v) for v in value or []][:MAX_RECENT]


def remembered(recent: list[str], paths: list[str]) -> list[str]:
    """The recent files after opening ``paths``: the newest first, each once, at most MAX_RECENT."""
    return ([*reversed(paths)] + [p for p in recent if p not in paths])[:MAX_RECENT]


def bundle_modality(spec: str) -> str | None:
    """A detector bundle's modality from its detector.json (a few hundred bytes: fine on the GUI thread)."""
    try:
        return json.loads((Path(spec) / "detector.json").read_text(encoding="utf-8")).get("modality")
    except (OSError, ValueError):
        return None


class WindowModel:
    """The main window's state and rules; see the module docstring."""

    def __init__(self, scan_options: ScanOptions) -> None:
        self.scan_options = scan_options
        self.scans: list[Scan] = []  # this window's pending and running scans, in submission order
        self.relocate_job: Any = None  # the running search for moved files (the view's handle)
        self.relocate_message = ""
        self.relocated: dict[str, str] = {}  # path found by SHA-256 -> the path stored at scan time
        self.selected: ScanResult | None = None
        self.clock = ProgressClock()
        self.bar = Bar()
        self.progress_message = ""
        self.rows = 0  # rows in the batch table (the view keeps this up to date)
        self._notices: list[tuple[str, int]] = []
        self._problems: list[Problem] = []

    # ------------------------------------------------------------------ what the view shows
    def handles(self) -> list[Any]:
        return [scan.handle for scan in self.scans] + ([self.relocate_job] if self.relocate_job else [])

    def is_scanning(self) -> bool:
        """A scan or the search for moved files runs (Cancel works while it does)."""
        return bool(self.handles())

    def queue(self) -> list[str]:
        """The paths of the scans not ended yet, in submission order."""
        return [path for scan in self.scans for path in scan.paths]

    @property
    def use_defaults_enabled(self) -> bool:
        return bool(self.scan_options.detectors)

    def shown_text(self, shown: int, total: int) -> str:
        return f"{shown} of {total} shown"

    def take_notices(self) -> list[tuple[str, int]]:
        """Status-bar messages (text, milliseconds; 0 = until replaced) since the last call."""
        notices, self._notices = self._notices, []
        return notices

    def take_problems(self) -> list[Problem]:
        """Entries for the Problems panel since the last call."""
        problems, self._problems = self._problems, []
        return problems

    # ------------------------------------------------------------------ scans
    @staticmethod
    def clean_paths(paths: Sequence[str]) -> list[str]:
        return [str(Path(p)) for p in paths if p]

    def scan_submitted(self, handle: Any, paths: list[str]) -> Scan:
        scan = Scan(handle, list(paths))
        self.scans.append(scan)
        self.notice(f"{len(self.queue())} item(s) queued", 0)
        return scan

    def job_started(self) -> None:
        """One of this window's jobs (a scan, the search for moved files) began: a fresh clock."""
        self.clock = ProgressClock()
        self.bar = Bar.busy("starting…")

    def job_progress(self, event: Progress) -> None:
        self.clock.update(event)
        self.progress_message = event.message
        if self.clock.fraction is None:
            self.bar = Bar.busy(event.message)
            return
        eta = format_eta(self.clock.eta_s)
        self.bar = Bar.fraction(self.clock.fraction,
                                f"{event.done}/{event.total} files" + (f" · ETA {eta}" if eta else ""))

    def scan_result(self, scan: Scan, result: object) -> bool:
        """Count a scanned file (an unreadable one goes to Problems); True for a ScanResult (a row to add)."""
        if not isinstance(result, ScanResult):
            return False
        scan.done += 1
        if result.status != "ok":
            scan.errors += 1
            self._problems.append(Problem(Path(result.path).name, error_reason(result) or "could not be scanned",
                                          f"{result.path}\n\n{result.error or ''}"))
        return True

    def scan_ended(self, scan: Scan, how: str, message: str = "", details: str = "") -> None:
        """``how``: "finished", "cancelled" or "failed" (with the worker's message and details)."""
        if how == "failed":
            self._problems.append(Problem("Scan failed", message, details))
        text = {"finished": f"Scanned {scan.done} file(s)" + (f", {scan.errors} with errors" if scan.errors else ""),
                "cancelled": "Scan cancelled", "failed": "Scan failed: see Problems"}[how]
        if scan in self.scans:
            self.scans.remove(scan)
        self._job_ended(text)

    def cancel(self) -> None:
        """Cancel this window's running and queued scans (and a search for moved files); other views' jobs go on."""
        for handle in self.handles():
            handle.cancel()
        if self.is_scanning():
            self.progress_message = "Cancelling…"

    def set_idle(self, message: str) -> None:
        """Nothing runs: the bar says ``message``, full when the table has rows."""
        self.bar = Bar.idle(self.rows > 0, message)
        self.progress_message = ""

    # ------------------------------------------------------------------ files moved since their scan
    def moved_files_wanted(self, results: list[ScanResult]) -> list[Any] | None:
        """The files to look for; None (and why) when there are none or a search already runs."""
        wanted = wanted_for(results)
        if not wanted:
            self.notice("Every file in the table is where it was scanned")
            return None
        return None if self.relocate_job is not None else wanted

    def find_moved(self, wanted: list[Any], folder: str) -> Callable[..., Any]:
        """The search's job factory (the view submits it and sets ``relocate_job``)."""
        self.relocate_message = f"Looked for {len(wanted)} moved file(s) in {folder}"
        self.bar = Bar.busy(f"Looking for {len(wanted)} moved file(s) by SHA-256 in {folder}…")
        return functools.partial(relocate_job, wanted, [folder])

    def relocations_found(self, found: Relocations, moved: dict[str, str]) -> None:
        """``moved``: the rows that followed their file (stored path -> path found); the rest become Problems."""
        for old, new in moved.items():
            self.relocated[new] = self.relocated.pop(old, old)
        where = ", ".join(found.folders)
        if found.found:
            names = ", ".join(Path(old).name for old in found.found)
            self.relocate_message = (f"Found {len(found.found)} of {len(found.found) + len(found.missing)} moved "
                                     f"file(s) by SHA-256 in {where}: {names}")
        else:
            self.relocate_message = f"None of the {len(found.missing)} missing file(s) is in {where}"
        for old in found.missing:
            self._problems.append(Problem(Path(old).name, f"not found by its SHA-256 in {where}", old))

    def relocate_ended(self, how: str, message: str = "", details: str = "") -> None:
        if how == "failed":
            self._problems.append(Problem("Find moved files", message, details))
        text = {"finished": self.relocate_message, "cancelled": "Search for moved files cancelled",
                "failed": "The search for moved files failed: see Problems"}[how]
        self.relocate_job = None
        self._job_ended(text)

    # ------------------------------------------------------------------ selection, detectors, settings, cases
    def select(self, result: ScanResult | None) -> bool:
        """True when the selection changed (the view announces it)."""
        if result is self.selected:
            return False
        self.selected = result
        return True

    def explorer_selected(self, path: str, shown: bool) -> None:
        name = Path(path).name
        self.notice(f"{name} selected in the batch table (Batch tab shows its evidence)" if shown
                    else f"{name} is hidden by the table's filters", 8000)

    def activate_detector(self, folder: str) -> None:
        """Scan with a saved detector from now on: like --detector, it replaces its modality's defaults."""
        modality = bundle_modality(folder)
        detectors = [d for d in self.scan_options.detectors if bundle_modality(d) != modality] + [folder]
        self.scan_options = dataclasses.replace(self.scan_options, detectors=detectors)
        self.notice(f"Detector {Path(folder).name} is active for the next scans "
                    "(Scan ▸ Use default detectors undoes it)")

    def use_default_detectors(self) -> None:
        self.scan_options = dataclasses.replace(self.scan_options, detectors=[])
        self.notice("Default detectors active for the next scans")

    def settings_applied(self, old: Any, new: Any, reload: bool) -> bool:
        """New settings (``AppSettings``) for the next scans; True when the evidence shown must be redrawn."""
        self.scan_options = new.scan_options(self.scan_options)  # keeps the chosen detectors
        self.notice("Settings saved" + ("; reloading the detectors" if reload else ""))
        return self.selected is not None and (old.show_threshold, old.show_band) != (new.show_threshold,
                                                                                      new.show_band)

    def warm_up_failed(self, message: str, details: str) -> None:
        self._problems.append(Problem("Detectors", message, details))

    def case_opened(self, name: str, count: int) -> None:
        self.selected = None
        self.notice(f"Case {name}: {count} file(s); new scans are added to it")

    def case_record_failed(self, path: str, message: str) -> None:
        self._problems.append(Problem(Path(path).name, f"not saved in the case: {message}", f"{path}\n\n{message}"))

    def report_meta(self, results: list[ScanResult], case: str | None) -> tuple[bool, Any]:
        """Whether there is anything to report, and the case details the report adds (None: the table alone)."""
        if not results:
            self.notice("Nothing to report: scan files or open a case first")
            return False, None
        meta = None
        if case:
            from deepfake_gui.report import case_report_inputs

            try:
                _stored, meta = case_report_inputs(case)
            except Exception as exc:  # the report still works without the case's notes
                self._problems.append(Problem("Report", f"case details unavailable: {exc}"))
        if self.relocated:  # the report says where each moved file was found; its review state follows it
            from deepfake_gui.report import CaseMeta
            from deepfake_gui.report.sources import follow_relocations

            meta = follow_relocations(meta or CaseMeta(source="the results open in the app"), dict(self.relocated))
        return True, meta

    def recent_gone(self, path: str) -> None:
        self.notice(f"{path} no longer exists")

    def notice(self, text: str, ms: int = NOTICE_MS) -> None:
        self._notices.append((text, ms))

    # ------------------------------------------------------------------ internals
    def _job_ended(self, message: str) -> None:
        self.notice(message)
        if not self.is_scanning():
            self.set_idle(message)
