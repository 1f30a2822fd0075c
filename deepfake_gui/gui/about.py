"""Help ▸ About and Help ▸ Keyboard shortcuts.

The About dialog answers what a bug report or an audit needs: which LayerScope,
on which libraries and device, with which encoders (and their licences, and
whether their weights are here) and which detectors (and what they were trained
on). It never imports torch on the GUI thread: library versions come from package
metadata, and the weights check runs on the views' background pool. The facts
about encoders and detectors come from engine/inventory.py.
"""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Iterable, Sequence

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMenuBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from deepfake_gui import __version__
from deepfake_gui.core.present import fmt_number
from deepfake_gui.engine.inventory import (
    detector_rows,
    encoder_rows,
    layerscope_licence,
    weight_statuses,
)

LIBRARIES = (("numpy", "numpy"), ("PyTorch", "torch"), ("torchaudio", "torchaudio"), ("torchvision", "torchvision"),
             ("transformers", "transformers"), ("open_clip", "open_clip_torch"), ("PyAV", "av"),
             ("OpenCV", "opencv-python-headless"), ("scikit-learn", "scikit-learn"))
CHECKING = "checking…"


# ------------------------------------------------------------------ facts
def package_version(distribution: str) -> str:
    """An installed package's version from its metadata (no import: torch takes seconds to import)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def versions() -> list[tuple[str, str]]:
    """(component, version) rows: the app, Python, Qt and the libraries the engine uses."""
    import pyqtgraph
    import PySide6
    from PySide6.QtCore import qVersion

    rows = [("LayerScope", __version__), ("Python", platform.python_version()), ("Qt", qVersion()),
            ("PySide6", PySide6.__version__), ("pyqtgraph", pyqtgraph.__version__)]
    rows += [(label, package_version(dist)) for label, dist in LIBRARIES]
    rows.append(("System", platform.platform(terse=True)))
    return rows


# ------------------------------------------------------------------ dialogs
class AboutDialog(QDialog):
    """Versions, device and licences; the encoders' weight status fills in from the background."""

    def __init__(self, device: str = "", parent: QWidget | None = None, *, check_weights: bool = True) -> None:
        super().__init__(parent)
        self.setWindowTitle("About LayerScope")
        self.setObjectName("aboutDialog")
        self.resize(1000, 540)
        self.device = device or "not known yet (the detectors load on the first scan)"
        self.encoders = encoder_rows()
        self.detectors = detector_rows()
        self.tabs = QTabWidget()
        self.tabs.addTab(self._about_tab(), "About")
        self.encoders_table = self._encoders_table()
        self.tabs.addTab(self.encoders_table, f"Encoders ({len(self.encoders)})")
        self.detectors_table = self._detectors_table()
        self.tabs.addTab(self.detectors_table, f"Detectors ({len(self.detectors)})")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy details")
        self.copy_button.setToolTip("Versions, device, encoders and detectors as text, for a bug report")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)
        self._weights_job: object = None
        if check_weights:
            self.check_weights()

    def _about_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        title = QLabel(f"<h2>LayerScope {__version__}</h2>"
                       "<p>Forensic detection of generated images, video and audio from the intermediate layers "
                       "of pretrained encoders.</p>")
        title.setWordWrap(True)
        layout.addWidget(title)
        form = QFormLayout()
        self.version_labels: dict[str, QLabel] = {}
        for name, version in [*versions(), ("Device", self.device), ("Licence", layerscope_licence())]:
            label = QLabel(version)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self.version_labels[name] = label
            form.addRow(f"{name}:", label)
        layout.addLayout(form)
        note = QLabel("A score is evidence from detectors trained on the data listed under Detectors, not proof; "
                      "each result says where its file differs from that data.")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addStretch(1)
        return page

    def _encoders_table(self) -> QTableWidget:
        table = _table("encodersTable", ("Encoder", "Modality", "Licence", "Weights"))
        for row, enc in enumerate(self.encoders):
            _set_row(table, row, (enc.name, enc.modality, enc.licence, CHECKING), tooltip=enc.description)
        _fit(table)
        return table

    def _detectors_table(self) -> QTableWidget:
        table = _table("detectorsTable", ("Detector", "Source", "Modality", "Encoder", "Trained on", "CV AUC",
                                          "Licence"))
        for row, det in enumerate(self.detectors):
            auc = fmt_number(det.cv_auc)
            _set_row(table, row, (det.name, det.source, det.modality, det.encoder, det.training, auc, det.licence),
                     tooltip=f"{det.folder}\n{det.domain}".strip())
        _fit(table)
        return table

    def check_weights(self) -> None:
        """Look the encoders' weights up on the views' pool; the Weights column fills in when done."""
        from deepfake_gui.gui.views.common import run_in_background

        names = [e.name for e in self.encoders]
        self._weights_job = run_in_background(lambda: weight_statuses(names), self._on_weights, self._on_weights_failed)

    @Slot(object)
    def _on_weights(self, statuses: dict[str, str]) -> None:
        for row, enc in enumerate(self.encoders):
            self.encoders_table.item(row, 3).setText(statuses.get(enc.name, "unknown"))

    @Slot(str)
    def _on_weights_failed(self, message: str) -> None:
        for row in range(self.encoders_table.rowCount()):
            self.encoders_table.item(row, 3).setText("unknown")
            self.encoders_table.item(row, 3).setToolTip(message)

    def weights_column(self) -> dict[str, str]:
        return {self.encoders_table.item(r, 0).text(): self.encoders_table.item(r, 3).text()
                for r in range(self.encoders_table.rowCount())}

    def details_text(self) -> str:
        lines = [f"{name}: {label.text()}" for name, label in self.version_labels.items()]
        lines.append("")
        lines += [f"encoder {name}: weights {status}" for name, status in self.weights_column().items()]
        lines += [f"detector {d.name} ({d.source}, {d.encoder}, CV AUC {d.cv_auc if d.cv_auc is not None else '—'})"
                  for d in self.detectors]
        return "\n".join(lines)

    @Slot()
    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details_text())


