"""The gate in front of every verdict: say "inconclusive, and why" where the detectors know nothing.

A confident false accusation is the worst thing this tool can do, and the
detectors score whatever they are given. Two kinds of checks stand in front of
the verdict:

- **content** (analysis/content.py): too small, flat, synthetic graphics, silence,
  too short, noise, tones or music: there is nothing a detector can judge; speech
  through a phone call's voice codec (engine/voice_codec.py): the detectors cannot
  tell a genuine call from a generated one. A video's soundtrack and sampled frames
  go through the same checks, and a failing track alone is withheld
  (``soundtrack_reason``, ``frames_content_reason``);
- **domain** (``detector.out_of_domain``, calibrated on held-out sources when the
  bundle carries a ``domain_gate``): the features lie further from the training
  data than the files of sources the detector never saw.

A gated file keeps its score and probability (shown, never hidden), but its
verdict becomes ``inconclusive``, its attribution and suspected segments are
withheld, and ``result.gate`` says why in words.
"""

from __future__ import annotations

from pathlib import Path

from deepfake_gui.core.results import ScanResult

MAX_AUDIO_CHECK_S = 120.0  # content of longer files is judged on their first two minutes
CHECK_RATE = 16000
JPEG_QUALITY_MARGIN = 5  # JPEG qualities within this of the training pictures' lowest count as seen

ADAPT_SUGGESTION = ("if this is a recording chain or person the detectors have not heard, add genuine recordings "
                    "of it with `layerscope adapt` and scan again")


def content_check(path: Path, info, decoder=None):
    """The file's content check (analysis/content.ContentCheck), or None when it cannot be decoded here.

    Decoding errors are not the gate's business: the scorers report them. But a
    decoder that crashed, hung or went past the memory budget (FileStopped) stops
    the file, here as anywhere. ``decoder``: engine.decoding (None: this process).
    """
    from deepfake_gui.analysis.content import check_audio, check_image
    from deepfake_gui.core.errors import FileStopped, LayerScopeError
    from deepfake_gui.engine.decoding import LocalDecoder

    decoder = decoder or LocalDecoder()
    try:
        if info.modality == "image":
            return check_image(decoder.image(path))
        if info.modality == "audio" or (info.modality == "video" and info.has_audio):  # a video: its soundtrack
            audio = decoder.audio(path, CHECK_RATE, max_seconds=MAX_AUDIO_CHECK_S)
            return voice_codec_check(check_audio(audio, CHECK_RATE), audio)
    except FileStopped:
        raise
    except (LayerScopeError, ValueError, OSError):
        return None
    return None


def soundtrack_reason(info, check) -> tuple[str, str] | None:
    """(code, reason) when a video's soundtrack is nothing the sound detectors can judge: music, silence, a call.

    Only the soundtrack is withheld then: the picture track is still judged, and a
    fake picture makes the file fake while a genuine-looking one leaves it inconclusive.
    """
    if info.modality != "video" or check is None or not check.reasons:
        return None
    return check.reasons[0]["code"], "the soundtrack: " + "; ".join(r["message"] for r in check.reasons)


def voice_codec_check(check, audio):
    """Speech that passed the content checks, checked for a phone call's voice codec (engine/voice_codec.py)."""
    from deepfake_gui.engine.voice_codec import VoiceCodecCheckError, shipped_check

    if not check.judgeable:
        return check
    try:
        codec = shipped_check()
    except VoiceCodecCheckError as exc:  # a damaged install: no verdict rather than a call called fake
        check.reasons.append({"code": "check-unavailable", "message": (
            f"the phone-call check could not run ({exc}); without it a genuine call could be called fake")})
        return check
    if codec is None:
        return check
    score = codec.score(audio)
    check.stats["voice_codec_score"] = score
    reason = codec.reason(score)
    if reason is not None:
        check.kind = "phone-call"
        check.reasons.append(reason)
    return check


