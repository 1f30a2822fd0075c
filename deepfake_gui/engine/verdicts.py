"""From per-detector track scores to one file verdict, without hiding anything.

Rules (documented in the README, tested in tests/engine/test_verdicts.py):
- Each detector's calibrated probability gets its own verdict from its own
  inconclusive band. A detector on random weights gets no verdict at all.
- Within a track (image, frames, audio), the first detector (the user's choice,
  else the best cross-validated AUC) leads. If another detector on the same track
  says the opposite (fake against real), the track's verdict is "inconclusive"
  and a caveat says "detectors disagree".
- A video fuses its tracks by the fusion rule (default "max": it is fake when
  either its pictures or its sound are; a real picture with a cloned voice is
  still a fake). Both component scores are kept under ``components``.
"""

from __future__ import annotations

import numpy as np

from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.track import TrackScore

TRACK_ORDER = ("image", "frames", "audio")


def _detector_verdict(active, score: TrackScore) -> str | None:
    if active.random_init:
        return None
    return score.calibration.verdict(score.probability)


def track_verdict(verdicts: list[str | None]) -> str | None:
    """The lead detector's verdict, unless another detector on the track says the opposite."""
    known = [v for v in verdicts if v is not None]
    if not known:
        return None
    if "fake" in known and "real" in known:
        return "inconclusive"
    return known[0]


def fuse_verdicts(verdicts: list[str | None]) -> str | None:
    """A file with several tracks: fake if any track is, real only if all are."""
    known = [v for v in verdicts if v is not None]
    if not known:
        return None
    if "fake" in known:
        return "fake"
    if all(v == "real" for v in known):
        return "real"
    return "inconclusive"


def _attribution(active, score: TrackScore, top: int = 3) -> list[dict]:
    proba = active.detector.attribution(score.features)
    if proba is None:
        return []
    classes = active.detector.attribution_classes
    order = np.argsort(-proba[0])[:top]
    return [{"class": classes[i], "probability": round(float(proba[0, i]), 4), "detector": active.name}
            for i in order]


def domain_gate_entry(active, score: TrackScore) -> dict | None:
    """Distance to the training data against the threshold calibrated on held-out sources (engine/gate.py)."""
    measured = active.detector.gate_distance(score.features)
    if measured is None:
        return None
    distances, threshold = measured
    distance = float(np.max(distances))
    outside = bool(distance > threshold)
    what = {"audio": "recording", "image": "picture", "frames": "video"}.get(score.track, score.track)
    message = (f"this {what} is further from {active.name}'s training data ({distance:.3g}) than 99% of the files of "
               f"sources it was never trained on ({threshold:.3g}): it was recorded or made unlike anything the "
               "detector knows" if outside else "inside the training domain")
    return {"distance": round(distance, 4), "threshold": round(threshold, 4), "outside": outside, "message": message}


def robustness_summary(table: dict | None) -> dict | None:
    """The model card's robustness table in short: AUC per laundering condition, how it was measured."""
    if not isinstance(table, dict) or not isinstance(table.get("conditions"), dict):
        return None
    auc = {str(k): (round(float(v["auc"]), 4) if isinstance(v, dict) and isinstance(v.get("auc"), int | float)
                    else None) for k, v in table["conditions"].items()}
    return {"auc": auc, "augment": table.get("augment"), "method": table.get("method"),
            "in_augmentation": list(table.get("in_augmentation") or []), "selection": table.get("selection")}


