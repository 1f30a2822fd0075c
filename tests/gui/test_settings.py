"""Settings persistence and dialog, light/dark themes, the About dialog and the shortcuts list.

Every test that changes the application's theme restores it (the ``restore_theme``
fixture), because all GUI tests share one QApplication.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMenuBar

from deepfake_gui.core.config import models_dir, shipped_models_dir
from deepfake_gui.encoders.registry import get_spec, list_encoders
from deepfake_gui.engine.inventory import detector_rows
from deepfake_gui.engine.scan import ScanOptions
from deepfake_gui.gui import settings as settings_module
from deepfake_gui.gui import theme
from deepfake_gui.gui.about import (
    CHECKING,
    AboutDialog,
    ShortcutsDialog,
    menu_actions,
    shortcut_conflicts,
    shortcut_rows,
)
from deepfake_gui.gui.settings import AppSettings, SettingsDialog, apply_models_folder, needs_reload
from deepfake_gui.gui.views.common import wait_for_background

CUSTOM = AppSettings(device="cpu", batch_size=5, models_folder="/opt/weights", frames_per_second=0.5, faces=True,
                     show_threshold=False, show_band=False, theme="dark")


def ini(tmp_path: Path, text: str | None = None) -> QSettings:
    path = tmp_path / "gui.ini"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    return QSettings(str(path), QSettings.Format.IniFormat)


@pytest.fixture
def restore_theme(qapp: QApplication):
    """Put the shared QApplication back as it was: style, palette and pyqtgraph's colours."""
    background, foreground = pg.getConfigOption("background"), pg.getConfigOption("foreground")
    style = qapp.style().name()
    yield qapp
    theme.apply_theme(qapp, "system")
    qapp.setStyle(style)
    pg.setConfigOptions(background=background, foreground=foreground)


# ------------------------------------------------------------------ persistence
def test_settings_round_trip_through_an_ini_file(tmp_path: Path) -> None:
    CUSTOM.save(ini(tmp_path))
    loaded = AppSettings.load(ini(tmp_path))
    assert loaded == CUSTOM
    assert all(type(getattr(loaded, f.name)) is type(getattr(CUSTOM, f.name)) for f in fields(AppSettings))


def test_missing_file_gives_the_defaults(tmp_path: Path) -> None:
    assert AppSettings.load(ini(tmp_path)) == AppSettings()


def test_a_hand_edited_ini_loses_only_its_bad_keys(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = "\n".join([
        "[scan]",
        "device=quantum",  # not a device
        "batch_size=-3",  # out of range
        "frames_per_second=nan",
        "faces=maybe",
        "[models]",
        "folder=/data/weights",  # fine
        "[view]",
        "theme=Dark",  # fine: case does not matter
        "show_band=false",  # fine
        "show_threshold=yes, no",  # QSettings reads this as a list
        "[window]",
        "geometry=@ByteArray(xyz)",  # other keys of the file are not ours
        "",
    ])
    loaded = AppSettings.load(ini(tmp_path, text))
    defaults = AppSettings()
    assert loaded.device == defaults.device
    assert loaded.batch_size == defaults.batch_size
    assert loaded.frames_per_second == defaults.frames_per_second
    assert loaded.faces == defaults.faces
    assert loaded.show_threshold == defaults.show_threshold
    assert (loaded.models_folder, loaded.theme, loaded.show_band) == ("/data/weights", "dark", False)
    assert "scan/device" in caplog.text and "scan/batch_size" in caplog.text


def test_scan_options_take_the_scan_settings_and_keep_the_rest() -> None:
    base = ScanOptions(window_s=3.0, hop_s=1.0, max_tiles=9, detectors=["image-effnet"])
    options = CUSTOM.scan_options(base)
    assert (options.device, options.frames_per_second, options.faces) == ("cpu", 0.5, True)
    assert (options.window_s, options.hop_s, options.max_tiles, options.detectors) == (3.0, 1.0, 9, ["image-effnet"])
    assert options.batch_size == 5
    assert AppSettings().scan_options() == ScanOptions()
    assert AppSettings().scan_options().batch_size is None  # the default is automatic: the scan picks it


def test_batch_spin_shows_automatic_at_zero(qtbot) -> None:
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    assert dialog.batch_spin.value() == 0 and dialog.batch_spin.text() == "Automatic"
    dialog.batch_spin.setValue(32)
    assert dialog.settings().batch_size == 32


def test_only_device_and_models_folder_need_a_detector_reload() -> None:
    base = AppSettings()
    assert needs_reload(base, AppSettings(device="cpu"))
    assert needs_reload(base, AppSettings(models_folder="/x"))
    for change in ({"theme": "dark"}, {"batch_size": 3}, {"faces": True}, {"show_band": False},
                   {"frames_per_second": 1.0}):
        assert not needs_reload(base, AppSettings(**change))


def test_models_folder_points_weight_lookup_elsewhere_and_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_module, "_ENV_AT_START", {})
    monkeypatch.setenv("LAYERSCOPE_MODELS_DIR", str(tmp_path / "exported"))
    apply_models_folder(str(tmp_path / "mine"))
    assert models_dir() == tmp_path / "mine"
    apply_models_folder("")  # the folder the app was started with comes back
    assert models_dir() == tmp_path / "exported"
    assert settings_module.default_models_folder() == tmp_path / "exported"


