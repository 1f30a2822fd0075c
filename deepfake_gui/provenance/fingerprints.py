"""Generator fingerprints: metadata that says which software (or which kind of source) made a file.

Readers (image_meta, av_meta) reduce a file to ``Field``s: a source label such as
``png:parameters``, ``exif:Software``, ``xmp`` or ``tag:encoder`` and its text.
``find_hints`` matches them against three small tables, so adding a generator is
one row, not a new branch:

- ``TEXT_FIELD_RULES``: fields whose *name and format* betray a generator
  (A1111's ``parameters`` chunk, ComfyUI's ``prompt``/``workflow`` graphs, ...).
- ``KNOWN_SOFTWARE``: names of AI generators, matched only in fields that name
  software (Software, CreatorTool, encoder, ...), never in prompts or captions,
  where "in the style of Midjourney" would be a false alarm.
- ``DIGITAL_SOURCE_TYPES``: the IPTC vocabulary used by XMP ``DigitalSourceType``
  and by C2PA actions (``trainedAlgorithmicMedia`` means AI-generated).

A hint is evidence about the file's history, not a detector score: metadata is
trivially stripped or forged, so its absence proves nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from deepfake_gui.provenance._text import HINT_CHARS, clip


@dataclass(frozen=True)
class Field:
    """One metadata value as found in the file: ``source`` is ``kind:name`` (``png:parameters``)."""

    source: str
    value: str

    @property
    def name(self) -> str:
        return self.source.rsplit(":", 1)[-1].lower()


@dataclass(frozen=True)
class TextFieldRule:
    source: str  # regex on the whole source label, case-insensitive
    value: str | None  # regex the value must contain (None: any value)
    meaning: str
    ai: bool = True


# Fields whose name and format betray an image generator. Values are checked so that a
# chunk merely called "prompt" by some other tool is not blamed on ComfyUI.
TEXT_FIELD_RULES: tuple[TextFieldRule, ...] = (
    TextFieldRule(r"png:parameters", r"Steps:\s*\d",
                  "written by AUTOMATIC1111 Stable Diffusion web UI (or a fork: Forge, SD.Next, Fooocus): "
                  "the prompt and generation settings"),
    TextFieldRule(r"exif:UserComment", r"Steps:\s*\d+,\s*Sampler:",
                  "Stable Diffusion web UI generation settings stored in EXIF UserComment (AUTOMATIC1111 and forks)"),
    TextFieldRule(r"png:prompt", r"class_type", "written by ComfyUI: the node graph that generated the image"),
    TextFieldRule(r"png:workflow", r"\"nodes\"", "written by ComfyUI: the editor workflow that generated the image"),
    TextFieldRule(r"png:invokeai_metadata", None, "written by InvokeAI: generation metadata"),
    TextFieldRule(r"png:invokeai_graph", None, "written by InvokeAI: the generation graph"),
    TextFieldRule(r"png:sd-metadata", None, "written by InvokeAI 2.x: Stable Diffusion generation metadata"),
    TextFieldRule(r"png:dream", None, "written by InvokeAI 1.x (dream.py): the generation command"),
    TextFieldRule(r"png:fooocus_scheme", None, "written by Fooocus: generation metadata"),
    TextFieldRule(r"png:comment", r"\"(steps|sampler|n_samples)\"\s*:",
                  "JSON generation settings (sampler, steps) as NovelAI writes them"),
    TextFieldRule(r"(png|jpeg|gif|webp):(description|comment)", r"Job ID:\s*[0-9a-f-]{8,}",
                  "a Midjourney job description (prompt and job ID)"),
)

# Names of AI generators, matched in software-naming fields only (see SOFTWARE_FIELDS).
KNOWN_SOFTWARE: tuple[tuple[str, str], ...] = (
    (r"adobe\s*firefly", "Adobe Firefly (generative AI)"),
    (r"dall[\s\-·.]*e", "OpenAI DALL·E (image generator)"),
    (r"\bopenai\b|\bchatgpt\b|\bgpt-4o\b|\bgpt-image", "OpenAI image generation"),
    (r"\bsora\b", "OpenAI Sora (video generator)"),
    (r"\bmidjourney\b", "Midjourney (image generator)"),
    (r"stable[\s\-_]*diffusion|\bsdxl\b|\bsd[\s\-_]?(1\.5|2\.1|3(\.5)?)\b", "Stable Diffusion (image generator)"),
    (r"\bnovelai\b", "NovelAI (image generator)"),
    (r"\bcomfyui\b", "ComfyUI (image generator front end)"),
    (r"\binvokeai\b", "InvokeAI (image generator front end)"),
    (r"\bfooocus\b", "Fooocus (image generator front end)"),
    (r"\bautomatic1111\b|\bstable-diffusion-webui\b", "AUTOMATIC1111 Stable Diffusion web UI"),
    (r"draw\s*things", "Draw Things (image generator)"),
    (r"leonardo\.?\s*ai", "Leonardo.Ai (image generator)"),
    (r"\bideogram\b", "Ideogram (image generator)"),
    (r"\bimagen\b", "Google Imagen (image generator)"),
    (r"\bflux\.?1\b|black\s*forest\s*labs", "FLUX (Black Forest Labs image generator)"),
    (r"\brunway\s*(ml|gen-?\d)", "Runway (video generator)"),
    (r"\bkling\b", "Kling (video generator)"),
    (r"\belevenlabs\b", "ElevenLabs (speech synthesis)"),
)

# Field names (after the last ':') that name the producing software or device.
SOFTWARE_FIELDS = frozenset({
    "software", "creatortool", "encoder", "encoded_by", "encoding_tool", "make", "model", "source",
    "originatingprogram", "handler_name", "generator", "tool", "application",
})

# IPTC digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/): name -> (meaning, ai, capture)
DIGITAL_SOURCE_TYPES: dict[str, tuple[str, bool, bool]] = {
    "trainedalgorithmicmedia": ("created by a trained AI model (AI-generated)", True, False),
    "compositewithtrainedalgorithmicmedia": ("a composite that includes AI-generated elements", True, False),
    "algorithmicmedia": ("created by an algorithm without trained data (procedural, not a capture)", False, False),
    "compositesynthetic": ("a composite that includes synthetic elements", False, False),
    "digitalcapture": ("captured by a digital camera or recorder", False, True),
    "computationalcapture": ("a digital capture with computational processing", False, True),
    "negativefilm": ("digitised from a film negative", False, True),
    "positivefilm": ("digitised from a film positive", False, True),
    "print": ("digitised from a print", False, True),
    "minorhumanedits": ("a capture with minor human edits", False, False),
    "humanedits": ("a capture with human edits", False, False),
    "algorithmicallyenhanced": ("a capture enhanced by an algorithm", False, False),
    "compositecapture": ("a composite of captured elements", False, False),
    "screencapture": ("a screen capture", False, False),
    "virtualrecording": ("a recording of a virtual event", False, False),
    "digitalart": ("digital art made by a person", False, False),
    "datadrivenmedia": ("media generated from data (charts, maps)", False, False),
}

_SOURCE_TYPE_RE = re.compile(r"digitalsourcetype/([A-Za-z]+)", re.IGNORECASE)
_XMP_TOOL_RE = re.compile(r"CreatorTool(?:=\"([^\"]*)\"|>([^<]*)<)", re.IGNORECASE)


def source_type_name(uri_or_name: str) -> str:
    """``http://cv.iptc.org/.../trainedAlgorithmicMedia`` -> ``trainedAlgorithmicMedia``."""
    return uri_or_name.rstrip("/").rsplit("/", 1)[-1]


