"""scripts/compare_baselines.py end to end with the tiny GE2E on generated audio."""

from __future__ import annotations

import importlib.util
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from deepfake_gui.core import config

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compare_baselines.py"
RATE = 8_000


def load_script():
    spec = importlib.util.spec_from_file_location("compare_baselines", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_flac(path: Path, samples: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)[None, :]
    with av.open(str(path), mode="w", format="flac") as out:
        stream = out.add_stream("flac", rate=RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, 0, Fraction(1, RATE)
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


@pytest.fixture(scope="module")
def toy_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 kHz like the shared set. Real: hum + soft noise; fake 'buzz': square wave; fake 'hiss': loud noise."""
    root = tmp_path_factory.mktemp("toy8k")
    rng = np.random.default_rng(0)
    t = np.arange(int(1.2 * RATE)) / RATE
    rows = ["path,label,generator,group"]
    for g in range(12):
        write_flac(root / f"real/s{g}.flac", 0.3 * np.sin(2 * np.pi * (180 + 7 * g) * t) + rng.normal(0, 0.02, t.size))
        rows.append(f"real/s{g}.flac,real,real,s{g}")
        gen = "buzz" if g % 2 else "hiss"
        fake = 0.3 * np.sign(np.sin(2 * np.pi * 900 * t)) if gen == "buzz" else rng.normal(0, 0.3, t.size)
        write_flac(root / f"fake/{gen}/s{g}.flac", fake)
        rows.append(f"fake/{gen}/s{g}.flac,fake,{gen},s{g}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def test_compare_baselines_on_toy_audio(toy_set: Path, tmp_path: Path, capsys) -> None:
    det = tmp_path / "det"  # the script reads only these keys of a bundle's detector.json
    det.mkdir()
    (det / "detector.json").write_text(json.dumps({"kind": "linear-probe", "encoder": {"name": "test-ge2e"},
                                                   "layers": [1], "layer_names": ["lstm2"], "classifier": "logreg"}))
    script = load_script()
    out = tmp_path / "out.json"
    assert script.main(["--data", str(toy_set), "--encoder", "test-ge2e", "--detector", str(det), "--transforms",
                        "mp3-16k", "--folds", "3", "--bootstrap", "50", "--device", "cpu", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert (r["n_real"], r["n_fake"], r["n_groups"], r["folds"]) == (12, 12, 12, 3)
    pre, twin = r["sweep"]["pretrained"], r["sweep"]["random_twin"]
    assert [x["name"] for x in pre] == [x["name"] for x in twin] == ["lstm1", "lstm2", "embedding"]
    # the tiny test encoder is random already: its twin has the same weights, so the same sweep
    for a, b in zip(pre, twin, strict=True):
        assert a["auc"] == pytest.approx(b["auc"]) and a["dim"] == b["dim"] == 16
    (d,) = r["detectors"]
    assert d["detector"] == "det" and d["layers"] == [1]
    assert set(d["conditions"]) == {"clean", "mp3-16k"}
    for c in d["conditions"].values():
        assert 0.0 <= c["eer"] <= 0.5 and c["auc_ci95"][0] <= c["auc"] <= c["auc_ci95"][1]
        assert set(c["per_generator"]) == {"buzz", "hiss"} and set(c["out_of_domain"]) == {"real", "fake"}
    assert d["conditions"]["clean"]["auc"] > 0.9
    assert "out_of_domain" not in d["random_twin_clean"]
    # copies live in the app cache, never next to the data
    copies = list((config.cache_dir() / "launder").rglob("*.flac"))
    assert len(copies) == 24 and not list(toy_set.rglob("*mp3*"))
    table = capsys.readouterr().out
    assert "| mp3-16k |" in table and "random-twin AUC" in table


def test_cross_condition_trains_on_clean_and_tests_on_the_copies() -> None:
    from deepfake_gui.probes.dataset import LabeledSet

    script = load_script()
    rng = np.random.default_rng(0)
    n = 40
    labels = np.repeat([0, 1], n // 2)
    groups = np.array([f"g{i % 10}" for i in range(n)])
    data = LabeledSet(Path("."), [Path(f"{i}") for i in range(n)], labels,
                      ["real" if y == 0 else "gen" for y in labels], groups, "manifest")
    X = rng.normal(size=(n, 3))
    X[:, 0] += 5 * labels
    test_groups = [np.isin(groups, [f"g{k}", f"g{k + 1}"]) for k in range(0, 10, 2)]
    folds = [(np.nonzero(~mask)[0], np.nonzero(mask)[0]) for mask in test_groups]
    clean = script.cross_condition(X, X, data, folds, domain=False, n_boot=20)
    flipped = X.copy()
    flipped[:, 0] *= -1  # a "re-encoding" that reverses the cue the probe learned on clean data
    worse = script.cross_condition(X, flipped, data, folds, domain=False, n_boot=20)
    assert clean["auc"] > 0.95 and worse["auc"] < 0.1
    assert worse["per_generator"]["gen"] == pytest.approx(worse["auc"])
