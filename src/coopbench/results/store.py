"""The results store: one SQLite file (WAL mode, short transactions) shared by a sweep.

Every evaluation point is committed as it happens (``add_eval``), so a sweep killed at any
moment (even ``kill -9``) loses at most the point being written. A run is *finished* once
``finish_run`` has assembled, validated and stored its submission in one transaction;
``begin_run`` on an unfinished key discards its partial rows, so a resumed sweep re-runs
exactly the unfinished runs and repeats nothing finished. Several processes may write the
same file: each opens its own ``Store`` (never share one across ``fork``); SQLite's
``busy_timeout`` serialises the short write transactions.

Layout (``PRAGMA application_id`` marks the file as ours, ``PRAGMA user_version`` is the
layout version): ``runs(run_key, meta, finished, submission, content_hash, updated_at)`` and
``evals(run_key, policy, step, returns)`` with primary key ``(run_key, policy, step)``, so an
evaluation point can never be stored twice.
"""

from __future__ import annotations

import json
import math
import operator
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from coopbench.results.errors import StoreError
from coopbench.results.submission import (
    RUN_FIELDS,
    SCHEMA_VERSION,
    canonical_json,
    content_hash,
    validate_meta,
    validate_submission,
)

__all__ = [
    "APPLICATION_ID",
    "DEFAULT_DB",
    "ENV_VAR",
    "STORE_VERSION",
    "Store",
    "StoreError",
]

