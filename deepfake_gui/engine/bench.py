"""`layerscope bench`: how fast scanning is on this machine, and where the time goes.

A benchmark, not a test. It generates its inputs (engine/bench_media.py), so it
runs on a fresh machine with no data, and measures, with the detectors a scan
would use:

- model-only throughput per encoder, on pre-decoded inputs, at the batch size
  scan uses (what the hardware can do);
- decode-only throughput (JPEG images, video frames sampled at 1 fps, audio);
- end-to-end scan throughput on the same inputs, and the pipeline efficiency
  (model-only time for the work / end-to-end time): 1.0 means decoding,
  hashing and bookkeeping are free;
- peak resident memory per section (and peak GPU memory on CUDA);
- `layerscope --help` start-up time and whether it imported torch;
- per-item scan time at 1x, 4x and 16x the input count, which must stay flat.

Every figure is a wall-clock measurement of one run after a warm-up; the
machine's other load shows up in it, so compare runs made on a quiet machine.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepfake_gui.core.jobs import CancelToken, Progress

# README targets (issue "Performance and scale"); a report says which were met.
TARGETS = {
    "audio_realtime_factor": 50.0,  # audio seconds scanned per wall second, CPU
    "image_efficiency": 0.7,  # end-to-end / model-only, default image detector
    "video_1h_minutes": 6.0,  # projected minutes for one hour of video at 1 frame/s
    "video_peak_rss_mb": 2048.0,
    "help_seconds": 0.5,
    "scaling_ratio": 1.5,  # slowest per-item time / fastest across 1x, 4x, 16x
}


@dataclass
class BenchOptions:
    device: str = "auto"
    images: int = 128  # enough that fixed start-up costs (read-ahead threads, first batch) are amortised
    audio_files: int = 6
    audio_seconds: float = 10.0
    video_seconds: float = 60.0
    scales: tuple[int, ...] = (1, 4, 16)
    scale_images: int = 4  # inputs at 1x; 16x scans 16 times as many
    scale_audio: int = 2
    work_dir: Path | None = None  # generated media (kept between runs); default: the cache folder

    def folder(self) -> Path:
        from deepfake_gui.core.config import cache_dir

        return self.work_dir or cache_dir() / "bench"


@dataclass
class Section:
    seconds: float
    peak_rss_mb: float | None
    extra: dict[str, Any] = field(default_factory=dict)


def reset_peak_rss() -> bool:
    """Linux lets a process reset its high-water mark, so each section gets its own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def timed(work: Callable[[], Any]) -> tuple[Section, Any]:
    reset_peak_rss()
    start = time.perf_counter()
    value = work()
    return Section(time.perf_counter() - start, peak_rss_mb()), value


def measure_help(runs: int = 3) -> dict[str, Any]:
    """Best of a few `layerscope --help` runs in a fresh interpreter, and whether torch got imported."""
    script = Path(sys.executable).with_name("layerscope")
    command = [str(script), "--help"] if script.exists() else [sys.executable, "-m", "deepfake_gui.cli", "--help"]
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    probe = ("import sys; from deepfake_gui.cli import build_parser; build_parser().format_help(); "
             "print(int('torch' in sys.modules))")
    imported = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return {"seconds": best, "torch_imported": imported.stdout.strip() == "1", "command": " ".join(command)}


def _drain(job: Iterator[object], cancel: CancelToken) -> list[object]:
    out = []
    for event in job:
        cancel.raise_if_cancelled()
        if not isinstance(event, Progress):
            out.append(event)
    return out


