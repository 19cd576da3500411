"""Re-run a recorded submission from what it records, for ``coopbench leaderboard verify``.

A submission records everything that defines its run: the task id and keyword arguments,
the algorithm's path and full resolved config, the seed, the protocol (budget, evaluation
schedule, evaluation seed, absolute-metric episodes) and, in ``provenance.threads``, the
thread count it ran under. ``rerun`` repeats the run from exactly that and returns the new
submission, so the two can be compared number for number.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from coopbench.algorithms.registry import BUILTIN
from coopbench.harness.protocol import TierProtocol
from coopbench.harness.run import run_experiment

__all__ = ["recorded_protocol", "recorded_threads", "rerun"]


def recorded_protocol(doc: dict[str, Any]) -> TierProtocol:
    """The ``TierProtocol`` a submission records (``ValueError`` when it cannot be one)."""
    p = doc["protocol"]
    factor, rest = divmod(p["absolute_episodes"], p["eval_episodes"])
    if rest:
        raise ValueError(
            f"absolute_episodes={p['absolute_episodes']} is not a multiple of "
            f"eval_episodes={p['eval_episodes']}; expected a protocol coopbench writes"
        )
    return TierProtocol(
        p["tier"], p["budget"], p["eval_interval"], p["eval_episodes"], p["eval_seed"], factor
    )


def recorded_threads(doc: dict[str, Any]) -> int | None:
    """The thread count a submission ran under (None: not recorded, an older file)."""
    threads = (doc.get("provenance") or {}).get("threads") or {}
    value = threads.get("requested", threads.get("torch_intra_op"))
    return value if isinstance(value, int) and value >= 1 else None


def _algorithm(doc: dict[str, Any]) -> str:
    """The registered name of a built-in (its metadata then reads the same), else the path."""
    name, path = doc["algorithm"]["name"], doc["algorithm"]["path"]
    return name if BUILTIN.get(name) == path else path


def rerun(doc: dict[str, Any], threads: int | None = None, device: str = "cpu") -> dict[str, Any]:
    """Repeat the run ``doc`` records (see the module docstring) under ``threads`` (None: the
    recorded count, else 1) and return its new submission. Raises what ``run_experiment``
    raises (``ValueError`` for a run this install cannot make, e.g. an unknown algorithm)."""
    from coopbench.results.store import Store

    task = doc["task"]
    n = threads or recorded_threads(doc) or 1
    with tempfile.TemporaryDirectory(prefix="coopbench-rerun-") as tmp:
        store = Store(Path(tmp) / "rerun.db")
        try:
            result = run_experiment(
                task["id"],
                _algorithm(doc),
                doc["seed"],
                recorded_protocol(doc),
                overrides=dict(doc["algorithm"]["config"]),
                task_kwargs=dict(task["kwargs"]),
                sink=store,
                device=device,
                threads=n,
            )
        finally:
            store.close()
    return result.submission
