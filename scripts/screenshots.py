"""Render LayerScope's screens into PNGs (for the docs, and to look at every screen after a change).

- with ``--data ../shared/data``, every view of the app on real files, at 1280x800 and
  1920x1080 (``--size`` to choose): the batch table after a mixed scan (an unreadable
  file among them), a video, a sound and a picture selected, the embedding explorer
  (t-SNE of the image set with the batch on top), the probe lab after a layer sweep
  over two of the image set's folders, and the case list over a window with a case
  open. These are docs/screenshots/app_<view>_<W>x<H>.png;
- with ``--views``, the evidence views alone (image heatmap, video timeline, audio
  spectrogram, verdict card) on generated media, to look at after a change. Their
  verdicts say nothing about real files.

Under a virtual X server, as a user's desktop would draw it (the screen as large as the largest size):

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshots.py docs/screenshots \
        --data ../shared/data

Without a display it falls back to Qt's offscreen platform (same widgets, no window frame).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from deepfake_gui.engine.bench_media import write_wav

MAX_BYTES = 300_000


# --- synthetic media ------------------------------------------------------------------


def write_picture(path: Path, width: int = 480, height: int = 320) -> Path:
    """A landscape-ish scene (sky, sun, hills, texture): smooth enough to compress, busy enough to score."""
    from PIL import Image, ImageDraw, ImageFilter

    y = np.linspace(0, 1, height)[:, None, None]
    sky = (1 - y) * np.array([110, 160, 230]) + y * np.array([235, 220, 200])
    img = Image.fromarray(np.broadcast_to(sky, (height, width, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    draw.ellipse((330, 40, 400, 110), fill=(255, 220, 120))
    xs = np.arange(width + 1)
    for base, amp, color in ((200, 30, (90, 130, 80)), (240, 20, (60, 100, 60)), (280, 12, (110, 90, 60))):
        ridge = base + amp * np.sin(xs / 55.0 + base)
        draw.polygon([(0, height), *zip(xs.tolist(), ridge.tolist(), strict=True), (width, height)], fill=color)
    rng = np.random.default_rng(7)
    arr = np.asarray(img.filter(ImageFilter.GaussianBlur(1.2)), dtype=np.float32)
    arr += rng.normal(0, 3, arr.shape)
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path)
    return path


def speechlike(rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """Voiced syllables with pitch movement and short pauses (a spectrogram that looks like speech)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    f0 = 130 + 25 * np.sin(2 * np.pi * 0.6 * t) + 10 * np.sin(2 * np.pi * 2.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(k * phase) / k ** 1.2 for k in range(1, 14))
    syllables = np.clip(np.sin(2 * np.pi * 3.3 * t), 0, None) ** 0.6
    pauses = (np.sin(2 * np.pi * 0.45 * t + 1.0) > -0.8).astype(float)
    sig = 0.25 * voice * syllables * pauses + 0.004 * rng.standard_normal(len(t))
    return sig.astype(np.float32)


