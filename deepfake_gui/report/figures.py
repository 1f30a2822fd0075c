"""Report figures drawn with matplotlib (Agg, no display), returned as PNG data URIs.

Each figure comes from the same engine calls the GUI views use (engine/explain.py),
so a report shows what the app shows. A figure that cannot be drawn returns a
``Figure`` with no image and a sentence saying why: a report never invents data.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_gui.core.present import fmt_prob, region_box, region_text
from deepfake_gui.core.results import ScanResult

DPI = 90
THUMB_PX = 360  # longest side of a thumbnail / key frame
KEY_FRAMES = 4
# Okabe-Ito, as the app's timelines: series blue, threshold vermillion, band yellow, segments reddish purple
COLORS = {"score": "#0072b2", "window": "#0072b2", "threshold": "#d55e00", "band": "#f0e442",
          "segment": "#cc79a7", "frames": "#0072b2", "audio": "#009e73", "file": "#303030", "smooth": "#7a7a7a"}


@dataclass
class Figure:
    """One embedded picture of the report, or the reason it is missing."""

    title: str
    data_uri: str | None = None
    note: str = ""


def _figure(figsize: tuple[float, float]):
    """A bare Agg figure: no pyplot, so no global state and no GUI backend, safe on a worker thread."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def _png_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _array_uri(rgb: np.ndarray) -> str:
    """An RGB array as a PNG data URI, shrunk so its longest side is at most THUMB_PX."""
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(rgb[..., :3]).astype(np.uint8))
    im.thumbnail((THUMB_PX, THUMB_PX))
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _readable(result: ScanResult) -> str | None:
    """Why the evidence file cannot be read again (None when it can)."""
    path = Path(result.path)
    if not path.is_file():
        return (f"the file is no longer at {result.path}; if it moved, name the folder it is in now "
                "(`layerscope report --look-in FOLDER`, or Find moved files in the app) and it is found by its "
                "SHA-256")
    return None


# --- pictures -----------------------------------------------------------------------


def thumbnail(result: ScanResult) -> Figure:
    """The image itself, small (decoded with the engine's guarded loader, read-only)."""
    why = _readable(result)
    if why:
        return Figure("Image", note=why)
    from deepfake_gui.media import load_image

    try:
        return Figure("Image", _array_uri(load_image(result.path)))
    except Exception as exc:  # a report of an unreadable file still renders
        return Figure("Image", note=f"could not decode the image: {exc}")


def key_frames(result: ScanResult, count: int = KEY_FRAMES) -> list[Figure]:
    """Frames spread over the video, the highest-scoring frame included when it is known."""
    why = _readable(result)
    if why:
        return [Figure("Key frames", note=why)]
    from deepfake_gui.engine.explain import video_frame

    duration = float((result.media or {}).get("duration_s") or 0.0)
    times = list(np.linspace(0.0, max(duration - 0.05, 0.0), count)) if duration > 0 else [0.0]
    peak = _peak_frame_time(result)
    if peak is not None:
        times[min(range(len(times)), key=lambda i: abs(times[i] - peak))] = peak
    frames = []
    for t in sorted(set(round(x, 2) for x in times)):
        label = f"{t:.2f} s" + (" (highest frame score)" if peak is not None and abs(t - peak) < 0.006 else "")
        try:
            frames.append(Figure(label, _array_uri(video_frame(result.path, t))))
        except Exception as exc:
            frames.append(Figure(label, note=f"could not decode this frame: {exc}"))
    return frames


def _peak_frame_time(result: ScanResult) -> float | None:
    series = (result.series or {}).get("frames") or {}
    times, scores = series.get("time_s") or [], series.get("score") or []
    if not times or len(times) != len(scores):
        return None
    return float(times[int(np.argmax(scores))])


