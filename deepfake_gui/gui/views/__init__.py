"""Evidence views: one widget per result, the verdict card above the modality's own view.

``evidence_widget_for`` is all the main window needs; which view a result gets
is data (``VIEWS``), so a new modality is one entry, not another branch.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget

from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.relocate import file_is_missing
from deepfake_gui.gui.views.audio_view import AudioView
from deepfake_gui.gui.views.common import remember_splitter
from deepfake_gui.gui.views.image_view import ImageView
from deepfake_gui.gui.views.verdict_card import VerdictCard
from deepfake_gui.gui.views.video_view import VideoView

ViewFactory = Callable[[ScanResult], QWidget]
SPLITTER_KEY = "evidence/splitter"  # verdict card / evidence view

VIEWS: dict[str, ViewFactory] = {
    "image": ImageView,
    "video": VideoView,
    "audio": AudioView,
}

__all__ = ["VIEWS", "EvidenceWidget", "MissingFileBar", "VerdictCard", "evidence_widget_for"]


def _message(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("evidenceMessage")
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


def _view_for(result: ScanResult) -> QWidget | None:
    """The modality's view, a short explanation when there is nothing to draw, or None for errors."""
    if result.status != "ok":
        return None
    factory = VIEWS.get(result.modality or "")
    if factory is None:
        return _message(f"No evidence view for {result.modality or 'this kind of file'}.")
    if not result.arrays:
        return _message("This result carries no score arrays (scanned without keeping them, or no detector ran), "
                        "so there is no heatmap or timeline to draw.")
    try:
        return factory(result)
    except KeyError as exc:  # explain found no arrays for this track
        return _message(f"Nothing to draw for this file: {exc.args[0] if exc.args else exc}")


class MissingFileBar(QFrame):
    """Says the evidence file is gone from its stored path and offers to find it by its SHA-256 in a folder."""

    def __init__(self, result: ScanResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("missingFileBar")
        self.setStyleSheet("#missingFileBar { background: #fff3cd; border: 1px solid #e69500; border-radius: 4px; }"
                           "#missingFileBar QLabel { color: #3d2c00; }")
        self.label = QLabel(f"The file is no longer at {result.path}: frames, sound and picture cannot be "
                            "shown. If it moved, point at the folder it is in now; it is found by its SHA-256.")
        self.label.setWordWrap(True)
        self.button = QPushButton("Find it in a folder…")
        self.button.setObjectName("findMovedButton")
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 4, 6, 4)
        row.addWidget(self.label, stretch=1)
        row.addWidget(self.button)


class EvidenceWidget(QWidget):
    """The verdict card (scrollable) above the modality view, split so either can be given more room.

    ``locate_requested``: the user asked to find the moved evidence file (the window owns that job).
    """

    locate_requested = Signal()

    def __init__(self, result: ScanResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evidenceWidget")
        self.result = result
        self.card = VerdictCard(result)
        self.view = _view_for(result)
        scroll = QScrollArea()
        scroll.setObjectName("verdictScroll")
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.card)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.missing_bar: MissingFileBar | None = None
        if result.status != "error" and result.sha256 and file_is_missing(result):
            self.missing_bar = MissingFileBar(result)
            self.missing_bar.button.clicked.connect(self._ask_locate)
            layout.addWidget(self.missing_bar)
        if self.view is None:
            layout.addWidget(scroll)
            return
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(self.view)
        self.splitter.setObjectName("evidenceSplitter")
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        scroll.setMinimumHeight(140)  # the verdict and the first caveats stay readable next to a large view
        # the card gets about a third of the height to start with; a user's choice is kept for the next file
        remember_splitter(self.splitter, SPLITTER_KEY, [260, 540])
        layout.addWidget(self.splitter)

    def _ask_locate(self) -> None:
        self.locate_requested.emit()


def evidence_widget_for(result: ScanResult, parent: QWidget | None = None) -> QWidget:
    """The widget the main window shows for one selected result."""
    return EvidenceWidget(result, parent)
