"""`evaluate` for fusion, linear-probe (with its training-domain model) and one-class bundles.

Tiny random-init encoders on generated media: smooth vs noisy images, and the toy
audio set of test_train_cli (hum vs buzz / hiss), whose classes differ grossly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from media_factory import write_mono_wav as write_wav
from PIL import Image

from deepfake_gui import cli
from deepfake_gui.analysis.metrics import roc_auc
from deepfake_gui.core.errors import BundleError
from deepfake_gui.engine.evaluate import EvaluateReport, evaluate_job
from deepfake_gui.engine.train import TrainOptions, TrainReport, train_job
from deepfake_gui.probes.bundle import DetectorBundle, load_bundle, save_bundle

KEYS = {"auc", "ap", "eer", "min_dcf", "accuracy", "f1", "inconclusive_rate", "per_generator", "n_real", "n_fake",
        "one_class"}


def run(job) -> object:
    result = None
    for event in job:
        result = event
    return result


def image_set(root: Path, n_groups: int, seed: int) -> Path:
    """Real: smooth gray texture; fakes: uniform noise ('noise') or a hard checkerboard ('grid')."""
    rng = np.random.default_rng(seed)
    rows = ["path,label,generator,group"]
    root.mkdir(parents=True, exist_ok=True)
    for g in range(n_groups):
        smooth = np.clip(rng.normal(128, 10, (48, 48, 3)), 0, 255).astype(np.uint8)
        gen = "noise" if g % 2 else "grid"
        if gen == "noise":
            fake = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
        else:
            board = (np.add.outer(np.arange(48), np.arange(48)) // (2 + g % 3) % 2 * 255).astype(np.uint8)
            fake = np.repeat(board[:, :, None], 3, axis=2)
        for name, img, label, generator in (("real", smooth, "real", "real"), (gen, fake, "fake", gen)):
            path = root / f"{name}_{g}.png"
            Image.fromarray(img).save(path)
            rows.append(f"{path.name},{label},{generator},g{g}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def make_fusion_bundle(data_dir: Path, out: Path) -> Path:
    """What `layerscope train --encoder fusion` writes (see test_fusion_cli), with a small, briefly trained head."""
    from deepfake_gui.analysis.calibration import Platt
    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.engine.datasets import load_dataset
    from deepfake_gui.engine.fusion_detector import fusion_features_from_encoders
    from deepfake_gui.media import load_image
    from deepfake_gui.probes.fusion import FusionMLP

    data = load_dataset(data_dir)
    clip, resnet = build_encoder("test-clip", "cpu"), build_encoder("test-resnet", "cpu")
    X = fusion_features_from_encoders(clip, resnet, [load_image(p) for p in data.paths])
    model = FusionMLP(hidden=16, max_epochs=30, patience=5, lr=1e-3).fit(X, data.labels, data.groups)
    decision = model.decision_function(X)
    platt = Platt.fit(decision, data.labels)
    meta = {
        "name": "fusion-test", "kind": "fusion", "modality": "image",
        "encoder": {"name": "test-clip", "weights_sha256": clip.weights_sha256, "random_init": True},
        "encoders": [{"name": "test-clip", "weights_sha256": clip.weights_sha256},
                     {"name": "test-resnet", "weights_sha256": resnet.weights_sha256}],
        "layers": [len(clip.layer_names) - 1], "layer_names": ["image-embedding"], "classes": ["real", "fake"],
        "calibration": {"method": "platt", "a": platt.a, "b": platt.b}, "threshold": 0.5,
        "inconclusive_band": [0.4, 0.6], "training": {"content_hash": data.content_hash()},
    }
    return save_bundle(DetectorBundle(meta, model.to_arrays()), out)


@pytest.fixture(scope="module")
def fusion_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("fusion")
    train = image_set(root / "train", 10, seed=0)
    return make_fusion_bundle(train, root / "det"), train


def test_evaluate_a_fusion_bundle_on_new_images(fusion_bundle: tuple[Path, Path], tmp_path: Path) -> None:
    folder, _ = fusion_bundle
    test = image_set(tmp_path / "test", 8, seed=1)
    (test / "broken.png").write_bytes(b"not a png")
    with (test / "manifest.csv").open("a") as fh:
        fh.write("broken.png,fake,noise,g99\n")
    report = run(evaluate_job(folder, test, "cpu"))
    assert isinstance(report, EvaluateReport)
    m = report.metrics
    assert set(m) >= KEYS and m["kind"] == "fusion"
    assert (m["n_real"], m["n_fake"], m["n_failed"]) == (8, 8, 1)
    assert m["encoders"] == ["test-clip", "test-resnet"]
    assert m["auc"] > 0.9 and m["eer"] < 0.2  # smooth vs noise/grid: separable even with random encoders
    assert set(m["per_generator"]) == {"grid", "noise"}
    assert {v["n"] for v in m["per_generator"].values()} == {4}
    assert 0.0 <= m["inconclusive_rate"] <= 1.0 and 0.0 <= m["f1"] <= 1.0
    assert m["one_class"] == {}  # fusion bundles store no one-class model
    assert not m["caveats"]


def test_fusion_evaluate_agrees_with_the_fusion_detector(fusion_bundle: tuple[Path, Path]) -> None:
    from deepfake_gui.engine.fusion_detector import FusionDetector

    folder, train = fusion_bundle
    m = run(evaluate_job(folder, train, "cpu")).metrics
    assert any("own training set" in c for c in m["caveats"])
    detector = FusionDetector.load(folder)
    assert detector.encoder_names == ["test-clip", "test-resnet"]
    paths = sorted(train.glob("*.png"))
    scores = detector.score_files([*paths, train / "missing.png"], device="cpu")
    assert scores[-1].decision is None and "missing.png" in scores[-1].error
    labels = np.array([p.name.startswith(("noise", "grid")) for p in paths], dtype=int)
    assert roc_auc(labels, [s.decision for s in scores[:-1]]) == pytest.approx(m["auc"])
    probs = np.array([s.probability for s in scores[:-1]])
    assert np.all((probs >= 0) & (probs <= 1))
    assert {s.verdict for s in scores[:-1]} <= {"real", "fake", "inconclusive"}


def test_evaluate_cli_prints_fusion_figures(fusion_bundle: tuple[Path, Path], capsys) -> None:
    folder, train = fusion_bundle
    assert cli.main(["evaluate", "--detector", str(folder), "--data", str(train), "--device", "cpu", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["kind"] == "fusion" and (m["n_real"], m["n_fake"]) == (10, 10)
    assert cli.main(["evaluate", "--detector", str(folder), "--data", str(train), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "10 real, 10 fake" in out and "real vs noise" in out and "model (" not in out


def test_a_fusion_bundle_is_not_a_linear_detector(fusion_bundle: tuple[Path, Path]) -> None:
    from deepfake_gui.engine.fusion_detector import FusionDetector
    from deepfake_gui.probes.detector import Detector

    folder, _ = fusion_bundle
    with pytest.raises(BundleError):
        Detector.load(folder)
    lin = load_bundle(folder)
    lin.meta = dict(lin.meta, kind="linear-probe")
    with pytest.raises(BundleError, match="not a fusion detector"):
        FusionDetector(lin)


# ------------------------------------------------------------------ one-class reports


@pytest.fixture(scope="module")
def toy_audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 groups: real = low-passed noise + hum; fake = a 3 kHz buzz (odd groups) or white noise ('hiss')."""
    root = tmp_path_factory.mktemp("toy-audio")
    rng = np.random.default_rng(0)
    t = np.arange(int(1.5 * 16_000)) / 16_000
    rows = ["path,label,generator,group"]
    for g in range(12):
        noise = rng.normal(0, 0.2, t.size)
        write_wav(root / f"real/s{g}.wav", np.convolve(noise, np.ones(16) / 16, mode="same")
                  + 0.2 * np.sin(2 * np.pi * (200 + 5 * g) * t))
        rows.append(f"real/s{g}.wav,real,real,s{g}")
        gen, fake = ("buzz", 0.3 * np.sign(np.sin(2 * np.pi * 3000 * t)) + 0.05 * noise) if g % 2 else \
            ("hiss", rng.normal(0, 0.3, t.size))
        write_wav(root / f"fake/{gen}/s{g}.wav", fake)
        rows.append(f"fake/{gen}/s{g}.wav,fake,{gen},s{g}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def linear_bundle(toy_audio: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lin") / "det"
    report = run(train_job(TrainOptions(data=toy_audio, encoder="test-ge2e", out=out, sweep=False, layer=1,
                                        folds=3, device="cpu")))
    assert isinstance(report, TrainReport)
    return out


