"""Generated inputs for `layerscope bench`: pictures, speech-like sound and a video, made on the spot.

Why generated: the benchmark must run on a fresh machine with no data, and its
figures must not depend on which files a user happens to have. The content is
built to cost what real media costs: textured JPEGs at 95% quality (decode work
like a photo), harmonic speech-like audio with pauses, and H.264 + AAC video.
Everything is deterministic from a seed.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

IMAGE_SIDE = 224
AUDIO_RATE = 16_000
VIDEO_SIZE = (320, 240)
VIDEO_FPS = 25


def textured_image(seed: int, side: int = IMAGE_SIDE) -> np.ndarray:
    """Smooth colour gradients plus fine noise: compresses like a photo, not like flat colour."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / side
    base = np.stack([np.sin(2 * np.pi * (xx * rng.uniform(0.5, 2) + rng.uniform())),
                     np.cos(2 * np.pi * (yy * rng.uniform(0.5, 2) + rng.uniform())),
                     np.sin(2 * np.pi * (xx + yy) * rng.uniform(0.5, 2))], axis=2)
    pixels = 128 + 80 * base + rng.normal(0, 12, base.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def speechlike(seconds: float, seed: int, rate: int = AUDIO_RATE) -> np.ndarray:
    """Voiced syllables with pitch movement and pauses, at about -10 dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.5 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 3.0 * t), 0, None) ** 0.6
    pauses = (np.sin(2 * np.pi * 0.4 * t + rng.uniform(0, 6)) > -0.7).astype(float)
    return (0.2 * voice * syllables * pauses + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


def write_images(folder: Path, count: int, start_seed: int = 0) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"image_{start_seed + i:05d}.jpg"
        if not path.exists():
            Image.fromarray(textured_image(start_seed + i)).save(path, quality=95)
        paths.append(path)
    return paths


def write_wav(path: Path, samples: np.ndarray, rate: int = AUDIO_RATE) -> Path:
    """16-bit mono PCM WAV of float samples in [-1, 1] (clipped); also the tests' and screenshots' writer."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    with av.open(str(path), mode="w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path


def write_audio(folder: Path, count: int, seconds: float, start_seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"speech_{start_seed + i:05d}_{seconds:g}s.wav"
        if not path.exists():
            write_wav(path, speechlike(seconds, start_seed + i))
        paths.append(path)
    return paths


def write_video(path: Path, seconds: float, fps: int = VIDEO_FPS, size: tuple[int, int] = VIDEO_SIZE,
                seed: int = 0) -> Path:
    """A moving textured scene with a speech-like AAC sound track (H.264, GOP 2 s), streamed to disk."""
    import av

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    texture = np.asarray(textured_image(seed, side=max(width, height) * 2))
    sound = speechlike(seconds, seed + 1)
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), mode="w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "g": str(2 * fps)})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        for i in range(int(seconds * fps)):
            x = int((i * 3) % (texture.shape[1] - width))
            y = int((np.sin(i / 50) * 0.5 + 0.5) * (texture.shape[0] - height))
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(texture[y:y + height, x:x + width]),
                                               format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        for start in range(0, len(sound), 1024):
            chunk = av.AudioFrame.from_ndarray(sound[None, start:start + 1024], format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts, chunk.time_base = AUDIO_RATE, start, Fraction(1, AUDIO_RATE)
            out.mux(audio.encode(chunk))
        out.mux(audio.encode(None))
    tmp.replace(path)
    return path