def bench_job(options: BenchOptions | None = None, cancel: CancelToken | None = None
              ) -> Iterator[Progress | dict[str, Any]]:
    """Yield Progress per section and, last, the report dict (see module docstring)."""
    import numpy as np

    from deepfake_gui.encoders.device import describe_device, resolve_device
    from deepfake_gui.engine import bench_media
    from deepfake_gui.engine.detectors import resolve_detectors
    from deepfake_gui.engine.scan import ScanOptions, scan_job
    from deepfake_gui.media import iter_video_frames, load_audio, load_image

    options = options or BenchOptions()
    cancel = cancel or CancelToken()
    steps = 8
    report: dict[str, Any] = {}
    folder = options.folder()

    yield Progress(0, steps, "layerscope --help start-up")
    report["cli_help"] = measure_help()

    yield Progress(1, steps, "generating inputs")
    images = bench_media.write_images(folder / "images", options.images)
    audio = bench_media.write_audio(folder / "audio", options.audio_files, options.audio_seconds)
    video = bench_media.write_video(folder / f"video_{options.video_seconds:g}s.mp4", options.video_seconds)

    yield Progress(2, steps, "loading detectors")
    device = resolve_device(options.device)
    detectors = [d for d in resolve_detectors(device=options.device) if d.encoder is not None]
    by_modality: dict[str, list] = {}
    for active in detectors:
        by_modality.setdefault(active.modality, []).append(active)
    report["machine"] = _machine(describe_device(device))
    report["detectors"] = {m: [d.name for d in ds] for m, ds in by_modality.items()}
    _cuda_reset(device)

    yield Progress(3, steps, "model-only throughput")
    report["model_only"] = _model_only(by_modality, images, audio, cancel)

    yield Progress(4, steps, "decode-only throughput")
    decode: dict[str, Any] = {}
    section, decoded = timed(lambda: [load_image(p) for p in images])
    decode["image"] = {"items_per_s": len(decoded) / section.seconds, "peak_rss_mb": section.peak_rss_mb}
    section, frames = timed(lambda: sum(1 for _ in iter_video_frames(video, per_second=1.0)))
    decode["video_1fps"] = {"frames_per_s": frames / section.seconds,
                            "video_s_per_s": options.video_seconds / section.seconds,
                            "peak_rss_mb": section.peak_rss_mb}
    section, samples = timed(lambda: sum(len(load_audio(p, bench_media.AUDIO_RATE)) for p in audio))
    decode["audio"] = {"audio_s_per_s": samples / bench_media.AUDIO_RATE / section.seconds,
                       "peak_rss_mb": section.peak_rss_mb}
    report["decode"] = decode

    scan_options = ScanOptions(device=options.device, frames_per_second=1.0)

    def scan(paths: list[Path], opts: ScanOptions = scan_options) -> list[object]:
        return _drain(scan_job(paths, opts, cancel, detectors=detectors), cancel)

    yield Progress(5, steps, "end-to-end scans")
    # warm-up: first-call allocations and kernel choices (one per input shape) are not the steady state;
    # a short video too, or its one-time costs would be multiplied up into the 1-hour projection
    warm_video = bench_media.write_video(folder / "video_warmup_2s.mp4", 2.0)
    scan(images[:2] + audio[:1] + [warm_video])
    e2e: dict[str, Any] = {}
    model = report["model_only"]
    if "image" in by_modality:
        section, _ = timed(lambda: scan(images))
        model_s = sum(len(images) / model[d.name]["items_per_s"] for d in by_modality["image"])
        e2e["image"] = {"files_per_s": len(images) / section.seconds, "seconds": section.seconds,
                        "model_only_seconds": model_s, "efficiency": model_s / section.seconds,
                        "peak_rss_mb": section.peak_rss_mb}
    if "audio" in by_modality:
        total_s = options.audio_files * options.audio_seconds
        section, _ = timed(lambda: scan(audio))
        model_s = sum(total_s / model[d.name]["audio_s_per_s"] for d in by_modality["audio"])
        e2e["audio"] = {"audio_s_per_s": total_s / section.seconds, "realtime_factor": total_s / section.seconds,
                        "seconds": section.seconds, "model_only_seconds": model_s,
                        "efficiency": model_s / section.seconds, "peak_rss_mb": section.peak_rss_mb}
    section, _ = timed(lambda: scan([video]))
    e2e["video_1fps"] = {"video_seconds": options.video_seconds, "seconds": section.seconds,
                         "projected_1h_minutes": section.seconds * 3600 / options.video_seconds / 60,
                         "peak_rss_mb": section.peak_rss_mb}
    report["end_to_end"] = e2e

    yield Progress(6, steps, "scaling 1x / 4x / 16x")
    report["scaling"] = {}
    for modality, base, writer in (
        ("image", options.scale_images, lambda n: bench_media.write_images(folder / "scale_images", n)),
        ("audio", options.scale_audio, lambda n: bench_media.write_audio(folder / "scale_audio", n, 5.0)),
    ):
        if modality not in by_modality:
            continue
        rows = []
        for scale in options.scales:
            paths = writer(base * scale)
            section, _ = timed(lambda paths=paths: scan(paths))
            rows.append({"scale": scale, "n": len(paths), "seconds": section.seconds,
                         "per_item_s": section.seconds / len(paths)})
        per_item = np.array([r["per_item_s"] for r in rows])
        report["scaling"][modality] = {"rows": rows, "ratio": float(per_item.max() / per_item.min())}

    yield Progress(7, steps, "summing up")
    report["cuda_peak_mb"] = _cuda_peak(device)
    report["targets"] = check_targets(report, device.type if hasattr(device, "type") else str(device))
    yield Progress(steps, steps, "done")
    yield report