# ------------------------------------------------------------------ dialog
def test_dialog_edits_show_in_settings_and_restore_defaults(qtbot, tmp_path: Path) -> None:
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.device_combo.setCurrentIndex(dialog.device_combo.findData("cuda"))
    dialog.batch_spin.setValue(64)
    dialog.fps_spin.setValue(4.5)
    dialog.faces_check.setChecked(True)
    dialog.folder_edit.setText(str(tmp_path))
    dialog.band_check.setChecked(False)
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("light"))
    assert dialog.settings() == AppSettings(device="cuda", batch_size=64, models_folder=str(tmp_path),
                                            frames_per_second=4.5, faces=True, show_band=False, theme="light")
    dialog.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).click()
    assert dialog.settings() == AppSettings()


def test_dialog_shows_current_settings_and_emits_them_on_ok(qtbot, tmp_path: Path) -> None:
    current = AppSettings(device="cpu", batch_size=5, models_folder=str(tmp_path), frames_per_second=0.5,
                          faces=True, show_threshold=False, theme="dark")
    dialog = SettingsDialog(current)
    qtbot.addWidget(dialog)
    assert dialog.settings() == current
    with qtbot.waitSignal(dialog.settings_accepted) as signal:
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert signal.args == [current]


def test_dialog_refuses_a_folder_that_does_not_exist(qtbot, tmp_path: Path) -> None:
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.folder_edit.setText(str(tmp_path / "typo"))
    assert not ok.isEnabled() and "is not a folder" in dialog.folder_problem.text()
    dialog.folder_edit.setText("")
    assert ok.isEnabled()


# ------------------------------------------------------------------ themes
def test_dark_and_light_themes_change_palette_and_plots(qtbot, restore_theme: QApplication) -> None:
    app = restore_theme
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    axis = plot.getPlotItem().getAxis("left")
    window = QPalette.ColorRole.Window

    assert theme.apply_theme(app, "dark") == "dark"
    assert app.palette().color(window).lightness() < 80
    assert app.style().name().lower() == "fusion"
    assert pg.mkColor(pg.getConfigOption("background")).name() == theme.PLOT_STYLES["dark"].background
    assert plot.backgroundBrush().color().name() == theme.PLOT_STYLES["dark"].background
    assert axis.pen().color().name() == theme.PLOT_STYLES["dark"].foreground
    assert theme.is_dark(app) and theme.current_theme() == "dark"

    theme.apply_theme(app, "light")
    assert app.palette().color(window).lightness() > 200
    assert pg.mkColor(pg.getConfigOption("background")).name() == "#ffffff"
    assert plot.backgroundBrush().color().name() == "#ffffff"
    assert axis.pen().color().name() == theme.PLOT_STYLES["light"].foreground
    assert not theme.is_dark(app)
    assert pg.PlotWidget().backgroundBrush().color().name() == "#ffffff"  # new plots follow too


