"""Suspect files that are one of an adapted detector's genuine references (compared by SHA-256).

Reading and hashing the files is the engine's part; which hashes a bundle holds is
``probes.reference.reference_hashes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepfake_gui.core.hashing import sha256_file
from deepfake_gui.probes.bundle import load_bundle
from deepfake_gui.probes.reference import reference_hashes


def overlapping_references(bundle: Any, paths: Sequence[str | Path]) -> list[dict]:
    """Files among ``paths`` that are (byte for byte) one of the bundle's genuine references.

    A file that is both a reference and a suspect proves nothing: its distance is small and
    the adapted probe was told it is real. ``bundle``: a bundle folder, DetectorBundle,
    Detector or ActiveDetector.
    """
    if isinstance(bundle, (str, Path)):
        bundle = load_bundle(bundle)
    detector = getattr(bundle, "detector", bundle)  # ActiveDetector -> Detector
    bundle = getattr(detector, "bundle", detector)  # Detector -> DetectorBundle
    known = reference_hashes(bundle.meta)
    if not known:
        return []
    name = ((bundle.meta.get("adaptation") or {}).get("reference_set") or {}).get("name")
    hits = []
    for path in paths:
        try:
            digest = sha256_file(Path(path))
        except OSError:
            continue
        if digest in known:
            hits.append({"path": str(path), "sha256": digest, "reference_file": known[digest],
                         "reference_set": name, "detector": bundle.meta.get("name"),
                         "message": f"{path} is one of the genuine references of detector "
                                    f"{bundle.meta.get('name')!r} ({name}); its scores prove nothing"})
    return hits
