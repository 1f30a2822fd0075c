"""A corpus of genuine files that are not what the detectors learned, made here from nothing.

The false-accusation rate per kind (EVALUATION.md) needs genuine inputs that users
bring and the training sets lack: screenshots, charts, documents, flat colours,
gradients, tiny pictures, re-compressed photos, tones, chords, music, noise,
speech at 44.1 / 48 kHz, in AAC / MP3, through a call, decoded from a voice message or saved at
8 kHz. Every file here is genuine (no generative
model made it), so every "fake" verdict on it is a false accusation.

``make_ood_corpus(out, per_kind)`` writes the files and a ``manifest.csv``
(path, label=real, generator=real, group, kind, note). Photos and speech are taken
from folders the caller names (the shared development sets, or anything else);
everything else is synthesised with a fixed seed, so the pictures and sounds rebuild byte for byte. The
videos do not quite: H.264 (x264, even on one thread) gave different bytes for 3-6 of the 60 video files
from one rebuild to the next, a few bytes or a few grey levels in some frames, never a different verdict
count per kind in the rebuilds we measured.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

IMAGE_KINDS = ("screenshot", "chart", "document", "flat", "gradient", "tiny", "photo-resaved", "photo-small")
AUDIO_KINDS = ("tone", "chord", "music", "noise", "speech-44k", "speech-48k", "speech-aac", "speech-mp3",
               "short-clip", "speech-landline", "speech-mobile", "speech-opus", "speech-8k")
# a still photo over a soundtrack the sound detectors cannot judge; a silent screen recording; a title card
VIDEO_KINDS = ("video-music", "video-call", "video-screen", "video-flat")
# later kinds go last, so that every earlier kind keeps its seed and its files
ADDED_KINDS = ("photo-small", "speech-landline", "speech-mobile", *VIDEO_KINDS, "speech-opus", "speech-8k")
KINDS = tuple(k for k in IMAGE_KINDS + AUDIO_KINDS if k not in ADDED_KINDS) + ADDED_KINDS
PHOTO_KINDS = ("tiny", "photo-resaved", "photo-small", "video-music", "video-call")
SPEECH_KINDS = ("speech-44k", "speech-48k", "speech-aac", "speech-mp3", "short-clip", "speech-landline",
                "speech-mobile", "video-call", "speech-opus", "speech-8k")
VIDEO_FPS = 10

_TEXT = ("the report said that results were measured on held out data and the figures show how each detector "
         "performed on files it had never seen before so that a reader can judge the evidence with care")
WORDS = tuple(_TEXT.split(" "))


def _font(size: int):
    from PIL import ImageFont

    try:
        import matplotlib

        ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        return ImageFont.truetype(str(ttf), size)
    except (ImportError, OSError):
        return ImageFont.load_default()


def _sentence(rng: np.random.Generator, n: int) -> str:
    return " ".join(rng.choice(WORDS, n))


# ---------------------------------------------------------------- images
def _screenshot(rng: np.random.Generator, i: int) -> tuple:
    from PIL import Image, ImageDraw

    w, h = [(1280, 800), (1600, 1000), (1920, 1080), (800, 600), (1024, 768)][i % 5]
    dark = bool(i % 2)
    bg = (37, 37, 38) if dark else (246, 246, 246)
    fg = (220, 220, 220) if dark else (30, 30, 30)
    im = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, w, 28], fill=(60, 60, 64) if dark else (225, 225, 228))
    for k, label in enumerate(("File", "Edit", "View", "Scan", "Tools", "Help")):
        d.text((10 + 60 * k, 6), label, fill=fg, font=_font(14))
    side = int(w * rng.uniform(0.18, 0.3))
    d.rectangle([0, 29, side, h], fill=(45, 45, 48) if dark else (236, 236, 238))
    font = _font(int(rng.integers(12, 17)))
    for row in range(int((h - 60) / 24)):
        d.text((12, 40 + row * 24), _sentence(rng, 3)[:28], fill=fg, font=font)
    accent = tuple(int(v) for v in rng.integers(40, 220, 3))
    for b in range(int(rng.integers(2, 6))):
        x0 = side + 20 + 130 * b
        d.rounded_rectangle([x0, h - 60, x0 + 110, h - 28], radius=6, fill=accent)
        d.text((x0 + 14, h - 52), "Button", fill=(255, 255, 255), font=_font(14))
    for row in range(int(rng.integers(5, 18))):
        y = 50 + row * 30
        d.text((side + 20, y), _sentence(rng, int(rng.integers(4, 12))), fill=fg, font=font)
    return im, "synthetic desktop window"


def _chart(rng: np.random.Generator, i: int) -> tuple:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    fig, ax = plt.subplots(figsize=(rng.uniform(5, 9), rng.uniform(3.5, 6)), dpi=100)
    kind = ("line", "bar", "scatter", "pie", "hist")[i % 5]
    x = np.arange(20)
    if kind == "line":
        for _ in range(int(rng.integers(1, 4))):
            ax.plot(x, np.cumsum(rng.normal(size=20)))
    elif kind == "bar":
        ax.bar(list("ABCDEFG"), rng.uniform(1, 10, 7))
    elif kind == "scatter":
        ax.scatter(rng.normal(size=80), rng.normal(size=80), s=12)
    elif kind == "pie":
        ax.pie(rng.uniform(1, 5, 5), labels=list("ABCDE"))
    else:
        ax.hist(rng.normal(size=300), bins=20)
    ax.set_title(_sentence(rng, 4))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    buf.seek(0)
    return Image.open(buf).convert("RGB"), f"matplotlib {kind} chart"


def _document(rng: np.random.Generator, i: int) -> tuple:
    from PIL import Image, ImageDraw

    w, h = (850, 1100) if i % 2 == 0 else (1240, 1754)
    paper = (255, 255, 255) if i % 3 else (250, 247, 240)
    im = Image.new("RGB", (w, h), paper)
    d = ImageDraw.Draw(im)
    size = int(w / 60)
    d.text((w // 10, h // 14), _sentence(rng, 5).title(), fill=(0, 0, 0), font=_font(size * 2))
    font = _font(size)
    y = h // 14 + size * 4
    while y < h - h // 10:
        line = _sentence(rng, int(rng.integers(8, 13)))
        d.text((w // 10, y), line, fill=(20, 20, 20), font=font)
        y += int(size * 1.6)
        if rng.random() < 0.12:
            y += size
    return im, "text page"


def _flat(rng: np.random.Generator, i: int) -> tuple:
    from PIL import Image

    size = [(64, 64), (640, 480), (1920, 1080), (3000, 2000), (300, 300)][i % 5]
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    return Image.new("RGB", size, colour), f"single colour {colour}"


def _gradient(rng: np.random.Generator, i: int) -> tuple:
    from PIL import Image

    w, h = [(800, 600), (1920, 1080), (512, 512)][i % 3]
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    if i % 2:
        t = np.linspace(0, 1, w)[None, :, None] * np.ones((h, 1, 1))
    else:
        yy, xx = np.mgrid[0:h, 0:w]
        t = (np.hypot(yy - h / 2, xx - w / 2) / math.hypot(h / 2, w / 2))[..., None]
    arr = (a * (1 - t) + b * t).round().astype(np.uint8)
    return Image.fromarray(arr), "smooth gradient"


def _photo_crop(photos: Sequence[Path], rng: np.random.Generator):
    from PIL import Image

    path = photos[int(rng.integers(len(photos)))]
    with Image.open(path) as im:
        return im.convert("RGB"), path


def _tiny(photos: Sequence[Path], rng: np.random.Generator, i: int) -> tuple:
    im, path = _photo_crop(photos, rng)
    side = (1, 2, 8, 16, 24)[i % 5]
    return im.resize((side, side)), f"{side}x{side} thumbnail of {path.name}"


def _small(photos: Sequence[Path], rng: np.random.Generator, i: int) -> tuple:
    """A photo shrunk to 64-200 px on its shorter side, lossless: bigger than "tiny", smaller than a tile."""
    im, path = _photo_crop(photos, rng)
    side = int(rng.integers(64, 201))
    scale = side / min(im.width, im.height)
    return im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale)))), \
        f"{path.name} shrunk to {side} px on its shorter side"


def _resaved(photos: Sequence[Path], rng: np.random.Generator, i: int) -> tuple:
    im, path = _photo_crop(photos, rng)
    scale = float(rng.uniform(0.5, 0.9))
    small = im.resize((max(32, int(im.width * scale)), max(32, int(im.height * scale))))
    quality = int(rng.integers(65, 91))
    return small, f"{path.name} scaled {scale:.2f}, JPEG {quality}", quality


# ---------------------------------------------------------------- audio
def _note(freq: float, seconds: float, rate: int, harmonics: int = 4) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, harmonics + 1))
    attack = np.minimum(1.0, t / 0.02)
    decay = np.exp(-t * 1.5)
    return wave * attack * decay


def _tone(rng, i, rate) -> tuple:
    freq = float(rng.choice([110, 220, 440, 1000, 2000, 3150]))
    seconds = float(rng.uniform(1.5, 5))
    t = np.arange(int(seconds * rate)) / rate
    return 0.5 * np.sin(2 * np.pi * freq * t), f"{freq:g} Hz sine"


def _chord(rng, i, rate) -> tuple:
    root = float(rng.uniform(110, 330))
    ratios = ([1, 5 / 4, 3 / 2], [1, 6 / 5, 3 / 2], [1, 5 / 4, 3 / 2, 15 / 8])[i % 3]
    seconds = float(rng.uniform(2, 5))
    x = sum(_note(root * r, seconds, rate, 6) for r in ratios)
    return 0.8 * x / np.abs(x).max(), f"chord on {root:.0f} Hz"


def _music(rng, i, rate) -> tuple:
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12])
    base = float(rng.uniform(196, 392))
    beat = float(rng.uniform(0.18, 0.5))
    parts = []
    for _ in range(int(6 / beat)):
        semis = scale[int(rng.integers(len(scale)))]
        parts.append(_note(base * 2 ** (semis / 12), beat, rate, 5))
    x = np.concatenate(parts)
    x = x + 0.5 * _note(base / 2, (len(x) + 1) / rate, rate, 3)[: len(x)]  # len / rate can round down a sample
    return 0.8 * x / np.abs(x).max(), f"synthesised melody, {beat:.2f} s notes"


def _noise(rng, i, rate) -> tuple:
    n = int(rng.uniform(2, 5) * rate)
    white = rng.normal(size=n)
    colour = ("white", "pink", "brown")[i % 3]
    if colour == "pink":
        spec = np.fft.rfft(white) / np.sqrt(np.arange(1, n // 2 + 2))
        white = np.fft.irfft(spec, n)
    elif colour == "brown":
        white = np.cumsum(white)
        white -= np.linspace(white[0], white[-1], n)
    return 0.5 * white / np.abs(white).max(), f"{colour} noise"


def _write_wav(path: Path, x: np.ndarray, rate: int) -> None:
    import wave

    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes(pcm.tobytes())


def _encode(path: Path, x: np.ndarray, rate: int, codec: str, bitrate: int) -> None:
    import av

    from deepfake_gui.launder.video import mux_mono_audio

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.bit_rate = bitrate
        stream.layout = "mono"
        mux_mono_audio(out, stream, x, rate)


def _encode_video(path: Path, frames: Sequence[np.ndarray], x: np.ndarray | None = None, rate: int = 44100) -> None:
    """An MP4 of RGB frames (H.264, 10 fps) with, when ``x`` is given, that soundtrack (AAC 128 kbit/s, mono)."""
    import av

    even = [np.ascontiguousarray(f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2]) for f in frames]  # yuv420p
    with av.open(str(path), "w") as out:
        # one thread: with several, x264 gave different bytes for most files from run to run (still a few, see above)
        video = out.add_stream("libx264", rate=VIDEO_FPS, options={"preset": "veryfast", "threads": "1"})
        video.width, video.height, video.pix_fmt = even[0].shape[1], even[0].shape[0], "yuv420p"
        sound = None
        if x is not None:
            sound = out.add_stream("aac", rate=rate)
            sound.bit_rate, sound.layout = 128_000, "mono"
        for i, rgb in enumerate(even):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None and x is not None:
            from deepfake_gui.launder.video import mux_mono_audio

            mux_mono_audio(out, sound, x, rate)


def _flat_video(folder: Path, stem: str, i: int, rng: np.random.Generator) -> tuple[Path, str]:
    """A silent title card: a flat colour or smooth gradient fading in from black."""
    card, what = (_flat, _gradient)[i % 2](rng, i)
    card.thumbnail((1280, 720))  # a video frame's size
    rgb = np.asarray(card.convert("RGB")).astype(np.float64)
    n = int(float(rng.uniform(3, 5)) * VIDEO_FPS)
    frames = [(rgb * min(1.0, (k + 1) / (n / 2))).round().astype(np.uint8) for k in range(n)]
    path = folder / f"{stem}.mp4"
    _encode_video(path, frames)
    return path, f"{what} fading in from black over {n / VIDEO_FPS / 2:.1f} s, no sound"


def _screen_video(folder: Path, stem: str, i: int, rng: np.random.Generator) -> tuple[Path, str]:
    """A silent screen recording: a screenshot, chart or document, scrolled down slowly (or still when short)."""
    make, what = ((_screenshot, "screenshot"), (_chart, "chart"), (_document, "document"))[i % 3]
    page = np.asarray(make(rng, i)[0].convert("RGB"))
    seconds = float(rng.uniform(3, 5))
    n = int(seconds * VIDEO_FPS)
    view = min(page.shape[0], max(240, page.shape[0] * 2 // 3))
    travel = page.shape[0] - view
    frames = [page[round(travel * k / max(n - 1, 1)):][:view] for k in range(n)]
    path = folder / f"{stem}.mp4"
    _encode_video(path, frames)
    return path, f"a {what} scrolled {travel} px over {seconds:.1f} s, no sound"


def _still_video(kind: str, folder: Path, stem: str, i: int, rng: np.random.Generator, photos: Sequence[Path],
                 speech: Sequence[Path]) -> tuple[Path, str]:
    """A genuine photo shown still over music, or over a genuine voice through a phone call (a podcast or a
    recorded call posted as a video): the picture can be judged, the soundtrack cannot."""
    picture, source = _photo_crop(photos, rng)
    if max(picture.size) > 960:  # a video-sized frame, never enlarged
        picture.thumbnail((960, 960))
    rate = 44100 if i % 2 == 0 else 48000
    if kind == "video-music":
        x, what = _music(rng, i, rate)
        x = 0.5 * x
    else:
        from deepfake_gui.launder import audio

        voice, spoken = _speech(speech, rng, 16000)
        voice = _peaked(voice).astype(np.float32)
        bitrate = int(rng.choice([7_950, 12_200]))
        call = audio.phone_call(voice, 16000, "amr_nb", bitrate) if i % 3 else audio.phone_call(
            voice, 16000, "mulaw", 64_000)
        x = audio.resample(call, 16000, rate)
        what = f"{spoken.name} through a call ({f'AMR-NB {bitrate / 1000:g} kbit/s' if i % 3 else 'G.711 mu-law'})"
    path = folder / f"{stem}.mp4"
    frames = [np.asarray(picture.convert("RGB"))] * max(1, math.ceil(len(x) / rate * VIDEO_FPS))
    _encode_video(path, frames, x, rate)
    return path, f"{source.name} shown still over {what}, AAC {rate} Hz"


def _peaked(x: np.ndarray) -> np.ndarray:
    """``x`` scaled so its peak is 0.9 (genuine speech, as loud as a recording is saved)."""
    return 0.9 * x / max(np.abs(x).max(), 1e-9)


def _speech(speech: Sequence[Path], rng: np.random.Generator, rate: int) -> tuple[np.ndarray, Path]:
    from deepfake_gui.media import load_audio

    path = speech[int(rng.integers(len(speech)))]
    return load_audio(path, rate).astype(np.float64), path


def make_ood_corpus(out: str | Path, per_kind: int = 15, *, photos: Sequence[Path] = (),
                    speech: Sequence[Path] = (), kinds: Sequence[str] = KINDS, seed: int = 0,
                    on_file: Callable[[int, int], None] | None = None) -> Path:
    """Write ``per_kind`` genuine files of each kind into ``out``; returns the manifest's path.

    Kinds that need photos or speech are skipped when none are given.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    plan = [k for k in kinds if not ((k in PHOTO_KINDS and not photos) or (k in SPEECH_KINDS and not speech))]
    total = len(plan) * per_kind
    for kind in plan:
        folder = out / kind
        folder.mkdir(exist_ok=True)
        rng = np.random.default_rng([seed, KINDS.index(kind)])
        for i in range(per_kind):
            name, note = _make_one(kind, folder, i, rng, photos, speech)
            rows.append({"path": str(name.relative_to(out)), "label": "real", "generator": "real",
                         "group": f"{kind}:{i}", "kind": kind, "note": note})
            if on_file is not None:
                on_file(len(rows), total)
    manifest = out / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "label", "generator", "group", "kind", "note"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def _make_one(kind: str, folder: Path, i: int, rng: np.random.Generator, photos: Sequence[Path],
              speech: Sequence[Path]) -> tuple[Path, str]:
    stem = f"{kind}_{i:03d}"
    if kind in IMAGE_KINDS:
        quality = None
        if kind == "photo-resaved":
            im, note, quality = _resaved(photos, rng, i)
        elif kind == "tiny":
            im, note = _tiny(photos, rng, i)
        elif kind == "photo-small":
            im, note = _small(photos, rng, i)
        else:
            im, note = {"screenshot": _screenshot, "chart": _chart, "document": _document, "flat": _flat,
                        "gradient": _gradient}[kind](rng, i)
        jpeg = quality is not None or (kind in ("chart", "document", "screenshot") and i % 3 == 2)
        path = folder / f"{stem}.{'jpg' if jpeg else 'png'}"
        im.save(path, **({"quality": quality or 90} if jpeg else {}))
        return path, note
    if kind in ("tone", "chord", "music", "noise"):
        rate = (16000, 22050, 44100, 48000)[i % 4]
        x, note = {"tone": _tone, "chord": _chord, "music": _music, "noise": _noise}[kind](rng, i, rate)
        path = folder / f"{stem}.wav"
        _write_wav(path, x, rate)
        return path, f"{note}, {rate} Hz"
    if kind in ("speech-landline", "speech-mobile"):
        return _call(kind, folder, stem, i, rng, speech)
    if kind in ("speech-opus", "speech-8k"):
        return _converted(kind, folder, stem, i, rng, speech)
    if kind == "video-screen":
        return _screen_video(folder, stem, i, rng)
    if kind == "video-flat":
        return _flat_video(folder, stem, i, rng)
    if kind in VIDEO_KINDS:
        return _still_video(kind, folder, stem, i, rng, photos, speech)
    rate = {"speech-44k": 44100, "speech-48k": 48000}.get(kind, 44100)
    x, source = _speech(speech, rng, rate)
    x = _peaked(x)
    if kind == "short-clip":
        x = x[: int(rng.uniform(0.3, 0.8) * rate)]
    if kind in ("speech-aac", "speech-mp3"):
        codec, ext = ("aac", "m4a") if kind == "speech-aac" else ("libmp3lame", "mp3")
        bitrate = int(rng.choice([64_000, 96_000, 128_000]))
        path = folder / f"{stem}.{ext}"
        _encode(path, x, rate, codec, bitrate)
        return path, f"{source.name} as {codec} {bitrate // 1000} kbit/s"
    path = folder / f"{stem}.wav"
    _write_wav(path, x, rate)
    return path, f"{source.name} at {rate} Hz"


