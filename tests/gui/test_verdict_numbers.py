"""Issue 22: one vocabulary of numbers, the gate's reasons, attribution only for fakes, domain text once.

Every result is made by hand, so each expected string is known; the verdict card, the batch table and
the report must all say the same thing about it.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from deepfake_gui.core.results import ScanResult
from deepfake_gui.report.render import render_html

pytest.importorskip("pytestqt")

DOMAIN = "det-a was trained on 8 kHz read speech (cross-validated AUC 0.99 there); its accuracy is only known there"
OTHER = "the audio is 3.0 s long; shorter than the 4 s the detector was trained on"
GATE = {"reasons": [{"code": "too_short", "message": "the sound is 0.8 s long: the detectors need at least 2 s"},
                    {"code": "out_of_domain", "message": "the voice lies outside det-a's training data"}],
        "suggestion": "scan a longer recording of the same voice"}


def _result(verdict: str = "inconclusive", probability: float = 0.67, **extra) -> ScanResult:
    fields = {"path": "/evidence/voice.wav", "sha256": "ab" * 32, "modality": "audio", "status": "ok",
              "verdict": verdict, "probability": probability, "score": 0.71,
              "detectors": {"det-a": {"track": "audio", "score": 0.71, "probability": probability, "verdict": verdict,
                                      "threshold": 0.75, "inconclusive_band": [0.58, 0.75]}},
              "detector_info": {"det-a": {"trained_on": "8 kHz read speech", "cv_auc": 0.99}},
              "attribution": [{"class": "real", "probability": 0.96, "detector": "det-a"},
                              {"class": "espeak-ng", "probability": 0.03, "detector": "det-a"},
                              {"class": "festival", "probability": 0.01, "detector": "det-a"}],
              "caveats": [DOMAIN, OTHER]}
    fields.update(extra)
    return ScanResult(**fields)


def test_the_card_shows_why_a_gated_file_is_inconclusive(qtbot) -> None:
    from deepfake_gui.gui.views.verdict_card import VerdictCard

    card = VerdictCard(_result(gate=GATE))
    qtbot.addWidget(card)
    assert card.gate_label is not None
    text = card.gate_label.text()
    assert "Why no real/fake verdict" in text
    assert "the sound is 0.8 s long: the detectors need at least 2 s" in text
    assert "the voice lies outside det-a&#x27;s training data" in text or "outside det-a's training data" in text
    assert "scan a longer recording of the same voice" in text
    layout = card.layout()  # right under the verdict and the file name, before the probability
    assert layout.indexOf(card.gate_label) < layout.indexOf(card.probability_label)
    assert VerdictCard(_result()).gate_label is None  # no gate: nothing extra


def test_the_report_shows_the_gates_reasons_under_the_verdict() -> None:
    html = render_html([_result(gate=GATE)])
    section = html[html.index('id="file-1"'):]
    gate = section[section.index('<div class="gate">'):]
    assert gate.index("the sound is 0.8 s long") < gate.index("</div>")
    assert "scan a longer recording of the same voice" in gate[:gate.index("</div>")]
    assert section.index('class="gate"') < section.index("<table")  # before any table
    assert 'class="gate"' not in render_html([_result()])


def test_a_gated_files_detector_rows_say_withheld_not_fake(qtbot) -> None:
    """A phone call the gate withheld: the lead's own "fake" must not sit in red under the reasons."""
    from deepfake_gui.core.present import detector_verdict
    from deepfake_gui.gui.views.verdict_card import VerdictCard

    gated = _result(gate=GATE, detectors={"det-a": {"track": "audio", "probability": 0.98, "verdict": "fake",
                                                     "threshold": 0.75, "inconclusive_band": [0.58, 0.75]}})
    card = VerdictCard(gated)
    qtbot.addWidget(card)
    assert card.detector_rows[0]["verdict"].text() == "withheld"
    assert card.detector_rows[0]["probability"].text() == "0.980"  # the score is still shown
    row = render_html([gated]).split("<td>det-a</td>", 1)[1].split("</tr>", 1)[0]
    assert "<td>withheld</td>" in row and "fake" not in row
    committed = _result("fake", 0.98, detectors=gated.detectors)
    assert detector_verdict(committed, committed.detectors["det-a"]) == "fake"  # no gate: the call stands
    assert detector_verdict(gated, {"verdict": "inconclusive"}) == "inconclusive"


