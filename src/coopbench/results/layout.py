"""The results store's SQLite layout (version 2) and the upgrade from layout 1.

Layout 2 is built for reading: each evaluation point's episode returns are one compact
little-endian array (``arrays.encode``: float32 when exact, else float64, ``dtype`` recorded)
next to summary columns (``n, mean, std, min, max``); a covering index serves the
leaderboard's query of every finished run's per-point means without touching the arrays.

- ``runs(run_key, meta, finished, content_hash, wall_time_s, updated_at)``: ``meta`` is the
  run's JSON metadata (the submission without its run fields);
- ``evals(run_key, policy, step, n, mean, std, min, max, dtype, returns)``, one row per
  evaluation point, unique on ``(run_key, policy, step)``;
- ``absolute(run_key, policy, n, mean, std, min, max, dtype, returns)``: the absolute-metric
  re-evaluation of a finished run;
- ``training(run_key, steps_taken, logs)``: the env steps a finished run took and what its
  ``hooks.log`` recorded (thinned JSON columns, ``results.diagnostics``); added to layout 2
  later, so it is created when an older store is opened, and a run without it (an older
  run or import) simply has no row. ``verifications`` came the same way.

Layout 1 kept every point's returns as a JSON text row and each finished run's whole
submission as JSON. :func:`upgrade_v1` rewrites such a store into layout 2 in one
transaction, re-encoding every return without loss (the arrays decode to the very same
float64 values) and recomputing the content hashes (``submission.content_hash``).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from coopbench.results import arrays
from coopbench.results.submission import canonical_json, content_hash, run_meta

__all__ = [
    "ABSOLUTE_INSERT",
    "EVAL_INSERT",
    "LAYOUT",
    "TABLES",
    "TRAINING",
    "TRAINING_INSERT",
    "VERSION",
    "array_row",
    "create",
    "upgrade_v1",
]

VERSION = 2
TABLES = {"runs", "evals", "absolute"}  # required; ``verifications``, ``training``: on open
_SUMMARY = "n INTEGER NOT NULL, mean REAL NOT NULL, std REAL NOT NULL, min REAL NOT NULL, "
_SUMMARY += "max REAL NOT NULL, dtype TEXT NOT NULL CHECK (dtype IN ('float32', 'float64')), "
_SUMMARY += "returns BLOB NOT NULL"
LAYOUT = f"""
CREATE TABLE runs (
    run_key      TEXT PRIMARY KEY,
    meta         TEXT NOT NULL,
    finished     INTEGER NOT NULL DEFAULT 0 CHECK (finished IN (0, 1)),
    content_hash TEXT,
    wall_time_s  REAL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX runs_finished ON runs (finished, run_key);
CREATE TABLE evals (
    run_key TEXT NOT NULL REFERENCES runs(run_key) ON DELETE CASCADE,
    policy  TEXT NOT NULL,
    step    INTEGER NOT NULL,
    {_SUMMARY},
    UNIQUE (run_key, policy, step)
);
CREATE INDEX evals_means ON evals (run_key, policy, step, mean);
CREATE TABLE absolute (
    run_key TEXT NOT NULL REFERENCES runs(run_key) ON DELETE CASCADE,
    policy  TEXT NOT NULL,
    {_SUMMARY},
    PRIMARY KEY (run_key, policy)
);
CREATE TABLE IF NOT EXISTS verifications (
    run_key     TEXT PRIMARY KEY REFERENCES runs(run_key) ON DELETE CASCADE,
    matches     INTEGER NOT NULL CHECK (matches IN (0, 1)),
    detail      TEXT NOT NULL,
    verified_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS training (
    run_key     TEXT PRIMARY KEY REFERENCES runs(run_key) ON DELETE CASCADE,
    steps_taken INTEGER,
    logs        TEXT
);
"""
EVAL_INSERT = (
    "INSERT INTO evals (run_key, policy, step, n, mean, std, min, max, dtype, returns) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
ABSOLUTE_INSERT = (
    "INSERT INTO absolute (run_key, policy, n, mean, std, min, max, dtype, returns) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


VERIFICATIONS = LAYOUT[
    LAYOUT.index("CREATE TABLE IF NOT EXISTS verifications") : LAYOUT.index(
        "CREATE TABLE IF NOT EXISTS training"
    )
]
TRAINING = LAYOUT[LAYOUT.index("CREATE TABLE IF NOT EXISTS training") :]
TRAINING_INSERT = "INSERT INTO training (run_key, steps_taken, logs) VALUES (?, ?, ?)"


def create(conn: sqlite3.Connection) -> None:
    """Create the layout-2 tables and indexes (inside the caller's transaction)."""
    for statement in LAYOUT.split(";"):
        if statement.strip():
            conn.execute(statement)


def array_row(values: Any) -> tuple[Any, ...]:
    """``(n, mean, std, min, max, dtype, bytes)`` of a float64 return array."""
    dtype, data = arrays.encode(values)
    return (*arrays.summary(values), dtype, data)


def upgrade_v1(conn: sqlite3.Connection) -> None:
    """Rewrite a layout-1 store into layout 2 (inside the caller's transaction)."""
    conn.execute("ALTER TABLE runs RENAME TO runs_v1")
    conn.execute("ALTER TABLE evals RENAME TO evals_v1")
    create(conn)
    rows = conn.execute(
        "SELECT run_key, meta, finished, submission, updated_at FROM runs_v1 ORDER BY run_key"
    )
    for key, meta, finished, submission, updated in rows:
        if finished:
            doc = json.loads(submission)
            meta = canonical_json(run_meta(doc))
            digest, wall = content_hash(doc), doc["wall_time_s"]
        else:
            digest = wall = None
        conn.execute(
            "INSERT INTO runs (run_key, meta, finished, content_hash, wall_time_s, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, meta, finished, digest, wall, updated),
        )
        if finished:
            conn.executemany(
                ABSOLUTE_INSERT,
                [(key, p, *array_row(_array(v))) for p, v in doc["absolute"].items()],
            )
    for key, policy, step, text in conn.execute(
        "SELECT run_key, policy, step, returns FROM evals_v1"
    ):
        conn.execute(EVAL_INSERT, (key, policy, step, *array_row(_array(json.loads(text)))))
    conn.execute("DROP TABLE evals_v1")
    conn.execute("DROP TABLE runs_v1")
    conn.execute(f"PRAGMA user_version = {VERSION}")


def _array(values: list[float]) -> Any:
    return arrays.to_returns(values, "stored returns")
