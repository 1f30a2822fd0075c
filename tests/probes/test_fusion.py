"""Fusion detector: input layout, the 512-512-1 head, early stopping, export and determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from deepfake_gui.analysis.metrics import roc_auc
from deepfake_gui.encoders.base import LayerFeatures
from deepfake_gui.engine.fusion_detector import fusion_features_from_encoders
from deepfake_gui.probes.dataset import LabeledSet, grouped_folds
from deepfake_gui.probes.fusion import (
    FusionMLP,
    build_head,
    fusion_inputs,
    fusion_layout,
    grouped_validation_split,
    train_fusion,
)

FAST = {"num_threads": 1}  # tiny heads train faster on one thread, above all on a busy CI machine


def synthetic(n_groups: int = 60, per_group: int = 2, dim: int = 24, signal: float = 2.0,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grouped binary data; the label shifts 4 of ``dim`` columns by ``signal`` (0 = unlearnable)."""
    rng = np.random.default_rng(seed)
    group_label = rng.permutation(np.arange(n_groups) % 2)
    y = np.repeat(group_label, per_group)
    X = rng.normal(size=(len(y), dim))
    X[:, :4] += signal * y[:, None]
    return X, y, np.repeat(np.arange(n_groups), per_group).astype(str)


def test_fusion_inputs_layout() -> None:
    rng = np.random.default_rng(0)
    e, t, r = rng.normal(size=(5, 8)) * 3, rng.normal(size=8), rng.normal(size=(5, 12))
    X = fusion_inputs(e, t, r)
    layout = fusion_layout(8, 12)
    assert X.shape == (5, 2 * 8 + 1 + 12) and X.dtype == np.float32
    assert layout == {"clip": (0, 8), "clip_x_prompt": (8, 16), "prompt_cosine": (16, 17), "resnet": (17, 29)}
    en = e / np.linalg.norm(e, axis=1, keepdims=True)
    tn = t / np.linalg.norm(t)
    np.testing.assert_allclose(X[:, slice(*layout["clip"])], en, rtol=1e-5)
    np.testing.assert_allclose(X[:, slice(*layout["clip_x_prompt"])], en * tn, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(X[:, 16], en @ tn, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(X[:, slice(*layout["resnet"])], r, rtol=1e-6)
    with pytest.raises(ValueError):
        fusion_inputs(e, t[:4], r)
    with pytest.raises(ValueError):
        fusion_inputs(e, t, r[:3])


def test_head_is_512_512_1_with_batchnorm_and_dropout() -> None:
    head = build_head(100)
    kinds = [type(m) for m in head]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout] * 2 + [nn.Linear]
    linears = [m for m in head if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(100, 512), (512, 512), (512, 1)]
    assert [m.num_features for m in head if isinstance(m, nn.BatchNorm1d)] == [512, 512]
    assert [m.p for m in head if isinstance(m, nn.Dropout)] == [0.4, 0.4]
    model = FusionMLP(max_epochs=1, **FAST).fit(*synthetic(n_groups=20))
    assert not model.head_.training  # inference runs in eval mode


def test_grouped_validation_split_keeps_groups_whole() -> None:
    _, y, groups = synthetic(n_groups=30, per_group=3)
    train, val = grouped_validation_split(y, groups, 0.2, seed=1)
    assert set(groups[train]).isdisjoint(groups[val])
    assert set(y[val]) == {0, 1} and len(train) + len(val) == len(y)


def test_learns_a_separable_problem_under_grouped_cv() -> None:
    X, y, groups = synthetic(n_groups=60, signal=2.0)
    data = LabeledSet(Path("."), [Path(f"{i}.png") for i in range(len(y))], y,
                      ["real" if v == 0 else "gen" for v in y], groups, "test")
    folds = grouped_folds(data, 3, seed=0)
    final, oof, per_fold = train_fusion(X, data, folds, seed=0, max_epochs=25, **FAST)
    assert roc_auc(y, oof) > 0.9
    assert all(f["auc"] > 0.85 for f in per_fold) and len(per_fold) == 3
    assert final.n_features_in_ == X.shape[1]
    assert roc_auc(y, final.decision_function(X)) > 0.9


def test_early_stopping_on_random_labels_restores_the_best_epoch() -> None:
    X, y, groups = synthetic(n_groups=50, signal=0.0, seed=3)
    model = FusionMLP(max_epochs=200, patience=10, **FAST).fit(X, y, groups)
    assert model.n_epochs_ < 200
    assert model.n_epochs_ == model.best_epoch_ + 10  # stopped exactly `patience` epochs after the best
    val = model.val_index_
    # the restored weights are the best epoch's: they reproduce its validation AUC and loss
    best = model.history_[model.best_epoch_ - 1]
    assert roc_auc(y[val], model.decision_function(X[val])) == pytest.approx(best["val_auc"])
    assert model.best_val_auc_ == pytest.approx(max(h["val_auc"] for h in model.history_))
    assert model.history_[-1]["val_auc"] <= best["val_auc"]


def test_to_arrays_round_trip_gives_identical_decisions(tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    X, y, groups = synthetic(n_groups=20)
    model = FusionMLP(max_epochs=3, **FAST).fit(X, y, groups)
    arrays = model.to_arrays()
    assert all(v.dtype == np.float32 for v in arrays.values())
    assert {"head.fc1.weight", "head.bn1.running_mean", "head.bn2.running_var", "head.out.bias",
            "scaler_mean", "scaler_std"} <= set(arrays)
    save_file(arrays, str(tmp_path / "w.safetensors"))
    back = FusionMLP.from_arrays(load_file(str(tmp_path / "w.safetensors")))
    np.testing.assert_array_equal(back.decision_function(X), model.decision_function(X))
    np.testing.assert_allclose(back.predict_proba(X)[:, 1], 1 / (1 + np.exp(-model.decision_function(X))))
    assert not back.head_.training


def test_eval_mode_and_training_are_deterministic() -> None:
    X, y, groups = synthetic(n_groups=20)
    a = FusionMLP(max_epochs=4, random_state=7, **FAST).fit(X, y, groups)
    b = FusionMLP(max_epochs=4, random_state=7, **FAST).fit(X, y, groups)
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    np.testing.assert_array_equal(a.decision_function(X), a.decision_function(X))  # dropout off, BN frozen
    # one item alone scores the same as inside a batch: BatchNorm uses running statistics
    np.testing.assert_allclose(a.decision_function(X[:1]), a.decision_function(X)[:1], rtol=1e-5, atol=1e-6)
    c = FusionMLP(max_epochs=4, random_state=8, **FAST).fit(X, y, groups)
    assert not np.array_equal(a.decision_function(X), c.decision_function(X))


class _StubClip:
    """Just the CLIP encoder surface the fusion uses: preprocess, device, two embeddings."""

    device = torch.device("cpu")

    def preprocess(self, items):
        return torch.as_tensor(np.stack([i.reshape(-1)[:6] for i in items]).astype(np.float32))

    def image_embedding(self, batch):
        return torch.nn.functional.normalize(batch, dim=1)

    def forensic_prompt_embedding(self):
        return torch.ones(6) / np.sqrt(6)


class _StubResnet:
    def encode(self, items):
        base = torch.as_tensor(np.stack([i.mean(axis=(0, 1)) for i in items]).astype(np.float32))
        return LayerFeatures(["stem", "pool"], [base[:, :1], torch.cat([base, base * 2], dim=1)])


def test_fusion_features_from_encoders_uses_the_pool_layer() -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (8, 8, 3), dtype=np.uint8) for _ in range(5)]
    X = fusion_features_from_encoders(_StubClip(), _StubResnet(), images, batch_size=2)
    assert X.shape == (5, 6 + 6 + 1 + 6)
    means = np.stack([i.mean(axis=(0, 1)) for i in images])
    np.testing.assert_allclose(X[:, 13:], np.hstack([means, means * 2]), rtol=1e-5)


def test_fusion_features_with_tiny_test_encoders() -> None:
    from deepfake_gui.encoders.registry import build_encoder

    try:
        clip = build_encoder("test-clip", device="cpu", keep_warm=False)
        resnet = build_encoder("test-resnet", device="cpu", keep_warm=False)
    except (ImportError, AttributeError) as exc:
        pytest.skip(f"tiny test encoders not available yet: {exc}")
    if not hasattr(clip, "forensic_prompt_embedding"):
        pytest.skip("test-clip has no forensic_prompt_embedding yet")
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (40, 48, 3), dtype=np.uint8) for _ in range(3)]
    X = fusion_features_from_encoders(clip, resnet, images)
    e = int(clip.forensic_prompt_embedding().shape[-1])
    assert X.shape[0] == 3 and X.shape[1] > 2 * e + 1 and np.isfinite(X).all()
    np.testing.assert_allclose(np.linalg.norm(X[:, :e], axis=1), 1.0, rtol=1e-4)
