"""The one drop handler, the one choice combo and the one number formatter every view shares."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QLabel

from deepfake_gui.core.present import fmt_number
from deepfake_gui.gui.widgets import FileDrops, choice_combo, local_paths


def _mime(*urls: QUrl) -> QMimeData:
    mime = QMimeData()
    mime.setUrls(list(urls))
    return mime


def _drop(widget, mime: QMimeData) -> QDropEvent:
    """A drag entering ``widget``, then the drop, sent through Qt as a real one arrives."""
    enter = QDragEnterEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return event


def test_dropped_local_files_and_folders_arrive_as_paths(qtbot, tmp_path: Path) -> None:
    target = QLabel()
    qtbot.addWidget(target)
    drops = FileDrops(target)
    assert target.acceptDrops()
    got: list[list[str]] = []
    drops.paths_dropped.connect(got.append)
    event = _drop(target, _mime(QUrl.fromLocalFile(str(tmp_path / "a.png")), QUrl.fromLocalFile(str(tmp_path)),
                                QUrl("https://example.org/b.png")))
    assert got == [[str(tmp_path / "a.png"), str(tmp_path)]] and event.isAccepted()


def test_a_drop_without_local_files_is_left_alone(qtbot) -> None:
    target = QLabel()
    qtbot.addWidget(target)
    got: list[list[str]] = []
    FileDrops(target).paths_dropped.connect(got.append)
    _drop(target, _mime(QUrl("https://example.org/b.png")))
    assert got == []
    empty = QMimeData()  # kept referenced: the event holds a plain pointer to it
    enter = QDragEnterEvent(QPointF(5, 5), Qt.DropAction.CopyAction, empty, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    enter.ignore()
    QApplication.sendEvent(target, enter)
    assert not enter.isAccepted()  # no URLs: not a file drag


def test_the_window_and_its_drop_area_share_the_handler(qtbot, tmp_path: Path) -> None:
    from deepfake_gui.gui.main_window import MainWindow
    from deepfake_gui.gui.panels import DropArea

    area = DropArea()
    qtbot.addWidget(area)
    assert isinstance(area.drops, FileDrops)
    assert "dropEvent" not in MainWindow.__dict__ and "dropEvent" not in DropArea.__dict__
    got: list[list[str]] = []
    area.paths_dropped.connect(got.append)
    _drop(area, _mime(QUrl.fromLocalFile(str(tmp_path / "c.wav"))))
    assert got == [[str(tmp_path / "c.wav")]]


def test_local_paths_skips_remote_and_empty_urls(tmp_path: Path) -> None:
    assert local_paths([QUrl.fromLocalFile(str(tmp_path)), QUrl(), QUrl("ftp://x/y")]) == [str(tmp_path)]


def test_choice_combo_offers_labels_and_returns_values(qtbot) -> None:
    combo = choice_combo("verdictFilter", (("All verdicts", None), ("Fake", "fake")))
    qtbot.addWidget(combo)
    assert combo.objectName() == "verdictFilter" and combo.count() == 2
    assert [combo.itemText(i) for i in range(2)] == ["All verdicts", "Fake"]
    assert combo.currentData() is None
    combo.setCurrentIndex(1)
    assert combo.currentData() == "fake"


@pytest.mark.parametrize(("value", "spec", "missing", "expected"), [
    (None, ".3f", "—", "—"),
    (None, ".3f", "n/a", "n/a"),
    (0.91234, ".3f", "—", "0.912"),
    (1, ".3f", "—", "1.000"),
    (0.25, ".0%", "—", "25%"),
    (0.02, "g", "—", "0.02"),
    ("high", ".3f", "—", "high"),  # not a number: shown as it is
])
def test_fmt_number(value, spec, missing, expected) -> None:
    assert fmt_number(value, spec, missing) == expected


def test_the_card_the_report_and_the_cli_format_numbers_alike() -> None:
    from deepfake_gui import cli
    from deepfake_gui.report import context

    assert cli._na(None) == "n/a" and cli._na(0.5) == fmt_number(0.5) == "0.500"
    assert not hasattr(context, "_num") and not hasattr(cli, "_fmt")
