"""Turn scan results and case metadata into the plain data the report template renders.

Every value here comes straight from a ScanResult; this module only chooses what a
reader needs and formats numbers. The template escapes all of it (file names and
metadata are attacker-controlled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deepfake_gui.core.present import (
    caveat_groups,
    detector_verdict,
    domain_caveat,
    fmt_number,
    fmt_prob,
    gate_reasons,
    media_summary,
    reading_caveats,
    shown_attribution,
    track_verdict,
)
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.explain import segment_peak

MAX_META_VALUE = 400  # characters of one metadata value (a ComfyUI workflow can be megabytes)
MAX_META_ROWS = 60


@dataclass
class CaseMeta:
    """What a case adds to its results: a name, when it was made, notes, and a review status per file.

    ``statuses`` and ``file_notes`` are keyed by the file's path as stored in its result.
    """

    name: str = ""
    created: str | None = None
    notes: str = ""
    statuses: dict[str, str] = field(default_factory=dict)
    file_notes: dict[str, str] = field(default_factory=dict)
    source: str = ""  # where the results came from (a case, a JSON-lines file), said in the report
    relocated: dict[str, str] = field(default_factory=dict)  # path found by sha256 -> the path stored at scan time


def _band(d: dict[str, Any]) -> str:
    band = d.get("inconclusive_band") or []
    return f"{fmt_prob(band[0])} – {fmt_prob(band[1])}" if len(band) == 2 else "—"


def _clip(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= MAX_META_VALUE else text[:MAX_META_VALUE] + f"… ({len(text):,} characters)"


def _flatten(prefix: str, value: Any, rows: list[tuple[str, str]]) -> None:
    if len(rows) >= MAX_META_ROWS:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, rows)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            _flatten(f"{prefix}[{i}]", v, rows)
    elif value not in (None, [], {}, ""):
        rows.append((prefix, _clip(value)))


def model_card(name: str, info: dict[str, Any] | None) -> dict[str, Any]:
    """One detector's card: training domain, measured metrics, which files it is."""
    info = info or {}
    metrics = {}
    if info.get("logo_auc") is not None:
        metrics["AUC on unseen generators (leave-one-generator-out mean)"] = fmt_number(info.get("logo_auc"))
        metrics["worst unseen generator AUC"] = fmt_number(info.get("logo_min_auc"))
        metrics["share of held-out files it commits on"] = fmt_number(info.get("held_out_coverage"))
    metrics["cross-validated AUC (training domain)"] = fmt_number(info.get("cv_auc"))
    for key, value in (info.get("metrics") or {}).items():
        if isinstance(value, int | float):
            metrics[str(key)] = fmt_number(value)
    laundered = sorted((float(auc), str(condition)) for condition, auc in
                       ((info.get("robustness") or {}).get("auc") or {}).items()
                       if condition != "clean" and isinstance(auc, int | float) and not isinstance(auc, bool))
    if laundered:  # one row: the weakest conditions (every row is in the bundle's model card)
        worst = " · ".join(f"{condition} {fmt_number(auc)}" for auc, condition in laundered[:3])
        metrics[f"weakest AUC under laundering (grouped CV; {len(laundered)} conditions in its model card)"] = worst
    return {
        "name": name,
        "trained_on": info.get("trained_on") or "not stated",
        "metrics": metrics,
        "encoder": info.get("encoder") or "—",
        "layers": ", ".join(str(x) for x in info.get("layers") or []) or "—",
        "bundle": info.get("bundle") or "—",
        "bundle_sha256": info.get("bundle_sha256") or "—",
        "encoder_weights_sha256": info.get("encoder_weights_sha256") or "—",
        "present": bool(info),
    }


