"""aggregate() and fuse_modalities() against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from deepfake_gui.analysis.aggregate import AGGREGATIONS, aggregate, fuse_modalities


@pytest.mark.parametrize("method", AGGREGATIONS)
def test_a_constant_series_returns_the_constant(method: str) -> None:
    assert aggregate([1.7] * 5, method) == 1.7
    assert aggregate([-3.0], method, temperature=0.1) == -3.0


def test_logsumexp_hand_values() -> None:
    # log((e^0 + e^2) / 2) = log(4.194528) = 1.433781
    assert aggregate([0.0, 2.0]) == pytest.approx(1.433781, abs=1e-6)
    # 2 * log((e^0 + e^1) / 2) = 2 * log(1.859141) = 1.240229
    assert aggregate([0.0, 2.0], temperature=2.0) == pytest.approx(1.240229, abs=1e-6)
    # weighted: log((3 e^0 + 1 e^2) / 4) = log(2.597264) = 0.954459
    assert aggregate([0.0, 2.0], weights=[3, 1]) == pytest.approx(0.954459, abs=1e-6)


def test_logsumexp_lies_between_mean_and_max_and_tends_to_both() -> None:
    scores = [-2.0, 0.5, 3.0, 1.0]
    mean, top = aggregate(scores, "mean"), aggregate(scores, "max")
    assert (mean, top) == (0.625, 3.0)
    for t in (0.01, 0.5, 1.0, 10.0, 1000.0):
        assert mean <= aggregate(scores, temperature=t) <= top
    # t -> 0: max + t * log(1/4); t -> inf: the mean
    assert aggregate(scores, temperature=0.01) == pytest.approx(3.0 + 0.01 * math.log(0.25), abs=1e-6)
    assert aggregate(scores, temperature=1e4) == pytest.approx(mean, abs=1e-3)


def test_logsumexp_is_stable_for_large_logits() -> None:
    assert aggregate([1000.0, 1000.0]) == 1000.0
    assert aggregate([1000.0, 0.0]) == pytest.approx(1000.0 + math.log(0.5), abs=1e-9)  # 999.306853
    assert aggregate([-1000.0, -1002.0]) == pytest.approx(-1000.0 + math.log((1 + math.exp(-2)) / 2), abs=1e-9)


def test_weights_apply_to_mean_and_drop_zero_weight_entries() -> None:
    assert aggregate([1.0, 4.0], "mean", weights=[2, 1]) == 2.0  # (2 + 4) / 3
    assert aggregate([9.0, 1.0, 2.0], "max", weights=[0, 1, 1]) == 2.0


def test_nan_entries_are_ignored() -> None:
    assert aggregate([float("nan"), 2.0, 4.0], "mean") == 3.0
    assert aggregate([float("nan"), 0.0, 2.0]) == pytest.approx(1.433781, abs=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scores": []}, "empty"),
        ({"scores": [float("nan")] * 3}, "NaN"),
        ({"scores": [1.0], "method": "median"}, "unknown aggregation"),
        ({"scores": [1.0], "temperature": 0.0}, "temperature"),
        ({"scores": [1.0, 2.0], "weights": [1.0]}, "weights"),
        ({"scores": [1.0, 2.0], "weights": [1.0, -1.0]}, "non-negative"),
        ({"scores": [1.0, float("inf")]}, "infinite"),
    ],
)
def test_bad_input_raises_a_clear_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        aggregate(**kwargs)


def test_fuse_max_names_the_track_that_drove_it() -> None:
    score, why = fuse_modalities({"frames": -0.5, "audio": 2.1})
    assert score == 2.1
    assert "audio" in why and why.startswith("driven by audio")


def test_fuse_mean() -> None:
    score, why = fuse_modalities({"frames": -0.5, "audio": 2.5}, rule="mean")
    assert score == 1.0
    assert why.startswith("mean of")


def test_fuse_skips_missing_tracks() -> None:
    score, why = fuse_modalities({"frames": 0.8, "audio": None})
    assert score == 0.8
    assert "only frames" in why and "audio not scored" in why
    assert fuse_modalities({"frames": float("nan"), "audio": -1.0})[0] == -1.0


def test_fuse_ties_and_errors() -> None:
    assert "agree" in fuse_modalities({"frames": 1.0, "audio": 1.0})[1]
    with pytest.raises(ValueError, match="no track was scored"):
        fuse_modalities({"frames": None, "audio": None})
    with pytest.raises(ValueError, match="unknown fusion rule"):
        fuse_modalities({"frames": 1.0}, rule="min")
