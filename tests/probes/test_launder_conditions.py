"""Standard laundering conditions: each deterministic for a seed, the right format and shape, a real change."""

from __future__ import annotations

from pathlib import Path

import media_factory
import numpy as np
import pytest
from PIL import Image

from deepfake_gui.launder import audio as laudio
from deepfake_gui.launder import image as limage
from deepfake_gui.launder.conditions import (
    AUDIO_RATE,
    CONDITIONS,
    STANDARD,
    conditions_for,
    file_sha256,
    get_condition,
    launder_copy,
    severity_order,
)
from deepfake_gui.media import load_audio, load_image

FORMATS = {".jpg": "JPEG", ".png": "PNG", ".webp": "WEBP"}


def _noisy_image(seed: int = 0, h: int = 64, w: int = 80) -> np.ndarray:
    return media_factory.noisy_rgb(w, h, 30, seed)


def _speech_like(seconds: float = 1.5, rate: int = AUDIO_RATE) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 1800 * t) + 0.05 * np.sin(2 * np.pi * 6000 * t)
    return (x * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("src")
    png = d / "photo.png"
    Image.fromarray(_noisy_image()).save(png)
    flac = laudio.write_flac(d / "voice.flac", _speech_like(), AUDIO_RATE)
    return {"image": png, "audio": flac}


def test_registry_has_the_standard_conditions_in_severity_order() -> None:
    for modality, names in STANDARD.items():
        assert all(get_condition(n).modality == modality for n in names)
    img = conditions_for("image")
    assert img.index("jpeg90") < img.index("jpeg75") < img.index("jpeg60")
    assert img.index("rescale0.75") < img.index("rescale0.5")
    aud = conditions_for("audio")
    assert aud.index("opus32k") < aud.index("opus24k") < aud.index("opus16k")
    assert severity_order(["jpeg60", "clean", "social", "jpeg90"]) == ["clean", "jpeg90", "jpeg60", "social"]
    with pytest.raises(ValueError, match="unknown laundering condition"):
        get_condition("jpeg5")


@pytest.mark.parametrize("name", conditions_for("image"))
def test_image_condition_deterministic_format_and_changed(name: str, sources: dict[str, Path],
                                                         tmp_path: Path) -> None:
    c = CONDITIONS[name]
    a = launder_copy(sources["image"], c, seed=3, root=tmp_path / "a")
    b = launder_copy(sources["image"], c, seed=3, root=tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()
    assert a.suffix == c.suffix and file_sha256(sources["image"]) in a.name
    with Image.open(a) as im:
        assert im.format == FORMATS[c.suffix]
    out, src = load_image(a), load_image(sources["image"])
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    if c.family == "rescale":
        factor = float(name.removeprefix("rescale"))
        assert out.shape[:2] == (round(64 * factor), round(80 * factor))
    elif c.family == "crop":
        assert out.shape[:2] == (round(64 * 0.9), round(80 * 0.9))
    elif c.family == "social":
        assert out.shape[0] < 64 and out.shape[1] < 80
    else:
        assert out.shape == src.shape
        assert np.abs(out.astype(int) - src).mean() > 0.5


def test_seeded_conditions_depend_on_the_seed(sources: dict[str, Path], tmp_path: Path) -> None:
    draws = {launder_copy(sources["image"], "social", seed=s, root=tmp_path).read_bytes() for s in range(6)}
    assert len(draws) > 1  # factor / quality are drawn per seed
    crops = {load_image(launder_copy(sources["image"], "crop0.9", seed=s, root=tmp_path)).tobytes() for s in range(6)}
    assert len(crops) > 1


def test_copy_is_cached_not_rewritten(sources: dict[str, Path], tmp_path: Path) -> None:
    first = launder_copy(sources["image"], "jpeg75", root=tmp_path)
    first.write_bytes(b"marker")  # a second call must reuse the file, not launder again
    assert launder_copy(sources["image"], "jpeg75", root=tmp_path).read_bytes() == b"marker"


def test_chroma_subsampling_choice_changes_the_jpeg() -> None:
    img = _noisy_image(1)
    assert limage.encode_jpeg(img, 75, "4:4:4") != limage.encode_jpeg(img, 75, "4:2:0")
    assert np.array_equal(limage.jpeg_recompress(img, 75), limage.jpeg_recompress(img, 75, "4:2:0"))


@pytest.mark.parametrize("name", conditions_for("audio"))
def test_audio_condition_deterministic_and_length(name: str, sources: dict[str, Path], tmp_path: Path) -> None:
    c = CONDITIONS[name]
    a = launder_copy(sources["audio"], c, seed=1, root=tmp_path / "a")
    b = launder_copy(sources["audio"], c, seed=1, root=tmp_path / "b")
    assert a.suffix == ".flac"
    x = load_audio(sources["audio"], AUDIO_RATE)
    ya, yb = load_audio(a, AUDIO_RATE), load_audio(b, AUDIO_RATE)
    assert np.array_equal(ya, yb)
    if name == "lead_silence1s":
        assert len(ya) == len(x) + AUDIO_RATE and np.abs(ya[:AUDIO_RATE]).max() == 0
    elif name == "trail_silence1s":
        assert len(ya) == len(x) + AUDIO_RATE and np.abs(ya[-AUDIO_RATE:]).max() == 0
    elif name == "trim_silence":
        assert len(ya) <= len(x)
    else:
        assert len(ya) == len(x)
        assert np.abs(ya - x).mean() > 0
        if c.family != "phone":  # the band-pass removes the 220 Hz fundamental on purpose
            assert np.corrcoef(x, ya)[0, 1] > 0.5  # still the same recording


def _band_energy(x: np.ndarray, lo: float, hi: float, rate: int = AUDIO_RATE) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / rate)
    return float(spec[(f >= lo) & (f < hi)].sum())


def test_phone_and_resample_remove_the_high_band() -> None:
    x = _speech_like()
    for y in (laudio.telephone(x, AUDIO_RATE), laudio.resample_roundtrip(x, AUDIO_RATE, 8_000)):
        assert _band_energy(y, 5000, 7000) < 1e-3 * _band_energy(x, 5000, 7000)
        assert _band_energy(y, 1700, 1900) > 0.5 * _band_energy(x, 1700, 1900)
    assert _band_energy(laudio.telephone(x, AUDIO_RATE), 150, 250) < 0.2 * _band_energy(x, 150, 250)


def test_noise_snr_and_silence_trim() -> None:
    x = _speech_like()
    rng = np.random.default_rng(0)
    y = laudio.add_noise(x, 20.0, rng)
    snr = 10 * np.log10(np.mean(x.astype(float) ** 2) / np.mean((y - x).astype(float) ** 2))
    assert abs(snr - 20.0) < 0.5
    padded = laudio.pad_silence(x, AUDIO_RATE, lead_s=0.5, trail_s=0.25)
    assert len(padded) == len(x) + 12_000
    trimmed = laudio.trim_silence(padded, AUDIO_RATE)
    assert abs(len(trimmed) - len(x)) <= 0.02 * AUDIO_RATE * 2


def test_aac_round_trip_is_aligned() -> None:
    x = _speech_like()
    y = laudio.aac(x, AUDIO_RATE, 24_000)
    assert len(y) == len(x) and laudio.best_lag(x, y) == 0
    assert np.corrcoef(x, y)[0, 1] > 0.9
