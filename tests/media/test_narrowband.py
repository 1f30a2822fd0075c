"""A telephone-band recording saved at a higher rate is read as the 8 kHz recording it is (media/narrowband.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepfake_gui.launder.audio import resample, write_flac
from deepfake_gui.media.audio import iter_audio_chunks
from deepfake_gui.media.narrowband import (
    NARROWBAND_VARIANT,
    is_narrowband,
    iter_detector_audio,
    reads_as_narrowband,
    upper_band_level_db,
    upsample_chunks,
)


def _voice(rate: int, seconds: float = 3.0, top_hz: float = 3_800.0, seed: int = 0) -> np.ndarray:
    """A buzzy vowel-like sound: harmonics of a wandering pitch up to ``top_hz``, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    pitch = 140 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    x = sum(np.sin(k * phase) / k for k in range(1, int(top_hz // 160)))
    return (0.3 * x / np.abs(x).max() + 0.003 * rng.normal(size=t.size)).astype(np.float32)


def _read(chunks) -> np.ndarray:
    return np.concatenate(list(chunks))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("narrowband")
    eight = _voice(8_000)
    out = {"8k": write_flac(root / "call-8k.flac", eight, 8_000),
           "scipy-16k": write_flac(root / "call-16k.flac", resample(eight, 8_000, 16_000).astype(np.float32), 16_000),
           "wide-16k": write_flac(root / "studio-16k.flac", _voice(16_000, top_hz=7_500.0), 16_000)}
    return out


def test_upper_band_level_tells_a_telephone_band_from_a_wideband_sound() -> None:
    wide = _voice(16_000, top_hz=7_500.0)
    narrow = resample(_voice(8_000), 8_000, 16_000)
    assert upper_band_level_db(wide, 16_000) > -15
    assert upper_band_level_db(narrow, 16_000) < -50
    assert is_narrowband(narrow, 16_000) and not is_narrowband(wide, 16_000)
    assert upper_band_level_db(_voice(8_000), 8_000) is None  # an 8 kHz signal has no upper band to measure
    assert upper_band_level_db(np.zeros(16_000), 16_000) is None  # silence: nothing to compare


def test_which_files_are_read_through_8khz(files) -> None:
    assert reads_as_narrowband(files["scipy-16k"], 16_000)
    assert not reads_as_narrowband(files["8k"], 16_000)  # already read the way the detectors learned
    assert not reads_as_narrowband(files["wide-16k"], 16_000)
    assert not reads_as_narrowband(files["scipy-16k"], 8_000)  # a detector at 8 kHz never sees the upper band


def test_an_upsampled_copy_is_read_like_its_8khz_original(files) -> None:
    original = _read(iter_audio_chunks(files["8k"], 16_000))  # how every 8 kHz training file was read
    as_it_is = _read(iter_audio_chunks(files["scipy-16k"], 16_000))
    now = _read(iter_detector_audio(files["scipy-16k"], 16_000))
    level = upper_band_level_db(original, 16_000)
    # scipy's filter leaves a different residue above 4 kHz than FFmpeg's resampler, and the detectors read it
    assert upper_band_level_db(as_it_is, 16_000) - level > 10
    assert abs(upper_band_level_db(now, 16_000) - level) < 2
    assert len(now) == len(original)
    assert np.corrcoef(now, original)[0, 1] > 0.999


def test_files_not_read_through_8khz_are_decoded_unchanged(files) -> None:
    for name in ("8k", "wide-16k"):
        np.testing.assert_array_equal(_read(iter_detector_audio(files[name], 16_000)),
                                      _read(iter_audio_chunks(files[name], 16_000)))


def test_upsampling_8khz_chunks_is_what_decoding_an_8khz_file_at_16khz_does(files) -> None:
    direct = _read(iter_audio_chunks(files["8k"], 16_000))
    np.testing.assert_array_equal(_read(upsample_chunks(iter_audio_chunks(files["8k"], 8_000), 8_000, 16_000)),
                                  direct)


def test_training_features_read_the_file_as_scan_does_and_cache_it_apart(files, tmp_path) -> None:
    from deepfake_gui.encoders.cache import FeatureCache
    from deepfake_gui.encoders.extract import FileFeatures, _key, iter_file_features
    from deepfake_gui.encoders.registry import build_encoder

    encoder = build_encoder("phase-coherence", "cpu")
    cache = FeatureCache(tmp_path / "cache")
    got = {name: next(f for f in iter_file_features(encoder, [files[name]], cache=cache)
                      if isinstance(f, FileFeatures)) for name in ("8k", "scipy-16k")}
    for f in got.values():
        assert f.error is None
    assert cache.get(encoder.name, _key(encoder, got["scipy-16k"].sha256, NARROWBAND_VARIANT)) is not None
    assert cache.get(encoder.name, _key(encoder, got["scipy-16k"].sha256, "")) is None
    # the copy's features are those of the original, not of the copy as it is
    copy, original = got["scipy-16k"].pooled, got["8k"].pooled
    for a, b in zip(copy, original, strict=True):
        assert np.abs(a - b).max() < 0.05 * np.abs(b).max()


def test_a_file_is_measured_once_per_version(files, tmp_path, monkeypatch) -> None:
    """Both sound detectors of a scan and the feature extractor ask; the track is decoded for it once."""
    import shutil

    import deepfake_gui.media.audio as audio

    calls = []
    real_load = audio.load_audio
    monkeypatch.setattr(audio, "load_audio", lambda *a, **k: calls.append(a[0]) or real_load(*a, **k))
    copy = shutil.copy(files["scipy-16k"], tmp_path / "copy.flac")
    assert reads_as_narrowband(copy, 16_000) and reads_as_narrowband(copy, 16_000)
    assert len(calls) == 1
    write_flac(copy, _voice(16_000, top_hz=7_500.0, seed=1), 16_000)  # the file changed: measured again
    assert not reads_as_narrowband(copy, 16_000)
    assert len(calls) == 2