def _model_only(by_modality: dict[str, list], images: list[Path], audio: list[Path],
                cancel: CancelToken) -> dict[str, Any]:
    """Encoder forward passes on decoded inputs, the way scan calls them (tokens on, scan's batch size)."""
    from deepfake_gui.engine import bench_media
    from deepfake_gui.engine.scan import scan_batch_size
    from deepfake_gui.engine.score_image import needed_layers
    from deepfake_gui.media import load_audio, load_image

    out: dict[str, Any] = {}
    batch = scan_batch_size(None, by_modality.get("image", []))  # scan's auto choice: 16 on CPU, by memory on CUDA
    pictures = [load_image(p) for p in images]
    sounds = [load_audio(p, bench_media.AUDIO_RATE) for p in audio]
    for active in by_modality.get("image", []):
        encoder = active.encoder
        layers = needed_layers(active.detector)  # the early exit scan uses
        encoder.encode(pictures[:batch], tokens=True, layers=layers)  # warm-up
        section, _ = timed(lambda enc=encoder, layers=layers: [enc.encode(pictures[i:i + batch], tokens=True,
                                                                          layers=layers)
                                                               for i in range(0, len(pictures), batch)])
        out[active.name] = {"encoder": encoder.name, "batch_size": batch,
                            "items_per_s": len(pictures) / section.seconds, "peak_rss_mb": section.peak_rss_mb}
        cancel.raise_if_cancelled()
    for active in by_modality.get("audio", []):
        encoder = active.encoder
        rate = int(encoder.spec.preprocessing["sample_rate"])
        clips = sounds if rate == bench_media.AUDIO_RATE else [load_audio(p, rate) for p in audio]
        layers = needed_layers(active.detector)
        encoder.encode(clips[:1], tokens=True, layers=layers)
        section, _ = timed(lambda enc=encoder, clips=clips, layers=layers: [enc.encode([c], tokens=True, layers=layers)
                                                                            for c in clips])
        seconds = sum(len(c) for c in clips) / rate
        out[active.name] = {"encoder": encoder.name, "batch_size": 1, "items_per_s": len(clips) / section.seconds,
                            "audio_s_per_s": seconds / section.seconds, "peak_rss_mb": section.peak_rss_mb}
        cancel.raise_if_cancelled()
    return out


def check_targets(report: dict[str, Any], device_type: str) -> list[dict[str, Any]]:
    """Each README target next to its measurement; CPU targets only count on the CPU."""
    rows: list[dict[str, Any]] = []

    def add(name: str, target: str, measured: float | None, met: bool | None) -> None:
        rows.append({"target": name, "goal": target, "measured": measured, "met": met})

    help_s = report["cli_help"]["seconds"]
    add("layerscope --help", f"<= {TARGETS['help_seconds']} s, no torch import", help_s,
        help_s <= TARGETS["help_seconds"] and not report["cli_help"]["torch_imported"])
    e2e = report.get("end_to_end", {})
    cpu = device_type == "cpu"
    if "audio" in e2e:
        rtf = e2e["audio"]["realtime_factor"]
        add("audio scan, x real time", f">= {TARGETS['audio_realtime_factor']:g} (CPU)", rtf,
            rtf >= TARGETS["audio_realtime_factor"] if cpu else None)
    if "image" in e2e:
        eff = e2e["image"]["efficiency"]
        add("image scan / model-only", f">= {TARGETS['image_efficiency']}", eff, eff >= TARGETS["image_efficiency"])
    video = e2e.get("video_1fps")
    if video:
        minutes = video["projected_1h_minutes"]
        add("1 h video at 1 frame/s, minutes", f"<= {TARGETS['video_1h_minutes']:g} (CPU)", minutes,
            minutes <= TARGETS["video_1h_minutes"] if cpu else None)
        if video["peak_rss_mb"] is not None:
            add("video scan peak RSS, MB", f"<= {TARGETS['video_peak_rss_mb']:g}", video["peak_rss_mb"],
                video["peak_rss_mb"] <= TARGETS["video_peak_rss_mb"])
    for modality, scaling in report.get("scaling", {}).items():
        add(f"{modality} per-item time, 16x / 1x spread", f"<= {TARGETS['scaling_ratio']}", scaling["ratio"],
            scaling["ratio"] <= TARGETS["scaling_ratio"])
    return rows