def _features(data_dir: Path, layer: int = 1) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from deepfake_gui.encoders.extract import extract_features
    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.engine.datasets import load_dataset

    data = load_dataset(data_dir)
    layers, _ = extract_features(build_encoder("test-ge2e", "cpu"), data.paths)
    return layers[layer].astype(np.float64), data.labels, data.generators


def test_evaluate_reports_each_generator_against_the_domain_model(linear_bundle: Path, toy_audio: Path) -> None:
    from deepfake_gui.probes.oneclass import domain_distance

    m = run(evaluate_job(linear_bundle, toy_audio, "cpu")).metrics
    assert m["kind"] == "linear-probe" and set(m["one_class"]) == {"domain"}
    d = m["one_class"]["domain"]
    assert d["method"] == "mahalanobis" and d["false_alarm_target"] == pytest.approx(0.01)
    bundle = load_bundle(linear_bundle)
    assert d["threshold"] == pytest.approx(float(bundle.arrays["domain_threshold"][0]))
    X, labels, gens = _features(toy_audio)
    distance = domain_distance(bundle.arrays, X)
    gens_arr = np.array(gens)
    for gen in ("buzz", "hiss"):
        mask = (labels == 0) | (gens_arr == gen)
        assert d["per_generator"][gen]["auc"] == pytest.approx(roc_auc(labels[mask], distance[mask]))
        assert d["per_generator"][gen]["n"] == 6
        assert d["per_generator"][gen]["flagged"] == pytest.approx(float((distance[gens_arr == gen] >
                                                                          d["threshold"]).mean()))
    assert d["real_flagged"] == pytest.approx(float((distance[labels == 0] > d["threshold"]).mean()))
    assert d["auc"] == pytest.approx(roc_auc(labels, distance))