def integrity_line(result: ScanResult) -> str:
    """One sentence on whether the evidence stayed as it was during the scan."""
    i = result.integrity or {}
    if not i:
        return "no integrity record in this result"
    unchanged = i.get("unchanged_during_scan")
    state = ("unchanged during the scan" if unchanged else "CHANGED during the scan" if unchanged is False
             else "not checked after the scan")
    size = f"{i['size']:,} bytes" if isinstance(i.get("size"), int) else "size unknown"
    mtime = i.get("mtime_ns")
    when = datetime.fromtimestamp(mtime / 1e9, UTC).isoformat(timespec="seconds") if isinstance(mtime, int) else "?"
    return (f"File {state}: {size}, modified {when}; scanned {i.get('started_utc') or '?'} – "
            f"{i.get('finished_utc') or '?'} (UTC) with LayerScope {i.get('tool_version') or '?'}.")


def provenance_view(prov: dict[str, Any] | None) -> dict[str, Any]:
    prov = prov or {}
    c2pa = prov.get("c2pa") or {}
    c2pa_rows = [(k, _clip(c2pa[k])) for k in ("status", "validation_state", "claim_generator", "signer", "issuer",
                                              "signed_at", "title", "ai_generated", "ai_in_ingredients",
                                              "camera_capture", "digital_source_types", "manifest_count")
                 if c2pa.get(k) not in (None, [], "")]
    c2pa_rows += [("error", _clip(e)) for e in c2pa.get("errors") or []]
    meta_rows: list[tuple[str, str]] = []
    _flatten("", prov.get("metadata") or {}, meta_rows)
    hints = [{"source": _clip(h.get("source")), "meaning": _clip(h.get("meaning") or h.get("value"))}
             for h in prov.get("generator_hints") or []]
    return {
        "present": bool(prov),
        "summary": prov.get("summary") or "no provenance information in this result",
        "c2pa_present": bool(c2pa.get("present")),
        "c2pa_invalid": bool(c2pa.get("present")) and c2pa.get("valid") is False,
        "ai_metadata": bool(prov.get("ai_metadata")),
        "c2pa_rows": c2pa_rows,
        "metadata_rows": meta_rows,
        "hints": hints,
    }


def card_auc(info: dict[str, Any] | None) -> str:
    """The model card's headline AUC for a detector row, saying which one it is."""
    info = info or {}
    if info.get("logo_auc") is not None:
        return f"{fmt_number(info['logo_auc'])} (unseen generators)"
    return f"{fmt_number(info.get('cv_auc'))} (cross-validated)" if info.get("cv_auc") is not None else "—"


def extra_hashes(result: ScanResult, cards: dict[str, dict[str, Any]] | None) -> list[tuple[str, str]]:
    """Bundle and encoder hashes of this file's detectors that the versions section does not already show."""
    rows = []
    for name, info in result.detector_info.items():
        card = (cards or {}).get(name) or {}
        for key, label in (("bundle_sha256", "bundle"), ("encoder_weights_sha256", "encoder weights")):
            value = (info or {}).get(key)
            if value and value != card.get(key):
                rows.append((f"{name}: {label} SHA-256", value))
    return rows