def _converted(kind: str, folder: Path, stem: str, i: int, rng: np.random.Generator, speech: Sequence[Path]
               ) -> tuple[Path, str]:
    """Genuine speech converted so that nothing in the file says how: a voice message (Opus 16 or 24 kbit/s)
    decoded back to a 16 or 48 kHz WAV, or a recording saved at 8 kHz (a voice recorder, an export), half of
    them brought back up to 16 kHz. Neither shows a codec or a call for the checks to read."""
    from deepfake_gui.launder import audio

    x, source = _speech(speech, rng, 16000)
    x = _peaked(x).astype(np.float32)
    path = folder / f"{stem}.wav"
    if kind == "speech-opus":
        bitrate, rate = int(rng.choice([16_000, 24_000])), (16000, 48000)[i % 2]
        y = audio.codec_roundtrip(x, 16000, "opus", bitrate)
        _write_wav(path, audio.resample(y, 16000, rate) if rate != 16000 else y, rate)
        return path, f"{source.name} through Opus {bitrate // 1000} kbit/s, decoded to a {rate // 1000} kHz WAV"
    low = audio.resample(x, 16000, 8000)
    if i % 2 == 0:
        _write_wav(path, low, 8000)
        return path, f"{source.name} saved at 8 kHz"
    _write_wav(path, audio.resample(low, 8000, 16000), 16000)
    return path, f"{source.name} through 8 kHz, saved at 16 kHz"