def finish_result(result: ScanResult, info, scores: list[TrackScore], detectors: list, options,
                  content=None) -> ScanResult:
    """Per-detector entries, caveats, and the verdict of each track and of the file.

    ``content``: the file's analysis.content.ContentCheck when it was measured (its noise
    floor adds a laundering match the container cannot show).
    """
    from deepfake_gui.engine.caveat_rules import (
        decided_alone,
        detector_caveats,
        file_caveats,
        file_condition_matches,
        signal_condition_matches,
        weak_condition,
    )
    from deepfake_gui.engine.reference_overlap import overlapping_references
    from deepfake_gui.probes.reference import describe_reference_set, reference_line

    by_name = {d.name: d for d in detectors}
    matches = file_condition_matches(info, [by_name[s.detector] for s in scores])  # read once per file
    matches += signal_condition_matches(content)
    tracks: dict[str, list[tuple[object, TrackScore]]] = {}
    withheld_tracks: dict[str, tuple[str, str] | None] = {}  # decided by each track's lead (its first score)
    for score in scores:
        if score.track not in withheld_tracks:
            withheld_tracks[score.track] = withheld_track(score.track, by_name[score.detector], score.facts, info,
                                                          content)
    for score in scores:
        active = by_name[score.detector]
        span = (active.detector.meta.get("domain_profile") or {}).get("duration_s")
        if span:
            score.facts["trained_min_duration_s"] = float(span[0])
        score.verdict = _detector_verdict(active, score)
        tracks.setdefault(score.track, []).append((active, score))
        result.detectors[active.name] = {
            "track": score.track, "score": round(score.decision, 4), "probability": round(score.probability, 4),
            "verdict": score.verdict, "aggregation": score.aggregation,
            "threshold": round(score.calibration.threshold, 4),
            "inconclusive_band": [round(b, 4) for b in score.calibration.band],
            "calibration": score.calibration.source,
        }
        result.detector_info[active.name] = {
            "bundle": str(active.folder), "bundle_sha256": active.detector.bundle.content_hash(),
            "encoder": active.detector.encoder_name,
            "encoder_weights_sha256": getattr(active.encoder, "weights_sha256", None),
            "layers": active.detector.meta.get("layer_names"), "trained_on": active.describe_domain(),
            "cv_auc": active.detector.meta.get("metrics", {}).get("cv_auc"),
            # unseen generators: the model card's headline (leave-one-generator-out), and how often it commits
            "logo_auc": (active.detector.meta.get("metrics", {}).get("headline") or {}).get("mean_auc"),
            "logo_min_auc": (active.detector.meta.get("metrics", {}).get("headline") or {}).get("min_auc"),
            "held_out_coverage": (active.detector.meta.get("selective") or {}).get("coverage"),
            "localization": active.detector.meta.get("localization"),  # measured where-figures, if any
            "adapted_to": describe_reference_set(active.detector.meta),  # reference set (layerscope adapt)
            "robustness": robustness_summary(active.detector.meta.get("robustness")),
        }
        gate = domain_gate_entry(active, score)
        if gate is not None:
            result.detectors[active.name]["domain_gate"] = gate
        line = reference_line(active, score.features)  # distance to genuine references: its own line
        if line is not None:
            result.detectors[active.name]["reference"] = line
            if line["flagged"]:
                result.caveats.append(f"{active.name}: unlike the genuine references ({line['reference_set']}): "
                                      f"distance {line['distance']:.3g} > {line['threshold']:.3g}")
        result.caveats += [hit["message"] for hit in overlapping_references(active, [result.path])]
        if withheld_tracks[score.track] is None:  # a withheld track's detector caveats would only distract
            result.caveats += score.caveats + detector_caveats(active, score, info, matches)
        if options.keep_arrays and score.arrays:
            result.arrays[f"{score.track}/{active.name}"] = score.arrays
    result.caveats += file_caveats(info, scores, options)

    components: dict[str, dict] = {}
    for track in sorted(tracks, key=TRACK_ORDER.index):
        members = tracks[track]
        lead_active, lead = members[0]
        verdict = track_verdict([s.verdict for _, s in members])
        opinions = {s.verdict for _, s in members if s.verdict is not None}
        because = weak = weak_condition(lead_active, track, matches) if verdict in ("fake", "real") else None
        withheld = withheld_tracks[track]
        if withheld is not None:  # whatever the detectors say: a face, frames it would enlarge, music, a call
            verdict, because, weak = "inconclusive", withheld[1], None
            for active, _ in members:  # their own verdicts would read as findings
                result.detectors[active.name] |= {"verdict": "inconclusive", "withheld": withheld[1],
                                                  "withheld_code": withheld[0]}
        if weak is not None and (len(members) < 2 or opinions != {verdict}
                                 or any(s.verdict is None for _, s in members)):
            verdict = "inconclusive"  # the lead's band does not hold here, and the others do not all agree
        if verdict in ("fake", "real") and weak is None and withheld is None:
            alone = decided_alone(lead_active, track, [(a.name, s.verdict) for a, s in members[1:]], verdict,
                                  round(lead.probability, 4))  # as the JSON and the card's table hold it
            if alone is not None and alone[1]:
                verdict, because = "inconclusive", alone[0]
            elif alone is not None:
                result.caveats.append(alone[0])
        if {"fake", "real"} <= opinions and withheld is None:
            said = ", ".join(f"{a.name} says {s.verdict} ({s.probability:.2f})" for a, s in members)
            result.caveats.append(f"detectors disagree on the {track}: {said}; the {track} is reported inconclusive")
        components[track] = {"detector": lead_active.name, "score": round(lead.decision, 4),
                             "probability": round(lead.probability, 4), "verdict": verdict}
        if verdict == "inconclusive" and because is not None:
            components[track]["inconclusive_because"] = f"inconclusive: {because}"
        if withheld is not None:
            components[track]["withheld"] = withheld[0]
        if lead.series:
            result.series[track] = lead.series
        if track == "image" and "heatmap" in lead.facts:
            result.heatmap = lead.facts["heatmap"] | {"detector": lead_active.name}
        if verdict is not None and verdict != "real" and withheld is None:
            result.attribution = result.attribution or _attribution(lead_active, lead)
    if not components:
        if not scores:
            result.caveats.append("no detector ran on this file: there is no verdict")
        return result

    scored = {t: c for t, c in components.items() if c["verdict"] is not None}
    if not scored:
        result.caveats.append("no verdict: every detector that ran uses random weights")
        result.components = components if len(components) > 1 else {}
        return result
    if len(scored) == 1:
        track, comp = next(iter(scored.items()))
        result.score, result.probability, result.verdict = comp["score"], comp["probability"], comp["verdict"]
    else:
        from deepfake_gui.analysis.aggregate import fuse_modalities

        # the file's number comes from the tracks that were judged; a withheld one only keeps the file from "real"
        judged = {t: c for t, c in scored.items() if not c.get("withheld")} or scored
        probability, why = fuse_modalities({t: c["probability"] for t, c in judged.items()}, options.fusion_rule)
        if len(judged) < len(scored):
            left = ", ".join(f"the {t}" for t in scored if t not in judged)
            why = f"only {', '.join(judged)} was judged: {probability:.2f} ({left} withheld)"
        driver = max(judged, key=lambda t: judged[t]["probability"])
        result.probability = round(float(probability), 4)
        result.score = judged[driver]["score"] if options.fusion_rule == "max" else None
        verdicts = [c["verdict"] for c in scored.values()]
        if options.fusion_rule == "max":
            result.verdict = fuse_verdicts(verdicts)
        else:  # an average only speaks when the tracks agree
            result.verdict = verdicts[0] if len(set(verdicts)) == 1 else "inconclusive"
        components["fusion"] = {"rule": options.fusion_rule, "explanation": why}
    if len(components) > 1:
        result.components = components
    if result.verdict == "real":
        result.attribution = []
    if result.verdict == "inconclusive":
        result.caveats[:0] = band_reasons(tracks, components)
    return result


