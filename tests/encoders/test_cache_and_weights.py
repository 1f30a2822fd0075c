"""Feature cache (hits, invalidation, corruption) and weights lookup (search order, checksums)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from deepfake_gui.core.errors import WeightsUnavailableError
from deepfake_gui.encoders.cache import FeatureCache
from deepfake_gui.encoders.extract import extract_features
from deepfake_gui.encoders.registry import build_encoder, get_spec
from deepfake_gui.encoders.weights import locate_weights


@pytest.fixture()
def audio_files(media_files: dict[str, Path], tmp_path: Path) -> list[Path]:
    names = [n for n in media_files if n.endswith((".wav", ".flac")) and "short" not in n and "tone" in n]
    files = []
    for i, name in enumerate(sorted(names)[:2]):
        dst = tmp_path / f"{i}_{Path(name).name}"
        dst.write_bytes(media_files[name].read_bytes())
        files.append(dst)
    return files


def test_second_extraction_hits_the_cache_with_identical_features(audio_files, tmp_path: Path) -> None:
    encoder = build_encoder("test-ge2e", device="cpu")
    cache = FeatureCache(tmp_path / "cache")
    first, records = extract_features(encoder, audio_files, cache=cache)
    assert cache.misses == len(audio_files) and cache.hits == 0
    assert all(r.error is None and not r.cached for r in records)
    second, records = extract_features(encoder, audio_files, cache=cache)
    assert cache.hits == len(audio_files)
    assert all(r.cached for r in records)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    stats = cache.stats()
    assert stats["entries"] == len(audio_files) and stats["bytes"] > 0


def test_cache_is_invalidated_by_file_content_weights_and_preprocessing(audio_files, tmp_path: Path) -> None:
    encoder = build_encoder("test-ge2e", device="cpu")
    cache = FeatureCache(tmp_path / "cache")
    extract_features(encoder, audio_files, cache=cache)
    key = FeatureCache.make_key("abc", "test-ge2e", "w1", "p1")
    assert key != FeatureCache.make_key("abc", "test-ge2e", "w2", "p1")
    assert key != FeatureCache.make_key("abc", "test-ge2e", "w1", "p2")
    assert key != FeatureCache.make_key("abd", "test-ge2e", "w1", "p1")
    assert key != FeatureCache.make_key("abc", "test-ge2e", "w1", "p1", variant="jpeg70")
    # a changed file is a new key: one miss
    data = bytearray(audio_files[0].read_bytes())
    data[-2] ^= 0x01
    audio_files[0].write_bytes(bytes(data))
    before = cache.misses
    extract_features(encoder, audio_files, cache=cache)
    assert cache.misses == before + 1
    # other weights are a new key for every file
    encoder2 = build_encoder("test-ge2e", device="cpu", keep_warm=False)
    encoder2.weights_sha256 = "different"
    before = cache.misses
    extract_features(encoder2, audio_files, cache=cache)
    assert cache.misses == before + len(audio_files)


def test_corrupt_entries_are_detected_and_recomputed(audio_files, tmp_path: Path) -> None:
    encoder = build_encoder("test-ge2e", device="cpu")
    cache = FeatureCache(tmp_path / "cache")
    good, _ = extract_features(encoder, audio_files, cache=cache)
    entries = sorted((tmp_path / "cache").rglob("*.safetensors"))
    entries[0].write_bytes(entries[0].read_bytes()[:40])  # truncated
    raw = bytearray(entries[1].read_bytes())
    raw[-3] ^= 0xFF  # payload flipped: the checksum catches it
    entries[1].write_bytes(bytes(raw))
    hits = cache.hits
    again, records = extract_features(encoder, audio_files, cache=cache)
    assert cache.hits == hits and not any(r.cached for r in records)
    for a, b in zip(good, again, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert cache.clear() == len(audio_files) and cache.stats()["entries"] == 0


def test_weights_search_order_and_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERSCOPE_MODELS_DIR", str(tmp_path / "models"))
    spec = get_spec("ge2e-resemblyzer")
    status = locate_weights(spec)
    if status.status == "present":  # the packaged file is found where pip put it
        assert status.sha256 == spec.weights[0].sha256
    # a local copy in the models folder wins, and a wrong file is reported, never used
    local = tmp_path / "models" / "ge2e-resemblyzer" / "pretrained.pt"
    local.parent.mkdir(parents=True)
    local.write_bytes(b"not the real weights")
    status = locate_weights(spec)
    assert status.status == "checksum-mismatch" and status.path == local
    with pytest.raises(WeightsUnavailableError, match="checksum-mismatch"):
        build_encoder("ge2e-resemblyzer", device="cpu", keep_warm=False)


def test_missing_weights_name_the_fetch_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERSCOPE_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    spec = get_spec("resnet-101")
    assert locate_weights(spec).status == "missing"
    with pytest.raises(WeightsUnavailableError, match="layerscope models fetch resnet-101"):
        build_encoder("resnet-101", device="cpu", keep_warm=False)
    fake = dataclasses.replace(spec, name="resnet-copy")
    (tmp_path / "models" / "resnet-copy").mkdir(parents=True)
    (tmp_path / "models" / "resnet-copy" / "resnet101-cd907fc2.pth").write_bytes(b"x")
    assert locate_weights(fake).status == "present"  # no published sha256 for this file: present, hash recorded
    assert locate_weights(fake).sha256 is not None


def test_cache_evicts_least_recently_used_entries_over_its_limit(tmp_path) -> None:
    import os
    import time

    import numpy as np

    from deepfake_gui.encoders.cache import FeatureCache

    entry = [np.zeros((1, 256), dtype=np.float32)]
    probe = FeatureCache(tmp_path / "probe")
    probe.put("enc", "k" * 64, entry)
    size = probe.stats()["bytes"]
    cache = FeatureCache(tmp_path / "c", max_bytes=int(size * 3.5))  # room for three entries
    keys = [f"{i:064d}" for i in range(3)]
    for i, key in enumerate(keys):
        cache.put("enc", key, entry)
        path = cache._path("enc", key)
        os.utime(path, (time.time() - 100 + i, time.time() - 100 + i))  # 0 oldest, 2 newest
    assert cache.get("enc", keys[0]) is not None  # reading makes 0 the most recently used
    cache.put("enc", "f" * 64, entry)  # the fourth entry goes over the limit
    assert cache.evicted >= 1
    assert cache.get("enc", keys[1]) is None  # the least recently used went first
    assert cache.get("enc", keys[0]) is not None and cache.get("enc", "f" * 64) is not None
    assert cache.stats()["bytes"] <= cache.max_bytes


def test_concurrent_writers_never_leave_partial_entries(tmp_path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from deepfake_gui.encoders.cache import FeatureCache

    cache = FeatureCache(tmp_path)
    arrays = [np.arange(512, dtype=np.float32).reshape(1, 512)]
    with ThreadPoolExecutor(4) as pool:  # the same key written by four threads at once
        list(pool.map(lambda _: cache.put("enc", "a" * 64, arrays), range(16)))
    assert not list(tmp_path.rglob("*.tmp"))
    np.testing.assert_array_equal(cache.get("enc", "a" * 64)[0], arrays[0])
