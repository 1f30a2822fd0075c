"""How a result's numbers and media facts read to a person: shared by the verdict card and the report.

Qt-free on purpose: the GUI and the HTML/PDF report must word the same value the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deepfake_gui.core.results import ScanResult

PROBABILITY_NAME = "P(fake)"  # a calibrated probability of fake, 0-1; "score" always means the logit
GATE_CAVEAT_PREFIX = "no verdict: "  # engine/gate.py's caveat: the gate's reasons in one sentence


def fmt_prob(p: float | None) -> str:
    """Calibrated probabilities saturate; say '< 0.001' rather than a misleading '0.000'."""
    if p is None:
        return "—"
    if p < 0.001:
        return "< 0.001"
    if p > 0.999:
        return "> 0.999"
    return f"{p:.3f}"


def fmt_number(value: Any, spec: str = ".3f", missing: str = "—") -> str:
    """A figure (an AUC, a threshold, a rate) as ``spec`` formats it; ``missing`` when there is none.

    The one number formatter of the verdict card, the report and the CLI (which says "n/a");
    a value that is not a number is shown as it is.
    """
    if value is None:
        return missing
    try:
        return format(float(value), spec)
    except (TypeError, ValueError):
        return str(value)


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


def fmt_score(score: float | None) -> str:
    """A decision score (logit): always printed with its name, so it is never read as a probability."""
    return "—" if score is None else f"score {score:.2f} (logit)"


def domain_caveat(caveat: str, detectors: Any) -> bool:
    """Whether a caveat is a detector's "<name> was trained on ..." paragraph (said once, in its model card)."""
    return any(caveat.startswith(f"{name} was trained on ") for name in detectors or ())


# Caveats are stored as sentences; these markers (lower case; "^" = at the start) pick out the few that
# change how to read the verdict itself, in the order a reader needs them: why there is no verdict, what
# was not scored, then why the number may not hold for this file. The rest follow in the engine's order.
KEY_CAVEATS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gate", ("^no verdict", "^no detector ran")),
    ("band", ("^inconclusive: p(fake)",)),
    ("withheld", ("so to it a face looks generated", "genuine footage looks smooth",  # a picture track withheld
                  "^inconclusive: the soundtrack:",  # a soundtrack of music, silence or a phone call
                  "^inconclusive: the pictures:")),  # frames of a screen recording, a chart, a flat colour
    ("weak-lead", ("too weak for it to decide alone", "deciding alone it needs", "verdict is unproven")),
    ("disagreement", ("detectors disagree",)),
    ("partial", ("^scored in part only", "^called inconclusive, not real", "was not scored")),
    ("changed", ("^this file changed since the stored scan",)),
    ("out-of-domain", ("training domain: it is further", "unlike the genuine references",
                       "may not carry over to this input")),
    ("beyond-measured", ("more degraded than anything",)),
    ("random-weights", ("random weights",)),
)


def _marked(text: str, marker: str) -> bool:
    return text.startswith(marker[1:]) if marker.startswith("^") else marker in text


def caveat_rank(caveat: str, detectors: Any = ()) -> int:
    """Where a caveat goes: its KEY_CAVEATS group index, then the rest, then each detector's domain paragraph."""
    if domain_caveat(caveat, detectors):
        return len(KEY_CAVEATS) + 1
    text = caveat.casefold()
    for rank, (_group, markers) in enumerate(KEY_CAVEATS):
        if any(_marked(text, m) for m in markers):
            return rank
    return len(KEY_CAVEATS)


def ranked_caveats(caveats: list[str], detectors: Any = ()) -> list[str]:
    """Every caveat, the ones that change how to read the verdict first (a stable sort: idempotent)."""
    return sorted(caveats, key=lambda c: caveat_rank(c, detectors))


def is_key_caveat(caveat: str, detectors: Any = ()) -> bool:
    return caveat_rank(caveat, detectors) < len(KEY_CAVEATS)


