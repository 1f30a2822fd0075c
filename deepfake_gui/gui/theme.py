"""Light and dark themes: Qt's Fusion style with an explicit palette, and pyqtgraph plots to match.

Why explicit palettes: the platform's palette differs per desktop (and some have
no dark variant), so "light" and "dark" are spelled out here, role by role,
including disabled text, highlights, links and tooltips. "system" puts back the
style and palette the platform gave the app, and pyqtgraph's own defaults, so it
looks exactly as it did before any theme was applied.

pyqtgraph reads its background and foreground when a plot is created, so
``apply_theme`` also repaints the plots that already exist (``style_plots``),
changing only the colours that still follow the old default.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QColor, QPalette
from PySide6.QtWidgets import QApplication, QMenu, QStyleFactory, QToolTip, QWidget

THEME_NAMES = ("system", "light", "dark")
THEME_LABELS = {"system": "&System", "light": "&Light", "dark": "&Dark"}

Role, Group = QPalette.ColorRole, QPalette.ColorGroup

# role -> (active/inactive colour, disabled colour or None for the same)
DARK: dict[QPalette.ColorRole, tuple[str, str | None]] = {
    Role.Window: ("#353535", None),
    Role.WindowText: ("#f0f0f0", "#808080"),
    Role.Base: ("#262626", "#2e2e2e"),
    Role.AlternateBase: ("#303030", None),
    Role.ToolTipBase: ("#202020", None),
    Role.ToolTipText: ("#f0f0f0", None),
    Role.PlaceholderText: ("#9a9a9a", "#6a6a6a"),
    Role.Text: ("#f0f0f0", "#808080"),
    Role.Button: ("#3c3c3c", "#333333"),
    Role.ButtonText: ("#f0f0f0", "#808080"),
    Role.BrightText: ("#ff6e6e", None),
    Role.Light: ("#565656", None),
    Role.Midlight: ("#474747", None),
    Role.Mid: ("#2c2c2c", None),
    Role.Dark: ("#1e1e1e", None),
    Role.Shadow: ("#0a0a0a", None),
    Role.Highlight: ("#2a6bb0", "#4a4a4a"),
    Role.HighlightedText: ("#ffffff", "#a0a0a0"),
    Role.Link: ("#6cb4ff", "#5a7a9a"),
    Role.LinkVisited: ("#c89cff", "#7a6a8a"),
}

LIGHT: dict[QPalette.ColorRole, tuple[str, str | None]] = {
    Role.Window: ("#efefef", None),
    Role.WindowText: ("#1a1a1a", "#8c8c8c"),
    Role.Base: ("#ffffff", "#f4f4f4"),
    Role.AlternateBase: ("#f3f5f8", None),
    Role.ToolTipBase: ("#ffffdc", None),
    Role.ToolTipText: ("#1a1a1a", None),
    Role.PlaceholderText: ("#6e6e6e", "#a8a8a8"),
    Role.Text: ("#1a1a1a", "#8c8c8c"),
    Role.Button: ("#f0f0f0", "#ebebeb"),
    Role.ButtonText: ("#1a1a1a", "#8c8c8c"),
    Role.BrightText: ("#ffffff", None),
    Role.Light: ("#ffffff", None),
    Role.Midlight: ("#e3e3e3", None),
    Role.Mid: ("#b4b4b4", None),
    Role.Dark: ("#9f9f9f", None),
    Role.Shadow: ("#5a5a5a", None),
    Role.Highlight: ("#2a6bb0", "#c8c8c8"),
    Role.HighlightedText: ("#ffffff", "#5a5a5a"),
    Role.Link: ("#0b57a4", "#7a94b0"),
    Role.LinkVisited: ("#6a1b9a", "#9a80a8"),
}


@dataclass(frozen=True)
class PlotStyle:
    """pyqtgraph's two global colours: plot background, and axes / labels / ticks."""

    background: str
    foreground: str