def _call(kind: str, folder: Path, stem: str, i: int, rng: np.random.Generator, speech: Sequence[Path]
          ) -> tuple[Path, str]:
    """Genuine speech through a simulated phone call, saved as a call recording is: in the call's own
    format (8 kHz mu-law WAV, AMR) or decoded to a 16 kHz WAV."""
    from deepfake_gui.launder import audio

    x, source = _speech(speech, rng, 16000)
    x = _peaked(x).astype(np.float32)
    if kind == "speech-landline":
        codec, bitrate, label = "mulaw", 64_000, "G.711 mu-law"
    else:
        bitrate = int(rng.choice([7_950, 10_200, 12_200]))
        codec, label = "amr_nb", f"AMR-NB {bitrate / 1000:g} kbit/s"
    if i % 2 == 0:  # the call's own file: 8 kHz, still coded
        data, ext = audio.encoded_file(audio.narrowband(x, 16000), 8000, codec, bitrate)
        path = folder / f"{stem}.{ext}"
        path.write_bytes(data)
        return path, f"{source.name} through a call ({label}), as recorded"
    path = folder / f"{stem}.wav"
    _write_wav(path, audio.phone_call(x, 16000, codec, bitrate), 16000)
    return path, f"{source.name} through a call ({label}), decoded to 16 kHz WAV"
