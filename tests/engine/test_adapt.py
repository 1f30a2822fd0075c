"""layerscope adapt: a base detector + genuine references -> a valid bundle that records them.

Tiny random-weight encoder (test-efficientnet) and generated images: the numbers mean
nothing, the plumbing (what is refitted, recorded, refused and flagged) is what is tested.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import media_factory
import numpy as np
import pytest
from PIL import Image

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import Progress
from deepfake_gui.engine.adapt import (
    AdaptOptions,
    AdaptReport,
    ReferenceCheck,
    adapt_job,
    check_references_job,
    reference_content_hash,
    resolve_training_root,
)
from deepfake_gui.engine.reference_overlap import overlapping_references
from deepfake_gui.probes.bundle import load_bundle
from deepfake_gui.probes.detector import Detector
from deepfake_gui.probes.reference import describe_reference_set, reference_line

ENCODER = "test-efficientnet"
N_TRAIN = 8
N_REFS = 12


def make_training_set(root: Path) -> Path:
    """real/ smooth colour fields, fake/blocky/ the same made blocky; same name = same group."""
    return media_factory.write_smooth_blocky_set(root, N_TRAIN)


def make_references(folder: Path, n: int = N_REFS, seed: int = 1) -> Path:
    """A "new device": smooth fields with a strong warm tint and sensor noise."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = media_factory.smooth_field(rng, (60, 20, -40)).astype(int) + rng.integers(-12, 13, (64, 64, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"cam{i:02d}.png")
    return folder


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from deepfake_gui.engine.train import TrainOptions, TrainReport, train_job

    root = make_training_set(tmp_path_factory.mktemp("train"))
    opts = TrainOptions(data=root, encoder=ENCODER, out=root.parent / "base-bundle", sweep=False, layer=2,
                        folds=3, device="cpu", attribution=False)
    report = next(e for e in train_job(opts) if isinstance(e, TrainReport))
    return report.bundle_path


@pytest.fixture(scope="module")
def refs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_references(tmp_path_factory.mktemp("refs") / "camera")


def _run(opts: AdaptOptions) -> tuple[list[ReferenceCheck], AdaptReport]:
    events = list(adapt_job(opts))
    checks = [e for e in events if isinstance(e, ReferenceCheck)]
    reports = [e for e in events if isinstance(e, AdaptReport)]
    assert all(isinstance(e, (Progress, ReferenceCheck, AdaptReport)) for e in events)
    assert len(reports) == 1
    return checks, reports[0]


@pytest.fixture(scope="module")
def adapted(base: Path, refs: Path, tmp_path_factory: pytest.TempPathFactory) -> AdaptReport:
    out = tmp_path_factory.mktemp("adapted") / "bundle"
    checks, report = _run(AdaptOptions(detector=base, real=[refs], out=out, weight=5.0, device="cpu", folds=3,
                                       reference_name="Device: test camera"))
    assert len(checks) == 1 and checks[0].detector == report.meta["adaptation"]["base"]["name"]
    return report


def test_adapt_changes_the_probe_and_keeps_the_bundle_valid(base: Path, adapted: AdaptReport) -> None:
    before, after = load_bundle(base), load_bundle(adapted.bundle_path)
    assert after.kind == "linear-probe" and after.layers == before.layers
    assert not np.allclose(before.arrays["coef"], after.arrays["coef"])
    detector = Detector.load(adapted.bundle_path)  # loads and scores like any detector
    X = np.zeros((1, after.arrays["coef"].shape[1]), dtype=np.float32)
    assert np.isfinite(detector.probability(detector.decision(X))).all()
    assert detector.out_of_domain(X) is not None
    lo, hi = after.meta["inconclusive_band"]
    assert lo <= after.meta["threshold"] <= hi
    assert "held-out references" in after.meta["adaptation"]["threshold_calibration"]
    card = (adapted.bundle_path / "MODEL_CARD.md").read_text()
    assert "no fakes of it were seen" in card and "Device: test camera" in card


def test_reference_set_and_base_are_recorded(base: Path, refs: Path, adapted: AdaptReport) -> None:
    from deepfake_gui.core.hashing import sha256_file

    meta = json.loads((adapted.bundle_path / "detector.json").read_text())
    a = meta["adaptation"]
    files = sorted(refs.iterdir())
    assert a["base"]["name"] == load_bundle(base).name
    assert a["base"]["bundle_sha256"] == load_bundle(base).content_hash()
    assert a["weight"] == 5.0
    rs = a["reference_set"]
    assert rs["name"] == "Device: test camera" and rs["n_files"] == N_REFS
    assert rs["content_hash"] == reference_content_hash([sha256_file(p) for p in files])
    assert rs["total_pixels"] == N_REFS * 64 * 64 and rs["total_duration_s"] is None
    assert {f["name"] for f in rs["files"]} == {p.name for p in files}
    assert meta["reference"]["threshold"] == pytest.approx(
        float(load_bundle(adapted.bundle_path).arrays["reference_threshold"][0]), rel=1e-5)
    assert describe_reference_set(meta) == f"adapted to: Device: test camera ({N_REFS} genuine files)"
    assert describe_reference_set(load_bundle(base).meta) is None


