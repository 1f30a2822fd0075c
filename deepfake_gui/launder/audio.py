"""Audio re-encodings a recording meets on its way to a user: low bit-rate Opus, MP3 and AAC,
resampling, a telephone band, added noise, silence at the ends.

Samples go through the real codec (PyAV's bundled libopus / libmp3lame) in memory
and are decoded back to the input's rate as mono float32 of exactly the input's
length. Both encoders are deterministic for the same input and settings (the Ogg
container's random stream serial changes the bytes, never the decoded samples), so a
measured figure can be reproduced. Laundered copies are written as 16-bit FLAC, the
format of the shared audio set, so the container is not what changes.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import numpy as np

DEFAULT_RATE = 8_000  # the shared audio set's rate
OPUS_BITRATE = 16_000
MP3_BITRATE = 16_000
# codec -> (PyAV encoder, container format); both take 8 kHz mono input directly
CODECS = {"opus": ("libopus", "ogg"), "mp3": ("libmp3lame", "mp3")}
# Codecs only the round trip offers (``encode`` keeps its two-codec contract): FFmpeg's native AAC-LC in ADTS,
# and the two voice codecs of phone calls, 8 kHz only: AMR-NB (GSM / 3G mobile calls; opencore-amr, bundled
# with PyAV's FFmpeg) and G.711 mu-law (landlines, most VoIP trunks).
ROUNDTRIP_CODECS = {**CODECS, "aac": ("aac", "adts"), "amr_nb": ("libopencore_amrnb", "amr"),
                    "mulaw": ("pcm_mulaw", "wav")}
# samples of encoder priming the decoder does not remove (raw ADTS carries no edit list)
PRIMING = {"aac": 1024}
MAX_ALIGN_LAG = 32  # samples of residual codec delay searched for (4 ms at 8 kHz)
ALIGN_LAG = {"amr_nb": 80}  # AMR-NB's decoder leaves about 40 samples (5 ms) of delay


def _frame(samples: np.ndarray, rate: int):
    import av

    frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
    frame.sample_rate = rate
    frame.pts = 0
    frame.time_base = Fraction(1, rate)
    return frame


def encode(samples: np.ndarray, rate: int, codec: str, bitrate: int) -> bytes:
    """Mono float32 samples -> the bytes of an Opus (Ogg) or MP3 file at ``bitrate`` bit/s."""

    if codec not in CODECS:
        raise ValueError(f"codec must be one of {sorted(CODECS)}, got {codec!r}")
    return _encode(samples, rate, *CODECS[codec], bitrate)


def _encode(samples: np.ndarray, rate: int, encoder: str, container_format: str, bitrate: int) -> bytes:
    import av

    x = np.ascontiguousarray(np.asarray(samples, dtype=np.float32))
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"expected non-empty mono samples, got shape {x.shape}")
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container_format) as out:
        stream = out.add_stream(encoder, rate=rate, layout="mono")
        stream.bit_rate = int(bitrate)
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)  # sample format only
        for frame in [*resampler.resample(_frame(x, rate)), *resampler.resample(None)]:
            frame.pts = None
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def decode(data: bytes, rate: int) -> np.ndarray:
    """An encoded file's first audio track as mono float32 at ``rate``."""
    import av

    chunks: list[np.ndarray] = []
    with av.open(io.BytesIO(data), mode="r") as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in container.decode(container.streams.audio[0]):
            frame.pts = None
            chunks += [f.to_ndarray()[0] for f in resampler.resample(frame)]
        chunks += [f.to_ndarray()[0] for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, dtype=np.float32)


