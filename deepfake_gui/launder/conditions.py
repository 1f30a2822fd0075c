"""Named standard laundering conditions, the ones every robustness figure is reported on.

A :class:`Condition` turns one file into one laundered file (images, audio, and videos
re-encoded as H.264 + AAC). Conditions with random parts (the social chain's factor
and quality, a crop's position, added noise, a video upload's CRF and scale) draw
them from a generator seeded by ``(seed, the file's sha256)``, so each file gets its
own draw and the same seed gives the same bytes on every run. Per modality the
registry is ordered by family, and within a family from mild to severe
(:func:`conditions_for`), which is the order tables and plots use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.launder import audio, image, video

CONDITIONS_VERSION = 1  # bump when a condition's output changes, so cached copies are not reused
AUDIO_RATE = 16_000  # working rate of the audio conditions: keeps all of an 8 kHz set, most of a wideband one
CLEAN = "clean"


@dataclass(frozen=True)
class Condition:
    name: str
    modality: str  # "image", "audio" or "video"
    family: str  # "jpeg", "rescale", "opus", ...: conditions of a family differ only in strength
    severity: int  # 1 mild .. within the family
    description: str
    suffix: str  # of the written copy
    apply: Callable[[Path, Path, np.random.Generator], Path]  # (source, destination, rng) -> destination


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def rng_for(seed: int, sha256: str) -> np.random.Generator:
    """The generator a condition uses for one file: depends on the seed and the file's content only."""
    return np.random.default_rng([int(seed), int(sha256[:16], 16)])


# ------------------------------------------------------------------ image writers
def _img(src: Path) -> np.ndarray:
    from deepfake_gui.media import load_image

    return load_image(src)


def _write_bytes(dst: Path, data: bytes) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data)
    return dst


def _write_png(dst: Path, arr: np.ndarray) -> Path:
    from PIL import Image

    dst.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, "RGB").save(dst, format="PNG")
    return dst


def _jpeg(quality: int, subsampling: str = image.JPEG_SUBSAMPLING):
    return lambda s, d, rng: _write_bytes(d, image.encode_jpeg(_img(s), quality, subsampling))


def _rescale(factor: float):
    return lambda s, d, rng: _write_png(d, image.rescale(_img(s), factor, back=False))


def _webp(quality: int):
    return lambda s, d, rng: _write_bytes(d, image.encode_webp(_img(s), quality))


def _blur(radius: float):
    return lambda s, d, rng: _write_png(d, image.gaussian_blur(_img(s), radius))


def _crop(keep: float):
    return lambda s, d, rng: _write_png(d, image.crop(_img(s), keep, rng))


def _social(s: Path, d: Path, rng: np.random.Generator) -> Path:
    return _write_bytes(d, image.social(_img(s), rng))


# ------------------------------------------------------------------ audio writers
def _wav(src: Path) -> np.ndarray:
    from deepfake_gui.media import load_audio

    return load_audio(src, AUDIO_RATE)


def _audio(fn: Callable[[np.ndarray, np.random.Generator], np.ndarray]):
    return lambda s, d, rng: audio.write_flac(d, fn(_wav(s), rng), AUDIO_RATE)


def _codec(codec: str, bitrate: int):
    return _audio(lambda x, rng: audio.codec_roundtrip(x, AUDIO_RATE, codec, bitrate))


# ------------------------------------------------------------------ video writers
SOCIAL_VIDEO_CRF = (26, 32)  # inclusive range drawn per file
SOCIAL_VIDEO_SCALE = (0.5, 0.75)
SOCIAL_VIDEO_AUDIO_BITRATE = 32_000


def _h264(crf: int, scale: float = 1.0):
    return lambda s, d, rng: video.reencode_h264(s, d, crf, scale)


def social_video_params(rng: np.random.Generator) -> tuple[int, float]:
    """(CRF, scale) of one social-network video upload, drawn from ``rng``."""
    crf = int(rng.integers(SOCIAL_VIDEO_CRF[0], SOCIAL_VIDEO_CRF[1] + 1))
    return crf, round(float(rng.uniform(*SOCIAL_VIDEO_SCALE)), 3)


def _social_video(s: Path, d: Path, rng: np.random.Generator) -> Path:
    crf, scale = social_video_params(rng)
    return video.reencode_h264(s, d, crf, scale, audio_bitrate=SOCIAL_VIDEO_AUDIO_BITRATE)


