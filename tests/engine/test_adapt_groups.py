"""Reference groups of `layerscope adapt`: a manifest.csv in a reference folder beats the file-name guess.

Why: tiles named ``<photo>_<i>.jpg`` get the tile number from ``guess_group``, so tiles of one
photo land in different folds and the held-out false-alarm threshold and reference-distance
calibration look better than they are. Tiny random-weight encoder: the plumbing is tested.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import media_factory
import numpy as np
import pytest
from PIL import Image

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.engine.adapt import (
    REF_GROUP_PREFIX,
    AdaptOptions,
    AdaptReport,
    ReferenceCheck,
    adapt_job,
    check_references_job,
    read_reference_manifest,
    reference_groups,
)
from deepfake_gui.probes.dataset import guess_group

ENCODER = "test-efficientnet"
N_PHOTOS = 6
N_TILES = 2  # tiles per photo: 12 references, over the minimum of 10


def make_training_set(root: Path) -> Path:
    """As in test_adapt.py: real/ smooth fields, fake/blocky/ the same made blocky; same name = same group."""
    return media_factory.write_smooth_blocky_set(root, 8)


def make_tiles(folder: Path, seed: int = 1) -> list[Path]:
    """``photo<k>_<i>.png``: each photo (64x128, warm tint, noise) cut into two 64x64 tiles."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(N_PHOTOS):
        photo = np.hstack([media_factory.smooth_field(rng, (60, 20, -40)) for _ in range(N_TILES)]).astype(int)
        photo = np.clip(photo + rng.integers(-12, 13, photo.shape), 0, 255).astype(np.uint8)
        for i in range(N_TILES):
            path = folder / f"photo{k}_{i}.png"
            Image.fromarray(photo[:, 64 * i:64 * (i + 1)]).save(path)
            out.append(path)
    return out