def test_a_withheld_soundtrack_reads_withheld_in_its_track_line_and_detector_rows(qtbot) -> None:
    """A video whose music soundtrack was withheld: its line and rows say so; the picture's stand."""
    from deepfake_gui.core.present import track_verdict
    from deepfake_gui.gui.views.verdict_card import VerdictCard

    why = "the soundtrack: steady tones or music, not speech"
    result = _result("inconclusive", 0.07, detectors={
        "det-a": {"track": "audio", "probability": 0.91, "verdict": "inconclusive", "withheld": why,
                  "withheld_code": "not-speech", "threshold": 0.75, "inconclusive_band": [0.58, 0.75]},
        "det-img": {"track": "frames", "probability": 0.07, "verdict": "real", "threshold": 0.5,
                    "inconclusive_band": [0.2, 0.9]}})
    result.components = {"frames": {"detector": "det-img", "probability": 0.07, "verdict": "real"},
                         "audio": {"detector": "det-a", "probability": 0.91, "verdict": "inconclusive",
                                   "withheld": "not-speech"}}
    assert track_verdict(result.components["audio"]) == "withheld"
    assert track_verdict(result.components["frames"]) == "real"
    card = VerdictCard(result)
    qtbot.addWidget(card)
    assert [r["verdict"].text() for r in card.detector_rows] == ["withheld", "real"]
    assert "audio: withheld (0.910, det-a)" in card.components_label.text()
    assert "audio (det-a) withheld, P(fake) 0.910" in render_html([result])


def test_attribution_only_for_a_file_called_fake_and_never_real(qtbot) -> None:
    from deepfake_gui.gui.batch_model import COLUMN_INDEX, ResultTableModel
    from deepfake_gui.gui.views.verdict_card import VerdictCard

    inconclusive, fake = _result(), _result("fake", 0.99, path="/evidence/clone.wav")
    model = ResultTableModel()
    model.extend([inconclusive, fake])
    col = COLUMN_INDEX["Closest source"]
    assert model.index(0, col).data() == "—"  # never "real (96%)" for a file at P(fake) 0.67
    assert model.index(1, col).data() == "espeak-ng (3%)"
    card = VerdictCard(inconclusive)
    qtbot.addWidget(card)
    assert card.attribution_bars == []
    fake_card = VerdictCard(fake)
    qtbot.addWidget(fake_card)
    assert [b.format() for b in fake_card.attribution_bars] == ["3.0%", "1.0%"]
    assert "Closest known source" not in render_html([inconclusive])
    fake_html = render_html([fake])
    source = fake_html[fake_html.index("Closest known source (attribution):"):]
    source = source[:source.index("</p>")]
    assert "espeak-ng 0.030 · festival 0.010" in source and "real" not in source.split("(from")[0]


def test_domain_text_once_in_the_model_cards_not_in_the_caveat_list(qtbot) -> None:
    from deepfake_gui.gui.views.verdict_card import VerdictCard

    card = VerdictCard(_result())
    qtbot.addWidget(card)
    assert [label.text() for label in card.caveat_labels] == ["• " + OTHER]
    assert "8 kHz read speech" in card.model_cards_label.text()
    html = render_html([_result()])
    section = html[html.index('id="file-1"'):]
    assert "Caveats (1)" in section and OTHER in section and DOMAIN not in section
    assert "8 kHz read speech" not in section  # said once, in the model card of the versions section
    versions = html[html.index('id="versions"'):html.index('id="file-1"')]
    assert versions.count("8 kHz read speech") == 1


def test_the_table_says_what_its_number_is_and_copies_full_hashes(qtbot) -> None:
    from deepfake_gui.gui.batch_model import COLUMN_INDEX, COLUMNS, ResultTableModel, copy_text

    ok, broken = _result(), ScanResult(path="/evidence/broken.mp4", status="error", error="moov atom not found")
    model = ResultTableModel()
    model.extend([ok, broken])
    col = COLUMN_INDEX["P(fake)"]
    assert "Score" not in COLUMN_INDEX
    assert model.index(0, col).data() == "0.670"
    assert model.index(0, col).data(Qt.ItemDataRole.ToolTipRole) == (
        "calibrated probability of fake 0.670; score 0.71 (logit)")
    sha = COLUMN_INDEX["SHA-256"]
    assert model.index(0, sha).data() == "abababababab…"
    assert copy_text([model.index(0, sha), model.index(0, COLUMN_INDEX["File"])]) == "/evidence/voice.wav\t" + "ab" * 32
    for column in range(len(COLUMNS)):  # the reason for the error, whichever cell the pointer is on
        assert "moov atom not found" in model.index(1, column).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(1, COLUMN_INDEX["Status"]).data() == "error: moov atom not found"
    assert COLUMNS[COLUMN_INDEX["Status"]].width >= 120