_I, _A, _V = "image", "audio", "video"
_REGISTRY: tuple[Condition, ...] = (
    Condition("jpeg90", _I, "jpeg", 1, "JPEG re-compression, quality 90, 4:2:0", ".jpg", _jpeg(90)),
    Condition("jpeg75", _I, "jpeg", 2, "JPEG re-compression, quality 75, 4:2:0", ".jpg", _jpeg(75)),
    Condition("jpeg75_444", _I, "jpeg", 2, "JPEG re-compression, quality 75, no chroma subsampling", ".jpg",
              _jpeg(75, "4:4:4")),
    Condition("jpeg60", _I, "jpeg", 3, "JPEG re-compression, quality 60, 4:2:0", ".jpg", _jpeg(60)),
    Condition("webp75", _I, "webp", 1, "lossy WebP, quality 75", ".webp", _webp(75)),
    Condition("rescale0.75", _I, "rescale", 1, "bicubic downscale to 0.75x, kept small (PNG)", ".png",
              _rescale(0.75)),
    Condition("rescale0.5", _I, "rescale", 2, "bicubic downscale to 0.5x, kept small (PNG)", ".png", _rescale(0.5)),
    Condition("blur1", _I, "blur", 1, "Gaussian blur, radius 1 px (PNG)", ".png", _blur(1.0)),
    Condition("crop0.9", _I, "crop", 1, "crop to 0.9x each side at a seeded position (PNG)", ".png", _crop(0.9)),
    Condition("social", _I, "social", 1, "social-network upload: downscale 0.5-0.9x, JPEG quality 65-90 (seeded)",
              ".jpg", _social),
    Condition("opus32k", _A, "opus", 1, "Opus 32 kbit/s at 16 kHz", ".flac", _codec("opus", 32_000)),
    Condition("opus24k", _A, "opus", 2, "Opus 24 kbit/s at 16 kHz", ".flac", _codec("opus", 24_000)),
    Condition("opus16k", _A, "opus", 3, "Opus 16 kbit/s at 16 kHz", ".flac", _codec("opus", 16_000)),
    Condition("mp3_32k", _A, "mp3", 1, "MP3 32 kbit/s at 16 kHz", ".flac", _codec("mp3", 32_000)),
    Condition("aac24k", _A, "aac", 1, "AAC-LC 24 kbit/s at 16 kHz", ".flac", _codec("aac", 24_000)),
    Condition("resample22k", _A, "resample", 1, "through 22.05 kHz and back (16 kHz working rate: no loss above "
              "the working band; checks the resampler only)", ".flac",
              _audio(lambda x, rng: audio.resample_roundtrip(x, AUDIO_RATE, 22_050))),
    Condition("resample8k", _A, "resample", 2, "through 8 kHz and back: nothing above 4 kHz", ".flac",
              _audio(lambda x, rng: audio.resample_roundtrip(x, AUDIO_RATE, 8_000))),
    Condition("phone8k", _A, "phone", 1, "telephone: through 8 kHz, band-pass 300-3400 Hz", ".flac",
              _audio(lambda x, rng: audio.telephone(x, AUDIO_RATE))),
    Condition("landline_ulaw", _A, "phone", 1, "landline call: through 8 kHz, band-pass 300-3400 Hz, G.711 mu-law",
              ".flac", _audio(lambda x, rng: audio.phone_call(x, AUDIO_RATE, "mulaw", 64_000))),
    Condition("mobile_amr12k", _A, "phone", 2, "mobile call: through 8 kHz, band-pass 300-3400 Hz, AMR-NB 12.2 kbit/s "
              "(the GSM / 3G voice codec)", ".flac",
              _audio(lambda x, rng: audio.phone_call(x, AUDIO_RATE, "amr_nb", 12_200))),
    Condition("noise20db", _A, "noise", 1, "white Gaussian noise at 20 dB SNR (seeded)", ".flac",
              _audio(lambda x, rng: audio.add_noise(x, 20.0, rng))),
    Condition("noise10db", _A, "noise", 2, "white Gaussian noise at 10 dB SNR (seeded)", ".flac",
              _audio(lambda x, rng: audio.add_noise(x, 10.0, rng))),
    Condition("lead_silence1s", _A, "silence", 1, "1 s of digital silence added before the recording", ".flac",
              _audio(lambda x, rng: audio.pad_silence(x, AUDIO_RATE, lead_s=1.0))),
    Condition("trail_silence1s", _A, "silence", 1, "1 s of digital silence added after the recording", ".flac",
              _audio(lambda x, rng: audio.pad_silence(x, AUDIO_RATE, trail_s=1.0))),
    Condition("trim_silence", _A, "silence", 2, "leading and trailing quiet (< -40 dB of peak) removed", ".flac",
              _audio(lambda x, rng: audio.trim_silence(x, AUDIO_RATE))),
    Condition("h264_crf23", _V, "h264", 1, "H.264 re-encode, CRF 23 (x264 veryfast), same size; AAC 128 kbit/s mono",
              ".mp4", _h264(23)),
    Condition("h264_crf28", _V, "h264", 2, "H.264 re-encode, CRF 28 (x264 veryfast), same size; AAC 128 kbit/s mono",
              ".mp4", _h264(28)),
    Condition("h264_crf35", _V, "h264", 3, "H.264 re-encode, CRF 35 (x264 veryfast), same size; AAC 128 kbit/s mono",
              ".mp4", _h264(35)),
    Condition("h264_crf28_0.5x", _V, "h264_scale", 1, "H.264 re-encode at 0.5x the size (area downscale), CRF 28; "
              "AAC 128 kbit/s mono", ".mp4", _h264(28, 0.5)),
    Condition("social_video", _V, "social_video", 1, "social-network video upload: downscale 0.5-0.75x, H.264 CRF "
              "26-32 (seeded); AAC 32 kbit/s mono", ".mp4", _social_video),
)
CONDITIONS: dict[str, Condition] = {c.name: c for c in _REGISTRY}
# The default set of `evaluate --launder` per modality (the standard conditions).
STANDARD = {
    "image": ["jpeg90", "jpeg75", "jpeg60", "webp75", "rescale0.75", "rescale0.5", "blur1", "social"],
    "audio": ["opus32k", "opus24k", "opus16k", "mp3_32k", "phone8k", "noise20db", "lead_silence1s"],
    "video": ["h264_crf23", "h264_crf28", "h264_crf35", "h264_crf28_0.5x", "social_video"],
}
MODALITIES = tuple(dict.fromkeys(c.modality for c in _REGISTRY))  # ("image", "audio", "video")


