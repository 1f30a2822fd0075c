"""The phase-coherence encoder: weightless, deterministic, and reading what its docstring says."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_gui.encoders.families.phase import PHASE_HOP, phase_deviation
from deepfake_gui.encoders.registry import build_encoder, get_spec
from deepfake_gui.encoders.weights import locate_weights

SR = 16000


def tone(freq: float, seconds: float = 1.0) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(SR * seconds)) / SR)).astype(np.float32)


def test_weightless_encoder_is_present_and_not_a_test_encoder() -> None:
    spec = get_spec("phase-coherence")
    status = locate_weights(spec)
    assert status.status == "present" and status.path is None
    assert not spec.random_init
    assert build_encoder("phase-coherence").weights_sha256 == "signal-processing"


def test_fetch_has_nothing_to_download(monkeypatch) -> None:
    from deepfake_gui.encoders import weights

    monkeypatch.setattr(weights, "_check_network", lambda host: pytest.fail(f"tried to reach {host}"))
    assert weights.fetch_weights(get_spec("phase-coherence")).status == "present"


def test_steady_tone_is_coherent_and_noise_is_not() -> None:
    n_fft = 512
    tone_dev, _ = phase_deviation(tone(500.0), n_fft)  # 500 Hz = bin 16 of a 512-point STFT at 16 kHz
    noise = np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    noise_dev, _ = phase_deviation(noise, n_fft)
    inner = slice(5, -5)  # away from the zero-padded ends
    assert float(tone_dev[inner, 16].mean()) < 1e-3
    assert float(noise_dev[inner].mean()) > 0.3
    assert tone_dev.shape == (1 + SR // PHASE_HOP, n_fft // 2 + 1)


def test_layers_pool_the_sounding_frames_and_tokens_share_one_clock() -> None:
    encoder = build_encoder("phase-coherence")
    clip = np.concatenate([np.zeros(SR // 2, np.float32), tone(500.0)])  # half a second of digital silence first
    feats = encoder.encode([clip], tokens=True, layers=[4])
    assert feats.layer_names == ["if256", "if320", "if384", "if448", "if512"]
    assert feats.pooled[4].shape == (1, 257)
    # silence is left out of the mean: the tone's bin stays coherent
    assert float(feats.pooled[4][0, 16]) < 0.05
    assert feats.tokens[4].shape[1] == len(feats.token_times) == 1 + len(clip) // PHASE_HOP
    assert feats.token_times[1] == pytest.approx(PHASE_HOP / SR)
    assert all(t is None for t in feats.tokens[:4])


def test_same_numbers_every_call_and_per_item() -> None:
    encoder = build_encoder("phase-coherence")
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(SR).astype(np.float32), rng.standard_normal(SR // 2).astype(np.float32)
    together = encoder.encode([a, b])
    alone = encoder.encode([b])
    np.testing.assert_array_equal(together.pooled[2][1].numpy(), alone.pooled[2][0].numpy())
    silent = encoder.encode([np.zeros(SR, np.float32)])
    assert float(silent.pooled[0].mean()) == pytest.approx(np.pi / 2, abs=1e-5)  # no phase in silence