def reading_caveats(result: ScanResult) -> list[str]:
    """The caveats to read with this verdict, ranked, each said once.

    The per-detector domain text lives in the model cards, and the gate's "no verdict: ..." sentence
    repeats the reasons the gate box shows right under the verdict; both stay in the JSON.
    """
    gated = bool(gate_reasons(result)[0])
    return [c for c in ranked_caveats(result.caveats, result.detectors)
            if not domain_caveat(c, result.detectors) and not (gated and c.startswith(GATE_CAVEAT_PREFIX))]


def caveat_groups(result: ScanResult) -> tuple[list[str], list[str]]:
    """(read first, the rest): the caveats that change how to read this verdict, then the others."""
    shown = reading_caveats(result)
    key = [c for c in shown if is_key_caveat(c, result.detectors)]
    return key, shown[len(key):]


def shown_attribution(result: ScanResult, top: int | None = None) -> list[dict[str, Any]]:
    """The closest known generators, only for a file called fake, most likely first.

    Attribution answers "which generator?", a question that only arises once the file is called fake;
    its "real" class restates the fake probability on another scale (a file at P(fake) 0.67 could read
    "real 96%"), so it is never shown as a source.
    """
    if result.verdict != "fake":
        return []
    items = [a for a in result.attribution if isinstance(a, dict) and a.get("class") and a.get("class") != "real"]
    items.sort(key=lambda a: -float(a.get("probability") or 0.0))
    return items if top is None else items[:top]


def gate_reasons(result: ScanResult) -> tuple[list[str], str | None]:
    """Why the file got no committed verdict (``ScanResult.gate``): the reasons' messages and the suggestion."""
    gate = result.gate or {}
    reasons = [str(r.get("message") or r.get("code")) for r in gate.get("reasons") or [] if isinstance(r, dict)]
    suggestion = gate.get("suggestion")
    return reasons, (str(suggestion) if suggestion else None)


def detector_verdict(result: ScanResult, entry: dict[str, Any]) -> str:
    """A detector's own call as its row shows it: "withheld" where the gate withheld the file's verdict.

    The gate's reasons, shown above the rows, say why the file is not judged (a phone call, a chart, a face);
    a red "fake" in a row under them would read as an accusation the tool does not make. The detector's own
    call stays in the JSON and its P(fake) in the row.
    """
    verdict = entry.get("verdict")
    if entry.get("withheld"):  # its track was withheld (a soundtrack of music, frames with a face)
        return "withheld"
    if result.gate and result.verdict not in ("fake", "real") and verdict in ("fake", "real"):
        return "withheld"
    return str(verdict or "—")


def track_verdict(component: dict[str, Any]) -> str:
    """A track's verdict as its line shows it: "withheld" where the track could not be judged."""
    return "withheld" if component.get("withheld") else str(component.get("verdict") or "—")


def region_box(heatmap: dict[str, Any] | None) -> tuple[int, int, int, int] | None:
    """The heatmap head's suspected region as (x0, y0, x1, y1) picture pixels, when it found one."""
    region = (heatmap or {}).get("region")
    if isinstance(region, dict) and region.get("found") and region.get("box_xyxy"):
        x0, y0, x1, y1 = region["box_xyxy"]
        return int(x0), int(y0), int(x1), int(y1)
    return None


def region_text(heatmap: dict[str, Any] | None) -> str | None:
    """The heatmap head's answer in words: does one region stand out of the picture, and where (None: no head)."""
    region = (heatmap or {}).get("region")
    if not isinstance(region, dict):
        return None
    rule = str(region.get("rule") or "the region rule")
    if region.get("withheld"):
        return f"No region given ({region['withheld']})."
    box = region_box(heatmap)
    if box is not None:
        x0, y0, x1, y1 = box
        share = fmt_number(100 * float(region.get("share_of_tile") or 0.0), ".0f")
        return (f"Suspected region: x {x0}-{x1}, y {y0}-{y1} px ({share}% of its tile): the heatmap stands out "
                f"there; {rule}.")
    return f"No region stands out of the heatmap ({rule})."
