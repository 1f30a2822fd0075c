"""evaluate --launder: a tiny random-encoder detector scored clean and under a few laundering conditions.

The numbers mean nothing (random weights); what is tested is the plumbing: one row per
condition with its item count, the clean row equal to the plain evaluate, laundered
copies in the app cache and reused (with their cached features), the plot on request.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.engine.evaluate import EvaluateReport, evaluate_job
from deepfake_gui.engine.robustness import RobustnessReport, plot_series, resolve_conditions, robustness_job

ENCODER = "test-efficientnet"
N = 6
CONDITIONS = ["rescale0.5", "jpeg60", "social"]  # given out of order on purpose


def _make_set(root: Path) -> Path:
    """real/ smooth colour fields, fake/blocky/ the same made blocky."""
    rng = np.random.default_rng(0)
    (root / "real").mkdir(parents=True)
    (root / "fake" / "blocky").mkdir(parents=True)
    for i in range(N):
        small = (rng.random((8, 8, 3)) * 200).astype(np.uint8)
        smooth = np.asarray(Image.fromarray(small).resize((64, 64), Image.Resampling.BICUBIC))
        blocky = np.asarray(Image.fromarray(smooth).resize((8, 8)).resize((64, 64), Image.Resampling.NEAREST))
        Image.fromarray(smooth).save(root / "real" / f"img{i}.png")
        Image.fromarray(blocky).save(root / "fake" / "blocky" / f"img{i}.png")
    return root


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from deepfake_gui.engine.train import TrainOptions, TrainReport, train_job

    data = _make_set(tmp_path_factory.mktemp("data") / "set")
    opts = TrainOptions(data=data, encoder=ENCODER, out=data.parent / "bundle", sweep=False, layer=2, folds=3,
                        device="cpu", attribution=False)
    report = next(e for e in train_job(opts) if isinstance(e, TrainReport))
    return report.bundle_path, data


def _run(detector_dir: Path, data: Path, **kw) -> RobustnessReport:
    return next(e for e in robustness_job(detector_dir, data, CONDITIONS, device="cpu", **kw)
                if isinstance(e, RobustnessReport))


def _files(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else {}


def test_rows_clean_equals_evaluate_cache_reuse_and_plot(detector: tuple[Path, Path], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from deepfake_gui.core.config import cache_dir, feature_cache_dir
    from deepfake_gui.encoders.cache import FeatureCache

    # its own cache folder: other tests (tests/probes) fill the session's laundering cache, and the counts
    # below are of this test's copies and features only, whatever ran before
    monkeypatch.setenv("LAYERSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    bundle, data = detector
    before, bundle_before = _files(data), _files(bundle)
    report = _run(bundle, data)
    assert list(report.results) == ["clean", "jpeg60", "rescale0.5", "social"]  # severity order, clean first
    for row in report.results.values():
        assert set(row) == {"auc", "eer", "n", "n_failed"}
        assert row["n"] == 2 * N and row["n_failed"] == 0
        assert 0.0 <= row["auc"] <= 1.0 and 0.0 <= row["eer"] <= 1.0
    plain = next(e for e in evaluate_job(bundle, data, "cpu") if isinstance(e, EvaluateReport)).metrics
    assert report.results["clean"]["auc"] == pytest.approx(plain["auc"])
    assert report.results["clean"]["eer"] == pytest.approx(plain["eer"])
    assert report.caveats and "training set" in report.caveats[0]  # the fixture scores its own training data
    assert report.plot is None and _files(bundle) == bundle_before  # nothing written into the detector

    # copies live in the app cache, keyed by content, never beside the evidence
    launder = cache_dir() / "launder" / "conditions"
    copies = _files(launder)
    assert len([p for p in copies if ".partial" not in p.name]) == 3 * 2 * N
    assert _files(data) == before
    features = _files(feature_cache_dir())

    puts: list[str] = []
    monkeypatch.setattr(FeatureCache, "put", lambda self, enc, key, *a, **k: puts.append(key))
    plot = tmp_path / "out" / "robustness.png"
    again = _run(bundle, data, plot=plot)
    assert again.results == report.results
    assert puts == []  # every feature came from the cache
    assert _files(launder) == copies  # no copy rewritten
    assert set(_files(feature_cache_dir())) == set(features)  # no new feature entry (get() touches mtimes: LRU)
    assert again.plot == str(plot) and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    series = plot_series(again)
    assert [f for f, _, _ in series] == ["clean", "jpeg", "rescale", "social"]
    assert [a for _, _, aucs in series for a in aucs] == [again.results[n]["auc"] for n in again.results]


def test_seed_keys_the_copies(detector: tuple[Path, Path]) -> None:
    from deepfake_gui.core.config import cache_dir

    bundle, data = detector
    next(e for e in robustness_job(bundle, data, ["social"], seed=7, device="cpu") if isinstance(e, RobustnessReport))
    assert len(list((cache_dir() / "launder").rglob("social-v*-s7/*/*.jpg"))) == 2 * N


def test_conditions_checked_against_the_modality() -> None:
    assert resolve_conditions("image", None)[0] == "jpeg90"
    with pytest.raises(LayerScopeError, match="for audio"):
        resolve_conditions("image", ["opus16k"])
    with pytest.raises(LayerScopeError, match="unknown"):
        resolve_conditions("image", ["jpeg5"])


def test_cli_json(detector: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from deepfake_gui.cli import main

    bundle, data = detector
    rc = main(["evaluate", "--detector", str(bundle), "--data", str(data), "--device", "cpu", "--launder",
               "--conditions", "jpeg60,rescale0.5", "--json"])
    assert rc in (0, None)
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["clean", "jpeg60", "rescale0.5"]
    assert all(out[k]["n"] == 2 * N for k in out)
    plot = bundle / f"robustness-{data.name}.png"  # by default the plot goes into the detector folder
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plot.unlink()
