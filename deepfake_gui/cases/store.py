"""A case: the scanned files of one investigation, their results (every version) and the reviewer's notes.

Each stored result is one transaction (file row, result row, arrays), so a scan
killed mid-way loses at most the file in flight. A rescan of a file adds a new
version; ``results()`` shows the latest, ``history()`` all of them. Results come
back as ScanResult objects with their arrays, so the GUI redraws the evidence
views and the report renders without scanning again.
"""

from __future__ import annotations

import json
import os
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deepfake_gui.cases.arrays import decode_arrays, encode_arrays
from deepfake_gui.cases.schema import REVIEW_STATUSES, connect, default_db_path
from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.results import ScanResult, clean_json, clean_text, path_bytes

MAX_NAME_LENGTH = 100
_FORBIDDEN = '/\\:*?"<>|'  # the name stays usable in a report's file name on every system


@dataclass(frozen=True)
class CaseInfo:
    """One case as `cases list` shows it."""

    id: int
    name: str
    created_utc: str
    notes: str
    n_files: int
    n_results: int
    last_scan_utc: str | None

    def to_json_dict(self) -> dict[str, Any]:
        return {"name": self.name, "created_utc": self.created_utc, "notes": self.notes, "files": self.n_files,
                "results": self.n_results, "last_scan_utc": self.last_scan_utc}


@dataclass
class CaseEntry:
    """One file of a case with its latest result: a row of the table and a section of the report."""

    file_id: int
    path: str
    sha256: str | None
    size: int | None
    mtime_ns: int | None
    modality: str | None
    review_status: str
    notes: str
    added_utc: str
    result_id: int
    version: int  # 1 for the first scan, +1 for each rescan
    versions: int  # how many results this file has in the case
    stored_utc: str
    result: ScanResult = field(repr=False)
    moved_from: str | None = None  # the path it was first scanned at, when it was found elsewhere since

    def to_row(self) -> dict[str, Any]:
        """The summary `cases show --json` prints (the table's columns, full sha256)."""
        r = self.result
        return {"file": Path(self.path).name, "path": self.path, "status": r.status, "error": r.error,
                "verdict": r.verdict, "probability": r.probability, "review_status": self.review_status,
                "notes": self.notes, "sha256": self.sha256, "modality": self.modality,
                "scanned_utc": (r.integrity or {}).get("finished_utc") or self.stored_utc,
                "version": self.version, "versions": self.versions, "result_id": self.result_id,
                "moved_from": self.moved_from}


def validate_case_name(name: str) -> str:
    """The name as stored (surrounding spaces dropped); a LayerScopeError says what is wrong with it."""
    if not isinstance(name, str):
        raise LayerScopeError(f"a case name must be text, not {type(name).__name__}")
    clean = name.strip()
    if not clean:
        raise LayerScopeError("a case name cannot be empty")
    if len(clean) > MAX_NAME_LENGTH:
        raise LayerScopeError(f"case name {clean[:40]!r}…: at most {MAX_NAME_LENGTH} characters, not {len(clean)}")
    bad = sorted({c for c in clean if c in _FORBIDDEN or unicodedata.category(c).startswith("C")})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise LayerScopeError(f"case name {clean!r}: it cannot contain {shown} (no control characters or "
                              f"{' '.join(_FORBIDDEN)})")
    if clean in (".", ".."):
        raise LayerScopeError(f"case name {clean!r} is reserved")
    return clean


def list_cases(db_path: Path | None = None) -> list[CaseInfo]:
    """Every case, by name."""
    conn = connect(db_path)
    try:
        rows = conn.execute(
            "SELECT c.id, c.name, c.created_utc, c.notes,"
            " (SELECT COUNT(*) FROM files f WHERE f.case_id = c.id) AS n_files,"
            " (SELECT COUNT(*) FROM results r JOIN files f ON r.file_id = f.id WHERE f.case_id = c.id) AS n_results,"
            " (SELECT MAX(r.stored_utc) FROM results r JOIN files f ON r.file_id = f.id WHERE f.case_id = c.id)"
            " AS last_scan FROM cases c ORDER BY c.name COLLATE NOCASE").fetchall()
    finally:
        conn.close()
    return [CaseInfo(r["id"], r["name"], r["created_utc"], r["notes"], r["n_files"], r["n_results"],
                     r["last_scan"]) for r in rows]


def case_exists(name: str, db_path: Path | None = None) -> bool:
    conn = connect(db_path)
    try:
        return conn.execute("SELECT 1 FROM cases WHERE name = ?", (name.strip(),)).fetchone() is not None
    finally:
        conn.close()


