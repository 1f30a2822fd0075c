"""The batch table: one row per scanned file, a filter proxy, and numeric sorting.

Why columns are data (a list of Column) rather than an if/elif per column: adding
a column is one entry, and display, tooltip and sort key cannot drift apart.
Sorting uses a dedicated role holding Python keys, so 0.9 sorts above 0.15 and
"2.0 s" compares as seconds, not as text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor

from deepfake_gui.core.present import PROBABILITY_NAME, fmt_prob, fmt_score, shown_attribution
from deepfake_gui.core.results import ScanResult
from deepfake_gui.gui.models.common import error_reason

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
RESULT_ROLE = Qt.ItemDataRole.UserRole + 2
COPY_ROLE = Qt.ItemDataRole.UserRole + 3  # full values (path, SHA-256) where the cell shows a short form
NO_VERDICT = "none"
UNKNOWN_MODALITY = "unknown"

# background, text: four clearly distinct colours (red, green, amber, grey)
VERDICT_COLOURS: dict[str, tuple[str, str]] = {
    "fake": ("#d32f2f", "#ffffff"),
    "real": ("#2e7d32", "#ffffff"),
    "inconclusive": ("#ffb300", "#000000"),
    NO_VERDICT: ("#9e9e9e", "#000000"),
}

AnyIndex = QModelIndex | QPersistentModelIndex


def verdict_key(result: ScanResult) -> str:
    return result.verdict if result.verdict in VERDICT_COLOURS else NO_VERDICT


def modality_key(result: ScanResult) -> str:
    return result.modality or UNKNOWN_MODALITY


def _media(result: ScanResult) -> dict[str, Any]:
    return result.media or {}


def _extent_text(result: ScanResult) -> str:
    media = _media(result)
    if media.get("duration_s") is not None:
        return f"{float(media['duration_s']):.1f} s"
    if media.get("width") and media.get("height"):
        return f"{media['width']}×{media['height']}"
    return "—"


def _extent_key(result: ScanResult) -> tuple:
    """Timed media by duration, then pictures by pixel count, then unknowns."""
    media = _media(result)
    if media.get("duration_s") is not None:
        return (0, float(media["duration_s"]))
    if media.get("width") and media.get("height"):
        return (1, float(media["width"]) * float(media["height"]))
    return (2, 0.0)


def _extent_tip(result: ScanResult) -> str:
    media = _media(result)
    parts = [f"{k}: {media[k]}" for k in ("container", "codec", "width", "height", "fps", "duration_s",
                                            "sample_rate", "channels", "byte_size") if media.get(k) is not None]
    return "\n".join(parts)


def top_attribution(result: ScanResult) -> dict[str, Any] | None:
    """The closest known generator of a file called fake (core.present.shown_attribution), else None."""
    shown = shown_attribution(result, top=1)
    return shown[0] if shown else None


def _attribution_text(result: ScanResult) -> str:
    top = top_attribution(result)
    if top is None:
        return "—"
    prob = top.get("probability")
    return f"{top['class']} ({float(prob):.0%})" if prob is not None else str(top["class"])


def _attribution_tip(result: ScanResult) -> str:
    if result.verdict != "fake":
        return "closest known source: only shown for a file called fake" if result.attribution else ""
    return "closest among the sources the detector was trained on:\n" + "\n".join(
        f"{a.get('class')}: {fmt_prob(a.get('probability'))} ({a.get('detector', '')})"
        for a in shown_attribution(result))


def _status_text(result: ScanResult) -> str:
    if result.status != "ok":
        return "error: " + error_reason(result)
    return "ok" + (f" · {len(result.caveats)} caveat(s)" if result.caveats else "")


def _probability_text(result: ScanResult) -> str:
    return fmt_prob(result.probability)


def _probability_tip(result: ScanResult) -> str:
    if result.probability is None:
        return "no detector ran: no probability"
    return f"calibrated probability of fake {fmt_prob(result.probability)}; {fmt_score(result.score)}"


def _probability_key(result: ScanResult) -> tuple:
    return (0, 0.0) if result.probability is None else (1, float(result.probability))


def row_tooltip(result: ScanResult) -> str | None:
    """Every cell of an error row says why it failed (the Status column may be too narrow to read it)."""
    return f"could not scan: {result.error or result.status}" if result.status != "ok" else None


@dataclass(frozen=True)
class Column:
    header: str
    display: Callable[[ScanResult], str]
    sort_key: Callable[[ScanResult], Any]
    tooltip: Callable[[ScanResult], str] | None = None
    numeric: bool = False
    width: int = 90  # px to start with; every column is resizable
    copy: Callable[[ScanResult], str] | None = None  # what Copy puts on the clipboard (default: the display)


COLUMNS: tuple[Column, ...] = (
    Column("File", lambda r: Path(r.path).name, lambda r: Path(r.path).name.casefold(), lambda r: r.path,
           width=220, copy=lambda r: r.path),
    Column("Modality", lambda r: r.modality or "—", modality_key, width=70),
    Column("Duration / size", _extent_text, _extent_key, _extent_tip, numeric=True, width=100),
    Column("Verdict", lambda r: r.verdict or "—",
           lambda r: ("fake", "inconclusive", "real", NO_VERDICT).index(verdict_key(r)), width=100),
    Column(PROBABILITY_NAME, _probability_text, _probability_key, _probability_tip, numeric=True, width=70),
    Column("Closest source", _attribution_text, lambda r: _attribution_text(r).casefold(), _attribution_tip,
           width=150),
    Column("Status", _status_text, lambda r: (r.status != "ok", _status_text(r).casefold()),
           lambda r: "\n".join([r.error or "", *r.caveats]).strip(), width=140),
    Column("SHA-256", lambda r: (r.sha256 or "")[:12] + ("…" if r.sha256 else ""), lambda r: r.sha256 or "",
           lambda r: (r.sha256 or "") + "\n(Copy gives the full hash)" if r.sha256 else "", width=120,
           copy=lambda r: r.sha256 or ""),
)
COLUMN_INDEX = {c.header: i for i, c in enumerate(COLUMNS)}
VERDICT_COLUMN = COLUMN_INDEX["Verdict"]


class ResultTableModel(QAbstractTableModel):
    """ScanResults by row, one row per path: a rescan replaces the row instead of adding one."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._results: list[ScanResult] = []
        self._row_by_path: dict[str, int] = {}

    # ------------------------------------------------------------ Qt model API
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._results)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].header
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._results):
            return None
        result, column = self._results[index.row()], COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.display(result)
        if role == SORT_ROLE:
            return column.sort_key(result)
        if role == RESULT_ROLE:
            return result
        if role == COPY_ROLE:
            return (column.copy or column.display)(result)
        if role == Qt.ItemDataRole.ToolTipRole:
            own = column.tooltip(result) if column.tooltip is not None else None
            return row_tooltip(result) if result.status != "ok" and column.header != "Status" else (own or None)
        if index.column() == VERDICT_COLUMN and role in (Qt.ItemDataRole.BackgroundRole,
                                                         Qt.ItemDataRole.ForegroundRole):
            background, text = VERDICT_COLOURS[verdict_key(result)]
            return QBrush(QColor(background if role == Qt.ItemDataRole.BackgroundRole else text))
        if role == Qt.ItemDataRole.TextAlignmentRole and column.numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    # ------------------------------------------------------------- our API
    def upsert(self, result: ScanResult) -> int:
        """Add a result, or replace the row of the same path; returns the row."""
        row = self._row_by_path.get(result.path)
        if row is not None:
            self._results[row] = result
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
            return row
        row = len(self._results)
        self.beginInsertRows(QModelIndex(), row, row)
        self._results.append(result)
        self._row_by_path[result.path] = row
        self.endInsertRows()
        return row

    def relocate(self, old: str, new: str) -> int | None:
        """The file of a row was found at a new path (by its SHA-256): the row follows it; returns the row."""
        row = self._row_by_path.pop(old, None)
        if row is None:
            return None
        self._results[row] = replace(self._results[row], path=new)
        self._row_by_path[new] = row
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        return row

    def extend(self, results: Iterable[ScanResult]) -> None:
        for result in results:
            self.upsert(result)

    def result_at(self, row: int) -> ScanResult:
        return self._results[row]

    def row_of(self, path: str) -> int | None:
        return self._row_by_path.get(path)

    def results(self) -> list[ScanResult]:
        return list(self._results)

    def clear(self) -> None:
        self.beginResetModel()
        self._results.clear()
        self._row_by_path.clear()
        self.endResetModel()


