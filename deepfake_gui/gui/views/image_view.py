"""The picture with the detector's heatmap laid over it.

Colours are centred on the detector's threshold (white): red leans fake, blue
leans real, unscored pixels stay clear. Decoding the picture and upsampling the
heatmap run off the GUI thread; the GUI only hands arrays to pyqtgraph.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.explain import Heatmap, image_heatmap
from deepfake_gui.gui.views.common import DISPLAY, accent, run_in_background

COLORMAP = "CET-D1"  # diverging blue-white-red, perceptually uniform
DEFAULT_OPACITY = 55
CAPTION = ("The overlay shows where the detector responded, not proof of manipulation. Colour = decision score: "
           "red above the detector's threshold (leans fake), blue below (leans real), white at the threshold "
           "(the red tick on the colour bar); clear where nothing was scored.")


def symmetric_levels(values: np.ndarray, centre: float) -> tuple[float, float]:
    """Levels centred on the threshold, so white always means 'at the threshold'."""
    finite = values[np.isfinite(values)]
    reach = float(np.max(np.abs(finite - centre))) if finite.size else 1.0
    reach = max(reach, 1e-3)
    return centre - reach, centre + reach


def _load(result: ScanResult) -> tuple[np.ndarray, Heatmap]:
    from deepfake_gui.media import load_image

    return load_image(result.path), image_heatmap(result)


class ImageView(QWidget):
    """Image + heatmap overlay with opacity, colour bar, zoom/pan and a score readout under the mouse."""

    loaded = Signal()

    def __init__(self, result: ScanResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = result
        self.heatmap: Heatmap | None = None
        self.detector = image_heatmap(result, full_size=False).detector  # raises KeyError early if no arrays
        self.graphics = pg.GraphicsLayoutWidget()
        self.view_box = self.graphics.addViewBox(row=0, col=0, lockAspect=True, invertY=True)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item.setOpacity(DEFAULT_OPACITY / 100)
        self.overlay_item.setZValue(10)
        self.view_box.addItem(self.image_item)
        self.view_box.addItem(self.overlay_item)
        self.color_bar = pg.ColorBarItem(colorMap=COLORMAP, label="decision score (logit)", interactive=False,
                                        width=16)
        self.color_bar.setImageItem(self.overlay_item)
        self.graphics.addItem(self.color_bar, row=0, col=1)
        self.threshold_marker = pg.InfiniteLine(128, angle=0, movable=False, pen=pg.mkPen(accent("threshold"), width=2))
        self.threshold_marker.setVisible(DISPLAY.show_threshold)
        self.color_bar.addItem(self.threshold_marker)  # levels are symmetric: the threshold sits mid-bar
        self._build_controls()
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.status_label.setText("loading the image…")
        self._relay = run_in_background(lambda: _load(result), self._on_loaded, self._on_failed)

    def _build_controls(self) -> None:
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setObjectName("opacitySlider")
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(DEFAULT_OPACITY)
        self.opacity_slider.valueChanged.connect(lambda v: self.overlay_item.setOpacity(v / 100))
        reset = QPushButton("Fit")
        reset.setToolTip("Zoom to the whole image (wheel zooms, drag pans)")
        reset.clicked.connect(lambda: self.view_box.autoRange(padding=0.01))
        row = QHBoxLayout()
        row.addWidget(QLabel("Heatmap opacity"))
        row.addWidget(self.opacity_slider, stretch=1)
        row.addWidget(reset)
        self.status_label = QLabel()
        self.status_label.setObjectName("readout")
        self.caption = QLabel(CAPTION)
        self.caption.setObjectName("caption")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("font-size: 8pt;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, stretch=1)
        layout.addLayout(row)
        layout.addWidget(self.status_label)
        layout.addWidget(self.caption)

    @Slot(object)
    def _on_loaded(self, payload: tuple[np.ndarray, Heatmap]) -> None:
        image, heat = payload
        self.heatmap = heat
        self.image_item.setImage(image, autoLevels=False, levels=(0, 255))
        values = heat.values.astype(np.float32, copy=False)
        self.overlay_item.setImage(values, autoLevels=False)
        self.color_bar.setLevels(symmetric_levels(values, heat.threshold_score))
        warning = ""
        if values.shape != image.shape[:2]:  # should not happen; stretch rather than misplace, and say so
            self.overlay_item.setRect(0, 0, image.shape[1], image.shape[0])
            warning = f" Heatmap {values.shape[1]}×{values.shape[0]} stretched to the picture's size."
        self.view_box.autoRange(padding=0.01)
        scored = float(np.isfinite(values).mean())
        self.status_label.setText(f"{heat.detector}: threshold {heat.threshold_score:.2f}; "
                                  f"{100 * scored:.0f}% of the pixels scored. Hover for a value.{warning}")
        self.loaded.emit()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.status_label.setText(f"could not show the image: {message}")

    def _on_mouse_moved(self, pos) -> None:
        if self.heatmap is None or not self.view_box.sceneBoundingRect().contains(pos):
            return
        point = self.view_box.mapSceneToView(pos)
        x, y = int(np.floor(point.x())), int(np.floor(point.y()))
        h, w = self.heatmap.values.shape
        if 0 <= x < w and 0 <= y < h:
            v = float(self.heatmap.values[y, x])
            text = "not scored" if not np.isfinite(v) else f"score {v:.2f}"
            self.status_label.setText(f"x {x}, y {y}: {text} (threshold {self.heatmap.threshold_score:.2f})")
