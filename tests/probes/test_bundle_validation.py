"""Validation of fusion and one-class bundles (and the one-class models inside linear bundles).

Each malformed bundle must be refused with a message naming the file at fault
(detector.json or weights.safetensors) and the key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from deepfake_gui.core.errors import BundleError
from deepfake_gui.probes.bundle import DetectorBundle, load_bundle, save_bundle
from deepfake_gui.probes.fusion import FusionMLP
from deepfake_gui.probes.linear import LinearProbe
from deepfake_gui.probes.oneclass import KNNDistanceDetector, MahalanobisDetector, fit_domain_model

D = 7


def _data(n: int = 40, d: int = D, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    X = rng.normal(size=(n, d)) + y[:, None] * 1.5
    return X, y, np.arange(n) // 2


def fusion_arrays() -> dict[str, np.ndarray]:
    X, y, groups = _data()
    return FusionMLP(hidden=8, max_epochs=2, patience=1).fit(X, y, groups).to_arrays()


def fusion_meta() -> dict:
    return {"name": "fusion-unit", "kind": "fusion", "modality": "image",
            "encoder": {"name": "test-clip", "weights_sha256": "random-init"},
            "encoders": [{"name": "test-clip"}, {"name": "test-resnet"}],
            "layers": [2], "classes": ["real", "fake"], "threshold": 0.5, "inconclusive_band": [0.4, 0.6],
            "calibration": {"method": "platt", "a": 1.0, "b": 0.0}}


def mahalanobis_arrays(n_components: int | None = 4) -> dict[str, np.ndarray]:
    X, _, _ = _data()
    det = MahalanobisDetector(n_components=n_components).fit(X)
    det.calibrate_threshold(det.score_samples(X), 0.05)
    return det.to_arrays()


def knn_arrays(k: int = 3) -> dict[str, np.ndarray]:
    X, _, _ = _data(n=12)
    det = KNNDistanceDetector(k=k).fit(X)
    det.calibrate_threshold(det.score_samples(X), 0.1)
    return det.to_arrays()


def one_class_meta() -> dict:
    return {"name": "oc-unit", "kind": "one-class", "modality": "audio",
            "encoder": {"name": "test-ge2e", "weights_sha256": "random-init"},
            "layers": [1], "classes": ["real", "fake"], "one_class": {"fitted_on": "real items"}}


def rewrite(folder: Path, arrays: dict[str, np.ndarray] | None = None, drop: tuple[str, ...] = (),
            **meta_changes) -> None:
    """Replace tensors and/or JSON keys of a saved bundle, keeping its checksum and declarations consistent,
    so that load_bundle reaches the layout checks (as a hand-edited or buggy writer's bundle would)."""
    from safetensors.numpy import save_file

    meta = json.loads((folder / "detector.json").read_text())
    if arrays is not None:
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(folder / "weights.safetensors"))
        meta["tensors"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in arrays.items()}
        meta["weights_sha256"] = hashlib.sha256((folder / "weights.safetensors").read_bytes()).hexdigest()
    for key in drop:
        meta.pop(key, None)
    meta.update(meta_changes)
    (folder / "detector.json").write_text(json.dumps(meta))


# ------------------------------------------------------------------ fusion
def test_a_valid_fusion_bundle_round_trips(tmp_path: Path) -> None:
    arrays = fusion_arrays()
    folder = save_bundle(DetectorBundle(fusion_meta(), arrays), tmp_path / "f")
    loaded = load_bundle(folder)
    assert loaded.kind == "fusion" and set(loaded.arrays) == set(arrays)
    assert loaded.meta["tensors"]["head.fc1.weight"] == {"shape": [8, D], "dtype": "float32"}


def _fusion_with(edit) -> dict[str, np.ndarray]:
    arrays = fusion_arrays()
    edit(arrays)
    return arrays


