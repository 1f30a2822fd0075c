"""Re-encoding transforms: deterministic, the right size and length, and they change what they should."""

from __future__ import annotations

from pathlib import Path

import media_factory
import numpy as np
import pytest
from PIL import Image

from deepfake_gui.launder import TRANSFORMS, VERSION, get_transform, launder_files, launder_root, transforms_for
from deepfake_gui.launder import audio as laudio
from deepfake_gui.launder import image as limage
from deepfake_gui.media import load_audio, load_image

RATE = 8_000


def checkerboard(h: int = 64, w: int = 48) -> np.ndarray:
    """Alternating 0/255 pixels: all energy at the Nyquist frequency."""
    board = ((np.add.outer(np.arange(h), np.arange(w)) % 2) * 255).astype(np.uint8)
    return np.repeat(board[:, :, None], 3, axis=2)


def tone(freq: float, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / RATE)[np.argmax(spec)])


# ------------------------------------------------------------------ images
def test_jpeg_recompression_is_deterministic_and_lossy() -> None:
    img = media_factory.gradient_rgb(64, 48)
    a, b = limage.jpeg_recompress(img), limage.jpeg_recompress(img)
    assert a.shape == img.shape and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert limage.encode_jpeg(img) == limage.encode_jpeg(img)
    noise = np.random.default_rng(0).integers(0, 256, (64, 48, 3), dtype=np.uint8)
    assert len(limage.encode_jpeg(noise, 75)) < len(limage.encode_jpeg(noise, 95))
    err = np.abs(limage.jpeg_recompress(noise).astype(int) - noise.astype(int)).mean()
    assert 5 < err < 80  # noise cannot survive q75 intact, but the picture is still close
    with pytest.raises(ValueError, match="quality"):
        limage.encode_jpeg(img, 0)
    with pytest.raises(ValueError, match="RGB uint8"):
        limage.jpeg_recompress(img[:, :, 0])


def test_rescale_removes_the_finest_detail_and_keeps_smooth_content() -> None:
    board = checkerboard()
    back = limage.rescale(board, 0.5, back=True)
    assert back.shape == board.shape
    assert board.std() > 120 and back.std() < 20  # the Nyquist pattern is gone
    smooth = media_factory.gradient_rgb(64, 48)
    assert np.abs(limage.rescale(smooth, 0.5).astype(int) - smooth.astype(int)).max() <= 12
    assert limage.rescale(smooth, 0.75, back=False).shape == (36, 48, 3)
    assert np.array_equal(limage.rescale(board), limage.rescale(board))


def test_image_file_transforms(tmp_path: Path, media_files: dict[str, Path]) -> None:
    src = media_files["png"]
    jpg = limage.jpeg_file(src, tmp_path / "a" / "x.jpg")
    with Image.open(jpg) as im:
        assert im.format == "JPEG" and im.size == (media_factory.IMAGE_W, media_factory.IMAGE_H)
    png = limage.rescale_file(src, tmp_path / "x.png", 0.5)
    assert load_image(png).shape == (media_factory.IMAGE_H, media_factory.IMAGE_W, 3)
    small = limage.rescale_file(src, tmp_path / "s.png", 0.75, back=False)
    assert load_image(small).shape == (round(0.75 * media_factory.IMAGE_H), round(0.75 * media_factory.IMAGE_W), 3)


# ------------------------------------------------------------------ audio
@pytest.mark.parametrize(("codec", "bitrate"), [("opus", 16_000), ("mp3", 16_000), ("amr_nb", 12_200),
                                               ("mulaw", 64_000)])
def test_codec_roundtrip_keeps_length_pitch_and_is_deterministic(codec: str, bitrate: int) -> None:
    x = tone(440.0)
    y = laudio.codec_roundtrip(x, RATE, codec, bitrate)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.array_equal(y, laudio.codec_roundtrip(x, RATE, codec, bitrate))
    assert abs(peak_hz(y) - 440.0) < 5.0
    inner = slice(800, -800)  # codec start-up and the last frame are not waveform-exact
    assert np.corrcoef(x[inner], y[inner])[0, 1] > 0.9
    assert not np.array_equal(x, y)
    assert abs(np.sqrt(np.mean(y[inner] ** 2)) - np.sqrt(np.mean(x[inner] ** 2))) < 0.1