def domain_reasons(result: ScanResult) -> list[dict[str, str]]:
    """Reasons from the detectors' calibrated domain gates (set by finish_result in ``detectors[*]``)."""
    out = []
    for name, entry in result.detectors.items():
        if not isinstance(entry, dict) or entry.get("withheld"):  # a withheld track has no verdict to gate
            continue
        gate = entry.get("domain_gate")
        if isinstance(gate, dict) and gate.get("outside"):
            out.append({"code": "outside-domain", "message": f"{name}: {gate['message']}"})
    return out


def withheld_track_reasons(result: ScanResult) -> list[dict[str, str]]:
    """The gate reasons of a file whose every scored track was withheld (a face, enlarged frames, a soundtrack of
    music or a phone call).

    With one track judged the file keeps that track's verdict, and the other's reason is under
    ``components`` (and first in the caveats when the file ends inconclusive).
    """
    entries = [e for e in result.detectors.values() if isinstance(e, dict) and e.get("verdict") is not None]
    if not entries or not all(e.get("withheld") for e in entries):
        return []
    reasons = [{"code": e.get("withheld_code", "face"), "message": e["withheld"]} for e in entries]
    return [r for i, r in enumerate(reasons) if r not in reasons[:i]]  # each track's reason once


def image_detector_cards(detectors: list) -> list[tuple[str, dict]]:
    """(name, detector.json) of each usable picture detector, by name: what the picture checks read."""
    out = []
    for d in sorted(detectors, key=lambda d: d.name):
        if d.modality == "image" and not d.unavailable:
            out.append((d.name, getattr(getattr(d, "detector", None), "meta", None) or {}))
    return out


def recompression_reasons(path: Path, info, detectors: list, decoder=None) -> list[dict[str, str]]:
    """A JPEG re-compressed harder than every picture an image detector was trained on: not measured, so no verdict.

    The bundle's ``domain_profile.jpeg_quality_min`` is the lowest JPEG quality among its training pictures.
    """
    if info.modality != "image":
        return []
    floors = {}
    for name, meta in image_detector_cards(detectors):
        floor = (meta.get("domain_profile") or {}).get("jpeg_quality_min")
        if isinstance(floor, int | float):
            floors[name] = floor
    if not floors:
        return []
    from deepfake_gui.engine.decoding import LocalDecoder

    quality = (decoder or LocalDecoder()).jpeg_quality(path)  # None when it cannot be read
    if quality is None:
        return []
    out = []
    for name, floor in sorted(floors.items()):
        if quality < floor - JPEG_QUALITY_MARGIN:
            out.append({"code": "recompressed", "message": (
                f"{name}: re-compressed harder (JPEG quality about {quality}) than any picture it was trained on "
                f"(quality {int(floor)} or better): its accuracy on such copies is not measured; a messaging-app "
                "copy of a genuine photo can look generated to it")})
    return out


def smallest_training_side(meta: dict) -> int | None:
    """The shortest side among the pictures a bundle's domain profile probed (None when it has no sizes)."""
    size_range = (meta.get("domain_profile") or {}).get("size_range")
    try:
        return int(min(size_range[0]))
    except (TypeError, ValueError, IndexError):
        return None


def enlargement_reasons(info, detectors: list) -> list[dict[str, str]]:
    """A picture smaller than every picture an image detector was trained on: it would be enlarged, so no verdict.

    An image detector scores native-resolution tiles; a picture shorter than a tile is enlarged to fit,
    and enlarging smooths it the way a generator's decoder does. Measured on genuine photos: 12 of 14
    old face photos of 142-283 px and 5 of 20 test photos shrunk to 96-128 px were called fake
    (docs/measurements.md, "Small pictures"). ``domain_profile.size_range`` holds the smallest width and
    height among a sample of the training pictures (all, for the defaults: 224 px tiles and larger).
    """
    if info.modality != "image" or not info.width or not info.height:
        return []
    short = min(int(info.width), int(info.height))
    out = []
    for name, meta in image_detector_cards(detectors):
        floor = smallest_training_side(meta)
        if floor is not None and short < floor:
            out.append({"code": "enlarged", "message": (
                f"{name}: {info.width}x{info.height} px, smaller than its training pictures ({floor} px a side or "
                "more); enlarged, a genuine photo looks smooth like a generator's output")})
    return out


