"""The store's read side: submissions, metadata and per-run summaries, never re-validated.

Everything in a store was validated when it was written, so readers decode without checks.
The leaderboard scores every run from :meth:`Reader.run_summaries` alone: the per-point mean
team returns (a covering index) and the absolute-metric means, no episode array decoded.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coopbench.results import arrays
from coopbench.results.errors import StoreError
from coopbench.results.submission import encode_submission, run_meta

__all__ = ["Reader", "RunSummary", "summarise"]


@dataclass(frozen=True)
class RunSummary:
    """What scoring needs of one finished run.

    ``meta`` is the submission without its run fields (task, algorithm, policies, seed,
    protocol, ...); ``curves[policy]`` is ``(steps, mean team return per step)``;
    ``absolute[policy]`` the mean team return of the absolute-metric re-evaluation.
    """

    run_key: str
    meta: dict[str, Any]
    wall_time_s: float
    curves: dict[str, tuple[np.ndarray, np.ndarray]]
    absolute: dict[str, float]


def summarise(doc: dict[str, Any]) -> RunSummary:
    """The summary of a validated submission (returns as lists or decoded arrays),
    computed as the store computes its summary columns."""
    curves = {
        policy: (
            np.array([p["step"] for p in points], dtype=np.int64),
            np.array([_mean(p["returns"]) for p in points]),
        )
        for policy, points in doc["evaluations"].items()
    }
    return RunSummary(
        run_key=doc["run_key"],
        meta=run_meta(doc),
        wall_time_s=float(doc["wall_time_s"]),
        curves=curves,
        absolute={p: _mean(v) for p, v in doc["absolute"].items()},
    )


def _mean(values: Any) -> float:
    """The ``mean`` summary column of a return array (list or numpy array)."""
    return arrays.summary(np.asarray(values, dtype=np.float64))[1]


class Reader:
    """Read queries of ``Store`` (a mixin: ``Store`` provides the connection and
    ``_error``, which turns a ``sqlite3.Error`` into a one-line ``StoreError``)."""

    path: Path
    _conn: sqlite3.Connection

    def _rows(self, action: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise self._error(action, exc) from None

    def evaluations(self, run_key: str) -> dict[str, list[dict[str, Any]]]:
        """The stored evaluation points of a run, ``{policy: [{"step", "returns"}, ...]}``."""
        rows = self._rows(
            "reading evaluations",
            "SELECT policy, step, dtype, returns FROM evals WHERE run_key = ? "
            "ORDER BY policy, step",
            (run_key,),
        )
        out: dict[str, list[dict[str, Any]]] = {}
        for policy, step, dtype, data in rows:
            values = arrays.decode(dtype, data).tolist()
            out.setdefault(policy, []).append({"step": step, "returns": values})
        return out

    def unfinished(self) -> list[str]:
        """Run keys begun but not finished (what a resumed sweep will redo)."""
        rows = self._rows(
            "reading runs", "SELECT run_key FROM runs WHERE finished = 0 ORDER BY run_key"
        )
        return [r[0] for r in rows]

    def verifications(self) -> dict[str, dict[str, Any]]:
        """Recorded re-run verdicts by run key: ``{"matches", "detail", "verified_at"}``."""
        rows = self._rows(
            "reading verifications",
            "SELECT run_key, matches, detail, verified_at FROM verifications ORDER BY run_key",
        )
        return {
            key: {"matches": bool(m), "detail": detail, "verified_at": at}
            for key, m, detail, at in rows
        }

    def run_keys(self) -> list[str]:
        """The keys of every finished run, sorted."""
        rows = self._rows(
            "reading runs", "SELECT run_key FROM runs WHERE finished = 1 ORDER BY run_key"
        )
        return [r[0] for r in rows]

    def metas(self) -> dict[str, dict[str, Any]]:
        """Each finished run's metadata by run key: the submission without its returns
        (task, algorithm, policies, seed, protocol, versions, git_commit, hardware,
        started_at, provenance and notes when present) plus ``wall_time_s``."""
        rows = self._rows(
            "reading runs",
            "SELECT run_key, meta, wall_time_s FROM runs WHERE finished = 1 ORDER BY run_key",
        )
        return {key: {**json.loads(meta), "wall_time_s": wall} for key, meta, wall in rows}

    def metas_of(self, run_keys: Collection[str]) -> dict[str, dict[str, Any]]:
        """:meth:`metas` of the given finished runs; an unknown key is a ``StoreError``."""
        out = {}
        for key in sorted(set(run_keys)):
            row = self._rows(
                "reading runs",
                "SELECT meta, wall_time_s FROM runs WHERE finished = 1 AND run_key = ?",
                (key,),
            )
            if not row:
                raise StoreError(f"{self.path}: no finished run {key!r:.120}")
            out[key] = {**json.loads(row[0][0]), "wall_time_s": row[0][1]}
        return out

    def run_summaries(self) -> list[RunSummary]:
        """Every finished run's :class:`RunSummary`, ordered by run key, from the summary
        columns only (no episode array is decoded)."""
        metas = self.metas()
        curves: dict[str, dict[str, tuple[list[int], list[float]]]] = {k: {} for k in metas}
        rows = self._rows(
            "reading evaluations",
            "SELECT e.run_key, e.policy, e.step, e.mean FROM evals AS e "
            "JOIN runs AS r ON r.run_key = e.run_key WHERE r.finished = 1",
        )
        for key, policy, step, mean in rows:
            steps, means = curves[key].setdefault(policy, ([], []))
            steps.append(step)
            means.append(mean)
        absolute: dict[str, dict[str, float]] = {k: {} for k in metas}
        for key, policy, mean in self._rows(
            "reading evaluations",
            "SELECT a.run_key, a.policy, a.mean FROM absolute AS a "
            "JOIN runs AS r ON r.run_key = a.run_key WHERE r.finished = 1",
        ):
            absolute[key][policy] = mean
        out = []
        for key, meta in metas.items():
            wall = meta.pop("wall_time_s")
            run_curves = {}
            for policy, (steps, means) in curves[key].items():
                order = np.argsort(steps)
                run_curves[policy] = (
                    np.asarray(steps, dtype=np.int64)[order],
                    np.asarray(means, dtype=np.float64)[order],
                )
            out.append(RunSummary(key, meta, wall, run_curves, absolute[key]))
        return out

    def submissions(
        self, run_keys: Collection[str] | None = None, schema_version: int = 1
    ) -> list[dict[str, Any]]:
        """Finished runs' submissions (all, or those of ``run_keys``), ordered by run key,
        with returns as lists (``schema_version=1``) or compact blobs (``2``)."""
        metas = self.metas() if run_keys is None else self.metas_of(run_keys)
        keys = sorted(metas)
        return [encode_submission(self.decoded(k, metas[k]), schema_version) for k in keys]

    def decoded(self, key: str, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """One finished run's submission with every return array as float64 numpy array
        (``meta``: its entry of :meth:`metas`, when already read)."""
        if meta is None:
            meta = self.metas_of([key])[key]
        evaluations: dict[str, list[dict[str, Any]]] = {}
        for policy, step, dtype, data in self._rows(
            "reading evaluations",
            "SELECT policy, step, dtype, returns FROM evals WHERE run_key = ? "
            "ORDER BY policy, step",
            (key,),
        ):
            values = arrays.decode(dtype, data)
            evaluations.setdefault(policy, []).append({"step": step, "returns": values})
        absolute = {
            policy: arrays.decode(dtype, data)
            for policy, dtype, data in self._rows(
                "reading evaluations",
                "SELECT policy, dtype, returns FROM absolute WHERE run_key = ? ORDER BY policy",
                (key,),
            )
        }
        meta = dict(meta)
        wall = meta.pop("wall_time_s")
        doc = {
            **meta,
            "run_key": key,
            "evaluations": evaluations,
            "absolute": absolute,
            "wall_time_s": wall,
        }
        for steps_taken, logs in self._rows(
            "reading training logs",
            "SELECT steps_taken, logs FROM training WHERE run_key = ?",
            (key,),
        ):
            if steps_taken is not None:
                doc["steps_taken"] = steps_taken
            if logs is not None:
                doc["logs"] = json.loads(logs)
        return doc
