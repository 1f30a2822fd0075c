"""Cases in the GUI: a chooser dialog and a controller the main window wires to its File menu.

The controller owns the open case's store (a connection on the GUI thread). It
stores each scan result as the window receives it (one small transaction) and,
when a case is opened, hands the window the stored results with their arrays,
so the table and the evidence views come back without scanning again.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from deepfake_gui.cases import CaseStore, delete_case, list_cases, rename_case
from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.results import ScanResult

NAME_ROLE = Qt.ItemDataRole.UserRole


class CaseDialog(QDialog):
    """Lists the cases; Open returns the chosen name (``chosen``), New/Rename/Delete act at once.

    ``new_case``, ``rename_selected`` and ``delete_selected`` take their answer as
    an argument so tests (and scripts) can drive them without a modal prompt.
    """

    case_renamed = Signal(str, str)  # old, new
    case_deleted = Signal(str)

    def __init__(self, parent: QWidget | None = None, db_path: Path | None = None, current: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("caseDialog")
        self.setWindowTitle("Cases")
        self.db_path = db_path
        self.chosen: str | None = None
        self.list = QListWidget()
        self.list.setObjectName("caseList")
        self.list.itemDoubleClicked.connect(self._open_item)
        self.list.currentItemChanged.connect(self._update_buttons)
        self.empty_label = QLabel("No cases yet. New… makes one; the files you scan while it is open are stored "
                                  "in it, with their evidence, review states and notes.")
        self.empty_label.setObjectName("caseEmpty")
        self.empty_label.setWordWrap(True)
        self.empty_label.hide()
        self.error = QLabel()
        self.error.setObjectName("caseError")
        self.error.setWordWrap(True)
        self.error.hide()
        self.new_button = QPushButton("&New…")
        self.rename_button = QPushButton("&Rename…")
        self.delete_button = QPushButton("&Delete…")
        self.new_button.clicked.connect(self._on_new)
        self.rename_button.clicked.connect(self._on_rename)
        self.delete_button.clicked.connect(self._on_delete)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.open_selected)
        self.buttons.rejected.connect(self.reject)
        side = QVBoxLayout()
        for button in (self.new_button, self.rename_button, self.delete_button):
            side.addWidget(button)
        side.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.list, 1)
        row.addLayout(side)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(520, 360)
        self.refresh(select=current)

    # ------------------------------------------------------------ public API
    def names(self) -> list[str]:
        return [self.list.item(i).data(NAME_ROLE) for i in range(self.list.count())]

    def selected_name(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else item.data(NAME_ROLE)

    def select(self, name: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(NAME_ROLE).casefold() == name.casefold():
                self.list.setCurrentRow(i)

    def refresh(self, select: str | None = None) -> None:
        self.list.clear()
        try:
            cases = list_cases(self.db_path)
        except LayerScopeError as exc:
            cases = []
            self._show_error(str(exc))
        for case in cases:
            last = f", last scan {case.last_scan_utc[:16].replace('T', ' ')} UTC" if case.last_scan_utc else ""
            item = QListWidgetItem(f"{case.name}  ({case.n_files} file{'s' if case.n_files != 1 else ''}{last})")
            item.setData(NAME_ROLE, case.name)
            item.setToolTip(f"created {case.created_utc}" + (f"\n{case.notes}" if case.notes else ""))
            self.list.addItem(item)
        if select:
            self.select(select)
        if self.list.currentRow() < 0 and self.list.count():
            self.list.setCurrentRow(0)
        self.empty_label.setVisible(self.list.count() == 0)
        self._update_buttons()

    @Slot()
    def open_selected(self) -> None:
        name = self.selected_name()
        if name is not None:
            self.chosen = name
            self.accept()

    def new_case(self, name: str) -> str | None:
        """Create a case and choose it (the dialog closes); None, with the reason shown, if the name is refused."""
        try:
            with CaseStore.create(name, db_path=self.db_path) as store:
                self.chosen = store.name
        except LayerScopeError as exc:
            self._show_error(str(exc))
            return None
        self.accept()
        return self.chosen

    def rename_selected(self, new: str) -> str | None:
        old = self.selected_name()
        if old is None:
            return None
        try:
            stored = rename_case(old, new, self.db_path)
        except LayerScopeError as exc:
            self._show_error(str(exc))
            return None
        self.error.hide()
        self.refresh(select=stored)
        self.case_renamed.emit(old, stored)
        return stored

    def delete_selected(self) -> str | None:
        name = self.selected_name()
        if name is None:
            return None
        try:
            delete_case(name, self.db_path)
        except LayerScopeError as exc:
            self._show_error(str(exc))
            return None
        self.error.hide()
        self.refresh()
        self.case_deleted.emit(name)
        return name

    # ------------------------------------------------------------ prompts
    @Slot()
    def _on_new(self) -> None:
        name, ok = QInputDialog.getText(self, "New case", "Case name:")
        if ok:
            self.new_case(name)

    @Slot()
    def _on_rename(self) -> None:
        old = self.selected_name()
        if old is None:
            return
        new, ok = QInputDialog.getText(self, "Rename case", f"New name for {old}:", text=old)
        if ok and new.strip() != old:
            self.rename_selected(new)

    @Slot()
    def _on_delete(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        answer = QMessageBox.question(
            self, "Delete case", f"Delete case {name!r} with its stored results and notes? The evidence files "
            "themselves are not touched. This cannot be undone.")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_selected()

    @Slot(QListWidgetItem)
    def _open_item(self, item: QListWidgetItem) -> None:
        self.list.setCurrentItem(item)
        self.open_selected()

    @Slot()
    def _update_buttons(self, *_args: object) -> None:
        has = self.list.currentItem() is not None
        self.rename_button.setEnabled(has)
        self.delete_button.setEnabled(has)
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(has)

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()


class CaseController(QObject):
    """The window's open case: File-menu actions, storing results, reopening.

    Signals are emitted on the GUI thread; connect them to the window's slots.
    """

    case_opened = Signal(str, list)  # name, latest ScanResult per file (arrays restored): refill the table
    case_closed = Signal()  # the window goes back to an unsaved table
    case_renamed = Signal(str)  # the new name (window title)
    record_failed = Signal(str, str)  # path, message: the result is shown but not in the case

    def __init__(self, parent: QWidget, db_path: Path | None = None) -> None:
        super().__init__(parent)
        self._window = parent
        self.db_path = db_path
        self.store: CaseStore | None = None
        self.actions: dict[str, QAction] = {}

    @property
    def current_name(self) -> str | None:
        return None if self.store is None else self.store.name

    # --------------------------------------------------------------- menu
    def add_actions(self, menu: QMenu) -> dict[str, QAction]:
        """Open case…, New case…, Rename case…, Close case, added to ``menu`` (File)."""
        specs = [("open", "Open &case…", self.open_case), ("new", "&New case…", self.new_case),
                 ("rename", "Rena&me case…", self.rename_case), ("close", "C&lose case", self.close_case)]
        for key, text, slot in specs:
            action = QAction(text, menu)
            action.setObjectName(f"case_{key}_action")
            action.triggered.connect(slot)
            menu.addAction(action)
            self.actions[key] = action
        self._update_actions()
        return self.actions

    # --------------------------------------------------------------- slots
    @Slot()
    def open_case(self) -> str | None:
        """The case dialog; the chosen case is opened (``case_opened``)."""
        dialog = CaseDialog(self._window, self.db_path, current=self.current_name)
        dialog.case_renamed.connect(self._on_renamed_elsewhere)
        dialog.case_deleted.connect(self._on_deleted_elsewhere)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.chosen is None:
            return None
        return self.open_named(dialog.chosen)

    @Slot()
    def new_case(self) -> str | None:
        name, ok = QInputDialog.getText(self._window, "New case", "Case name:")
        if not ok:
            return None
        return self.create_named(name)

    @Slot()
    def rename_case(self) -> str | None:
        if self.store is None:
            return None
        old = self.store.name
        new, ok = QInputDialog.getText(self._window, "Rename case", f"New name for {old}:", text=old)
        if not ok or new.strip() == old:
            return None
        return self.rename_to(new)

    @Slot()
    def close_case(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
            self._update_actions()
            self.case_closed.emit()

    # --------------------------------------------------------------- API without prompts
    def open_named(self, name: str) -> str | None:
        """Open a case and emit its stored results; on an error, a message box and None."""
        try:
            store = CaseStore.open(name, self.db_path)
            results = store.results()
        except LayerScopeError as exc:
            self._warn("Open case", str(exc))
            return None
        self._replace(store)
        self.case_opened.emit(store.name, results)
        return store.name

    def create_named(self, name: str) -> str | None:
        try:
            store = CaseStore.create(name, db_path=self.db_path)
        except LayerScopeError as exc:
            self._warn("New case", str(exc))
            return None
        self._replace(store)
        self.case_opened.emit(store.name, [])
        return store.name

    def rename_to(self, new: str) -> str | None:
        if self.store is None:
            return None
        try:
            stored = self.store.rename(new)
        except LayerScopeError as exc:
            self._warn("Rename case", str(exc))
            return None
        self.case_renamed.emit(stored)
        return stored

    def record(self, result: ScanResult) -> int | None:
        """Store a result the window just received in the open case (no-op without one); returns its id."""
        if self.store is None:
            return None
        try:
            return self.store.add_result(result)
        except Exception as exc:  # a failed write (disk full, locked too long) must not lose the shown result
            self.record_failed.emit(result.path, f"not stored in case: {exc}")
            return None

    def record_moves(self, moved: dict[str, str]) -> int:
        """Files of the open case found elsewhere (stored path -> new path): the case follows them, so they open
        at their new place next time; the path each was scanned at stays on record. Returns how many moved."""
        if self.store is None:
            return 0
        done = 0
        for old, new in moved.items():
            try:
                self.store.move_file(old, new)
                done += 1
            except LayerScopeError as exc:  # not in this case (scanned before it was opened), or a clash
                if "not in case" not in str(exc):
                    self.record_failed.emit(new, str(exc))
            except Exception as exc:  # a failed write must not lose what the table shows
                self.record_failed.emit(new, f"move not stored in case: {exc}")
        return done

    # --------------------------------------------------------------- internals
    def _replace(self, store: CaseStore) -> None:
        if self.store is not None:
            self.store.close()
        self.store = store
        self._update_actions()

    @Slot(str, str)
    def _on_renamed_elsewhere(self, _old: str, _new: str) -> None:
        if self.store is not None:
            self.case_renamed.emit(self.store.name)  # the store follows by id

    @Slot(str)
    def _on_deleted_elsewhere(self, _name: str) -> None:
        if self.store is None:
            return
        try:
            self.store.name  # noqa: B018 raises once the open case is gone
        except LayerScopeError:
            self.store.close()
            self.store = None
            self._update_actions()
            self.case_closed.emit()

    def _update_actions(self) -> None:
        for key in ("rename", "close"):
            if key in self.actions:
                self.actions[key].setEnabled(self.store is not None)

    def _warn(self, title: str, message: str) -> None:
        QMessageBox.warning(self._window, title, message)
