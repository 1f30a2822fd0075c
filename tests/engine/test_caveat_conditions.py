"""Scan caveats quote a detector's measured AUC under the laundering condition a file resembles.

Unit part: a stand-in detector (only what detector_caveats reads). End to end: a tiny
random-weight test-efficientnet probe trained on generated images, given a robustness
table in its detector.json, scanning a crafted quality-40 JPEG.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import media_factory
import numpy as np
import pytest
from PIL import Image

from deepfake_gui.engine.caveat_rules import condition_caveats, detector_caveats
from deepfake_gui.engine.track import TrackScore
from deepfake_gui.launder.audio import encode
from deepfake_gui.media.probe import probe

TABLE = {
    "method": "grouped 5-fold CV: held-out groups scored clean and laundered",
    "augment": "none",
    "conditions": {
        "clean": {"auc": 0.99, "eer": 0.04, "n": 40},
        "jpeg75": {"auc": 0.9, "eer": 0.15, "n": 40},
        "jpeg60": {"auc": 0.8512, "eer": 0.2, "n": 40},
        "opus16k": {"auc": 0.7004, "eer": 0.3, "n": 40},
    },
}


def _active(name: str, modality: str, robustness: dict | None) -> SimpleNamespace:
    meta = {"modality": modality, "metrics": {"cv_auc": 0.99}}
    if robustness is not None:
        meta["robustness"] = robustness
    detector = SimpleNamespace(meta=meta, out_of_domain=lambda features: None)
    return SimpleNamespace(name=name, modality=modality, detector=detector, random_init=False,
                           describe_domain=lambda: f"generated {modality} files")


def _score(name: str, track: str) -> TrackScore:
    return TrackScore(detector=name, track=track, decision=0.0, probability=0.5, verdict=None,
                      features=np.zeros((1, 4), dtype=np.float32), aggregation="mean")


def _photo() -> Image.Image:
    return Image.fromarray(media_factory.noisy_rgb(256, 256, 20, seed=3), "RGB")


@pytest.fixture(scope="module")
def low_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jpeg") / "suspect_q40.jpg"
    _photo().save(path, quality=40)
    return path


def _measured(caveats: list[str]) -> list[str]:
    return [c for c in caveats if "measured AUC" in c or "the harshest is" in c]


def test_an_image_detector_with_a_table_quotes_its_jpeg60_figure(low_jpeg: Path) -> None:
    info = probe(low_jpeg, with_hash=False)
    caveats = detector_caveats(_active("image-probe", "image", TABLE), _score("image-probe", "image"), info)
    (line,) = _measured(caveats)
    assert line.startswith("this file looks re-compressed (JPEG quality about 4")
    # quality 40 is harsher than the harshest measured condition (60): its figure is not quoted as this file's
    assert "more degraded than anything image-probe was measured on" in line
    assert "(jpeg60, AUC 0.851)" in line or "jpeg60, AUC 0.851" in line
    assert line.endswith("not measured and likely worse")


def test_no_table_no_row_or_another_modality_adds_nothing(low_jpeg: Path, tmp_path: Path) -> None:
    info = probe(low_jpeg, with_hash=False)
    score = _score("p", "image")
    assert _measured(detector_caveats(_active("p", "image", None), score, info)) == []
    assert len(detector_caveats(_active("p", "image", None), score, info)) == 1  # only the domain line
    no_row = {**TABLE, "conditions": {"clean": TABLE["conditions"]["clean"]}}
    assert condition_caveats(_active("p", "image", no_row), score, info) == []
    none_auc = {**TABLE, "conditions": {"jpeg60": {"auc": None, "eer": None, "n": 0}}}
    assert condition_caveats(_active("p", "image", none_auc), score, info) == []
    # an audio detector's table says nothing about a JPEG
    assert condition_caveats(_active("a", "audio", TABLE), _score("a", "audio"), info) == []
    clean = tmp_path / "clean.png"
    _photo().save(clean)
    assert condition_caveats(_active("p", "image", TABLE), score, probe(clean, with_hash=False)) == []


def test_an_audio_detector_quotes_its_opus16k_figure(tmp_path: Path) -> None:
    path = tmp_path / "voice.opus"
    path.write_bytes(encode(media_factory.speechlike(8000, 1.5), 8000, "opus", 16_000))
    info = probe(path, with_hash=False)
    (line,) = condition_caveats(_active("audio-ge2e", "audio", TABLE), _score("audio-ge2e", "audio"), info)
    assert line.startswith("this file looks re-compressed (opus audio at ")
    assert "under Opus 16 kbit/s at 16 kHz (opus16k), audio-ge2e's measured AUC is 0.700 (clean 0.990;" in line


# --- end to end through scan -----------------------------------------------------------------


def _training_set(root: Path) -> Path:
    """real/: smooth colour fields; fake/blocky/: the same made blocky (same name = same group)."""
    rng = np.random.default_rng(0)
    (root / "real").mkdir(parents=True)
    (root / "fake" / "blocky").mkdir(parents=True)
    for i in range(8):
        small = (rng.random((8, 8, 3)) * 200).astype(np.uint8)
        smooth = Image.fromarray(small).resize((64, 64), Image.Resampling.BICUBIC)
        smooth.save(root / "real" / f"img{i}.png")
        smooth.resize((8, 8)).resize((64, 64), Image.Resampling.NEAREST).save(root / "fake" / "blocky" / f"img{i}.png")
    return root


@pytest.fixture(scope="module")
def bundle_with_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from deepfake_gui.engine.train import TrainOptions, TrainReport, train_job

    root = _training_set(tmp_path_factory.mktemp("train"))
    opts = TrainOptions(data=root, encoder="test-efficientnet", out=root.parent / "bundle", sweep=False, layer=2,
                        folds=3, device="cpu", attribution=False)
    report = next(e for e in train_job(opts) if isinstance(e, TrainReport))
    meta_path = Path(report.bundle_path) / "detector.json"
    meta = json.loads(meta_path.read_text())
    meta["robustness"] = TABLE  # as the train job writes it (the JSON is not covered by the weights hash)
    meta_path.write_text(json.dumps(meta, indent=2))
    return Path(report.bundle_path)


def test_scan_of_a_low_quality_jpeg_carries_the_measured_caveat(bundle_with_table: Path, low_jpeg: Path) -> None:
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.detectors import resolve_detectors
    from deepfake_gui.engine.scan import ScanOptions, scan_job

    options = ScanOptions(device="cpu", detectors=[str(bundle_with_table)], use_defaults=False, keep_arrays=False,
                          provenance=False, prefetch=0)
    detectors = resolve_detectors(options.detectors, "cpu", False)
    (result,) = [e for e in scan_job([low_jpeg], options, detectors=detectors) if isinstance(e, ScanResult)]
    name = detectors[0].name
    assert result.status == "ok", result.error
    measured = _measured(result.caveats)
    assert len(measured) == 1, result.caveats
    assert f"more degraded than anything {name} was measured on" in measured[0]
    # trained on quality-95 tiles, so a quality-40 copy gets no verdict at all, and says why
    assert result.verdict in ("inconclusive", None)
    if result.gate is not None:
        assert {r["code"] for r in result.gate["reasons"]} <= {"recompressed", "outside-domain"}
    assert "jpeg60, AUC 0.851" in measured[0] and measured[0].endswith("likely worse")
    assert any(c.startswith("JPEG quality about 4") for c in result.caveats)  # the file caveat still fires


def _lead_and_second(verdicts: tuple[str, str], robustness: dict | None) -> tuple[list, list[TrackScore]]:
    """Two stand-in audio detectors with the given verdicts (P 0.99 / 0.01 / 0.5), the first with ``robustness``."""
    from deepfake_gui.analysis.calibration import Platt
    from deepfake_gui.probes.detector import Calibration

    actives, scores = [], []
    for i, verdict in enumerate(verdicts):
        name = f"det-{i}"
        active = _active(name, "audio", robustness if i == 0 else None)
        active.folder = Path(f"/bundles/{name}")
        active.encoder = None
        det = active.detector
        det.band, det.threshold = (0.1, 0.9), 0.5
        det.bundle = SimpleNamespace(content_hash=lambda: "0" * 64, arrays={}, meta=det.meta)
        det.encoder_name = "test-encoder"
        det.reference_set = None
        for hook in ("attribution", "gate_distance", "reference_distance"):
            setattr(det, hook, lambda features: None)
        det.verdicts = lambda p: ["fake" if float(x) >= 0.9 else "real" if float(x) <= 0.1 else "inconclusive"
                                  for x in np.atleast_1d(p)]
        p = {"fake": 0.99, "real": 0.01, "inconclusive": 0.5}[verdict]
        score = TrackScore(detector=name, track="audio", decision=0.0, probability=p, verdict=None,
                           features=np.zeros((1, 4), dtype=np.float32), aggregation="mean",
                           calibration=Calibration(Platt(1.0, 0.0), 0.5, (0.1, 0.9), "file"))
        actives.append(active)
        scores.append(score)
    return actives, scores


@pytest.mark.parametrize(("verdicts", "expected"), [
    (("fake", "inconclusive"), "inconclusive"), (("real", "inconclusive"), "inconclusive"),
    (("fake", "fake"), "fake"), (("real", "real"), "real")])
def test_under_a_condition_the_lead_is_weak_on_it_cannot_decide_alone(tmp_path: Path, verdicts, expected) -> None:
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.scan import ScanOptions
    from deepfake_gui.engine.verdicts import finish_result

    path = tmp_path / "voice.opus"
    path.write_bytes(encode(media_factory.speechlike(8000, 1.5), 8000, "opus", 16_000))
    info = probe(path, with_hash=False)
    actives, scores = _lead_and_second(verdicts, TABLE)  # opus16k: measured AUC 0.70 < 0.85
    result = finish_result(ScanResult(path=str(path)), info, scores, actives, ScanOptions(device="cpu"))
    assert result.verdict == expected
    weak = [c for c in result.caveats if "too weak for it to decide alone" in c]
    if expected == "inconclusive":
        assert result.caveats[0] == weak[0] and weak[0].startswith("inconclusive: this file looks re-compressed")
        assert "under opus16k det-0's measured AUC is 0.70" in weak[0]
    else:
        assert weak == []


def test_a_clean_file_or_a_strong_condition_keeps_the_lead_verdict(tmp_path: Path) -> None:
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.scan import ScanOptions
    from deepfake_gui.engine.verdicts import finish_result

    path = tmp_path / "voice.opus"
    path.write_bytes(encode(media_factory.speechlike(8000, 1.5), 8000, "opus", 16_000))
    strong = json.loads(json.dumps(TABLE))
    strong["conditions"]["opus16k"]["auc"] = 0.93
    for table in (strong, None):
        actives, scores = _lead_and_second(("fake", "inconclusive"), table)
        result = finish_result(ScanResult(path=str(path)), probe(path, with_hash=False), scores, actives,
                               ScanOptions(device="cpu"))
        assert result.verdict == "fake"


def test_a_mild_match_counts_where_its_figure_drops_materially(tmp_path: Path) -> None:
    """An MP3 at 32 kbit/s is a mild match; phase coherence's 0.78 there (clean 0.99) still stops it deciding alone."""
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.scan import ScanOptions
    from deepfake_gui.engine.verdicts import finish_result

    path = tmp_path / "voice.mp3"
    path.write_bytes(encode(media_factory.speechlike(16000, 2.0), 16000, "mp3", 32_000))
    table = json.loads(json.dumps(TABLE))
    for auc, expected in ((0.784, "inconclusive"), (0.97, "real")):
        table["conditions"]["mp3_32k"] = {"auc": auc, "eer": 0.2, "n": 40}
        actives, scores = _lead_and_second(("real", "inconclusive"), table)
        result = finish_result(ScanResult(path=str(path)), probe(path, with_hash=False), scores, actives,
                               ScanOptions(device="cpu"))
        assert result.verdict == expected, (auc, result.caveats)