def heatmap_overlay(result: ScanResult) -> Figure:
    """The image with the probe's heatmap over it (NaN left clear), threshold on the colour bar."""
    title = "Heatmap"  # its note says what it shows: where the probe responded, not proof of manipulation
    from deepfake_gui.engine.explain import image_heatmap

    try:
        heat = image_heatmap(result)
    except KeyError:
        return Figure(title, note="heatmap not stored with this result (run the report with --rescan to "
                                  "recompute it, or open the case the scan was stored in)")
    why = _readable(result)
    from deepfake_gui.media import load_image

    fig = _figure((5.2, 5.2 * heat.values.shape[0] / max(heat.values.shape[1], 1) + 0.4))
    ax = fig.subplots()
    if why is None:
        try:
            ax.imshow(load_image(result.path))
        except Exception:
            why = "the image could not be decoded again"
    values = np.ma.masked_invalid(heat.values)
    lo, hi = float(np.nanmin(heat.values)), float(np.nanmax(heat.values))
    lo, hi = min(lo, heat.threshold_score - 1), max(hi, heat.threshold_score + 1)
    im = ax.imshow(values, cmap="magma", alpha=0.55 if why is None else 1.0, vmin=lo, vmax=hi)
    bar = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    bar.ax.axhline(heat.threshold_score, color=COLORS["threshold"], lw=2)
    bar.set_label("score (logit); red line: threshold")
    box = region_box(result.heatmap)
    if box is not None:  # the heatmap head's suspected region, dashed
        from matplotlib.patches import Rectangle

        x0, y0, x1, y1 = box
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, lw=1.6, ls="--",
                               edgecolor=COLORS["threshold"]))
    ax.set_axis_off()
    ax.set_title(heat.detector, fontsize=8)
    note = heat.note + ("" if why is None else f"; image not shown: {why}")
    said = region_text(result.heatmap)
    withheld = ((result.heatmap or {}).get("region") or {}).get("withheld")
    if said is not None and not withheld:  # a withheld region: the upscaling caveat says why
        note += ". " + said
    return Figure(title, _png_uri(fig), note)


# --- timelines ----------------------------------------------------------------------


@dataclass
class _Track:
    """One track's curve on one scale, with the reference lines that belong to that scale."""

    name: str
    detector: str
    times: np.ndarray
    values: np.ndarray
    ends: np.ndarray | None
    threshold: float | None
    band: tuple[float, float] | None
    scale: str  # the y axis label: always P(fake), calibrated, 0-1
    smooth: Any = None  # audio: (times, P(fake)) of the 1 s average the segment rule thresholded
    file_probability: float | None = None  # the file's P(fake) from this detector, drawn on the same axis
    centred: bool = False  # windows already at their centres


def _tracks_from_arrays(result: ScanResult) -> list[_Track]:
    """One curve per track and detector on the probability scale (engine.explain.probability_track, as the app)."""
    from deepfake_gui.engine.explain import probability_track

    tracks = []
    for key in sorted(result.arrays, key=lambda k: (k.split("/")[0] != "frames", k)):
        track, _, detector = key.partition("/")
        if track not in ("frames", "audio"):
            continue
        try:
            p = probability_track(result, track, detector)
        except KeyError:
            continue
        tracks.append(_Track(track, p.detector, p.times_s, p.probability, None, p.threshold, p.band, "P(fake)",
                             (p.smooth_times_s, p.smooth_probability) if p.smooth_probability is not None else None,
                             p.file_probability, p.kind == "window"))
    return tracks


def _tracks_from_json(result: ScanResult) -> list[_Track]:
    """From the JSON line alone: per-frame / per-window probabilities, threshold and band as probabilities."""
    tracks = []
    for track, series in (result.series or {}).items():
        if not isinstance(series, dict) or "probability" not in series:
            continue
        detector = str(series.get("detector") or "")
        d = result.detectors.get(detector) or {}
        band = d.get("inconclusive_band") or []
        times = series.get("time_s") or series.get("start_s")
        if not times:
            continue
        ends = series.get("end_s")
        tracks.append(_Track(track, detector, np.asarray(times, float), np.asarray(series["probability"], float),
                             None if ends is None else np.asarray(ends, float), d.get("threshold"),
                             (float(band[0]), float(band[1])) if len(band) == 2 else None, "P(fake)",
                             None, d.get("probability")))
    return tracks