def withheld_track(track: str, active, facts: dict, info, content) -> tuple[str, str] | None:
    """(gate code, reason) when a track of the file cannot be judged, whatever its detectors say."""
    if track == "frames":
        return withheld_frames(active, facts)
    if track == "audio":
        from deepfake_gui.engine.gate import soundtrack_reason

        return soundtrack_reason(info, content)  # a video's soundtrack that is music, silence, a phone call
    return None


def withheld_frames(active, facts: dict) -> tuple[str, str] | None:
    """(gate code, reason) when a video's picture track cannot be judged: a face, frames it would enlarge, or
    frames that are no photograph (flat, graphics)."""
    from deepfake_gui.engine.face_gate import frames_face_reason
    from deepfake_gui.engine.gate import frames_content_reason, frames_enlarged_reason

    face = frames_face_reason(active, facts)
    if face is not None:
        return "face", face
    enlarged = frames_enlarged_reason(active, facts)
    if enlarged is not None:
        return "enlarged", enlarged
    return frames_content_reason(facts)


def band_reasons(tracks: dict, components: dict) -> list[str]:
    """Why a track is inconclusive when no detector disagreed: its probability lies inside the band."""
    out = []
    for track, members in tracks.items():
        if components.get(track, {}).get("verdict") != "inconclusive":
            continue
        if components[track].get("inconclusive_because"):  # a laundering condition it is weak under
            out.append(components[track]["inconclusive_because"])
            continue
        opinions = {s.verdict for _, s in members if s.verdict is not None}
        if {"fake", "real"} <= opinions:
            continue  # the disagreement caveat says why
        active, lead = members[0]
        lo, hi = lead.calibration.band
        out.append(f"inconclusive: P(fake) {lead.probability:.2f} of the {track} lies inside {active.name}'s "
                   f"inconclusive band ({lo:.2f}-{hi:.2f}), where it was not reliable on generators and sources "
                   "it had not seen")
    return out
