"""The verdict card: what the scan concluded, how sure, by which detectors, and what to distrust.

Every number comes straight from the ScanResult; the card adds layout and colour,
never a score of its own. Each detector row carries its model card (training
domain, cross-validated AUC, hashes, measured localization figures) because a
score means little outside that domain. The "Where" section lists the suspected
segments and says plainly that a timeline or heatmap shows where a detector
responded, not proof.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QProgressBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from deepfake_gui.core.present import (
    caveat_groups,
    detector_verdict,
    fmt_number,
    fmt_prob,
    gate_reasons,
    media_summary,
    region_text,
    shown_attribution,
    track_verdict,
)
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.explain import segment_peak
from deepfake_gui.gui.theme import verdict_text_color
from deepfake_gui.gui.views.common import verdict_color

DISAGREE = "detectors disagree"
ATTRIBUTION_TOP = 3
WHERE_NOTE = ("A timeline or heatmap shows where the detector responded, not proof of manipulation; "
              "how well that matched known manipulated parts is in the model cards (measured localization).")
REAL_FLAG = "within a file called real: worth a look, not a finding"
TIMED = ("audio", "video")
KEY_CAVEAT_STYLE = "background: #fff3cd; color: #3d2c00; border-left: 3px solid #e69500; padding: 2px 4px;"


def _detector_title(name: str, info: dict | None, reference: dict | None) -> str:
    """The detector's name, what it was adapted to, and its distance to those genuine references (own line)."""
    lines = [name]
    if (info or {}).get("adapted_to"):
        lines.append(f"adapted to: {info['adapted_to']}")
    if reference:
        verdict = "unlike" if reference.get("flagged") else "like"
        lines.append(f"reference distance {reference['distance']:.3g} (threshold {reference['threshold']:.3g}): "
                     f"{verdict} the genuine references; beside the score, never instead of it")
    return "\n".join(lines)


def _pct(value: Any) -> str:
    return "—" if value is None else f"{100 * float(value):.0f}%"


def _ci(values: Any) -> str:
    return f" (95% CI {values[0]:.3f}–{values[1]:.3f})" if values and len(values) == 2 else ""


def localization_lines(loc: dict[str, Any] | None) -> list[str]:
    """The measured localization figures of a bundle (its ``localization`` key), one line per set and track."""
    if not loc or not loc.get("figures"):
        return []
    lines = ["<b>measured localization</b> (how well its response matched known manipulated parts; "
             f"{escape(str(loc.get('note') or ''))}):"]
    for key, f in loc["figures"].items():
        part, _, track = key.partition("/")
        if "pixel_auc" in f:
            lines.append(f"&nbsp;• {escape(part)} set, heatmap against the mask: "
                         f"pixel AUC {fmt_number(f.get('pixel_auc'))}{_ci(f.get('pixel_auc_ci95'))}, "
                         f"pointing game {_pct(f.get('pointing_game'))}, "
                         f"IoU {fmt_number(f.get('iou_best_threshold'))} at the best threshold, "
                         f"{fmt_number(f.get('iou_detector_threshold'))} at the heatmap's"
                         + _region_figures(f))
            continue
        step = f.get("frame_s")
        per = f" per {1000 * step:.0f} ms" if step else ""
        lines.append(f"&nbsp;• {escape(part)} set, {escape(track)} track: frame AUC {fmt_number(f.get('frame_auc'))}"
                     f"{_ci(f.get('frame_auc_ci95'))}{per}, EER {fmt_number(f.get('frame_eer'))}, "
                     f"segment IoU {fmt_number(f.get('segment_iou'))}, true segments found "
                     f"{_pct(f.get('true_segments_found'))}, untouched files with a segment "
                     f"{_pct(f.get('controls_with_segments'))}")
    return lines


def _region_figures(f: dict[str, Any]) -> str:
    """The heatmap head's region rule on the set: untouched and spliced images given a region (out of fold too)."""
    if f.get("controls_with_region") is None:
        return ""
    text = (f"; suspected regions on {_pct(f.get('controls_with_region'))} of untouched and "
            f"{_pct(f.get('partial_with_overlapping_region'))} of spliced images")
    if f.get("controls_with_region_out_of_fold") is not None:
        text += (f" (out of fold: {_pct(f.get('controls_with_region_out_of_fold'))} and "
                 f"{_pct(f.get('partial_with_overlapping_region_out_of_fold'))})")
    return text


