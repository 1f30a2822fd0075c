"""One call for the scan: the ``provenance`` object of a file, and the caveat when it disagrees with the verdict.

The provenance line is evidence beside the detectors, never an input to them:
nothing here changes a score. When Content Credentials or generator metadata
say "AI-generated" and the detector says "real" (or valid credentials declare a
camera capture and the detector says "fake"), the result carries a caveat
sentence from ``provenance_disagreement`` and both are shown.

The ``provenance`` object (JSON-able; every key always present)::

    {"metadata": {                      # compact: no GPS coordinates, no long texts
        "modality", "errors": [...],
        # images: format, mode, width, height, exif_present, camera_make, camera_model, lens_model,
        #         software, datetime_original, gps_present, icc_profile (description), xmp_present,
        #         xmp_creator_tool, iptc_present, png_text_keys
        # video/audio: format, container_tags, streams [{index, type, codec, tags}], encoder,
        #         creation_time, handler_names, xmp_present
     },
     "generator_hints": [{"source": "png:parameters", "value": "<= 300 chars",
                          "meaning": "written by AUTOMATIC1111 ...", "ai_generated": true}],
     "c2pa": {"status": "ok|absent|unsupported|unavailable|remote|error|skipped", "reason",
              "present": bool, "valid": bool|None, "trusted": bool|None,
              "validation_state": "Trusted|Valid|Invalid|absent|...", "errors": ["code: explanation"],
              "claim_generator", "signer", "issuer", "signed_at", "title",
              "ai_generated": bool, "ai_in_ingredients": bool, "camera_capture": bool,
              "digital_source_types": [...], "actions": [{action, digital_source_type, software_agent, when}],
              "manifest_count": int},
     "ai_metadata": bool,               # any hint or C2PA assertion says AI-generated
     "summary": "one plain sentence",
     "errors": ["<path>: what could not be read"]}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepfake_gui.provenance.c2pa_reader import empty_c2pa, read_c2pa

AV_MODALITIES = ("video", "audio", "av")


def _guess_modality(path: Path) -> str:
    """``image`` when Pillow recognises the bytes, else ``av`` (video or audio: PyAV reads both alike)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path):
            return "image"
    except UnidentifiedImageError:
        return "av"
    except Exception:  # recognised as an image but damaged or too large: still an image
        return "image"


def _metadata(path: Path, modality: str) -> tuple[dict[str, Any], list]:
    if modality in AV_MODALITIES:
        from deepfake_gui.provenance.av_meta import read_av_metadata

        return read_av_metadata(path)
    from deepfake_gui.provenance.image_meta import read_image_metadata

    return read_image_metadata(path)


def _c2pa_phrase(c2pa: dict[str, Any]) -> str | None:
    if c2pa["status"] == "remote":
        return "Content Credentials (C2PA) are referenced but stored remotely and were not fetched"
    if not c2pa["present"]:
        return None
    who = f" signed by {c2pa['signer']}" if c2pa["signer"] else ""
    if c2pa["valid"] is False:
        state = "INVALID (the file or its manifest changed after signing, or the signature is bad)"
    elif c2pa["trusted"]:
        state = "intact, from a trusted signer"
    elif c2pa["valid"]:
        state = "intact, but the signer is not on a trust list"
    else:
        state = f"not validated ({c2pa['validation_state']})"
    claim = ""
    if c2pa["ai_generated"]:
        claim = " and declare the content AI-generated"
    elif c2pa["ai_in_ingredients"]:
        claim = " and declare AI-generated ingredients"
    elif c2pa["camera_capture"]:
        claim = " and declare a camera capture"
    return f"Content Credentials (C2PA){who} are {state}{claim}"


