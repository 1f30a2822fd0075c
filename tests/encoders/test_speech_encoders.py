"""Speech encoders (wav2vec2 / WavLM / HuBERT and Whisper): shapes, timing, pooling, loading.

All on tiny random-init models (seed 0) and tiny snapshots written to tmp_path, so the
file runs in seconds with no network. Values are checked against the transformers
modules run directly, not against the code under test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import (
    HubertConfig,
    HubertModel,
    Wav2Vec2Config,
    Wav2Vec2ForPreTraining,
    Wav2Vec2Model,
    WavLMConfig,
    WavLMModel,
    WhisperConfig,
    WhisperForConditionalGeneration,
)

from deepfake_gui.core.errors import WeightsUnavailableError
from deepfake_gui.encoders.base import EncoderSpec
from deepfake_gui.encoders.families import speech
from deepfake_gui.encoders.registry import build_encoder, get_spec

SR = 16_000
TINY = {
    "hidden_size": 32,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "conv_dim": (32,) * 7,
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 2,
}
TINY_WHISPER = {
    "d_model": 32,
    "encoder_attention_heads": 2,
    "encoder_ffn_dim": 64,
    "decoder_layers": 1,
    "decoder_attention_heads": 2,
    "decoder_ffn_dim": 64,
}


def _wave(seconds: float, seed: int = 0) -> np.ndarray:
    """A voiced-ish test signal: a modulated 220 Hz tone plus noise, peak ~0.3."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * SR)) / SR
    x = np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.3 * rng.standard_normal(t.size)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def _assert_rows_close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-5) -> None:
    torch.testing.assert_close(a, b, atol=atol, rtol=1e-5)


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny models gain nothing from intra-op threads, and on a busy 2-core machine the
    threads' hand-offs cost ~80 ms per conv; restored afterwards for the other modules."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def ssl() -> speech.SpeechSSLEncoder:
    enc = build_encoder("test-wav2vec2", device="cpu", keep_warm=False)
    assert isinstance(enc, speech.SpeechSSLEncoder)
    return enc


@pytest.fixture(scope="module")
def whisper() -> speech.WhisperLayerEncoder:
    enc = build_encoder("test-whisper", device="cpu", keep_warm=False)
    assert isinstance(enc, speech.WhisperLayerEncoder)
    return enc


