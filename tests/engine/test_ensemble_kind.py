"""The ``ensemble`` detector kind, added as one module (probes/ensemble.py) plus its registration.

Two linear probes on a tiny random-weight encoder become one ensemble bundle; it loads
through the detector protocol, and evaluate, scan and the CLI run it without knowing
its kind. The numbers mean nothing (random weights): what is tested is that the
combined score is exactly intercept + sum_i w_i * member_i / scale_i everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from media_factory import write_mono_wav as _wav
from media_factory import write_tone_hiss_set

from deepfake_gui.core.errors import BundleError
from deepfake_gui.core.results import ScanResult

RATE = 16000
ENCODER = "test-ge2e"


def _run(job):
    last = None
    for event in job:
        last = event
    return last


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real: tones with a little noise; fake: hiss. 8 groups."""
    root = tmp_path_factory.mktemp("toy")
    write_tone_hiss_set(root, rate=RATE)
    return root


@pytest.fixture(scope="module")
def ensemble(toy: Path) -> dict:
    """Two members (layer 1, layer 2), weights 1 and 0.5, scales from their spread; its own Platt and band."""
    from deepfake_gui.analysis.calibration import Platt
    from deepfake_gui.encoders.extract import extract_features
    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.engine.datasets import load_dataset
    from deepfake_gui.engine.train import TrainOptions, train_job
    from deepfake_gui.probes.bundle import save_bundle
    from deepfake_gui.probes.ensemble import build_ensemble
    from deepfake_gui.probes.interface import load_detector

    members = []
    for layer in (1, 2):
        out = toy.parent / f"member{layer}"
        _run(train_job(TrainOptions(data=toy, encoder=ENCODER, out=out, sweep=False, layer=layer, folds=3,
                                    device="cpu", attribution=False)))
        members.append(load_detector(out))
    data = load_dataset(toy)
    layers, _ = extract_features(build_encoder(ENCODER, "cpu"), data.paths)
    decisions = [m.decision(m.select(layers)) for m in members]
    weights, scales = [1.0, 0.5], [float(np.std(d)) + 1e-3 for d in decisions]
    combined = 0.25 + sum(w * d / s for w, d, s in zip(weights, decisions, scales, strict=True))
    platt = Platt.fit(combined, data.labels)
    bundle = build_ensemble("toy-ensemble", members, weights, scales, platt, 0.5, (0.4, 0.6), intercept=0.25,
                            meta={"training": {"root": str(toy), "content_hash": data.content_hash()}})
    folder = save_bundle(bundle, toy.parent / "ensemble")
    return {"folder": folder, "members": members, "weights": weights, "scales": scales, "platt": platt,
            "data": data, "layers": layers, "combined": combined}


def _by_hand(ens: dict, layers: list[np.ndarray]) -> np.ndarray:
    decisions = [m.decision(m.select(layers)) for m in ens["members"]]
    return 0.25 + sum(w * d / s for w, d, s in zip(ens["weights"], decisions, ens["scales"], strict=True))


def test_an_ensemble_loads_through_the_protocol_and_scores_as_its_formula(ensemble: dict) -> None:
    from deepfake_gui.probes.ensemble import EnsembleDetector
    from deepfake_gui.probes.interface import Detector, load_detector
    from deepfake_gui.probes.registry import detector_kinds

    assert "ensemble" in detector_kinds()
    detector = load_detector(ensemble["folder"])
    assert isinstance(detector, EnsembleDetector) and isinstance(detector, Detector)
    assert detector.kind == "ensemble" and detector.localizes and not detector.adaptable
    assert detector.encoder_names == [ENCODER] and detector.layers == [1, 2]
    features = {ENCODER: ensemble["layers"]}
    np.testing.assert_allclose(detector.score_features(features), ensemble["combined"], rtol=1e-9, atol=1e-9)
    assert set(detector.member_decisions(detector.inputs(features))) == {m.name for m in ensemble["members"]}
    probability = detector.probability(detector.score_features(features))
    np.testing.assert_allclose(probability, ensemble["platt"](ensemble["combined"]), rtol=1e-9)
    assert set(detector.verdicts(probability)) <= {"real", "fake", "inconclusive"}


