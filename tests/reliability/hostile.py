"""A hostile-file corpus the tests make themselves: bombs, extreme shapes, truncations, wrong extensions,
special files, odd names, huge frame counts and broken containers (each a few KB, made in about a second)."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import media_factory
import numpy as np
from PIL import Image

TRUNCATE_AT = (8, 64, 0.25, 0.5, 0.9)  # bytes, or a fraction of the file


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def solid_png_bytes(width: int, height: int) -> bytes:
    """A valid one-colour RGB PNG, compressed row by row (13,300 x 13,300 is about 550 KB, as in the issue)."""
    packer = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * (3 * width)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def gif_extents_bytes(canvas: int = 100, left: int = 65535) -> bytes:
    """Two frames; the second claims to sit at (left, left), far beyond its 100 x 100 canvas (Pillow's
    decompression_bomb_extents.gif): seeking to it grows the picture to 65,536 x 65,536."""
    out = b"GIF89a" + struct.pack("<HHBBB", canvas, canvas, 0, 0, 0)
    for x in (0, left):
        out += b"\x2c" + struct.pack("<HHHHB", x, x, 1, 1, 0x80) + b"\x00\x00\x00\xff\xff\xff"
        out += b"\x02\x02\x44\x01\x00"
    return out + b"\x3b"


def many_frames_gif_bytes(frames: int) -> bytes:
    out = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0, 0, 0)
    frame = (b"\x21\xf9\x04\x00\x01\x00\x00\x00" + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0x80)
             + b"\x00\x00\x00\xff\xff\xff" + b"\x02\x02\x44\x01\x00")
    return out + frame * frames + b"\x3b"


def _cut(data: bytes, at: float) -> bytes:
    return data[: int(at if at >= 1 else len(data) * at)]


def build(root: Path) -> dict[str, str]:
    """Write the corpus under ``root``; returns file name -> the error reason expected (or "ok")."""
    root.mkdir(parents=True, exist_ok=True)
    expect: dict[str, str] = {}

    def put(name: str, data: bytes, reason: str) -> None:
        (root / name).write_bytes(data)
        expect[name] = reason

    rng = np.random.default_rng(21)
    picture = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    Image.fromarray(picture).save(root / "good.png")
    expect["good.png"] = "ok"
    Image.fromarray(picture).save(root / "good.jpg", quality=90)
    expect["good.jpg"] = "ok"
    samples = {"png": (root / "good.png").read_bytes(), "jpg": (root / "good.jpg").read_bytes()}
    wav = media_factory.write_mono_wav(root / "good.wav", media_factory.tone(16_000, 1.0, 1)[:, 0])
    expect["good.wav"] = "ok"
    flac = media_factory.write_audio(root / "good.flac", "flac", "flac", 16_000, 1, 3.0)
    expect["good.flac"] = "ok"
    mp4 = media_factory.write_video(root / "good.mp4")
    expect["good.mp4"] = "ok"
    samples |= {"wav": wav.read_bytes(), "flac": flac.read_bytes(), "mp4": mp4.read_bytes()}

    # bombs and memory
    put("bomb-50000x50000.png", media_factory.bomb_png_bytes(50_000, 50_000), "too-large")
    put("bomb-canvas.gif", media_factory.bomb_gif_bytes(20_000, 20_000), "too-large")
    put("bomb-extents.gif", gif_extents_bytes(), "too-large")
    put("solid-13300x13300.png", solid_png_bytes(13_300, 13_300), "too-large")
    put("frames-12000.gif", many_frames_gif_bytes(12_000), "too-large")
    # extreme aspect ratios (within the budget: they decode)
    put("wide-60000x1.png", solid_png_bytes(60_000, 1), "ok")
    put("tall-1x60000.png", solid_png_bytes(1, 60_000), "ok")
    put("zero-width.png", solid_png_bytes(1, 1).replace(struct.pack(">II", 1, 1), struct.pack(">II", 0, 1), 1),
        "any-error")
    # truncations at several offsets
    for ext, data in samples.items():
        for at in TRUNCATE_AT:
            put(f"cut-{ext}-{at}.{ext}", _cut(data, at), "any-error")
    # wrong extensions: decoded by content
    put("png-named.mp4", samples["png"], "ok")
    put("wav-named.jpg", samples["wav"], "ok")
    put("text-named.png", b"just some notes\n" * 20, "not-media")
    put("random-named.flac", rng.integers(0, 255, 4096, dtype=np.uint8).tobytes(), "any-error")
    put("zeros-named.mp4", b"\x00" * 65536, "any-error")
    put("empty.jpg", b"", "empty")
    # broken containers
    put("mp4-garbage-moov.mp4", samples["mp4"][:32] + rng.integers(0, 255, 2048, dtype=np.uint8).tobytes(),
        "any-error")
    put("wav-claims-4gb.wav", samples["wav"][:4] + struct.pack("<I", 0xFFFFFFF0) + samples["wav"][8:], "any-error")
    put("tiff-garbage-ifd.tif", b"II*\x00" + struct.pack("<I", 8) + b"\xff" * 200, "any-error")
    # odd names
    put("-starts-with-dash.png", samples["png"], "ok")
    put("new\nline.png", samples["png"], "ok")
    put("x" * 200 + ".png", samples["png"], "ok")
    bad = os.fsencode(root) + b"/bad\xffname.png"
    Path(os.fsdecode(bad)).write_bytes(samples["png"])
    expect[os.fsdecode(b"bad\xffname.png")] = "ok"
    # special files
    os.mkfifo(root / "pipe.wav")
    expect["pipe.wav"] = "unsupported"
    (root / "dangling.png").symlink_to(root / "never-there.png")
    expect["dangling.png"] = "unreadable"
    return expect