def test_noise_measured_in_the_sound_stops_a_noise_weak_lead_deciding_alone(tmp_path: Path) -> None:
    """A FLAC shows no codec: the noise is read from the decoded sound (content check) and matched to noise20db."""
    from deepfake_gui.analysis.content import check_audio
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.scan import ScanOptions
    from deepfake_gui.engine.verdicts import finish_result
    from deepfake_gui.launder.audio import add_noise

    rate = 16000
    x = media_factory.speechlike(rate, 3.0, noise=0.001)
    x = x * (np.sin(2 * np.pi * 2.5 * np.arange(len(x)) / rate) > 0)  # pauses between syllables
    table = json.loads(json.dumps(TABLE))
    table["conditions"]["noise20db"] = {"auc": 0.662, "eer": 0.35, "n": 40}
    out = {}
    for name, sound in (("clean", x), ("noisy", add_noise(x, 20.0, np.random.default_rng(0)))):
        path = media_factory.write_mono_wav(tmp_path / f"{name}.wav", sound.astype(np.float32), rate)
        actives, scores = _lead_and_second(("real", "inconclusive"), table)
        result = finish_result(ScanResult(path=str(path)), probe(path, with_hash=False), scores, actives,
                               ScanOptions(device="cpu"), content=check_audio(sound, rate))
        out[name] = result
    assert out["clean"].verdict == "real"
    assert out["noisy"].verdict == "inconclusive"
    weak = next(c for c in out["noisy"].caveats if "too weak for it to decide alone" in c)
    assert weak.startswith("inconclusive: this file sounds noisy (steady noise about 1")
    assert "under noise20db det-0's measured AUC is 0.66" in weak
    assert any("under white Gaussian noise at 20 dB SNR (noise20db), det-0's measured AUC is 0.662" in c
               for c in out["noisy"].caveats)


