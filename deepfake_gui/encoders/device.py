"""Device choice, mixed precision and batch sizing, in one place for every family.

On CUDA the host side of a batch is pinned (page-locked) before it is copied, so
the ``non_blocking`` copy really is asynchronous; the batch size of a scan can be
chosen from the GPU's free memory (``auto_batch_size``). On the CPU nothing here
changes what runs: no pinning, fp32, and the fixed default batch size.
"""

from __future__ import annotations

import contextlib
from typing import Any

DEFAULT_BATCH_SIZE = 16  # image tiles / video frames per encoder call when nothing else decides


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


def pin_batch(batch: Any, device) -> Any:
    """CPU tensors of a batch in page-locked memory when ``device`` is CUDA; anything else as it is.

    A non_blocking copy from pageable memory is silently synchronous, so without
    this the copy cannot overlap compute. A decode worker may call it ahead of
    time (then ``to_device`` finds the tensors pinned and copies at once). Pinning
    that fails (no driver, pinned memory exhausted) leaves the tensor pageable:
    the copy still happens, only without the overlap.
    """
    if getattr(device, "type", None) != "cuda":
        return batch
    return _map_tensors(batch, _pinned)


def _map_tensors(batch: Any, fn) -> Any:
    """``fn`` applied to every tensor of a batch (also inside dicts, lists, tuples); the rest as it is."""
    import torch

    if isinstance(batch, torch.Tensor):
        return fn(batch)
    if isinstance(batch, dict):
        return {k: _map_tensors(v, fn) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_map_tensors(v, fn) for v in batch)
    return batch


def _pinned(tensor):
    if tensor.device.type != "cpu":
        return tensor
    try:
        return tensor if tensor.is_pinned() else tensor.pin_memory()
    except RuntimeError:  # what torch raises for a missing driver or exhausted page-locked memory
        return tensor


def to_device(batch: Any, device) -> Any:
    """Move tensors (also inside dicts, lists, tuples) to ``device``; pinned and non-blocking on CUDA."""
    if device.type == "cuda":
        return _map_tensors(batch, lambda t: _pinned(t).to(device, non_blocking=True))
    return _map_tensors(batch, lambda t: t.to(device, non_blocking=False))


def auto_batch_size(device, per_item_bytes: int, *, requested: int | None = None, floor: int = 1,
                    cap: int = 256, headroom: float = 0.5) -> int:
    """Items per encoder call: ``requested`` when given, else from the GPU's free memory.

    An explicit size always wins, on every device (the user may know about other
    jobs on the GPU). Otherwise: on the CPU the fixed default (so CPU scans are
    what they always were); on CUDA ``free * headroom / per_item_bytes`` clamped to
    ``[floor, cap]`` and rounded down to a power of two. "Free" counts memory
    PyTorch's caching allocator holds but does not use, since it is reused
    before the driver is asked for more; otherwise every scan after a large one
    would see less free memory than there is. The power of two keeps the size
    stable when free memory moves by a few MB between scans, and GPU kernels tile
    in powers of two. ``floor`` wins over the rounding (floor=3 can give 3).
    """
    if requested is not None:
        if int(requested) < 1:
            raise ValueError(f"batch size must be at least 1, not {requested}")
        return int(requested)
    if getattr(device, "type", str(device)) != "cuda":
        return DEFAULT_BATCH_SIZE
    if per_item_bytes <= 0 or floor < 1 or cap < floor or not 0 < headroom <= 1:
        raise ValueError(f"auto_batch_size: need per_item_bytes > 0, 1 <= floor <= cap, 0 < headroom <= 1 "
                         f"(got {per_item_bytes}, {floor}, {cap}, {headroom})")
    import torch

    free, _total = torch.cuda.mem_get_info(device)
    free += max(0, torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    fits = min(cap, int(free * headroom // per_item_bytes))
    power_of_two = 1 << (fits.bit_length() - 1) if fits >= 1 else 0
    return max(floor, power_of_two)


def measure_item_bytes(encoder, sample: Any = None, *, tokens: bool = True, layers=None) -> int:
    """GPU memory one item costs in a forward pass: run one, read the peak; measured once per encoder.

    Measuring beats a formula from parameter counts: activation memory depends on
    the architecture, the input size, whether token states are kept and on the
    early exit. One item also carries the fixed workspace, so the figure errs on
    the large (safe) side. ``sample`` defaults to a black picture of the spec's
    input size (the size scan's tiles are cut at); audio encoders need one. The
    result is cached on the encoder per (tokens, layers). Note: this resets
    CUDA's peak-memory statistics (torch.cuda.reset_peak_memory_stats).
    """
    import numpy as np
    import torch

    device = encoder.device
    if device.type != "cuda":
        raise ValueError(f"{encoder.name}: per-item GPU memory is only measured on CUDA, not {device.type}")
    key = (bool(tokens), None if layers is None else tuple(sorted(int(i) for i in layers)))
    cache = encoder.__dict__.setdefault("_item_bytes", {})
    if key in cache:
        return cache[key]
    if sample is None:
        if encoder.modality != "image":
            raise ValueError(f"{encoder.name}: measuring a {encoder.modality} encoder needs a sample item")
        side = int(encoder.spec.preprocessing.get("size", 224))
        sample = np.zeros((side, side, 3), np.uint8)
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    feats = encoder.encode([sample], tokens=tokens, layers=layers)
    torch.cuda.synchronize(device)
    cache[key] = max(1, int(torch.cuda.max_memory_allocated(device)) - int(base))
    del feats
    return cache[key]


def encoder_batch_size(encoder, *, requested: int | None = None, tokens: bool = True, layers=None) -> int:
    """auto_batch_size for one encoder: the CPU never runs a measurement, CUDA measures once."""
    if requested is not None or encoder.device.type != "cuda":
        return auto_batch_size(encoder.device, 1, requested=requested)
    return auto_batch_size(encoder.device, measure_item_bytes(encoder, tokens=tokens, layers=layers))


def describe_device(device=None) -> str:
    import torch

    device = device or resolve_device("auto")
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    return "CPU"
