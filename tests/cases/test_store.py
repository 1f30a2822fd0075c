"""The case database: results and their arrays round-trip exactly, versions, review, names, concurrency."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from media_factory import needs_offline, write_mono_wav
from PIL import Image

from deepfake_gui.cases import (
    SCHEMA_VERSION,
    CaseStore,
    delete_case,
    list_cases,
    load_case_job,
    record_into_case,
    rename_case,
    validate_case_name,
)
from deepfake_gui.cases.arrays import decode_arrays, encode_arrays
from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import Progress
from deepfake_gui.core.results import ScanResult


def assert_same_tree(a, b) -> None:
    """Equal values and equal types, all the way down (a float32 array stays float32, a tuple a tuple)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same_tree(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same_tree(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> list[ScanResult]:
    """An image and a WAV through the shipped detectors on the CPU: the arrays' real structure."""
    from deepfake_gui.engine.detectors import resolve_detectors
    from deepfake_gui.engine.scan import ScanOptions, scan_job

    d = tmp_path_factory.mktemp("evidence")
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(d / "a.png")
    write_mono_wav(d / "b.wav", 0.2 * np.sin(2 * np.pi * 220 * np.arange(3 * 16000) / 16000))
    detectors = resolve_detectors(device="cpu")
    events = scan_job([d / "a.png", d / "b.wav"], ScanOptions(device="cpu"), detectors=detectors)
    results = [e for e in events if isinstance(e, ScanResult)]
    assert [r.status for r in results] == ["ok", "ok"] and all(r.arrays for r in results)
    return results


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cases.sqlite"


def stand_in(path: Path, verdict: str = "fake", sha: str = "a" * 64) -> ScanResult:
    r = ScanResult(path=str(path), sha256=sha, modality="audio", verdict=verdict, probability=0.9,
                   integrity={"size": 10, "mtime_ns": 5, "tool_version": "t", "started_utc": "s",
                              "finished_utc": "2026-01-01T00:00:00+00:00", "unchanged_during_scan": True},
                   provenance={"ai_metadata": False})
    r.arrays = {"audio/x": {"step_scores": np.arange(5, dtype=np.float32), "threshold_score": 1.5}}
    return r


def test_array_codec_keeps_values_and_types() -> None:
    tree = {
        "image/det": {"heatmap": np.random.default_rng(1).random((7, 5)).astype(np.float32),
                      "image_shape": (7, 5), "band_score": [0.25, 1.5], "scale": 1.0, "empty": np.zeros((0, 4)),
                      "boxes": np.arange(8, dtype=np.int64).reshape(2, 4)[:, ::2],  # not contiguous
                      "flags": np.array([True, False]), "n": np.int32(3), "t": np.float32(0.1),
                      "nan": float("nan"), "none": None, "name": "x"},
        "odd": {"$array": "looks like a tag", "c": np.array([1 + 2j]), "s": np.array(["a", "bc"]),
                "be": np.arange(3, dtype=">f8")},
    }
    index, blob = encode_arrays(tree)
    assert b"pickle" not in blob and json.loads(index)["format"] == "layerscope-arrays/1"
    assert_same_tree(tree, decode_arrays(index, blob))
    assert decode_arrays(*encode_arrays({})) == {}
    with pytest.raises(TypeError, match="object arrays"):
        encode_arrays({"o": np.array([object()])})


@needs_offline
def test_a_scan_round_trips_with_its_arrays(scanned: list[ScanResult], db: Path) -> None:
    with CaseStore.create("Harbour video", db_path=db) as store:
        ids = [store.add_result(r) for r in scanned]
    assert ids == sorted(ids)
    with CaseStore.open("harbour VIDEO", db_path=db) as store:  # names ignore case
        reloaded = store.results()
    assert [r.path for r in reloaded] == [r.path for r in scanned]
    for original, back in zip(scanned, reloaded, strict=True):
        assert back.to_json_dict() == json.loads(json.dumps(original.to_json_dict()))
        assert back.detector_info == original.detector_info and back.integrity == original.integrity
        assert_same_tree(original.arrays, back.arrays)
    # reading without arrays is cheap and says so
    with CaseStore.open("Harbour video", db_path=db) as store:
        assert all(r.arrays == {} for r in store.results(arrays=False))


def test_rescan_adds_a_version_and_keeps_the_review(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "clip.wav"
    with CaseStore.create("c", db_path=db) as store:
        store.add_result(stand_in(f, "fake"))
        store.set_review(str(f), "suspicious", "voice sounds flat")
        store.add_result(stand_in(f, "real"))
        (entry,) = store.entries()
        assert (entry.version, entry.versions, entry.result.verdict) == (2, 2, "real")
        assert (entry.review_status, entry.notes) == ("suspicious", "voice sounds flat")
        assert [r.verdict for r in store.history(str(f))] == ["fake", "real"]
        store.add_result(stand_in(f, "real", sha="b" * 64))  # the content changed: review again
        entry = store.entry(str(f))
        assert entry.review_status == "to check" and entry.sha256 == "b" * 64 and entry.versions == 3
        assert_same_tree(entry.result.arrays, stand_in(f).arrays)
        with pytest.raises(LayerScopeError, match="review status 'maybe'"):
            store.set_review(str(f), "maybe")
        with pytest.raises(LayerScopeError, match="not in case"):
            store.set_review(str(tmp_path / "other.wav"), "ok")
        row = entry.to_row()
        assert row["file"] == "clip.wav" and row["scanned_utc"] == "2026-01-01T00:00:00+00:00"


def test_error_results_are_stored_too(db: Path, tmp_path: Path) -> None:
    bad = ScanResult(path=str(tmp_path / "x.txt"), status="error", error="x.txt: not a media file")
    with CaseStore.create("c", db_path=db) as store:
        store.add_result(bad)
        (back,) = store.results()
    assert back.status == "error" and back.error == bad.error and back.arrays == {}


@pytest.mark.parametrize(("name", "problem"), [
    ("", "cannot be empty"), ("   ", "cannot be empty"), ("a/b", "'/'"), ("x\ty", "'\\\\t'"),
    ("n" * 101, "at most 100"), ("..", "reserved"), ("what?", "'?'"),
])
def test_bad_names_are_refused_with_the_reason(name: str, problem: str, db: Path) -> None:
    with pytest.raises(LayerScopeError, match=problem):
        CaseStore.create(name, db_path=db)


def test_names_create_rename_delete(db: Path, tmp_path: Path) -> None:
    assert validate_case_name("  Case 12 — Kyiv  ") == "Case 12 — Kyiv"
    CaseStore.create("alpha", notes="from the tip line", db_path=db).close()
    with pytest.raises(LayerScopeError, match="already exists"):
        CaseStore.create("ALPHA", db_path=db)
    with pytest.raises(LayerScopeError, match=r"no case named 'beta'.*alpha"):
        CaseStore.open("beta", db_path=db)
    holder = CaseStore.open_or_create("alpha", db_path=db)  # e.g. the GUI has it open
    holder.add_result(stand_in(tmp_path / "a.wav"))
    assert rename_case("alpha", "beta", db_path=db) == "beta"
    assert holder.name == "beta" and holder.notes == "from the tip line"  # open stores follow the rename
    CaseStore.create("gamma", db_path=db).close()
    with pytest.raises(LayerScopeError, match="already exists"):
        rename_case("gamma", "Beta", db_path=db)
    assert [(c.name, c.n_files, c.n_results) for c in list_cases(db)] == [("beta", 1, 1), ("gamma", 0, 0)]
    delete_case("beta", db_path=db)
    assert [c.name for c in list_cases(db)] == ["gamma"]
    with pytest.raises(LayerScopeError, match="was deleted"):
        holder.add_result(stand_in(tmp_path / "b.wav"))
    holder.close()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 0  # cascaded
    assert conn.execute("SELECT COUNT(*) FROM result_arrays").fetchone()[0] == 0


def test_database_settings_and_schema_version(db: Path) -> None:
    CaseStore.create("c", db_path=db).close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(LayerScopeError, match="newer LayerScope"):
        CaseStore.open("c", db_path=db)


def test_two_writers_share_a_case(db: Path, tmp_path: Path) -> None:
    """The GUI and a CLI scan writing the same case: both connections see every result."""
    gui, cli = CaseStore.create("shared", db_path=db), CaseStore.open("shared", db_path=db)
    for i in range(4):
        (gui if i % 2 else cli).add_result(stand_in(tmp_path / f"{i}.wav"))
    reader = CaseStore.open("shared", db_path=db)
    reader._conn.execute("BEGIN")  # a reader inside a transaction does not block the writer (WAL)
    reader.results()
    cli.add_result(stand_in(tmp_path / "late.wav"))
    reader._conn.execute("COMMIT")
    assert [Path(r.path).name for r in gui.results()] == ["0.wav", "1.wav", "2.wav", "3.wav", "late.wav"]
    for s in (gui, cli, reader):
        s.close()


def test_record_into_case_stores_before_it_yields(db: Path, tmp_path: Path) -> None:
    events = [Progress(0, 2, "start"), stand_in(tmp_path / "a.wav"), Progress(1, 2, "a"),
              stand_in(tmp_path / "b.wav"), Progress(2, 2, "b")]
    seen = []
    for event in record_into_case(iter(events), "rec", db_path=db):
        if isinstance(event, ScanResult):
            with CaseStore.open("rec", db_path=db) as store:  # already on disk when it reaches the caller
                seen.append(len(store.results(arrays=False)))
    assert seen == [1, 2]
    loaded = list(load_case_job("rec", db_path=db))
    results = [e for e in loaded if isinstance(e, ScanResult)]
    assert [Path(r.path).name for r in results] == ["a.wav", "b.wav"]
    assert_same_tree(results[0].arrays, events[1].arrays)
    assert isinstance(loaded[-1], Progress) and (loaded[-1].done, loaded[-1].total) == (2, 2)


def test_a_moved_file_follows_into_the_case_and_its_old_path_stays_on_record(db: Path, tmp_path: Path) -> None:
    old, new = tmp_path / "inbox" / "clip.wav", tmp_path / "evidence" / "clip.wav"
    with CaseStore.create("c", db_path=db) as store:
        store.add_result(stand_in(old, "fake"))
        store.set_review(str(old), "suspicious", "flat voice")
        store.move_file(str(old), str(new))
    with CaseStore.open("c", db_path=db) as store:  # reopened: the file is where it was found
        (entry,) = store.entries()
        assert (entry.path, entry.result.path, entry.moved_from) == (str(new), str(new), str(old))
        assert (entry.review_status, entry.notes, entry.result.verdict) == ("suspicious", "flat voice", "fake")
        assert [(m["from"], m["to"]) for m in store.moves(str(new))] == [(str(old), str(new))]
        assert entry.to_row()["moved_from"] == str(old)
        store.add_result(stand_in(new, "real"))  # a rescan at the new place is a new version of the same file
        (entry,) = store.entries()
        assert (entry.versions, entry.moved_from) == (2, str(old))
        with pytest.raises(LayerScopeError, match="not in case"):
            store.move_file(str(old), str(tmp_path / "x.wav"))


def test_a_move_is_refused_onto_another_file_or_other_bytes(db: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    with CaseStore.create("c", db_path=db) as store:
        store.add_result(stand_in(a))
        store.add_result(stand_in(b))
        with pytest.raises(LayerScopeError, match="already a file of case"):
            store.move_file(str(a), str(b))
        with pytest.raises(LayerScopeError, match="SHA-256 differs"):
            store.move_file(str(a), str(tmp_path / "c.wav"), sha256="f" * 64)
        assert [e.moved_from for e in store.entries()] == [None, None]


def test_a_version_1_database_gains_the_moves_table(db: Path, tmp_path: Path) -> None:
    from deepfake_gui.cases.schema import MIGRATIONS

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version (version) VALUES (1)")
    conn.execute("BEGIN")
    MIGRATIONS[0](conn)
    conn.execute("INSERT INTO cases (name, created_utc) VALUES ('old', '2026-01-01T00:00:00+00:00')")
    conn.execute("COMMIT")
    conn.close()
    with CaseStore.open("old", db_path=db) as store:
        store.add_result(stand_in(tmp_path / "a.wav"))
        store.move_file(str(tmp_path / "a.wav"), str(tmp_path / "b.wav"))
        assert store.entries()[0].moved_from == str(tmp_path / "a.wav")
    assert sqlite3.connect(db).execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION == 2
