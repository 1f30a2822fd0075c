"""Everything a scan reads from a file's bytes, behind one small interface: in this process or in a worker.

Why one interface: the scorers and the gate need decoded pictures, frames and
audio, and the provenance reader parses metadata; all of that runs native
decoders (Pillow's C plugins, libtiff, FFmpeg, the C2PA library) on untrusted
bytes. ``LocalDecoder`` runs them here (the GUI, tests, ``--decode-timeout
0``); ``engine.isolate.IsolatedDecoder`` runs the same operations in a worker
process with limits, so a crash or a hang there is one file's error line.

The operations below are what the worker runs: each yields (meta, array)
items, where ``meta`` is plain JSON-able data and ``array`` a numpy array or
None. Nothing else crosses the process boundary.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

Item = tuple[dict[str, Any], np.ndarray | None]


# ------------------------------------------------------------------ operations (run here or in the worker)
def probe_op(path: str) -> Iterator[Item]:
    from deepfake_gui.media import probe

    yield {"info": probe(path).to_dict()}, None


def image_op(path: str) -> Iterator[Item]:
    from deepfake_gui.media import load_image

    yield {}, load_image(path)


def audio_chunks_op(path: str, rate: int) -> Iterator[Item]:
    """The sound as the detectors read it (a telephone-band recording through 8 kHz: media.narrowband)."""
    from deepfake_gui.media.narrowband import iter_detector_audio

    for chunk in iter_detector_audio(path, rate):
        yield {}, chunk


def audio_op(path: str, rate: int, max_seconds: float | None) -> Iterator[Item]:
    from deepfake_gui.media import load_audio

    yield {}, load_audio(path, rate, max_seconds=max_seconds)


def video_frames_op(path: str, per_second: float) -> Iterator[Item]:
    from deepfake_gui.media.video import iter_video_frames

    for frame in iter_video_frames(path, per_second=per_second):
        yield {"index": int(frame.index), "time_s": float(frame.time_s), "keyframe": bool(frame.keyframe)}, frame.image


def jpeg_quality_op(path: str) -> Iterator[Item]:
    yield {"quality": _jpeg_quality(path)}, None


def provenance_op(path: str, modality: str) -> Iterator[Item]:
    from deepfake_gui.provenance import read_provenance

    yield {"provenance": read_provenance(path, modality)}, None


def _jpeg_quality(path: str | Path) -> int | None:
    """The JPEG quality estimate, None when there is none or the header cannot be read (as the gate wants)."""
    from deepfake_gui.media.measure import jpeg_quality_estimate

    try:
        return jpeg_quality_estimate(path)
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------ in this process
class RecentPictures:
    """The pictures still in use, by path: a picture is decoded once for scoring and its content check.

    The latest picture is held until its file is done (``forget``); others only
    weakly, so a picture is found again while the scan still holds it (a batch
    of pictures waiting for the encoder) and costs no memory after.
    """

    def __init__(self) -> None:
        self._by_path: weakref.WeakValueDictionary[str, np.ndarray] = weakref.WeakValueDictionary()
        self._latest: np.ndarray | None = None

    def get(self, path: str | Path) -> np.ndarray | None:
        return self._by_path.get(str(path))

    def keep(self, path: str | Path, picture: np.ndarray) -> np.ndarray:
        self._by_path[str(path)] = self._latest = picture
        return picture

    def forget(self) -> None:
        """A file is done: its picture need not outlive the references the scan still has."""
        self._latest = None


class LocalDecoder:
    """Decoding in the scan's own process; ``guard`` (engine.memory.MemoryGuard) checks each decoded item."""

    isolated = False

    def __init__(self, guard=None) -> None:
        self.guard = guard
        self.recent = RecentPictures()

    def _checked(self, path: str | Path, value):
        if self.guard is not None:
            self.guard.check(path)
        return value

    def image(self, path: str | Path) -> np.ndarray:
        from deepfake_gui.media import load_image

        known = self.recent.get(path)
        return known if known is not None else self.recent.keep(path, self._checked(path, load_image(path)))

    def audio_chunks(self, path: str | Path, rate: int) -> Iterator[np.ndarray]:
        """The sound as the detectors read it (see ``audio_chunks_op``)."""
        from deepfake_gui.media.narrowband import iter_detector_audio

        for chunk in iter_detector_audio(path, rate):
            yield self._checked(path, chunk)

    def audio(self, path: str | Path, rate: int, max_seconds: float | None = None) -> np.ndarray:
        from deepfake_gui.media import load_audio

        return self._checked(path, load_audio(path, rate, max_seconds=max_seconds))

    def video_frames(self, path: str | Path, per_second: float) -> Iterator:
        from deepfake_gui.media.video import iter_video_frames

        for frame in iter_video_frames(path, per_second=per_second):
            yield self._checked(path, frame)

    def jpeg_quality(self, path: str | Path) -> int | None:
        return _jpeg_quality(path)

    def provenance(self, path: str | Path, modality: str) -> dict[str, Any]:
        from deepfake_gui.provenance import read_provenance

        return read_provenance(path, modality)

    def close(self) -> None:
        """Nothing to stop here (the isolated decoder stops its worker)."""
