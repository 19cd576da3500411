"""The results store: one SQLite file (WAL mode, short transactions) shared by a sweep.

Every evaluation point is committed as it happens (``add_eval``), so a sweep killed at any
moment (even ``kill -9``) loses at most the point being written. A run is *finished* once
``finish_run`` has assembled, validated and stored its submission in one transaction;
``begin_run`` on an unfinished key discards its partial rows, so a resumed sweep re-runs
exactly the unfinished runs and repeats nothing finished. Several processes may write the
same file: each opens its own ``Store`` (never share one across ``fork``); SQLite's
``busy_timeout`` serialises the short write transactions.

``PRAGMA application_id`` marks the file as ours, ``PRAGMA user_version`` is the layout
version (``coopbench.results.layout``: compact return arrays plus summary columns). A store
of the older layout 1 is upgraded when opened, in one transaction that loses nothing.
Everything is validated on the way in (``begin_run``, ``add_eval``, ``finish_run``,
``import_submissions``), never on the way out: readers trust what the store holds.
"""

from __future__ import annotations

import json
import operator
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from coopbench.results import arrays, layout
from coopbench.results.diagnostics import thin_logs
from coopbench.results.errors import StoreError
from coopbench.results.reading import Reader
from coopbench.results.submission import (
    canonical_json,
    content_hash,
    decode_submission,
    encode_submission,
    run_meta,
    validate_meta,
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
STORE_VERSION = layout.VERSION  # layout version (PRAGMA user_version); newer files are refused
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _floats(values: Iterable[Any], what: str) -> np.ndarray:
    """A checked float64 array from any iterable of numbers (lists, numpy arrays)."""
    try:
        out = np.array([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} must be a sequence of numbers: {exc}") from None
    return arrays.to_returns(out, what)


def _check_key(run_key: Any) -> str:
    if not isinstance(run_key, str) or not 1 <= len(run_key) <= 512:
        raise StoreError(f"run_key must be a string of 1-512 characters, got {run_key!r:.80}")
    return run_key


def _training(steps_taken: Any, logs: Any) -> dict[str, Any]:
    """The optional run fields ``steps_taken`` and ``logs`` (thinned) of a finishing run."""
    out: dict[str, Any] = {}
    if steps_taken is not None:
        try:
            out["steps_taken"] = operator.index(steps_taken)
        except TypeError:
            raise StoreError(f"steps_taken must be an integer, got {steps_taken!r:.80}") from None
    try:
        thinned = thin_logs(list(logs or []))
    except (TypeError, ValueError, AttributeError) as exc:
        raise StoreError(f"logs must be hooks.log records: {exc}") from None
    if thinned is not None:
        out["logs"] = thinned
    return out


def _write_training(conn: sqlite3.Connection, key: str, doc: dict[str, Any]) -> None:
    """The ``training`` row of a finished submission that has ``steps_taken`` or ``logs``."""
    if "steps_taken" in doc or "logs" in doc:
        logs = doc.get("logs")
        text = None if logs is None else canonical_json(logs)
        conn.execute(layout.TRAINING_INSERT, (key, doc.get("steps_taken"), text))


class Store(Reader):
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
        """Application id, layout version and tables, read in one transaction: read one by
        one, another process's initialisation could land in between (tables without the id:
        taken for a foreign file)."""
        own = not conn.in_transaction
        if own:
            conn.execute("BEGIN")
        try:
            app = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = sorted(
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            )
        finally:
            if own:
                conn.execute("COMMIT")
        return app, version, tables

    def _initialise(self) -> None:
        """Create the tables in an empty file, upgrade a layout-1 store, refuse foreign,
        newer or damaged files."""
        app, version, tables = self._layout(self._conn)
        if app == 0 and version == 0 and not tables:
            with self._tx("initialising the results store") as conn:
                app, version, tables = self._layout(conn)  # another process may have won
                if app == 0 and version == 0 and not tables:
                    layout.create(conn)
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
        if version == 1 and {"runs", "evals"} <= set(tables):
            self._upgrade()
            app, version, tables = self._layout(self._conn)
        if version != STORE_VERSION or not layout.TABLES <= set(tables):
            raise StoreError(
                f"{self.path}: damaged coopbench store (layout {version}, tables {tables})"
            )
        for table, ddl in (("verifications", layout.VERIFICATIONS), ("training", layout.TRAINING)):
            if table not in tables:  # added to layout 2 later: created on first open
                with self._tx(f"adding the {table} table") as conn:
                    conn.execute(ddl)

    def _upgrade(self) -> None:
        """Layout 1 -> 2 in one transaction (all or nothing), then reclaim the space."""
        with self._tx("upgrading the store from layout 1") as conn:
            if conn.execute("PRAGMA user_version").fetchone()[0] != 1:
                return  # another process upgraded it meanwhile
            try:
                layout.upgrade_v1(conn)
            except (KeyError, TypeError, ValueError) as exc:
                raise StoreError(
                    f"{self.path}: cannot upgrade from layout 1 (damaged store): {exc}"
                ) from None
        with suppress(sqlite3.Error):  # another reader holds the file: the space waits
            self._conn.execute("VACUUM")

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
                "content_hash = NULL, wall_time_s = NULL, updated_at = excluded.updated_at",
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
        row = layout.array_row(values)
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
            if values.size != episodes:
                raise StoreError(
                    f"returns of {policy!r:.80} at step {step} has {values.size} episodes, "
                    f"expected protocol.eval_episodes = {episodes}"
                )
            old = conn.execute(
                "SELECT dtype, returns FROM evals WHERE run_key = ? AND policy = ? AND step = ?",
                (run_key, policy, step),
            ).fetchone()
            if old is not None:
                if np.array_equal(arrays.decode(*old), values):
                    return
                raise StoreError(
                    f"{self.path}: run {run_key!r:.120} already has a different evaluation of "
                    f"{policy!r:.80} at step {step}"
                )
            conn.execute(layout.EVAL_INSERT, (run_key, policy, step, *row))

    def finish_run(
        self,
        run_key: str,
        absolute: dict[str, Sequence[float]],
        wall_time_s: float,
        steps_taken: int | None = None,
        logs: Sequence[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Assemble the submission (meta + stored evaluations + absolute returns, and the env
        steps taken and ``hooks.log`` records when given, thinned by
        ``diagnostics.thin_logs``), validate it against ``schema.json`` and mark the run
        finished, atomically. Returns the submission (schema version 1: returns as lists)."""
        _check_key(run_key)
        if not isinstance(absolute, dict):
            raise StoreError(f"absolute must be a dict policy -> returns, got {absolute!r:.80}")
        absolute_a = {
            str(p): _floats(v, f"absolute returns of {p!r:.80}") for p, v in absolute.items()
        }
        try:
            wall = float(wall_time_s)
        except (TypeError, ValueError):
            raise StoreError(f"wall_time_s must be a number, got {wall_time_s!r:.80}") from None
        training = _training(steps_taken, logs)
        with self._tx("finishing a run") as conn:
            meta, finished = self._run_row(conn, run_key)
            if finished:
                raise StoreError(f"{self.path}: run {run_key!r:.120} is already finished")
            evaluations: dict[str, list[dict[str, Any]]] = {}
            for policy, step, dtype, data in conn.execute(
                "SELECT policy, step, dtype, returns FROM evals WHERE run_key = ? "
                "ORDER BY policy, step",
                (run_key,),
            ):
                evaluations.setdefault(policy, []).append(
                    {"step": step, "returns": arrays.to_b64(arrays.decode(dtype, data))}
                )
            doc = {
                **meta,
                "schema_version": 2,
                "run_key": run_key,
                "evaluations": evaluations,
                "absolute": {p: arrays.to_b64(v) for p, v in absolute_a.items()},
                "wall_time_s": wall,
                **training,
            }
            decoded = decode_submission(doc)
            conn.executemany(
                layout.ABSOLUTE_INSERT,
                [(run_key, p, *layout.array_row(v)) for p, v in absolute_a.items()],
            )
            _write_training(conn, run_key, decoded)
            conn.execute(
                "UPDATE runs SET finished = 1, content_hash = ?, wall_time_s = ?, updated_at = ? "
                "WHERE run_key = ?",
                (content_hash(decoded), wall, _now(), run_key),
            )
        return encode_submission(decoded, 1)

    def import_submission(self, doc: dict[str, Any]) -> bool:
        """Validate and store one submission; ``False`` if the same one is already present."""
        return self.import_submissions([doc]) == 1

    def import_submissions(self, docs: Sequence[dict[str, Any]]) -> int:
        """Validate all, then store all in one transaction (all or nothing). Returns how many
        were new. The same submission again (in any schema version) is skipped; a *different*
        finished submission under an existing run key is an error. An unfinished run of that
        key is replaced."""
        checked: dict[str, tuple[dict[str, Any], str]] = {}
        for i, doc in enumerate(docs):
            decoded = decode_submission(doc, f"submission #{i}" if len(docs) > 1 else None)
            digest = content_hash(decoded)
            key = decoded["run_key"]
            if key in checked and checked[key][1] != digest:
                raise StoreError(f"two different submissions share run_key {key!r:.120}")
            checked[key] = (decoded, digest)
        added = 0
        with self._tx("importing submissions") as conn:
            for key, (decoded, digest) in checked.items():
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
                self._write_finished(conn, decoded, digest)
                added += 1
        return added

    def _write_finished(self, conn: sqlite3.Connection, doc: dict[str, Any], digest: str) -> None:
        key = doc["run_key"]
        meta = run_meta(doc)
        conn.execute("DELETE FROM evals WHERE run_key = ?", (key,))
        conn.execute("DELETE FROM absolute WHERE run_key = ?", (key,))
        conn.execute("DELETE FROM training WHERE run_key = ?", (key,))
        conn.execute(
            "INSERT INTO runs (run_key, meta, finished, content_hash, wall_time_s, updated_at) "
            "VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT(run_key) DO UPDATE SET meta = excluded.meta, "
            "finished = 1, content_hash = excluded.content_hash, "
            "wall_time_s = excluded.wall_time_s, updated_at = excluded.updated_at",
            (key, canonical_json(meta), digest, doc["wall_time_s"], _now()),
        )
        conn.executemany(
            layout.EVAL_INSERT,
            [
                (key, policy, p["step"], *layout.array_row(p["returns"]))
                for policy, points in doc["evaluations"].items()
                for p in points
            ],
        )
        conn.executemany(
            layout.ABSOLUTE_INSERT,
            [(key, p, *layout.array_row(v)) for p, v in doc["absolute"].items()],
        )
        _write_training(conn, key, doc)

    def record_verification(self, run_key: str, matches: bool, detail: str) -> None:
        """Record the verdict of re-running a finished run (``coopbench leaderboard verify``),
        replacing an earlier one; the site marks entries whose runs were verified."""
        _check_key(run_key)
        with self._tx("recording a verification") as conn:
            if not conn.execute(
                "SELECT 1 FROM runs WHERE run_key = ? AND finished = 1", (run_key,)
            ).fetchone():
                raise StoreError(f"{self.path}: no finished run {run_key!r:.120} to verify")
            conn.execute(
                "INSERT OR REPLACE INTO verifications (run_key, matches, detail, verified_at) "
                "VALUES (?, ?, ?, ?)",
                (run_key, int(bool(matches)), str(detail)[:2000], _now()),
            )

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
