"""Batches across files: the tiles of several small pictures go through the encoder together.

Why: a folder of 224 px pictures is one tile per file, so scoring file by file
runs the encoder on batches of one, which on a multi-threaded CPU (and far more
on a GPU) wastes most of the hardware. Scan collects consecutive picture files
until their tiles fill one batch, runs each image detector once over the
group, and splits the rows back per file; each file's TrackScore is then built
exactly as for a file scored alone (score_image.finish_image_score).

Memory stays bounded: a group closes as soon as it holds ``batch_size`` tiles,
so it holds at most ``batch_size`` decoded pictures (a larger picture fills a
batch on its own).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_gui.core.errors import LayerScopeError, MediaError
from deepfake_gui.core.jobs import CancelToken, Progress


@dataclass
class PendingImage:
    """A probed picture waiting for its group's batch; ``image`` is None when it could not be decoded."""

    path: Path
    info: Any
    before: dict[str, Any] | None
    started: str
    image: np.ndarray | None = None
    error: Exception | None = None
    n_tiles: int = 1
    scores: dict[str, Any] = field(default_factory=dict)  # detector name -> TrackScore or the exception


def image_detectors(detectors: list) -> list:
    """The image detectors that can run (an unavailable one is reported per file by scan_file)."""
    return [d for d in detectors if d.modality == "image" and not d.unavailable and d.encoder is not None]


def load_pending(path: Path, info, before, started: str, detectors: list, options,
                 decoder=None) -> PendingImage:
    """Decode the picture now (its tile count decides when the group is full); a failure is kept, not raised.

    ``decoder``: engine.decoding (None: in this process).
    """
    from deepfake_gui.engine.decoding import LocalDecoder
    from deepfake_gui.engine.score_image import ImageOptions, image_tiles

    item = PendingImage(path, info, before, started)
    try:
        item.image = (decoder or LocalDecoder()).image(path)
        opts = ImageOptions(options.max_tiles, options.image_aggregation, batch_size=options.batch_size)
        item.n_tiles = max((len(image_tiles(item.image, d, opts)[0].boxes) for d in image_detectors(detectors)),
                           default=1)
    except Exception as exc:  # reported per detector, as when the file is scored alone
        item.error = exc
    return item


def score_group(group: list[PendingImage], detectors: list, options, cancel: CancelToken, done: int,
                total: int) -> Generator[Progress, None, None]:
    """Fill each item's ``scores`` with one TrackScore (or exception) per available image detector."""
    from deepfake_gui.engine.score_image import ImageOptions

    opts = ImageOptions(options.max_tiles, options.image_aggregation, batch_size=options.batch_size)
    label = group[0].path.name + (f" (+{len(group) - 1} files)" if len(group) > 1 else "")
    for active in image_detectors(detectors):
        yield from _score_group_with(group, active, opts, cancel, done, total, label)


def _score_group_with(group: list[PendingImage], active, opts, cancel: CancelToken, done: int, total: int,
                      label: str) -> Generator[Progress, None, None]:
    from deepfake_gui.engine.score_image import encode_tiles, finish_image_score, image_tiles

    plans: dict[int, Any] = {}
    items: list[np.ndarray] = []
    spans: dict[int, tuple[int, int]] = {}
    for k, entry in enumerate(group):
        if entry.error is not None:
            entry.scores[active.name] = entry.error
            continue
        try:
            plan, crops = image_tiles(entry.image, active, opts)  # type: ignore[arg-type]
        except (ValueError, MediaError, LayerScopeError) as exc:
            entry.scores[active.name] = exc
            continue
        plans[k] = plan
        spans[k] = (len(items), len(items) + len(crops))
        items.extend(crops)
    if not items:
        return
    try:
        all_rows, all_maps = yield from encode_tiles(
            active, items, opts.batch_size, cancel,
            lambda n: Progress(done, total, f"{label}: {active.name}: tiles", n, len(items)))
    except (ValueError, MediaError, LayerScopeError):
        # one bad item must not fail its neighbours: score them one by one, as scan did before
        yield from _one_by_one(group, spans, active, opts, cancel, done, total)
        return
    for k, (lo, hi) in spans.items():
        entry = group[k]
        try:
            entry.scores[active.name] = finish_image_score(active, opts, entry.image.shape[:2],  # type: ignore[union-attr]
                                                           plans[k], all_rows[lo:hi], all_maps[lo:hi])
        except (ValueError, MediaError, LayerScopeError) as exc:
            entry.scores[active.name] = exc


def _one_by_one(group: list[PendingImage], spans: dict[int, tuple[int, int]], active, opts,
                cancel: CancelToken, done: int, total: int) -> Generator[Progress, None, None]:
    from deepfake_gui.engine.score_image import score_image_array

    for k in spans:
        entry = group[k]
        try:
            job = score_image_array(entry.image, active, opts, cancel)  # type: ignore[arg-type]
            while True:
                try:
                    event = next(job)
                except StopIteration as stop:
                    entry.scores[active.name] = stop.value
                    break
                yield Progress(done, total, f"{entry.path.name}: {event.message}", event.done, event.total)
        except (ValueError, MediaError, LayerScopeError) as exc:
            entry.scores[active.name] = exc