def file_view(index: int, result: ScanResult, case: CaseMeta, figures: dict[str, Any],
              cards: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything the template shows about one file.

    ``cards``: the model cards of the versions section by detector name; a detector's training domain
    and hashes are said there once, and only a hash that differs from its card is repeated here.
    """
    detectors = []
    for name, d in result.detectors.items():
        info = result.detector_info.get(name)
        detectors.append({
            "name": name, "track": d.get("track") or "—", "verdict": detector_verdict(result, d),
            "probability": fmt_prob(d.get("probability")), "score": fmt_number(d.get("score"), ".2f"),
            "threshold": fmt_prob(d.get("threshold")), "band": _band(d), "auc": card_auc(info),
            "aggregation": d.get("aggregation") or "—", "calibration": d.get("calibration") or "—",
            "card": model_card(name, info),
        })
    components = [{"track": t, "detector": c.get("detector") or "—", "verdict": track_verdict(c),
                   "probability": fmt_prob(c.get("probability"))}
                  for t, c in (result.components or {}).items() if t != "fusion"]
    fusion = (result.components or {}).get("fusion")
    lead_band = next((_band(d) for d in result.detectors.values() if d.get("inconclusive_band")), "—")
    segments = [{"track": s.get("track"), "detector": s.get("detector"), "start": fmt_number(s.get("start_s"), ".2f"),
                 "end": fmt_number(s.get("end_s"), ".2f"), "duration": fmt_number(s.get("duration_s"), ".2f"),
                 "peak": fmt_prob(segment_peak(result, s)), "within_real": bool(s.get("within_real_file"))}
                for s in result.segments]  # the peak of the series the timeline figure draws
    reasons, suggestion = gate_reasons(result)
    key_caveats, other_caveats = caveat_groups(result)
    return {
        "anchor": f"file-{index}",
        "index": index,
        "name": Path(result.path).name,
        "path": result.path,
        "status": result.status,
        "error": result.error,
        "modality": result.modality or "—",
        "verdict": result.verdict or ("error" if result.status != "ok" else "no verdict"),
        "verdict_class": result.verdict or ("error" if result.status != "ok" else "none"),
        "probability": fmt_prob(result.probability),
        "score": fmt_number(result.score, ".2f"),
        "band": lead_band,
        "components": components,
        "fusion": (fusion or {}).get("explanation") and f"{fusion.get('rule')}: {fusion.get('explanation')}",
        "detectors": detectors,
        "gate": {"reasons": reasons, "suggestion": suggestion} if reasons else None,
        # which generator: only asked of a file called fake, and never "real" (present.shown_attribution)
        "attribution": [{"class": a.get("class"), "probability": fmt_prob(a.get("probability")),
                         "detector": a.get("detector")} for a in shown_attribution(result, top=5)],
        # ranked as in the app: what changes how to read this verdict first; the detectors' training
        # domains are said once, in the model cards of the versions section
        "caveats": reading_caveats(result),
        "key_caveats": key_caveats,
        "other_caveats": other_caveats,
        "domain_caveats": sum(domain_caveat(c, result.detectors) for c in result.caveats),
        "segments": segments,
        "provenance": provenance_view(result.provenance),
        "media": media_summary(result.media, exact_bytes=True),
        "sha256": result.sha256 or "—",
        "hashes": extra_hashes(result, cards),
        "moved_from": case.relocated.get(result.path),
        "integrity": integrity_line(result),
        "review_status": case.statuses.get(result.path) or "",
        "review_note": case.file_notes.get(result.path) or "",
        "figures": figures,
    }


def summary_rows(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: f[k] for k in ("anchor", "index", "name", "modality", "verdict", "verdict_class", "probability",
                               "band", "review_status")}
            | {"caveats": len(f["caveats"]), "segments": len(f["segments"]),
               "provenance": provenance_flag(f["provenance"])} for f in files]


def provenance_flag(view: dict[str, Any]) -> str:
    """A word for the summary table (the sentence is in the file's section): it must fit a narrow column."""
    if view.get("c2pa_invalid"):
        return "C2PA broken"
    if view.get("ai_metadata"):
        return "AI metadata"
    return "C2PA" if view.get("c2pa_present") else "—"


def detector_versions(results: list[ScanResult]) -> list[dict[str, Any]]:
    """Every detector that scored any file, with its card (the per-case list of versions)."""
    cards: dict[str, dict[str, Any]] = {}
    for r in results:
        for name in r.detectors:
            if name not in cards or not cards[name]["present"]:
                cards[name] = model_card(name, r.detector_info.get(name))
    return [cards[n] for n in sorted(cards)]


def tool_versions(results: list[ScanResult]) -> list[str]:
    return sorted({str((r.integrity or {}).get("tool_version")) for r in results
                   if (r.integrity or {}).get("tool_version")})
