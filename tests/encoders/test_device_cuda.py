"""CUDA-side batching without a GPU: pinned copies, batch size from free memory, and no change on the CPU.

torch.cuda is faked with monkeypatch (mem_get_info and the allocator counters);
nothing here needs, or touches, a real GPU. The last tests scan real pictures on
the CPU to show that "auto" is exactly the old fixed batch of 16 there.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from media_factory import needs_offline
from PIL import Image

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.results import ScanResult
from deepfake_gui.encoders import device as dev
from deepfake_gui.engine import bench_media
from deepfake_gui.engine.scan import ScanOptions, scan_batch_size, scan_job

GiB, MiB = 2**30, 2**20
CUDA, CPU = torch.device("cuda"), torch.device("cpu")


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """A GPU with 8 GiB free of 16 and an empty caching allocator; tests change the numbers in place."""
    gpu = SimpleNamespace(free=8 * GiB, total=16 * GiB, reserved=0, allocated=0, peak=0, info_calls=0)

    def mem_get_info(device=None):
        gpu.info_calls += 1
        return gpu.free, gpu.total

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", mem_get_info)
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: gpu.reserved)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: gpu.allocated)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: gpu.peak)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    return gpu


def _no_gpu_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kw):
        raise AssertionError("the CPU path must not ask CUDA anything")

    for name in ("mem_get_info", "memory_reserved", "memory_allocated", "reset_peak_memory_stats"):
        monkeypatch.setattr(torch.cuda, name, refuse)


# ---------------------------------------------------------------- auto_batch_size
@pytest.mark.parametrize(("per_item", "expected"), [
    (10 * MiB, 256),  # 409 fit in half of 8 GiB: capped at 256
    (30 * MiB, 128),  # 136 fit: rounded down to a power of two
    (100 * MiB, 32),  # 40 fit
    (1 * GiB, 4),     # exactly 4 fit
    (5 * GiB, 1),     # none fits in the headroom: the floor
])
def test_auto_batch_size_from_free_memory(fake_gpu, per_item: int, expected: int) -> None:
    assert dev.auto_batch_size(CUDA, per_item) == expected
    assert fake_gpu.info_calls == 1


def test_auto_batch_size_cap_floor_and_headroom(fake_gpu) -> None:
    assert dev.auto_batch_size(CUDA, MiB, cap=100) == 64  # the cap, then the power of two
    assert dev.auto_batch_size(CUDA, 5 * GiB, floor=3) == 3  # the floor wins over everything
    assert dev.auto_batch_size(CUDA, 100 * MiB, floor=40) == 40  # 40 fit; the power of two, 32, is below it
    assert dev.auto_batch_size(CUDA, 30 * MiB, floor=100) == 128  # the floor only raises
    assert dev.auto_batch_size(CUDA, 100 * MiB, headroom=1.0) == 64  # 81 fit in all 8 GiB
    assert dev.auto_batch_size(CUDA, 100 * MiB, headroom=0.25) == 16  # 20 fit


def test_memory_cached_but_unused_by_pytorch_counts_as_free(fake_gpu) -> None:
    fake_gpu.free, fake_gpu.reserved, fake_gpu.allocated = 1 * GiB, 9 * GiB, 2 * GiB
    assert dev.auto_batch_size(CUDA, 100 * MiB) == 32  # (1 + 7) GiB free, as with an empty cache
    fake_gpu.reserved = fake_gpu.allocated  # nothing cached: only the driver's free memory
    assert dev.auto_batch_size(CUDA, 100 * MiB) == 4  # 5 fit in 512 MiB


def test_an_explicit_batch_size_wins_on_every_device(fake_gpu) -> None:
    assert dev.auto_batch_size(CUDA, 100 * MiB, requested=7) == 7
    assert dev.auto_batch_size(CUDA, 5 * GiB, requested=1000) == 1000  # even past what memory suggests
    assert dev.auto_batch_size(CPU, 100 * MiB, requested=5) == 5
    assert fake_gpu.info_calls == 0
    with pytest.raises(ValueError, match="at least 1"):
        dev.auto_batch_size(CUDA, MiB, requested=0)


def test_auto_batch_size_on_cpu_is_the_old_default_and_asks_no_gpu(monkeypatch) -> None:
    _no_gpu_calls(monkeypatch)
    assert dev.DEFAULT_BATCH_SIZE == 16
    assert dev.auto_batch_size(CPU, 1) == 16
    assert dev.auto_batch_size(CPU, 10 * GiB, cap=4) == 16
    assert dev.auto_batch_size(None, 1) == 16


@pytest.mark.parametrize("kw", [{"per_item_bytes": 0}, {"per_item_bytes": MiB, "floor": 0},
                                {"per_item_bytes": MiB, "floor": 8, "cap": 4},
                                {"per_item_bytes": MiB, "headroom": 0.0}, {"per_item_bytes": MiB, "headroom": 1.5}])
def test_auto_batch_size_rejects_nonsense(fake_gpu, kw) -> None:
    with pytest.raises(ValueError):
        dev.auto_batch_size(CUDA, **kw)


# ---------------------------------------------------------------- measuring one item
class FakeEncoder:
    """Records encode calls; each call 'allocates' per_item bytes per item on the fake GPU."""

    def __init__(self, gpu, device=CUDA, per_item: int = 64 * MiB, modality: str = "image") -> None:
        self.gpu, self.device, self.per_item, self.modality = gpu, device, per_item, modality
        self.name = f"fake-{modality}"
        self.spec = SimpleNamespace(preprocessing={"size": 32})
        self.calls: list[tuple[list[tuple], bool, object]] = []

    def encode(self, items, *, tokens=False, layers=None):
        self.calls.append(([(a.shape, a.dtype) for a in items], tokens, layers))
        if self.gpu is not None:
            self.gpu.peak = self.gpu.allocated + self.per_item * len(items)
        return object()


def test_measure_item_bytes_runs_one_picture_of_the_input_size_once(fake_gpu) -> None:
    fake_gpu.allocated = 500 * MiB  # the weights: not part of an item's cost
    enc = FakeEncoder(fake_gpu)
    assert dev.measure_item_bytes(enc, layers=[3, 1]) == 64 * MiB
    assert enc.calls == [([((32, 32, 3), np.dtype(np.uint8))], True, [3, 1])]
    assert dev.measure_item_bytes(enc, layers=[1, 3]) == 64 * MiB  # cached (same layers, any order)
    assert len(enc.calls) == 1
    dev.measure_item_bytes(enc, tokens=False, layers=[1, 3])  # a different forward: measured again
    assert len(enc.calls) == 2


def test_measure_item_bytes_needs_cuda_and_an_audio_sample(fake_gpu) -> None:
    with pytest.raises(ValueError, match="only measured on CUDA"):
        dev.measure_item_bytes(FakeEncoder(fake_gpu, device=CPU))
    audio = FakeEncoder(fake_gpu, modality="audio")
    with pytest.raises(ValueError, match="needs a sample"):
        dev.measure_item_bytes(audio)
    assert dev.measure_item_bytes(audio, np.zeros(16000, np.float32), tokens=False) == 64 * MiB


def test_encoder_batch_size_measures_on_cuda_only(fake_gpu, monkeypatch) -> None:
    enc = FakeEncoder(fake_gpu, per_item=64 * MiB)
    assert dev.encoder_batch_size(enc, layers=[2]) == 64  # 4 GiB / 64 MiB
    assert dev.encoder_batch_size(enc, requested=3) == 3
    _no_gpu_calls(monkeypatch)
    cpu_enc = FakeEncoder(None, device=CPU)
    assert dev.encoder_batch_size(cpu_enc) == 16
    assert cpu_enc.calls == []  # the CPU never runs a measuring forward


def test_scan_batch_size_takes_the_smallest_image_encoder(fake_gpu) -> None:
    def active(modality, encoder, unavailable=None, layers=(0,)):
        return SimpleNamespace(modality=modality, encoder=encoder, unavailable=unavailable,
                               detector=SimpleNamespace(layers=list(layers)))

    small, large = FakeEncoder(fake_gpu, per_item=16 * MiB), FakeEncoder(fake_gpu, per_item=200 * MiB)
    detectors = [active("image", small), active("image", large), active("audio", FakeEncoder(fake_gpu, per_item=GiB)),
                 active("image", None, unavailable="weights missing"),
                 active("image", FakeEncoder(fake_gpu, per_item=GiB), unavailable="broken bundle")]
    assert scan_batch_size(None, detectors) == 16  # 4 GiB / 200 MiB = 20 -> 16; the 16 MiB one alone gives 256
    assert scan_batch_size(None, detectors[:1]) == 256
    assert small.calls[0][2] == [0]  # measured with the detector's early exit, tokens on (as tiles are scored)
    assert scan_batch_size(None, detectors[2:]) == 16  # no usable image detector: the default
    assert scan_batch_size(5, detectors) == 5


# ---------------------------------------------------------------- pinned, non-blocking copies
@pytest.fixture
def fake_copies(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Tensor.pin_memory and Tensor.to recorded instead of run (a CUDA copy needs a GPU)."""
    seen = SimpleNamespace(pinned=[], copies=[], pin_error=None)

    def pin_memory(self):
        if seen.pin_error:
            raise seen.pin_error
        out = self.clone()
        seen.pinned.append((self, out))
        return out

    def to(self, device, non_blocking=False):
        seen.copies.append((self, torch.device(device), non_blocking))
        return self

    monkeypatch.setattr(torch.Tensor, "pin_memory", pin_memory)
    monkeypatch.setattr(torch.Tensor, "to", to)
    return seen


