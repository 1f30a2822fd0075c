"""Leave-one-generator-out and leave-one-source-out: held-out generators and sources are never trained on."""

from __future__ import annotations

import numpy as np

from deepfake_gui.probes.linear import LinearProbe
from deepfake_gui.probes.protocols import leave_one_generator_out, leave_one_source_out


def _data(seed: int = 0):
    """Generators a and b share one artefact direction; c has its own: c is caught only if trained on."""
    rng = np.random.default_rng(seed)
    rows, labels, gens, groups, sources = [], [], [], [], []
    for g in range(40):
        for gen in ("real", "a", "b", "c"):
            x = rng.normal(size=6)
            if gen in ("a", "b"):
                x[0] += 3.0
            if gen == "c":
                x[1] += 3.0
            rows.append(x)
            labels.append(int(gen != "real"))
            gens.append(gen)
            groups.append(f"s{g}")
            sources.append("page1" if g < 20 else "page2")
    return np.array(rows), np.array(labels), gens, np.array(groups), sources


def _folds(groups: np.ndarray, k: int = 5):
    uniq = sorted(set(groups.tolist()))
    out = []
    for i in range(k):
        test_groups = set(uniq[i::k])
        test = np.flatnonzero([g in test_groups for g in groups])
        train = np.flatnonzero([g not in test_groups for g in groups])
        out.append((train, test))
    return out


def test_logo_never_trains_on_the_held_out_generator_and_exposes_the_blind_spot():
    X, y, gens, groups, _sources = _data()
    result = leave_one_generator_out(X, y, gens, groups, _folds(groups), lambda: LinearProbe(), n_draws=100)
    auc = {h.name: h.auc for h in result.held_out}
    assert set(auc) == {"a", "b", "c"}
    assert auc["a"] > 0.9 and auc["b"] > 0.9  # each is caught by what the other taught
    assert auc["c"] < 0.75  # nothing else looks like c: the protocol shows it
    for h in result.held_out:
        assert h.n_real == 40 and h.n_fake == 40 and h.n_groups == 40
        assert h.ci95 is not None and h.ci95[0] <= h.auc <= h.ci95[1]
    # the scored rows of c are real files and c's fakes only
    scored = result.rows["c"]
    assert set(np.array(gens)[scored]) == {"real", "c"}
    assert result.to_dict()["min_auc"] == round(auc["c"], 4)


def test_logo_only_trains_without_the_generator():
    X, y, gens, groups, _ = _data(1)
    trained_on: list[set[str]] = []
    gens_arr = np.array(gens)

    class Spy(LinearProbe):
        def fit(self, X_fit, y_fit, sample_weight=None):
            rows = [int(r) for r in X_fit[:, -1]]
            trained_on.append(set(gens_arr[rows].tolist()))
            return super().fit(X_fit[:, :-1], y_fit)

        def decision_function(self, X_in):
            return super().decision_function(X_in[:, :-1])

    X_idx = np.column_stack([X, np.arange(len(X))])
    leave_one_generator_out(X_idx, y, gens, groups, _folds(groups), lambda: Spy(), n_draws=50)
    # 3 generators x 5 folds, in sorted order a, b, c
    assert len(trained_on) == 15
    for k, held in enumerate(("a", "b", "c")):
        for seen in trained_on[k * 5 : (k + 1) * 5]:
            assert held not in seen and "real" in seen


def test_logo_matches_real_files_by_source_and_falls_back_to_the_data_set():
    X, y, gens, groups, sources = _data(2)
    match = [f"set:{s}" if g != "c" else "set:fakes-only" for s, g in zip(sources, gens, strict=True)]
    result = leave_one_generator_out(X, y, gens, groups, _folds(groups), lambda: LinearProbe(), sources=match,
                                     n_draws=50)
    by = {h.name: h for h in result.held_out}
    assert by["a"].n_real == 40  # a appears on both pages: both pages' real files
    assert by["c"].n_real == 40  # c's page has no real file: the data set's real files
    only_page1 = [f"set:{s}" for s in sources]
    b_rows = np.array([g == "b" for g in gens]) & (np.array(sources) == "page2")
    X2, y2 = X[~b_rows], y[~b_rows]
    keep = ~b_rows
    result2 = leave_one_generator_out(X2, y2, list(np.array(gens)[keep]), groups[keep], _folds(groups[keep]),
                                      lambda: LinearProbe(), sources=list(np.array(only_page1)[keep]), n_draws=50)
    assert {h.name: h for h in result2.held_out}["b"].n_real == 20  # b only on page1: page1's real files


def test_loso_holds_out_whole_sources_and_their_groups():
    X, y, _gens, groups, sources = _data(3)
    result = leave_one_source_out(X, y, sources, groups, lambda: LinearProbe(), n_draws=50)
    assert [h.name for h in result.held_out] == ["page1", "page2"]
    for h in result.held_out:
        assert h.n_real == 20 and h.n_fake == 60
        assert 0.7 < h.auc <= 1.0
    assert set(np.array(sources)[result.rows["page1"]]) == {"page1"}
