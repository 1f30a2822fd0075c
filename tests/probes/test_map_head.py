"""The heatmap head: region statistics, thresholds, storage, training on copies, and what scan reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfake_gui.core.errors import BundleError
from deepfake_gui.probes.linear import LinearProbe
from deepfake_gui.probes.map_head import GENUINE_KEY, REGION_FEATURES, MapHead, region_features, smooth


def test_smooth_is_a_three_by_three_mean_with_edges_over_existing_cells() -> None:
    grid = np.zeros((1, 4, 4))
    grid[0, 0, 0] = 9.0
    out = smooth(grid)
    assert out[0, 0, 0] == pytest.approx(9.0 / 4)  # corner: 4 cells exist
    assert out[0, 1, 1] == pytest.approx(1.0)  # interior: 9 cells
    assert out[0, 3, 3] == 0.0


def test_region_features_read_how_far_the_top_stands_above_the_middle() -> None:
    flat = np.zeros((1, 10, 10))
    peaked = flat.copy()
    peaked[0, :3, :3] = 6.0  # 9% of the cells stand 6 above the median
    features = region_features(np.concatenate([flat, peaked]))
    assert features.shape == (2, len(REGION_FEATURES))
    names = list(REGION_FEATURES)
    assert features[0, names.index("max-p50")] == 0.0
    assert features[1, names.index("max-p50")] == pytest.approx(6.0)
    assert features[1, names.index("share above p50+4")] == pytest.approx(0.09)
    assert features[1, names.index("p50")] == 0.0


def _head(genuine: np.ndarray | None = None) -> MapHead:
    rng = np.random.default_rng(0)
    probe = LinearProbe(C=1.0).fit(rng.normal(size=(40, 3)), np.r_[np.zeros(20), np.ones(20)])
    feats = rng.normal(size=(40, len(REGION_FEATURES)))
    region = LinearProbe(C=1.0).fit(feats, np.r_[np.zeros(20), np.ones(20)])
    genuine = np.arange(100, dtype=float) if genuine is None else genuine
    return MapHead((1, 2), ("stage1", "stage2"), 1, probe, region, genuine, 1.5, 0.1, 3.0, {"note": "test"})


def test_region_threshold_grows_with_tiles_so_a_big_genuine_picture_is_no_likelier_to_get_a_region() -> None:
    head = _head()
    one, nine = head.region_threshold(1), head.region_threshold(9)
    assert one == pytest.approx(np.quantile(np.arange(100.0), 0.9))
    assert nine == pytest.approx(np.quantile(np.arange(100.0), 1 - 0.1 / 9))
    assert nine > one
    # a genuine picture of nine tiles drawn from the same scores: P(any tile above) ~ 1 - (1 - 0.1/9)^9 <= 0.1
    assert 1 - (1 - 0.1 / 9) ** 9 <= 0.1


def test_region_cells_are_the_smoothed_cells_near_the_peak() -> None:
    head = _head()
    tile = np.zeros((8, 8))
    tile[5:8, 5:8] = 10.0
    cells = head.region_cells(tile)
    assert cells[7, 7] and cells[6, 6]
    assert not cells[0, 0] and not cells[2, 2]


def test_round_trip_through_bundle_arrays_and_json() -> None:
    head = _head()
    meta, arrays = head.to_bundle()
    meta = json.loads(json.dumps(meta))  # what detector.json holds
    again = MapHead.from_bundle(meta, arrays)
    assert again is not None and again.layers == (1, 2) and again.grid_layer == 1
    assert again.record == {"note": "test"}
    maps = np.random.default_rng(1).normal(size=(3, 4, 4))
    np.testing.assert_allclose(again.region_scores(maps), head.region_scores(maps), rtol=1e-5)
    assert again.region_threshold(4) == pytest.approx(head.region_threshold(4), rel=1e-6)
    assert MapHead.from_bundle(None, arrays) is None


# ------------------------------------------------------------------ trained on copies, end to end
def _texture(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def _blurred(image: np.ndarray) -> np.ndarray:
    """A 'generator' that loses fine detail: a 4x4 box blur."""
    from PIL import ImageFilter

    return np.asarray(Image.fromarray(image).filter(ImageFilter.BoxBlur(2)))


@pytest.fixture(scope="module")
def copy_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real noise textures and their blurred copies (same group, same file name): what splices are made of."""
    root = tmp_path_factory.mktemp("copies")
    rng = np.random.default_rng(0)
    rows = ["path,label,generator,group"]
    for g in range(10):
        real = _texture(rng)
        pair = (("real", real, "real", "real"), ("fake/blur", _blurred(real), "fake", "blur"))
        for folder, image, label, gen in pair:
            (root / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(root / folder / f"p{g}.png")
            rows.append(f"{folder}/p{g}.png,{label},{gen},p{g}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def test_train_map_head_learns_where_from_pasted_copies(copy_set: Path) -> None:
    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.engine.datasets import load_datasets
    from deepfake_gui.engine.train_map_head import MapHeadOptions, copy_pairs, train_map_head
    from deepfake_gui.probes.dataset import grouped_folds

    data = load_datasets([copy_set])
    assert len(copy_pairs(data)) == 10
    encoder = build_encoder("test-efficientnet", "cpu", keep_warm=False)
    head = train_map_head(data, encoder, grouped_folds(data, 3, 0), MapHeadOptions(layers=(1, 2), grid_layer=1))
    assert head.layer_names == ("stage1", "stage2")
    trained = head.record["trained_on"]
    assert trained["copy_pairs"] == 10 and trained["grid"] == [16, 16]
    assert trained["splices"] == 80  # 4 tiles of 32 px per picture, 2 splices each
    # 4 tiles per genuine picture, and 1-4 more from its re-saved copy (downscaled 0.5-0.9: 32-58 px)
    assert trained["tiles_real"] == 40 and 10 <= trained["tiles_resaved"] <= 40
    assert 0.0 <= head.record["held_out"]["resaved_tiles_with_region_one_tile"] <= 1.0
    held = head.record["held_out"]
    # blur is easy to see patch by patch, even for a random tiny encoder, on groups it never saw
    assert held["patch_auc_in_splices"] > 0.8
    assert 0.0 <= held["genuine_tiles_with_region_one_tile"] <= 0.2


def test_resaved_copy_is_smaller_and_recompressed() -> None:
    from deepfake_gui.engine.train_map_head import resaved

    rng = np.random.default_rng(0)
    image = _texture(rng, 100)
    for _ in range(5):
        copy = resaved(image, rng)
        assert copy.dtype == np.uint8 and copy.shape[2] == 3
        assert 50 <= copy.shape[0] <= 90 and copy.shape[0] == copy.shape[1]


def test_train_map_head_needs_copies(tmp_path: Path, copy_set: Path) -> None:
    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.engine.datasets import load_datasets
    from deepfake_gui.engine.train_map_head import MapHeadOptions, train_map_head
    from deepfake_gui.probes.dataset import grouped_folds

    rows = (copy_set / "manifest.csv").read_text().splitlines()
    renamed = [rows[0]] + [r.replace("fake/blur/p", "fake/blur/q") if r.startswith("fake") else r for r in rows[1:]]
    for g in range(10):
        (tmp_path / "real").mkdir(exist_ok=True)
        (tmp_path / "fake/blur").mkdir(parents=True, exist_ok=True)
        (tmp_path / f"real/p{g}.png").write_bytes((copy_set / f"real/p{g}.png").read_bytes())
        (tmp_path / f"fake/blur/q{g}.png").write_bytes((copy_set / f"fake/blur/p{g}.png").read_bytes())
    (tmp_path / "manifest.csv").write_text("\n".join(renamed) + "\n")
    data = load_datasets([tmp_path])
    encoder = build_encoder("test-efficientnet", "cpu", keep_warm=False)
    with pytest.raises(ValueError, match="generated copies of real pictures"):
        train_map_head(data, encoder, grouped_folds(data, 3, 0), MapHeadOptions(layers=(1, 2), grid_layer=1))


@pytest.fixture(scope="module")
def head_bundle(copy_set: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from deepfake_gui.engine.train import TrainOptions, train_job

    out = tmp_path_factory.mktemp("headdet") / "det"
    report = None
    for event in train_job(TrainOptions(data=copy_set, encoder="test-efficientnet", out=out, layers=[2], folds=3,
                                        device="cpu", image_tiles=4, map_head=(1, 2, 1), protocols=False,
                                        shortcut_audit=False, attribution=False)):
        report = event
    assert report is not None and "map_head" in report.meta
    return out


def test_train_writes_the_head_into_the_bundle_and_it_loads(head_bundle: Path) -> None:
    from deepfake_gui.probes.interface import load_detector

    detector = load_detector(head_bundle)
    assert detector.map_head is not None
    assert detector.map_head.layers == (1, 2)
    meta = json.loads((head_bundle / "detector.json").read_text())
    assert meta["map_head"]["held_out"]["patch_auc_in_splices"] > 0.8


def test_a_bundle_whose_head_lacks_its_genuine_scores_is_refused(head_bundle: Path, tmp_path: Path) -> None:
    from deepfake_gui.probes.bundle import load_bundle, save_bundle

    bundle = load_bundle(head_bundle)
    del bundle.arrays[GENUINE_KEY]
    bundle.meta.pop("tensors", None)
    broken = tmp_path / "broken"
    with pytest.raises(BundleError, match="heatmap head"):
        save_bundle(bundle, broken)
        load_bundle(broken)


def test_scan_draws_the_heads_map_and_says_whether_a_region_stands_out(head_bundle: Path, tmp_path: Path) -> None:
    from deepfake_gui.core.results import ScanResult
    from deepfake_gui.engine.explain import image_heatmap
    from deepfake_gui.engine.scan import ScanOptions, scan_job
    from deepfake_gui.probes.interface import load_detector

    rng = np.random.default_rng(5)
    real = _texture(rng)
    spliced = real.copy()
    spliced[8:40, 8:40] = _blurred(real)[8:40, 8:40]
    paths = []
    for name, image in (("genuine.png", real), ("spliced.png", spliced)):
        Image.fromarray(image).save(tmp_path / name)
        paths.append(tmp_path / name)
    options = ScanOptions(device="cpu", detectors=[str(head_bundle)], use_defaults=False)
    results = [e for e in scan_job(paths, options) if isinstance(e, ScanResult)]
    assert [r.status for r in results] == ["ok", "ok"]
    head = load_detector(head_bundle).map_head
    for result in results:
        region = result.heatmap["region"]
        assert set(region) >= {"found", "score", "threshold", "tile", "rule"}
        assert region["threshold"] == pytest.approx(head.region_threshold(result.heatmap["n_tiles"]), abs=1e-3)
        assert result.heatmap["threshold_score"] == pytest.approx(head.pixel_threshold, abs=1e-3)
        heat = image_heatmap(result)
        assert heat.values.shape == (64, 64)
        if region["found"]:
            x0, y0, x1, y1 = region["box_xyxy"]
            assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64


def test_localization_reads_the_heads_region_rule_as_scan_reports_it() -> None:
    """Untouched images given a region, and spliced ones whose box overlaps the mask (not merely found)."""
    from deepfake_gui.engine.evaluate_localization import ImageRecord, region_rates
    from deepfake_gui.engine.localization_manifest import Item

    def record(mask_box, region) -> ImageRecord:
        mask = np.zeros((32, 32), bool)
        if mask_box is not None:
            y0, y1, x0, x1 = mask_box
            mask[y0:y1, x0:x1] = True
        item = Item(Path("x.png"), "image", "image", "partial" if mask.any() else "real", "g", "p", None, {})
        return ImageRecord(item, "det", True, np.zeros((32, 32)), mask, 1.0, 0.0, 0.0, "real", 2.0, region)

    rule = "the rule"
    records = [
        record(None, {"found": False, "rule": rule}),
        record(None, {"found": True, "box_xyxy": [0, 0, 8, 8], "rule": rule}),
        record((0, 8, 0, 8), {"found": True, "box_xyxy": [4, 4, 12, 12], "rule": rule}),  # overlaps
        record((0, 8, 0, 8), {"found": True, "box_xyxy": [20, 20, 30, 30], "rule": rule}),  # found elsewhere
        record((0, 8, 0, 8), {"found": False, "rule": rule}),
    ]
    rates = region_rates(records)["head_region_rule"]
    assert rates["controls_with_region"] == 0.5
    assert rates["partial_with_overlapping_region"] == pytest.approx(1 / 3)
    assert rates["rule"] == rule


@pytest.mark.parametrize(("encoder", "head", "message"), [
    ("test-whisper", (1, 2, 1), "for picture detectors"),
    ("test-efficientnet", (1,), "needs layers and a grid layer"),
    ("test-efficientnet", (1, 9, 1), r"layers \[9\] out of range"),
])
def test_a_wrong_head_is_refused_before_any_feature_is_extracted(encoder: str, head: tuple, message: str,
                                                                  tmp_path: Path) -> None:
    from deepfake_gui.core.errors import LayerScopeError
    from deepfake_gui.engine.train import TrainOptions, train_job

    missing = tmp_path / "no-such-data"  # never read: the settings fail first
    with pytest.raises(LayerScopeError, match=message):
        next(iter(train_job(TrainOptions(data=missing, encoder=encoder, out=tmp_path / "d", map_head=head))))


def test_one_forward_pass_gives_the_probe_the_same_rows_as_a_plain_encode(head_bundle: Path) -> None:
    """With a head, scan runs the encoder once for both; the probe's input rows must not change."""
    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.engine.detector_features import encode_items
    from deepfake_gui.engine.score_image import _encode_with_head
    from deepfake_gui.probes.interface import load_detector

    detector = load_detector(head_bundle)
    encoders = {"test-efficientnet": build_encoder("test-efficientnet", "cpu", keep_warm=False)}
    tiles = [_texture(np.random.default_rng(i), 32) for i in range(3)]
    plain = detector.inputs(encode_items(detector, encoders, tiles))
    batches, maps = _encode_with_head(detector, encoders, detector.map_head, tiles)
    np.testing.assert_array_equal(detector.inputs(batches), plain)
    tokens, grid = encoders["test-efficientnet"].patch_tokens(tiles, (1, 2), 1)
    np.testing.assert_array_equal(maps, detector.map_head.tile_maps(tokens, grid))


def test_model_card_lines_say_the_region_rule_in_sample_and_out_of_fold() -> None:
    from deepfake_gui.gui.views.verdict_card import localization_lines

    figures = {"pixel_auc": 0.931, "pointing_game": 0.96, "iou_best_threshold": 0.6, "iou_detector_threshold": 0.38,
               "controls_with_region": 0.2, "partial_with_overlapping_region": 0.925,
               "controls_with_region_out_of_fold": 0.2, "partial_with_overlapping_region_out_of_fold": 0.8}
    line = localization_lines({"note": "n", "figures": {"image/heatmap": figures}})[1]
    assert "0.383" not in line and "0.380 at the heatmap's" in line
    assert "suspected regions on 20% of untouched and 92% of spliced images (out of fold: 20% and 80%)" in line
    without_head = {k: v for k, v in figures.items() if "region" not in k}
    assert "suspected regions" not in localization_lines({"figures": {"image/heatmap": without_head}})[1]