def test_phone_calls_keep_the_voice_band_and_the_mobile_codec_changes_more() -> None:
    rate = 16_000
    t = np.arange(rate * 2) / rate
    x = (0.3 * np.sin(2 * np.pi * 1000 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
         + 0.1 * np.sin(2 * np.pi * 6000 * t)).astype(np.float32)
    narrow = laudio.telephone(x, rate)
    landline = laudio.phone_call(x, rate, "mulaw", 64_000)
    mobile = laudio.phone_call(x, rate, "amr_nb", 12_200)
    spec = lambda y: np.abs(np.fft.rfft(y[rate // 4: -rate // 4]))  # noqa: E731
    f = np.fft.rfftfreq(len(x) - rate // 2, 1 / rate)
    for y in (landline, mobile):
        assert y.shape == x.shape
        assert spec(y)[(f > 5500) & (f < 6500)].max() < 0.01 * spec(x)[(f > 5500) & (f < 6500)].max()
        assert abs(f[np.argmax(spec(y))] - 1000) < 5
    inner = slice(rate // 4, -rate // 4)
    agree = lambda y: np.corrcoef(narrow[inner], y[inner])[0, 1]  # noqa: E731
    assert agree(landline) > 0.99 > agree(mobile) > 0.5  # G.711 is near-transparent; AMR is not


def test_low_bitrate_codecs_change_noise_far_more_than_a_tone() -> None:
    noise = np.random.default_rng(0).normal(0, 0.2, RATE).astype(np.float32)
    for fn in (laudio.opus, laudio.mp3):
        y = fn(noise)
        assert np.corrcoef(noise, y)[0, 1] < 0.9  # 16 kbit/s cannot carry white noise


def test_encode_writes_the_requested_container() -> None:
    x = tone(300.0)
    assert laudio.encode(x, RATE, "opus", 16_000)[:4] == b"OggS"
    mp3 = laudio.encode(x, RATE, "mp3", 16_000)
    assert mp3[:3] == b"ID3" or mp3[0] == 0xFF
    assert len(mp3) < 16_000 / 8 * 1.0 * 1.5  # about 16 kbit/s for 1 s
    with pytest.raises(ValueError, match="codec"):
        laudio.encode(x, RATE, "aac", 16_000)
    with pytest.raises(ValueError, match="mono"):
        laudio.encode(np.zeros((2, 10), dtype=np.float32), RATE, "mp3", 16_000)


def test_best_lag_finds_a_known_delay() -> None:
    x = np.random.default_rng(1).normal(size=4000).astype(np.float32)
    assert laudio.best_lag(x, np.concatenate([np.zeros(3, np.float32), x[:-3]])) == 3
    assert laudio.best_lag(x, x) == 0
    assert laudio.best_lag(x, x[2:]) == -2


def test_codec_file_writes_8k_flac(tmp_path: Path, media_files: dict[str, Path]) -> None:
    out = laudio.codec_file(media_files["tone_44k_stereo.wav"], tmp_path / "t.flac", "mp3", 16_000)
    y = load_audio(out, RATE)
    assert len(y) == round(media_factory.AUDIO_SECONDS * RATE)
    assert abs(peak_hz(y) - media_factory.TONE_HZ) < 5.0
    x = laudio.write_flac(tmp_path / "w.flac", np.array([0.0, 0.5, -1.5], np.float32), RATE)
    np.testing.assert_allclose(load_audio(x, RATE), [0.0, 0.5, -1.0], atol=1 / 32767)


# ------------------------------------------------------------------ registry and copies
def test_transform_registry() -> None:
    assert transforms_for("image") == ["jpeg-q75", "rescale-0.5x", "downscale-0.75x"]
    assert transforms_for("audio") == ["opus-16k", "mp3-16k"]
    assert all(t.description for t in TRANSFORMS.values())
    with pytest.raises(ValueError, match="unknown transform"):
        get_transform("jpeg-q10")


def test_launder_files_mirror_paths_in_the_cache_and_reuse_copies(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for rel in ("real/a.png", "fake/gen/a.png"):
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(media_factory.gradient_rgb()).save(data / rel)
    paths = [data / "real/a.png", data / "fake/gen/a.png"]
    out_dir = launder_root("unit")
    copies = launder_files(paths, data, "jpeg-q75", out_dir)
    base = out_dir / f"jpeg-q75-v{VERSION}"
    assert copies == [base / "real/a.jpg", base / "fake/gen/a.jpg"]
    assert all(c.is_file() for c in copies) and not list(data.rglob("*.jpg"))
    assert not list(base.rglob("*partial*"))
    stamp = copies[0].stat().st_mtime_ns
    assert launder_files(paths, data, get_transform("jpeg-q75"), out_dir) == copies
    assert copies[0].stat().st_mtime_ns == stamp  # reused, not rewritten
