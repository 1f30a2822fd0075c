"""Conditions under which a score deserves less trust, phrased for the person reading it.

Every check is a pure function that returns a (possibly empty) list of Caveat, so a
report can simply concatenate them. What a check needs from the file itself (its JPEG
quality, its streams' bit rates) is measured by the engine (engine/file_caveats.py,
with media/measure.py) and passed in as ``FileMeasures``. Detectors are known to key on things other than
the manipulation itself (leading silence in ASVspoof-trained models, JPEG quality
in image detectors), and a probe trained on one domain may not transfer to another;
the user must see that next to the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

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
    condition: str | None = None  # nearest standard laundering condition (launder/conditions.py), if any

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, str]:
        out = {"code": self.code, "message": self.message}
        if self.condition is not None:  # only then: older readers see the same two keys as before
            out["condition"] = self.condition
        return out


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


def _info_dict(info: Any) -> dict:
    return info.to_dict() if hasattr(info, "to_dict") else dict(info)


# --- nearest standard laundering condition ----------------------------------------
#
# A re-compressed file is matched to the standard condition (launder/conditions.py) whose
# measured AUC best describes it, so a scan can quote the detector's own robustness figure.
# JPEG: by IJG quality, nearest of 90 / 75 / 60 (cut points halfway: 83 and 68); 95 and
# above is not matched (near-lossless). Small images (shortest side < MIN_IMAGE_SIDE):
# rescale0.75 while the side is at least 3/4 of the limit (96 px), rescale0.5 below that
# (a file's own size cannot reveal the factor; the smaller it is, the harsher the likely
# downscale). Lossy audio: the condition of the codec's family with the highest bit rate
# not above the file's; the rate a container reports includes Ogg page overhead and VBR
# overshoot (libopus at 16 kbit/s reads 16-19), so flooring finds the setting it was most
# likely encoded at. A file at 1.5x the family's mildest setting or more is not matched.
# An 8 kHz native rate is never matched: the shipped audio detectors were trained on it.
# Video bit rate has no standard condition. A "mild" match (JPEG quality 90 or more, audio
# at AUDIO_BITRATE_LIMIT or more) should only be quoted when its figure drops materially.

JPEG_CONDITIONS = ((83, "jpeg90"), (68, "jpeg75"), (0, "jpeg60"))  # (lowest quality matched, condition)
JPEG_MATCH_LIMIT = 95  # quality at or above this: not matched
JPEG_MILD_QUALITY = 90
JPEG_SEVERE_QUALITY = 60  # below the harshest condition's setting: the figure may be optimistic
MODERATELY_SMALL_SIDE = MIN_IMAGE_SIDE * 3 // 4  # 96 px: rescale0.75 at or above, rescale0.5 below
# codec family -> (bit rate, condition), mildest first
AUDIO_CONDITIONS: dict[str, tuple[tuple[int, str], ...]] = {
    "opus": ((32_000, "opus32k"), (24_000, "opus24k"), (16_000, "opus16k")),
    "mp3": ((32_000, "mp3_32k"),),
    "aac": ((24_000, "aac24k"),),
}
_AUDIO_FAMILY = {"opus": "opus", "libopus": "opus", "mp3": "mp3", "mp3float": "mp3", "libmp3lame": "mp3",
                 "aac": "aac", "aac_latm": "aac", "he-aac": "aac", "libfdk_aac": "aac"}
AUDIO_MATCH_FACTOR = 1.5  # files at this multiple of the family's mildest setting or more: not matched


@dataclass(frozen=True)
class ConditionMatch:
    condition: str  # a name in launder.conditions.CONDITIONS
    finding: str  # what was measured, e.g. "looks re-compressed (JPEG quality about 62)"
    mild: bool = False  # milder than every condition of its family: quote only a material drop
    beyond: bool = False  # harsher than the condition's own setting: its figure may be optimistic

    def to_dict(self) -> dict:
        return {"condition": self.condition, "finding": self.finding, "mild": self.mild, "beyond": self.beyond}


@dataclass(frozen=True)
class FileMeasures:
    """What the compression checks read from the file, once (see :func:`file_measures`)."""

    modality: str | None
    jpeg_quality: int | None
    width: int | None
    height: int | None
    audio_codec: str | None
    audio_rate: int | None
    video_rate: int | None


def wants_jpeg_quality(info: Any) -> bool:
    """Whether the checks need the file's JPEG quality (a JPEG picture)."""
    d = _info_dict(info)
    return d.get("modality") == "image" and str(d.get("codec", "")).lower() in ("jpeg", "mpo")


def wants_bit_rates(info: Any) -> bool:
    """Whether the checks need the streams' bit rates read from the container (``info`` declares none)."""
    d = _info_dict(info)
    extra = d.get("extra") or {}
    return d.get("modality") != "image" and extra.get("video_bit_rate") is None \
        and extra.get("audio_bit_rate") is None


