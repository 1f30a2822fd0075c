"""Data set loading and grouped splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.engine.datasets import load_dataset
from deepfake_gui.probes.dataset import LabeledSet, grouped_folds

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


@settings(max_examples=40, deadline=None)
@given(
    n_groups=st.integers(min_value=5, max_value=30),
    per_group=st.integers(min_value=1, max_value=6),
    n_splits=st.integers(min_value=2, max_value=6),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_grouped_folds_never_leak_a_group(n_groups: int, per_group: int, n_splits: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"g{i}" for i in range(n_groups)], per_group)
    group_label = rng.integers(0, 2, n_groups)
    group_label[:2], group_label[-2:] = 0, 1  # at least two groups of each class
    labels = np.repeat(group_label, per_group)
    data = LabeledSet(Path("."), [Path(f"{i}.wav") for i in range(len(groups))], labels,
                      ["real" if y == 0 else "tts" for y in labels], groups, "test")
    folds = grouped_folds(data, n_splits, seed)
    seen_test = np.zeros(len(groups), dtype=int)
    for train, test in folds:
        assert set(groups[train]).isdisjoint(groups[test])
        seen_test[test] += 1
    assert (seen_test == 1).all()  # every item is tested exactly once


def test_folder_layout_and_manifest(tmp_path: Path) -> None:
    for rel in ("real/a/x_one.wav", "real/a/x_two.wav", "fake/tts/en_one.wav", "fake/voc/two.wav",
                "fake/.hidden/zz.wav"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    data = load_dataset(tmp_path)
    assert data.source == "folders"
    assert data.summary()["generators"] == {"real": 2, "tts": 1, "voc": 1}
    assert sorted(set(data.groups.tolist())) == ["one", "two"]
    (tmp_path / "manifest.csv").write_text("path,label,generator,group\nreal/a/x_one.wav,real,,g1\n"
                                           "fake/tts/en_one.wav,fake,tts,g1\n")
    data = load_dataset(tmp_path)
    assert data.source == "manifest" and data.generators == ["real", "tts"] and list(data.groups) == ["g1", "g1"]
    (tmp_path / "manifest.csv").write_text("path,label\nreal/a/x_one.wav,maybe\n")
    with pytest.raises(LayerScopeError, match="label must be real or fake"):
        load_dataset(tmp_path)
    with pytest.raises(LayerScopeError, match="real/ and fake/"):
        load_dataset(tmp_path / "real")


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not beside this checkout")
def test_shared_sets_load_with_their_groups() -> None:
    audio = load_dataset(SHARED / "audio")
    assert len(audio) == 1520 and audio.summary()["n_real"] == 360
    assert all(p.is_file() for p in audio.paths[:20])
    image = load_dataset(SHARED / "image")
    assert image.summary()["n_groups"] == 21
    for train, test in grouped_folds(image, 5):
        assert set(image.groups[train]).isdisjoint(image.groups[test])
