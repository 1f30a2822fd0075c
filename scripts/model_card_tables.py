"""Markdown tables of a detector bundle's held-out figures, for the README and release notes.

Usage: python scripts/model_card_tables.py models/audio-whisper [models/image-effnet ...]
Prints, per bundle: the headline, leave-one-generator-out per generator (AUC, 95% CI, n), leave-one-
source-out per source, the held-out calibration (coverage, accuracy, false accusations), grouped CV and
the shortcut audit. Every number comes from detector.json; nothing is recomputed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _ci(row: dict) -> str:
    ci = row.get("ci95")
    return f"{ci[0]:.3f}-{ci[1]:.3f}" if ci else "n/a"


def tables(folder: Path) -> str:
    meta = json.loads((folder / "detector.json").read_text(encoding="utf-8"))
    m = meta["metrics"]
    layers = ", ".join(meta["layer_names"])
    out = [f"#### `{folder.name}` ({meta['encoder']['name']}, {layers}, C={meta.get('classifier_C', 1.0)})", ""]
    head = m.get("headline") or {}
    if head:
        out.append(f"Leave-one-generator-out mean AUC **{head['mean_auc']:.3f}** (worst {head['min_auc']:.3f}); "
                   f"grouped CV (in-domain) {m['cv_auc']:.3f}.")
        out.append("")
    for key, title in (("logo", "held-out generator"), ("loso", "held-out source")):
        table = m.get(key) or {}
        if not table.get("held_out"):
            continue
        out += [f"| {title} | AUC | 95% CI (group bootstrap) | real | fake |", "|---|---|---|---|---|"]
        for name, row in table["held_out"].items():
            auc = "n/a" if row["auc"] is None else f"{row['auc']:.3f}"
            out.append(f"| {name} | {auc} | {_ci(row)} | {row['n_real']} | {row['n_fake']} |")
        out.append(f"| **mean** | **{table['mean_auc']:.3f}** | | | |")
        out.append("")
    sel = meta.get("selective")
    if sel:
        lo, hi = meta["inconclusive_band"]
        out.append(f"Held-out calibration (fakes of held-out generators, real files of held-out sources; "
                   f"n={sel['n']}): "
                   f"band {lo:.3f}-{hi:.3f}, coverage {sel['coverage']:.1%}, accuracy on committed files "
                   f"{sel['accuracy_committed']:.1%}, real files called fake {sel['false_accusation']:.1%}, "
                   f"fakes called fake {sel['fakes_called_fake']:.1%}.")
        out.append("")
    faces = (meta.get("domain_profile") or {}).get("faces")
    if faces:
        out.append(f"Faces in the training pictures (a face covering {faces['share_min']:.0%} or more, "
                   f"{faces['detector']}): {faces['fake_with_face']} of {faces['n_fake']} generated, "
                   f"{faces['real_with_face']} of {faces['n_real']} genuine. "
                   + ("So a face alone looks generated to it: scan withholds its verdict on a picture with a face, "
                      "and the held-out calibration above counts only pictures without one."
                      if faces.get("withheld") else "About as common in both classes: faces are judged."))
        out.append("")
    audit = m.get("shortcut_audit")
    if audit:
        out.append(f"Shortcut audit ({', '.join(audit['features'])}): grouped CV {audit['cv_auc']}, "
                   f"leave-one-generator-out {audit['logo_mean_auc']}: {audit['verdict']}.")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print("\n".join(tables(Path(p)) for p in sys.argv[1:]))