def _machine(device: str) -> dict[str, Any]:
    import torch

    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "device": device,
            "python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform()}


def _cuda_reset(device: Any) -> None:
    if getattr(device, "type", "") == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats(device)


def _cuda_peak(device: Any) -> float | None:
    if getattr(device, "type", "") != "cuda":
        return None
    import torch

    return torch.cuda.max_memory_allocated(device) / 2**20


def format_report(report: dict[str, Any]) -> str:
    """The human-readable table `layerscope bench` prints."""
    lines = [f"LayerScope bench on {report['machine']['device']} ({report['machine']['cpu_count']} CPUs, "
             f"torch {report['machine']['torch']}, {report['machine']['torch_threads']} threads)", ""]
    lines.append("model only (decoded inputs, scan's batch size)")
    for name, row in report["model_only"].items():
        rate = (f"{row['audio_s_per_s']:.1f} audio s/s" if "audio_s_per_s" in row
                else f"{row['items_per_s']:.1f} images/s")
        lines.append(f"  {name:<40} {rate:>20}   batch {row['batch_size']}   peak RSS {_mb(row['peak_rss_mb'])}")
    d = report["decode"]
    lines += ["", "decode only",
              f"  JPEG 224x224{'':<28} {d['image']['items_per_s']:>14.1f} images/s",
              f"  video frames at 1 fps{'':<19} {d['video_1fps']['frames_per_s']:>14.1f} frames/s "
              f"({d['video_1fps']['video_s_per_s']:.0f} video s/s)",
              f"  audio (WAV, 16 kHz){'':<21} {d['audio']['audio_s_per_s']:>14.0f} audio s/s", "", "end to end (scan)"]
    e2e = report["end_to_end"]
    if "image" in e2e:
        lines.append(f"  images{'':<34} {e2e['image']['files_per_s']:>14.1f} files/s   "
                     f"efficiency {e2e['image']['efficiency']:.2f}   peak RSS {_mb(e2e['image']['peak_rss_mb'])}")
    if "audio" in e2e:
        lines.append(f"  audio{'':<35} {e2e['audio']['realtime_factor']:>14.1f} x real time   "
                     f"efficiency {e2e['audio']['efficiency']:.2f}   peak RSS {_mb(e2e['audio']['peak_rss_mb'])}")
    v = e2e["video_1fps"]
    lines.append(f"  video {v['video_seconds']:g} s at 1 frame/s{'':<17} {v['seconds']:>12.1f} s wall   "
                 f"1 h projected {v['projected_1h_minutes']:.1f} min   peak RSS {_mb(v['peak_rss_mb'])}")
    lines += ["", "scaling (per-item scan time)"]
    for modality, scaling in report["scaling"].items():
        cells = "   ".join(f"{r['scale']}x ({r['n']}): {r['per_item_s'] * 1000:.0f} ms" for r in scaling["rows"])
        lines.append(f"  {modality:<8} {cells}   spread {scaling['ratio']:.2f}")
    help_row = report["cli_help"]
    lines += ["", f"layerscope --help: {help_row['seconds']:.2f} s, torch imported: {help_row['torch_imported']}"]
    if report.get("cuda_peak_mb") is not None:
        lines.append(f"peak GPU memory: {report['cuda_peak_mb']:.0f} MB")
    lines += ["", "targets"]
    for row in report["targets"]:
        mark = {True: "met", False: "NOT met", None: "n/a here"}[row["met"]]
        lines.append(f"  {row['target']:<40} goal {row['goal']:<32} measured {row['measured']:.2f}   {mark}")
    return "\n".join(lines)


def _mb(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f} MB"