def timeline(result: ScanResult) -> Figure:
    """Per-frame / per-window scores over time with threshold, inconclusive band and suspected segments."""
    title = ("Timeline: calibrated P(fake) per frame / window, threshold (dashed), inconclusive band (yellow), "
             "the file's P(fake) (dotted), suspected segments (shaded)")
    tracks = _tracks_from_arrays(result)
    note = ""
    if not tracks:
        tracks = _tracks_from_json(result)
        note = "drawn from the stored JSON: lead detector only" if tracks else ""
    if not tracks:
        return Figure(title, note="no per-frame or per-window scores in this result")
    fig = _figure((7.5, 1.5 * len(tracks) + 0.4))
    axes = fig.subplots(len(tracks), 1, squeeze=False, sharex=True)
    for ax, t in zip(axes[:, 0], tracks, strict=True):
        if t.band is not None:
            ax.axhspan(t.band[0], t.band[1], color=COLORS["band"], alpha=0.35, lw=0)
        for seg in result.segments:
            if seg.get("track") == t.name and seg.get("detector") == t.detector:
                ax.axvspan(float(seg["start_s"]), float(seg["end_s"]), color=COLORS["segment"], alpha=0.3, lw=0)
        if t.smooth is not None and len(t.smooth[0]):
            ax.plot(t.smooth[0], t.smooth[1], color=COLORS["smooth"], lw=0.8, label="1 s average")
        if t.centred or t.ends is not None:  # windows: a point per window at its centre
            centres = t.times if t.ends is None else (t.times + t.ends) / 2
            ax.plot(centres, t.values, "o-", color=COLORS["window"], ms=3, lw=1.2, label="window (centre)")
        else:
            ax.plot(t.times, t.values, "o-", color=COLORS["score"], ms=3, lw=1.2, label="frame")
        if t.threshold is not None:
            ax.axhline(t.threshold, color=COLORS["threshold"], lw=1.2, ls="--", label="threshold")
        if t.file_probability is not None:
            ax.axhline(t.file_probability, color=COLORS["file"], lw=1.0, ls=":",
                       label=f"file {fmt_prob(t.file_probability)}")
        ax.set_ylim(-0.05, 1.05)
        ax.set_yticks([0, 0.5, 1])
        ax.set_ylabel(t.scale, fontsize=7)
        ax.legend(fontsize=6, loc="upper right", framealpha=0.7, ncol=4)
        ax.set_title(f"{t.name} · {t.detector}", fontsize=8, loc="left")
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.25)
    axes[-1, 0].set_xlabel("time (s)", fontsize=8)
    fig.tight_layout()
    return Figure(title, _png_uri(fig), note)


def spectrogram(result: ScanResult) -> Figure:
    """Log-mel spectrogram recomputed from the file (cheap), suspected audio segments marked."""
    title = "Spectrogram (log-mel)"
    why = _readable(result)
    if why:
        return Figure(title, note=why)
    from deepfake_gui.engine.explain import audio_spectrogram

    try:
        spec = audio_spectrogram(result.path, max_columns=1200)
    except Exception as exc:
        return Figure(title, note=f"could not decode the sound again: {exc}")
    fig = _figure((7.5, 2.4))
    ax = fig.subplots()
    t, f = np.asarray(spec.times_s), np.asarray(spec.freqs_hz)
    extent = (float(t[0]) if len(t) else 0.0, float(t[-1]) if len(t) else 1.0, 0.0, float(len(f)))
    ax.imshow(spec.db, aspect="auto", origin="lower", extent=extent, cmap="viridis")
    ticks = np.linspace(0, len(f) - 1, 5).astype(int) if len(f) else np.array([], int)
    ax.set_yticks(ticks + 0.5, [f"{f[i]:.0f}" for i in ticks])  # mel bins are not evenly spaced in Hz
    for seg in result.segments:
        if seg.get("track") == "audio":
            for x in (float(seg["start_s"]), float(seg["end_s"])):
                ax.axvline(x, color="#ffffff", lw=1.2, ls="--")  # white on viridis: visible at any power
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("Hz (mel scale)", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return Figure(title, _png_uri(fig), "dashed lines: suspected audio segments" if result.segments else "")


def figures_for(result: ScanResult) -> dict[str, Any]:
    """Every figure the file's modality calls for (keys: pictures, heatmap, timeline, spectrogram)."""
    out: dict[str, Any] = {"pictures": [], "heatmap": None, "timeline": None, "spectrogram": None}
    if result.status != "ok":
        return out
    media = result.media or {}
    if result.modality == "image":
        out["pictures"] = [thumbnail(result)]
        out["heatmap"] = heatmap_overlay(result)
    elif result.modality == "video":
        out["pictures"] = key_frames(result)
        out["timeline"] = timeline(result)
        if media.get("has_audio"):
            out["spectrogram"] = spectrogram(result)
    elif result.modality == "audio":
        out["timeline"] = timeline(result)
        out["spectrogram"] = spectrogram(result)
    return out
