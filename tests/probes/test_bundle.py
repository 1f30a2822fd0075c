"""Detector bundles: round trip, validation, and refusal to run code."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from deepfake_gui.core.errors import BundleError
from deepfake_gui.probes.bundle import DetectorBundle, load_bundle, save_bundle
from deepfake_gui.probes.detector import Detector
from deepfake_gui.probes.linear import LinearProbe, torch_decision


def make_bundle(tmp_path: Path, d: int = 6) -> tuple[Path, LinearProbe, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, d))
    y = (X[:, 0] + 0.3 * rng.normal(size=80) > 0).astype(int)
    probe = LinearProbe().fit(X, y)
    meta = {
        "name": "unit", "kind": "linear-probe", "modality": "audio",
        "encoder": {"name": "test-ge2e", "weights_sha256": "random-init"},
        "layers": [1], "classes": ["real", "fake"],
        "calibration": {"method": "platt", "a": 1.0, "b": 0.0},
        "threshold": 0.5, "inconclusive_band": [0.4, 0.6],
    }
    folder = save_bundle(DetectorBundle(meta, probe.to_arrays()), tmp_path / "det")
    return folder, probe, X


def test_round_trip_is_bit_identical(tmp_path: Path) -> None:
    folder, probe, X = make_bundle(tmp_path)
    loaded = load_bundle(folder)
    for key, value in probe.to_arrays().items():
        assert loaded.arrays[key].dtype == value.dtype
        assert np.array_equal(loaded.arrays[key], value)
    again = save_bundle(DetectorBundle(dict(loaded.meta), dict(loaded.arrays)), tmp_path / "again")
    assert (again / "weights.safetensors").read_bytes() == (folder / "weights.safetensors").read_bytes()
    assert load_bundle(again).content_hash() == loaded.content_hash()
    det = Detector(loaded)
    layers = [np.zeros((len(X), 3)), X]
    np.testing.assert_allclose(det.decision(det.select(layers)), probe.decision_function(X), rtol=1e-5, atol=1e-5)


def test_torch_decision_matches_numpy_on_tokens(tmp_path: Path) -> None:
    import torch

    _, probe, X = make_bundle(tmp_path)
    tokens = torch.tensor(X.reshape(8, 10, -1), dtype=torch.float32)
    out = torch_decision(probe.to_arrays(), tokens)
    assert out.shape == (8, 10)
    np.testing.assert_allclose(out.numpy().ravel(), probe.decision_function(X), rtol=1e-4, atol=1e-4)


def _edit(folder: Path, **changes) -> None:
    meta = json.loads((folder / "detector.json").read_text())
    meta.update(changes)
    (folder / "detector.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "mystery"}, "unknown kind"),
        ({"layers": []}, "layers"),
        ({"layers": ["1"]}, "layers"),
        ({"format_version": 99}, "newer"),
        ({"weights_file": "../../etc/passwd"}, "inside the bundle"),
        ({"weights_file": "weights.pt"}, "safetensors"),
        ({"inconclusive_band": [0.7, 0.2]}, "low <= high"),
        ({"classes": ["real"]}, "two class"),
    ],
)
def test_malformed_bundles_are_rejected(tmp_path: Path, change: dict, message: str) -> None:
    folder, *_ = make_bundle(tmp_path)
    _edit(folder, **change)
    with pytest.raises(BundleError, match=message):
        load_bundle(folder)


def test_missing_key_truncated_json_and_altered_weights(tmp_path: Path) -> None:
    folder, *_ = make_bundle(tmp_path)
    meta = json.loads((folder / "detector.json").read_text())
    del meta["encoder"]
    (folder / "detector.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="missing required key 'encoder'"):
        load_bundle(folder)
    (folder / "detector.json").write_text('{"format": "layerscope-detector", ')
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(folder)
    folder, *_ = make_bundle(tmp_path / "b")
    data = bytearray((folder / "weights.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (folder / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="altered or damaged"):
        load_bundle(folder)
    with pytest.raises(BundleError, match="not a detector bundle"):
        load_bundle(tmp_path / "nowhere")


class _Exploit:
    """Unpickling this runs code: it creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_bundle_crafted_to_run_code_is_rejected_and_nothing_runs(tmp_path: Path) -> None:
    import hashlib

    folder, *_ = make_bundle(tmp_path)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Exploit(marker))
    # the pickle disguised as the weights file, with a matching checksum in detector.json
    (folder / "weights.safetensors").write_bytes(payload)
    _edit(folder, weights_sha256=hashlib.sha256(payload).hexdigest())
    with pytest.raises(BundleError, match="not a valid safetensors file"):
        load_bundle(folder)
    # a pickle under a different name is refused before it is opened
    (folder / "weights.pkl").write_bytes(payload)
    _edit(folder, weights_file="weights.pkl")
    with pytest.raises(BundleError, match="safetensors"):
        load_bundle(folder)
    assert not marker.exists()
    pickle.loads(payload)  # the payload is real: loading it with pickle would have run it
    assert marker.exists()


def test_shape_mismatch_between_probe_tensors(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    folder, probe, _ = make_bundle(tmp_path)
    arrays = probe.to_arrays()
    arrays["scaler_mean"] = np.zeros(3, dtype=np.float32)
    save_file(arrays, str(folder / "weights.safetensors"))
    import hashlib

    _edit(folder, weights_sha256=hashlib.sha256((folder / "weights.safetensors").read_bytes()).hexdigest(),
          tensors={})
    with pytest.raises(BundleError, match="shapes disagree"):
        load_bundle(folder)
