"""Stored reference team returns: the 0 (uniform random) and 1 (heuristic) of every score.

ENVS.md §4: measured per task version on fixed evaluation seeds over
``REFERENCE_EPISODES`` episodes, for discrete and continuous actions, with the
task's default configuration. ``python -m coopbench.envs.reference`` re-measures
and rewrites ``reference_returns.json`` (needed only when a task version changes).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import numpy as np

from coopbench.envs.heuristics import heuristic_policy
from coopbench.envs.registry import TASKS, make_batched, make_task

REFERENCE_EPISODES = 2000
REFERENCE_SEED = 20240101  # evaluation worlds
RANDOM_POLICY_SEED = 7  # the uniform-random policy's own generator
_FILE = "reference_returns.json"
# Keywords that do not change returns; any other non-default keyword has no reference.
_NEUTRAL = {"continuous_actions", "obs_mode"}


def policy_returns(
    task_id: str, policy: str, episodes: int, seed: int = REFERENCE_SEED, **kwargs: Any
) -> np.ndarray:
    """Team returns ``[episodes]`` of ``"random"`` or ``"heuristic"`` play, one batch of worlds."""
    env = make_batched(task_id, episodes, **kwargs)
    env.reset(seed=seed)
    spec = env.spec
    rng = np.random.default_rng(RANDOM_POLICY_SEED)
    scripted = heuristic_policy(task_id, **kwargs) if policy == "heuristic" else None
    if policy not in ("random", "heuristic"):
        raise ValueError(f"unknown reference policy {policy!r}; expected 'random' or 'heuristic'")
    total = np.zeros(episodes)
    for _ in range(spec.max_cycles):
        if scripted is not None:
            actions = scripted(env.state())
        elif spec.continuous_actions:
            actions = rng.uniform(0.0, 1.0, (episodes, spec.n_agents, spec.n_actions))
        else:
            actions = rng.integers(0, spec.n_actions, (episodes, spec.n_agents))
        _, rewards, _, _, _ = env.step(actions)
        total += rewards.sum(axis=1, dtype=np.float64)
    return total


def _stored() -> dict[str, Any]:
    return json.loads(resources.files("coopbench.envs").joinpath(_FILE).read_text())


def reference_returns(task_id: str, **kwargs: Any) -> dict[str, float]:
    """``{"random": R, "heuristic": R}`` team returns of the task's current version."""
    task = make_task(task_id, **kwargs)
    default = make_task(task_id, continuous_actions=task.continuous_actions)
    changed = {
        k for k, v in task.kwargs().items() if k not in _NEUTRAL and default.kwargs()[k] != v
    }
    if changed:
        raise ValueError(
            f"{task_id}: no reference returns for non-default {sorted(changed)}; they are "
            "stored for the default configuration only"
        )
    entry = _stored()[task_id]
    if entry["version"] != task.version:
        raise ValueError(
            f"{task_id}: stored reference returns are for version {entry['version']}, "
            f"the task is version {task.version}; re-run python -m coopbench.envs.reference"
        )
    mode = "continuous" if task.continuous_actions else "discrete"
    return {k: float(entry[mode][k]["mean"]) for k in ("random", "heuristic")}


def measure_all(episodes: int = REFERENCE_EPISODES) -> dict[str, Any]:
    """Measure every task's references (mean, std, standard error) for both action kinds."""
    out: dict[str, Any] = {
        "_about": (
            f"Team returns (sum over agents and steps) over {episodes} episodes, "
            f"evaluation seed {REFERENCE_SEED}; written by python -m coopbench.envs.reference"
        )
    }
    for task_id in TASKS:
        entry: dict[str, Any] = {"version": make_task(task_id).version}
        for mode in ("discrete", "continuous"):
            entry[mode] = {}
            for policy in ("random", "heuristic"):
                r = policy_returns(
                    task_id, policy, episodes, continuous_actions=mode == "continuous"
                )
                entry[mode][policy] = {
                    "mean": round(float(r.mean()), 4),
                    "std": round(float(r.std(ddof=1)), 4),
                    "sem": round(float(r.std(ddof=1) / np.sqrt(episodes)), 4),
                    "episodes": episodes,
                }
        out[task_id] = entry
    return out


if __name__ == "__main__":
    path = resources.files("coopbench.envs").joinpath(_FILE)
    data = measure_all()
    with open(str(path), "w") as fh:
        json.dump(data, fh, indent=1)
        fh.write("\n")
    print(json.dumps(data, indent=1))