PLOT_STYLES = {"light": PlotStyle("#ffffff", "#303030"), "dark": PlotStyle("#1e1e1e", "#c8c8c8")}


# Colours a view can ask for by role, readable on the current background: text on the
# window at least 4.5:1, plot lines on the plot at least 3:1 (tests check every value).
# "dark" holds the views' current colours (they were drawn on pyqtgraph's black).
VERDICT_TEXT = {
    "light": {"fake": "#b71c1c", "real": "#1b5e20", "inconclusive": "#8a5000", "none": "#616161"},
    "dark": {"fake": "#ff8a80", "real": "#81c784", "inconclusive": "#ffb300", "none": "#bdbdbd"},
}
# Okabe-Ito colours (distinct under the common colour-vision deficiencies), one role each:
# series blue, threshold vermillion, true segments bluish green; the file's own probability is a
# dotted line in the text colour. The light theme takes darker shades where Okabe-Ito's are under 3:1.
PLOT_ACCENTS = {
    "light": {"threshold": "#d55e00", "cursor": "#303030", "frame": "#0072b2", "window": "#0072b2",
              "wave": "#007a5a", "file": "#303030", "smooth": "#7a7a7a"},
    "dark": {"threshold": "#d55e00", "cursor": "#f0f0f0", "frame": "#56b4e9", "window": "#56b4e9",
             "wave": "#009e73", "file": "#f0f0f0", "smooth": "#9a9a9a"},
}
# Translucent fills (r, g, b, alpha): the inconclusive band (Okabe-Ito yellow) and suspected segments
# (Okabe-Ito reddish purple), strong enough to see on the dark plot, faint enough to read the curves through.
PLOT_FILLS = {
    "light": {"band": (240, 228, 66, 90), "segment": (204, 121, 167, 70)},
    "dark": {"band": (240, 228, 66, 45), "segment": (204, 121, 167, 85)},
}


@dataclass
class _Original:
    """What the platform gave the app before any theme: "system" puts it back."""

    style: str
    plot: PlotStyle


_ORIGINAL: _Original | None = None
_CURRENT = "system"


def _remember_original(app: QApplication) -> _Original:
    global _ORIGINAL
    if _ORIGINAL is None:
        _ORIGINAL = _Original(app.style().name(), _pyqtgraph_now())
    return _ORIGINAL


def build_palette(name: str) -> QPalette:
    """The explicit palette of "light" or "dark", every role in every colour group."""
    roles = {"light": LIGHT, "dark": DARK}[name]
    palette = QPalette()
    for role, (normal, disabled) in roles.items():
        for group in (Group.Active, Group.Inactive):
            palette.setColor(group, role, QColor(normal))
        palette.setColor(Group.Disabled, role, QColor(disabled or normal))
    return palette


def plot_style(name: str) -> PlotStyle:
    """The plot colours of a theme; "system" means pyqtgraph's own defaults."""
    if name == "system":
        return _ORIGINAL.plot if _ORIGINAL else _pyqtgraph_now()
    return PLOT_STYLES[name]


def current_theme() -> str:
    """The theme last applied ("system" until one is)."""
    return _CURRENT


def is_dark(app: QApplication | None = None) -> bool:
    """Whether the app's windows are dark now, whatever the theme name (views pick readable colours by it)."""
    app = app or QApplication.instance()  # type: ignore[assignment]
    return app is not None and app.palette().color(Role.Window).lightness() < 128


def verdict_text_color(verdict: str | None, app: QApplication | None = None) -> str:
    """A verdict's colour for text on the window background (the verdict card's detector table)."""
    table = VERDICT_TEXT["dark" if is_dark(app) else "light"]
    return table.get(verdict or "none", table["none"])


def _plot_is_dark() -> bool:
    return pg.mkColor(pg.getConfigOption("background")).lightness() < 128


def plot_accent(role: str) -> str:
    """A plot line's colour (threshold, cursor, frame, window, wave, file, smooth) for the current plot background."""
    return PLOT_ACCENTS["dark" if _plot_is_dark() else "light"][role]