def test_a_lead_deciding_alone_names_the_codecs_it_is_weak_under(tmp_path: Path) -> None:
    """A decoded voice message shows no codec: a lone verdict says which codecs would make it unproven,
    and a lone "fake" under LONE_FAKE_FLOOR is withheld."""
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.caveat_rules import LONE_FAKE_FLOOR
    from deepfake_gui.engine.scan import ScanOptions
    from deepfake_gui.engine.verdicts import finish_result

    path = media_factory.write_mono_wav(tmp_path / "voice.wav", media_factory.speechlike(16000, 2.0), 16000)
    table = json.loads(json.dumps(TABLE))
    table["conditions"]["mp3_32k"] = {"auc": 0.92, "eer": 0.1, "n": 40}  # strong: not named
    figures = ("its measured AUC on copies that went through a lossy codec is opus16k 0.70: a voice message or "
               "stream converted back to WAV or FLAC shows no trace of it")
    cases = [(("fake", "inconclusive"), 0.999, "fake", "unproven"), (("fake", "fake"), 0.93, "fake", None),
             (("real", "inconclusive"), 0.01, "real", "unproven"),
             (("fake", "inconclusive"), LONE_FAKE_FLOOR - 0.04, "inconclusive", "withheld")]
    for verdicts, p, expected, said in cases:
        actives, scores = _lead_and_second(verdicts, table)
        scores[0].probability = p
        result = finish_result(ScanResult(path=str(path)), probe(path, with_hash=False), scores, actives,
                               ScanOptions(device="cpu"))
        assert result.verdict == expected, (verdicts, p, result.caveats)
        alone = [c for c in result.caveats if "only det-0 says" in c]
        if said is None:
            assert alone == []
        elif said == "unproven":
            assert alone == [f"only det-0 says {expected} (det-1 inconclusive); {figures}, so if this audio may have "
                             f"been through one, the {expected} verdict is unproven"]
        else:
            assert result.caveats[0] == alone[0] == (
                "inconclusive: only det-0 says fake, at P 0.958 (det-1 inconclusive); deciding alone it needs P "
                f"0.998 or more, because {figures}, and genuine speech that went through one can score this high")


def test_a_lead_alone_on_its_track_decides_alone(tmp_path: Path) -> None:
    """With one sound detector (``--detector``), the lone-fake floor still holds: nobody else agreed."""
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.scan import ScanOptions
    from deepfake_gui.engine.verdicts import finish_result

    path = media_factory.write_mono_wav(tmp_path / "voice.wav", media_factory.speechlike(16000, 2.0), 16000)
    for p, expected in ((0.99, "inconclusive"), (0.999, "fake")):
        actives, scores = _lead_and_second(("fake", "inconclusive"), TABLE)
        scores[0].probability = p
        result = finish_result(ScanResult(path=str(path)), probe(path, with_hash=False), scores[:1], actives[:1],
                               ScanOptions(device="cpu"))
        assert result.verdict == expected
        assert any("only det-0 says fake" in c and "(no other audio detector ran)" in c for c in result.caveats)