def get_condition(name: str) -> Condition:
    try:
        return CONDITIONS[name]
    except KeyError:
        raise ValueError(f"unknown laundering condition {name!r}; known: {', '.join(CONDITIONS)}") from None


def conditions_for(modality: str) -> list[str]:
    """All conditions of a modality, grouped by family (registry order), mild to severe within each."""
    items = [c for c in _REGISTRY if c.modality == modality]
    families = list(dict.fromkeys(c.family for c in items))
    return [c.name for c in sorted(items, key=lambda c: (families.index(c.family), c.severity))]


def severity_order(names: list[str]) -> list[str]:
    """``names`` (known conditions) in the modality's family / severity order; "clean" first."""
    order = {n: i for m in MODALITIES for i, n in enumerate(conditions_for(m))}
    return ([CLEAN] if CLEAN in names else []) + sorted((n for n in names if n != CLEAN),
                                                         key=lambda n: order[get_condition(n).name])


def launder_copy(src: str | Path, condition: str | Condition, seed: int = 0, root: str | Path | None = None,
                 sha256: str | None = None) -> Path:
    """The laundered copy of ``src`` under ``condition``, written once into the cache and reused.

    Path: ``<root>/<condition>-v<N>-s<seed>/<sha[:2]>/<sha><suffix>`` with ``root`` defaulting
    to ``<app cache>/launder/conditions``: keyed by content, never next to the evidence.
    """
    from deepfake_gui.launder import launder_root

    c = get_condition(condition) if isinstance(condition, str) else condition
    sha = sha256 or file_sha256(src)
    base = Path(root) if root is not None else launder_root("conditions")
    dst = base / f"{c.name}-v{CONDITIONS_VERSION}-s{int(seed)}" / sha[:2] / f"{sha}{c.suffix}"
    if not dst.is_file():
        tmp = dst.with_name(dst.stem + ".partial" + c.suffix)
        c.apply(Path(src), tmp, rng_for(seed, sha))
        tmp.replace(dst)  # a crash never leaves a half-written copy under the final name
    return dst



def launder_each(paths: Sequence[str | Path], shas: Sequence[str | None],
                 condition: str | Condition | Callable[[str], str], seed: int = 0, root: str | Path | None = None,
                 cancel: CancelToken | None = None, label: str = "laundering"
                 ) -> Generator[Progress, None, tuple[list[int], list[Path], list[str], list[str]]]:
    """:func:`launder_copy` of many files, with progress and cancel; a file that cannot be laundered is skipped.

    ``condition`` may be a function of the file's sha256 (augmentation draws one per file).
    Files without a sha256 (unreadable) are skipped silently. Returns (indices of the files
    laundered, their copies, the condition of each, "path (condition): error" per failure).
    """
    from deepfake_gui.core.errors import MediaError

    index: list[int] = []
    copies: list[Path] = []
    names: list[str] = []
    failed: list[str] = []
    for i, (path, sha) in enumerate(zip(paths, shas, strict=True)):
        if cancel is not None:
            cancel.raise_if_cancelled()
        yield Progress(i, len(paths), label)
        if sha is None:
            continue
        name = condition(sha) if callable(condition) else getattr(condition, "name", condition)
        try:
            copies.append(launder_copy(path, name, seed, root, sha))
        except (MediaError, ValueError, OSError) as exc:
            failed.append(f"{path} ({name}): {exc}")
            continue
        index.append(i)
        names.append(name)
    return index, copies, names, failed


__all__ = ["AUDIO_RATE", "CLEAN", "CONDITIONS", "CONDITIONS_VERSION", "MODALITIES", "STANDARD", "Condition",
           "conditions_for", "file_sha256", "get_condition", "launder_copy", "launder_each", "rng_for",
           "severity_order", "social_video_params"]
