"""The picture with the detector's heatmap laid over it.

Colours are centred on the detector's threshold (white): red leans fake, blue
leans real, unscored pixels stay clear. Decoding the picture and upsampling the
heatmap run off the GUI thread; the GUI only hands arrays to pyqtgraph.
When a localization manifest lists the picture with a mask of its manipulated
region, "show manifest mask" lays the mask's outline over the heatmap, so a
reader can see how far the heatmap's response matches the truth.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from deepfake_gui.core.present import region_box, region_text
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.explain import Heatmap, image_heatmap, picture, true_mask
from deepfake_gui.gui.views.common import DISPLAY, accent, run_in_background

COLORMAP = "CET-D1"  # diverging blue-white-red, perceptually uniform
DEFAULT_OPACITY = 55
CAPTION = ("The overlay shows where the detector responded, not proof of manipulation. Colour = decision score: "
           "red above the heatmap's threshold (leans fake), blue below (leans real), white at the threshold "
           "(the red tick on the colour bar); clear where nothing was scored. A dashed box: a region that stands "
           "out of the rest of its tile.")
MASK_RGB = (0, 230, 118)  # bright green: unlike any colour of the diverging heatmap, on either theme
MASK_FILL_ALPHA = 45
MASK_EDGE_PX = 2
MASK_CAPTION = " Green outline: the manipulated region as the manifest gives it (the truth, for comparison)."


def mask_overlay(mask: np.ndarray, edge_px: int = MASK_EDGE_PX) -> np.ndarray:
    """RGBA (H, W, 4) uint8: the mask's inside faintly tinted, its edge opaque; clear outside the mask."""
    mask = np.asarray(mask, bool)
    inner = mask.copy()
    for _ in range(edge_px):  # erode by one pixel per pass (4-neighbourhood); image borders count as outside
        padded = np.pad(inner, 1, constant_values=False)
        inner = inner & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    rgba[mask, :3] = MASK_RGB
    rgba[mask, 3] = MASK_FILL_ALPHA
    rgba[mask & ~inner, 3] = 255
    return rgba


def symmetric_levels(values: np.ndarray, centre: float) -> tuple[float, float]:
    """Levels centred on the threshold, so white always means 'at the threshold'."""
    finite = values[np.isfinite(values)]
    reach = float(np.max(np.abs(finite - centre))) if finite.size else 1.0
    reach = max(reach, 1e-3)
    return centre - reach, centre + reach


def _load(result: ScanResult) -> tuple[np.ndarray, Heatmap, np.ndarray | None]:
    return picture(result.path), image_heatmap(result), true_mask(result.path)


class ImageView(QWidget):
    """Image + heatmap overlay with opacity, colour bar, zoom/pan and a score readout under the mouse."""

    loaded = Signal()

    def __init__(self, result: ScanResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = result
        self.heatmap: Heatmap | None = None
        self.mask: np.ndarray | None = None  # the manifest's mask (bool, True = manipulated), when it has one
        self.detector = image_heatmap(result, full_size=False).detector  # raises KeyError early if no arrays
        self.graphics = pg.GraphicsLayoutWidget()
        self.view_box = self.graphics.addViewBox(row=0, col=0, lockAspect=True, invertY=True)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item.setOpacity(DEFAULT_OPACITY / 100)
        self.overlay_item.setZValue(10)
        self.view_box.addItem(self.image_item)
        self.view_box.addItem(self.overlay_item)
        self.mask_item = pg.ImageItem(axisOrder="row-major")
        self.mask_item.setZValue(20)
        self.mask_item.setVisible(False)
        self.view_box.addItem(self.mask_item)
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
        self._load_job = run_in_background(lambda: _load(result), self._on_loaded, self._on_failed)

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
        self.mask_check = QCheckBox("show manifest mask")
        self.mask_check.setObjectName("maskCheck")
        self.mask_check.setToolTip("Outline the region the localization manifest says was manipulated")
        self.mask_check.setVisible(False)  # only when a manifest lists this picture with a mask
        self.mask_check.toggled.connect(self._show_mask)
        row.addWidget(self.mask_check)
        self.status_label = QLabel()
        self.status_label.setObjectName("readout")
        self.status_label.setWordWrap(True)  # the region sentence is long; it must not widen the window
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
    def _on_loaded(self, payload: tuple[np.ndarray, Heatmap, np.ndarray | None]) -> None:
        image, heat, mask = payload
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
        if mask is not None:
            self._set_mask(mask, image.shape[:2])
        self._show_region()
        self.loaded.emit()

    def _show_region(self) -> None:
        """The heatmap head's suspected region, outlined, and its rule in the readout (none: said so)."""
        text = region_text(self.result.heatmap)
        if text is None:
            return
        box = region_box(self.result.heatmap)
        if box is not None:
            x0, y0, x1, y1 = box
            self.region_item = QGraphicsRectItem(x0, y0, x1 - x0, y1 - y0)
            pen = pg.mkPen(accent("threshold"), width=2, style=Qt.PenStyle.DashLine)
            pen.setCosmetic(True)  # the same width at any zoom
            self.region_item.setPen(pen)
            self.region_item.setZValue(30)
            self.view_box.addItem(self.region_item)
        self.status_label.setText(self.status_label.text() + " " + text)

    def _set_mask(self, mask: np.ndarray, shape: tuple[int, int]) -> None:
        self.mask = mask
        self.mask_item.setImage(mask_overlay(mask), autoLevels=False, levels=(0, 255))
        if mask.shape != shape:  # a manifest mask of another size: stretch it over the picture, and say so
            self.mask_item.setRect(0, 0, shape[1], shape[0])
            self.status_label.setText(self.status_label.text() + f" Mask {mask.shape[1]}×{mask.shape[0]} "
                                      "stretched to the picture's size.")
        self.mask_check.setVisible(True)
        self.mask_check.setText(f"show manifest mask ({100 * float(mask.mean()):.1f}% of the picture)")
        self.caption.setText(CAPTION + MASK_CAPTION)

    def _show_mask(self, shown: bool) -> None:
        self.mask_item.setVisible(shown and self.mask is not None)

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
