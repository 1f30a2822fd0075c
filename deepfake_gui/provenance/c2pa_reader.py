"""C2PA Content Credentials through c2pa-python: present, who signed, is it intact, does it say "AI".

The reader is given a read-only file object, so nothing (no sidecar, no cache) is
written beside the evidence, and network access is switched off: no remote
manifest fetch and no OCSP, because LayerScope works offline and a scan must not
hang on a URL an adversary put in the file.

c2pa-rs reports three validation states, and the difference matters:

- ``Invalid``: the manifest or the asset's bytes do not match their signed hashes
  (tampered, or damaged), or the signature itself is bad.
- ``Valid``: intact and correctly signed, but the signing certificate does not
  chain to a trusted anchor. With no trust list loaded (the offline default),
  every genuine credential reads ``Valid`` with ``signingCredential.untrusted``.
- ``Trusted``: intact, and the signer chains to an anchor we were given
  (``trust_anchors_pem``, or the PEM file at ``trust_anchors_path()``).

c2pa-python is imported lazily; without it the result says ``unavailable``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deepfake_gui.provenance._text import clip
from deepfake_gui.provenance.fingerprints import describe_source_type, source_type_name

TRUST_FILE = "c2pa_trust_anchors.pem"
MAX_ACTIONS = 50
ACTION_LABELS = ("c2pa.actions", "c2pa.actions.v2")
# C2paError kinds raised by a manifest that exists but fails to parse or verify
# (others, e.g. "Other: asset could not be parsed", are about the file, not a manifest).
MANIFEST_ERRORS = frozenset({"Manifest", "Signature", "Verify", "Assertion", "AssertionNotFound", "Json"})


def trust_anchors_path() -> Path:
    """Optional PEM bundle of trusted C2PA root certificates (an offline lab copies it in)."""
    from deepfake_gui.core.config import data_dir

    return data_dir() / TRUST_FILE


def empty_c2pa(status: str, reason: str | None = None) -> dict[str, Any]:
    """The c2pa object with every key present, for files without (readable) credentials."""
    return {
        "status": status,  # ok | absent | unsupported | unavailable | remote | error
        "reason": reason,
        "present": False,
        "valid": None,  # True: intact (Valid or Trusted); False: Invalid; None: nothing to validate
        "trusted": None,
        "validation_state": "absent" if status == "absent" else status,
        "errors": [],
        "claim_generator": None,
        "signer": None,
        "issuer": None,
        "signed_at": None,
        "title": None,
        "ai_generated": False,
        "ai_in_ingredients": False,
        "camera_capture": False,
        "digital_source_types": [],
        "actions": [],
        "manifest_count": 0,
    }


def _settings(trust_anchors_pem: str | None) -> dict[str, Any]:
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_anchors_pem:
        settings["trust"] = {"trust_anchors": trust_anchors_pem}
    return settings


def _default_anchors() -> str | None:
    path = trust_anchors_path()
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except OSError:
        return None


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    info = manifest.get("claim_generator_info") or []
    if info and isinstance(info[0], dict):
        first = info[0]
        name = " ".join(str(first[k]) for k in ("name", "version") if first.get(k))
        return clip(name) or None
    return clip(manifest["claim_generator"]) if manifest.get("claim_generator") else None


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for assertion in manifest.get("assertions") or []:
        if assertion.get("label") not in ACTION_LABELS:
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            agent = action.get("softwareAgent")
            if isinstance(agent, dict):
                agent = agent.get("name")
            out.append({
                "action": clip(action.get("action", "")),
                "digital_source_type": source_type_name(action["digitalSourceType"])
                if action.get("digitalSourceType") else None,
                "software_agent": clip(agent) if agent else None,
                "when": clip(action["when"]) if action.get("when") else None,
            })
    return out[:MAX_ACTIONS]


def _failures(reader, store: dict[str, Any]) -> list[str]:
    results = reader.get_validation_results() or {}
    failures = (results.get("activeManifest") or {}).get("failure")
    if failures is None:  # older stores: a flat validation_status list
        failures = store.get("validation_status") or []
    return [clip(f"{f.get('code', '?')}: {f.get('explanation', '')}".rstrip(": ")) for f in failures]


def summarize_store(store: dict[str, Any], state: str | None, errors: list[str]) -> dict[str, Any]:
    """The c2pa result object from a parsed manifest store (Reader.json()) and its validation state."""
    out = empty_c2pa("ok")
    manifests = store.get("manifests") or {}
    active = manifests.get(store.get("active_manifest") or "", {})
    out.update(present=True, manifest_count=len(manifests), errors=errors, validation_state=state or "unknown")
    out["valid"] = {"Invalid": False, "Valid": True, "Trusted": True}.get(state or "")
    out["trusted"] = state == "Trusted" if state else None
    out["claim_generator"] = _claim_generator(active)
    signature = active.get("signature_info") or {}
    out["signer"] = clip(signature.get("common_name") or signature.get("issuer") or "") or None
    out["issuer"] = clip(signature.get("issuer") or "") or None
    out["signed_at"] = clip(signature["time"]) if signature.get("time") else None
    out["title"] = clip(active["title"]) if active.get("title") else None
    out["actions"] = _actions(active)
    types = [a["digital_source_type"] for a in out["actions"] if a["digital_source_type"]]
    out["digital_source_types"] = sorted(set(types))
    out["ai_generated"] = any(describe_source_type(t)[1] for t in types)
    out["camera_capture"] = any(describe_source_type(t)[2] for t in types)
    others = [m for label, m in manifests.items() if label != store.get("active_manifest")]
    ingredient_types = [a["digital_source_type"] for m in others for a in _actions(m) if a["digital_source_type"]]
    out["ai_in_ingredients"] = any(describe_source_type(t)[1] for t in ingredient_types)
    return out


def read_c2pa(path: str | Path, *, trust_anchors_pem: str | None = None) -> dict[str, Any]:
    """Content Credentials of a file; never raises (a failure is ``status: error`` with its reason).

    ``trust_anchors_pem`` (PEM root certificates) turns a ``Valid`` signer into
    ``Trusted`` when it chains to one of them; by default the file at
    ``trust_anchors_path()`` is used if it exists.
    """
    try:
        import c2pa
    except ImportError as exc:
        return empty_c2pa("unavailable", f"c2pa-python is not installed ({exc}); pip install c2pa-python")
    try:
        anchors = trust_anchors_pem if trust_anchors_pem is not None else _default_anchors()
        context = c2pa.Context(c2pa.Settings.from_dict(_settings(anchors)))
        with open(path, "rb") as fh:
            reader = c2pa.Reader.try_create(None, fh, None, context)
            if reader is None:
                return empty_c2pa("absent")
            with reader:
                store = json.loads(reader.json())
                return summarize_store(store, reader.get_validation_state(), _failures(reader, store))
    except c2pa.C2paError.NotSupported:
        return empty_c2pa("unsupported", "C2PA does not support this file type")
    except c2pa.C2paError.RemoteManifest as exc:
        out = empty_c2pa("remote", f"the manifest is stored remotely and was not fetched (offline): {exc}")
        out["present"] = True
        return out
    except Exception as exc:  # C2paError subclasses, OSError, malformed JSON from a hostile manifest
        kind = type(exc).__name__.removeprefix("_C2pa")
        message = str(exc) if str(exc).startswith(kind) else f"{kind}: {exc}"
        out = empty_c2pa("error", clip(message))
        if kind in MANIFEST_ERRORS:  # a manifest is there but broken: evidence of damage or tampering
            out.update(present=True, valid=False, validation_state="Invalid", errors=[out["reason"]])
        return out