def test_system_theme_puts_back_what_the_platform_gave(qtbot, restore_theme: QApplication) -> None:
    app = restore_theme
    theme.apply_theme(app, "system")  # remembers the platform's look the first time
    window = app.palette().color(QPalette.ColorRole.Window).name()
    background = pg.mkColor(pg.getConfigOption("background")).name()
    theme.apply_theme(app, "dark")
    assert app.palette().color(QPalette.ColorRole.Window).name() != window
    assert theme.apply_theme(app, "no-such-theme") == "system"  # a hand-edited ini never breaks start-up
    assert app.palette().color(QPalette.ColorRole.Window).name() == window
    assert pg.mkColor(pg.getConfigOption("background")).name() == background


def test_a_colour_a_view_chose_survives_a_theme_change(qtbot, restore_theme: QApplication) -> None:
    plot = pg.PlotWidget(background="#123456")
    qtbot.addWidget(plot)
    axis = plot.getPlotItem().getAxis("bottom")
    axis.setPen("#ff00ff")
    theme.apply_theme(restore_theme, "light")
    assert plot.backgroundBrush().color().name() == "#123456"
    assert axis.pen().color().name() == "#ff00ff"


@pytest.mark.parametrize("name", ["light", "dark"])
def test_theme_text_is_readable(name: str) -> None:
    roles = theme.LIGHT if name == "light" else theme.DARK
    role = theme.Role

    def colour(r):
        return roles[r][0]

    for text, background in ((role.WindowText, role.Window), (role.Text, role.Base), (role.ButtonText, role.Button),
                             (role.ToolTipText, role.ToolTipBase), (role.HighlightedText, role.Highlight),
                             (role.Link, role.Base), (role.LinkVisited, role.Base), (role.PlaceholderText, role.Base)):
        assert theme.contrast_ratio(colour(text), colour(background)) >= 4.5, (text, background)
    disabled = roles[role.Text][1]
    assert disabled is not None and 2.5 <= theme.contrast_ratio(disabled, colour(role.Base)) < 4.5  # dimmed, legible


@pytest.mark.parametrize("name", ["light", "dark"])
def test_view_colours_offered_per_theme_are_readable(name: str) -> None:
    window = (theme.LIGHT if name == "light" else theme.DARK)[theme.Role.Window][0]
    for verdict, colour in theme.VERDICT_TEXT[name].items():
        assert theme.contrast_ratio(colour, window) >= 4.5, verdict
    plot_backgrounds = [theme.PLOT_STYLES[name].background] + (["#000000"] if name == "dark" else [])
    for role, colour in theme.PLOT_ACCENTS[name].items():
        for background in plot_backgrounds:
            assert theme.contrast_ratio(colour, background) >= 3.0, (role, background)


def test_views_get_colours_for_the_current_theme(restore_theme: QApplication) -> None:
    theme.apply_theme(restore_theme, "dark")
    assert theme.verdict_text_color("fake") == theme.VERDICT_TEXT["dark"]["fake"]
    assert theme.plot_accent("cursor") == theme.PLOT_ACCENTS["dark"]["cursor"]
    theme.apply_theme(restore_theme, "light")
    assert theme.verdict_text_color(None) == theme.VERDICT_TEXT["light"]["none"]
    assert theme.plot_accent("threshold") == theme.PLOT_ACCENTS["light"]["threshold"]


def test_theme_menu_offers_each_theme(qtbot) -> None:
    menu = theme.ThemeMenu("dark")
    qtbot.addWidget(menu)
    assert [a.data() for a in menu.actions()] == list(theme.THEME_NAMES)
    assert menu.theme_actions["dark"].isChecked()
    with qtbot.waitSignal(menu.theme_chosen) as signal:
        menu.theme_actions["light"].trigger()
    assert signal.args == ["light"] and not menu.theme_actions["dark"].isChecked()


