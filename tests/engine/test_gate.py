"""The gate: files a detector cannot judge get "inconclusive" with the reason, the score still shown."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepfake_gui.analysis.calibration import selective_band
from deepfake_gui.analysis.content import ContentCheck, check_image
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.gate import apply_gate, content_check


def _result(verdict: str = "fake", probability: float = 0.97) -> ScanResult:
    return ScanResult(path="x.png", modality="image", verdict=verdict, probability=probability, score=3.2,
                      attribution=[{"class": "ae-transposed-conv", "probability": 1.0}],
                      components={"image": {"verdict": verdict, "probability": probability}},
                      detectors={"image-effnet": {"probability": probability, "verdict": verdict}})


def test_a_screenshot_called_fake_becomes_inconclusive_with_its_reason_and_keeps_its_score():
    from deepfake_gui.engine.ood_corpus import _screenshot

    im, _ = _screenshot(np.random.default_rng(0), 1)
    result = apply_gate(_result(), check_image(np.asarray(im)))
    assert result.verdict == "inconclusive"
    assert result.probability == 0.97 and result.score == 3.2  # shown, not hidden
    assert result.attribution == []  # no "ae-transposed-conv 100%" on a screenshot
    assert result.components["image"]["verdict"] == "inconclusive"
    assert result.gate["reasons"][0]["code"] == "graphics"
    assert result.gate["verdict_before_gate"] == "fake"
    assert "not a photograph" in result.caveats[0]
    assert result.media["content"]["kind"] == "graphics"


def test_a_judgeable_file_keeps_its_verdict_and_records_what_was_measured():
    check = ContentCheck("photo-like", {"width": 640.0})
    result = apply_gate(_result("real", 0.02), check)
    assert result.verdict == "real" and result.gate is None
    assert result.media["content"] == {"kind": "photo-like", "stats": {"width": 640.0}, "reasons": []}


def test_a_detector_outside_its_held_out_domain_withholds_the_verdict():
    result = _result("fake", 0.99)
    result.modality = "audio"
    result.detectors["audio-whisper"] = {"verdict": "fake", "domain_gate": {
        "outside": True, "distance": 900.0, "threshold": 300.0, "message": "this recording is further ..."}}
    result.caveats = ["this audio lies outside audio-whisper's training domain: it is further from the training "
                      "data than 99% of held-out training items, so the score may not carry over",
                      "this audio lies outside audio-other's training domain: …"]
    gated = apply_gate(result, ContentCheck("speech-like"))
    assert gated.verdict == "inconclusive"
    # said once, by the gate's reason; another detector's caveat stays
    assert not any("audio-whisper's training domain" in c for c in gated.caveats)
    assert any("audio-other's training domain" in c for c in gated.caveats)
    assert gated.gate["reasons"] == [{"code": "outside-domain",
                                      "message": "audio-whisper: this recording is further ..."}]
    assert "layerscope adapt" in gated.gate["suggestion"]


def test_errors_are_not_gated():
    result = ScanResult(path="x.png", status="error", error="broken")
    assert apply_gate(result, ContentCheck("tiny", {}, [{"code": "too-small", "message": "m"}])).gate is None


def test_content_check_reads_the_file(tmp_path: Path):
    from PIL import Image

    from deepfake_gui.media import probe

    path = tmp_path / "one.png"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(path)
    check = content_check(path, probe(path, with_hash=False))
    assert check.kind == "tiny" and "1x1" in check.reasons[0]["message"]


def test_selective_band_keeps_its_promise_on_the_scores_it_was_fitted_on():
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(400, int), np.ones(400, int)]
    probs = np.clip(np.r_[rng.beta(2, 5, 400), rng.beta(5, 2, 400)], 0, 1)
    (lo, hi), fig = selective_band(probs, labels)
    fake, real = probs >= hi, probs < lo
    committed = fake | real
    right = (fake & (labels == 1)) | (real & (labels == 0))
    assert right[committed].mean() >= 0.95
    assert (fake & (labels == 0)).sum() / 400 <= 0.05
    assert fig["coverage"] == committed.mean()
    assert fig["accuracy_committed"] == right[committed].mean()
    assert 0.2 < fig["coverage"] < 0.9
    # no wider commitment keeps the promise: widening either edge by one file breaks it
    for lo2, hi2 in ((np.sort(probs[probs >= lo])[0] + 1e-9, hi), (lo, np.sort(probs[probs < hi])[-1])):
        f2, r2 = probs >= hi2, probs < lo2
        c2 = f2 | r2
        ok2 = (((f2 & (labels == 1)) | (r2 & (labels == 0)))[c2].mean() >= 0.95
               and (f2 & (labels == 0)).sum() / 400 <= 0.05)
        assert not ok2 or c2.sum() <= committed.sum()


def test_selective_band_commits_on_nothing_when_nothing_is_reliable():
    labels = np.r_[np.zeros(50, int), np.ones(50, int)]
    probs = np.full(100, 0.5)
    (lo, hi), fig = selective_band(probs, labels)
    assert fig["coverage"] == 0.0 and fig["false_accusation"] == 0.0
    assert lo <= 0.5 < hi or (lo == 0.0 and hi == 1.0)


def test_a_jpeg_recompressed_harder_than_any_training_picture_is_withheld(tmp_path: Path):
    from types import SimpleNamespace

    from PIL import Image

    from deepfake_gui.engine.gate import recompression_reasons
    from deepfake_gui.media import probe
    from tests.media_factory import noisy_rgb

    detector = SimpleNamespace(name="image-probe", modality="image", unavailable=None,
                               detector=SimpleNamespace(meta={"domain_profile": {"jpeg_quality_min": 92}}))
    pictures = {}
    for quality in (70, 90, 95):
        path = tmp_path / f"q{quality}.jpg"
        Image.fromarray(noisy_rgb(256, 256, 30, seed=quality)).save(path, quality=quality)
        pictures[quality] = recompression_reasons(path, probe(path, with_hash=False), [detector])
    assert pictures[90] == [] and pictures[95] == []  # within 5 of the training pictures' lowest quality
    (reason,) = pictures[70]
    assert reason["code"] == "recompressed"
    assert "JPEG quality about 70" in reason["message"] and "quality 92 or better" in reason["message"]
    result = apply_gate(_result("fake", 0.99), ContentCheck("photo-like"), pictures[70])
    assert result.verdict == "inconclusive" and result.gate["reasons"] == pictures[70]


def test_a_picture_smaller_than_every_training_picture_is_withheld():
    from types import SimpleNamespace

    from deepfake_gui.engine.gate import enlargement_reasons

    meta = {"domain_profile": {"size_range": [[224, 240], [512, 512]]}}
    detector = SimpleNamespace(name="image-probe", modality="image", unavailable=None,
                               detector=SimpleNamespace(meta=meta))
    no_sizes = SimpleNamespace(name="image-old", modality="image", unavailable=None,
                               detector=SimpleNamespace(meta={"domain_profile": {}}))

    def picture(width, height):
        return SimpleNamespace(modality="image", width=width, height=height)

    assert enlargement_reasons(picture(224, 900), [detector, no_sizes]) == []  # as small as the smallest: seen
    (reason,) = enlargement_reasons(picture(300, 160), [detector, no_sizes])
    assert reason["code"] == "enlarged"
    assert reason["message"].startswith("image-probe: 300x160 px, smaller than its training pictures (224 px")
    assert enlargement_reasons(SimpleNamespace(modality="audio", width=None, height=None), [detector]) == []
    result = apply_gate(_result("fake", 0.99), ContentCheck("photo-like"), [reason])
    assert result.verdict == "inconclusive" and result.gate["reasons"] == [reason]


def test_an_inconclusive_track_inside_the_band_says_so():
    from types import SimpleNamespace

    from deepfake_gui.engine.verdicts import band_reasons

    active = SimpleNamespace(name="audio-probe")
    inside = SimpleNamespace(verdict="inconclusive", probability=0.62,
                             calibration=SimpleNamespace(band=(0.48, 0.82)))
    (line,) = band_reasons({"audio": [(active, inside)]}, {"audio": {"verdict": "inconclusive"}})
    assert line == ("inconclusive: P(fake) 0.62 of the audio lies inside audio-probe's inconclusive band "
                    "(0.48-0.82), where it was not reliable on generators and sources it had not seen")
    fake = SimpleNamespace(verdict="fake", probability=0.9, calibration=inside.calibration)
    real = SimpleNamespace(verdict="real", probability=0.1, calibration=inside.calibration)
    assert band_reasons({"audio": [(active, fake), (active, real)]}, {"audio": {"verdict": "inconclusive"}}) == []
    assert band_reasons({"audio": [(active, fake)]}, {"audio": {"verdict": "fake"}}) == []


def test_video_frames_smaller_than_every_training_picture_withhold_the_picture_track():
    from types import SimpleNamespace

    from deepfake_gui.core.present import is_key_caveat
    from deepfake_gui.engine.gate import frames_enlarged_reason

    meta = {"domain_profile": {"size_range": [[224, 224], [512, 512]]}}
    active = SimpleNamespace(name="image-probe", detector=SimpleNamespace(meta=meta))
    line = frames_enlarged_reason(active, {"frame_short_side": 160})
    assert line.startswith("image-probe: the frames are 160 px on their shorter side, smaller than its training "
                           "pictures (224 px")
    assert is_key_caveat(f"inconclusive: {line}")
    assert frames_enlarged_reason(active, {"frame_short_side": 240}) is None
    assert frames_enlarged_reason(active, {"frame_short_side": 160, "faces_requested": True}) is None  # face crops
    bare = SimpleNamespace(name="image-old", detector=SimpleNamespace(meta={}))
    assert frames_enlarged_reason(bare, {"frame_short_side": 160}) is None


def test_a_gated_file_drops_the_lone_leads_doubt_about_a_verdict_it_no_longer_has():
    lone = ("only audio-phase-coherence says fake (audio-whisper-tiny-en inconclusive); its measured AUC on copies "
            "that went through a lossy codec is opus16k 0.68: ..., so if this audio may have been through one, the "
            "fake verdict is unproven")
    result = _result("fake", 0.98)
    result.caveats = [lone, "amr_nb audio at 12 kbit/s (below 32): heavy lossy coding"]
    call = ContentCheck("phone-call", {}, [{"code": "voice-codec", "message": "sounds like a phone call"}])
    gated = apply_gate(result, call)
    assert gated.verdict == "inconclusive" and lone not in gated.caveats
    assert "amr_nb audio at 12 kbit/s (below 32): heavy lossy coding" in gated.caveats
    kept = _result("fake", 0.98)
    kept.caveats = [lone]
    assert apply_gate(kept, ContentCheck("speech-like")).caveats == [lone]  # not gated: the doubt stands