def summary_sentence(provenance: dict[str, Any]) -> str:
    """One plain sentence for the verdict card and the report."""
    parts = [p for p in [_c2pa_phrase(provenance["c2pa"])] if p]
    ai_hints = [h for h in provenance["generator_hints"] if h["ai_generated"]]
    if ai_hints:
        parts.append(f"metadata points to an AI generator ({ai_hints[0]['source']}: {ai_hints[0]['meaning']})")
    meta = provenance["metadata"]
    camera = " ".join(v for v in (meta.get("camera_make"), meta.get("camera_model")) if v)
    if camera:
        parts.append(f"EXIF names the camera {camera}")
    if meta.get("encoder"):
        parts.append(f"the container was written by {meta['encoder']}")
    if not parts:
        return ("No Content Credentials or generator metadata found "
                "(metadata is easily stripped, so its absence proves nothing).")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def read_provenance(
    path: str | Path,
    modality: str | None = None,
    *,
    with_c2pa: bool = True,
    trust_anchors_pem: str | None = None,
) -> dict[str, Any]:
    """The JSON-able ``provenance`` object of one file (shape in the module docstring); never raises.

    ``modality`` is ``image``, ``video`` or ``audio`` (None: sniffed). The file is
    only opened for reading. ``with_c2pa=False`` skips Content Credentials
    (``status: skipped``); ``trust_anchors_pem`` is passed to ``read_c2pa``.
    """
    from deepfake_gui.provenance.fingerprints import find_hints

    path = Path(path)
    errors: list[str] = []
    try:
        mod = modality or _guess_modality(path)
        metadata, fields = _metadata(path, mod)
    except Exception as exc:  # a reader bug must not cost the scan its result
        mod, metadata, fields = modality or "unknown", {"errors": []}, []
        errors.append(f"{path}: metadata unreadable: {type(exc).__name__}: {exc}")
    errors.extend(f"{path}: {e}" for e in metadata.get("errors", []))
    try:
        hints = find_hints(fields)
    except Exception as exc:
        hints = []
        errors.append(f"{path}: generator hints failed: {type(exc).__name__}: {exc}")
    c2pa = read_c2pa(path, trust_anchors_pem=trust_anchors_pem) if with_c2pa else empty_c2pa("skipped")
    if c2pa["status"] == "error":
        errors.append(f"{path}: C2PA: {c2pa['reason']}")
    metadata["modality"] = mod
    provenance: dict[str, Any] = {
        "metadata": metadata,
        "generator_hints": hints,
        "c2pa": c2pa,
        "ai_metadata": bool(c2pa["ai_generated"] or c2pa["ai_in_ingredients"] or any(h["ai_generated"] for h in hints)),
        "errors": errors,
    }
    provenance["summary"] = summary_sentence(provenance)
    return provenance


def provenance_disagreement(provenance: dict[str, Any] | None, verdict: str | None) -> str | None:
    """A caveat sentence when provenance and the detector verdict point opposite ways, else None.

    Only the caveat is added: the score and verdict stay what the detector said.
    """
    if not provenance or verdict not in ("real", "fake"):
        return None
    c2pa = provenance.get("c2pa") or {}
    if verdict == "real" and provenance.get("ai_metadata"):
        if c2pa.get("ai_generated") or c2pa.get("ai_in_ingredients"):
            validity = {True: "intact", False: "INVALID"}.get(c2pa.get("valid"), "unvalidated")
            what = "AI-generated" if c2pa.get("ai_generated") else "AI-generated ingredients"
            source = f"its Content Credentials (C2PA, {validity}) declare {what}"
        else:
            hint = next((h for h in provenance.get("generator_hints", []) if h.get("ai_generated")), None)
            source = (f"its metadata points to an AI generator ({hint['source']}: {hint['meaning']})" if hint
                      else "its metadata says AI-generated")
        return (f"Provenance disagrees with the detector: {source}, but the detector verdict is real. "
                "The score is left unchanged; weigh both, and remember metadata can be copied onto any file.")
    if verdict == "fake" and c2pa.get("camera_capture") and c2pa.get("valid") and not c2pa.get("ai_generated"):
        signer = f" signed by {c2pa['signer']}" if c2pa.get("signer") else ""
        trust = "" if c2pa.get("trusted") else " (the signer is not on a trust list)"
        return (f"Provenance disagrees with the detector: intact Content Credentials{signer}{trust} declare a "
                "camera capture, but the detector verdict is fake. The score is left unchanged; weigh both.")
    return None
