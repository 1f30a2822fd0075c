"""`layerscope train --encoder fusion` end to end with the tiny CLIP and ResNet variants."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from deepfake_gui.probes.bundle import load_bundle
from deepfake_gui.probes.fusion import FusionMLP


def test_fusion_train_writes_a_valid_bundle(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = ["path,label,generator,group"]
    for g in range(8):
        smooth = np.clip(rng.normal(128, 10, (48, 48, 3)), 0, 255).astype(np.uint8)
        noisy = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
        for name, img, label in (("real", smooth, "real"), ("noise", noisy, "fake")):
            path = tmp_path / f"{name}_{g}.png"
            Image.fromarray(img).save(path)
            rows.append(f"{path.name},{label},{name},g{g}")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "fusion"
    proc = subprocess.run(
        [sys.executable, "-m", "deepfake_gui.cli", "train", "--data", str(tmp_path), "--encoder", "fusion",
         "--fusion-encoders", "test-clip,test-resnet", "--folds", "3", "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["encoders"] == ["test-clip", "test-resnet"]
    assert 0.0 <= report["cv"]["cv_auc"] <= 1.0 and len(report["per_fold"]) == 3
    bundle = load_bundle(out)
    assert bundle.kind == "fusion" and bundle.meta["head"].startswith("MLP 512-512-1")
    model = FusionMLP.from_arrays(bundle.arrays)
    x = rng.normal(size=(4, model.mean_.shape[0]))
    assert model.decision_function(x).shape == (4,)
