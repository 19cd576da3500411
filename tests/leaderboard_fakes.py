"""Fake submissions for the leaderboard tests (no algorithm is imported or run).

Returns are built so that the *normalised* mean of every evaluation point is exactly the
level asked for: returns = R_random + level * (R_heuristic - R_random) + zero-mean offsets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coopbench.envs import reference_returns

OFFSETS = (-1.5, 1.5, -0.5, 0.5)  # zero mean: the mean return is exactly the target


def fake_meta(
    task: str = "spread",
    seed: int = 0,
    name: str = "algo",
    policies: dict[str, dict[str, Any]] | None = None,
    tier: str = "quick",
    budget: int = 100,
    eval_interval: int = 20,
    eval_episodes: int = 4,
    absolute_episodes: int = 8,
    continuous: bool = False,
    notes: str | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "coopbench_version": "0.1.0",
        "task": {"id": task, "version": 1, "kwargs": {"continuous_actions": continuous}},
        "algorithm": {
            "name": name,
            "path": f"tests.fake:{name}",
            "config": {"lr": 0.001, "hidden": [64, 64], "note": name},
            "config_hash": "0123456789abcdef",
        },
        "policies": policies
        or {"default": {"label": name, "centralised": False, "privileged": False}},
        "seed": seed,
        "protocol": {
            "tier": tier,
            "budget": budget,
            "eval_interval": eval_interval,
            "eval_episodes": eval_episodes,
            "eval_seed": 1234,
            "absolute_episodes": absolute_episodes,
        },
        "versions": {"python": "3.11", "numpy": "2.0"},
        "git_commit": None,
        "hardware": {"cpu": "test", "cores": 2},
        "started_at": "2026-01-01T00:00:00+00:00",
    }
    if notes is not None:
        meta["notes"] = notes
    return meta


def level_returns(task: str, level: float, n: int, continuous: bool = False) -> list[float]:
    """``n`` team returns whose normalised mean is ``level`` (``n`` a multiple of 4)."""
    ref = reference_returns(task, continuous_actions=continuous)
    centre = ref["random"] + level * (ref["heuristic"] - ref["random"])
    return [centre + OFFSETS[i % 4] for i in range(n)]


def fake_submission(
    run_key: str = "run-0",
    curve: Callable[[int], float] = lambda step: step / 100,
    absolute_level: float = 1.0,
    wall_time_s: float = 12.5,
    **meta_kw: Any,
) -> dict[str, Any]:
    """A valid submission whose normalised curve is ``curve(step)`` for every policy."""
    meta = fake_meta(**meta_kw)
    proto, task = meta["protocol"], meta["task"]["id"]
    cont = meta["task"]["kwargs"]["continuous_actions"]
    steps = range(0, proto["budget"] + 1, proto["eval_interval"])
    return {
        **meta,
        "schema_version": 1,
        "run_key": run_key,
        "evaluations": {
            p: [
                {"step": s, "returns": level_returns(task, curve(s), proto["eval_episodes"], cont)}
                for s in steps
            ]
            for p in meta["policies"]
        },
        "absolute": {
            p: level_returns(task, absolute_level, proto["absolute_episodes"], cont)
            for p in meta["policies"]
        },
        "wall_time_s": wall_time_s,
    }