def write_manifest(folder: Path, rows: list[dict[str, str]], fields: tuple[str, ...] = ("path", "group")) -> Path:
    path = folder / "manifest.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(fields), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def touch_tiles(folder: Path) -> list[Path]:
    """Empty stand-ins named like tiles: reference_groups only looks at names and the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"photo{k}_{i}.jpg" for k in range(3) for i in range(N_TILES)]
    for p in paths:
        p.write_bytes(b"")
    return paths


def photo_rows(paths: list[Path]) -> list[dict[str, str]]:
    return [{"path": p.name, "group": p.stem.split("_")[0]} for p in paths]


# --------------------------------------------------------------------------- the pure part
def test_without_manifest_the_file_name_guess_holds(tmp_path: Path) -> None:
    paths = touch_tiles(tmp_path / "tiles")
    groups = reference_groups(paths, [tmp_path / "tiles"])
    assert groups == [REF_GROUP_PREFIX + guess_group(p) for p in paths]
    assert groups == ["ref:0", "ref:1"] * 3  # the bug the manifest fixes: tiles of one photo split up
    assert read_reference_manifest(tmp_path / "tiles") == {}


def test_manifest_groups_pair_the_tiles_up(tmp_path: Path) -> None:
    paths = touch_tiles(tmp_path / "tiles")
    write_manifest(tmp_path / "tiles", photo_rows(paths))
    groups = reference_groups(paths, [tmp_path / "tiles"])
    assert groups == ["ref:photo0", "ref:photo0", "ref:photo1", "ref:photo1", "ref:photo2", "ref:photo2"]
    # matched by resolved path: a relative spelling and a symlinked folder give the same groups
    os.symlink(tmp_path / "tiles", tmp_path / "link")
    via_link = [tmp_path / "link" / p.name for p in paths]
    assert reference_groups(via_link, [tmp_path / "link"]) == groups
    old = Path.cwd()
    try:
        os.chdir(tmp_path)
        assert reference_groups([Path("tiles") / p.name for p in paths], [Path("tiles")]) == groups
    finally:
        os.chdir(old)


def test_unlisted_files_and_other_folders_fall_back_to_the_guess(tmp_path: Path) -> None:
    paths = touch_tiles(tmp_path / "tiles")
    (tmp_path / "tiles" / "sub").mkdir()
    nested = tmp_path / "tiles" / "sub" / "photo9_1.jpg"
    nested.write_bytes(b"")
    write_manifest(tmp_path / "tiles", [*photo_rows(paths[:2]), {"path": "sub/photo9_1.jpg", "group": "p9"}])
    loose = touch_tiles(tmp_path / "other")  # a second reference folder without a manifest
    groups = reference_groups([*paths, nested, *loose], [tmp_path / "tiles", tmp_path / "other"])
    assert groups[:2] == ["ref:photo0", "ref:photo0"]
    assert groups[2:6] == ["ref:0", "ref:1", "ref:0", "ref:1"]  # not listed: the guess
    assert groups[6] == "ref:p9"  # a path below the folder, relative to it
    assert groups[7:] == ["ref:0", "ref:1"] * 3
    # a manifest only counts in a folder given as a reference, not beside a file given by name
    assert reference_groups(paths[:2], paths[:2]) == ["ref:0", "ref:1"]


def test_a_manifest_listing_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    paths = touch_tiles(tmp_path / "tiles")
    manifest = write_manifest(tmp_path / "tiles", [*photo_rows(paths), {"path": "gone_0.jpg", "group": "gone"}])
    with pytest.raises(LayerScopeError, match=rf"{re.escape(str(manifest))}:8: lists gone_0\.jpg, which is not a file"):
        reference_groups(paths, [tmp_path / "tiles"])


def test_a_manifest_without_a_group_column_is_a_clear_error(tmp_path: Path) -> None:
    paths = touch_tiles(tmp_path / "tiles")
    manifest = write_manifest(tmp_path / "tiles", [{"path": p.name, "label": "real"} for p in paths],
                              fields=("path", "label"))
    with pytest.raises(LayerScopeError, match=rf"{re.escape(str(manifest))}: missing column\(s\) group"):
        reference_groups(paths, [tmp_path / "tiles"])


def test_an_empty_group_or_two_groups_for_one_file_are_errors(tmp_path: Path) -> None:
    paths = touch_tiles(tmp_path / "tiles")
    manifest = write_manifest(tmp_path / "tiles", [{"path": paths[0].name, "group": " "}])
    with pytest.raises(LayerScopeError, match=rf"{re.escape(str(manifest))}:2: photo0_0\.jpg has no group"):
        reference_groups(paths, [tmp_path / "tiles"])
    write_manifest(tmp_path / "tiles", [{"path": paths[0].name, "group": "a"}, {"path": paths[0].name, "group": "b"}])
    with pytest.raises(LayerScopeError, match=r"manifest\.csv:3: photo0_0\.jpg is listed in two groups"):
        reference_groups(paths, [tmp_path / "tiles"])
    # two folders whose manifests disagree about one file (a folder and its sub-folder)
    write_manifest(tmp_path / "tiles", [{"path": "inner/x.jpg", "group": "outer-group"}])
    (tmp_path / "tiles" / "inner").mkdir()
    (tmp_path / "tiles" / "inner" / "x.jpg").write_bytes(b"")
    write_manifest(tmp_path / "tiles" / "inner", [{"path": "x.jpg", "group": "inner-group"}])
    with pytest.raises(LayerScopeError, match="a file belongs to one group"):
        reference_groups([tmp_path / "tiles" / "inner" / "x.jpg"], [tmp_path / "tiles", tmp_path / "tiles" / "inner"])


def test_the_cli_help_of_real_names_the_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    from deepfake_gui.cli import main

    with pytest.raises(SystemExit):
        main(["adapt", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "manifest.csv with columns path,group" in text


# ------------------------------------------------------------------------- through the job
@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from deepfake_gui.engine.train import TrainOptions, TrainReport, train_job

    root = make_training_set(tmp_path_factory.mktemp("train"))
    opts = TrainOptions(data=root, encoder=ENCODER, out=root.parent / "base-bundle", sweep=False, layer=2,
                        folds=3, device="cpu", attribution=False)
    report = next(e for e in train_job(opts) if isinstance(e, TrainReport))
    return report.bundle_path


def _adapt(base: Path, refs: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[AdaptReport, list[str],
                                                                                          list[str]]:
    """Run adapt_job; also return the groups the probe folds and the reference model were given."""
    import deepfake_gui.probes.dataset as dataset
    import deepfake_gui.probes.reference as reference

    fold_groups: list[str] = []
    model_groups: list[str] = []
    real_folds, real_fit = dataset.grouped_folds, reference.fit_reference_model

    def folds(data, *args, **kwargs):
        fold_groups[:] = [g for g in data.groups.tolist() if g.startswith(REF_GROUP_PREFIX)]
        return real_folds(data, *args, **kwargs)

    def fit(X_ref, groups, **kwargs):
        model_groups[:] = list(np.asarray(groups).tolist())
        return real_fit(X_ref, groups, **kwargs)

    monkeypatch.setattr(dataset, "grouped_folds", folds)
    monkeypatch.setattr(reference, "fit_reference_model", fit)
    events = list(adapt_job(AdaptOptions(detector=base, real=[refs], out=out, device="cpu", folds=3)))
    (report,) = [e for e in events if isinstance(e, AdaptReport)]
    return report, fold_groups, model_groups


def test_adapt_holds_references_out_by_the_manifest_groups(base: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    tiles = make_tiles(tmp_path / "tiles")
    report, fold_groups, model_groups = _adapt(base, tmp_path / "tiles", tmp_path / "guessed", monkeypatch)
    assert set(fold_groups) == set(model_groups) == {"ref:0", "ref:1"}  # the old behaviour: by tile number
    assert report.meta["adaptation"]["reference_set"]["n_groups"] == N_TILES

    write_manifest(tmp_path / "tiles", photo_rows(tiles))
    report, fold_groups, model_groups = _adapt(base, tmp_path / "tiles", tmp_path / "grouped", monkeypatch)
    by_name = {Path(r.path).name: i for i, r in enumerate(report.check.usable)}
    expected = ["ref:" + name.split("_")[0] for name in sorted(by_name, key=by_name.get)]
    assert model_groups == expected and fold_groups == expected
    assert len(set(model_groups)) == N_PHOTOS
    assert report.meta["adaptation"]["reference_set"]["n_groups"] == N_PHOTOS
    assert report.meta["adaptation"]["reference_set"]["n_files"] == N_PHOTOS * N_TILES  # manifest.csv not a file


def test_a_broken_manifest_fails_before_any_scoring(base: Path, tmp_path: Path) -> None:
    tiles = make_tiles(tmp_path / "tiles")
    manifest = write_manifest(tmp_path / "tiles", [{"path": p.name} for p in tiles], fields=("path",))
    events = check_references_job(AdaptOptions(detector=base, real=[tmp_path / "tiles"], out=tmp_path / "o",
                                               device="cpu"))
    seen = []
    with pytest.raises(LayerScopeError, match=rf"{re.escape(str(manifest))}: missing column\(s\) group"):
        for e in events:
            seen.append(e)
    assert not any(isinstance(e, ReferenceCheck) for e in seen)
    assert all(e.total is None or e.done == 0 for e in seen)  # nothing was scored yet
