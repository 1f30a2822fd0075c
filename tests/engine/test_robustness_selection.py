"""scripts/add_robustness_to_bundles.choose: the rule that decides which training ships."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _choose():
    spec = importlib.util.spec_from_file_location("add_robustness", ROOT / "scripts" / "add_robustness_to_bundles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.choose


def _table(augment: str, clean: float, laundered: float, logo: float | None = None) -> dict:
    table = {"augment": augment, "conditions": {"clean": {"auc": clean}, "opus16k": {"auc": laundered},
                                                "aac24k": {"auc": laundered}}}
    if logo is not None:
        table["logo"] = {"mean_auc": logo}
    return table


def test_an_augmented_candidate_that_loses_the_headline_does_not_ship() -> None:
    choose = _choose()
    # Within the clean-AUC limit and far better laundered, but 0.07 lower leave-one-generator-out.
    winner, reason = choose({"none": _table("none", 0.989, 0.77, 0.913), "codec": _table("codec", 0.985, 0.88, 0.845)})
    assert winner == "none" and "leave-one-generator-out" in reason
    winner, _ = choose({"none": _table("none", 0.989, 0.77, 0.913), "codec": _table("codec", 0.985, 0.88, 0.908)})
    assert winner == "codec"


def test_without_headline_figures_the_clean_and_gain_rules_still_decide() -> None:
    choose = _choose()
    assert choose({"none": _table("none", 0.99, 0.80), "codec": _table("codec", 0.97, 0.90)})[0] == "none"
    assert choose({"none": _table("none", 0.99, 0.80), "codec": _table("codec", 0.985, 0.803)})[0] == "none"
    assert choose({"none": _table("none", 0.99, 0.80), "codec": _table("codec", 0.985, 0.85)})[0] == "codec"