def test_to_device_on_cpu_is_unchanged(monkeypatch) -> None:
    def refuse(self):
        raise AssertionError("no pinning on the CPU")

    monkeypatch.setattr(torch.Tensor, "pin_memory", refuse)
    x = torch.arange(6.0).reshape(2, 3)
    batch = {"pixels": x, "meta": [x, 3], "name": "a"}
    out = dev.to_device(batch, CPU)
    assert out["pixels"] is x and out["meta"][0] is x and out["meta"][1] == 3 and out["name"] == "a"
    assert not out["pixels"].is_pinned()
    torch.testing.assert_close(out["pixels"], torch.arange(6.0).reshape(2, 3))
    assert dev.pin_batch(batch, CPU) is batch


def test_to_device_on_cuda_pins_then_copies_non_blocking(fake_copies) -> None:
    x, y = torch.ones(2, 2), torch.zeros(3)
    out = dev.to_device({"a": x, "b": (y, "tag")}, CUDA)
    assert all(src is orig for (src, _), orig in zip(fake_copies.pinned, (x, y), strict=True))
    pinned = [p for _, p in fake_copies.pinned]
    assert [(t is p, d, nb) for (t, d, nb), p in zip(fake_copies.copies, pinned, strict=True)] == [
        (True, CUDA, True), (True, CUDA, True)]  # the pinned copies travel, asynchronously
    assert out["b"][1] == "tag" and isinstance(out["b"], tuple)


