"""How a result's numbers and media facts read to a person: shared by the verdict card and the report.

Qt-free on purpose: the GUI and the HTML/PDF report must word the same value the same way.
"""

from __future__ import annotations

from typing import Any


def fmt_prob(p: float | None) -> str:
    """Calibrated probabilities saturate; say '< 0.001' rather than a misleading '0.000'."""
    if p is None:
        return "—"
    if p < 0.001:
        return "< 0.001"
    if p > 0.999:
        return "> 0.999"
    return f"{p:.3f}"


def media_summary(media: dict[str, Any] | None, *, exact_bytes: bool = False) -> str:
    """One line a person can compare with what they expected the file to be.

    ``exact_bytes``: the size to the byte (reports, which people cross-check) instead of KiB.
    """
    if not media:
        return "no media information"
    parts = [str(media.get("container") or "?").split(",")[0]]
    codecs = " + ".join(str(c) for c in (media.get("codec"), media.get("audio_codec")) if c)
    if codecs:
        parts.append(codecs)
    if media.get("width") and media.get("height"):
        parts.append(f"{media['width']}×{media['height']} px")
    if media.get("fps"):
        parts.append(f"{media['fps']:g} fps")
    if media.get("frame_count") and media.get("modality") == "video":
        parts.append(f"{media['frame_count']} frames")
    if media.get("duration_s"):
        parts.append(f"{media['duration_s']:.2f} s")
    if media.get("sample_rate"):
        parts.append(f"{media['sample_rate']} Hz")
    if media.get("channels"):
        parts.append(f"{media['channels']} ch")
    if media.get("byte_size") is not None:
        size = media["byte_size"]
        parts.append(f"{size:,} bytes" if exact_bytes else f"{size / 1024:,.0f} KiB")
    return " · ".join(parts)