def test_its_token_scores_average_to_its_score(ensemble: dict) -> None:
    """Linear members, linear combination: the mean of the token scores is the score of the mean tokens."""
    import torch

    from deepfake_gui.probes.interface import EncodedBatch, load_detector

    detector = load_detector(ensemble["folder"])
    rng = np.random.default_rng(1)
    widths = [int(a.shape[1]) for a in ensemble["layers"]]
    tokens = [torch.tensor(rng.normal(size=(2, 5, w)), dtype=torch.float32) for w in widths]
    batch = EncodedBatch([t.mean(dim=1).numpy() for t in tokens], tokens)
    per_token = detector.token_decision(detector.token_inputs({ENCODER: batch}))
    assert tuple(per_token.shape) == (2, 5)
    np.testing.assert_allclose(per_token.mean(dim=1).numpy(), detector.score_features({ENCODER: batch}),
                               rtol=1e-4, atol=1e-4)


def test_evaluate_measures_an_ensemble(ensemble: dict) -> None:
    from deepfake_gui.analysis.metrics import roc_auc
    from deepfake_gui.engine.evaluate import EvaluateReport, evaluate_job

    report = _run(evaluate_job(ensemble["folder"], ensemble["data"].root, "cpu"))
    assert isinstance(report, EvaluateReport)
    m = report.metrics
    assert m["kind"] == "ensemble" and (m["n_real"], m["n_fake"], m["n_failed"]) == (8, 8, 0)
    probability = ensemble["platt"](ensemble["combined"])
    assert m["auc"] == pytest.approx(roc_auc(ensemble["data"].labels, probability))
    assert m["threshold"] == 0.5 and "encoders" not in m  # one encoder
    assert any("own training set" in c for c in m["caveats"])


def test_scan_runs_an_ensemble_and_its_mean_score_is_the_formula(ensemble: dict, tmp_path: Path) -> None:
    from deepfake_gui.encoders.extract import extract_features
    from deepfake_gui.engine.detectors import resolve_detectors
    from deepfake_gui.engine.scan import ScanOptions, scan_job

    detectors = resolve_detectors([str(ensemble["folder"])], "cpu", defaults=False)
    (active,) = detectors
    assert active.unavailable is None and active.encoder is not None and set(active.encoders) == {ENCODER}
    t = np.arange(int(2.5 * RATE)) / RATE
    clip = _wav(tmp_path / "clip.wav", 0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.sin(2 * np.pi * 3000 * t))
    options = ScanOptions(device="cpu", audio_aggregation="mean", provenance=False)
    (result,) = [e for e in scan_job([clip], options, detectors=detectors) if isinstance(e, ScanResult)]
    assert result.status == "ok", result.error
    info = result.detectors["toy-ensemble"]
    layers, _ = extract_features(active.encoder, [clip])
    assert info["score"] == pytest.approx(float(_by_hand(ensemble, layers)[0]), abs=1e-3)
    assert info["aggregation"] == "mean" and info["calibration"] == "file"
    assert result.series and "steps" in next(iter(result.series.values()))  # it localizes: per-step scores


def test_the_cli_scans_and_evaluates_with_an_ensemble(ensemble: dict, tmp_path: Path, capsys) -> None:
    from deepfake_gui import cli

    t = np.arange(int(2.0 * RATE)) / RATE
    clip = _wav(tmp_path / "hiss.wav", np.random.default_rng(3).normal(0, 0.3, t.size))
    assert cli.main(["scan", str(clip), "--detector", str(ensemble["folder"]), "--device", "cpu"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["status"] == "ok" and "toy-ensemble" in line["detectors"]
    assert cli.main(["evaluate", "--detector", str(ensemble["folder"]), "--data", str(ensemble["data"].root),
                     "--device", "cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "ensemble"


def _edit(folder: Path, dest: Path, change) -> Path:
    import shutil

    shutil.copytree(folder, dest)
    meta = json.loads((dest / "detector.json").read_text())
    change(meta)
    (dest / "detector.json").write_text(json.dumps(meta))
    return dest


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m["ensemble"]["members"][0].update(scale=0), "scale"),
    (lambda m: m["ensemble"]["members"][1].update(layers=[7]), "layers"),
    (lambda m: m["ensemble"].update(members=m["ensemble"]["members"][:1]), "belong to no member"),
    (lambda m: m.pop("ensemble"), "'ensemble'"),
    (lambda m: m.update(kind="mystery"), "unknown kind 'mystery' \\(known: attribution, ensemble, fusion, "
                                         "linear-probe, one-class\\)"),
])
def test_a_malformed_ensemble_is_refused(ensemble: dict, tmp_path: Path, change, message: str) -> None:
    from deepfake_gui.probes.interface import load_detector

    folder = _edit(ensemble["folder"], tmp_path / "bad", change)
    with pytest.raises(BundleError, match=message) as refused:
        load_detector(folder)
    assert str(folder) in str(refused.value)