def test_already_pinned_tensors_are_not_pinned_again(fake_copies, monkeypatch) -> None:
    monkeypatch.setattr(torch.Tensor, "is_pinned", lambda self: True)
    x = torch.ones(4)
    dev.to_device(x, CUDA)
    assert fake_copies.pinned == [] and fake_copies.copies == [(x, CUDA, True)]


def test_a_failure_to_pin_falls_back_to_a_plain_copy(fake_copies) -> None:
    fake_copies.pin_error = RuntimeError("page-locked memory exhausted")
    x = torch.ones(4)
    dev.to_device([x], CUDA)
    assert fake_copies.copies == [(x, CUDA, True)]  # the pageable tensor itself, still copied


def test_pin_batch_pins_ahead_for_cuda(fake_copies) -> None:
    x = torch.ones(2)
    out = dev.pin_batch({"x": [x], "n": 1}, CUDA)
    assert out["x"][0] is fake_copies.pinned[0][1] and out["n"] == 1
    assert fake_copies.copies == []  # pinning only: no copy yet


# ---------------------------------------------------------------- scan options and the CLI
def test_scan_options_default_to_auto_and_reject_bad_sizes() -> None:
    assert ScanOptions().batch_size is None
    assert ScanOptions(batch_size=3).batch_size == 3
    with pytest.raises(LayerScopeError, match="batch_size"):
        ScanOptions(batch_size=0)


def test_cli_batch_size_accepts_auto_and_whole_numbers(capsys) -> None:
    from deepfake_gui.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["scan", "x"]).batch_size is None
    assert parser.parse_args(["scan", "x", "--batch-size", "auto"]).batch_size is None
    assert parser.parse_args(["scan", "x", "--batch-size", "8"]).batch_size == 8
    for bad in ("0", "-2", "many"):
        with pytest.raises(SystemExit):
            parser.parse_args(["scan", "x", "--batch-size", bad])
        assert "at least 1, or auto" in capsys.readouterr().err


def _pictures(folder: Path) -> list[Path]:
    """Two small pictures (one cross-file group) and one of 25 tiles (more than one batch of 16)."""
    paths = bench_media.write_images(folder, 2)
    big = folder / "big.png"
    Image.fromarray(bench_media.textured_image(9, side=1120)).save(big)
    return [*paths, big]


@needs_offline
def test_auto_batch_scans_on_cpu_exactly_as_batch_16(tmp_path: Path, monkeypatch, detectors) -> None:
    images_only = [d for d in detectors if d.modality == "image"]
    assert images_only
    assert scan_batch_size(None, images_only) == 16
    paths = _pictures(tmp_path / "pics")
    calls: list[int] = []
    for active in images_only:
        # a detector with a heatmap head runs its encoder through encode_with_patches (one pass for both)
        for method in ("encode", "encode_with_patches"):
            real = getattr(active.encoder, method, None)
            if real is None:
                continue

            def spy(items, *args, real=real, **kw):
                calls.append(len(items))
                return real(items, *args, **kw)

            monkeypatch.setattr(active.encoder, method, spy)

    def run(batch_size):
        calls.clear()
        events = scan_job(paths, ScanOptions(device="cpu", batch_size=batch_size, provenance=False),
                          detectors=images_only)
        return [e for e in events if isinstance(e, ScanResult)], list(calls)

    auto, auto_calls = run(None)
    fixed, fixed_calls = run(16)
    _, small_calls = run(4)
    assert auto_calls == fixed_calls != small_calls  # the same encoder calls, in the same sizes
    assert max(auto_calls) == 16
    assert [r.status for r in auto] == ["ok"] * 3
    for a, b in zip(auto, fixed, strict=True):
        assert a.to_json_dict() | {"integrity": None} == b.to_json_dict() | {"integrity": None}
        for track, arrays in a.arrays.items():
            for key, value in arrays.items():
                np.testing.assert_array_equal(value, b.arrays[track][key])