def file_measures(info: Any, jpeg_quality: int | None = None,
                  bit_rates: tuple[int | None, int | None] = (None, None)) -> FileMeasures:
    """The measures of one file: ``info`` (a MediaInfo or its dict) plus what was read from the file
    when :func:`wants_jpeg_quality` / :func:`wants_bit_rates` asked for it ((video, audio) bit rates)."""
    d = _info_dict(info)
    modality = d.get("modality")
    width, height = d.get("width"), d.get("height")
    if modality == "image":
        return FileMeasures(modality, jpeg_quality, width, height, None, None, None)
    extra = d.get("extra") or {}
    video_rate, audio_rate = extra.get("video_bit_rate"), extra.get("audio_bit_rate")
    if video_rate is None and audio_rate is None:
        video_rate, audio_rate = bit_rates
    audio_codec = d.get("codec") if modality == "audio" else d.get("audio_codec")
    return FileMeasures(modality, None, width, height, audio_codec, audio_rate, video_rate)


def _jpeg_match(quality: int | None) -> ConditionMatch | None:
    if quality is None or quality >= JPEG_MATCH_LIMIT:
        return None
    name = next(c for lowest, c in JPEG_CONDITIONS if quality >= lowest)
    return ConditionMatch(name, f"looks re-compressed (JPEG quality about {quality})",
                          mild=quality >= JPEG_MILD_QUALITY, beyond=quality < JPEG_SEVERE_QUALITY)


def _small_image_match(width: int | None, height: int | None) -> ConditionMatch | None:
    if not (width and height) or min(width, height) >= MIN_IMAGE_SIDE:
        return None
    name = "rescale0.75" if min(width, height) >= MODERATELY_SMALL_SIDE else "rescale0.5"
    return ConditionMatch(name, f"looks downscaled (only {width}x{height} pixels)")


def _audio_match(codec: str | None, rate: int | None) -> ConditionMatch | None:
    family = _AUDIO_FAMILY.get(str(codec or "").lower())
    if family is None or not rate:
        return None
    steps = AUDIO_CONDITIONS[family]
    if rate >= steps[0][0] * AUDIO_MATCH_FACTOR:
        return None
    name = next((c for setting, c in steps if setting <= rate), steps[-1][1])
    return ConditionMatch(name, f"looks re-compressed ({codec} audio at {rate / 1000:.0f} kbit/s)",
                          mild=rate >= AUDIO_BITRATE_LIMIT, beyond=rate < steps[-1][0])


NOISY_SNR_DB = 21.0  # noise floor estimate at or below this matches noise20db (20 dB copies of the development
# speech read 12.5-18.5; at or below 21 dB: 3 of 1,520 telephone files, 67 of 767 studio ones, some recorded noisy)
NOISY_BEYOND_DB = 12.0  # below this it is noisier than the measured condition (20 dB copies read 12.5-18.5)


def noise_match(snr_db: float | None) -> ConditionMatch | None:
    """Audible steady noise (analysis.content.noise_floor_snr_db): the file resembles noise20db.

    The codec checks read the container; noise leaves no trace there, so it is measured in the
    decoded sound. Its figure is the added-noise condition's (white noise; other noises are not measured).
    """
    if snr_db is None or not np.isfinite(snr_db) or snr_db > NOISY_SNR_DB:
        return None
    level = (f"steady noise about {snr_db:.0f} dB below the speech" if snr_db >= 3
             else "a steady sound about as loud as the speech")
    return ConditionMatch("noise20db", f"sounds noisy ({level})",
                          beyond=snr_db < NOISY_BEYOND_DB)


def matches_for(m: FileMeasures) -> list[ConditionMatch]:
    """The standard laundering conditions a file with these measures resembles, at most one per family."""
    if m.modality == "image":
        found = [_jpeg_match(m.jpeg_quality), _small_image_match(m.width, m.height)]
    else:
        found = [_audio_match(m.audio_codec, m.audio_rate)]
    return [x for x in found if x is not None]


def _condition_of(matches: list[ConditionMatch], prefix: str) -> str | None:
    return next((m.condition for m in matches if m.condition.startswith(prefix)), None)