class ResultFilterProxy(QSortFilterProxyModel):
    """Filters rows by verdict and by modality; sorts by each column's Python sort key."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._verdict: str | None = None
        self._modality: str | None = None
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    @property
    def verdict_filter(self) -> str | None:
        return self._verdict

    @property
    def modality_filter(self) -> str | None:
        return self._modality

    def set_verdict_filter(self, verdict: str | None) -> None:
        """``fake``, ``real``, ``inconclusive``, ``none`` (no verdict), or None for all."""
        self._refilter(lambda: setattr(self, "_verdict", verdict or None))

    def set_modality_filter(self, modality: str | None) -> None:
        """``image``, ``video``, ``audio``, ``unknown`` (unreadable), or None for all."""
        self._refilter(lambda: setattr(self, "_modality", modality or None))

    def _refilter(self, change: Callable[[], None]) -> None:
        """Qt 6.9 replaced invalidateFilter() by begin/endFilterChange(); support both."""
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            change()
            self.invalidateFilter()

    def result_at(self, proxy_row: int) -> ScanResult:
        return self.data(self.index(proxy_row, 0), RESULT_ROLE)

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        result = self.sourceModel().index(source_row, 0, source_parent).data(RESULT_ROLE)
        if result is None:
            return False
        if self._verdict is not None and verdict_key(result) != self._verdict:
            return False
        return self._modality is None or modality_key(result) == self._modality

    def lessThan(self, left: AnyIndex, right: AnyIndex) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        try:
            return a < b
        except TypeError:  # keys of one column share a type; this only guards a foreign source model
            return str(a) < str(b)


def copy_text(indexes: Iterable[QModelIndex]) -> str:
    """Selected cells as tab-separated rows, with full values (the whole SHA-256, the whole path)."""
    rows: dict[int, dict[int, str]] = {}
    for index in indexes:
        rows.setdefault(index.row(), {})[index.column()] = str(index.data(COPY_ROLE) or "")
    return "\n".join("\t".join(cells[c] for c in sorted(cells)) for _r, cells in sorted(rows.items()))
