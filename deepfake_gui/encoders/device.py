"""Device choice and mixed precision, in one place for every family."""

from __future__ import annotations

import contextlib
from typing import Any


def resolve_device(device: str = "auto"):
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        from deepfake_gui.core.errors import LayerScopeError

        raise LayerScopeError("--device cuda was asked for, but PyTorch sees no CUDA GPU on this machine")
    return torch.device(device)


def autocast_context(device):
    """bf16 autocast on CUDA (fp16 where bf16 is unsupported); full fp32 on CPU."""
    import torch

    if device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def to_device(batch: Any, device) -> Any:
    import torch

    non_blocking = device.type == "cuda"
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def describe_device(device=None) -> str:
    import torch

    device = device or resolve_device("auto")
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    return "CPU"
