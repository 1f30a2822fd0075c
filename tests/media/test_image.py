"""Images: every Pillow mode to RGB uint8, 16-bit scaled, EXIF applied, animation timed, bombs refused."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import psutil
import pytest
from media_factory import GIF_COLORS, IMAGE_H, IMAGE_W, gradient_rgb
from PIL import Image

from deepfake_gui.core.errors import MediaError
from deepfake_gui.media import iter_image_frames, load_image, probe
from deepfake_gui.media.image import to_rgb_uint8

ALL_IMAGES = [
    "png", "jpeg", "webp", "gif", "webp_anim", "cmyk_jpeg", "gray16_png", "rgb48_png", "rgba_png",
    "la_png", "p_png", "exif6_jpeg", "png_as_wav",
]


@pytest.mark.parametrize("name", ALL_IMAGES)
def test_every_image_is_rgb_uint8_hwc(media_files: dict[str, Path], name: str) -> None:
    img = load_image(media_files[name])
    assert img.dtype == np.uint8
    assert img.ndim == 3 and img.shape[2] == 3
    info = probe(media_files[name], with_hash=False)
    assert img.shape[:2] == (info.height, info.width)


@pytest.mark.parametrize("name", ["png", "webp", "png_as_wav"])
def test_lossless_formats_keep_exact_pixels(media_files: dict[str, Path], name: str) -> None:
    np.testing.assert_array_equal(load_image(media_files[name]), gradient_rgb())


def test_jpeg_is_close_to_the_source(media_files: dict[str, Path]) -> None:
    img = load_image(media_files["jpeg"]).astype(int)
    assert np.abs(img - gradient_rgb()).mean() < 4


def test_rgba_drops_alpha_and_keeps_colour(media_files: dict[str, Path]) -> None:
    # alpha is not composited: detectors see the stored colour values
    np.testing.assert_array_equal(load_image(media_files["rgba_png"]), gradient_rgb())


def test_la_becomes_gray_rgb(media_files: dict[str, Path]) -> None:
    img = load_image(media_files["la_png"])
    np.testing.assert_array_equal(img[..., 0], gradient_rgb()[..., 0])
    np.testing.assert_array_equal(img[..., 0], img[..., 1])
    np.testing.assert_array_equal(img[..., 0], img[..., 2])


def test_palette_uses_the_palette_colours(media_files: dict[str, Path]) -> None:
    img = load_image(media_files["p_png"])
    with Image.open(media_files["p_png"]) as im:
        assert im.mode == "P"
        expected = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(img, expected)
    assert np.abs(img.astype(int) - gradient_rgb()).mean() < 20  # 16 colours approximate the gradient


def test_cmyk_jpeg_converts_to_rgb(media_files: dict[str, Path]) -> None:
    img = load_image(media_files["cmyk_jpeg"]).astype(int)
    cyan = img[:, 2 : IMAGE_W // 2 - 2].reshape(-1, 3).mean(axis=0)
    white = img[:, IMAGE_W // 2 + 2 :].reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(cyan, [0, 255, 255], atol=4)
    np.testing.assert_allclose(white, [255, 255, 255], atol=4)


def test_16bit_gray_is_scaled_not_clipped(media_files: dict[str, Path]) -> None:
    img = load_image(media_files["gray16_png"])
    # bands of 0 / 32768 / 65535; Pillow's own convert("RGB") would clip all but 0 to 255
    assert (img[:, :10] == 0).all()
    assert np.abs(img[:, 10:20].astype(int) - 128).max() <= 1
    assert (img[:, 20:] == 255).all()


def test_16bit_rgb_is_scaled(media_files: dict[str, Path]) -> None:
    img = load_image(media_files["rgb48_png"]).astype(int)
    np.testing.assert_array_equal(img[:, :10, :2], 0)
    assert np.abs(img[:, 10:20, :2] - 128).max() <= 1
    np.testing.assert_array_equal(img[:, 20:, :2], 255)
    np.testing.assert_array_equal(img[:, :10, 2], 255)  # blue runs 65535 -> 0
    assert np.abs(img[:, 10:20, 2] - 128).max() <= 1
    np.testing.assert_array_equal(img[:, 20:, 2], 0)


@pytest.mark.parametrize(
    ("mode", "values", "expected"),
    [
        ("I;16", [0, 257, 32768, 65535], [0, 1, 128, 255]),
        ("I", [0, 257, 32768, 65535], [0, 1, 128, 255]),  # 16-bit data in a 32-bit mode
        ("I", [0, 65536 * 2, 65536 * 4 - 1, 65536 * 4 - 1], [0, 128, 255, 255]),  # beyond 16 bit: by max
    ],
)
def test_high_bit_depth_modes_scale(mode: str, values: list[int], expected: list[int]) -> None:
    dtype = np.uint16 if mode == "I;16" else np.int32
    im = Image.fromarray(np.array([values], dtype=dtype), mode=None)
    assert im.mode == mode
    out = to_rgb_uint8(im)
    assert out.shape == (1, 4, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, :, 0], expected)
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_float_mode_is_normalised() -> None:
    im = Image.fromarray(np.array([[-1.0, 0.0, 1.0]], dtype=np.float32))
    assert im.mode == "F"
    np.testing.assert_array_equal(to_rgb_uint8(im)[0, :, 1], [0, 128, 255])


def test_exif_orientation_6_is_applied(media_files: dict[str, Path]) -> None:
    with Image.open(media_files["exif6_jpeg"]) as im:
        assert im.size == (64, 32)  # as stored
        assert im.getexif()[0x0112] == 6
    img = load_image(media_files["exif6_jpeg"])
    assert img.shape == (64, 32, 3)  # width and height swapped
    # the red block stored top-left is shown top-right after a 90° clockwise turn
    top_right = img[:8, -8:].reshape(-1, 3).mean(axis=0)
    assert top_right[0] > 200 and top_right[1] < 40 and top_right[2] < 40
    for corner in (img[:8, :8], img[-8:, :8], img[-8:, -8:]):
        assert corner.mean() < 30


def test_exif_orientation_applies_to_frames_too(media_files: dict[str, Path]) -> None:
    frames = list(iter_image_frames(media_files["exif6_jpeg"]))
    assert len(frames) == 1
    np.testing.assert_array_equal(frames[0][2], load_image(media_files["exif6_jpeg"]))


@pytest.mark.parametrize("name", ["gif", "webp_anim"])
def test_animated_frames_and_times(media_files: dict[str, Path], name: str) -> None:
    frames = list(iter_image_frames(media_files[name]))
    assert [i for i, _, _ in frames] == [0, 1, 2]
    assert [t for _, t, _ in frames] == [0.0, 0.1, 0.3]  # exact: summed in integer ms
    for (_, _, img), colour in zip(frames, GIF_COLORS, strict=True):
        assert img.shape == (IMAGE_H, IMAGE_W, 3) and img.dtype == np.uint8
        np.testing.assert_array_equal(img.reshape(-1, 3).mean(axis=0), colour)
    np.testing.assert_array_equal(load_image(media_files[name]), frames[0][2])


def test_still_image_is_one_frame_at_zero(media_files: dict[str, Path]) -> None:
    frames = list(iter_image_frames(media_files["png"]))
    assert len(frames) == 1
    index, t, img = frames[0]
    assert (index, t) == (0, 0.0)
    np.testing.assert_array_equal(img, gradient_rgb())


@pytest.mark.parametrize("func", [load_image, lambda p: list(iter_image_frames(p)), probe])
def test_decompression_bomb_png_is_refused_without_allocating(media_files: dict[str, Path], func) -> None:
    path = media_files["bomb_png"]
    rss_before = psutil.Process().memory_info().rss
    with pytest.raises(MediaError) as err:
        func(path)
    assert psutil.Process().memory_info().rss - rss_before < 50 * 2**20  # 7.5 GB if decoded
    e = err.value
    assert e.reason == "too-large"
    assert e.path == str(path)
    assert str(e).startswith(f"{path}: image too large: ")
    assert "PNG claims 50000x50000 pixels, above the 100 MP budget" in str(e)


@pytest.mark.parametrize("func", [load_image, lambda p: list(iter_image_frames(p)), probe])
def test_animated_gif_bomb_is_refused_before_any_frame_seek(media_files: dict[str, Path], func) -> None:
    # seeking frame 1 composites onto a 20000x20000 canvas (400 MB, seconds): the check must come first
    with pytest.raises(MediaError) as err:
        func(media_files["bomb_gif"])
    assert err.value.reason == "too-large"
    assert "GIF claims 20000x20000 pixels, above the 100 MP budget" in str(err.value)


def test_not_an_image(media_files: dict[str, Path]) -> None:
    with pytest.raises(MediaError) as err:
        load_image(media_files["tone_8k_mono.wav"])
    assert err.value.reason == "not-media"
    assert "not an image" in str(err.value)


def test_bomb_png_is_a_well_formed_header(media_files: dict[str, Path]) -> None:
    # valid signature and CRCs, so it is Pillow's size check (not a parse error) that must stop it
    data = media_files["bomb_png"].read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, kinds = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        kinds.append(kind)
        pos += 12 + length
    assert kinds == [b"IHDR", b"IDAT"]
    assert struct.unpack(">II", data[16:24]) == (50_000, 50_000)
    with Image.open(media_files["bomb_png"]) as im:  # header only: nothing is allocated
        assert im.size == (50_000, 50_000)