def robustness_line(rob: dict[str, Any] | None) -> str:
    """AUC clean and under each laundering condition, as measured by grouped CV (the bundle's robustness table)."""
    if not rob or not rob.get("auc"):
        return "<b>measured under laundering:</b> not measured"
    aug = rob.get("augment") or "none"
    parts = " · ".join(f"{escape(k)} {fmt_number(v)}" for k, v in rob["auc"].items())
    trained = "trained without augmentation" if aug == "none" else f"trained with {escape(str(aug))} augmentation"
    return f"<b>AUC under laundering</b> (grouped cross-validation, {trained}): {parts}"


def segment_text(seg: dict[str, Any], peak: float | None = None) -> str:
    """One suspected segment as the card lists it; ``peak`` as the timeline plots it (explain.segment_peak)."""
    peak = seg.get("peak_probability") if peak is None else peak
    text = (f"{float(seg['start_s']):.2f}–{float(seg['end_s']):.2f} s · {seg.get('track')} · {seg.get('detector')}"
            f" · peak P(fake) {fmt_prob(peak)}")
    return text + (f"  ⚑ {REAL_FLAG}" if seg.get("within_real_file") else "")


def model_card_text(name: str, info: dict[str, Any] | None) -> str:
    """Rich text for one detector: what it was trained on, how well it did there, which files it is."""
    if not info:
        return f"<b>{escape(name)}</b><br>no model card in this result"
    auc = info.get("cv_auc")
    layers = ", ".join(str(x) for x in info.get("layers") or [])
    rows = [
        f"<b>{escape(name)}</b>",
        f"<b>trained on:</b> {escape(str(info.get('trained_on') or 'not stated'))}",
        *([f"<b>unseen generators (leave-one-generator-out) AUC:</b> {fmt_number(info.get('logo_auc'))} "
           f"(worst {fmt_number(info.get('logo_min_auc'))}); commits on "
           f"{fmt_number(info.get('held_out_coverage'), '.0%')} of held-out files"]
          if info.get("logo_auc") is not None else []),
        f"<b>cross-validated AUC:</b> {fmt_number(auc)} (inside that domain only)",
        f"<b>encoder:</b> {escape(str(info.get('encoder') or '—'))}; layers {escape(layers or '—')}",
        f"<b>bundle:</b> {escape(str(info.get('bundle') or '—'))}",
        f"<b>bundle SHA-256:</b> <tt>{escape(str(info.get('bundle_sha256') or '—'))}</tt>",
        f"<b>encoder weights SHA-256:</b> <tt>{escape(str(info.get('encoder_weights_sha256') or '—'))}</tt>",
        *(localization_lines(info.get("localization")) or ["<b>measured localization:</b> not measured"]),
        robustness_line(info.get("robustness")),
    ]
    return "<br>".join(rows)


