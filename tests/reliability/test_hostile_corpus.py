"""The generated hostile corpus through the scan: one line per file, each error a clean line, no verdicts on
errors, and the batch always goes on. Decoding is real (every frame, every sample); the detectors are stood in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from deepfake_gui.core.errors import MediaError
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine import scan as scan_module
from deepfake_gui.engine import verdicts as verdicts_module
from deepfake_gui.engine.scan import ScanOptions, scan_job
from deepfake_gui.media import probe

from . import hostile

STAND_INS = [SimpleNamespace(name=f"stand-in-{m}", modality=m, unavailable=None, encoder=None)
             for m in ("image", "audio")]


def _decode_everything(path, info, track, active, options, cancel, decoder=None):
    """What a detector reads, decoded to the end: every frame of a video or animation, every audio sample.

    With the scan's decoding worker: what scoring reads from it (the picture, every sampled frame, every sample).
    """
    from deepfake_gui.media import iter_image_frames, load_image
    from deepfake_gui.media.audio import iter_audio_chunks
    from deepfake_gui.media.video import iter_video_frames

    if decoder is not None and decoder.isolated:
        if track == "audio":
            n = sum(len(c) for c in decoder.audio_chunks(path, 16_000))
        elif track == "frames":
            n = sum(1 for _ in decoder.video_frames(path, 2.0))
        else:
            n = decoder.image(path).size
    elif track == "audio":
        n = sum(len(c) for c in iter_audio_chunks(path, 16_000))
    elif track == "frames":
        n = sum(1 for _ in iter_video_frames(path, per_second=2.0))
    else:
        n = load_image(path).size + sum(1 for _ in iter_image_frames(path))
    yield from ()
    return SimpleNamespace(detector=active.name, track=track, n=n)


def _finish(result, info, scores, detectors, options, content=None):
    result.verdict, result.probability, result.score = "real", 0.25, -1.0
    return result


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("hostile")
    return root, hostile.build(root)


@pytest.mark.parametrize("timeout_s", [None, 60.0], ids=["in-process", "decoding-worker"])
def test_every_hostile_file_gets_one_clean_line(corpus, monkeypatch: pytest.MonkeyPatch,
                                                timeout_s: float | None) -> None:
    root, expect = corpus
    monkeypatch.setattr(scan_module, "_track_job", _decode_everything)
    monkeypatch.setattr(verdicts_module, "finish_result", _finish)
    monkeypatch.setattr(scan_module, "_add_segments", lambda *a, **k: None)
    options = ScanOptions(device="cpu", batch_size=4, cross_file_batches=False, decode_timeout_s=timeout_s,
                          memory_budget_bytes=None if timeout_s is None else 2 << 30)
    results = [e for e in scan_job([root], options, detectors=STAND_INS) if isinstance(e, ScanResult)]
    by_name = {os.path.basename(r.path): r for r in results}
    assert len(results) == len(by_name) == len(expect)
    assert set(by_name) == set(expect)
    for name, reason in expect.items():
        r = by_name[name]
        line = json.dumps(r.to_json_dict(), ensure_ascii=False, allow_nan=False).encode("utf-8")  # strict
        assert b"unexpected" not in line, line[:400]
        if reason == "ok":
            assert r.status == "ok", (name, r.error)
            # the stand-in says real; the content gate may withhold it (tiny, flat, tone), always with a reason
            assert r.verdict == "real" or (r.verdict == "inconclusive" and r.gate["reasons"]), (name, r.gate)
            continue
        assert r.status == "error", (name, r.status, r.caveats)
        assert r.verdict is None and r.probability is None and r.score is None and r.detectors == {}
        assert r.error.startswith(r.path) or r.error.startswith(str(root)), r.error
        if reason != "any-error":
            try:
                probe(r.path)
            except MediaError as exc:
                assert exc.reason == reason, (name, exc)
            else:
                pytest.fail(f"{name} probed without error")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak RSS from /proc")
def test_the_one_colour_13300_px_png_is_refused_without_using_gigabytes(corpus) -> None:
    root, _ = corpus
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so the child would report a big parent's peak
    child = ("import sys\nfrom deepfake_gui.media import probe\nfrom deepfake_gui.core.errors import "
             "MediaError\ntry:\n    probe(sys.argv[1])\nexcept MediaError as e:\n    print(e.reason)\n"
             "print(next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM:')))")
    proc = subprocess.run([sys.executable, "-c", child, str(root / "solid-13300x13300.png")], capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    reason, peak_kib = proc.stdout.split()
    assert reason == "too-large"
    assert int(peak_kib) < 400 * 1024  # the import of numpy, Pillow and PyAV, not a decoded picture


def test_gif_frame_extents_beyond_the_canvas_are_refused_before_decoding(corpus) -> None:
    root, _ = corpus
    with pytest.raises(MediaError, match=r"GIF claims 65536x65536 pixels, above the 100 MP budget"):
        probe(root / "bomb-extents.gif")
    from deepfake_gui.media import iter_image_frames

    with pytest.raises(MediaError, match="65536x65536"):
        list(iter_image_frames(root / "bomb-extents.gif"))


def test_memory_and_bomb_errors_from_the_decoder_are_error_lines(tmp_path: Path, monkeypatch) -> None:
    from PIL import Image

    from deepfake_gui.media import image as image_module

    good = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(good)
    for exc in (MemoryError(), Image.DecompressionBombError("Image size (9 pixels) exceeds limit")):
        def explode(self, exc=exc):
            raise exc

        monkeypatch.setattr(Image.Image, "load", explode)
        with pytest.raises(MediaError, match="image too large") as err:
            image_module.load_image(good)
        assert err.value.reason == "too-large"