@pytest.fixture
def no_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty models folder and an empty Hugging Face cache, whatever this machine has."""
    import huggingface_hub.constants

    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("LAYERSCOPE_MODELS_DIR", str(models))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    yield models


def _real_spec(name: str, layers: int) -> EncoderSpec:
    """A test spec that loads weights like a real one (not random-init)."""
    prefix = "cnn" if name == "test-wav2vec2" else "embed"
    names = (prefix, *(f"layer{i}" for i in range(1, layers + 1)))
    return dataclasses.replace(get_spec(name), random_init=False, layer_names=names)


# ------------------------------------------------------------ wav2vec2-style
def test_ssl_layers_shapes_and_token_times(ssl: speech.SpeechSSLEncoder) -> None:
    feats = ssl.encode([_wave(1.0), _wave(1.0, seed=1)], tokens=True)
    assert feats.layer_names == ["cnn", "layer1", "layer2"]
    assert [tuple(p.shape) for p in feats.pooled] == [(2, 32)] * 3
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in feats.pooled)
    assert feats.tokens is not None and feats.token_times is not None
    assert [tuple(t.shape) for t in feats.tokens] == [(2, 49, 32)] * 3  # floor((16000 - 400) / 320) + 1
    assert feats.token_times.shape == (49,)
    assert feats.token_times[0] == pytest.approx(0.0125)  # centre of samples [0, 400)
    np.testing.assert_allclose(np.diff(feats.token_times), 0.02, atol=1e-12)
    for pooled, tok in zip(feats.pooled, feats.tokens, strict=True):
        _assert_rows_close(pooled, tok.mean(dim=1).cpu())
    assert not torch.allclose(feats.pooled[2][0], feats.pooled[2][1])  # the two clips differ

    two = ssl.encode([_wave(2.0)], tokens=True)
    assert two.tokens is not None and two.token_times is not None
    assert tuple(two.tokens[0].shape) == (1, 99, 32)
    assert two.token_times[-1] == pytest.approx(0.0125 + 98 * 0.02)


def test_ssl_matches_transformers_directly(ssl: speech.SpeechSSLEncoder) -> None:
    wav = _wave(1.0)
    feats = ssl.encode([wav])
    normed = (wav - wav.mean()) / np.sqrt(wav.var() + 1e-7)
    with torch.inference_mode():
        states = ssl.model(torch.from_numpy(normed)[None], output_hidden_states=True).hidden_states
    assert len(states) == 3
    for pooled, h in zip(feats.pooled, states, strict=True):
        _assert_rows_close(pooled, h.mean(dim=1))


def test_ssl_variable_lengths_keep_order(ssl: speech.SpeechSSLEncoder) -> None:
    a, b, c = _wave(1.0), _wave(2.0, seed=1), _wave(1.0, seed=2)
    mixed = ssl.encode([a, b, c])
    alone = [ssl.encode([x]) for x in (a, b, c)]
    for layer in range(3):
        for row, single in enumerate(alone):
            _assert_rows_close(mixed.pooled[layer][row], single.pooled[layer][0])
    with pytest.raises(ValueError, match="one length"):
        ssl.encode([a, b], tokens=True)


def test_ssl_is_deterministic_across_builds(ssl: speech.SpeechSSLEncoder) -> None:
    wav = _wave(1.0)
    again = speech.build_tiny_ssl(get_spec("test-wav2vec2"), "cpu", None)
    first, second = ssl.encode([wav]), again.encode([wav])
    for p, q in zip(first.pooled, second.pooled, strict=True):
        assert torch.equal(p, q)


def test_ssl_normalisation_removes_gain_and_offset(ssl: speech.SpeechSSLEncoder) -> None:
    wav = _wave(1.0)
    base = ssl.encode([wav]).pooled
    louder = ssl.encode([(0.5 * wav + 0.2).astype(np.float32)]).pooled
    for p, q in zip(base, louder, strict=True):
        _assert_rows_close(p, q, atol=1e-4)
    # with normalize "none" the same change of gain reaches the model (quiet input meets GroupNorm's eps)
    raw_spec = dataclasses.replace(ssl.spec, preprocessing={"sample_rate": SR, "normalize": "none"})
    raw = speech.build_tiny_ssl(raw_spec, "cpu", None)
    assert not raw.normalize
    quiet = raw.encode([(1e-3 * wav).astype(np.float32)]).pooled
    assert float((raw.encode([wav]).pooled[1] - quiet[1]).abs().max()) > 1e-2
    with pytest.raises(ValueError, match="normalize"):
        speech.build_tiny_ssl(dataclasses.replace(ssl.spec, preprocessing={"normalize": "peak"}), "cpu", None)


def test_ssl_rejects_short_and_malformed_clips(ssl: speech.SpeechSSLEncoder) -> None:
    with pytest.raises(ValueError, match=r"10\.0 ms \(160 samples\).*at least 25 ms"):
        ssl.encode([_wave(1.0), np.zeros(160, np.float32)])
    shortest = ssl.encode([_wave(0.025)], tokens=True)  # exactly one receptive field
    assert shortest.tokens is not None and tuple(shortest.tokens[0].shape) == (1, 1, 32)
    with pytest.raises(ValueError, match="mono"):
        ssl.encode([np.zeros((2, SR), np.float32)])
    with pytest.raises(ValueError, match="int16"):
        ssl.encode([np.zeros(SR, np.int16)])
    with pytest.raises(ValueError, match="NaN"):
        ssl.encode([np.full(SR, np.nan, np.float32)])
    with pytest.raises(ValueError, match="no audio"):
        ssl.encode([])


def test_ssl_token_times_are_receptive_field_centres() -> None:
    """A click at sample s changes exactly the conv frames k with 320k <= s < 320k + 400."""
    torch.manual_seed(0)
    config = Wav2Vec2Config(**TINY, num_hidden_layers=1, feat_extract_norm="layer")  # no time-wide GroupNorm
    cnn = Wav2Vec2Model(config).eval().feature_extractor
    base = torch.from_numpy(_wave(0.5))[None]
    times = speech.ssl_token_times(24)
    for s in (3000, 3250, 3300):
        clicked = base.clone()
        clicked[0, s] += 0.5
        with torch.inference_mode():
            diff = (cnn(clicked) - cnn(base)).abs().amax(dim=1)[0]
        changed = torch.nonzero(diff > 1e-6).flatten().tolist()
        assert changed == [k for k in range(diff.numel()) if 320 * k <= s < 320 * k + 400]
        assert all(abs(times[k] - (320 * k + 200) / SR) < 1e-12 for k in changed)


# ------------------------------------------------------------------ Whisper
def test_whisper_layers_shapes_pooling_and_token_times(whisper: speech.WhisperLayerEncoder) -> None:
    feats = whisper.encode([_wave(1.0), _wave(1.0, seed=1)], tokens=True)
    assert feats.layer_names == ["embed", "layer1", "layer2"]
    assert [tuple(p.shape) for p in feats.pooled] == [(2, 32)] * 3
    assert feats.tokens is not None and feats.token_times is not None
    assert [tuple(t.shape) for t in feats.tokens] == [(2, 50, 32)] * 3  # ceil(16000 / 320)
    assert feats.token_times[0] == pytest.approx(0.01)
    np.testing.assert_allclose(np.diff(feats.token_times), 0.02, atol=1e-12)
    for pooled, tok in zip(feats.pooled, feats.tokens, strict=True):
        _assert_rows_close(pooled, tok.mean(dim=1).cpu())

    two = whisper.encode([_wave(2.0)], tokens=True)
    assert two.tokens is not None and tuple(two.tokens[0].shape) == (1, 100, 32)


def test_whisper_pools_only_frames_with_audio(whisper: speech.WhisperLayerEncoder) -> None:
    wav = _wave(1.0)
    batch = whisper.preprocess([wav])
    assert tuple(batch["input_features"].shape) == (1, 80, 3000)
    assert batch["n_valid"].tolist() == [50]
    with torch.inference_mode():
        states = whisper.model(batch["input_features"], output_hidden_states=True).hidden_states
    feats = whisper.encode([wav])
    for pooled, h in zip(feats.pooled, states, strict=True):
        _assert_rows_close(pooled, h[:, :50].mean(dim=1))
        assert not torch.allclose(pooled, h.mean(dim=1), atol=1e-3)  # the padding would change it
    # transformers puts the final layer_norm on the last state only: zero mean over channels there
    assert float(states[-1][0, :50].mean(dim=-1).abs().max()) < 1e-4
    assert float(states[-2][0, :50].mean(dim=-1).abs().max()) > 1e-3


def test_whisper_variable_lengths_keep_order(whisper: speech.WhisperLayerEncoder) -> None:
    a, b = _wave(1.0), _wave(2.0, seed=1)
    both = whisper.encode([a, b])
    for row, single in enumerate(whisper.encode([x]) for x in (a, b)):
        for layer in range(3):
            _assert_rows_close(both.pooled[layer][row], single.pooled[layer][0])
    with pytest.raises(ValueError, match="one length"):
        whisper.encode([a, b], tokens=True)


def test_whisper_is_deterministic_across_builds(whisper: speech.WhisperLayerEncoder) -> None:
    wav = _wave(1.0)
    again = speech.build_tiny_whisper(get_spec("test-whisper"), "cpu", None)
    for p, q in zip(whisper.encode([wav]).pooled, again.encode([wav]).pooled, strict=True):
        assert torch.equal(p, q)


def test_whisper_rejects_long_and_short_audio(whisper: speech.WhisperLayerEncoder) -> None:
    with pytest.raises(ValueError, match=r"30\.00 s; Whisper's encoder takes at most 30 s"):
        whisper.preprocess([np.zeros(30 * SR + 1, np.float32)])
    assert whisper.preprocess([np.zeros(30 * SR, np.float32)])["n_valid"].tolist() == [1500]
    with pytest.raises(ValueError, match=r"10\.0 ms.*at least 25 ms"):
        whisper.preprocess([np.zeros(160, np.float32)])


def test_whisper_receptive_field_centre_is_half_a_step_before_token_time(
    whisper: speech.WhisperLayerEncoder,
) -> None:
    """Documents the token_times convention: a click at 0.20 s moves states 9, 10, 11 equally
    far on either side of state 10, whose token time is (10 + 0.5) * 0.02 = 0.21 s."""
    base = _wave(1.0)
    clicked = base.copy()
    clicked[3200] += 0.05
    with torch.inference_mode():
        a, b = (
            whisper.model(whisper.preprocess([x])["input_features"], output_hidden_states=True).hidden_states[0]
            for x in (base, clicked)
        )
    changed = torch.nonzero((a - b).abs().amax(dim=-1)[0] > 1e-6).flatten().tolist()
    assert changed == [9, 10, 11]
    assert speech.whisper_token_times(11)[10] == pytest.approx(0.21)


# ------------------------------------------------------------ real-model loading
def test_registry_reports_missing_ssl_weights(no_weights: Path) -> None:
    with pytest.raises(WeightsUnavailableError, match="layerscope models fetch wav2vec2-base"):
        build_encoder("wav2vec2-base", device="cpu", keep_warm=False)
    with pytest.raises(WeightsUnavailableError, match="layerscope models fetch whisper-tiny"):
        build_encoder("whisper-tiny", device="cpu", keep_warm=False)


def test_registry_builds_real_specs_from_models_folder(no_weights: Path) -> None:
    """wav2vec2-base and whisper-tiny specs (13 / 5 layers) from checkpoints laid out like the hub's."""
    torch.manual_seed(0)
    w2v = Wav2Vec2ForPreTraining(
        Wav2Vec2Config(
            **TINY, num_hidden_layers=12, codevector_dim=16, proj_codevector_dim=16, num_codevectors_per_group=8
        )
    ).eval()
    w2v.save_pretrained(no_weights / "wav2vec2-base")
    wh = WhisperForConditionalGeneration(WhisperConfig(**TINY_WHISPER, encoder_layers=4)).eval()
    wh.save_pretrained(no_weights / "whisper-tiny")

    wav = _wave(1.0)
    enc = build_encoder("wav2vec2-base", device="cpu", keep_warm=False)
    assert isinstance(enc, speech.SpeechSSLEncoder) and enc.weights_sha256 and len(enc.weights_sha256) == 64
    feats = enc.encode([wav])
    normed = (wav - wav.mean()) / np.sqrt(wav.var() + 1e-7)
    with torch.inference_mode():
        ref = w2v.wav2vec2(torch.from_numpy(normed)[None], output_hidden_states=True).hidden_states
    assert len(feats.pooled) == len(ref) == 13
    for p, h in zip(feats.pooled, ref, strict=True):
        _assert_rows_close(p, h.mean(dim=1))

    wenc = build_encoder("whisper-tiny", device="cpu", keep_warm=False)
    assert isinstance(wenc, speech.WhisperLayerEncoder)
    wfeats = wenc.encode([wav])
    with torch.inference_mode():
        wref = wh.model.encoder(wenc.preprocess([wav])["input_features"], output_hidden_states=True).hidden_states
    assert len(wfeats.pooled) == len(wref) == 5
    for p, h in zip(wfeats.pooled, wref, strict=True):
        _assert_rows_close(p, h[:, :50].mean(dim=1))


