"""The user's preferences: what they are, how they persist, and the dialog that edits them.

Why a dataclass in front of QSettings: the ini file is plain text a user may edit
by hand, and QSettings hands back whatever it finds there (strings, lists, junk).
``AppSettings.load`` validates each key on its own, so one bad line costs that one
setting its value, never the app its start-up. The rest of the GUI only ever sees
a valid AppSettings.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from deepfake_gui.engine.scan import ScanOptions
from deepfake_gui.gui.theme import verdict_text_color
from deepfake_gui.gui.widgets import choice_combo

log = logging.getLogger(__name__)

DEVICES = (("Automatic (GPU when PyTorch sees one)", "auto"), ("CPU", "cpu"), ("CUDA GPU", "cuda"))
THEMES = (("Follow the system", "system"), ("Light", "light"), ("Dark", "dark"))
BATCH_RANGE = (0, 256)  # 0 = automatic: 16 on CPU, from free GPU memory on CUDA
FPS_RANGE = (0.1, 30.0)
MODELS_ENV = "LAYERSCOPE_MODELS_DIR"

# field -> ini key; grouped so the file reads well when opened by hand
KEYS = {
    "device": "scan/device",
    "batch_size": "scan/batch_size",
    "frames_per_second": "scan/frames_per_second",
    "faces": "scan/faces",
    "models_folder": "models/folder",
    "show_threshold": "view/show_threshold",
    "show_band": "view/show_band",
    "theme": "view/theme",
}
RELOAD_FIELDS = ("device", "models_folder")  # the detectors' encoders must be rebuilt when these change


@dataclass(frozen=True)
class AppSettings:
    """Every user preference, always valid (``load`` repairs what it cannot parse)."""

    device: str = "auto"  # auto | cpu | cuda
    batch_size: int = 0  # crops per encoder call (0: automatic); lower it when GPU or RAM is short
    models_folder: str = ""  # encoder weights folder; "" = the default (models_dir())
    frames_per_second: float = 2.0  # video frames sampled per second
    faces: bool = False  # score face crops of video frames instead of whole-frame tiles
    show_threshold: bool = True  # evidence plots: the detector's threshold line
    show_band: bool = True  # evidence plots: the shaded inconclusive band around it
    theme: str = "system"  # system | light | dark

    @classmethod
    def load(cls, qsettings: QSettings) -> AppSettings:
        """Read every key; a missing or unparsable one takes its default (and is logged), the others stay."""
        defaults = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = qsettings.value(KEYS[f.name])
            if raw is None:
                continue
            try:
                values[f.name] = _PARSERS[f.name](raw)
            except (TypeError, ValueError) as exc:
                log.warning("settings: %s = %r in %s is not valid (%s); using %r", KEYS[f.name], raw,
                            qsettings.fileName(), exc, getattr(defaults, f.name))
        return cls(**values)

    def save(self, qsettings: QSettings) -> None:
        for f in fields(self):
            qsettings.setValue(KEYS[f.name], getattr(self, f.name))
        qsettings.sync()

    def scan_options(self, base: ScanOptions | None = None) -> ScanOptions:
        """``base`` with this user's scan preferences; batch_size only once ScanOptions has that field."""
        base = base or ScanOptions()
        changes: dict[str, Any] = {"device": self.device, "frames_per_second": self.frames_per_second,
                                   "faces": self.faces}
        if "batch_size" in {f.name for f in fields(base)}:
            changes["batch_size"] = self.batch_size or None  # None: the scan chooses
        return dataclasses.replace(base, **changes)


# ------------------------------------------------------------------ parsing
def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower() if isinstance(raw, (str, int)) else None
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _parse_choice(choices: tuple[tuple[str, str], ...]):
    allowed = [value for _label, value in choices]

    def parse(raw: Any) -> str:
        if not isinstance(raw, str) or raw.strip().lower() not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return raw.strip().lower()

    return parse


def _parse_int(lo: int, hi: int):
    def parse(raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, (int, str)):
            raise ValueError("expected a whole number")
        value = int(str(raw).strip())
        if not lo <= value <= hi:
            raise ValueError(f"expected {lo} to {hi}")
        return value

    return parse


