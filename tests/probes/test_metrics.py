"""Metrics against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_gui.analysis.calibration import Platt, inconclusive_band, verdict
from deepfake_gui.analysis.metrics import (
    average_precision,
    binary_report,
    bootstrap_auc_ci,
    eer,
    min_dcf,
    roc_auc,
)

# real: .1 .2 .3 .6   fake: .4 .7 .8 .9
LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1])
SCORES = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9])


def test_auc_counts_ordered_pairs() -> None:
    # 16 real/fake pairs; only (real .6, fake .4) is mis-ordered -> 15/16
    assert roc_auc(LABELS, SCORES) == pytest.approx(15 / 16)


def test_eer_where_miss_equals_false_alarm() -> None:
    # at t = .6: misses {.4} = 1/4, false alarms {.6} = 1/4
    rate, threshold = eer(LABELS, SCORES)
    assert rate == pytest.approx(0.25)
    assert threshold == pytest.approx(0.6)


def test_eer_of_perfect_and_inverted_scores() -> None:
    assert eer([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])[0] == 0.0
    assert eer([0, 0, 1, 1], [0.4, 0.3, 0.2, 0.1])[0] == 1.0


def test_eer_interpolates_between_operating_points() -> None:
    # real .1 .3, fake .2 .4: at t=.4 (miss .5, fa 0); at t=.3 (miss .5, fa .5) -> crossing at .5
    rate, _ = eer([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4])
    assert rate == pytest.approx(0.5)
    # 3 real, 1 fake: t=.9 miss 0 fa 0 -> EER 0 for a perfect ranking with unequal classes
    assert eer([0, 0, 0, 1], [0.1, 0.2, 0.3, 0.9])[0] == 0.0


def test_min_dcf_by_hand() -> None:
    # normalised DCF = P_miss + 19 * P_fa at P_fake = 0.05; best at t=.7: P_miss .25, P_fa 0
    assert min_dcf(LABELS, SCORES) == pytest.approx(0.25)
    assert min_dcf(LABELS, SCORES, p_fake=0.5) == pytest.approx(0.25)  # t=.7: .25 + 0, or t=.4: 0+.25
    assert min_dcf([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 0.0


def test_average_precision_matches_definition() -> None:
    # ranks: .9 F, .8 F, .7 F, .6 R, .4 F -> precisions at hits: 1, 1, 1, 4/5 -> mean .95
    assert average_precision(LABELS, SCORES) == pytest.approx((1 + 1 + 1 + 0.8) / 4)


def test_binary_report_and_input_checks() -> None:
    report = binary_report(LABELS, SCORES)
    assert (report.n_real, report.n_fake) == (4, 4)
    with pytest.raises(ValueError, match="both real and fake"):
        roc_auc([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="0 \\(real\\) or 1"):
        roc_auc([0, 2], [0.2, 0.3])


def test_bootstrap_ci_brackets_the_auc() -> None:
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 100)
    scores = labels + rng.normal(0, 1.0, 200)
    groups = np.tile(np.arange(20), 10)
    lo, hi = bootstrap_auc_ci(labels, scores, groups, n_draws=300)
    auc = roc_auc(labels, scores)
    assert lo < auc < hi and hi - lo < 0.3


def test_platt_calibration_and_band() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 500)
    scores = np.where(labels == 1, 2.0, -2.0) + rng.normal(0, 1.5, 1000)
    platt = Platt.fit(scores, labels)
    probs = platt(scores)
    # well calibrated: among items with p in [0.7, 0.9] roughly 80% are fake
    mask = (probs > 0.7) & (probs < 0.9)
    assert abs(labels[mask].mean() - 0.8) < 0.1
    _, threshold = eer(labels, probs)
    lo, hi = inconclusive_band(probs, labels, threshold)
    assert lo <= threshold <= hi
    assert (labels[probs >= hi] == 0).mean() <= 0.05
    assert (labels[probs < lo] == 1).mean() <= 0.05
    assert verdict(hi, (lo, hi)) == "fake"
    assert verdict((lo + hi) / 2, (lo, hi)) == "inconclusive"
    assert verdict(lo - 1e-9, (lo, hi)) == "real"
