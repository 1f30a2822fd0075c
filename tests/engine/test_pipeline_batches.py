"""Cross-file image batches: same results as file-by-file scoring, in order, with bounded groups."""

from __future__ import annotations

from pathlib import Path

import media_factory
import numpy as np
import pytest
from media_factory import needs_offline
from PIL import Image

from deepfake_gui.core.jobs import Cancelled, CancelToken, Progress
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine import bench_media, image_batch
from deepfake_gui.engine.scan import ScanOptions, scan_job


def _mixed_folder(root: Path) -> list[Path]:
    """Small pictures, a larger one, a broken one, speech, a video with sound and a non-media file."""
    root.mkdir(parents=True, exist_ok=True)
    paths = bench_media.write_images(root / "a_tiles", 5)
    big = root / "b_big.png"
    Image.fromarray(bench_media.textured_image(7, side=300)[:, :, :].repeat(2, axis=1)[:, :500]).save(big)
    broken = root / "c_broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    paths += [big, broken]
    paths += bench_media.write_images(root / "d_more_tiles", 3, start_seed=20)
    wav = bench_media.write_wav(root / "e_voice.wav", bench_media.speechlike(3.0, 1))
    video = media_factory.write_video(root / "f_clip.mp4")
    note = root / "g_note.txt"
    note.write_text("not media")
    return [*paths, wav, video, note]


def _scan(paths, detectors, **kw) -> tuple[list[ScanResult], list[Progress]]:
    events = list(scan_job(paths, ScanOptions(device="cpu", **kw), detectors=detectors))
    return [e for e in events if isinstance(e, ScanResult)], [e for e in events if isinstance(e, Progress)]


def _same(a: ScanResult, b: ScanResult) -> None:
    assert (a.path, a.status, a.error, a.verdict, a.modality) == (b.path, b.status, b.error, b.verdict, b.modality)
    if a.probability is None:
        assert b.probability is None
    else:
        assert a.probability == pytest.approx(b.probability, abs=1e-4)
    assert sorted(a.caveats) == sorted(b.caveats)
    assert set(a.detectors) == set(b.detectors)
    for name, info in a.detectors.items():
        for key, value in info.items():
            if isinstance(value, float):
                assert value == pytest.approx(b.detectors[name][key], abs=1e-4), (a.path, name, key)
            elif key != "series":
                assert value == b.detectors[name][key], (a.path, name, key)


@needs_offline
def test_batched_scan_matches_file_by_file(tmp_path: Path, detectors) -> None:
    paths = _mixed_folder(tmp_path / "mixed")
    batched, progress = _scan(paths, detectors, batch_size=4)
    alone, _ = _scan(paths, detectors, batch_size=4, cross_file_batches=False)
    assert [r.path for r in batched] == [str(p) for p in paths] == [r.path for r in alone]
    for a, b in zip(batched, alone, strict=True):
        _same(a, b)
        for key in ("heatmap", "tile_scores"):
            for track, arrays in a.arrays.items():
                if key in arrays:
                    np.testing.assert_allclose(arrays[key], b.arrays[track][key], atol=1e-4, equal_nan=True)
    assert sum(r.status == "ok" for r in batched) >= 9
    done = [p.done for p in progress if p.total == len(paths)]
    assert done == sorted(done) and done[-1] == len(paths)


@needs_offline
def test_groups_never_hold_more_than_one_batch(tmp_path: Path, monkeypatch, detectors) -> None:
    images_only = [d for d in detectors if d.modality == "image"]
    paths = bench_media.write_images(tmp_path / "pics", 11)
    sizes: list[int] = []
    real = image_batch.score_group

    def spy(group, *args, **kw):
        sizes.append(len(group))
        assert sum(entry.image is not None for entry in group) <= 4  # decoded pictures held at once
        yield from real(group, *args, **kw)

    monkeypatch.setattr(image_batch, "score_group", spy)
    results, _ = _scan(paths, images_only, batch_size=4, provenance=False)
    assert sizes == [4, 4, 3]
    assert [r.path for r in results] == [str(p) for p in paths]
    assert all(r.status == "ok" for r in results)
    monkeypatch.undo()
    alone, _ = _scan(paths, images_only, batch_size=4, provenance=False, cross_file_batches=False)
    for a, b in zip(results, alone, strict=True):
        _same(a, b)


@needs_offline
def test_cancel_inside_a_group_stops_the_scan(tmp_path: Path, detectors) -> None:
    images_only = [d for d in detectors if d.modality == "image"]
    paths = bench_media.write_images(tmp_path / "pics", 6)
    cancel = CancelToken()
    seen = []
    with pytest.raises(Cancelled):
        for event in scan_job(paths, ScanOptions(device="cpu", batch_size=4, provenance=False), cancel,
                              images_only):
            if isinstance(event, Progress) and event.item_total:
                cancel.cancel()
            seen.append(event)
    assert not any(isinstance(e, ScanResult) for e in seen)