def rename_case(old: str, new: str, db_path: Path | None = None) -> str:
    """Rename a case (open stores of it follow: they hold its id); returns the stored new name."""
    with CaseStore.open(old, db_path) as store:
        return store.rename(new)


def delete_case(name: str, db_path: Path | None = None) -> None:
    """Delete a case with its files' rows, results and arrays (never the evidence files themselves)."""
    with CaseStore.open(name, db_path) as store:
        store.delete()


class CaseStore:
    """An open case. Not thread-safe: open one per thread (SQLite connections stay on their thread)."""

    def __init__(self, conn: sqlite3.Connection, case_id: int, db_path: Path) -> None:
        self._conn = conn
        self.case_id = case_id
        self.db_path = db_path

    # ------------------------------------------------------------- opening
    @classmethod
    def open(cls, name: str, db_path: Path | None = None) -> CaseStore:
        """An existing case; a LayerScopeError lists the cases there are when it does not exist."""
        path = Path(db_path) if db_path else default_db_path()
        conn = connect(path)
        row = conn.execute("SELECT id FROM cases WHERE name = ?", (str(name).strip(),)).fetchone()
        if row is None:
            names = [r[0] for r in conn.execute("SELECT name FROM cases ORDER BY name COLLATE NOCASE")]
            conn.close()
            known = f"; the cases are: {', '.join(names)}" if names else "; there are no cases yet"
            raise LayerScopeError(f"no case named {name!r} in {path}{known}")
        return cls(conn, int(row[0]), path)

    @classmethod
    def create(cls, name: str, notes: str = "", db_path: Path | None = None) -> CaseStore:
        clean = validate_case_name(name)
        path = Path(db_path) if db_path else default_db_path()
        conn = connect(path)
        try:
            cur = conn.execute("INSERT INTO cases (name, created_utc, notes) VALUES (?, ?, ?)",
                               (clean, _utc_now(), notes))
        except sqlite3.IntegrityError:
            conn.close()
            raise LayerScopeError(f"a case named {clean!r} already exists (names ignore case)") from None
        return cls(conn, int(cur.lastrowid), path)

    @classmethod
    def open_or_create(cls, name: str, db_path: Path | None = None) -> CaseStore:
        clean = validate_case_name(name)
        try:
            return cls.create(clean, db_path=db_path)
        except LayerScopeError:
            return cls.open(clean, db_path)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------- the case
    def _case_row(self) -> sqlite3.Row:
        row = self._conn.execute("SELECT * FROM cases WHERE id = ?", (self.case_id,)).fetchone()
        if row is None:
            raise LayerScopeError(f"the case this window had open (id {self.case_id}) was deleted")
        return row

    @property
    def name(self) -> str:
        """Read each time: another process may have renamed the case."""
        return str(self._case_row()["name"])

    @property
    def notes(self) -> str:
        return str(self._case_row()["notes"])

    def info(self) -> CaseInfo:
        return next(c for c in list_cases(self.db_path) if c.id == self.case_id)

    def set_notes(self, text: str) -> None:
        self._case_row()
        self._conn.execute("UPDATE cases SET notes = ? WHERE id = ?", (text, self.case_id))

    def rename(self, new: str) -> str:
        clean = validate_case_name(new)
        self._case_row()
        try:
            self._conn.execute("UPDATE cases SET name = ? WHERE id = ?", (clean, self.case_id))
        except sqlite3.IntegrityError:
            raise LayerScopeError(f"cannot rename case {self.name!r}: a case named {clean!r} already exists") from None
        return clean

    def delete(self) -> None:
        self._conn.execute("DELETE FROM cases WHERE id = ?", (self.case_id,))

    # ------------------------------------------------------------- writing
    def add_result(self, result: ScanResult) -> int:
        """Store one scan result (a new version if the file is already in the case); returns its result id.

        One transaction: after a crash the result is either all there (row and
        arrays) or not at all. A file whose content changed since its last
        result goes back to "to check".
        """
        path = path_key(result.path)
        data = result.to_json_dict()
        data["path"] = clean_text(os.path.abspath(result.path))
        raw = path_bytes(os.path.abspath(result.path))
        if raw is not None:
            data["path_bytes"] = raw
        result_json = json.dumps(data, ensure_ascii=False, allow_nan=True, default=str)
        try:
            index_json, blob = encode_arrays(result.arrays or {})
        except (TypeError, ValueError) as exc:
            raise LayerScopeError(f"{path}: its score arrays could not be stored in the case: {exc}") from exc
        integrity = result.integrity or {}
        now = _utc_now()
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._case_row()
            row = conn.execute("SELECT id, sha256 FROM files WHERE case_id = ? AND path = ?",
                               (self.case_id, path)).fetchone()
            meta = (json.dumps(clean_json(result.provenance), ensure_ascii=False, default=str)
                    if result.provenance else None)
            values = (result.sha256, integrity.get("size"), integrity.get("mtime_ns"), result.modality, meta, now)
            if row is None:
                file_id = conn.execute(
                    "INSERT INTO files (case_id, path, sha256, size, mtime_ns, modality, metadata_json, updated_utc,"
                    " added_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (self.case_id, path, *values, now)).lastrowid
            else:
                file_id = row["id"]
                changed = result.sha256 is not None and row["sha256"] not in (None, result.sha256)
                conn.execute(
                    "UPDATE files SET sha256 = COALESCE(?, sha256), size = COALESCE(?, size),"
                    " mtime_ns = COALESCE(?, mtime_ns), modality = COALESCE(?, modality),"
                    " metadata_json = COALESCE(?, metadata_json), updated_utc = ?"
                    + (", review_status = 'to check'" if changed else "") + " WHERE id = ?", (*values, file_id))
            version = conn.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM results WHERE file_id = ?",
                                   (file_id,)).fetchone()[0]
            result_id = conn.execute(
                "INSERT INTO results (file_id, version, status, sha256, verdict, probability, result_json,"
                " detector_info_json, tool_version, started_utc, finished_utc, stored_utc)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (file_id, version, result.status, result.sha256, result.verdict, result.probability, result_json,
                 json.dumps(result.detector_info, ensure_ascii=False, default=str), integrity.get("tool_version"),
                 integrity.get("started_utc"), integrity.get("finished_utc"), now)).lastrowid
            conn.execute("INSERT INTO result_arrays (result_id, index_json, tensors) VALUES (?, ?, ?)",
                         (result_id, index_json, sqlite3.Binary(blob)))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(result_id)

    def set_review(self, path: str, status: str | None = None, notes: str | None = None) -> None:
        """The reviewer's status (to check / ok / suspicious) and notes for one file of the case."""
        if status is not None and status not in REVIEW_STATUSES:
            raise LayerScopeError(f"review status {status!r}: use one of {', '.join(REVIEW_STATUSES)}")
        file_id = self._file_id(path)
        if status is not None:
            self._conn.execute("UPDATE files SET review_status = ? WHERE id = ?", (status, file_id))
        if notes is not None:
            self._conn.execute("UPDATE files SET notes = ? WHERE id = ?", (notes, file_id))

    def move_file(self, old: str, new: str, sha256: str | None = None) -> None:
        """Record that a file of the case now lives at ``new`` (found there by its SHA-256).

        The file keeps its results, review status and notes; the move is kept on record
        (``moves``), so the path it was scanned at is never lost. Refused when the hashes
        differ or ``new`` is already a file of the case.
        """
        file_id = self._file_id(old)
        stored = self._conn.execute("SELECT sha256 FROM files WHERE id = ?", (file_id,)).fetchone()[0]
        if sha256 and stored and sha256 != stored:
            raise LayerScopeError(f"{new}: its SHA-256 differs from the file scanned at {old}; not recorded as a move")
        taken = self._conn.execute("SELECT id FROM files WHERE case_id = ? AND path = ?",
                                   (self.case_id, path_key(new))).fetchone()
        if taken is not None and int(taken[0]) != file_id:
            raise LayerScopeError(f"{new}: already a file of case {self.name!r}; {old} not moved onto it")
        now = _utc_now()
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("UPDATE files SET path = ?, updated_utc = ? WHERE id = ?", (path_key(new), now, file_id))
            conn.execute("INSERT INTO file_moves (file_id, from_path, to_path, sha256, moved_utc)"
                         " VALUES (?, ?, ?, ?, ?)", (file_id, path_key(old), path_key(new), sha256 or stored, now))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def moves(self, path: str) -> list[dict[str, str]]:
        """Where a file of the case was found after it moved, oldest first (``from``, ``to``, ``moved_utc``)."""
        rows = self._conn.execute("SELECT from_path, to_path, moved_utc FROM file_moves WHERE file_id = ? ORDER BY id",
                                  (self._file_id(path),)).fetchall()
        return [{"from": r["from_path"], "to": r["to_path"], "moved_utc": r["moved_utc"]} for r in rows]

    def remove_file(self, path: str) -> None:
        """Drop a file and all its results from the case (the file on disk is not touched)."""
        self._conn.execute("DELETE FROM files WHERE id = ?", (self._file_id(path),))

    # ------------------------------------------------------------- reading
    def entries(self, arrays: bool = True) -> list[CaseEntry]:
        """Every file with its latest result, in the order the files entered the case."""
        self._case_row()
        rows = self._conn.execute(
            "SELECT f.*, r.id AS result_id, r.version, r.result_json, r.stored_utc,"
            " (SELECT COUNT(*) FROM results r2 WHERE r2.file_id = f.id) AS versions,"
            " (SELECT m.from_path FROM file_moves m WHERE m.file_id = f.id ORDER BY m.id LIMIT 1) AS moved_from"
            " FROM files f JOIN results r ON r.file_id = f.id"
            " WHERE f.case_id = ? AND r.version = (SELECT MAX(version) FROM results WHERE file_id = f.id)"
            " ORDER BY f.id", (self.case_id,)).fetchall()
        return [self._entry(row, arrays) for row in rows]

    def results(self, arrays: bool = True) -> list[ScanResult]:
        """The latest result of every file, arrays restored (what the GUI's table and views need)."""
        return [e.result for e in self.entries(arrays)]

    def entry(self, path: str, arrays: bool = True) -> CaseEntry:
        """One file of the case with its latest result."""
        file_id = self._file_id(path)
        entry = next(e for e in self.entries(arrays=False) if e.file_id == file_id)
        if arrays:
            entry.result.arrays = self.arrays(entry.result_id)
        return entry

    def history(self, path: str, arrays: bool = False) -> list[ScanResult]:
        """Every result of one file, oldest first."""
        rows = self._conn.execute("SELECT id, result_json FROM results WHERE file_id = ? ORDER BY version",
                                  (self._file_id(path),)).fetchall()
        return [self._result(row["id"], row["result_json"], arrays) for row in rows]

    def result(self, result_id: int, arrays: bool = True) -> ScanResult:
        row = self._conn.execute(
            "SELECT r.id, r.result_json FROM results r JOIN files f ON r.file_id = f.id"
            " WHERE r.id = ? AND f.case_id = ?", (result_id, self.case_id)).fetchone()
        if row is None:
            raise LayerScopeError(f"case {self.name!r} has no result with id {result_id}")
        return self._result(row["id"], row["result_json"], arrays)

    def arrays(self, result_id: int) -> dict[str, Any]:
        row = self._conn.execute("SELECT index_json, tensors FROM result_arrays WHERE result_id = ?",
                                 (result_id,)).fetchone()
        return {} if row is None else decode_arrays(row["index_json"], row["tensors"])

    # ------------------------------------------------------------- internals
    def _file_id(self, path: str) -> int:
        row = self._conn.execute("SELECT id FROM files WHERE case_id = ? AND path = ?",
                                 (self.case_id, path_key(path))).fetchone()
        if row is None:
            raise LayerScopeError(f"{path}: not in case {self.name!r}")
        return int(row[0])

    def _result(self, result_id: int, result_json: str, arrays: bool) -> ScanResult:
        return ScanResult.from_json_dict(json.loads(result_json), self.arrays(result_id) if arrays else {})

    def _entry(self, row: sqlite3.Row, arrays: bool) -> CaseEntry:
        result = self._result(row["result_id"], row["result_json"], arrays)
        if row["moved_from"] is not None:  # the result was stored under the old path: it follows its file
            result.path = row["path"]
        return CaseEntry(
            file_id=row["id"], path=row["path"], sha256=row["sha256"], size=row["size"], mtime_ns=row["mtime_ns"],
            modality=row["modality"], review_status=row["review_status"], notes=row["notes"],
            added_utc=row["added_utc"], result_id=row["result_id"], version=row["version"],
            versions=row["versions"], stored_utc=row["stored_utc"], result=result, moved_from=row["moved_from"])


def path_key(path: str) -> str:
    """How a file is named in the case: its absolute path as UTF-8 text, lossless.

    A name that is not valid UTF-8 keeps its odd bytes as ``\\xff`` escapes
    (SQLite refuses the surrogates Python decodes them to); two such names never
    collide, and any other name is its plain absolute path.
    """
    absolute = os.path.abspath(path)
    if path_bytes(absolute) is None:
        return absolute
    return os.fsencode(absolute).decode("utf-8", "backslashreplace")


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
