"""Random-weight twins of the offline encoders: same architecture, seed-0 weights, never cached as real."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.encoders import registry
from deepfake_gui.encoders.cache import FeatureCache
from deepfake_gui.encoders.registry import build_random_twin, get_spec
from deepfake_gui.encoders.weights import locate_weights

# name -> pooled width of every layer (the real encoders' published shapes)
TWINS = {
    "ge2e-resemblyzer": [256, 256, 256, 256],
    "whisper-tiny-en": [384] * 5,
    "efficientnet-lite0": [32, 16, 24, 40, 80, 112, 192, 320, 1280],
}


def sample(modality: str) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    if modality == "image":
        return [rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)]
    t = np.arange(16_000) / 16_000
    return [(0.3 * np.sin(2 * np.pi * 220 * t) + rng.normal(0, 0.05, t.size)).astype(np.float32)]


def has_weights(name: str) -> bool:
    return locate_weights(get_spec(name), verify=False).status == "present"


@pytest.mark.parametrize("name", sorted(TWINS))
def test_twin_has_the_architecture_and_fixed_random_weights(name: str) -> None:
    registry.clear_warm()
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    twin = build_random_twin(name, "cpu")
    assert torch.equal(torch.rand(3), expected_next)  # the caller's random stream is untouched
    assert twin.weights_sha256 == "random-twin" and twin.spec.random_init
    assert twin.name == name and twin.layer_names == list(get_spec(name).layer_names)
    items = sample(twin.modality)
    feats = twin.encode(items)
    assert [int(p.shape[1]) for p in feats.pooled] == TWINS[name]
    assert all(torch.isfinite(p).all() for p in feats.pooled)
    again = build_random_twin(name, "cpu").encode(items)
    for a, b in zip(feats.pooled, again.pooled, strict=True):
        assert torch.equal(a, b)  # seed 0: the same twin every time
    assert not registry._WARM  # never kept warm


@pytest.mark.parametrize("name", sorted(TWINS))
def test_twin_differs_from_the_pretrained_encoder(name: str) -> None:
    if not has_weights(name):
        pytest.skip(f"{name} weights are not installed")
    real = registry.build_encoder(name, "cpu", keep_warm=False)
    twin = build_random_twin(name, "cpu")
    items = sample(real.modality)
    a, b = real.encode(items).pooled, twin.encode(items).pooled
    assert [p.shape for p in a] == [p.shape for p in b]
    assert not torch.allclose(a[-1], b[-1], atol=1e-3)
    key = FeatureCache.make_key("f" * 64, name, real.weights_sha256, real.spec.preprocessing_version)
    twin_key = FeatureCache.make_key("f" * 64, name, twin.weights_sha256, twin.spec.preprocessing_version)
    assert key != twin_key  # twin features can never be served as the real encoder's


def test_whisper_twin_config_matches_the_ct2_file() -> None:
    from deepfake_gui.encoders.families.ct2_whisper import read_ct2_model, whisper_config_from_ct2
    from deepfake_gui.encoders.families.offline_audio import WHISPER_TINY_EN_ENCODER

    status = locate_weights(get_spec("whisper-tiny-en"), verify=False)
    if status.status != "present":
        pytest.skip("whisper-tiny-en weights are not installed")
    path = status.path / "model.bin" if status.path.is_dir() else status.path
    config = whisper_config_from_ct2(read_ct2_model(path))
    assert {k: getattr(config, k) for k in WHISPER_TINY_EN_ENCODER} == WHISPER_TINY_EN_ENCODER


def test_test_encoders_are_their_own_twin_and_other_families_have_none() -> None:
    twin = build_random_twin("test-ge2e", "cpu")
    base = registry.build_encoder("test-ge2e", "cpu", keep_warm=False)
    items = sample("audio")
    assert twin.weights_sha256 == "random-twin" and base.weights_sha256 == "random-init"
    for a, b in zip(twin.encode(items).pooled, base.encode(items).pooled, strict=True):
        assert torch.equal(a, b)
    with pytest.raises(LayerScopeError, match="has no random twin"):
        build_random_twin("clip-vit-b-32", "cpu")
    with pytest.raises(LayerScopeError, match="unknown encoder"):
        build_random_twin("no-such-encoder")
