"""How often genuine files are called fake, per kind of genuine input, through the full scan.

Runs ``scan`` (content checks, domain gate, calibrated bands: exactly what a user gets)
over a manifest of genuine files with a ``kind`` column (engine/ood_corpus.py makes one)
and counts, per kind, files called fake (false accusations), inconclusive, real and
errors, and whether every file not called real says why.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import CancelToken, Progress


@dataclass
class KindRow:
    n: int = 0
    fake: int = 0
    inconclusive: int = 0
    real: int = 0
    error: int = 0
    unexplained: int = 0  # not called real, and no gate reason or caveat says why
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        scored = max(self.n - self.error, 1)
        return {"n": self.n, "called_fake": self.fake, "inconclusive": self.inconclusive, "called_real": self.real,
                "errors": self.error, "false_accusation_rate": round(self.fake / scored, 4),
                "coverage": round((self.fake + self.real) / scored, 4), "without_reason": self.unexplained,
                "reasons": dict(sorted(self.reasons.items()))}


@dataclass
class FalseAccusationReport:
    data: str
    kinds: dict[str, KindRow]
    files: list[dict]

    def to_dict(self) -> dict:
        total = KindRow()
        for row in self.kinds.values():
            for name in ("n", "fake", "inconclusive", "real", "error", "unexplained"):
                setattr(total, name, getattr(total, name) + getattr(row, name))
        return {"data": self.data, "per_kind": {k: v.to_dict() for k, v in sorted(self.kinds.items())},
                "total": total.to_dict(), "files": self.files}


def read_genuine_manifest(path: Path) -> list[tuple[Path, str]]:
    """(file, kind) rows of a manifest whose files are all genuine."""
    manifest = path / "manifest.csv" if path.is_dir() else path
    if not manifest.is_file():
        raise LayerScopeError(f"{path}: no manifest.csv (make one with scripts/make_ood_corpus.py)")
    with open(manifest, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if "kind" not in (reader.fieldnames or []) or "path" not in (reader.fieldnames or []):
            raise LayerScopeError(f"{manifest}: needs the columns path and kind")
        rows = []
        for line, row in enumerate(reader, start=2):
            if (row.get("label") or "real").strip().lower() != "real":
                raise LayerScopeError(f"{manifest}:{line}: every file must be genuine (label real)")
            rows.append((manifest.parent / row["path"], row["kind"].strip() or "unknown"))
    if not rows:
        raise LayerScopeError(f"{manifest}: no rows")
    return rows


def false_accusation_job(data: Path, options=None, cancel: CancelToken | None = None,
                         detectors: list | None = None) -> Iterator[Progress | FalseAccusationReport]:
    """Scan every genuine file; yield Progress, then the per-kind table."""
    from deepfake_gui.engine.scan import ScanOptions, scan_job

    rows = read_genuine_manifest(Path(data))
    kind_of = {str(p.resolve()): k for p, k in rows}
    options = options or ScanOptions(keep_arrays=False, provenance=False)
    kinds: dict[str, KindRow] = {}
    files: list[dict] = []
    for event in scan_job([p for p, _ in rows], options, cancel, detectors):
        if isinstance(event, Progress):
            yield event
            continue
        kind = kind_of.get(str(Path(event.path).resolve()), "unknown")
        row = kinds.setdefault(kind, KindRow())
        row.n += 1
        reasons = [r["code"] for r in (event.gate or {}).get("reasons", [])]
        # a track withheld while the file's other track was judged (a soundtrack of music, frames with a face)
        reasons += [f"{track}:{comp['withheld']}" for track, comp in (event.components or {}).items()
                    if isinstance(comp, dict) and comp.get("withheld") and f"{track}:{comp['withheld']}" not in reasons]
        if event.status != "ok":
            row.error += 1
        elif event.verdict == "fake":
            row.fake += 1
        elif event.verdict == "real":
            row.real += 1
        else:
            row.inconclusive += 1
        for code in reasons:
            row.reasons[code] = row.reasons.get(code, 0) + 1
        if event.status == "ok" and event.verdict != "real" and not reasons and not event.caveats:
            row.unexplained += 1
        files.append({"path": event.path, "kind": kind, "status": event.status, "verdict": event.verdict,
                      "probability": event.probability, "reasons": reasons})
    yield FalseAccusationReport(str(data), kinds, files)
