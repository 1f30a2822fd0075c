"""The case database file: where it lives, how a connection is set up, and its migrations.

One SQLite file holds every case, so renaming a case is one UPDATE that is safe
while another process (the GUI and a CLI scan) writes to it. WAL lets readers
and one writer work at once; the busy timeout makes a second writer wait
instead of failing. Migrations are a list: version N of the schema is the
first N entries applied in order, each in its own transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from deepfake_gui.core.errors import LayerScopeError

BUSY_TIMEOUT_S = 30.0
REVIEW_STATUSES = ("to check", "ok", "suspicious")

_V1 = """
CREATE TABLE cases (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_utc TEXT NOT NULL,
    notes       TEXT NOT NULL DEFAULT ''
);
CREATE TABLE files (
    id            INTEGER PRIMARY KEY,
    case_id       INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    path          TEXT NOT NULL,
    sha256        TEXT,
    size          INTEGER,
    mtime_ns      INTEGER,
    modality      TEXT,
    metadata_json TEXT,
    review_status TEXT NOT NULL DEFAULT 'to check' CHECK (review_status IN ('to check', 'ok', 'suspicious')),
    notes         TEXT NOT NULL DEFAULT '',
    added_utc     TEXT NOT NULL,
    updated_utc   TEXT NOT NULL,
    UNIQUE (case_id, path)
);
CREATE TABLE results (
    id                 INTEGER PRIMARY KEY,
    file_id            INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    version            INTEGER NOT NULL,
    status             TEXT NOT NULL,
    sha256             TEXT,
    verdict            TEXT,
    probability        REAL,
    result_json        TEXT NOT NULL,
    detector_info_json TEXT NOT NULL,
    tool_version       TEXT,
    started_utc        TEXT,
    finished_utc       TEXT,
    stored_utc         TEXT NOT NULL,
    UNIQUE (file_id, version)
);
CREATE TABLE result_arrays (
    result_id  INTEGER PRIMARY KEY REFERENCES results(id) ON DELETE CASCADE,
    index_json TEXT NOT NULL,
    tensors    BLOB NOT NULL
);
CREATE INDEX files_case ON files(case_id);
CREATE INDEX results_file ON results(file_id, version);
"""

# Version 2: where a file was found after it moved (chain of custody: the path it was scanned at stays on record).
_V2 = """
CREATE TABLE file_moves (
    id         INTEGER PRIMARY KEY,
    file_id    INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    from_path  TEXT NOT NULL,
    to_path    TEXT NOT NULL,
    sha256     TEXT,
    moved_utc  TEXT NOT NULL
);
CREATE INDEX file_moves_file ON file_moves(file_id, id);
"""

# Append new migrations; never edit a released one.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    lambda conn: _run_script(conn, _V1),
    lambda conn: _run_script(conn, _V2),
]
SCHEMA_VERSION = len(MIGRATIONS)


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Statement by statement: executescript() would commit the migration's open transaction."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def default_db_path() -> Path:
    from deepfake_gui.core.config import data_dir

    return data_dir() / "cases" / "cases.sqlite"


def connect(db_path: Path | None = None) -> sqlite3.Connection:
    """An autocommit connection (transactions are explicit) with WAL, foreign keys and the schema up to date."""
    path = Path(db_path) if db_path else default_db_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")  # evidence: a committed result survives a power cut too
        conn.execute("PRAGMA foreign_keys = ON")
        _migrate(conn, path)
    except sqlite3.DatabaseError as exc:
        raise LayerScopeError(f"{path}: the case database could not be opened: {exc}") from exc
    return conn


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")  # two processes opening a new database must not both migrate it
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        version = row[0] if row else 0
        if row is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        if version > SCHEMA_VERSION:
            raise LayerScopeError(f"{path}: the case database has schema version {version}, made by a newer "
                                  f"LayerScope (this one knows up to {SCHEMA_VERSION}); update LayerScope to open it")
        for step in MIGRATIONS[version:]:
            step(conn)
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