def test_references_are_held_out_by_group_in_calibration(adapted: AdaptReport) -> None:
    from deepfake_gui.probes.dataset import grouped_folds

    figures = adapted.figures
    assert 0.0 <= figures["reference_false_alarm_after"] <= 1.0
    assert adapted.meta["adaptation"]["folds"] >= 2
    # the grouped split never puts the same source in references and test
    rng_groups = np.array(["ref:a", "ref:a", "ref:b", "ref:b", "x", "x", "y", "y", "z", "z"])
    from deepfake_gui.probes.dataset import LabeledSet

    data = LabeledSet(Path("."), [Path(f"{i}.png") for i in range(10)], np.array([0, 0, 0, 0, 1, 0, 1, 0, 1, 0]),
                      ["real"] * 10, rng_groups, "folders")
    for train, test in grouped_folds(data, 3, 0):
        assert not set(rng_groups[train]) & set(rng_groups[test])


def test_too_few_references_is_a_clear_error(base: Path, refs: Path, tmp_path: Path) -> None:
    few = tmp_path / "few"
    few.mkdir()
    for p in sorted(refs.iterdir())[:5]:
        shutil.copy(p, few / p.name)
    with pytest.raises(LayerScopeError, match=r"only 5 usable reference files.*at least 10"):
        list(adapt_job(AdaptOptions(detector=base, real=[few], out=tmp_path / "out", device="cpu")))
    assert not (tmp_path / "out").exists()


def test_audio_minimum_duration() -> None:
    from deepfake_gui.engine.adapt import ScoredFile, check_minimum

    refs = [ScoredFile(f"/x/clip{i}.wav", "0" * 64, 0.1, "real", duration_s=3.0) for i in range(12)]
    check = ReferenceCheck("d", "/d", "audio", refs, [], 0.5, (0.4, 0.6), [])
    with pytest.raises(LayerScopeError, match=r"36.0 s of audio.*at least 60 s"):
        check_minimum(check, refs, AdaptOptions(detector=Path("/d"), real=[Path("/x")], out=Path("/o")))


