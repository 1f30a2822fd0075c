"""Hostile detector bundles end in a clean BundleError, never a traceback or a silently trusted value."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from deepfake_gui.core.errors import BundleError
from deepfake_gui.probes.bundle import load_bundle

MODELS = Path(__file__).resolve().parents[2] / "models"
SHIPPED = sorted(p.parent for p in MODELS.rglob("detector.json"))


def _copy(tmp_path: Path, name: str = "examples/audio-ge2e-telephone") -> Path:
    folder = tmp_path / Path(name).name
    folder.mkdir()
    for item in (MODELS / name).iterdir():
        if item.is_file():
            (folder / item.name).write_bytes(item.read_bytes())
    return folder


def _meta(folder: Path) -> dict:
    return json.loads((folder / "detector.json").read_text())


def _write(folder: Path, meta: dict | str) -> None:
    (folder / "detector.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_the_shipped_bundles_still_load(folder: Path) -> None:
    bundle = load_bundle(folder)
    assert bundle.meta["threshold"] == _meta(folder)["threshold"]


def test_json_nested_100000_lists_deep_is_a_bundle_error(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _write(folder, "[" * 100_000 + "]" * 100_000)
    with pytest.raises(BundleError, match="nested more than 32 levels deep"):
        load_bundle(folder)


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    meta = _meta(folder)
    meta["training"] = dict(meta.get("training") or {}, note="[[[[" * 40 + '\\"{{{{' * 40)
    _write(folder, meta)
    assert load_bundle(folder).meta["training"]["note"].startswith("[[[[")


@pytest.mark.parametrize(
    ("text_edit", "message"),
    [
        (('"threshold": 0.748375384066726', '"threshold": 1e999'), r"threshold is inf"),
        (('"threshold": 0.748375384066726', '"threshold": 1e308'), r"threshold is 1e\+308"),
        (('"threshold": 0.748375384066726', '"threshold": 1.5'), r"threshold is 1.5; it must be a probability"),
        (('"a": 0.5422562209367326', '"a": 1e308'), r"calibration.a is 1e\+308"),
        (('"a": 0.5422562209367326', '"a": 1e9'), r"the detector calibration a is 1000000000.0"),
    ],
    ids=["threshold-inf", "threshold-1e308", "threshold-1.5", "calibration-a-1e308", "calibration-a-1e9"],
)
def test_numbers_must_be_finite_and_sane(tmp_path: Path, text_edit: tuple[str, str], message: str) -> None:
    folder = _copy(tmp_path)
    text = (folder / "detector.json").read_text()
    old, new = text_edit
    assert old in text
    _write(folder, text.replace(old, new, 1))
    with pytest.raises(BundleError, match=message):
        load_bundle(folder)


@pytest.mark.parametrize("key", ["threshold", "calibration", "inconclusive_band"])
def test_a_missing_required_field_is_an_error_not_a_default(tmp_path: Path, key: str) -> None:
    folder = _copy(tmp_path)
    meta = _meta(folder)
    del meta[key]
    _write(folder, meta)
    with pytest.raises(BundleError, match="no default is assumed"):
        load_bundle(folder)


def test_a_scan_calibration_with_an_absurd_slope_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    meta = _meta(folder)
    meta["scan_calibration"][0]["a"] = -5e6
    _write(folder, meta)
    with pytest.raises(BundleError, match=r"scan_calibration\[0\] calibration a is -5000000.0"):
        load_bundle(folder)


def _move_outside(folder: Path, name: str, outside: Path) -> Path:
    """Move a bundle file out of its folder and leave a symlink to it in its place."""
    (folder / name).rename(outside)
    (folder / name).symlink_to(outside)
    return outside


def test_a_weights_symlink_pointing_outside_the_bundle_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    outside = _move_outside(folder, "weights.safetensors", tmp_path / "elsewhere.safetensors")
    assert hashlib.sha256(outside.read_bytes()).hexdigest() == _meta(folder)["weights_sha256"]  # else intact
    with pytest.raises(BundleError, match="outside the bundle folder"):
        load_bundle(folder)


def test_a_detector_json_symlink_pointing_outside_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _move_outside(folder, "detector.json", tmp_path / "detector.json")
    with pytest.raises(BundleError, match="outside the bundle folder"):
        load_bundle(folder)