def best_lag(reference: np.ndarray, delayed: np.ndarray, max_lag: int = MAX_ALIGN_LAG) -> int:
    """The delay (in samples, |lag| <= max_lag) at which ``delayed`` best matches ``reference``."""
    n = min(len(reference), len(delayed))
    x = np.asarray(reference[:n], dtype=np.float64)
    y = np.asarray(delayed[:n], dtype=np.float64)
    best, best_score = 0, -np.inf
    for lag in range(-max_lag, max_lag + 1):
        a, b = (x[: n - lag], y[lag:]) if lag >= 0 else (x[-lag:], y[: n + lag])
        score = float(a @ b)
        if score > best_score + 1e-12:
            best, best_score = lag, score
    return best


def codec_roundtrip(samples: np.ndarray, rate: int, codec: str, bitrate: int) -> np.ndarray:
    """The samples after encoding with ``codec`` at ``bitrate`` and decoding back; same rate, same length.

    FFmpeg removes the codecs' priming delay; what is left (libopus through the 8 kHz
    resampler: one sample) is measured by cross-correlation and undone, so the copy
    lines up with the original and no codec-specific lead-in separates anything. The
    end is cut or zero-padded to the input's length.
    """
    x = np.asarray(samples, dtype=np.float32)
    if codec not in ROUNDTRIP_CODECS:
        raise ValueError(f"codec must be one of {sorted(ROUNDTRIP_CODECS)}, got {codec!r}")
    y = decode(_encode(x, rate, *ROUNDTRIP_CODECS[codec], bitrate), rate)[PRIMING.get(codec, 0):]
    lag = best_lag(x, y, ALIGN_LAG.get(codec, MAX_ALIGN_LAG))
    y = y[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag, dtype=np.float32), y])
    return fit_length(y, len(x))


def opus(samples: np.ndarray, rate: int = DEFAULT_RATE, bitrate: int = OPUS_BITRATE) -> np.ndarray:
    """Opus round trip (default 16 kbit/s: a voice message or VoIP call)."""
    return codec_roundtrip(samples, rate, "opus", bitrate)


def mp3(samples: np.ndarray, rate: int = DEFAULT_RATE, bitrate: int = MP3_BITRATE) -> np.ndarray:
    """MP3 round trip (default 16 kbit/s, MPEG-2.5 layer III at 8 kHz)."""
    return codec_roundtrip(samples, rate, "mp3", bitrate)