# ------------------------------------------------------------------ about
def test_about_lists_versions_device_encoders_and_detectors(qtbot) -> None:
    torch_loaded_before = "torch" in sys.modules
    dialog = AboutDialog("CUDA: Test GPU")
    qtbot.addWidget(dialog)
    labels = {name: label.text() for name, label in dialog.version_labels.items()}
    assert labels["Device"] == "CUDA: Test GPU"
    assert labels["LayerScope"] == __import__("deepfake_gui").__version__
    assert labels["pyqtgraph"] == pg.__version__
    assert "MIT" in labels["Licence"]

    table = dialog.encoders_table
    rows = {table.item(r, 0).text(): (table.item(r, 1).text(), table.item(r, 2).text())
            for r in range(table.rowCount())}
    assert rows == {n: (get_spec(n).modality, get_spec(n).licence) for n in list_encoders(include_test=False)}

    assert wait_for_background()
    qtbot.waitUntil(lambda: CHECKING not in dialog.weights_column().values())
    assert set(dialog.weights_column().values()) <= {"present", "missing", "checksum-mismatch"}
    if not torch_loaded_before:
        assert "torch" not in sys.modules  # versions come from metadata, never from importing torch

    shipped = {json.loads(p.read_text())["name"]: json.loads(p.read_text())
               for p in shipped_models_dir().glob("*/detector.json")}
    det = dialog.detectors_table
    shown = {det.item(r, 0).text(): [det.item(r, c).text() for c in range(det.columnCount())]
             for r in range(det.rowCount())}
    assert set(shipped) <= set(shown)
    for name, meta in shipped.items():
        row = shown[name]
        assert row[1] == "shipped" and row[3] == meta["encoder"]["name"]
        assert row[5] == f"{meta['metrics']['cv_auc']:.3f}"
        assert str(meta["training"]["n_items"]) in row[4]
        assert get_spec(meta["encoder"]["name"]).licence in row[6]
    assert "CUDA: Test GPU" in dialog.details_text()


def test_detector_rows_survive_a_broken_bundle_and_show_its_own_licence(tmp_path: Path) -> None:
    broken, own = tmp_path / "broken", tmp_path / "own"
    broken.mkdir()
    own.mkdir()
    (broken / "detector.json").write_text("{not json")
    (own / "detector.json").write_text(json.dumps({
        "name": "my-probe", "modality": "audio", "licence": "CC-BY-4.0", "encoder": {"name": "ge2e-resemblyzer"},
        "training": {"n_items": 12, "n_real": 6, "n_fake": 6, "generators": {"real": 6, "tts-x": 6}},
        "metrics": {"cv_auc": 0.75}}))
    bad, good = detector_rows([broken, own])
    assert bad.training.startswith("unreadable") and bad.cv_auc is None
    assert (good.name, good.source, good.cv_auc) == ("my-probe", "yours", 0.75)
    assert good.training == "12 files: 6 real, 6 fake (tts-x)"
    assert good.licence == f"probe: CC-BY-4.0; encoder weights: {get_spec('ge2e-resemblyzer').licence}"


# ------------------------------------------------------------------ shortcuts
def _actions(parent) -> list[QAction]:
    specs = (("&Open file…", QKeySequence.StandardKey.Open), ("Settings…", "Ctrl+,"), ("&Rescan all", "Ctrl+R"),
             ("Save && close", "Ctrl+R"), ("No shortcut", None))
    actions = []
    for text, key in specs:
        action = QAction(text, parent)
        if key is not None:
            action.setShortcut(QKeySequence(key))
        actions.append(action)
    return actions


def test_shortcuts_list_the_given_actions(qtbot) -> None:
    bar = QMenuBar()
    qtbot.addWidget(bar)
    actions = _actions(bar)
    file_menu = bar.addMenu("&File")
    file_menu.addAction(actions[0])
    file_menu.addSeparator()
    sub = file_menu.addMenu("More")
    sub.addActions(actions[1:])
    assert menu_actions(bar) == actions

    rows = shortcut_rows(actions)
    assert [r[0] for r in rows] == ["Open file…", "Settings…", "Rescan all", "Save & close"]
    assert rows[1][1] == QKeySequence("Ctrl+,").toString(QKeySequence.SequenceFormat.NativeText)
    assert rows[0][1] == QKeySequence(QKeySequence.StandardKey.Open).toString(QKeySequence.SequenceFormat.NativeText)
    assert shortcut_rows(actions, include_unbound=True)[-1] == ("No shortcut", "")
    assert shortcut_conflicts(actions) == {"Ctrl+R": ["Rescan all", "Save & close"]}

    dialog = ShortcutsDialog(actions)
    qtbot.addWidget(dialog)
    table = dialog.table
    assert [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())] == rows
    assert not dialog.conflict_label.isHidden() and "Ctrl+R" in dialog.conflict_label.text()
