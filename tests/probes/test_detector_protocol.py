"""One Detector protocol for every kind, loaded by kind through the registry (probes/interface.py, registry.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deepfake_gui.core.errors import BundleError
from deepfake_gui.probes import registry
from deepfake_gui.probes.bundle import DetectorBundle, save_bundle
from deepfake_gui.probes.detector import Detector as LinearDetector
from deepfake_gui.probes.detector import LinearProbeDetector
from deepfake_gui.probes.fusion import FusionBundleDetector, FusionMLP
from deepfake_gui.probes.interface import Detector, EncodedBatch, load_detector
from deepfake_gui.probes.linear import LinearProbe
from deepfake_gui.probes.oneclass import MahalanobisDetector
from deepfake_gui.probes.oneclass_detector import OneClassBundleDetector

MODELS = Path(__file__).resolve().parents[2] / "models"
SHIPPED = sorted(p.parent for p in MODELS.rglob("detector.json"))
D = 6


def _data(n: int = 40, d: int = D) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], n // 2)
    return rng.normal(size=(n, d)) + y[:, None] * 1.5, y


def linear_bundle(folder: Path) -> Path:
    X, y = _data()
    meta = {"name": "lin", "kind": "linear-probe", "modality": "audio",
            "encoder": {"name": "test-ge2e", "weights_sha256": "random-init"}, "layers": [1],
            "classes": ["real", "fake"], "calibration": {"method": "platt", "a": 1.0, "b": 0.0},
            "threshold": 0.5, "inconclusive_band": [0.4, 0.6]}
    return save_bundle(DetectorBundle(meta, LinearProbe().fit(X, y).to_arrays()), folder)


def one_class_bundle(folder: Path) -> Path:
    X, _ = _data()
    model = MahalanobisDetector(n_components=3).fit(X)
    model.calibrate_threshold(model.score_samples(X), 0.05)
    meta = {"name": "oc", "kind": "one-class", "modality": "audio",
            "encoder": {"name": "test-ge2e", "weights_sha256": "random-init"}, "layers": [1],
            "classes": ["real", "fake"]}
    return save_bundle(DetectorBundle(meta, model.to_arrays()), folder)


def fusion_bundle(folder: Path) -> Path:
    X, y = _data()
    meta = {"name": "fusion-unit", "kind": "fusion", "modality": "image",
            "encoder": {"name": "test-clip", "weights_sha256": "random-init"},
            "encoders": [{"name": "test-clip"}, {"name": "test-resnet"}],
            "layers": [2], "classes": ["real", "fake"], "threshold": 0.5, "inconclusive_band": [0.4, 0.6],
            "calibration": {"method": "platt", "a": 1.0, "b": 0.0}}
    arrays = FusionMLP(hidden=8, max_epochs=2, patience=1).fit(X, y, np.arange(len(y)) // 2).to_arrays()
    return save_bundle(DetectorBundle(meta, arrays), folder)


def test_the_built_in_kinds_are_registered() -> None:
    assert {"linear-probe", "fusion", "one-class"} <= set(registry.detector_kinds())
    assert "attribution" in registry.known_kinds() and "attribution" not in registry.detector_kinds()
    assert LinearDetector is LinearProbeDetector  # the historic name of the linear kind


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: str(p.relative_to(MODELS)))
def test_every_shipped_bundle_loads_through_the_protocol_as_it_did(folder: Path) -> None:
    detector = load_detector(folder)
    assert isinstance(detector, Detector) and isinstance(detector, LinearProbeDetector)
    assert detector.localizes and detector.adaptable and detector.file_calibration is not None
    (request,) = detector.feature_requests()
    assert request.encoder == detector.encoder_name == detector.meta["encoder"]["name"]
    assert list(request.layers or ()) == detector.layers and not request.embedding
    X = np.random.default_rng(0).normal(size=(4, detector.n_features))
    layers = [np.zeros((4, 0))] * (max(detector.layers) + 1)  # the row split over the bundle's layers
    split = np.array_split(np.arange(X.shape[1]), len(detector.layers))
    for index, cols in zip(detector.layers, split, strict=True):
        layers[index] = X[:, cols]
    np.testing.assert_allclose(detector.score_features({detector.encoder_name: layers}),
                               LinearDetector.load(folder).decision(X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("make", "cls", "calibrated", "localizes"), [
    (linear_bundle, LinearProbeDetector, True, True),
    (one_class_bundle, OneClassBundleDetector, False, False),
    (fusion_bundle, FusionBundleDetector, True, False),
])
def test_each_kind_loads_as_its_class_and_satisfies_the_protocol(tmp_path: Path, make, cls, calibrated: bool,
                                                                  localizes: bool) -> None:
    detector = load_detector(make(tmp_path / "det"))
    assert type(detector) is cls and isinstance(detector, Detector)
    assert (detector.file_calibration is not None) == calibrated and detector.localizes == localizes
    assert detector.encoder_names == [r.encoder for r in detector.feature_requests()]
    if not localizes:
        with pytest.raises(BundleError, match="no per-token scores"):
            detector.token_decision(None)


def test_one_class_scores_distance_and_reports_its_threshold(tmp_path: Path) -> None:
    detector = load_detector(one_class_bundle(tmp_path / "oc"))
    X, _ = _data()
    features = {"test-ge2e": [np.zeros((len(X), 2)), X]}
    np.testing.assert_allclose(detector.score_features(features), detector.model.score_samples(X))
    assert detector.threshold == pytest.approx(detector.model.threshold_) and detector.band[0] == detector.band[1]
    assert list(detector.one_class_models()) == ["one-class"]
    with pytest.raises(BundleError, match="no calibrated probability"):
        detector.probability(np.zeros(2))


def test_fusion_reads_the_clip_embedding_and_the_resnet_pool(tmp_path: Path) -> None:
    from deepfake_gui.probes.fusion import fusion_inputs

    detector = load_detector(fusion_bundle(tmp_path / "f"))
    clip, resnet = detector.feature_requests()
    assert (clip.encoder, clip.embedding, resnet.encoder, resnet.embedding) == ("test-clip", True, "test-resnet", False)
    rng = np.random.default_rng(1)
    emb, prompt, pool = rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(3, D - 5))
    features = {"test-clip": EncodedBatch([], embedding=emb, prompt=prompt),
                "test-resnet": EncodedBatch([rng.normal(size=(3, 9)), pool], layer_names=["stem", "pool"])}
    np.testing.assert_allclose(detector.inputs(features), fusion_inputs(emb, prompt, pool))
    with pytest.raises(BundleError, match="image embedding"):
        detector.inputs({"test-clip": [emb], "test-resnet": [pool]})


def test_unknown_and_layout_only_kinds_are_refused_naming_the_folder(tmp_path: Path) -> None:
    folder = linear_bundle(tmp_path / "det")
    meta = json.loads((folder / "detector.json").read_text())
    (folder / "detector.json").write_text(json.dumps(meta | {"kind": "mystery"}))
    with pytest.raises(BundleError, match=r"det/detector.json: unknown kind 'mystery' \(known: attribution, .*"
                                          r"fusion, linear-probe, one-class"):
        load_detector(folder)
    (folder / "detector.json").write_text(json.dumps(meta | {"kind": "attribution"}))
    with pytest.raises(BundleError, match="det: evaluate cannot run a 'attribution' bundle"):
        load_detector(folder, "evaluate")


def test_a_new_kind_is_one_class_and_one_registration(tmp_path: Path) -> None:
    """A throwaway kind (a sign-flipped probe), registered here: load_detector builds it, nothing else changes."""

    class Flipped(LinearProbeDetector):
        kind = "test-flipped"

        def decision(self, X: np.ndarray) -> np.ndarray:
            return -super().decision(X)

    registry.register_kind(Flipped.kind, Flipped)
    try:
        folder = linear_bundle(tmp_path / "det")
        meta = json.loads((folder / "detector.json").read_text())
        (folder / "detector.json").write_text(json.dumps(meta | {"kind": "test-flipped"}))
        detector = load_detector(folder)
        assert type(detector) is Flipped
        X, _ = _data()
        np.testing.assert_allclose(detector.decision(X), -LinearProbeDetector.load(linear_bundle(tmp_path / "b"))
                                   .decision(X))
        with pytest.raises(ValueError, match="already registered"):
            registry.register_kind(Flipped.kind, LinearProbeDetector)
    finally:
        registry._KINDS.pop(Flipped.kind, None)


def test_scan_refuses_a_kind_it_cannot_run_before_reading_a_file(tmp_path: Path) -> None:
    from deepfake_gui.engine.detectors import resolve_detectors

    with pytest.raises(BundleError, match=r"no calibrated probability.*layerscope evaluate"):
        resolve_detectors([str(one_class_bundle(tmp_path / "oc"))], "cpu", defaults=False)
    with pytest.raises(BundleError, match=r"scores whole pictures.*layerscope evaluate"):
        resolve_detectors([str(fusion_bundle(tmp_path / "f"))], "cpu", defaults=False)
