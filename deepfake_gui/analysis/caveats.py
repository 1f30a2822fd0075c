"""Conditions under which a score deserves less trust, phrased for the person reading it.

Every check is a pure function that returns a (possibly empty) list of Caveat, so a
report can simply concatenate them. Detectors are known to key on things other than
the manipulation itself (leading silence in ASVspoof-trained models, JPEG quality
in image detectors), and a probe trained on one domain may not transfer to another;
the user must see that next to the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# IJG (libjpeg) standard luminance table at quality 50, natural (row-major) order.
_IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.int64)

LOSSY_AUDIO_CODECS = frozenset({
    "mp1", "mp2", "mp3", "mp3float", "mp3adu", "mp3on4", "aac", "aac_latm", "he-aac", "opus", "vorbis",
    "amr_nb", "amr_wb", "amrnb", "amrwb", "ac3", "eac3", "wmav1", "wmav2", "wmapro", "wmavoice",
    "gsm", "gsm_ms", "g723_1", "g729", "speex", "ilbc", "qcelp", "evrc", "nellymoser", "cook",
    "ra_144", "ra_288", "atrac3", "atrac3p", "sipr", "truespeech", "dts", "mpc7", "mpc8",
})

JPEG_QUALITY_LIMIT = 80
MIN_IMAGE_SIDE = 128
AUDIO_BITRATE_LIMIT = 32_000  # bit/s
VIDEO_BPP_LIMIT = 0.05  # bits per pixel per frame


@dataclass(frozen=True)
class Caveat:
    code: str  # stable, machine-readable, e.g. "leading-silence"
    message: str  # one sentence or two for the user

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


# --- audio content -----------------------------------------------------------------


def edge_silence(audio: np.ndarray, sample_rate: int, threshold_db: float = -40.0,
                 frame_s: float = 0.02) -> tuple[float, float]:
    """(leading, trailing) silence in seconds, to frame resolution.

    A frame is silent when its RMS is more than ``-threshold_db`` dB below the
    loudest frame's RMS (relative, so a quiet recording is not all "silence"). A
    clip with no sound at all returns (duration, duration).
    """
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    n = len(x)
    if n == 0:
        return 0.0, 0.0
    frame = max(1, round(frame_s * sample_rate))
    n_frames = -(-n // frame)
    padded = np.zeros(n_frames * frame)
    padded[:n] = x
    sq = padded.reshape(n_frames, frame) ** 2
    counts = np.full(n_frames, frame)
    counts[-1] = n - (n_frames - 1) * frame
    rms = np.sqrt(sq.sum(axis=1) / counts)
    peak = rms.max()
    duration = n / sample_rate
    if peak <= 0:
        return duration, duration
    loud = np.flatnonzero(rms > peak * 10.0 ** (threshold_db / 20.0))
    leading = loud[0] * frame / sample_rate
    trailing = max(0, n - (loud[-1] + 1) * frame) / sample_rate
    return float(leading), float(trailing)


def silence_caveats(audio: np.ndarray, sample_rate: int, limit_s: float = 0.5,
                    threshold_db: float = -40.0) -> list[Caveat]:
    """Long leading/trailing silence: the known shortcut of speech anti-spoofing models."""
    leading, trailing = edge_silence(audio, sample_rate, threshold_db)
    duration = len(audio) / sample_rate if sample_rate else 0.0
    if duration > 0 and leading >= duration:
        return [Caveat("silent-audio", f"the audio is silent (nothing above {threshold_db:g} dB of its peak): "
                                       "there is no voice to judge, so the score says nothing about one")]
    why = ("audio detectors are known to key on silence (its length and noise floor) rather than "
           "on the voice; the score may reflect the silence. Trim it and rescan to compare")
    out = []
    for code, where, length in (("leading-silence", "leading", leading), ("trailing-silence", "trailing", trailing)):
        if length > limit_s:
            out.append(Caveat(code, f"{where} silence of {length:.1f} s (more than {limit_s:g} s): {why}"))
    return out


def short_clip_caveat(duration_s: float | None, window_s: float) -> list[Caveat]:
    """A clip shorter than the detector's window is padded, which it was not trained on."""
    if duration_s is None or duration_s >= window_s:
        return []
    return [Caveat("short-clip",
                   f"the clip is {duration_s:.2f} s long, shorter than the detector's {window_s:g} s window: "
                   "the window is padded and cannot be filled, so the score is less reliable")]


