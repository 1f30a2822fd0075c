"""`layerscope train` and `layerscope evaluate` end to end, with a tiny encoder on generated audio."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from media_factory import write_mono_wav as write_wav

RATE = 16_000


@pytest.fixture(scope="module")
def toy_audio_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real: low-passed noise with a 200 Hz hum. Fake A: a buzzy 3 kHz comb. Fake B: white noise.

    Each group (a "sentence") exists as real and as fake, like the shared set.
    """
    root = tmp_path_factory.mktemp("toyset")
    rng = np.random.default_rng(0)
    t = np.arange(int(1.5 * RATE)) / RATE
    rows = ["path,label,generator,group"]
    for g in range(12):
        noise = rng.normal(0, 0.2, t.size)
        low = np.convolve(noise, np.ones(16) / 16, mode="same")
        write_wav(root / f"real/s{g}.wav", low + 0.2 * np.sin(2 * np.pi * (200 + 5 * g) * t))
        rows.append(f"real/s{g}.wav,real,real,s{g}")
        gen, fake = ("buzz", 0.3 * np.sign(np.sin(2 * np.pi * 3000 * t)) + 0.05 * noise) if g % 2 else \
            ("hiss", rng.normal(0, 0.3, t.size))
        write_wav(root / f"fake/{gen}/s{g}.wav", fake)
        rows.append(f"fake/{gen}/s{g}.wav,fake,{gen},s{g}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def cli(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "deepfake_gui.cli", *args], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_train_sweep_json_then_evaluate(toy_audio_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "det"
    report = json.loads(cli("train", "--data", str(toy_audio_set), "--encoder", "test-ge2e", "--sweep",
                            "--folds", "3", "--out", str(out), "--json", "--device", "cpu").stdout)
    assert [r["layer"] for r in report["layers"]] == [0, 1, 2]
    for r in report["layers"]:
        assert set(r) >= {"layer", "auc", "eer", "accuracy"}
        assert 0.0 <= r["eer"] <= 1.0 and 0.0 <= r["auc"] <= 1.0
    # two generators: layers are chosen by leave-one-generator-out mean AUC, not by in-domain CV
    assert all(r["logo_mean_auc"] is not None for r in report["layers"])
    assert report["chosen_layer"] == max(report["layers"], key=lambda r: r["logo_mean_auc"])["layer"]
    assert set(report["logo"]["held_out"]) == {"buzz", "hiss"}
    assert report["headline"]["protocol"] == "leave-one-generator-out"
    assert report["headline"]["mean_auc"] == report["logo"]["mean_auc"]
    assert report["shortcut_audit"]["features"][0] == "duration_s" and report["shortcut_audit"]["n"] == 24
    assert report["cv"]["cv_auc"] > 0.9  # the toy classes differ grossly in spectrum
    assert set(report["per_generator"]) == {"buzz", "hiss"}
    assert [c["fraction"] for c in report["learning_curve"]] == [0.1, 0.25, 0.5, 1.0]
    assert (out / "layer_sweep.png").stat().st_size > 5000
    meta = json.loads((out / "detector.json").read_text())
    assert meta["encoder"]["name"] == "test-ge2e" and meta["encoder"]["random_init"] is True
    lo, hi = meta["inconclusive_band"]
    assert lo <= meta["threshold"] <= hi
    assert meta["training"]["n_groups"] == 12 and len(meta["training"]["content_hash"]) == 64
    assert meta["attribution_classes"] == ["buzz", "hiss", "real"]

    ev = json.loads(cli("evaluate", "--detector", str(out), "--data", str(toy_audio_set), "--json").stdout)
    assert set(ev) >= {"auc", "ap", "eer", "min_dcf", "accuracy", "f1", "inconclusive_rate", "per_generator",
                       "n_real", "n_fake"}
    assert (ev["n_real"], ev["n_fake"]) == (12, 12)
    assert ev["auc"] > 0.9 and ev["per_generator"]["buzz"]["n"] == 6
    assert any("own training set" in c for c in ev["caveats"])
    assert sum(sum(row.values()) for row in ev["attribution"]["confusion"].values()) == 24


def test_train_single_layer_table(toy_audio_set: Path, tmp_path: Path) -> None:
    proc = cli("train", "--data", str(toy_audio_set), "--encoder", "test-ge2e", "--layer", "1", "--folds", "3",
               "--out", str(tmp_path / "one"), "--device", "cpu")
    assert "<- chosen" in proc.stdout and "lstm2" in proc.stdout
    assert "learning curve" in proc.stdout and "saved" in proc.stdout
