"""Any container's audio track to mono float32 at a requested rate (PyAV).

torchaudio.load needs torchcodec and a system FFmpeg; PyAV bundles FFmpeg, so all
decoding goes through it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_gui.core.errors import MediaError
from deepfake_gui.media.av_util import explain_av_error, open_container

DEFAULT_SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class AudioWindow:
    start_s: float
    samples: np.ndarray  # float32 mono
    sample_rate: int

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.samples) / self.sample_rate


def _to_mono(frame) -> np.ndarray:
    """Average the channels: (L + R) / 2, as librosa/torchaudio pipelines do.

    libswresample's stereo->mono downmix is (L + R) / sqrt(2), 3 dB louder than the
    mean and above 1.0 for loud stereo, which is not what detectors were trained on.
    """
    arr = frame.to_ndarray()  # fltp: (channels, samples)
    mono = arr[0] if arr.shape[0] == 1 else arr.mean(axis=0)
    return np.ascontiguousarray(mono, dtype=np.float32)


def _declared_samples(container, stream, sample_rate: int) -> int | None:
    """Exact track length for MP4/M4A/MOV, whose sample tables and edit lists are exact.

    FFmpeg drops the AAC priming samples there but not the end padding (up to 1023
    samples), so decoding yields slightly more than the file's stated duration. Other
    containers' durations may be bitrate estimates (VBR MP3), so they are not trusted.
    """
    fmt = container.format.name if container.format else ""
    if "mp4" not in fmt.split(",") or not stream.duration or stream.time_base is None:
        return None
    return int(round(float(stream.duration * stream.time_base) * sample_rate))


def iter_audio_chunks(path: str | Path, sample_rate: int = DEFAULT_SAMPLE_RATE) -> Iterator[np.ndarray]:
    """Mono float32 chunks in decode order, resampled by FFmpeg (libswresample).

    Surround is first downmixed to stereo by libswresample (it knows the channel
    roles), then the two channels are averaged.
    """
    import av

    from deepfake_gui.media.av_util import audio_channels

    with open_container(path) as container:
        if not container.streams.audio:
            raise MediaError(path, "no audio track", "the file has no audio stream", "unsupported")
        stream = container.streams.audio[0]
        layout = "mono" if (audio_channels(stream) or 1) == 1 else "stereo"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
        remaining = _declared_samples(container, stream, sample_rate)
        decoded_any = False

        def emit(frames) -> Iterator[np.ndarray]:
            nonlocal remaining
            for out in frames:
                chunk = _to_mono(out)
                if remaining is not None:
                    chunk = chunk[: max(0, remaining)]
                    remaining -= len(chunk)
                if chunk.size:
                    yield chunk

        try:
            for frame in container.decode(stream):
                decoded_any = True
                frame.pts = None  # let the resampler count samples itself (robust to pts gaps)
                yield from emit(resampler.resample(frame))
                if remaining is not None and remaining <= 0:
                    return
            yield from emit(resampler.resample(None))
        except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
            raise explain_av_error(path, exc, opened=decoded_any) from exc


def load_audio(
    path: str | Path,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    *,
    max_seconds: float | None = None,
) -> np.ndarray:
    """The whole (or the first ``max_seconds`` of the) track as mono float32."""
    limit = None if max_seconds is None else int(round(max_seconds * sample_rate))
    chunks: list[np.ndarray] = []
    have = 0
    for chunk in iter_audio_chunks(path, sample_rate):
        chunks.append(chunk)
        have += len(chunk)
        if limit is not None and have >= limit:
            break
    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if limit is not None:
        audio = audio[:limit]
    if audio.size == 0:
        raise MediaError(path, "no audio samples", "the audio track decoded to nothing", "empty")
    return audio


def iter_audio_windows(
    path: str | Path,
    window_s: float,
    hop_s: float,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
) -> Iterator[AudioWindow]:
    """Sliding windows with their start times, streamed (bounded memory).

    Full-length windows start every ``hop_s``. If the last regular window leaves
    samples uncovered, one more window is aligned to the end of the track, so every
    sample is scored. A clip shorter than one window yields the clip itself.
    """
    if window_s <= 0 or hop_s <= 0:
        raise ValueError("window_s and hop_s must be positive")
    win = max(1, int(round(window_s * sample_rate)))
    hop = max(1, int(round(hop_s * sample_rate)))
    buffer = np.zeros(0, dtype=np.float32)
    buffer_start = 0  # absolute sample index of buffer[0]
    next_start = 0
    last_end = 0
    emitted = False
    total = 0
    for chunk in iter_audio_chunks(path, sample_rate):
        buffer = np.concatenate([buffer, chunk])
        total += len(chunk)
        while next_start + win <= buffer_start + len(buffer):
            offset = next_start - buffer_start
            yield AudioWindow(next_start / sample_rate, buffer[offset : offset + win].copy(), sample_rate)
            emitted = True
            last_end = next_start + win
            next_start += hop
        # keep only what later windows (or the end-aligned tail window) may need
        keep_from = min(next_start, max(0, buffer_start + len(buffer) - win))
        drop = keep_from - buffer_start
        if drop > 0:
            buffer = buffer[drop:]
            buffer_start = keep_from
    if total == 0:
        raise MediaError(path, "no audio samples", "the audio track decoded to nothing", "empty")
    if not emitted:
        yield AudioWindow(0.0, buffer[-total:].copy(), sample_rate)
    elif last_end < total:
        start = total - win
        offset = start - buffer_start
        yield AudioWindow(start / sample_rate, buffer[offset : offset + win].copy(), sample_rate)