def no_face_caveat(n_frames_checked: int) -> list[Caveat]:
    """Face crops were asked for but none was found, so whole frames were scored instead."""
    if n_frames_checked <= 0:
        text = "face crops were requested but no frame could be checked for a face"
    else:
        plural = "frame" if n_frames_checked == 1 else "frames"
        text = f"face crops were requested but no face was found in {n_frames_checked} {plural} checked"
    return [Caveat("no-face", f"{text}; whole frames were scored instead, which a face-trained detector "
                              "was not trained on, so the score may not carry over")]


# --- compression -------------------------------------------------------------------


def _ijg_table(quality: int) -> np.ndarray:
    """libjpeg's jpeg_quality_scaling + baseline clamp (what Pillow's quality= writes)."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((_IJG_LUMA * scale + 50) // 100, 1, 255)


_IJG_TABLES = {q: _ijg_table(q) for q in range(1, 101)}


def jpeg_quality_estimate(path: str | Path) -> int | None:
    """The IJG quality (1-100) whose luminance table best matches the file's, or None.

    None when the file is not a JPEG or has no tables. For encoders with their own
    tables (cameras, Photoshop) the result is the nearest IJG equivalent.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.format not in ("JPEG", "MPO"):
                return None
            tables = getattr(im, "quantization", None) or {}
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return None
    if not tables:
        return None
    luma = np.asarray(tables[min(tables)], dtype=np.int64)
    if luma.size != 64:
        return None
    errors = {q: int(np.abs(table - luma).sum()) for q, table in _IJG_TABLES.items()}
    return min(errors, key=lambda q: (errors[q], -q))


def _info_dict(info: Any) -> dict:
    return info.to_dict() if hasattr(info, "to_dict") else dict(info)


def stream_bit_rates(path: str | Path) -> tuple[int | None, int | None]:
    """(video, audio) bit rates in bit/s as the container declares them; None where unknown.

    An audio-only file whose stream has no rate (Ogg) falls back to the container's.
    """
    from deepfake_gui.media.av_util import open_container, real_video_streams

    try:
        with open_container(path) as container:
            videos = real_video_streams(container)
            audios = list(container.streams.audio)
            video = (videos[0].bit_rate or videos[0].codec_context.bit_rate or None) if videos else None
            audio = (audios[0].bit_rate or audios[0].codec_context.bit_rate or None) if audios else None
            if audios and audio is None and not videos:
                audio = container.bit_rate or None
    except Exception:  # unreadable rates only silence this caveat; probe() reports broken files
        return None, None
    return (int(video) if video else None), (int(audio) if audio else None)