def _parse_float(lo: float, hi: float):
    def parse(raw: Any) -> float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise ValueError("expected a number")
        value = float(str(raw).strip())
        if not math.isfinite(value) or not lo <= value <= hi:
            raise ValueError(f"expected {lo:g} to {hi:g}")
        return value

    return parse


def _parse_folder(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("expected a folder path")
    return raw.strip()


_PARSERS = {
    "device": _parse_choice(DEVICES),
    "batch_size": _parse_int(*BATCH_RANGE),
    "frames_per_second": _parse_float(*FPS_RANGE),
    "faces": _parse_bool,
    "models_folder": _parse_folder,
    "show_threshold": _parse_bool,
    "show_band": _parse_bool,
    "theme": _parse_choice(THEMES),
}


# ------------------------------------------------------------------ applying
def needs_reload(old: AppSettings, new: AppSettings) -> bool:
    """True when the loaded detectors are stale: their encoders sit on another device or came from another folder."""
    return any(getattr(old, name) != getattr(new, name) for name in RELOAD_FIELDS)


_ENV_AT_START: dict[str, str | None] = {}


def apply_models_folder(folder: str) -> None:
    """Point encoder-weight lookup (core.config.models_dir) at ``folder``; "" restores the start-up value.

    The environment variable is what models_dir() reads on every call, so the next
    detector load sees it; the value the app was started with is kept, so an empty
    setting never discards a LAYERSCOPE_MODELS_DIR the user exported.
    """
    _ENV_AT_START.setdefault(MODELS_ENV, os.environ.get(MODELS_ENV))
    if folder:
        os.environ[MODELS_ENV] = str(Path(folder).expanduser())
        return
    original = _ENV_AT_START[MODELS_ENV]
    if original is None:
        os.environ.pop(MODELS_ENV, None)
    else:
        os.environ[MODELS_ENV] = original


def default_models_folder() -> Path:
    """The weights folder an empty setting means (as the app was started)."""
    from deepfake_gui.core.config import data_dir

    original = _ENV_AT_START.get(MODELS_ENV, os.environ.get(MODELS_ENV))
    return Path(original) if original else data_dir() / "models"


def user_detectors_folder() -> Path:
    """Where detectors the user trains or imports live (engine.detectors.known_detector_folders)."""
    from deepfake_gui.core.config import data_dir

    return data_dir() / "detectors"


# ------------------------------------------------------------------ dialog
class SettingsDialog(QDialog):
    """Edits a copy of the settings; ``settings_accepted`` carries the new AppSettings on OK.

    Nothing is applied or saved here: the caller decides (``needs_reload`` tells it
    whether the detectors must be loaded again).
    """

    settings_accepted = Signal(object)

    def __init__(self, current: AppSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("LayerScope settings")
        self.setObjectName("settingsDialog")
        self._initial = current or AppSettings()
        self.device_combo = choice_combo("deviceCombo", DEVICES)
        self.device_combo.setToolTip("Where the encoders run. CUDA needs an NVIDIA GPU that PyTorch can see; "
                                     "without one the detectors are reported unavailable.")
        self.batch_spin = QSpinBox()
        self.batch_spin.setObjectName("batchSpin")
        self.batch_spin.setRange(*BATCH_RANGE)
        self.batch_spin.setSpecialValueText("Automatic")
        self.batch_spin.setToolTip("Image tiles or video frames sent to the encoder at once. Lower it if scans "
                                   "run out of memory; higher is faster on a GPU. Automatic: 16 on the CPU, "
                                   "and on a GPU as many as half its free memory holds.")
        self.fps_spin = QDoubleSpinBox()
        self.fps_spin.setObjectName("fpsSpin")
        self.fps_spin.setRange(*FPS_RANGE)
        self.fps_spin.setDecimals(2)
        self.fps_spin.setSingleStep(0.5)
        self.fps_spin.setSuffix(" frames/s")
        self.fps_spin.setToolTip("Video frames scored per second of video: more finds short edits, "
                                 "fewer scans faster.")
        self.faces_check = QCheckBox("Score face crops instead of whole frames")
        self.faces_check.setObjectName("facesCheck")
        self.faces_check.setToolTip("For face-swap videos: the largest face of each sampled frame is scored. "
                                    "Frames without a face fall back to the whole frame.")
        self.folder_edit = QLineEdit()
        self.folder_edit.setObjectName("modelsFolderEdit")
        self.folder_edit.setPlaceholderText(f"default: {default_models_folder()}")
        self.folder_edit.setClearButtonEnabled(True)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setObjectName("browseButton")
        self.browse_button.clicked.connect(self._browse)
        self.folder_problem = QLabel()
        self.folder_problem.setObjectName("folderProblem")
        self.folder_problem.setWordWrap(True)
        self.folder_problem.setStyleSheet(f"color: {verdict_text_color('fake')};")  # readable in either theme
        self.folder_edit.textChanged.connect(self._check_folder)
        self.threshold_check = QCheckBox("Show the detector's threshold line")
        self.threshold_check.setObjectName("thresholdCheck")
        self.band_check = QCheckBox("Shade the inconclusive band")
        self.band_check.setObjectName("bandCheck")
        self.theme_combo = choice_combo("themeCombo", THEMES)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                        | QDialogButtonBox.StandardButton.RestoreDefaults)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.clicked.connect(self._on_button)
        self._build_layout()
        self.set_settings(self._initial)

    def _build_layout(self) -> None:
        scan = QGroupBox("Scanning")
        form = QFormLayout(scan)
        form.addRow("Device", self.device_combo)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Video sampling", self.fps_spin)
        form.addRow("", self.faces_check)
        models = QGroupBox("Models")
        models_form = QFormLayout(models)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, stretch=1)
        folder_row.addWidget(self.browse_button)
        models_form.addRow("Encoder weights folder", folder_row)
        models_form.addRow("", self.folder_problem)
        detectors = QLabel(f"Your own detectors are read from {user_detectors_folder()}")
        detectors.setObjectName("detectorsFolderLabel")
        detectors.setWordWrap(True)
        models_form.addRow("", detectors)
        view = QGroupBox("Display")
        view_form = QFormLayout(view)
        view_form.addRow("Theme", self.theme_combo)
        view_form.addRow("Evidence plots", self.threshold_check)
        view_form.addRow("", self.band_check)
        layout = QVBoxLayout(self)
        for box in (scan, models, view):
            layout.addWidget(box)
        layout.addWidget(self.buttons)

    # -------------------------------------------------------------- public API
    def settings(self) -> AppSettings:
        """The settings as the form shows them now."""
        return AppSettings(
            device=str(self.device_combo.currentData()),
            batch_size=self.batch_spin.value(),
            models_folder=self.folder_edit.text().strip(),
            frames_per_second=round(self.fps_spin.value(), 2),
            faces=self.faces_check.isChecked(),
            show_threshold=self.threshold_check.isChecked(),
            show_band=self.band_check.isChecked(),
            theme=str(self.theme_combo.currentData()),
        )

    def set_settings(self, settings: AppSettings) -> None:
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(settings.device)))
        self.batch_spin.setValue(settings.batch_size)
        self.folder_edit.setText(settings.models_folder)
        self.fps_spin.setValue(settings.frames_per_second)
        self.faces_check.setChecked(settings.faces)
        self.threshold_check.setChecked(settings.show_threshold)
        self.band_check.setChecked(settings.show_band)
        self.theme_combo.setCurrentIndex(max(0, self.theme_combo.findData(settings.theme)))
        self._check_folder()

    def restore_defaults(self) -> None:
        self.set_settings(AppSettings())

    def accept(self) -> None:
        if not self._check_folder():
            return  # the message under the folder says why; OK is disabled anyway
        self.settings_accepted.emit(self.settings())
        super().accept()

    # --------------------------------------------------------------- internals
    @Slot(QAbstractButton)
    def _on_button(self, button: QAbstractButton) -> None:
        if self.buttons.buttonRole(button) == QDialogButtonBox.ButtonRole.ResetRole:
            self.restore_defaults()

    @Slot()
    def _browse(self) -> None:
        start = self.folder_edit.text().strip() or str(default_models_folder())
        folder = QFileDialog.getExistingDirectory(self, "Encoder weights folder", start)
        if folder:
            self.folder_edit.setText(folder)

    def _check_folder(self, *_args: object) -> bool:
        """A typed folder must exist: a typo would make every detector 'unavailable' at the next scan."""
        text = self.folder_edit.text().strip()
        ok = not text or Path(text).expanduser().is_dir()
        self.folder_problem.setText("" if ok else f"{text} is not a folder")
        self.folder_problem.setVisible(not ok)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)
        return ok