def test_evaluate_table_prints_the_one_class_rows(linear_bundle: Path, toy_audio: Path, capsys) -> None:
    assert cli.main(["evaluate", "--detector", str(linear_bundle), "--data", str(toy_audio), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "domain model (mahalanobis" in out and "target false alarm 1%" in out
    lines = [line for line in out.splitlines() if "real vs buzz" in line]
    assert len(lines) == 2  # once for the probe, once against the domain model
    assert lines[1].strip().endswith("6") and "%" in lines[1]
    assert "real (false alarms)" in out


def test_evaluate_a_one_class_bundle(toy_audio: Path, tmp_path: Path) -> None:
    from deepfake_gui.probes.oneclass import MahalanobisDetector, fit_one_class

    X, labels, gens = _features(toy_audio)
    groups = np.array([f"s{i}" for i in range(len(labels))])
    model = fit_one_class(X[labels == 0], groups[labels == 0], lambda: MahalanobisDetector(n_components=4),
                          false_alarm=0.1, n_splits=3)
    meta = {"name": "oc", "kind": "one-class", "modality": "audio",
            "encoder": {"name": "test-ge2e", "weights_sha256": "random-init"}, "layers": [1],
            "classes": ["real", "fake"]}
    folder = save_bundle(DetectorBundle(meta, model.to_arrays()), tmp_path / "oc")
    m = run(evaluate_job(folder, toy_audio, "cpu")).metrics
    distance = model.score_samples(X)
    assert m["kind"] == "one-class" and m["threshold_on"] == "one-class distance"
    assert m["auc"] == pytest.approx(roc_auc(labels, distance))
    assert m["threshold"] == pytest.approx(model.threshold_, rel=1e-5)
    assert m["inconclusive_rate"] == 0.0
    predicted = (distance > model.threshold_).astype(int)
    assert m["accuracy"] == pytest.approx(float((predicted == labels).mean()))
    oc = m["one_class"]["one-class"]
    assert oc["false_alarm_target"] == pytest.approx(0.1)
    assert oc["real_flagged"] == pytest.approx(float(predicted[labels == 0].mean()))
    assert oc["per_generator"]["hiss"]["flagged"] == pytest.approx(
        float(predicted[np.array(gens) == "hiss"].mean()))


def test_evaluate_refuses_an_attribution_bundle(linear_bundle: Path, tmp_path: Path, toy_audio: Path) -> None:
    bundle = load_bundle(linear_bundle)
    arrays = {k[len("attr_"):]: v for k, v in bundle.arrays.items() if k.startswith("attr_")}
    meta = {k: v for k, v in bundle.meta.items() if k not in ("tensors", "weights_sha256", "attribution_classes")}
    meta.update(kind="attribution", classes=list(bundle.meta["attribution_classes"]))
    meta["metrics"] = {}
    folder = save_bundle(DetectorBundle(meta, arrays), tmp_path / "attr")
    with pytest.raises(BundleError, match="evaluate cannot run a 'attribution' bundle"):
        run(evaluate_job(folder, toy_audio, "cpu"))