def _table(name: str, headers: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.verticalHeader().hide()
    table.horizontalHeader().setStretchLastSection(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return table


def _fit(table: QTableWidget, max_width: int = 220) -> None:
    """Columns as wide as their text up to ``max_width``; longer text wraps, so every column stays in view."""
    table.setWordWrap(True)
    table.resizeColumnsToContents()
    for col in range(table.columnCount()):
        table.setColumnWidth(col, min(table.columnWidth(col), max_width))
    table.resizeRowsToContents()


def _set_row(table: QTableWidget, row: int, values: Sequence[str], tooltip: str = "") -> None:
    if table.rowCount() <= row:
        table.setRowCount(row + 1)
    for col, value in enumerate(values):
        item = QTableWidgetItem(value)
        item.setToolTip(tooltip or value)
        table.setItem(row, col, item)


# ------------------------------------------------------------------ shortcuts
def menu_actions(menus: QMenuBar | QMenu | QWidget) -> list[QAction]:
    """Every action of a menu bar or menu, submenus included, in menu order (separators left out)."""
    found: list[QAction] = []
    for action in menus.actions():
        submenu = action.menu()
        if isinstance(submenu, QMenu):
            found += menu_actions(submenu)
        elif not action.isSeparator():
            found.append(action)
    return found


def action_label(action: QAction) -> str:
    """The action's text as the user reads it: mnemonic ampersands removed ("&&" stays one "&")."""
    return action.text().replace("&&", "\0").replace("&", "").replace("\0", "&").strip()


def shortcut_rows(actions: Iterable[QAction], *, include_unbound: bool = False) -> list[tuple[str, str]]:
    """(action text, its shortcuts in this platform's notation) for each action with a shortcut."""
    rows = []
    for action in actions:
        native = QKeySequence.SequenceFormat.NativeText
        keys = ", ".join(k.toString(native) for k in action.shortcuts() if not k.isEmpty())
        if (keys or include_unbound) and action.text():
            rows.append((action_label(action), keys))
    return rows


def shortcut_conflicts(actions: Iterable[QAction]) -> dict[str, list[str]]:
    """Shortcuts bound to more than one action (Qt then triggers neither: 'ambiguous shortcut')."""
    bound: dict[str, list[str]] = {}
    for action in actions:
        for key in action.shortcuts():
            if not key.isEmpty():
                name = key.toString(QKeySequence.SequenceFormat.PortableText)
                bound.setdefault(name, []).append(action_label(action))
    return {key: names for key, names in bound.items() if len(names) > 1}


class ShortcutsDialog(QDialog):
    """A table of the given actions and their shortcuts, with any clash named above it."""

    def __init__(self, actions: Sequence[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setObjectName("shortcutsDialog")
        self.resize(440, 420)
        self.rows = shortcut_rows(actions)
        self.table = _table("shortcutsTable", ("Action", "Shortcut"))
        for row, values in enumerate(self.rows):
            _set_row(self.table, row, values)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        conflicts = shortcut_conflicts(actions)
        self.conflict_label = QLabel("\n".join(f"⚠ {key} is bound to {' and '.join(names)}"
                                               for key, names in conflicts.items()))
        self.conflict_label.setObjectName("shortcutConflicts")
        self.conflict_label.setVisible(bool(conflicts))
        layout.addWidget(self.conflict_label)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


def shortcuts_help(actions: Sequence[QAction], parent: QWidget | None = None) -> ShortcutsDialog:
    """Show the shortcuts dialog without blocking the app (it closes itself and is deleted on close)."""
    dialog = ShortcutsDialog(actions, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