def frames_enlarged_reason(active, facts: dict) -> str | None:
    """Why a video's picture track is withheld: frames smaller than every picture its detector was trained on.

    Measured: eight genuine videos at 160x160 px (made like the 480 px ones, which were never called fake)
    got P(fake) up to 0.94, one called fake.
    """
    floor = smallest_training_side(getattr(active.detector, "meta", None) or {})
    short = facts.get("frame_short_side")
    if floor is None or not isinstance(short, int) or short >= floor or facts.get("faces_requested"):
        return None
    return (f"{active.name}: the frames are {short} px on their shorter side, smaller than its training pictures "
            f"({floor} px a side or more); enlarged, genuine footage looks smooth like a generator's output")


def frames_content_reason(facts: dict) -> tuple[str, str] | None:
    """(code, reason) when most sampled frames are no photograph: a screen recording, a chart, a flat colour.

    The picture detectors learned photographs; on a video of a smooth gradient the image default said
    "fake" (3 of 5), on one of a chart "real" (4 of 5). Half the frames checked or more must fail.
    """
    check = facts.get("content_check") or {}
    checked, failed = int(check.get("frames_checked") or 0), int(check.get("frames_unjudgeable") or 0)
    reason = check.get("reason")
    if not checked or 2 * failed < checked or not isinstance(reason, dict):
        return None
    return reason["code"], f"the pictures: {failed} of {checked} frames checked are {reason['message']}"


def apply_gate(result: ScanResult, check=None, extra: list[dict[str, str]] | None = None) -> ScanResult:
    """Turn a committed verdict into "inconclusive" when a content or domain check fails; record why."""
    file_check = check is not None and result.modality != "video"  # a video's check is its soundtrack's
    reasons = list(check.reasons) if file_check else []
    content_failed = bool(reasons)
    if not content_failed:
        reasons += list(extra or []) + domain_reasons(result)
    if check is not None:
        key = "content" if file_check else "soundtrack_content"
        result.media = (result.media or {}) | {key: check.to_dict()}
    if not reasons or result.status != "ok":
        return result
    suggestion = None  # references teach a new voice or channel, not music, graphics or faces
    if result.modality in ("audio", "video") and any(r["code"] == "outside-domain" for r in reasons):
        suggestion = ADAPT_SUGGESTION
    result.gate = {"reasons": reasons, "suggestion": suggestion,
                   "verdict_before_gate": result.verdict}
    if result.verdict in ("fake", "real"):
        result.verdict = "inconclusive"
    result.attribution = []
    for track in result.components.values():
        if isinstance(track, dict) and track.get("verdict") in ("fake", "real"):
            track["verdict"] = "inconclusive"
    from deepfake_gui.engine.caveat_rules import UNPROVEN, UPSCALED

    if any(r["code"] == "enlarged" for r in reasons):  # the reason says what the small-picture caveat said
        result.caveats = [c for c in result.caveats if UPSCALED not in c]
    if result.verdict == "inconclusive":  # "only X says fake ... the fake verdict is unproven": no verdict is left
        result.caveats = [c for c in result.caveats if UNPROVEN not in c]
    # the held-out-items distance caveat of a detector whose held-out-source gate fired says the same, weaker
    outside = [r["message"].split(":", 1)[0] for r in reasons if r["code"] == "outside-domain"]
    result.caveats = [c for c in result.caveats
                      if not any(f"lies outside {name}'s training domain" in c for name in outside)]
    repeated = {f"inconclusive: {r['message']}" for r in reasons}  # a withheld track's reason, said again
    result.caveats = [c for c in result.caveats if c not in repeated]
    said = "; ".join(r["message"] for r in reasons)
    result.caveats.insert(0, f"no verdict: {said}. The score is shown but is not evidence either way")
    return result
