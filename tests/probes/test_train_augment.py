"""`train --augment` and `train --robustness`: laundered copies stay with their group and only ever train."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import job_result
from deepfake_gui.engine.datasets import load_dataset
from deepfake_gui.engine.laundered import augmented_copies
from deepfake_gui.engine.train import TrainOptions, TrainReport, train_job
from deepfake_gui.probes.augment import POLICIES, AugmentedRows, draw_condition, extend, extend_folds, policy_pool
from deepfake_gui.probes.robust_cv import robustness_cv


@pytest.fixture(scope="module")
def toy_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real: smooth noise. Fake: the same picture with a 2-px checkerboard (an upsampling fingerprint)."""
    root = tmp_path_factory.mktemp("toyimages")
    rng = np.random.default_rng(0)
    rows = ["path,label,generator,group"]
    yy, xx = np.mgrid[0:64, 0:64]
    checker = ((yy + xx) % 2 * 2 - 1)[..., None] * 18
    for g in range(10):
        base = rng.normal(128, 40, (16, 16, 3))
        smooth = np.kron(base, np.ones((4, 4, 1)))
        for name, img, label in (("real", smooth, "real"), ("fake/checker", smooth + checker, "fake")):
            path = root / name / f"p{g}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB").save(path)
            rows.append(f"{name}/p{g}.png,{label},{'real' if label == 'real' else 'checker'},photo{g}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def test_policy_pools_are_known_conditions() -> None:
    from deepfake_gui.launder.conditions import get_condition

    for policy, per_modality in POLICIES.items():
        for modality, pool in per_modality.items():
            assert all(get_condition(c).modality == modality for c in pool), policy
    assert policy_pool("none", "image") == ()
    with pytest.raises(LayerScopeError, match="unknown augmentation policy"):
        policy_pool("heavy", "image")


def test_condition_draw_is_deterministic_and_varies() -> None:
    pool = policy_pool("social", "image")
    sha = "ab" * 32
    assert draw_condition(pool, 0, 0, sha) == draw_condition(pool, 0, 0, sha)
    draws = {draw_condition(pool, seed, 0, f"{seed:064x}") for seed in range(40)}
    assert draws == set(pool)  # every condition of the pool gets drawn


def test_copies_join_only_their_originals_training_fold() -> None:
    origin = np.array([0, 1, 2, 3, 3])
    aug = AugmentedRows(origin, [np.zeros((5, 2))], ["jpeg75"] * 5)
    folds = [(np.array([0, 1]), np.array([2, 3])), (np.array([2, 3]), np.array([0, 1]))]
    ext = extend_folds(folds, aug, n=4)
    assert ext[0][0].tolist() == [0, 1, 4, 5] and ext[0][1].tolist() == [2, 3]
    assert ext[1][0].tolist() == [2, 3, 6, 7, 8] and ext[1][1].tolist() == [0, 1]
    X, y = extend(np.ones((4, 2)), np.array([0, 1, 0, 1]), aug, np.zeros((5, 2)))
    assert X.shape == (9, 2) and y.tolist() == [0, 1, 0, 1, 0, 1, 0, 1, 1]


def test_robustness_cv_is_out_of_fold_per_condition() -> None:
    rng = np.random.default_rng(0)
    n = 80
    labels = np.repeat([0, 1], n // 2)
    groups = np.array([f"g{i % 20}" for i in range(n)])
    X = rng.normal(size=(n, 3))
    X[:, 0] += 3 * labels  # clean: separable on feature 0
    flipped = X.copy()
    flipped[:, 0] = -flipped[:, 0]  # a "condition" that inverts the cue
    folds = [(np.nonzero(~np.isin(groups, [f"g{j}" for j in range(k, 20, 4)]))[0],
              np.nonzero(np.isin(groups, [f"g{j}" for j in range(k, 20, 4)]))[0]) for k in range(4)]
    idx = np.arange(n)[::2]  # the condition exists for half the files only
    table = robustness_cv(X, labels, groups, folds, {"inverted": (idx, flipped[idx]), "same": (idx, X[idx])},
                          ci_draws=50)
    assert table["clean"]["auc"] > 0.97 and table["clean"]["n"] == n
    assert table["same"]["auc"] > 0.97 and table["same"]["n"] == n // 2 and table["same"]["n_failed"] == n // 2
    assert table["inverted"]["auc"] < 0.05
    lo, hi = table["clean"]["auc_ci95"]
    assert lo <= table["clean"]["auc"] <= hi
    # Training on copies of the inverted condition teaches the probe both: it loses the clean cue's sign.
    aug = AugmentedRows(np.arange(n), [flipped], ["inverted"] * n)
    mixed = robustness_cv(X, labels, groups, folds, {"inverted": (idx, flipped[idx])}, aug=aug, aug_X=flipped,
                          ci_draws=0)
    assert mixed["inverted"]["auc"] > table["inverted"]["auc"] + 0.2


def test_augmented_copies_are_cached_and_keep_their_origin(toy_images: Path, tmp_path: Path) -> None:
    from deepfake_gui.launder.conditions import file_sha256

    data = load_dataset(toy_images)
    shas = [file_sha256(p) for p in data.paths]
    origin, conditions, copies, failed = job_result(augmented_copies(data.paths, shas, ("jpeg75", "rescale0.75"), 3, 2,
                                                               root=tmp_path))
    assert not failed and len(copies) == 2 * len(data)
    assert origin == list(range(len(data))) * 2
    assert set(conditions) <= {"jpeg75", "rescale0.75"}
    mtimes = [c.stat().st_mtime_ns for c in copies]
    again = job_result(augmented_copies(data.paths, shas, ("jpeg75", "rescale0.75"), 3, 2, root=tmp_path))
    assert again[1] == conditions and again[2] == copies
    assert [c.stat().st_mtime_ns for c in copies] == mtimes  # reused, not rewritten


def _train(data: Path, out: Path, **kw) -> TrainReport:
    opts = TrainOptions(data=data, encoder="test-efficientnet", out=out, folds=3, device="cpu", **kw)
    return next(e for e in train_job(opts) if isinstance(e, TrainReport))


def test_train_with_augmentation_and_robustness(toy_images: Path, tmp_path: Path) -> None:
    report = _train(toy_images, tmp_path / "aug", layers=[1, 2], augment="codec",
                    robustness=["jpeg60", "rescale0.5"])
    meta = json.loads((tmp_path / "aug" / "detector.json").read_text())
    assert meta["layers"] == [1, 2]
    aug = meta["augmentation"]
    assert aug["policy"] == "codec" and aug["n_copies"] == 20 and aug["failed"] == 0
    assert sum(aug["per_condition"].values()) == 20 and set(aug["per_condition"]) <= set(POLICIES["codec"]["image"])
    rob = meta["robustness"]
    assert list(rob["conditions"]) == ["clean", "jpeg60", "rescale0.5"]
    assert rob["in_augmentation"] == ["jpeg60"] and rob["augment"] == "codec"
    for row in rob["conditions"].values():
        assert row["n"] == 20 and row["n_failed"] == 0 and 0.0 <= row["auc"] <= 1.0
    # The clean row is the same out-of-fold measurement as the model card's cross-validated AUC.
    assert rob["conditions"]["clean"]["auc"] == pytest.approx(meta["metrics"]["cv_auc"])
    assert report.robustness == rob
    assert (tmp_path / "aug" / "robustness.png").stat().st_size > 5000
    assert meta["training"]["n_items"] == 20  # copies are not training items of the card

    plain = _train(toy_images, tmp_path / "plain", layers=[1, 2], robustness=["jpeg60"])
    assert "augmentation" not in plain.meta and plain.meta["robustness"]["augment"] == "none"
    # The copies joined the final fit, so the probe's weights differ.
    assert plain.meta["weights_sha256"] != meta["weights_sha256"]


def test_robustness_table_is_measured_with_the_detectors_own_C_and_tiles(toy_images: Path, tmp_path: Path) -> None:
    """A detector trained at C=0.01 on tiled pictures: its robustness table must describe that detector."""
    report = _train(toy_images, tmp_path / "c001", layers=[1, 2], C=0.01, image_tiles=4, robustness=["jpeg60"])
    rob = report.meta["robustness"]
    assert "C=0.01" in rob["method"]
    # the same out-of-fold measurement as the card's cross-validated AUC, which uses the detector's C and tiles
    assert rob["conditions"]["clean"]["auc"] == pytest.approx(report.meta["metrics"]["cv_auc"])
    assert rob["conditions"]["jpeg60"]["n"] == 20 and rob["conditions"]["jpeg60"]["n_failed"] == 0


def test_layers_out_of_range_is_a_clear_error(toy_images: Path, tmp_path: Path) -> None:
    with pytest.raises(LayerScopeError, match="out of range"):
        _train(toy_images, tmp_path / "x", layers=[0, 99])


def test_cli_train_augment_flags(toy_images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from deepfake_gui.cli import main

    code = main(["train", "--data", str(toy_images), "--encoder", "test-efficientnet", "--layers", "1",
                 "--folds", "3", "--augment", "social", "--robustness", "jpeg75", "--out", str(tmp_path / "c"),
                 "--device", "cpu", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["augmentation"]["policy"] == "social"
    assert set(out["robustness"]["conditions"]) == {"clean", "jpeg75"}


def test_cli_no_face_check_reaches_the_training_options(toy_images: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from deepfake_gui.cli import main
    from deepfake_gui.engine import train

    seen = []

    def stop_at_options(opts, cancel=None):
        seen.append(opts)
        raise LayerScopeError("stopped after reading the options")
        yield

    monkeypatch.setattr(train, "train_job", stop_at_options)
    for flags, expected in (([], True), (["--no-face-check"], False)):
        main(["train", "--data", str(toy_images), "--encoder", "test-efficientnet", "--layers", "1",
              "--out", str(tmp_path / "f"), "--device", "cpu", *flags])
        assert seen[-1].face_check is expected