def write_video(path: Path, width: int = 320, height: int = 240, fps: int = 10, seconds: float = 4.0) -> Path:
    """A ball crossing a gradient, with a speech-like sound track (H.264 + AAC)."""
    import av

    rate = 16_000
    n = int(fps * seconds)
    yy, xx = np.mgrid[0:height, 0:width]
    background = np.stack([xx / width * 200 + 30, yy / height * 150 + 60, np.full_like(xx, 140.0)], axis=2)
    sound = speechlike(rate, seconds, seed=3)
    with av.open(str(path), mode="w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=fps, options={"preset": "veryfast"})
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        aus = out.add_stream("aac", rate=rate, layout="mono")
        for i in range(n):
            cx, cy = 30 + (width - 60) * i / (n - 1), height / 2 + 50 * np.sin(i / 5)
            img = background.copy()
            img[(xx - cx) ** 2 + (yy - cy) ** 2 < 25 ** 2] = (240, 80, 60)
            frame = av.VideoFrame.from_ndarray(img.astype(np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        for start in range(0, len(sound), 1024):
            chunk = av.AudioFrame.from_ndarray(sound[None, start:start + 1024], format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts, chunk.time_base = rate, start, Fraction(1, rate)
            out.mux(aus.encode(chunk))
        out.mux(aus.encode(None))
    return path


# --- rendering ---------------------------------------------------------------------------


def settle(app, seconds: float = 1.5) -> None:
    """Let background loads land and layouts settle before grabbing."""
    from deepfake_gui.gui.views.common import wait_for_background

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        wait_for_background(50)
        time.sleep(0.02)
    app.processEvents()


def save(widget, path: Path) -> Path:
    """Grab to PNG (see shrink)."""
    widget.grab().save(str(path))
    return shrink(path)


def shrink(path: Path) -> Path:
    """A 256-colour palette when the PNG would be too big for the docs."""
    if path.stat().st_size > MAX_BYTES:
        from PIL import Image

        Image.open(path).convert("RGB").quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"{path} ({path.stat().st_size // 1024} KiB)")
    return path


def render(app, out: Path, work: Path) -> list[Path]:
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.detectors import resolve_detectors
    from deepfake_gui.engine.scan import ScanOptions, scan_job
    from deepfake_gui.gui.views import evidence_widget_for
    from deepfake_gui.gui.views.audio_view import AudioView
    from deepfake_gui.gui.views.image_view import ImageView
    from deepfake_gui.gui.views.verdict_card import VerdictCard
    from deepfake_gui.gui.views.video_view import VideoView

    paths = [write_picture(work / "landscape.png"), write_wav(work / "voice.wav", speechlike(8000, 6.0), 8000),
             write_video(work / "ball.mp4")]
    results = {r.modality: r for r in scan_job(paths, ScanOptions(device="cpu"),
                                               detectors=resolve_detectors(device="cpu"))
               if isinstance(r, ScanResult)}
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    for name, factory, key, size in (("image_view", ImageView, "image", (760, 620)),
                                     ("video_view", VideoView, "video", (760, 860)),
                                     ("audio_view", AudioView, "audio", (900, 720))):
        widget = factory(results[key])
        widget.resize(*size)
        widget.show()
        settle(app)
        shots.append(save(widget, out / f"{name}.png"))
        widget.close()
        widget.deleteLater()
    card = VerdictCard(results["video"])
    card.model_cards_button.setChecked(True)
    card.show()
    card.resize(520, card.heightForWidth(520))
    settle(app, 0.3)
    shots.append(save(card, out / "verdict_card.png"))
    evidence = evidence_widget_for(results["audio"])
    evidence.resize(560, 900)
    evidence.show()
    settle(app)
    shots.append(save(evidence, out / "evidence_panel.png"))
    for widget in (card, evidence):
        widget.close()
        widget.deleteLater()
    settle(app, 0.2)
    return shots


def wait_until(app, condition, timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError(f"gave up waiting for {what} after {timeout_s:.0f} s")
        app.processEvents()
        time.sleep(0.02)
    settle(app, 0.5)


def app_batch(data: Path) -> list[Path]:
    """A journalist's mixed folder: photos and their fakes, voices and cloned voices, partly faked videos."""
    image, audio, video = data / "image", data / "audio", data / "localization" / "video"
    def first(folder: Path, pattern: str, n: int) -> list[Path]:
        return sorted(folder.rglob(pattern))[:n]

    spliced = data / "localization" / "image" / "partial"
    picks = [*first(image / "real", "*.jpg", 2), *first(image / "fake" / "ae-nearest-conv", "*.jpg", 1),
             *first(image / "fake" / "ae-pixel-shuffle", "*.jpg", 1),
             *first(spliced, "*_2_ae-pixel-shuffle.jpg", 1), *first(audio / "real", "*.flac", 2),
             *first(audio / "fake" / "espeak-ng", "*.flac", 1), *first(audio / "fake" / "world-vocoder", "*.flac", 1),
             *first(video, "*_both.mp4", 1), *first(video, "*_untouched.mp4", 1)]
    return [p for p in picks if p.is_file()]


SIZES = [(1280, 800), (1920, 1080)]
CASE_NAME = "Harbour video (case 12)"


def write_broken(work: Path) -> Path:
    """A file that claims to be a video and is not: its row shows an error, and why."""
    path = work / "clip_from_chat.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 8)
    return path


def select_modality(app, window, modality: str) -> bool:
    """Select a row of this kind (the last sound: a cloned voice; the first video: a partly faked one; a picture
    with a spliced region, to show the heatmap's suspected region, when the batch has one)."""
    rows = [r for r in range(window.proxy.rowCount()) if window.proxy.result_at(r).modality == modality]
    if not rows:
        return False
    spliced = [r for r in rows if "/partial/" in window.proxy.result_at(r).path]
    window.select_row(rows[-1] if modality == "audio" else (spliced or rows)[0])
    settle(app, 3.0)
    return True


def render_app(app, out: Path, data: Path, work: Path, sizes: list[tuple[int, int]] | None = None,
               tools: bool = True) -> list[Path]:
    """Every view of the app on real files, at each screen size: the batch table, a video, a sound and a
    picture selected, the embedding explorer, the probe lab and the case list."""
    from PySide6.QtCore import QSettings

    from deepfake_gui.gui.main_window import MainWindow

    settings = QSettings(str(work / "gui.ini"), QSettings.Format.IniFormat)
    batch = [*app_batch(data), write_broken(work)]
    window = MainWindow([str(p) for p in batch], settings=settings)
    window.cases.db_path = work / "cases.sqlite"
    window.resize(*(sizes or SIZES)[0])
    window.move(0, 0)
    window.show()
    wait_until(app, lambda: window.model.rowCount() == len(batch) and not window.is_scanning(), 900, "the scan")
    shots = []
    try:
        for width, height in sizes or SIZES:
            window.resize(width, height)
            shots += render_batch_views(app, window, out, f"{width}x{height}")
        if tools:
            shots += render_tools(app, window, out, data, sizes or SIZES)
        shots += render_cases(app, window, out, sizes or SIZES)
    finally:
        window.close()  # stops the engine thread even when a wait timed out
        settle(app, 0.5)
    return shots


def render_batch_views(app, window, out: Path, size: str) -> list[Path]:
    """The batch table (nothing selected, the unreadable file's problem listed), then one file of each kind."""
    window.tabs.setCurrentIndex(0)
    window.table.clearSelection()
    window.table.selectionModel().clearCurrentIndex()  # nothing selected: the evidence side says what to do
    window.error_panel.show()
    sizes = window.splitter.sizes()
    header = window.table.horizontalHeader()
    wanted = sum(header.sectionSize(i) for i in range(header.count())) + 40  # every column, as a user drags it
    window.splitter.setSizes([wanted, max(sum(sizes) - wanted, 200)])
    settle(app, 1.0)
    shots = [save(window, out / f"app_batch_{size}.png")]
    window.splitter.setSizes(sizes)
    window.error_panel.hide()  # the evidence gets the room in the other shots
    for modality in ("video", "audio", "image"):
        if select_modality(app, window, modality):
            shots.append(save(window, out / f"app_{modality}_{size}.png"))
    return shots


def render_tools(app, window, out: Path, data: Path, sizes: list[tuple[int, int]]) -> list[Path]:
    """The embedding explorer (t-SNE of the image set, the batch on top) and the probe lab after a sweep."""
    explorer = window.show_tool("explorer")
    wait_until(app, lambda: explorer.encoder_combo.findData("efficientnet-lite0") >= 0, 60, "the encoder list")
    explorer.set_encoder("efficientnet-lite0")
    explorer.set_reference(str(data / "image" / "manifest.csv"))
    explorer.compute()
    wait_until(app, lambda: explorer.embedding_set is not None and not explorer._jobs, 900, "the embeddings")
    explorer.set_projection("tsne")
    layer = explorer.current_layer()
    wait_until(app, lambda: layer in explorer.tsne and not explorer._jobs, 600, "the t-SNE")

    lab = window.tool("lab")
    lab.add_real_folder(data / "image" / "real")
    lab.add_fake_folder(data / "image" / "fake" / "ae-nearest-conv")
    lab.add_fake_folder(data / "image" / "fake" / "ae-pixel-shuffle")
    wait_until(app, lambda: lab.encoder_combo.findData("efficientnet-lite0") >= 0, 60, "the encoder list")
    lab.set_encoder("efficientnet-lite0")
    lab.run()
    wait_until(app, lambda: lab.result is not None and lab._sweep_job is None, 1200, "the layer sweep")
    shots = []
    for width, height in sizes:
        window.resize(width, height)
        for key, name in (("explorer", "explorer"), ("lab", "probe_lab")):
            window.show_tool(key)
            settle(app, 1.5)
            shots.append(save(window, out / f"app_{name}_{width}x{height}.png"))
    window.tabs.setCurrentIndex(0)
    return shots


def render_cases(app, window, out: Path, sizes: list[tuple[int, int]]) -> list[Path]:
    """The batch stored as a case (title bar, review states), with File > Open case's list over the window.

    The dialog is its own window, so the shot is taken from the screen over the main window's area.
    """
    from deepfake_gui.cases import CaseStore
    from deepfake_gui.gui.cases import CaseDialog

    db = window.cases.db_path
    results = window.model.results()
    for name, notes, files in (("Council leak audio", "voice notes from the council meeting", results[4:8]),
                               ("Flood photos (wire)", "", results[:4]), (CASE_NAME, "", results)):
        with CaseStore.create(name, notes=notes, db_path=db) as store:
            for result in files:
                store.add_result(result)
    window.cases.open_named(CASE_NAME)  # the table comes back from the case, evidence arrays included
    window.tabs.setCurrentIndex(0)
    shots = []
    for width, height in sizes:
        window.resize(width, height)
        select_modality(app, window, "video")
        dialog = CaseDialog(window, db, current=CASE_NAME)
        dialog.setModal(False)
        dialog.resize(640, 340)
        dialog.show()
        settle(app, 1.0)
        shots.append(save_pixmap(over_window(window, dialog), out / f"app_cases_{width}x{height}.png"))
        dialog.close()
        dialog.deleteLater()
    return shots


def over_window(window, dialog):
    """The window with the dialog drawn over it, as a desktop shows it: a title strip (its window title) and a
    border, which a window manager would draw (Xvfb has none)."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QColor, QPainter, QPen

    shot = window.grab()
    inner = dialog.grab()
    title_h = 26
    x = (shot.width() - inner.width()) // 2
    y = (shot.height() - inner.height()) // 3
    painter = QPainter(shot)
    painter.fillRect(QRect(x + 6, y + 6, inner.width(), inner.height() + title_h), QColor(0, 0, 0, 70))  # shadow
    painter.fillRect(QRect(x, y, inner.width(), title_h), QColor("#3b4252"))
    painter.setPen(QColor("white"))
    painter.drawText(QRect(x + 10, y, inner.width() - 20, title_h), Qt.AlignmentFlag.AlignVCenter,
                     f"{dialog.windowTitle()} — File ▸ Open case…")
    painter.drawPixmap(x, y + title_h, inner)
    painter.setPen(QPen(QColor("#3b4252"), 2))
    painter.drawRect(QRect(x, y, inner.width(), inner.height() + title_h))
    painter.end()
    return shot


def save_pixmap(pixmap, path: Path) -> Path:
    pixmap.save(str(path))
    return shrink(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNGs")
    parser.add_argument("--work", type=Path, default=None, help="folder for the generated media (default: temp)")
    parser.add_argument("--data", type=Path, default=None,
                        help="the shared data folder (image/, audio/, localization/): every view of the app "
                             "(app_<view>_<W>x<H>.png, the docs' screenshots)")
    parser.add_argument("--views", action="store_true",
                        help="also the evidence views alone on generated media (*_view.png; to look at, not "
                             "for the docs)")
    parser.add_argument("--size", action="append", default=[], metavar="WxH",
                        help="screen sizes for the app (repeatable; default 1280x800 and 1920x1080)")
    parser.add_argument("--no-tools", action="store_true", help="skip the embedding explorer and the probe lab")
    args = parser.parse_args(argv)
    if args.data is None and not args.views:
        parser.error("give --data (the app's screens) and/or --views (evidence views on generated media)")
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])  # outlives every widget render() makes
    import tempfile

    with tempfile.TemporaryDirectory(prefix="layerscope-shots-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        args.out.mkdir(parents=True, exist_ok=True)
        if args.views:
            render(app, args.out, work)
        if args.data is not None:
            sizes = [tuple(int(v) for v in size.lower().split("x")) for size in args.size] or SIZES
            render_app(app, args.out, args.data.resolve(), work, sizes, tools=not args.no_tools)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
