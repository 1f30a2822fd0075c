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
    assert section.index('class="gate"') < section.index("<h3>")  # before any table
    assert 'class="gate"' not in render_html([_result()])


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
    assert "<td>espeak-ng</td>" in fake_html and "<td>real</td>" not in fake_html


def test_domain_text_once_in_the_model_cards_not_in_the_caveat_list(qtbot) -> None:
    from deepfake_gui.gui.views.verdict_card import VerdictCard

    card = VerdictCard(_result())
    qtbot.addWidget(card)
    assert [label.text() for label in card.caveat_labels] == ["• " + OTHER]
    assert "8 kHz read speech" in card.model_cards_label.text()
    html = render_html([_result()])
    section = html[html.index('id="file-1"'):]
    assert "Caveats (1)" in section and OTHER in section and DOMAIN not in section
    assert section.count("was trained on 8 kHz read speech") == 1


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