def plot_fill(role: str) -> tuple[int, int, int, int]:
    """A translucent fill (band, segment) for the current plot background."""
    return PLOT_FILLS["dark" if _plot_is_dark() else "light"][role]


def apply_theme(app: QApplication, name: str) -> str:
    """Style, palette and plot colours for ``name`` ("system", "light" or "dark"); returns the name applied.

    An unknown name falls back to "system" rather than failing: it may come from a hand-edited ini file.
    """
    global _CURRENT
    name = name if name in THEME_NAMES else "system"
    original = _remember_original(app)
    old_plot = plot_style(_CURRENT)
    if name != "system":
        app.setStyle(QStyleFactory.create("Fusion"))
        palette = build_palette(name)
        app.setPalette(palette)
        QToolTip.setPalette(palette)
    elif _CURRENT != "system":
        # only undo a theme: setting a palette when none was applied would stop Qt following the desktop's switch
        app.setStyle(QStyleFactory.create(original.style) or original.style)
        app.setPalette(QPalette())  # an empty palette resolves every role to the platform's
        QToolTip.setPalette(app.palette())
    new_plot = plot_style(name)
    pg.setConfigOptions(background=new_plot.background, foreground=new_plot.foreground)
    style_plots(app.allWidgets(), new_plot, old_plot)
    _CURRENT = name
    return name


def style_plots(widgets: list[QWidget], new: PlotStyle, old: PlotStyle | None = None) -> int:
    """Repaint existing pyqtgraph views in ``new`` colours; returns how many views were restyled.

    A view created with the default background gets the new one; an axis or label
    whose colour is still the old default foreground gets the new foreground. A
    colour a view chose itself is left alone.
    """
    old_fg = QColor(old.foreground).name() if old else None
    count = 0
    for widget in widgets:
        if not isinstance(widget, pg.GraphicsView):
            continue
        if getattr(widget, "_background", "default") == "default":
            widget.setBackground("default")
        for item in widget.scene().items():
            if isinstance(item, pg.AxisItem):
                if old_fg is None or item.pen().color().name() == old_fg:
                    item.setPen()
                if old_fg is None or item.textPen().color().name() == old_fg:
                    item.setTextPen()
            elif isinstance(item, pg.LabelItem) and item.opts.get("color") is None:
                item.setText(item.text)  # re-reads the foreground option
        count += 1
    return count


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two colours (1 to 21; 4.5 is the minimum for body text, 3 for large text)."""
    lighter, darker = sorted((_luminance(QColor(foreground)), _luminance(QColor(background))), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _luminance(color: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def _pyqtgraph_now() -> PlotStyle:
    return PlotStyle(pg.mkColor(pg.getConfigOption("background")).name(),
                     pg.mkColor(pg.getConfigOption("foreground")).name())


class ThemeMenu(QMenu):
    """View ▸ Theme: one checkable action per theme; ``theme_chosen`` carries the name picked."""

    theme_chosen = Signal(str)

    def __init__(self, current: str = "system", parent: QWidget | None = None) -> None:
        super().__init__("&Theme", parent)
        self.setObjectName("themeMenu")
        self.group = QActionGroup(self)
        self.group.setExclusive(True)
        self.theme_actions: dict[str, QAction] = {}
        for name in THEME_NAMES:
            action = QAction(THEME_LABELS[name], self)
            action.setCheckable(True)
            action.setData(name)
            self.group.addAction(action)
            self.addAction(action)
            self.theme_actions[name] = action
        self.set_current(current)
        self.group.triggered.connect(self._on_triggered)

    def set_current(self, name: str) -> None:
        action = self.theme_actions.get(name, self.theme_actions["system"])
        action.setChecked(True)

    @Slot(QAction)
    def _on_triggered(self, action: QAction) -> None:
        self.theme_chosen.emit(str(action.data()))
