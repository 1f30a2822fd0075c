"""The compression caveats of one file: measure what the pure rules need, then apply them.

analysis/caveats.py decides (pure functions of ``FileMeasures``); this module reads the
file for it (media/measure.py): the JPEG quality of a JPEG picture, and the streams' bit
rates when the probe declared none. ``info`` is a MediaInfo or its dict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepfake_gui.analysis.caveats import (
    Caveat,
    ConditionMatch,
    FileMeasures,
    file_measures,
    matches_for,
    recompression_caveats_for,
    wants_bit_rates,
    wants_jpeg_quality,
)
from deepfake_gui.media.measure import jpeg_quality_estimate, stream_bit_rates


def measure(info: Any, path: str | Path) -> FileMeasures:
    """Read from the file only what the rules need for this kind of file."""
    quality = jpeg_quality_estimate(path) if wants_jpeg_quality(info) else None
    rates = stream_bit_rates(path) if wants_bit_rates(info) else (None, None)
    return file_measures(info, quality, rates)


def condition_matches(info: Any, path: str | Path) -> list[ConditionMatch]:
    """The standard laundering conditions this file resembles, at most one per family."""
    return matches_for(measure(info, path))


def matching_conditions(info: Any, path: str | Path) -> list[str]:
    """The names of :func:`condition_matches` (e.g. ``["jpeg60", "rescale0.5"]``)."""
    return [m.condition for m in condition_matches(info, path)]


def recompression_caveats(info: Any, path: str | Path) -> list[Caveat]:
    """Heavy lossy compression or downscaling: detectors often mistake its artefacts.

    Bit rates come from ``info["extra"]`` ("video_bit_rate", "audio_bit_rate") when
    present, else from the container.
    """
    return recompression_caveats_for(info, measure(info, path))
