"""The detector kinds LayerScope knows, by the ``kind`` a bundle's detector.json names.

Each kind's module registers itself when imported (``register_kind(kind, cls)`` at its
end), and importing ``deepfake_gui.probes`` imports every built-in kind's module
(``probes/__init__.py`` lists them), so a bundle is always read against the full list.
Adding a kind is one new module plus its line there.

A registered class brings what the bundle reader needs before any detector exists:
``check_tensors(check)`` (the layout of the kind's own tensors, returning the width of
its input rows) and ``calibrated`` (whether detector.json must state a Platt calibration,
threshold and inconclusive band). ``register_layout`` registers a bundle layout that is
not a detector by itself (``attribution``: a per-generator probe).

This module is a leaf (it imports nothing from probes), so the bundle reader can consult
it without importing the kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepfake_gui.core.errors import BundleError


@dataclass(frozen=True)
class KindEntry:
    kind: str
    check_tensors: Callable[[Any], int]  # (probes.bundle.TensorCheck) -> width of the kind's input rows
    calibrated: bool  # detector.json states calibration, threshold and inconclusive band (no defaults)
    detector: type | None  # the class that implements probes.interface.Detector; None for a layout only


_KINDS: dict[str, KindEntry] = {}


def register_kind(kind: str, cls: type) -> type:
    """Make ``kind`` loadable: bundles of this kind are validated by ``cls.check_tensors`` and load as ``cls``."""
    for attribute in ("check_tensors", "calibrated"):
        if not hasattr(cls, attribute):
            raise TypeError(f"{cls.__name__} cannot be registered as kind {kind!r}: it has no {attribute!r}")
    _register(KindEntry(kind, cls.check_tensors, bool(cls.calibrated), cls))
    return cls


def register_layout(kind: str, check_tensors: Callable[[Any], int], calibrated: bool = True) -> None:
    """A bundle kind that is read and validated, but is not a detector by itself."""
    _register(KindEntry(kind, check_tensors, calibrated, None))


def _register(entry: KindEntry) -> None:
    known = _KINDS.get(entry.kind)
    if known is not None and _name(known) != _name(entry):
        raise ValueError(f"detector kind {entry.kind!r} is already registered ({known.detector or 'a layout'})")
    _KINDS[entry.kind] = entry


def _name(entry: KindEntry) -> str:
    """What a registration is, by name: a module imported twice (a reload) registers the same kind again."""
    what = entry.detector or entry.check_tensors
    return f"{getattr(what, '__module__', '')}.{getattr(what, '__qualname__', what)}"


def known_kinds() -> list[str]:
    """Every bundle kind, sorted."""
    return sorted(_KINDS)


def detector_kinds() -> list[str]:
    """The kinds that load as a detector, sorted."""
    return sorted(k for k, e in _KINDS.items() if e.detector is not None)


def kind_entry(kind: str, where: str | Path) -> KindEntry:
    """The registered kind, or a BundleError naming the file at fault and the known kinds."""
    entry = _KINDS.get(kind)
    if entry is None:
        raise BundleError(f"{where}: unknown kind {kind!r} (known: {', '.join(known_kinds())})")
    return entry