def describe_source_type(uri_or_name: str) -> tuple[str, bool, bool]:
    """(meaning, ai, capture) of a digital source type; unknown types are neither AI nor capture."""
    name = source_type_name(uri_or_name)
    return DIGITAL_SOURCE_TYPES.get(name.lower(), (f"digital source type {name!r}", False, False))


def xmp_fields(xmp: str) -> list[Field]:
    """The parts of an XMP packet the hints look at: digital source types and CreatorTool."""
    out = [Field("xmp:DigitalSourceType", m.group(1)) for m in _SOURCE_TYPE_RE.finditer(xmp)]
    out += [Field("xmp:CreatorTool", m.group(1) or m.group(2) or "") for m in _XMP_TOOL_RE.finditer(xmp)]
    return out


def _hint(source: str, value: str, meaning: str, ai: bool) -> dict[str, Any]:
    return {"source": source, "value": clip(value, HINT_CHARS), "meaning": meaning, "ai_generated": ai}


def find_hints(fields: list[Field]) -> list[dict[str, Any]]:
    """Generator hints, one per (source, meaning), in field order.

    Each hint is ``{"source", "value" (at most 300 chars), "meaning", "ai_generated"}``.
    """
    hints: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()

    def add(source: str, value: str, meaning: str, ai: bool) -> None:
        if (source, meaning) not in seen:
            seen.add((source, meaning))
            hints.append(_hint(source, value, meaning, ai))

    for f in fields:
        for rule in TEXT_FIELD_RULES:
            if re.fullmatch(rule.source, f.source, re.IGNORECASE) and (
                rule.value is None or re.search(rule.value, f.value[:100_000])
            ):
                add(f.source, f.value, rule.meaning, rule.ai)
        if f.source.lower().endswith("digitalsourcetype"):
            meaning, ai, _capture = describe_source_type(f.value)
            add(f.source, f.value, meaning, ai)
        if f.name in SOFTWARE_FIELDS:
            for pattern, product in KNOWN_SOFTWARE:
                if re.search(pattern, f.value[:2_000], re.IGNORECASE):
                    add(f.source, f.value, f"the {f.name} tag names {product}", True)
    return hints
