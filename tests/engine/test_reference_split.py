"""The held-out reference split: grouped, leak-free, seeded, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.engine.reference_split import (
    ReferenceSplit,
    read_manifest,
    reference_split,
    sources,
    write_manifest,
)

SPEAKERS = ("en_A", "fr_B", "it_C")
KEYS = [f"key{i:02d}" for i in range(10)]


def audio_rows() -> list[dict[str, str]]:
    """Like the shared audio set: every speaker says every key; vocoded fakes carry the speaker; TTS its voice."""
    rows = []
    for spk in SPEAKERS:
        for key in KEYS:
            rows.append({"path": f"real/{spk}/{key}.flac", "label": "real", "generator": "real", "group": key,
                         "speaker": spk})
            for gen in ("griffin-lim", "world-vocoder"):
                rows.append({"path": f"fake/{gen}/{spk[:2]}_{key}.flac", "label": "fake", "generator": gen,
                             "group": key, "speaker": spk})
    for key in KEYS:
        rows.append({"path": f"fake/espeak-ng/en_{key}.flac", "label": "fake", "generator": "espeak-ng",
                     "group": key, "speaker": "espeak-ng:en-us"})
    return rows


def image_rows() -> list[dict[str, str]]:
    """Like the shared image set: group = photo, source = the library the photo came from."""
    rows = []
    for source, photos in (("mate", ["m1", "m2", "m3", "m4", "m5"]), ("kde", ["k1", "k2", "k3", "k4"]),
                           ("skimage", ["s1"])):
        for photo in photos:
            for i in range(3):
                rows.append({"path": f"real/{photo}_{i}.jpg", "label": "real", "generator": "real",
                             "group": photo, "source": source})
                rows.append({"path": f"fake/ae/{photo}_{i}.jpg", "label": "fake", "generator": "ae",
                             "group": photo, "source": source})
    return rows


def _check_leak_free(split: ReferenceSplit, column: str, source: str) -> None:
    test_groups = set(split.test_groups)
    assert test_groups and split.reference_groups
    assert not test_groups & set(split.reference_groups)
    assert not test_groups & {r["group"] for r in split.training}
    assert all(r["label"] == "real" for r in split.references)
    assert all(r[column] == source for r in split.references + split.test)
    assert all(r[column] != source for r in split.training)
    assert {r["label"] for r in split.test} == {"real", "fake"}


@pytest.mark.parametrize("speaker", SPEAKERS)
def test_audio_split_never_shares_a_sentence(speaker: str) -> None:
    rows = audio_rows()
    split = reference_split(rows, speaker, "speaker", seed=3)
    _check_leak_free(split, "speaker", speaker)
    assert len(split.reference_groups) == len(split.test_groups) == 5
    # every real file of the held-out speaker's test sentences is tested, with all its fakes
    assert len(split.test) == 5 * 3
    # other speakers' recordings of the reference sentences stay in training; TTS of test sentences do not
    assert {r["group"] for r in split.training} == set(split.reference_groups)
    assert {r["speaker"] for r in split.training} == set(SPEAKERS) - {speaker} | {"espeak-ng:en-us"}


def test_image_split_holds_out_a_photo_source() -> None:
    split = reference_split(image_rows(), "mate", "source", seed=0)
    _check_leak_free(split, "source", "mate")
    assert len(split.reference_groups) + len(split.test_groups) == 5
    assert {r["source"] for r in split.training} == {"kde", "skimage"}
    assert len(split.training) == 5 * 6  # every photo of the other sources, real and fake
    assert len(split.references) == 3 * len(split.reference_groups)  # all real tiles of the reference photos


def test_split_is_deterministic_for_a_seed() -> None:
    rows = audio_rows()
    a = reference_split(rows, "fr_B", "speaker", seed=7)
    b = reference_split(list(reversed(rows)), "fr_B", "speaker", seed=7)
    assert a.reference_groups == b.reference_groups and a.test_groups == b.test_groups
    assert sorted(r["path"] for r in a.training) == sorted(r["path"] for r in b.training)
    others = {tuple(reference_split(rows, "fr_B", "speaker", seed=s).test_groups) for s in range(6)}
    assert len(others) > 1


def test_reference_fraction() -> None:
    split = reference_split(audio_rows(), "en_A", "speaker", reference_fraction=0.3)
    assert len(split.reference_groups) == 3 and len(split.test_groups) == 7


def test_unknown_source_is_a_clear_error() -> None:
    with pytest.raises(LayerScopeError, match=r"no real items of speaker 'de_X'.*en_A, fr_B, it_C"):
        reference_split(audio_rows(), "de_X", "speaker", where="data/manifest.csv")
    with pytest.raises(LayerScopeError, match="espeak-ng:en-us"):  # a fake-only source gives no references
        reference_split(audio_rows(), "espeak-ng:en-us", "speaker")
    with pytest.raises(LayerScopeError, match=r"data/manifest.csv: missing column\(s\) \['speaker'\]"):
        reference_split(image_rows(), "mate", "speaker", where="data/manifest.csv")


def test_too_few_groups_is_a_clear_error() -> None:
    with pytest.raises(LayerScopeError, match=r"'skimage' has only 1 group.*at least 4"):
        reference_split(image_rows(), "skimage", "source")
    split = reference_split(image_rows(), "kde", "source", min_groups=4)  # exactly enough
    assert len(split.reference_groups) == len(split.test_groups) == 2
    with pytest.raises(LayerScopeError, match="fraction"):
        reference_split(image_rows(), "kde", "source", reference_fraction=1.0)


def test_test_half_without_fakes_is_an_error() -> None:
    rows = [r for r in image_rows() if not (r["source"] == "kde" and r["label"] == "fake")]
    with pytest.raises(LayerScopeError, match="lacks real or fake"):
        reference_split(rows, "kde", "source")


def test_sources_lists_only_sources_with_real_items() -> None:
    assert sources(audio_rows(), "speaker") == list(SPEAKERS)
    assert sources(image_rows(), "source") == ["kde", "mate", "skimage"]


def test_manifest_round_trip_with_absolute_paths(tmp_path: Path) -> None:
    split = reference_split(image_rows(), "mate", "source")
    dest = write_manifest(split.test, tmp_path / "sub" / "test.csv", tmp_path / "data")
    back = read_manifest(dest)
    assert [r["group"] for r in back] == [r["group"] for r in split.test]
    assert all(Path(r["path"]).is_absolute() and r["path"].startswith(str((tmp_path / "data").resolve()))
               for r in back)
    with pytest.raises(LayerScopeError, match="cannot read"):
        read_manifest(tmp_path / "missing.csv")
