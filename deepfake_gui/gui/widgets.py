"""Small pieces every window shares: the one file-drop handler, the one choice combo, a row of buttons.

Kept in one place so that dropping files behaves the same on the drop area and on the
rest of the window, and every filter or setting combo is built the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import QEvent, QObject, QUrl, Signal
from PySide6.QtWidgets import QBoxLayout, QComboBox, QHBoxLayout, QPushButton, QWidget


def local_paths(urls: Iterable[QUrl]) -> list[str]:
    """The local files and folders among dropped URLs (web links and empty ones left out)."""
    return [u.toLocalFile() for u in urls if u.isLocalFile() and u.toLocalFile()]


class FileDrops(QObject):
    """Files and folders dropped on ``widget`` arrive as ``paths_dropped(list[str])``.

    An event filter, so any widget can take drops without overriding its drag handlers;
    a drag that carries no URL is left to the widget.
    """

    paths_dropped = Signal(list)

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        widget.setAcceptDrops(True)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.DragEnter and event.mimeData().hasUrls():  # type: ignore[attr-defined]
            event.acceptProposedAction()  # type: ignore[attr-defined]
            return True
        if kind == QEvent.Type.Drop:
            paths = local_paths(event.mimeData().urls())  # type: ignore[attr-defined]
            if paths:
                self.paths_dropped.emit(paths)
                event.acceptProposedAction()  # type: ignore[attr-defined]
                return True
        return super().eventFilter(watched, event)


def choice_combo(name: str, choices: Sequence[tuple[str, Any]]) -> QComboBox:
    """A combo named ``name`` (its object name) offering ``(label, value)`` pairs; ``currentData()`` is the value."""
    combo = QComboBox()
    combo.setObjectName(name)
    for label, value in choices:
        combo.addItem(label, value)
    return combo


def button_row(layout: QBoxLayout, *labels: str) -> tuple[QPushButton, ...]:
    """Buttons side by side, left-aligned, as a new row of ``layout``; returned in order."""
    row = QHBoxLayout()
    buttons = tuple(QPushButton(label) for label in labels)
    for button in buttons:
        row.addWidget(button)
    row.addStretch(1)
    layout.addLayout(row)
    return buttons