@pytest.mark.parametrize(
    ("edit", "file", "message"),
    [
        (lambda a: a.update({"head.bn1.running_var": np.ones(3, np.float32)}), "weights.safetensors",
         r"tensor 'head.bn1.running_var' has shape \[3\], expected \[8\]"),
        (lambda a: a.pop("head.out.bias"), "weights.safetensors", r"needs tensor\(s\) \['head.out.bias'\]"),
        (lambda a: a.update({"head.fc2.weight": np.ones((8, 5), np.float32)}), "weights.safetensors",
         r"'head.fc2.weight' has shape \[8, 5\], expected \[8, 8\]"),
        (lambda a: a.update({"scaler_mean": np.zeros(D + 1, np.float32)}), "weights.safetensors",
         r"'scaler_mean' has shape \[8\], expected \[7\] \(the input width of head.fc1.weight\)"),
        (lambda a: a["scaler_std"].__setitem__(2, np.nan), "weights.safetensors",
         "tensor 'scaler_std' holds NaN or infinite values"),
        (lambda a: a["head.bn2.running_var"].__setitem__(0, -1.0), "weights.safetensors",
         "'head.bn2.running_var' must be non-negative"),
        (lambda a: a.update({"head.fc1.weight": a["head.fc1.weight"].astype(np.int32)}), "weights.safetensors",
         "'head.fc1.weight' must be floating point"),
        (lambda a: a.update({"head.fc3.weight": np.ones((2, 2), np.float32)}), "weights.safetensors",
         r"\['head.fc3.weight'\] are not part of the fusion head"),
    ],
    ids=["bn-shape", "missing-out-bias", "fc2-shape", "scaler-width", "nan", "negative-var", "int-dtype",
         "extra-layer"],
)
def test_malformed_fusion_tensors_are_rejected(tmp_path: Path, edit, file: str, message: str) -> None:
    folder = save_bundle(DetectorBundle(fusion_meta(), fusion_arrays()), tmp_path / "f")
    rewrite(folder, _fusion_with(edit))
    with pytest.raises(BundleError, match=message) as err:
        load_bundle(folder)
    assert str(err.value).startswith(str(folder / file))


@pytest.mark.parametrize(
    ("changes", "drop", "message"),
    [
        ({}, ("encoders",), "'encoders' must list the two encoders"),
        ({"encoders": [{"name": "test-clip"}]}, (), "'encoders' must list the two encoders"),
        ({"modality": "audio"}, (), "'modality' is 'audio'; a fusion detector works on images"),
        ({"classes": ["real", "fake", "other"]}, (), "'classes' .* a fusion detector is binary"),
        ({"calibration": {"a": "one"}}, (), "calibration must be an object whose a and b are numbers"),
    ],
    ids=["no-encoders", "one-encoder", "audio", "three-classes", "calibration"],
)
def test_malformed_fusion_json_is_rejected(tmp_path: Path, changes: dict, drop: tuple, message: str) -> None:
    folder = save_bundle(DetectorBundle(fusion_meta(), fusion_arrays()), tmp_path / "f")
    rewrite(folder, drop=drop, **changes)
    with pytest.raises(BundleError, match=message) as err:
        load_bundle(folder)
    assert str(err.value).startswith(str(folder / "detector.json"))


