"""QApplication start-up, kept apart so the CLI imports Qt only when asked for the GUI."""

from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import Callable, Mapping

# Debian/Ubuntu package -> the library Qt loads from it (find_library name); the app's system needs
SYSTEM_PACKAGES: dict[str, str] = {
    "libegl1": "EGL",
    "libgl1": "GL",
    "libxkbcommon0": "xkbcommon",
    "libfontconfig1": "fontconfig",
    "libglib2.0-0": "glib-2.0",
    "libdbus-1-3": "dbus-1",
    "libxcb-cursor0": "xcb-cursor",
}
# Qt platforms that draw without a display server (tests, screenshots, remote VNC)
HEADLESS_PLATFORMS = frozenset({"offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs", "vkkhrdisplay"})
SKIP_CHECK_ENV = "LAYERSCOPE_SKIP_DISPLAY_CHECK"


def _install_hint() -> str:
    return "sudo apt-get install " + " ".join(SYSTEM_PACKAGES)


def _no_app_message(reason: str) -> str:
    return (
        f"layerscope: cannot open the desktop app: {reason}\n"
        "  - to scan without a display, use the command line:  layerscope scan FILE_OR_FOLDER --out results.jsonl\n"
        "  - on a server, run the app under a virtual display:  xvfb-run layerscope\n"
        f"  - the app needs these system packages (Debian/Ubuntu):  {_install_hint()}\n"
        f"  (set {SKIP_CHECK_ENV}=1 to start Qt anyway)"
    )


def display_problem(
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    find_library: Callable[[str], str | None] = ctypes.util.find_library,
) -> str | None:
    """Why Qt cannot open a window here (a message for the user), or None.

    Qt aborts the process (exit 134) when no platform plugin loads, before Python can catch anything,
    so the app checks the same conditions first: a display server to talk to, and the libraries
    the xcb/wayland plugins load. Linux only; headless Qt platforms (offscreen, vnc, ...) pass.
    """
    env = os.environ if environ is None else environ
    plat = sys.platform if platform is None else platform
    if not plat.startswith("linux") or env.get(SKIP_CHECK_ENV):
        return None
    wanted = [p.split(":")[0].strip() for p in env.get("QT_QPA_PLATFORM", "").split(";") if p.strip()]
    if any(p in HEADLESS_PLATFORMS for p in wanted):
        return None
    if not wanted:  # Qt's own default on Linux: wayland when a compositor is there, else xcb
        wanted = ["wayland", "xcb"] if env.get("WAYLAND_DISPLAY") else ["xcb"]
    usable = [p for p in wanted if env.get("WAYLAND_DISPLAY" if p.startswith("wayland") else "DISPLAY")]
    if not usable:
        return _no_app_message("no display (DISPLAY and WAYLAND_DISPLAY are not set).")
    needed = {pkg: lib for pkg, lib in SYSTEM_PACKAGES.items() if pkg != "libxcb-cursor0" or "xcb" in usable}
    missing = [pkg for pkg, lib in needed.items() if not find_library(lib)]
    if missing:
        return _no_app_message(f"missing system libraries from {', '.join(missing)}.")
    return None


def run_app(paths: list[str] | None = None) -> int:
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    try:
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:  # QtGui links libEGL/libGL/libxkbcommon at import
        print(_no_app_message(f"Qt could not load ({exc})."), file=sys.stderr)
        return 2

    from deepfake_gui.gui.main_window import MainWindow, default_settings
    from deepfake_gui.gui.settings import AppSettings
    from deepfake_gui.gui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("LayerScope")
    app.setApplicationName("LayerScope")
    app.setDesktopFileName("layerscope")  # docks match the window to installer/layerscope.desktop
    _set_icon(app)
    apply_theme(app, AppSettings.load(default_settings()).theme)  # before any plot exists
    # with no files to scan yet, load the detectors in the background so the first drop starts at once
    window = MainWindow(paths or [], warm_up=not paths)
    app.aboutToQuit.connect(window.shutdown)  # the engine thread must end before Qt tears down
    window.show()
    return app.exec()


def _set_icon(app) -> None:
    from PySide6.QtGui import QIcon

    from deepfake_gui.core.config import resources_dir

    icon = resources_dir() / "icons" / "layerscope.svg"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