def write_flac(path: str | Path, samples: np.ndarray, rate: int) -> Path:
    """Mono float samples -> 16-bit FLAC (clipped to [-1, 1], rounded, no dither)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = np.round(np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0) * 32767).astype(np.int16)
    with av.open(str(path), mode="w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def codec_file(src: str | Path, dst: str | Path, codec: str, bitrate: int, rate: int = DEFAULT_RATE) -> Path:
    """Decode ``src`` to mono at ``rate``, round-trip it through ``codec``, write 16-bit FLAC to ``dst``.

    ``codec``: "opus" (rate 8/12/16/24/48 kHz), "mp3" or "aac" (FFmpeg's native encoder).
    """
    from deepfake_gui.media import load_audio

    return write_flac(dst, codec_roundtrip(load_audio(src, rate), rate, codec, bitrate), rate)


def _mono(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"expected non-empty mono samples, got shape {x.shape}")
    return x


def aac(samples: np.ndarray, rate: int = DEFAULT_RATE, bitrate: int = 24_000) -> np.ndarray:
    """AAC-LC round trip (FFmpeg's encoder; low bit rates are what messengers and video sites use)."""
    return codec_roundtrip(samples, rate, "aac", bitrate)


def fit_length(samples: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` samples, zero-padded at the end when there are fewer (a codec or resampler's output)."""
    return samples[:n] if len(samples) >= n else np.pad(samples, (0, n - len(samples)))


def resample(samples: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling (scipy) from ``rate`` to ``to_rate``, in float64."""
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(rate), int(to_rate))
    return resample_poly(np.asarray(samples, dtype=np.float64), to_rate // g, rate // g)


def resample_roundtrip(samples: np.ndarray, rate: int, via: int) -> np.ndarray:
    """Down to ``via`` Hz and back up to ``rate`` (polyphase, scipy): loses everything above ``via``/2."""
    x = _mono(samples)
    if via == rate:
        return x.copy()
    return fit_length(resample(resample(x, rate, via), via, rate), len(x)).astype(np.float32)


def bandpass(samples: np.ndarray, rate: int, low_hz: float = 300.0, high_hz: float = 3400.0) -> np.ndarray:
    """The telephone band: 4th-order Butterworth band-pass, zero phase (forward-backward), so nothing shifts."""
    from scipy.signal import butter, sosfiltfilt

    x = _mono(samples)
    high_hz = min(high_hz, 0.45 * rate)
    sos = butter(4, [low_hz, high_hz], btype="bandpass", fs=rate, output="sos")
    return sosfiltfilt(sos, x.astype(np.float64)).astype(np.float32)


def telephone(samples: np.ndarray, rate: int, phone_rate: int = 8_000) -> np.ndarray:
    """A narrow-band call: resampled through ``phone_rate`` and band-passed to 300-3400 Hz, at ``rate``."""
    return bandpass(resample_roundtrip(samples, rate, phone_rate), rate)


def narrowband(samples: np.ndarray, rate: int, phone_rate: int = 8_000) -> np.ndarray:
    """What a phone line carries: the samples at ``phone_rate`` (polyphase), band-passed to 300-3400 Hz."""
    return bandpass(resample(_mono(samples), rate, phone_rate).astype(np.float32), phone_rate)


def phone_call(samples: np.ndarray, rate: int, codec: str, bitrate: int, phone_rate: int = 8_000) -> np.ndarray:
    """A call through a voice codec: to ``phone_rate``, band-passed to 300-3400 Hz, encoded, decoded, at ``rate``."""
    coded = codec_roundtrip(narrowband(samples, rate, phone_rate), phone_rate, codec, bitrate)
    return fit_length(resample(coded, phone_rate, rate), len(samples)).astype(np.float32)


def encoded_file(samples: np.ndarray, rate: int, codec: str, bitrate: int) -> tuple[bytes, str]:
    """(bytes, extension) of a file in ``codec``'s own container: any codec the round trip offers."""
    encoder, container = ROUNDTRIP_CODECS[codec]
    return _encode(samples, rate, encoder, container, bitrate), {"adts": "aac"}.get(container, container)


def add_noise(samples: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise at ``snr_db`` dB below the signal's mean power (seeded by ``rng``)."""
    x = _mono(samples).astype(np.float64)
    power = float(np.mean(x ** 2)) or 1e-10
    noise = rng.standard_normal(len(x)) * np.sqrt(power / 10 ** (snr_db / 10))
    return (x + noise).astype(np.float32)


def pad_silence(samples: np.ndarray, rate: int, lead_s: float = 0.0, trail_s: float = 0.0) -> np.ndarray:
    """Digital silence added before and after: what a recorder's start delay or an editor adds."""
    x = _mono(samples)
    return np.concatenate([np.zeros(round(lead_s * rate), np.float32), x,
                           np.zeros(round(trail_s * rate), np.float32)])


def trim_silence(samples: np.ndarray, rate: int, threshold_db: float = -40.0, frame_s: float = 0.02) -> np.ndarray:
    """Leading and trailing frames quieter than ``threshold_db`` below the peak removed (all kept if all quiet)."""
    x = _mono(samples)
    hop = max(1, round(frame_s * rate))
    n_frames = int(np.ceil(len(x) / hop))
    padded = np.pad(x, (0, n_frames * hop - len(x)))
    rms = np.sqrt(np.mean(padded.reshape(n_frames, hop).astype(np.float64) ** 2, axis=1))
    peak = float(np.abs(x).max())
    loud = np.flatnonzero(rms > peak * 10 ** (threshold_db / 20)) if peak > 0 else np.array([], dtype=int)
    if loud.size == 0:
        return x.copy()
    return x[loud[0] * hop:min(len(x), (loud[-1] + 1) * hop)].copy()
