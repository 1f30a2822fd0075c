"""Turning untrusted metadata values into short, printable, JSON-safe strings.

Metadata is attacker-controlled: values may be megabytes long, bytes in an
unknown encoding, or full of control characters. Everything that reaches the
result JSON passes through here first.
"""

from __future__ import annotations

from typing import Any

SUMMARY_CHARS = 200  # a metadata field in the summary
HINT_CHARS = 300  # the value quoted by a generator hint


def to_text(value: Any) -> str:
    """Any metadata value (bytes, str, number, rational, tuple) as a str without NULs."""
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        for prefix in (b"ASCII\x00\x00\x00", b"UNICODE\x00", b"\x00\x00\x00\x00\x00\x00\x00\x00"):
            if raw.startswith(prefix):  # EXIF UserComment carries an 8-byte charset header
                raw = raw[8:]
                if prefix == b"UNICODE\x00":
                    return _clean(_decode_utf16(raw))
                break
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        return _clean(text)
    if isinstance(value, tuple | list):
        return _clean(", ".join(to_text(v) for v in value))
    return _clean(str(value))


def _decode_utf16(raw: bytes) -> str:
    for codec in ("utf-16-be", "utf-16-le"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _clean(text: str) -> str:
    return "".join(ch for ch in text.replace("\x00", "") if ch.isprintable() or ch in "\n\t").strip()


def clip(value: Any, limit: int = SUMMARY_CHARS) -> str:
    """to_text() cut to ``limit`` characters, marking the cut with an ellipsis."""
    text = to_text(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
