"""The reference split: hold one source out of training, adapt on half of it, test on the other half.

Why: the honest way to measure ``layerscope adapt`` is to play the journalist's situation on labelled
data. One *source* (a speaker; for the image set, a photo source, i.e. the package/library a photo
came from: one photographer pool and one editing/processing chain) is held out of training entirely,
fakes included. Half of its groups (sentences / photos) give the genuine references; the other half,
real and fake, is the test. Everything is grouped by ``group``: a sentence or photo of the test half is
never in training nor among the references, even when another source says or shows it (the audio set's
four speakers share the same 90 prompt keys). Reference-half groups spoken by *other* speakers stay in
training: they are not test material, and dropping every group of the held-out speaker would leave
nothing to train on.

Pure functions over manifest rows (dicts as csv.DictReader gives them); no encoder, no I/O except
``read_manifest`` / ``write_manifest``.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from deepfake_gui.core.errors import LayerScopeError

Row = dict[str, str]
DEFAULT_MIN_GROUPS = 4  # at least 2 groups in each half, or a grouped interval means nothing


class ReferenceSplit(NamedTuple):
    """Training rows (the held-out source never seen), reference rows (real only), test rows (real + fake)."""

    training: list[Row]
    references: list[Row]
    test: list[Row]

    @property
    def reference_groups(self) -> list[str]:
        return sorted({r["group"] for r in self.references})

    @property
    def test_groups(self) -> list[str]:
        return sorted({r["group"] for r in self.test})


def sources(rows: Sequence[Mapping[str, str]], source_column: str) -> list[str]:
    """The sources that have real items (only those can give references), sorted."""
    return sorted({r[source_column] for r in rows if r.get("label") == "real" and r.get(source_column)})


def reference_split(rows: Sequence[Mapping[str, str]], source: str, source_column: str = "speaker", *,
                    reference_fraction: float = 0.5, seed: int = 0, min_groups: int = DEFAULT_MIN_GROUPS,
                    where: str = "manifest") -> ReferenceSplit:
    """Split manifest rows for a held-out before/after measurement of adapting to ``source``.

    - test groups / reference groups: the groups of ``source``'s rows, shuffled with ``seed``;
      ``reference_fraction`` of them (at least one, never all) are reference groups, the rest test groups;
    - references: ``source``'s *real* rows in reference groups;
    - test: ``source``'s rows, real and fake, in test groups;
    - training: rows of every other source whose group is not a test group.
    ``where`` names the manifest in error messages.
    """
    if not rows:
        raise LayerScopeError(f"{where}: no rows")
    missing = {"path", "label", "group", source_column} - set(rows[0])
    if missing:
        raise LayerScopeError(f"{where}: missing column(s) {sorted(missing)} needed for a reference split")
    if not 0.0 < reference_fraction < 1.0:
        raise LayerScopeError(f"reference fraction must be in (0, 1), got {reference_fraction}")
    known = sources(rows, source_column)
    if source not in known:
        raise LayerScopeError(f"{where}: no real items of {source_column} {source!r}; sources with real items: "
                              f"{', '.join(known) or 'none'}")
    own = [dict(r) for r in rows if r[source_column] == source]
    groups = sorted({r["group"] for r in own})
    if len(groups) < min_groups:
        raise LayerScopeError(f"{where}: {source_column} {source!r} has only {len(groups)} group(s); a reference "
                              f"split needs at least {min_groups} (half for references, half for the test)")
    order = [str(g) for g in np.random.default_rng(seed).permutation(groups)]
    n_ref = min(len(order) - 1, max(1, round(len(order) * reference_fraction)))
    ref_groups, test_groups = set(order[:n_ref]), set(order[n_ref:])
    references = [r for r in own if r["group"] in ref_groups and r["label"] == "real"]
    test = [r for r in own if r["group"] in test_groups]
    training = [dict(r) for r in rows if r[source_column] != source and r["group"] not in test_groups]
    if not references:
        raise LayerScopeError(f"{where}: {source_column} {source!r} has no real items in its reference half "
                              f"(seed {seed}); try another seed or source")
    if not any(r["label"] == "fake" for r in test) or not any(r["label"] == "real" for r in test):
        raise LayerScopeError(f"{where}: the test half of {source_column} {source!r} lacks real or fake items; "
                              "a before/after measurement needs both")
    if not training:
        raise LayerScopeError(f"{where}: nothing is left to train on once {source!r} is held out")
    return ReferenceSplit(training, references, test)


def read_manifest(path: str | Path) -> list[Row]:
    """The rows of a manifest.csv, as strings."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return [dict(r) for r in csv.DictReader(fh)]
    except OSError as exc:
        raise LayerScopeError(f"{path}: cannot read the manifest ({exc.strerror or exc})") from exc


def write_manifest(rows: Sequence[Mapping[str, str]], dest: str | Path, data_root: str | Path) -> Path:
    """Write ``rows`` as a manifest.csv whose paths are absolute (resolved against ``data_root``).

    Absolute paths let the split manifests live anywhere (a temporary folder) and still point at the
    shared data, so feature-cache entries (keyed by file content) are reused.
    """
    if not rows:
        raise LayerScopeError(f"{dest}: no rows to write")
    dest, root = Path(dest), Path(data_root).resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fields = list(rows[0])
    with open(dest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "path": str(root / r["path"])})
    return dest