def recompression_caveats(info: Any, path: str | Path) -> list[Caveat]:
    """Heavy lossy compression or downscaling: detectors often mistake its artefacts.

    ``info`` is a MediaInfo or its dict. Bit rates come from ``info["extra"]``
    ("video_bit_rate", "audio_bit_rate") when present, else from the container.
    """
    d = _info_dict(info)
    modality = d.get("modality")
    out: list[Caveat] = []
    if modality == "image":
        if str(d.get("codec", "")).lower() in ("jpeg", "mpo"):
            quality = jpeg_quality_estimate(path)
            if quality is not None and quality < JPEG_QUALITY_LIMIT:
                out.append(Caveat("low-jpeg-quality",
                                  f"JPEG quality about {quality} (below {JPEG_QUALITY_LIMIT}): strong compression "
                                  "artefacts can hide generation traces or be mistaken for them"))
        width, height = d.get("width"), d.get("height")
        if width and height and min(width, height) < MIN_IMAGE_SIDE:
            out.append(Caveat("small-image",
                              f"the image is only {width}x{height} pixels (shortest side under {MIN_IMAGE_SIDE}): "
                              "it was probably downscaled, which removes the fine detail detectors rely on"))
        return out

    extra = d.get("extra") or {}
    video_rate, audio_rate = extra.get("video_bit_rate"), extra.get("audio_bit_rate")
    if video_rate is None and audio_rate is None:
        video_rate, audio_rate = stream_bit_rates(path)
    audio_codec = d.get("codec") if modality == "audio" else d.get("audio_codec")
    if audio_codec and str(audio_codec).lower() in LOSSY_AUDIO_CODECS and audio_rate and \
            audio_rate < AUDIO_BITRATE_LIMIT:
        out.append(Caveat("low-audio-bitrate",
                          f"{audio_codec} audio at {audio_rate / 1000:.0f} kbit/s (below "
                          f"{AUDIO_BITRATE_LIMIT // 1000}): heavy lossy coding removes and invents spectral "
                          "detail, which audio detectors can mistake for synthesis or miss it under"))
    if modality == "video" and video_rate:
        width, height, fps = d.get("width"), d.get("height"), d.get("fps")
        if width and height and fps:
            bpp = video_rate / (width * height * fps)
            if bpp < VIDEO_BPP_LIMIT:
                out.append(Caveat("low-video-bitrate",
                                  f"{d.get('codec', 'video')} at {video_rate / 1000:.0f} kbit/s for "
                                  f"{width}x{height} at {fps:g} fps ({bpp:.3f} bits per pixel, below "
                                  f"{VIDEO_BPP_LIMIT:g}): heavy compression smears the detail frame detectors use"))
    return out


# --- training domain ---------------------------------------------------------------


def _trained_on(domain: dict) -> str:
    description = domain.get("description")
    return f"the detector was trained on {description}" if description else "the detector's training data differ"


def domain_caveats(domain: dict, *, sample_rate: int | None = None, duration_s: float | None = None,
                   width: int | None = None, height: int | None = None) -> list[Caveat]:
    """The input lies outside what the detector saw in training.

    ``domain`` keys (all optional): "sample_rate" (Hz; "sample_rates" lists every
    rate seen in training), "duration_s" ([min, max]), "size" ([width, height]) and
    "description". Fires on a native sample rate not seen in training, a duration
    outside [min / 2, max * 2], or an image side more than 4x off.
    """
    out: list[Caveat] = []
    trained = _trained_on(domain)
    tail = "; the score may not carry over to this input"
    rate = domain.get("sample_rate")
    seen_rates = {int(r) for r in domain.get("sample_rates") or ([rate] if rate else [])}
    if rate and sample_rate and int(sample_rate) not in seen_rates:
        out.append(Caveat("domain-sample-rate",
                          f"the audio's native rate is {sample_rate} Hz but {trained} at "
                          f"{'/'.join(str(r) for r in sorted(seen_rates))} Hz "
                          f"(the audio is resampled to match){tail}"))
    span = domain.get("duration_s")
    if span and duration_s is not None:
        lo, hi = float(span[0]), float(span[1])
        if duration_s < lo / 2 or duration_s > hi * 2:
            out.append(Caveat("domain-duration",
                              f"the input lasts {duration_s:.1f} s but {trained}, with clips of "
                              f"{lo:g}-{hi:g} s{tail}"))
    size = domain.get("size")
    if size and width and height:
        tw, th = int(size[0]), int(size[1])
        ratios = (width / tw, height / th)
        if any(r > 4 or r < 0.25 for r in ratios):
            out.append(Caveat("domain-image-size",
                              f"the input is {width}x{height} pixels but {trained}, at {tw}x{th} "
                              f"(more than 4x different){tail}"))
    return out