def _label(text: str = "", *, name: str | None = None, wrap: bool = True, rich: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    if name:
        label.setObjectName(name)
    return label


def _heading(text: str) -> QLabel:
    label = _label(text, wrap=False)
    label.setStyleSheet("font-weight: bold; margin-top: 6px;")
    return label


class VerdictCard(QFrame):
    """Headline verdict, per-detector scores, attribution, caveats, media facts and hashes."""

    def __init__(self, result: ScanResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("verdictCard")
        self.result = result
        self.detector_rows: list[dict[str, QLabel]] = []
        self.attribution_bars: list[QProgressBar] = []
        self.caveat_labels: list[QLabel] = []
        self.disagreement_label: QLabel | None = None
        self.segment_labels: list[QLabel] = []
        self.where_note: QLabel | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(8, 8, 8, 8)
        self._layout.setSpacing(3)
        self.gate_label: QLabel | None = None
        self.key_caveat_labels: list[QLabel] = []
        self._build_headline()
        if result.status != "error":
            self._build_key_caveats()
        if result.detectors:
            self._build_detectors()
        if shown_attribution(result):
            self._build_attribution()
        if result.status == "ok" and (result.detectors or result.segments):
            self._build_where()
        self._build_caveats()
        if result.provenance:
            self._build_provenance()
        self._build_media()
        self._layout.addStretch(1)

    # ----------------------------------------------------------------- sections
    def _build_headline(self) -> None:
        r = self.result
        error = r.status == "error"
        text = "ERROR" if error else (r.verdict or "no verdict").upper()
        self.verdict_label = _label(text, name="verdictLabel", wrap=False)
        color = "#6d4c41" if error else verdict_color(r.verdict)
        ink = "black" if r.verdict == "inconclusive" and not error else "white"  # white on amber is 2.4:1
        self.verdict_label.setStyleSheet(f"background: {color}; color: {ink}; font-size: 17pt; font-weight: bold;"
                                         "padding: 4px 12px; border-radius: 6px;")
        self._layout.addWidget(self.verdict_label, alignment=Qt.AlignmentFlag.AlignLeft)
        name = _label(Path(r.path).name, name="fileName")
        name.setStyleSheet("font-size: 11pt; font-weight: bold;")
        name.setToolTip(r.path)
        self._layout.addWidget(name)
        if error:
            self.error_label = _label(r.error or "unknown error", name="errorLabel")
            self.error_label.setStyleSheet(f"color: {verdict_text_color('fake')};")
            self._layout.addWidget(self.error_label)
            return
        self._build_gate()
        prob = "no detector ran, so there is no probability" if r.probability is None else (
            f"calibrated probability of fake: {fmt_prob(r.probability)}"
            + (f"   (score {r.score:.2f}, logit)" if r.score is not None else ""))
        self.probability_label = _label(prob, name="probabilityLabel")
        self._layout.addWidget(self.probability_label)
        tracks = [f"{track}: {track_verdict(c)} ({fmt_prob(c.get('probability'))}, {c.get('detector')})"
                  for track, c in r.components.items() if track != "fusion"]
        fusion = r.components.get("fusion")
        if fusion:
            tracks.append(f"fusion ({fusion.get('rule')}): {fusion.get('explanation', '')}")
        if tracks:
            self.components_label = _label("\n".join(tracks), name="componentsLabel")
            self._layout.addWidget(self.components_label)

    def _build_gate(self) -> None:
        """Why there is no committed verdict (engine/gate.py), right under the verdict, before any number."""
        reasons, suggestion = gate_reasons(self.result)
        if not reasons:
            return
        lines = ["<b>Why no real/fake verdict:</b>", *(f"• {escape(r)}" for r in reasons)]
        if suggestion:
            lines.append(f"<b>What to do:</b> {escape(suggestion)}")
        self.gate_label = _label("<br>".join(lines), name="gateLabel", rich=True)
        self.gate_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.gate_label.setStyleSheet("background: #fff3cd; color: #3d2c00; border: 1px solid #e69500;"
                                      "border-radius: 4px; padding: 5px; font-size: 10pt;")
        self._layout.addWidget(self.gate_label)

    def _build_detectors(self) -> None:
        self._layout.addWidget(_heading(f"Detectors ({len(self.result.detectors)})"))
        disagreement = next((c for c in self.result.caveats if DISAGREE in c), None)
        if disagreement:
            self.disagreement_label = _label("⚠ " + disagreement, name="disagreementLabel")
            self.disagreement_label.setStyleSheet("background: #fff3cd; color: #5d4200; border: 1px solid #e69500;"
                                                  "border-radius: 4px; padding: 4px;")
            self._layout.addWidget(self.disagreement_label)
        grid_host = QWidget()
        grid = QGridLayout(grid_host)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(1)
        infos = [self.result.detector_info.get(n) or {} for n in self.result.detectors]
        unseen = any(i.get("logo_auc") is not None for i in infos)
        for col, title in enumerate(("track", "verdict", "P(fake)", "threshold", "LOGO AUC" if unseen else "CV AUC")):
            head = _label(title, wrap=False)
            head.setStyleSheet("color: palette(mid); font-size: 8pt;")
            grid.addWidget(head, 0, col)
        for i, (name, d) in enumerate(self.result.detectors.items()):
            info = self.result.detector_info.get(name)
            card = model_card_text(name, info)
            cells = {
                "name": _label(_detector_title(name, info, d.get("reference")), wrap=False),
                "track": _label(str(d.get("track") or "—"), wrap=False),
                "verdict": _label(detector_verdict(self.result, d), wrap=False),
                "probability": _label(fmt_prob(d.get("probability")), wrap=False),
                "threshold": _label(fmt_number(d.get("threshold"), ".2f"), wrap=False),
                "auc": _label(fmt_number((info or {}).get("logo_auc" if unseen else "cv_auc"), ".3f"), wrap=False),
            }
            cells["name"].setStyleSheet("font-weight: bold; margin-top: 3px;")
            cells["verdict"].setStyleSheet(f"color: {verdict_text_color(detector_verdict(self.result, d))}; "
                                           "font-weight: bold;")
            band = d.get("inconclusive_band") or []
            cells["threshold"].setToolTip(f"inconclusive between {band[0]:.2f} and {band[1]:.2f}; calibration: "
                                          f"{d.get('calibration')}; aggregation: {d.get('aggregation')}"
                                          if len(band) == 2 else str(d.get("calibration")))
            cells["probability"].setToolTip(f"decision score {fmt_number(d.get('score'))}")
            cells["name"].setToolTip(card)
            cells["auc"].setToolTip(card)
            grid.addWidget(cells["name"], 1 + 2 * i, 0, 1, 6)  # name on its own line: the panel is narrow
            for col, key in enumerate(("track", "verdict", "probability", "threshold", "auc")):
                grid.addWidget(cells[key], 2 + 2 * i, col)
            self.detector_rows.append(cells)
        grid.setColumnStretch(5, 1)
        self._layout.addWidget(grid_host)
        self._build_model_cards()

    def _build_model_cards(self) -> None:
        """Expandable: the card of every detector, so nobody reads a score without its domain."""
        self.model_cards_button = QToolButton()
        self.model_cards_button.setObjectName("modelCardsButton")
        self.model_cards_button.setText("Model cards (what each detector was trained on)")
        self.model_cards_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.model_cards_button.setArrowType(Qt.ArrowType.RightArrow)
        self.model_cards_button.setCheckable(True)
        self.model_cards_button.setAutoRaise(True)
        texts = [model_card_text(n, self.result.detector_info.get(n)) for n in self.result.detectors]
        self.model_cards_label = _label("<br><br>".join(texts), name="modelCards", rich=True)
        self.model_cards_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model_cards_label.setVisible(False)
        self.model_cards_label.setStyleSheet("font-size: 8pt; padding-left: 14px;")
        self.model_cards_button.toggled.connect(self._toggle_model_cards)
        self._layout.addWidget(self.model_cards_button)
        self._layout.addWidget(self.model_cards_label)

    def _toggle_model_cards(self, shown: bool) -> None:
        self.model_cards_label.setVisible(shown)
        self.model_cards_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _build_attribution(self) -> None:
        self._layout.addWidget(_heading("Closest known source (attribution)"))
        top = shown_attribution(self.result, top=ATTRIBUTION_TOP)  # a file called fake only; never "real"
        host = QWidget()
        grid = QGridLayout(host)
        grid.setContentsMargins(0, 0, 0, 0)
        for row, item in enumerate(top):
            p = float(item.get("probability") or 0.0)
            bar = QProgressBar()
            bar.setObjectName("attributionBar")
            bar.setRange(0, 1000)
            bar.setValue(round(p * 1000))
            bar.setFormat(f"{100 * p:.1f}%")
            bar.setMaximumHeight(16)
            bar.setToolTip(f"from {item.get('detector')}; only among the classes it was trained on")
            grid.addWidget(_label(str(item.get("class")), wrap=False), row, 0)
            grid.addWidget(bar, row, 1)
            self.attribution_bars.append(bar)
        grid.setColumnStretch(1, 1)
        self._layout.addWidget(host)
        note = _label("Closest among the sources the detector was trained on; "
                      "an unknown generator still maps to one of them.")
        note.setStyleSheet("color: palette(mid); font-size: 8pt;")
        self._layout.addWidget(note)

    def _build_where(self) -> None:
        """Suspected segments (audio, video) and the honest reading of any timeline or heatmap."""
        segments = sorted(self.result.segments, key=lambda s: (float(s["start_s"]), str(s.get("track"))))
        timed = self.result.modality in TIMED or bool(segments)
        self._layout.addWidget(_heading(f"Where: suspected segments ({len(segments)})" if timed else "Where"))
        if timed and not segments:
            self._layout.addWidget(_label("none found by the segment rule", name="segment"))
        region = region_text(self.result.heatmap)
        if region is not None:
            self.region_label = _label(region, name="region")
            self._layout.addWidget(self.region_label)
        for seg in segments:
            label = _label(segment_text(seg, segment_peak(self.result, seg)), name="segment")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if seg.get("within_real_file"):
                label.setStyleSheet("font-style: italic;")
                label.setToolTip("The file-level verdict is real; this short stretch still crossed the segment "
                                 "rule's threshold. Listed so it can be checked, not as a finding.")
            self._layout.addWidget(label)
            self.segment_labels.append(label)
        self.where_note = _label(WHERE_NOTE, name="whereNote")
        self.where_note.setStyleSheet("color: palette(mid); font-size: 8pt;")
        self._layout.addWidget(self.where_note)

    def _build_key_caveats(self) -> None:
        """The few caveats that change how to read this verdict, right under it (core.present.KEY_CAVEATS)."""
        key, _rest = caveat_groups(self.result)
        if not key:
            return
        self._layout.addWidget(_heading(f"Read this first ({len(key)})"))
        for text in key:
            self.key_caveat_labels.append(self._caveat_label(text, KEY_CAVEAT_STYLE))

    def _build_caveats(self) -> None:
        """The other caveats, in the engine's order (the key ones are under the verdict).

        Each detector's training domain is said once, in its model card, not here.
        """
        key, rest = caveat_groups(self.result)
        self._layout.addWidget(_heading(f"Other caveats ({len(rest)})" if key else f"Caveats ({len(rest)})"))
        if not rest:
            self._layout.addWidget(_label("none raised"))
        for text in rest:
            self._caveat_label(text, "")

    def _caveat_label(self, text: str, style: str) -> QLabel:
        label = _label("• " + text, name="caveat")
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if style:
            label.setStyleSheet(style)
        self._layout.addWidget(label)
        self.caveat_labels.append(label)
        return label

    def _build_provenance(self) -> None:
        """Metadata and Content Credentials: their own line of evidence, never part of the score."""
        prov = self.result.provenance or {}
        c2pa = prov.get("c2pa") or {}
        self._layout.addWidget(_heading("Provenance (metadata, Content Credentials)"))
        self.provenance_label = _label(str(prov.get("summary") or "no provenance information"), name="provenance")
        self.provenance_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if c2pa.get("present") and c2pa.get("valid") is False:
            self.provenance_label.setStyleSheet(f"color: {verdict_text_color('fake')};")  # broken signature
        self._layout.addWidget(self.provenance_label)
        hints = prov.get("generator_hints") or []
        if hints:
            lines = [f"• {h.get('source')}: {h.get('meaning') or h.get('value')}" for h in hints[:5]]
            self._layout.addWidget(_label("\n".join(lines), name="provenanceHints"))

    def _build_media(self) -> None:
        self._layout.addWidget(_heading("File"))
        self.media_label = _label(media_summary(self.result.media), name="mediaLabel")
        self._layout.addWidget(self.media_label)
        self.hash_label = _label(f"SHA-256 {self.result.sha256 or '—'}", name="hashLabel")
        self.hash_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hash_label.setStyleSheet("font-family: monospace; font-size: 8pt;")
        self._layout.addWidget(self.hash_label)
        bundles = [f"{n}: {(i or {}).get('bundle_sha256') or '—'}" for n, i in self.result.detector_info.items()]
        if bundles:
            self.bundle_hash_label = _label("bundles\n" + "\n".join(bundles), name="bundleHashLabel")
            self.bundle_hash_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.bundle_hash_label.setStyleSheet("font-family: monospace; font-size: 8pt;")
            self._layout.addWidget(self.bundle_hash_label)