def test_declared_dtype_and_undeclared_tensors_are_caught(tmp_path: Path) -> None:
    folder = save_bundle(DetectorBundle(fusion_meta(), fusion_arrays()), tmp_path / "f")
    meta = json.loads((folder / "detector.json").read_text())
    meta["tensors"]["scaler_mean"]["dtype"] = "float16"
    (folder / "detector.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"'scaler_mean' has dtype float32, detector\.json says float16"):
        load_bundle(folder)
    del meta["tensors"]["scaler_mean"]
    (folder / "detector.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"\['scaler_mean'\] are not declared in detector.json"):
        load_bundle(folder)


def test_save_refuses_a_malformed_fusion_bundle_before_writing_anything(tmp_path: Path) -> None:
    arrays = _fusion_with(lambda a: a.pop("head.bn1.weight"))
    with pytest.raises(BundleError, match=r"head\.bn1\.weight"):
        save_bundle(DetectorBundle(fusion_meta(), arrays), tmp_path / "never")
    assert not (tmp_path / "never").exists()


# ------------------------------------------------------------------ one-class
@pytest.mark.parametrize("arrays", [mahalanobis_arrays(), mahalanobis_arrays(None), knn_arrays()],
                         ids=["mahalanobis-pca", "mahalanobis-full", "knn"])
def test_valid_one_class_bundles_load(tmp_path: Path, arrays: dict[str, np.ndarray]) -> None:
    folder = save_bundle(DetectorBundle(one_class_meta(), arrays), tmp_path / "oc")
    assert load_bundle(folder).kind == "one-class"


def _edited(base: dict[str, np.ndarray], **changes) -> dict[str, np.ndarray]:
    out = dict(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key)
        else:
            out[key] = value
    return out


MAHA = mahalanobis_arrays()
KNN = knn_arrays()


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (_edited(MAHA, precision=np.eye(3, 4, dtype=np.float32)), r"'precision' has shape \[3, 4\], expected \[4, 4\]"),
        (_edited(MAHA, location=np.zeros(5, np.float32)), r"'location' has shape \[5\], expected \[4\]"),
        (_edited(MAHA, components=np.zeros((4, D + 2), np.float32)), "'components' has 9 columns, expected 7"),
        (_edited(MAHA, threshold=None), "has no tensor 'threshold'"),
        (_edited(MAHA, threshold=np.array([1.0, 2.0], np.float32)), r"'threshold' has shape \[2\], expected \[1\]"),
        (_edited(MAHA, false_alarm=np.array([1.5], np.float32)), "'false_alarm' is 1.5, must be a rate"),
        (_edited(MAHA, precision=np.triu(np.ones((4, 4), np.float32))), "'precision' is not symmetric"),
        (_edited(MAHA, precision=-np.eye(4, dtype=np.float32)), "'precision' has a non-positive diagonal"),
        (_edited(MAHA, scaler_std=np.zeros(D, np.float32)), "'scaler_std' must be positive"),
        (_edited(MAHA, location=None, precision=None), r"needs either location \+ precision"),
        (_edited(MAHA, train=np.zeros((3, D), np.float32)), "'train' cannot sit next to precision"),
        (_edited(KNN, k=np.array([20], np.int64)), "'k' is 20, must be between 1 and the 12 training rows"),
        (_edited(KNN, k=np.array([3.0], np.float32)), "'k' must hold integers"),
        (_edited(KNN, metric_cosine=np.array([2], np.int64)), "'metric_cosine' must be 0"),
        (_edited(KNN, train=np.zeros((12, 3), np.float32)), "'train' has 3 columns, expected 7"),
    ],
    ids=["precision-shape", "location-shape", "components-cols", "no-threshold", "threshold-shape",
         "false-alarm", "asymmetric", "negative-diag", "zero-std", "no-model", "both-models", "knn-k",
         "knn-k-dtype", "knn-metric", "knn-train-cols"],
)
def test_malformed_one_class_bundles_are_rejected(tmp_path: Path, arrays: dict[str, np.ndarray],
                                                  message: str) -> None:
    good = KNN if "train" in arrays and "precision" not in arrays else MAHA
    folder = save_bundle(DetectorBundle(one_class_meta(), good), tmp_path / "oc")
    rewrite(folder, arrays)
    with pytest.raises(BundleError, match=message) as err:
        load_bundle(folder)
    assert str(err.value).startswith(str(folder / "weights.safetensors"))