@pytest.mark.parametrize(("config_cls", "model_cls"), [(WavLMConfig, WavLMModel), (HubertConfig, HubertModel)])
def test_build_ssl_loads_wavlm_and_hubert(tmp_path: Path, config_cls, model_cls) -> None:
    torch.manual_seed(0)
    model = model_cls(config_cls(**TINY, num_hidden_layers=2)).eval()
    model.save_pretrained(tmp_path)
    enc = speech.build_ssl(_real_spec("test-wav2vec2", 2), "cpu", tmp_path)
    assert type(enc.model) is model_cls
    wav = _wave(0.5)
    normed = (wav - wav.mean()) / np.sqrt(wav.var() + 1e-7)
    with torch.inference_mode():
        ref = model(torch.from_numpy(normed)[None], output_hidden_states=True).hidden_states
    for p, h in zip(enc.encode([wav]).pooled, ref, strict=True):
        _assert_rows_close(p, h.mean(dim=1))


def test_build_refuses_incomplete_or_mismatched_snapshots(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    torch.manual_seed(0)
    Wav2Vec2Model(Wav2Vec2Config(**TINY, num_hidden_layers=2)).save_pretrained(tmp_path / "ok")
    spec = _real_spec("test-wav2vec2", 2)
    tensors = load_file(str(tmp_path / "ok" / "model.safetensors"))
    dropped = next(k for k in tensors if "layers.1.feed_forward" in k)
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "config.json").write_bytes((tmp_path / "ok" / "config.json").read_bytes())
    save_file(
        {k: v for k, v in tensors.items() if k != dropped},
        str(tmp_path / "cut" / "model.safetensors"),
        metadata={"format": "pt"},
    )
    with pytest.raises(WeightsUnavailableError, match="does not hold this model's weights"):
        speech.build_ssl(spec, "cpu", tmp_path / "cut")
    with pytest.raises(ValueError, match="names 4 layers"):
        speech.build_ssl(_real_spec("test-wav2vec2", 3), "cpu", tmp_path / "ok")
    with pytest.raises(WeightsUnavailableError, match=r"config\.json"):
        speech.build_ssl(spec, "cpu", tmp_path / "absent")
    with pytest.raises(WeightsUnavailableError, match=r"config\.json"):
        speech.build_whisper(_real_spec("test-whisper", 2), "cpu", None)