KEY = {
    "gate": "no verdict: the sound is 0.8 s long. The score is shown but is not evidence either way",
    "partial": "scored in part only: the audio did not decode to the end (truncated)",
    "ood": "this audio lies outside det-a's training domain: it is further from the training data than 99% of "
           "held-out training items, so the score may not carry over",
    "beyond": "this file looks re-compressed (opus audio at 12 kbit/s): that is more degraded than anything det-a "
              "was measured on (the harshest is Opus, opus16k, AUC 0.700); its accuracy here is not measured and "
              "likely worse",
}
SILENCE = "leading silence of 1.2 s (more than 0.5 s): audio detectors are known to key on silence"
SEGMENTS = "1 suspected segment(s) are listed: they show where the detectors responded, not proof of manipulation"


def _ranked_result(gate: dict | None = None) -> ScanResult:
    """The engine's order: domain paragraph, a side remark, then the ones that change the reading, mixed."""
    caveats = [DOMAIN, SILENCE, KEY["beyond"], SEGMENTS, KEY["ood"], KEY["partial"], KEY["gate"]]
    return _result(caveats=caveats, gate=gate)


def test_caveats_that_change_the_reading_come_first_in_card_report_and_json(qtbot) -> None:
    import json

    from deepfake_gui.core.present import caveat_groups
    from deepfake_gui.gui.views.verdict_card import VerdictCard

    result = _ranked_result()
    key, rest = caveat_groups(result)
    assert key == [KEY["gate"], KEY["partial"], KEY["ood"], KEY["beyond"]]
    assert rest == [SILENCE, SEGMENTS]  # the rest keep the engine's order; the domain text is not listed

    card = VerdictCard(result)
    qtbot.addWidget(card)
    assert [label.text() for label in card.key_caveat_labels] == ["• " + c for c in key]
    assert [label.text() for label in card.caveat_labels] == ["• " + c for c in key + rest]
    headings = [w.text() for w in card.findChildren(type(card.verdict_label)) if w.text().startswith(
        ("Read this first", "Other caveats"))]
    assert headings == ["Read this first (4)", "Other caveats (2)"]
    layout = card.layout()  # right under the verdict's numbers, before the detectors and their model cards
    first = layout.indexOf(card.key_caveat_labels[0])
    assert layout.indexOf(card.probability_label) < first < layout.indexOf(card.model_cards_button)

    html = render_html([result])
    section = html[html.index('id="file-1"'):]
    positions = [section.index(c.replace("'", "&#39;")) for c in key + rest]
    assert positions == sorted(positions)
    assert section.index("Read this first (4)") < positions[0] and "Other caveats (2)" in section

    line = result.to_json_dict()  # JSON keeps every caveat, the domain paragraph last
    assert line["caveats"] == key + rest + [DOMAIN]
    assert json.loads(json.dumps(line))["caveats"] == ScanResult(**line).to_json_dict()["caveats"]  # idempotent


def test_a_gated_file_says_its_reasons_once_in_the_gate_box(qtbot) -> None:
    from deepfake_gui.gui.views.verdict_card import VerdictCard

    card = VerdictCard(_ranked_result(gate=GATE))
    qtbot.addWidget(card)
    texts = [label.text() for label in card.caveat_labels]
    assert "• " + KEY["gate"] not in texts and texts[0] == "• " + KEY["partial"]  # the box above says it
    assert KEY["gate"] in _ranked_result(gate=GATE).to_json_dict()["caveats"]  # never dropped from the JSON


def test_a_lead_that_could_not_decide_alone_is_read_first() -> None:
    """Checks 4 and 5 explain an "inconclusive" (or qualify a lone verdict): they go under the verdict."""
    from deepfake_gui.core.present import is_key_caveat

    weak = ("inconclusive: this file sounds noisy (steady noise about 17 dB below the speech); under noise20db "
            "det-a's measured AUC is 0.66, too weak for it to decide alone: the audio is inconclusive unless every "
            "detector agrees")
    withheld = ("inconclusive: only det-a says fake, at P 0.930 (det-b inconclusive); deciding alone it needs P 0.998 "
                "or more, because its measured AUC on copies that went through a lossy codec is opus16k 0.68")
    unproven = ("only det-a says real (det-b inconclusive); its measured AUC on copies that went through a lossy "
                "codec is aac24k 0.61: …, so if this audio may have been through one, the real verdict is unproven")
    assert all(is_key_caveat(c) for c in (weak, withheld, unproven))
    assert not is_key_caveat(SILENCE)