def recompression_caveats_for(info: Any, m: FileMeasures) -> list[Caveat]:
    """Heavy lossy compression or downscaling: detectors often mistake its artefacts.

    ``info`` is a MediaInfo or its dict, ``m`` its :func:`file_measures`. Each caveat names
    its nearest standard laundering condition in ``condition`` when one exists.
    """
    matches = matches_for(m)
    out: list[Caveat] = []
    if m.modality == "image":
        quality = m.jpeg_quality
        if quality is not None and quality < JPEG_QUALITY_LIMIT:
            out.append(Caveat("low-jpeg-quality",
                              f"JPEG quality about {quality} (below {JPEG_QUALITY_LIMIT}): strong compression "
                              "artefacts can hide generation traces or be mistaken for them",
                              _condition_of(matches, "jpeg")))
        width, height = m.width, m.height
        if width and height and min(width, height) < MIN_IMAGE_SIDE:
            out.append(Caveat("small-image",
                              f"the image is only {width}x{height} pixels (shortest side under {MIN_IMAGE_SIDE}): "
                              "it was probably downscaled, which removes the fine detail detectors rely on",
                              _condition_of(matches, "rescale")))
        return out

    audio_codec, audio_rate, video_rate = m.audio_codec, m.audio_rate, m.video_rate
    if audio_codec and str(audio_codec).lower() in LOSSY_AUDIO_CODECS and audio_rate and \
            audio_rate < AUDIO_BITRATE_LIMIT:
        out.append(Caveat("low-audio-bitrate",
                          f"{audio_codec} audio at {audio_rate / 1000:.0f} kbit/s (below "
                          f"{AUDIO_BITRATE_LIMIT // 1000}): heavy lossy coding removes and invents spectral "
                          "detail, which audio detectors can mistake for synthesis or miss it under",
                          matches[0].condition if matches else None))  # the audio match is the only one
    if m.modality == "video" and video_rate:
        d = _info_dict(info)
        width, height, fps = m.width, m.height, d.get("fps")
        if width and height and fps:
            bpp = video_rate / (width * height * fps)
            if bpp < VIDEO_BPP_LIMIT:
                out.append(Caveat("low-video-bitrate",
                                  f"{d.get('codec', 'video')} at {video_rate / 1000:.0f} kbit/s for "
                                  f"{width}x{height} at {fps:g} fps ({bpp:.3f} bits per pixel, below "
                                  f"{VIDEO_BPP_LIMIT:g}): heavy compression smears the detail frame detectors use"))
    return out


# --- a detector's measured robustness under the matched condition -------------------

MATERIAL_AUC_DROP = 0.05  # a mild match is quoted only when its AUC is this far below the clean AUC


def row_auc(row: Any) -> float | None:
    """The AUC of one robustness-table row, when it is a finite number (None otherwise)."""
    value = row.get("auc") if isinstance(row, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        return None
    return float(value)


def _condition_words(name: str) -> str:
    """The condition's description without a trailing remark in brackets ("(PNG)")."""
    import re

    from deepfake_gui.launder.conditions import get_condition

    try:
        description = get_condition(name).description
    except ValueError:
        return name
    return re.sub(r"\s*\([^()]*\)\s*$", "", description) or name


def measured_condition_auc(match: ConditionMatch, robustness: Any) -> tuple[float, float | None] | None:
    """(AUC under the matched condition, clean AUC) from a bundle's robustness table, or None.

    None when there is no table, no row or no AUC, and for a mild match whose figure lies
    within MATERIAL_AUC_DROP of the clean AUC (that figure says nothing about this file).
    """
    if not isinstance(robustness, dict) or not isinstance(robustness.get("conditions"), dict):
        return None
    rows = robustness["conditions"]
    auc, clean = row_auc(rows.get(match.condition)), row_auc(rows.get("clean"))
    if auc is None or (match.mild and (clean is None or clean - auc <= MATERIAL_AUC_DROP)):
        return None
    return auc, clean


def measured_condition_caveat(detector: str, match: ConditionMatch, robustness: Any) -> Caveat | None:
    """The detector's measured AUC under the file's matched condition, or None.

    ``robustness`` is a bundle's ``meta["robustness"]`` ({"method", "augment",
    "conditions": {name: {"auc", "eer", "n"}}}); None, a missing row or a None AUC gives
    None (nothing is ever estimated). A mild match is quoted only when its AUC lies more
    than MATERIAL_AUC_DROP below the clean AUC.
    """
    measured = measured_condition_auc(match, robustness)
    if measured is None:
        return None
    auc, clean = measured
    method = str(robustness.get("method") or "").split(":")[0].strip() or "measured"
    augment = robustness.get("augment")
    trained = f", trained with {augment!r} augmentation" if augment and augment != "none" else ""
    clean_text = f"clean {clean:.3f}; " if clean is not None else ""
    if match.beyond:  # a figure measured on milder copies is not a figure for this file
        return Caveat("beyond-measured-condition",
                      f"this file {match.finding}: that is more degraded than anything {detector} was measured on "
                      f"(the harshest is {_condition_words(match.condition)}, {match.condition}, AUC {auc:.3f}); "
                      "its accuracy here is not measured and likely worse", match.condition)
    return Caveat("measured-under-condition",
                  f"this file {match.finding}: under {_condition_words(match.condition)} ({match.condition}), "
                  f"{detector}'s measured AUC is {auc:.3f} ({clean_text}{method} on its training domain"
                  f"{trained})", match.condition)


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
