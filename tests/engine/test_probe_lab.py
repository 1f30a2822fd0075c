"""The probe lab's engine: picks -> data set, live per-layer scores, a bundle that loads, saving, cancelling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import Cancelled, CancelToken, Progress
from deepfake_gui.engine.probe_lab import (
    LabRequest,
    LabResult,
    LayerMap,
    LayerScore,
    build_lab_dataset,
    encoder_choices,
    guess_modality,
    lab_job,
    save_detector,
    slugify,
    tsne_job,
    user_detectors_dir,
)

N_GROUPS = 8
SIDE = 64


def make_reference_set(root: Path, n: int = N_GROUPS) -> dict[str, Path]:
    """Real: smooth colour fields. gen_a: the same, made blocky (nearest upsampling). gen_b: with a checkerboard.

    The same file name in every folder is the same source photo, so it is one group.
    """
    rng = np.random.default_rng(0)
    folders = {name: root / name for name in ("real", "gen_a", "gen_b")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    checker = (np.indices((SIDE, SIDE)).sum(axis=0) % 2 * 2 - 1)[..., None]
    for i in range(n):
        smooth = np.asarray(Image.fromarray((rng.random((8, 8, 3)) * 255).astype(np.uint8))
                            .resize((SIDE, SIDE), Image.Resampling.BICUBIC))
        blocky = np.asarray(Image.fromarray(smooth).resize((8, 8), Image.Resampling.BILINEAR)
                            .resize((SIDE, SIDE), Image.Resampling.NEAREST))
        grid = np.clip(smooth.astype(int) + 40 * checker, 0, 255).astype(np.uint8)
        for name, img in (("real", smooth), ("gen_a", blocky), ("gen_b", grid)):
            Image.fromarray(img).save(folders[name] / f"img{i}.png")
    (folders["real"] / "notes.txt").write_text("not an image: skipped as a side file")
    return folders


def request(folders: dict[str, Path], tmp: Path, **kw) -> LabRequest:
    return LabRequest("test-efficientnet", [folders["real"]], [(folders["gen_a"], ""), (folders["gen_b"], "")],
                      device="cpu", folds=3, staging=tmp / "staging", **kw)


@pytest.fixture(scope="module")
def refset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_reference_set(tmp_path_factory.mktemp("refset"))


@pytest.fixture(scope="module")
def lab_run(refset: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> list[object]:
    return list(lab_job(request(refset, tmp_path_factory.mktemp("run"), name="Blocky & grid")))


def test_dataset_from_picks_has_labels_generators_and_groups(refset: dict[str, Path]) -> None:
    req = LabRequest("test-efficientnet", [refset["real"]], [(refset["gen_a"], ""), (refset["gen_b"], "grid-gen")])
    data = build_lab_dataset(req)
    assert len(data) == 3 * N_GROUPS  # notes.txt skipped
    assert data.labels.tolist() == [0] * N_GROUPS + [1] * 2 * N_GROUPS
    assert data.summary()["generators"] == {"real": N_GROUPS, "gen_a": N_GROUPS, "grid-gen": N_GROUPS}
    assert data.summary()["n_groups"] == N_GROUPS
    for g in range(N_GROUPS):  # the same photo in each folder is one group
        members = [Path(p).parent.name for p, grp in zip(data.paths, data.groups, strict=True) if grp == f"img{g}"]
        assert sorted(members) == ["gen_a", "gen_b", "real"]


def test_a_manifest_gives_the_groups(refset: dict[str, Path]) -> None:
    root = refset["real"].parent
    rows = ["path,label,generator,group"] + [f"real/img{i}.png,real,,photo{i % 4}" for i in range(N_GROUPS)] + \
        [f"gen_a/img{i}.png,fake,blocky,photo{i % 4}" for i in range(N_GROUPS)]
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    data = build_lab_dataset(LabRequest("test-efficientnet", manifest=root / "manifest.csv"))
    assert data.source == "manifest" and data.summary()["n_groups"] == 4
    assert set(data.generators) == {"real", "blocky"}


def test_too_few_or_unreadable_picks_say_why(refset: dict[str, Path], tmp_path: Path) -> None:
    fakes = [(refset["gen_a"], "")]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LayerScopeError, match=r"no real files in .*empty"):
        build_lab_dataset(LabRequest("x", [empty], fakes))
    one = tmp_path / "one"
    one.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(one / "a.png")
    with pytest.raises(LayerScopeError, match=r"only 1 real file .*at least 2 of each class \(20 or more"):
        build_lab_dataset(LabRequest("x", [one], fakes))
    Image.fromarray(np.ones((8, 8, 3), np.uint8)).save(one / "x_a.png")  # same group as a.png
    with pytest.raises(LayerScopeError, match="fall into one group"):
        build_lab_dataset(LabRequest("x", [one], fakes))
    with pytest.raises(LayerScopeError, match="folder not found"):
        build_lab_dataset(LabRequest("x", [tmp_path / "missing"], fakes))
    with pytest.raises(LayerScopeError, match="at least one folder of fake files"):
        build_lab_dataset(LabRequest("x", [refset["real"]], []))
    with pytest.raises(LayerScopeError, match="at least one folder of real files"):
        build_lab_dataset(LabRequest("x", [], fakes))
    with pytest.raises(LayerScopeError, match="generator name must not be"):
        build_lab_dataset(LabRequest("x", [refset["real"]], [(refset["gen_a"], "real")]))
    with pytest.raises(LayerScopeError, match="both real and"):
        build_lab_dataset(LabRequest("x", [refset["real"]], [(refset["real"], "same")]))


def test_lab_job_streams_each_layer_then_a_result_matching_the_bundle(lab_run: list[object]) -> None:
    from deepfake_gui.encoders.registry import get_spec
    from deepfake_gui.probes.bundle import load_bundle
    from deepfake_gui.probes.detector import Detector

    kinds = [type(e).__name__ for e in lab_run if not isinstance(e, Progress)]
    n_layers = get_spec("test-efficientnet").num_layers
    assert kinds == ["LayerScore"] * n_layers + ["LabResult"]
    scores = [e for e in lab_run if isinstance(e, LayerScore)]
    assert [s.layer for s in scores] == list(range(n_layers)) and {s.total for s in scores} == {n_layers}
    messages = [e.message for e in lab_run if isinstance(e, Progress)]
    assert any(m.startswith("features") for m in messages)
    assert messages.index(next(m for m in messages if m.startswith("layer 1/"))) > max(
        i for i, m in enumerate(messages) if m.startswith("features"))
    result = lab_run[-1]
    assert isinstance(result, LabResult)
    meta = json.loads((result.bundle_path / "detector.json").read_text())
    sweep = meta["metrics"]["layer_sweep"]
    assert [r.auc for r in result.layers] == [r["auc"] for r in sweep] == [s.auc for s in scores]
    assert [r.auc_std for r in result.layers] == [r["auc_std"] for r in sweep]
    assert result.chosen_layer == meta["layers"][0] and result.name == meta["name"] == "Blocky & grid"
    assert load_bundle(result.bundle_path).encoder_name == "test-efficientnet"
    assert Detector.load(result.bundle_path).layers == [result.chosen_layer]
    s = result.summary
    assert (s["n_real"], s["n_fake"], s["n_groups"]) == (N_GROUPS, 2 * N_GROUPS, N_GROUPS)
    assert set(s["per_generator"]) == {"gen_a", "gen_b"} and s["cv_auc"] == meta["metrics"]["cv_auc"]
    assert len(s["cv_auc_ci95"]) == 2
    n = 3 * N_GROUPS
    assert len(result.coords) == n_layers and all(c is not None and c.shape == (n, 2) for c in result.coords)
    assert [f.shape[0] for f in result.features] == [n] * n_layers
    assert result.labels.tolist() == [0] * N_GROUPS + [1] * 2 * N_GROUPS
    assert result.generators[:N_GROUPS] == ["real"] * N_GROUPS and len(result.paths) == n
    joined = " ".join(result.warnings)
    assert "random weights" in joined and "groups" in joined and f"{N_GROUPS} groups" in joined
    assert meta["attribution_classes"] == ["gen_a", "gen_b", "real"]  # two generators: attribution trained


def test_one_generator_warns_no_attribution(refset: dict[str, Path], tmp_path: Path) -> None:
    req = LabRequest("test-efficientnet", [refset["real"]], [(refset["gen_a"], "")], device="cpu", folds=3,
                     staging=tmp_path)
    result = next(e for e in lab_job(req) if isinstance(e, LabResult))
    assert any("one generator only (gen_a)" in w for w in result.warnings)
    assert "attribution_classes" not in result.meta


def test_save_detector_copies_into_the_scanned_folder_and_refuses_to_overwrite(lab_run: list[object]) -> None:
    from deepfake_gui.engine.detectors import find_detector, known_detector_folders
    from deepfake_gui.probes.detector import Detector

    result = lab_run[-1]
    assert isinstance(result, LabResult)
    dest = save_detector(result.bundle_path, "My new generator")
    assert dest == user_detectors_dir() / "my-new-generator" and dest in known_detector_folders()
    assert Detector.load(dest).name == "My new generator" and find_detector("My new generator") == dest
    assert (dest / "layer_sweep.png").is_file() and result.bundle_path.is_dir()  # the staged run stays
    with pytest.raises(LayerScopeError, match="already saved"):
        save_detector(result.bundle_path, "my new  generator")
    again = save_detector(result.bundle_path, "my new  generator", overwrite=True)
    assert again == dest and Detector.load(dest).name == "my new  generator"
    assert not (user_detectors_dir() / ".incoming").exists()
    with pytest.raises(LayerScopeError, match="name"):
        save_detector(result.bundle_path, "   ")


def test_slugify() -> None:
    assert slugify("Blocky & grid / v2") == "blocky-grid-v2"
    assert slugify("../../etc") == "etc" and slugify("…") == "detector"


def test_tsne_job_maps_one_layer(lab_run: list[object]) -> None:
    result = lab_run[-1]
    assert isinstance(result, LabResult)
    events = list(tsne_job(result.features[1], 1, result.run_id))
    (layer_map,) = [e for e in events if isinstance(e, LayerMap)]
    assert (layer_map.layer, layer_map.run_id, layer_map.method) == (1, result.run_id, "tsne")
    assert layer_map.coords.shape == (len(result.paths), 2) and np.isfinite(layer_map.coords).all()


def test_cancel_stops_the_sweep(refset: dict[str, Path], tmp_path: Path) -> None:
    cancel = CancelToken()
    seen: list[object] = []
    job = lab_job(request(refset, tmp_path), cancel)
    with pytest.raises(Cancelled):
        for event in job:
            seen.append(event)
            if isinstance(event, LayerScore):
                cancel.cancel()
    assert sum(isinstance(e, LayerScore) for e in seen) == 1
    assert not any(isinstance(e, LabResult) for e in seen)


def test_encoder_choices_and_modality_guess(refset: dict[str, Path], tmp_path: Path) -> None:
    choices = {c.name: c for c in encoder_choices("image")}
    assert {"test-efficientnet", "test-clip"} <= set(choices) and all(c.modality == "image" for c in choices.values())
    test = choices["test-efficientnet"]
    assert test.available and test.random_init and "random weights" in test.label and test.n_layers == 4
    assert all(not c.available or c.random_init or "weights missing" not in c.label for c in choices.values())
    assert "test-whisper" in {c.name for c in encoder_choices("audio")}
    assert guess_modality([refset["real"]]) == "image"
    (tmp_path / "a.wav").write_bytes(b"")
    assert guess_modality([tmp_path]) == "audio"
    assert guess_modality([tmp_path / "nothing"]) is None
