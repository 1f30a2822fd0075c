"""A telephone-band recording in a wideband file is read as the 8 kHz recording it is.

Why: a phone call or an 8 kHz recording saved at 16, 44.1 or 48 kHz has nothing above
4 kHz but what its resampler left there, and the sound detectors read that band too.
Every 8 kHz training file was brought to the detectors' 16 kHz by FFmpeg's resampler
(libswresample), so its upper band holds that resampler's residue, about 77 dB below the
speech. The same recordings upsampled by another tool (scipy, an editor, a video
pipeline) leave a residue near 58 dB below, and phase coherence scored them 3.6 logits
lower (towards "real"): on the localization set's re-voiced recordings, upsampled
elsewhere, 24% of the re-voiced stretches were found instead of 89%. Reading such a file
down to 8 kHz and up again through libswresample gives the detectors what an 8 kHz file
gives them, whichever tool upsampled it (76% found; docs/measurements.md,
"Telephone-band recordings in wideband files").

The test: the mean power at 4.6-7.5 kHz against 2.5-3.5 kHz (Welch, over the first 30 s, at
the track's own rate). On the development data, wideband speech (767 studio recordings,
genuine and generated) measures -22 dB or more; 8 kHz speech upsampled by scipy -51 dB or
less, and through AAC at 70 kbit/s -39 dB or less. The line is drawn at -30 dB.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

NARROWBAND_RATE = 8_000  # a telephone recording's rate: its sound ends at 4 kHz
UPPER_BAND_HZ = (4_600.0, 7_500.0)
SPEECH_BAND_HZ = (2_500.0, 3_500.0)
NARROWBAND_LEVEL_DB = -30.0  # upper band at or below this, relative to the speech band: narrowband
PROBE_S = 30.0
NARROWBAND_VARIANT = "|narrowband8k"  # feature-cache key suffix of a file read through 8 kHz


def upper_band_level_db(samples: np.ndarray, rate: int) -> float | None:
    """Mean power at 4.6-7.5 kHz relative to 2.5-3.5 kHz, in dB; None when the rate cannot hold the upper
    band or the speech band holds no sound (nothing to compare)."""
    from scipy.signal import welch

    x = np.asarray(samples, dtype=np.float64)
    if rate < 2 * UPPER_BAND_HZ[1] or x.size < 512:
        return None
    freqs, power = welch(x, rate, nperseg=512)
    upper = power[(freqs > UPPER_BAND_HZ[0]) & (freqs < UPPER_BAND_HZ[1])].mean()
    speech = power[(freqs > SPEECH_BAND_HZ[0]) & (freqs < SPEECH_BAND_HZ[1])].mean()
    if not speech > 0:
        return None
    return float(10 * np.log10(max(upper, 1e-30) / speech))


def is_narrowband(samples: np.ndarray, rate: int) -> bool:
    """True when the sound ends near 4 kHz: a telephone-band recording, whatever the file's rate."""
    level = upper_band_level_db(samples, rate)
    return level is not None and level <= NARROWBAND_LEVEL_DB


def native_rate(path: str | Path) -> int | None:
    """The audio track's own sample rate, None when the container does not say."""
    from deepfake_gui.media.av_util import open_container

    with open_container(path) as container:
        if not container.streams.audio:
            return None
        rate = container.streams.audio[0].codec_context.sample_rate
        return int(rate) if rate else None


def reads_as_narrowband(path: str | Path, rate: int) -> bool:
    """Whether ``iter_detector_audio`` reads the file through 8 kHz: a track above 8 kHz whose first 30 s
    have nothing above 4 kHz, for a detector reading at more than 8 kHz.

    Measured at the track's own rate (no resampling to pay for) and remembered per file version, so the
    sound detectors of one scan and the feature extractor measure a file once.
    """
    own = native_rate(path)
    if rate <= NARROWBAND_RATE or own is None or own <= NARROWBAND_RATE:
        return False  # an 8 kHz file already is read the way the detectors learned
    stat = Path(path).stat()
    return _narrowband_track(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, own)


@lru_cache(maxsize=256)
def _narrowband_track(path: str, size: int, mtime_ns: int, rate: int) -> bool:
    """``is_narrowband`` of the track's first 30 s; ``size`` and ``mtime_ns`` key the file's version."""
    from deepfake_gui.media.audio import load_audio

    return is_narrowband(load_audio(path, rate, max_seconds=PROBE_S), rate)


def iter_detector_audio(path: str | Path, rate: int, narrowband: bool | None = None) -> Iterator[np.ndarray]:
    """Mono float32 chunks at ``rate`` as the sound detectors read a file (see the module docstring).

    ``narrowband``: ``reads_as_narrowband(path, rate)`` when the caller has it already; None measures it.
    """
    from deepfake_gui.media.audio import iter_audio_chunks

    if narrowband is None:
        narrowband = reads_as_narrowband(path, rate)
    if not narrowband:
        yield from iter_audio_chunks(path, rate)
        return
    yield from upsample_chunks(iter_audio_chunks(path, NARROWBAND_RATE), NARROWBAND_RATE, rate)


def upsample_chunks(chunks: Iterator[np.ndarray], rate: int, to_rate: int) -> Iterator[np.ndarray]:
    """Mono chunks at ``rate`` through libswresample to ``to_rate``: what decoding an 8 kHz file at
    ``to_rate`` does."""
    import av

    resampler = av.AudioResampler(format="fltp", layout="mono", rate=to_rate)
    for chunk in chunks:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk, dtype=np.float32)[None, :], format="flt",
                                           layout="mono")
        frame.sample_rate = rate
        frame.time_base = Fraction(1, rate)
        for out in resampler.resample(frame):
            yield np.ascontiguousarray(out.to_ndarray()[0], dtype=np.float32)
    for out in resampler.resample(None):
        yield np.ascontiguousarray(out.to_ndarray()[0], dtype=np.float32)
