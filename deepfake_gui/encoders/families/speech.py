"""Speech encoders: self-supervised wav2vec 2.0 / WavLM / HuBERT, and Whisper's encoder.

Both kinds run at 50 states per second, and LayerScope keeps every layer because
synthetic-speech artefacts are clearest in the middle of the stack. A layer becomes
one vector by the mean over the frames that hold audio (``spec.pooling == "mean"``).

Everything here works on mono float32 audio at 16 kHz (the media layer resamples);
mixed precision and moving the batch to the device are done by ``Encoder.forward``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    AutoModel,
    Wav2Vec2Config,
    Wav2Vec2Model,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperModel,
)
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from deepfake_gui.core.errors import WeightsUnavailableError
from deepfake_gui.encoders.base import Encoder, EncoderSpec, LayerFeatures

SAMPLE_RATE = 16_000

# wav2vec 2.0 feature encoder: kernels (10,3,3,3,3,2,2), strides (5,2,2,2,2,2,2) -> frame k
# sees samples [320k, 320k + 400): a 25 ms receptive field every 20 ms.
SSL_HOP = 320
SSL_WINDOW = 400

# Whisper: log-mel with a 400-sample window every 160 samples, then a stride-2 conv -> one
# state per 320 samples. The encoder only accepts the full 30 s window (3000 mel frames).
WHISPER_N_FFT = 400
WHISPER_MEL_HOP = 160
WHISPER_HOP = 2 * WHISPER_MEL_HOP
WHISPER_MIN_SAMPLES = WHISPER_N_FFT

_NORMALIZE_MODES = ("zero-mean-unit-var", "none")


# ------------------------------------------------------------------ helpers
def _check_items(items: Sequence[np.ndarray], encoder_name: str, min_samples: int) -> list[np.ndarray]:
    """Mono float32 arrays, or a ValueError that names the item and what is wrong with it."""
    if len(items) == 0:
        raise ValueError(f"{encoder_name}: no audio items to encode")
    out: list[np.ndarray] = []
    for i, item in enumerate(items):
        wave = np.asarray(item)
        if wave.ndim != 1:
            raise ValueError(
                f"{encoder_name}: audio item {i} has shape {wave.shape}; expected mono samples (1-D) at "
                f"{SAMPLE_RATE} Hz"
            )
        if not np.issubdtype(wave.dtype, np.floating):
            raise ValueError(
                f"{encoder_name}: audio item {i} has dtype {wave.dtype}; expected float samples in [-1, 1] "
                "(integer PCM must be scaled first)"
            )
        wave = wave.astype(np.float32, copy=False)
        if wave.shape[0] < min_samples:
            raise ValueError(
                f"{encoder_name}: audio item {i} is {wave.shape[0] / SAMPLE_RATE * 1000:.1f} ms "
                f"({wave.shape[0]} samples); the encoder needs at least {min_samples / SAMPLE_RATE * 1000:.0f} ms "
                f"({min_samples} samples at {SAMPLE_RATE} Hz)"
            )
        if not np.isfinite(wave).all():
            raise ValueError(f"{encoder_name}: audio item {i} contains NaN or infinite samples")
        out.append(wave)
    return out


def zero_mean_unit_var(wave: np.ndarray) -> np.ndarray:
    """Per-utterance normalisation exactly as Wav2Vec2FeatureExtractor(do_normalize=True) does it."""
    wave64 = wave.astype(np.float64)
    return ((wave64 - wave64.mean()) / np.sqrt(wave64.var() + 1e-7)).astype(np.float32)


def ssl_token_times(num_frames: int) -> np.ndarray:
    """Centre (s) of each wav2vec2-style frame: frame k covers samples [320k, 320k + 400)."""
    return (SSL_HOP * np.arange(num_frames, dtype=np.float64) + SSL_WINDOW / 2) / SAMPLE_RATE


def whisper_token_times(num_frames: int) -> np.ndarray:
    """Time (s) given to each Whisper encoder state: the middle of its 20 ms step, (k + 0.5)·0.02.

    This is the project-wide convention (whisper-tiny-en uses it too). The state's
    receptive field is actually centred 10 ms earlier, on sample 320k: it is centred on
    mel frame 2k (conv2: kernel 3, stride 2, padding 1) and mel frame j on sample 160j
    (centred STFT). tests/encoders/test_speech_encoders.py measures this with a click.
    """
    return (np.arange(num_frames, dtype=np.float64) + 0.5) * (WHISPER_HOP / SAMPLE_RATE)


def whisper_valid_frames(num_samples: int) -> int:
    """Encoder states whose centre lies inside the audio: the rest only see the zero padding."""
    return math.ceil(num_samples / WHISPER_HOP)


def _require_snapshot(spec: EncoderSpec, weights_path: Path | None) -> Path:
    """A local snapshot directory (config.json + weights), never a hub download."""
    if weights_path is None or not Path(weights_path).is_dir() or not (Path(weights_path) / "config.json").is_file():
        raise WeightsUnavailableError(
            f"encoder {spec.name} needs a local weights folder with config.json (got {weights_path}). "
            f"Get them with: {spec.install_hint or 'layerscope models fetch ' + spec.name}"
        )
    return Path(weights_path)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Hide transformers' load report and progress bars: the pretraining heads it lists as
    UNEXPECTED are dropped on purpose, and missing weights are checked by _load_checked."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _load_checked(loader: Any, spec: EncoderSpec, snapshot: Path) -> Any:
    """``loader.from_pretrained`` in float32, refusing a snapshot that leaves weights at random init."""
    with _quiet_transformers():
        model, info = loader.from_pretrained(
            str(snapshot), local_files_only=True, dtype=torch.float32, output_loading_info=True
        )
    # masked_spec_embed is the SpecAugment mask vector: used only in training.
    missing = sorted(k for k in info.get("missing_keys", ()) if not k.endswith("masked_spec_embed"))
    mismatched = list(info.get("mismatched_keys", ()))
    if missing or mismatched:
        shown = ", ".join([*missing, *(str(m[0]) for m in mismatched)][:6])
        raise WeightsUnavailableError(
            f"encoder {spec.name}: {snapshot} does not hold this model's weights "
            f"({len(missing)} missing, {len(mismatched)} of the wrong shape: {shown}). "
            f"Get them again with: {spec.install_hint or 'layerscope models fetch ' + spec.name}"
        )
    return model


def _check_depth(spec: EncoderSpec, num_states: int, what: str) -> None:
    if num_states != spec.num_layers:
        raise ValueError(
            f"{spec.name}: {what} gives {num_states} hidden states but the spec names {spec.num_layers} "
            f"layers ({', '.join(spec.layer_names)}); the weights do not match this encoder"
        )


# ------------------------------------------------------- wav2vec2 / WavLM / HuBERT
class SpeechSSLEncoder(Encoder):
    """A transformers wav2vec2-style model (Wav2Vec2Model, WavLMModel, HubertModel).

    Layers: ``cnn`` is the input to the first transformer layer (CNN features after the
    feature projection, convolutional position embedding and, for these post-LN base
    models, the encoder layer norm); ``layerN`` is the output of transformer layer N.

    ``spec.preprocessing["normalize"]``: ``"zero-mean-unit-var"`` is what transformers'
    ``Wav2Vec2FeatureExtractor(do_normalize=True)`` does per utterance; ``"none"`` feeds the
    raw waveform, as fairseq / unilm pretrained these base models. With their GroupNorm
    first conv the two differ little at speech levels but a lot for very quiet audio.

    Items of different lengths are run one length at a time, never padded: the base
    models' first conv block uses GroupNorm over the whole time axis and takes no
    attention mask, so padding would change every frame's value.
    """

    def __init__(self, spec: EncoderSpec, device: str, model: Any, weights_sha256: str | None = None) -> None:
        super().__init__(spec, device, weights_sha256)
        _check_depth(spec, int(model.config.num_hidden_layers) + 1, f"{type(model).__name__}")
        mode = str(spec.preprocessing.get("normalize", "none"))
        if mode not in _NORMALIZE_MODES:
            raise ValueError(f"{spec.name}: unknown preprocessing normalize={mode!r}; known: {_NORMALIZE_MODES}")
        self.normalize = mode == "zero-mean-unit-var"
        self.model = model.to(self.device).eval()

    def preprocess(self, items: Sequence[np.ndarray]) -> dict[str, list[torch.Tensor]]:
        """Group items by length: ``waves[g]`` is (n_g, L_g) and ``index[g]`` their input positions."""
        waves = _check_items(items, self.name, SSL_WINDOW)
        if self.normalize:
            waves = [zero_mean_unit_var(w) for w in waves]
        groups: dict[int, list[int]] = {}
        for i, w in enumerate(waves):
            groups.setdefault(int(w.shape[0]), []).append(i)
        return {
            "waves": [torch.from_numpy(np.stack([waves[i] for i in idx])) for idx in groups.values()],
            "index": [torch.tensor(idx, dtype=torch.long) for idx in groups.values()],
        }

    def _forward(self, batch: dict[str, list[torch.Tensor]], tokens: bool) -> LayerFeatures:
        waves, index = batch["waves"], batch["index"]
        if tokens and len(waves) > 1:
            lengths = sorted(int(w.shape[1]) for w in waves)
            raise ValueError(
                f"{self.name}: per-frame tokens need items of one length; got lengths {lengths} samples. "
                "Encode each length separately."
            )
        n_items = sum(int(idx.shape[0]) for idx in index)
        pooled: list[torch.Tensor] = []
        states: tuple[torch.Tensor, ...] = ()
        for wave, idx in zip(waves, index, strict=True):
            states = self.model(wave, output_hidden_states=True).hidden_states
            _check_depth(self.spec, len(states), type(self.model).__name__)
            if not pooled:
                pooled = [torch.empty(n_items, h.shape[-1], device=h.device, dtype=torch.float32) for h in states]
            for out, h in zip(pooled, states, strict=True):
                out[idx.to(out.device)] = h.float().mean(dim=1)  # float32 mean even under autocast
        feats = LayerFeatures(layer_names=self.layer_names, pooled=pooled)
        if tokens:
            feats.tokens = [h.float() for h in states]  # one group: input order == batch order
            feats.token_times = ssl_token_times(int(states[0].shape[1]))
        return feats


def build_ssl(spec: EncoderSpec, device: str, weights_path: Path | None) -> Encoder:
    """wav2vec2-base / wavlm-base-plus / hubert-base from a local transformers snapshot folder."""
    snapshot = _require_snapshot(spec, weights_path)
    return SpeechSSLEncoder(spec, device, _load_checked(AutoModel, spec, snapshot))


def build_tiny_ssl(spec: EncoderSpec, device: str, weights_path: Path | None = None) -> Encoder:
    """Random 2-layer wav2vec2 with the real conv strides, so frame rate and lengths are the real ones."""
    config = Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32,) * 7,
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )
    torch.manual_seed(0)
    return SpeechSSLEncoder(spec, device, Wav2Vec2Model(config))


# ------------------------------------------------------------------ Whisper
class WhisperLayerEncoder(Encoder):
    """Every layer of an already-built transformers ``WhisperEncoder``.

    Reusable for any source of Whisper encoder weights (a transformers snapshot, a
    converted CTranslate2 model, random test weights): pass the module in.

    Input is Whisper's own log-mel (``WhisperFeatureExtractor`` built from parameters,
    ``num_mel_bins`` from the module's config), zero-padded to the 30 s window the
    encoder requires; longer audio raises ValueError (cut it into chunks first).

    Layers: ``embed`` (conv stem + positional embedding) and ``layerN`` for each encoder
    layer. Note that transformers applies the encoder's final ``layer_norm`` to
    ``hidden_states[-1]`` only, so the last layer is normalised and the others are raw
    residual-stream states.

    Pooling averages only the states that hold audio (``ceil(n_samples / 320)``): the
    padding states are the same for every file and would dilute short clips.
    """

    def __init__(
        self,
        spec: EncoderSpec,
        device: str,
        encoder_module: WhisperEncoder,
        weights_sha256: str | None = None,
    ) -> None:
        super().__init__(spec, device, weights_sha256)
        config = encoder_module.config
        _check_depth(spec, len(encoder_module.layers) + 1, "the Whisper encoder")
        self.max_frames = int(config.max_source_positions)  # 1500 states = 30 s
        self.max_samples = self.max_frames * WHISPER_HOP
        self.features = WhisperFeatureExtractor(
            feature_size=int(config.num_mel_bins),
            sampling_rate=SAMPLE_RATE,
            hop_length=WHISPER_MEL_HOP,
            chunk_length=self.max_samples // SAMPLE_RATE,
            n_fft=WHISPER_N_FFT,
        )
        self.model = encoder_module.to(self.device).eval()

    def preprocess(self, items: Sequence[np.ndarray]) -> dict[str, torch.Tensor]:
        """``input_features`` (N, mels, 3000): log-mel of the 30 s window; ``n_valid`` (N,): states with audio."""
        waves = _check_items(items, self.name, WHISPER_MIN_SAMPLES)
        for i, w in enumerate(waves):
            if w.shape[0] > self.max_samples:
                raise ValueError(
                    f"{self.name}: audio item {i} is {w.shape[0] / SAMPLE_RATE:.2f} s; Whisper's encoder takes "
                    f"at most {self.max_samples / SAMPLE_RATE:.0f} s. Cut longer audio into chunks first."
                )
        mel = self.features(
            waves,
            sampling_rate=SAMPLE_RATE,
            padding="max_length",
            max_length=self.max_samples,
            truncation=False,
            return_tensors="np",
        )["input_features"]
        return {
            "input_features": torch.from_numpy(np.ascontiguousarray(mel, dtype=np.float32)),
            "n_valid": torch.tensor([whisper_valid_frames(w.shape[0]) for w in waves], dtype=torch.long),
        }

    def _forward(self, batch: dict[str, torch.Tensor], tokens: bool) -> LayerFeatures:
        n_valid = batch["n_valid"]
        valid = [int(v) for v in n_valid.tolist()]
        if tokens and len(set(valid)) > 1:
            raise ValueError(
                f"{self.name}: per-frame tokens need items of one length; got {sorted(set(valid))} frames. "
                "Encode each length separately."
            )
        states = self.model(batch["input_features"], output_hidden_states=True).hidden_states
        _check_depth(self.spec, len(states), "the Whisper encoder")
        frames = torch.arange(states[0].shape[1], device=n_valid.device)
        mask = (frames[None, :] < n_valid[:, None]).to(torch.float32)[:, :, None]  # (N, 1500, 1)
        counts = mask.sum(dim=1)
        # Elementwise product + sum, not einsum/bmm: autocast would run those in bf16 on CUDA.
        pooled = [(h.float() * mask).sum(dim=1) / counts for h in states]
        feats = LayerFeatures(layer_names=self.layer_names, pooled=pooled)
        if tokens:
            feats.tokens = [h[:, : valid[0]].float() for h in states]
            feats.token_times = whisper_token_times(valid[0])
        return feats


def build_whisper(spec: EncoderSpec, device: str, weights_path: Path | None) -> Encoder:
    """whisper-tiny / whisper-base encoder from a local transformers snapshot (the decoder is dropped)."""
    snapshot = _require_snapshot(spec, weights_path)
    model = _load_checked(WhisperModel, spec, snapshot)
    encoder = model.encoder
    del model
    return WhisperLayerEncoder(spec, device, encoder)


def build_tiny_whisper(spec: EncoderSpec, device: str, weights_path: Path | None = None) -> Encoder:
    """Random 2-layer Whisper encoder with the real mel front end and 1500-state window."""
    config = WhisperConfig(
        d_model=32,
        encoder_layers=2,
        encoder_attention_heads=2,
        encoder_ffn_dim=64,
        num_mel_bins=80,
        max_source_positions=1500,
    )
    torch.manual_seed(0)
    return WhisperLayerEncoder(spec, device, WhisperEncoder(config))