ENV_VAR = "COOPBENCH_DB"
DEFAULT_DB = "coopbench.db"
APPLICATION_ID = 0x436F6F70  # "Coop": marks a SQLite file as a coopbench store
STORE_VERSION = 1  # layout version (PRAGMA user_version); newer files are refused
_SQLITE_MAGIC = b"SQLite format 3\x00"
_TABLES = """
CREATE TABLE runs (
    run_key      TEXT PRIMARY KEY,
    meta         TEXT NOT NULL,
    finished     INTEGER NOT NULL DEFAULT 0 CHECK (finished IN (0, 1)),
    submission   TEXT,
    content_hash TEXT,
    updated_at   TEXT NOT NULL
);
CREATE TABLE evals (
    run_key TEXT NOT NULL REFERENCES runs(run_key) ON DELETE CASCADE,
    policy  TEXT NOT NULL,
    step    INTEGER NOT NULL,
    returns TEXT NOT NULL,
    PRIMARY KEY (run_key, policy, step)
) WITHOUT ROWID;
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _floats(values: Iterable[Any], what: str) -> list[float]:
    """Finite Python floats from any iterable of numbers (lists, numpy arrays)."""
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} must be a sequence of numbers: {exc}") from None
    if not out:
        raise StoreError(f"{what} must not be empty")
    bad = [i for i, v in enumerate(out) if not math.isfinite(v)]
    if bad:
        raise StoreError(
            f"{what} must be finite, found {len(bad)} non-finite value(s), "
            f"e.g. {out[bad[0]]} at index {bad[0]}"
        )
    return out


def _check_key(run_key: Any) -> str:
    if not isinstance(run_key, str) or not 1 <= len(run_key) <= 512:
        raise StoreError(f"run_key must be a string of 1-512 characters, got {run_key!r:.80}")
    return run_key


class Store:
    """The SQLite results store (see the module docstring).

    ``path`` defaults to ``$COOPBENCH_DB``, else ``./coopbench.db``; ``timeout`` is how long a
    writer waits for another process's transaction (SQLite ``busy_timeout``) before failing.
    Every problem (corrupt, foreign, newer or locked file, bad input) raises ``StoreError``
    with a one-line message naming the file.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, timeout: float = 60.0) -> None:
        self.path = Path(path if path is not None else os.environ.get(ENV_VAR) or DEFAULT_DB)
        self._check_file()
        try:
            self._conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the results store: {exc}") from None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._initialise()
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"{self.path}: could not switch to WAL mode (got {mode!r})")
            self._conn.execute("PRAGMA synchronous = NORMAL")  # safe against process kills in WAL
        except sqlite3.Error as exc:
            self._conn.close()
            raise self._error("opening the results store", exc) from None
        except StoreError:
            self._conn.close()
            raise

    # ------------------------------------------------------------------ plumbing

    def _check_file(self) -> None:
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a directory, expected a SQLite results file")
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(len(_SQLITE_MAGIC))
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read: {exc.strerror}") from None
        if head != _SQLITE_MAGIC:
            raise StoreError(f"{self.path}: not a SQLite database (corrupt or foreign file)")

    def _error(self, action: str, exc: sqlite3.Error) -> StoreError:
        text = " ".join(str(exc).split())
        if "locked" in text or "busy" in text:
            text += " (another process held the store too long; retry or raise the timeout)"
        elif "malformed" in text or "not a database" in text:
            text += " (the file is corrupt)"
        return StoreError(f"{self.path}: {action} failed: {text}")

    @contextmanager
    def _tx(self, action: str) -> Iterator[sqlite3.Connection]:
        """One short write transaction (``BEGIN IMMEDIATE``): all of it or nothing."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._error(action, exc) from None
            raise

    def _layout(self, conn: sqlite3.Connection) -> tuple[int, int, list[str]]:
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = sorted(
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        )
        return app, version, tables

    def _initialise(self) -> None:
        """Create the tables in an empty file; refuse foreign, newer or damaged files."""
        app, version, tables = self._layout(self._conn)
        if app == 0 and version == 0 and not tables:
            with self._tx("initialising the results store") as conn:
                app, version, tables = self._layout(conn)  # another process may have won
                if app == 0 and version == 0 and not tables:
                    for statement in _TABLES.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    conn.execute(f"PRAGMA user_version = {STORE_VERSION}")
                    return
        if app != APPLICATION_ID:
            shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
            raise StoreError(
                f"{self.path}: not a coopbench results store (a foreign SQLite database "
                f"with tables: {shown or 'none'})"
            )
        if version > STORE_VERSION:
            raise StoreError(
                f"{self.path}: written by a newer coopbench (store layout {version}, this "
                f"version reads {STORE_VERSION}); upgrade coopbench"
            )
        if version != STORE_VERSION or not {"runs", "evals"} <= set(tables):
            raise StoreError(
                f"{self.path}: damaged coopbench store (layout {version}, tables {tables})"
            )

    def _run_row(self, conn: sqlite3.Connection, run_key: str) -> tuple[dict[str, Any], bool]:
        row = conn.execute(
            "SELECT meta, finished FROM runs WHERE run_key = ?", (run_key,)
        ).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: unknown run {run_key!r:.120}; call begin_run first")
        return json.loads(row[0]), bool(row[1])

    # ------------------------------------------------------------------ runs

    def is_finished(self, run_key: str) -> bool:
        """Whether ``run_key`` has a stored, validated submission."""
        _check_key(run_key)
        try:
            row = self._conn.execute(
                "SELECT finished FROM runs WHERE run_key = ?", (run_key,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise self._error("reading a run", exc) from None
        return bool(row and row[0])

    def begin_run(self, run_key: str, meta: dict[str, Any]) -> None:
        """Start (or restart) a run: validate ``meta``, discard the key's unfinished rows."""
        _check_key(run_key)
        validate_meta(meta, f"run {run_key!r:.120} meta")
        text = canonical_json(meta)
        with self._tx("beginning a run") as conn:
            row = conn.execute("SELECT finished FROM runs WHERE run_key = ?", (run_key,)).fetchone()
            if row and row[0]:
                raise StoreError(f"{self.path}: run {run_key!r:.120} is already finished")
            conn.execute("DELETE FROM evals WHERE run_key = ?", (run_key,))
            conn.execute(
                "INSERT INTO runs (run_key, meta, finished, updated_at) VALUES (?, ?, 0, ?) "
                "ON CONFLICT(run_key) DO UPDATE SET meta = excluded.meta, finished = 0, "
                "submission = NULL, content_hash = NULL, updated_at = excluded.updated_at",
                (run_key, text, _now()),
            )

    def add_eval(self, run_key: str, policy: str, step: int, returns: Sequence[float]) -> None:
        """Commit one evaluation point. Re-adding an identical point is a no-op; a different
        one for the same ``(run_key, policy, step)`` is an error (never a second row)."""
        _check_key(run_key)
        try:
            step = operator.index(step)
        except TypeError:
            raise StoreError(f"step must be an integer, got {step!r:.80}") from None
        if step < 0:
            raise StoreError(f"step must be >= 0, got {step}")
        values = _floats(returns, f"returns of {policy!r:.80} at step {step}")
        text = json.dumps(values)
        with self._tx("adding an evaluation") as conn:
            meta, finished = self._run_row(conn, run_key)
            if finished:
                raise StoreError(f"{self.path}: run {run_key!r:.120} is already finished")
            if policy not in meta["policies"]:
                raise StoreError(
                    f"unknown policy {policy!r:.80} for run {run_key!r:.120}; "
                    f"expected one of {sorted(meta['policies'])}"
                )
            episodes = meta["protocol"]["eval_episodes"]
            if len(values) != episodes:
                raise StoreError(
                    f"returns of {policy!r:.80} at step {step} has {len(values)} episodes, "
                    f"expected protocol.eval_episodes = {episodes}"
                )
            old = conn.execute(
                "SELECT returns FROM evals WHERE run_key = ? AND policy = ? AND step = ?",
                (run_key, policy, step),
            ).fetchone()
            if old is not None:
                if old[0] == text:
                    return
                raise StoreError(
                    f"{self.path}: run {run_key!r:.120} already has a different evaluation of "
                    f"{policy!r:.80} at step {step}"
                )
            conn.execute(
                "INSERT INTO evals (run_key, policy, step, returns) VALUES (?, ?, ?, ?)",
                (run_key, policy, step, text),
            )

    def evaluations(self, run_key: str) -> dict[str, list[dict[str, Any]]]:
        """The stored evaluation points of a run, ``{policy: [{"step", "returns"}, ...]}``."""
        _check_key(run_key)
        try:
            rows = self._conn.execute(
                "SELECT policy, step, returns FROM evals WHERE run_key = ? ORDER BY policy, step",
                (run_key,),
            ).fetchall()
        except sqlite3.Error as exc:
            raise self._error("reading evaluations", exc) from None
        out: dict[str, list[dict[str, Any]]] = {}
        for policy, step, text in rows:
            out.setdefault(policy, []).append({"step": step, "returns": json.loads(text)})
        return out

    def finish_run(
        self, run_key: str, absolute: dict[str, Sequence[float]], wall_time_s: float
    ) -> dict[str, Any]:
        """Assemble the submission (meta + stored evaluations + absolute returns), validate it
        against ``schema.json`` and mark the run finished, atomically. Returns the submission."""
        _check_key(run_key)
        if not isinstance(absolute, dict):
            raise StoreError(f"absolute must be a dict policy -> returns, got {absolute!r:.80}")
        absolute_f = {
            str(p): _floats(v, f"absolute returns of {p!r:.80}") for p, v in absolute.items()
        }
        try:
            wall = float(wall_time_s)
        except (TypeError, ValueError):
            raise StoreError(f"wall_time_s must be a number, got {wall_time_s!r:.80}") from None
        with self._tx("finishing a run") as conn:
            meta, finished = self._run_row(conn, run_key)
            if finished:
                raise StoreError(f"{self.path}: run {run_key!r:.120} is already finished")
            evaluations: dict[str, list[dict[str, Any]]] = {}
            for policy, step, text in conn.execute(
                "SELECT policy, step, returns FROM evals WHERE run_key = ? ORDER BY policy, step",
                (run_key,),
            ):
                evaluations.setdefault(policy, []).append(
                    {"step": step, "returns": json.loads(text)}
                )
            doc = {
                **meta,
                "schema_version": SCHEMA_VERSION,
                "run_key": run_key,
                "evaluations": evaluations,
                "absolute": absolute_f,
                "wall_time_s": wall,
            }
            validate_submission(doc)
            conn.execute(
                "UPDATE runs SET finished = 1, submission = ?, content_hash = ?, updated_at = ? "
                "WHERE run_key = ?",
                (canonical_json(doc), content_hash(doc), _now(), run_key),
            )
        return doc

    # ------------------------------------------------------------------ submissions

    def submissions(self) -> list[dict[str, Any]]:
        """Every finished run's submission, ordered by run key."""
        try:
            rows = self._conn.execute(
                "SELECT submission FROM runs WHERE finished = 1 ORDER BY run_key"
            ).fetchall()
        except sqlite3.Error as exc:
            raise self._error("reading submissions", exc) from None
        return [json.loads(r[0]) for r in rows]

    def unfinished(self) -> list[str]:
        """Run keys begun but not finished (what a resumed sweep will redo)."""
        try:
            rows = self._conn.execute(
                "SELECT run_key FROM runs WHERE finished = 0 ORDER BY run_key"
            ).fetchall()
        except sqlite3.Error as exc:
            raise self._error("reading runs", exc) from None
        return [r[0] for r in rows]

    def import_submission(self, doc: dict[str, Any]) -> bool:
        """Validate and store one submission; ``False`` if the same one is already present."""
        return self.import_submissions([doc]) == 1

    def import_submissions(self, docs: Sequence[dict[str, Any]]) -> int:
        """Validate all, then store all in one transaction (all or nothing). Returns how many
        were new. The same submission again is skipped; a *different* finished submission under
        an existing run key is an error. An unfinished run of that key is replaced."""
        checked: dict[str, tuple[dict[str, Any], str]] = {}
        for i, doc in enumerate(docs):
            validate_submission(doc, f"submission #{i}" if len(docs) > 1 else None)
            digest = content_hash(doc)
            key = doc["run_key"]
            if key in checked and checked[key][1] != digest:
                raise StoreError(f"two different submissions share run_key {key!r:.120}")
            checked[key] = (doc, digest)
        added = 0
        with self._tx("importing submissions") as conn:
            for key, (doc, digest) in checked.items():
                row = conn.execute(
                    "SELECT finished, content_hash FROM runs WHERE run_key = ?", (key,)
                ).fetchone()
                if row and row[0]:
                    if row[1] == digest:
                        continue
                    raise StoreError(
                        f"{self.path}: run {key!r:.120} is already stored with different "
                        "content; refusing to overwrite it"
                    )
                self._write_finished(conn, doc, digest)
                added += 1
        return added

    def _write_finished(self, conn: sqlite3.Connection, doc: dict[str, Any], digest: str) -> None:
        key = doc["run_key"]
        meta = {k: v for k, v in doc.items() if k not in RUN_FIELDS}
        conn.execute("DELETE FROM evals WHERE run_key = ?", (key,))
        conn.execute(
            "INSERT INTO runs (run_key, meta, finished, submission, content_hash, updated_at) "
            "VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT(run_key) DO UPDATE SET meta = excluded.meta, "
            "finished = 1, submission = excluded.submission, content_hash = excluded.content_hash,"
            " updated_at = excluded.updated_at",
            (key, canonical_json(meta), canonical_json(doc), digest, _now()),
        )
        conn.executemany(
            "INSERT INTO evals (run_key, policy, step, returns) VALUES (?, ?, ?, ?)",
            [
                (key, policy, p["step"], json.dumps(p["returns"]))
                for policy, points in doc["evaluations"].items()
                for p in points
            ],
        )

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