def test_flagged_references_are_listed_and_can_be_dropped(base: Path, refs: Path, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    shutil.copytree(refs, mixed)
    fakes = sorted(base.parent.rglob("blocky/*.png"))
    det = Detector.load(base)
    # a reference the base detector calls fake: pick a training fake it scores as fake
    check = next(e for e in check_references_job(AdaptOptions(detector=base, real=fakes, out=tmp_path / "o",
                                                          device="cpu")) if isinstance(e, ReferenceCheck))
    called_fake = [Path(r.path) for r in check.references if r.flagged]
    assert called_fake, f"the base detector calls none of the training fakes fake (band {det.band})"
    shutil.copy(called_fake[0], mixed / "suspicious.png")
    opts = AdaptOptions(detector=base, real=[mixed], out=tmp_path / "kept", device="cpu", folds=3)
    checks, report = _run(opts)
    assert [Path(r.path).name for r in checks[0].flagged] == ["suspicious.png"]
    assert checks[0].to_dict()["flagged"][0]["path"].endswith("suspicious.png")
    assert any("look manipulated" in w for w in report.warnings)
    assert report.meta["adaptation"]["reference_set"]["n_files"] == N_REFS + 1
    opts.drop_flagged, opts.out = True, tmp_path / "dropped"
    _, report = _run(opts)
    rs = report.meta["adaptation"]["reference_set"]
    assert rs["n_files"] == N_REFS and rs["dropped"] == ["suspicious.png"]


def test_overlap_by_sha256(adapted: AdaptReport, refs: Path, tmp_path: Path) -> None:
    copy = tmp_path / "renamed_copy.png"
    shutil.copy(sorted(refs.iterdir())[3], copy)
    other = make_references(tmp_path / "other", n=1, seed=99) / "cam00.png"
    hits = overlapping_references(adapted.bundle_path, [copy, other])
    assert [h["path"] for h in hits] == [str(copy)]
    assert hits[0]["reference_file"] == sorted(refs.iterdir())[3].name
    assert hits[0]["reference_set"] == "Device: test camera"
    assert overlapping_references(Detector.load(adapted.bundle_path), [other]) == []


def test_suspect_that_is_a_reference_is_flagged_in_the_check(base: Path, refs: Path, tmp_path: Path) -> None:
    suspect = tmp_path / "suspect.png"
    shutil.copy(sorted(refs.iterdir())[0], suspect)
    check = next(e for e in check_references_job(AdaptOptions(detector=base, real=[refs], out=tmp_path / "o",
                                                          suspects=[suspect], device="cpu"))
             if isinstance(e, ReferenceCheck))
    assert check.overlaps == [str(suspect)]
    assert len(check.to_dict()["suspect_probabilities"]) == 1
    assert len(check.to_dict()["reference_probabilities"]) == N_REFS


def test_reference_line_values(adapted: AdaptReport, refs: Path, base: Path) -> None:
    from deepfake_gui.engine.detectors import ActiveDetector
    from deepfake_gui.probes.reference import reference_distance

    detector = Detector.load(adapted.bundle_path)
    active = ActiveDetector(detector, adapted.bundle_path, "user")
    arrays = detector.bundle.arrays
    width = arrays["coef"].shape[1]
    centre = arrays["reference_scaler_mean"].astype(np.float64)
    near = reference_line(active, centre)
    far = reference_line(active, centre + 50.0 * arrays["reference_scaler_std"])
    assert near is not None and far is not None
    assert set(near) >= {"distance", "threshold", "percentile", "flagged", "meaning"}
    assert near["threshold"] == pytest.approx(adapted.meta["reference"]["threshold"], rel=1e-3)
    assert near["distance"] < far["distance"] and not near["flagged"] and far["flagged"]
    assert far["percentile"] == 100.0 and near["percentile"] < 100.0
    assert near["reference_set"] == "Device: test camera" and "not a verdict" in near["meaning"]
    assert near["distance"] == pytest.approx(float(reference_distance(arrays, centre[None])[0]), abs=1e-3)
    # per-layer input: the detector's layers are picked out of all the encoder's layers
    layers = detector.layers
    per_layer = [np.zeros(1) for _ in range(max(layers) + 1)]
    per_layer[layers[0]] = centre.astype(np.float32)
    assert reference_line(active, per_layer)["distance"] == pytest.approx(near["distance"], rel=1e-4)
    assert detector.reference_distance(centre[None]) is not None and width == centre.shape[0]
    assert reference_line(ActiveDetector(Detector.load(base), base, "user"), centre) is None


def test_missing_training_data_is_refused_with_the_option_named(base: Path, tmp_path: Path) -> None:
    meta = dict(load_bundle(base).meta)
    meta["training"] = {**meta["training"], "root": str(tmp_path / "gone")}
    with pytest.raises(LayerScopeError, match="--training"):
        resolve_training_root(meta, base)
    assert resolve_training_root(meta, base, override=Path(meta["training"]["root"]).parent) == tmp_path


def test_bundle_validation_refuses_a_broken_adaptation_record(adapted: AdaptReport, tmp_path: Path) -> None:
    from deepfake_gui.core.errors import BundleError
    from deepfake_gui.probes.bundle import save_bundle

    bundle = load_bundle(adapted.bundle_path)
    bundle.meta = {**bundle.meta, "adaptation": {**bundle.meta["adaptation"], "weight": -1}}
    with pytest.raises(BundleError, match=r"adaptation\.weight"):
        save_bundle(bundle, tmp_path / "bad")
    bundle = load_bundle(adapted.bundle_path)
    bundle.meta = {**bundle.meta, "reference": {**bundle.meta["reference"], "threshold": 123456.0}}
    with pytest.raises(BundleError, match=r"reference\.threshold"):
        save_bundle(bundle, tmp_path / "bad2")


def test_cli_adapt_json(base: Path, refs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from deepfake_gui.cli import main

    out = tmp_path / "cli-bundle"
    code = main(["adapt", "--detector", str(base), "--real", str(refs), "--out", str(out), "--weight", "3",
                 "--reference-name", "Device: cli camera", "--device", "cpu", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["detector"] == str(out) and summary["weight"] == 3.0
    assert summary["reference_set"]["n_files"] == N_REFS and "files" not in summary["reference_set"]
    assert summary["check"]["n_usable"] == N_REFS
    assert load_bundle(out).meta["adaptation"]["reference_set"]["name"] == "Device: cli camera"


def test_a_scan_with_the_adapted_detector_shows_the_reference_line(adapted: AdaptReport, refs: Path,
                                                                    tmp_path: Path) -> None:
    """The distance to the genuine references is its own entry; a reference scanned as a suspect is flagged."""
    import shutil

    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.detectors import resolve_detectors
    from deepfake_gui.engine.scan import ScanOptions, scan_job

    reference = sorted(p for p in refs.rglob("*") if p.is_file())[0]
    suspect = tmp_path / "suspect.png"
    shutil.copy(reference, suspect)  # byte for byte one of the references
    options = ScanOptions(device="cpu", detectors=[str(adapted.bundle_path)], keep_arrays=False)
    detectors = resolve_detectors(options.detectors, "cpu", True)
    (result,) = [e for e in scan_job([suspect], options, detectors=detectors) if isinstance(e, ScanResult)]
    name = adapted.meta["name"]
    line = result.detectors[name]["reference"]
    assert set(line) >= {"distance", "threshold", "flagged", "reference_set"}
    assert result.detector_info[name]["adapted_to"]
    assert any("reference" in c and "suspect.png" in c for c in result.caveats), result.caveats