def test_one_class_width_must_match_the_layer_sweep_in_detector_json(tmp_path: Path) -> None:
    meta = one_class_meta() | {"metrics": {"layer_sweep": [{"layer": 1, "dim": D + 1}]}}
    with pytest.raises(BundleError, match=r"layers \[1\] are 8 features wide according to 'metrics.layer_sweep'"):
        save_bundle(DetectorBundle(meta, MAHA), tmp_path / "oc")
    meta["metrics"]["layer_sweep"][0]["dim"] = D
    assert load_bundle(save_bundle(DetectorBundle(meta, MAHA), tmp_path / "ok")).kind == "one-class"


# ------------------------------------------------------------------ one-class models inside a linear bundle
def linear_with_domain(d: int = D) -> tuple[dict, dict[str, np.ndarray]]:
    X, y, groups = _data(d=d)
    arrays = LinearProbe().fit(X, y).to_arrays()
    domain, threshold = fit_domain_model(X, groups)
    meta = {"name": "lin", "kind": "linear-probe", "modality": "audio",
            "encoder": {"name": "test-ge2e", "weights_sha256": "random-init"}, "layers": [1],
            "classes": ["real", "fake"], "domain": {"threshold": threshold},
            "calibration": {"method": "platt", "a": 1.0, "b": 0.0}, "threshold": 0.5, "inconclusive_band": [0.4, 0.6]}
    return meta, arrays | domain


def test_domain_model_width_and_threshold_are_checked(tmp_path: Path) -> None:
    meta, arrays = linear_with_domain()
    folder = save_bundle(DetectorBundle(meta, arrays), tmp_path / "lin")
    assert load_bundle(folder).arrays["domain_threshold"].shape == (1,)

    _, other = linear_with_domain(d=D + 3)
    wrong = {k: v for k, v in arrays.items() if not k.startswith("domain_")} | {
        k: v for k, v in other.items() if k.startswith("domain_")}
    rewrite(folder, wrong)
    with pytest.raises(BundleError, match="'domain_scaler_mean' is 10 features wide, but the training-domain model "
                                          "must take the detector's 7 features"):
        load_bundle(folder)

    rewrite(folder, arrays, domain={"threshold": 12345.0})
    with pytest.raises(BundleError, match=r"'domain\.threshold' is 12345\.0, but tensor 'domain_threshold'") as err:
        load_bundle(folder)
    assert str(err.value).startswith(str(folder / "detector.json"))


def test_oneclass_prefix_in_a_linear_bundle_is_validated(tmp_path: Path) -> None:
    meta, arrays = linear_with_domain()
    extra = {f"oneclass_{k}": v for k, v in MAHA.items()}
    folder = save_bundle(DetectorBundle(meta, arrays | extra), tmp_path / "lin")
    assert "oneclass_precision" in load_bundle(folder).arrays
    extra["oneclass_location"] = np.zeros(2, np.float32)
    with pytest.raises(BundleError, match=r"'oneclass_location' has shape \[2\], expected \[4\]"):
        save_bundle(DetectorBundle(meta, arrays | extra), tmp_path / "bad")


def test_attribution_tensors_need_their_classes(tmp_path: Path) -> None:
    meta, arrays = linear_with_domain()
    X, _, _ = _data()
    gens = np.array(["real", "a", "b", "c"] * 10)
    attr = {f"attr_{k}": v for k, v in LinearProbe().fit(X, gens).to_arrays().items()}
    with pytest.raises(BundleError, match="'attribution_classes' is missing but the weights hold attr_"):
        save_bundle(DetectorBundle(meta, arrays | attr), tmp_path / "a")
    with pytest.raises(BundleError, match=r"'attr_coef' has 4 rows, but detector\.json 'attribution_classes' lists 3"):
        save_bundle(DetectorBundle(meta | {"attribution_classes": ["a", "b", "real"]}, arrays | attr),
                    tmp_path / "b")
    ok = save_bundle(DetectorBundle(meta | {"attribution_classes": ["a", "b", "c", "real"]}, arrays | attr),
                     tmp_path / "c")
    assert load_bundle(ok).meta["attribution_classes"] == ["a", "b", "c", "real"]
