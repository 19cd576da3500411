"""Stored reference team returns: the 0 (uniform random) and 1 (heuristic) of every score,
and the no-op policy's return for comparison (docs/tasks.md §5).

Measured per task version on fixed evaluation seeds over ``REFERENCE_EPISODES`` episodes,
for discrete and continuous actions, with the task's default configuration, every policy
on the same worlds. ``python -m coopbench.envs.reference [policy ...]`` re-measures the
named policies (default: all) and rewrites their entries in ``reference_returns.json``
(needed only when a task version changes; the entries of the version it replaces are kept
under ``"previous"``, so ``reference_returns(task, version=old)`` still answers).
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from typing import Any

import numpy as np

from coopbench.envs.batched import BatchedEnv
from coopbench.envs.episodes import Act, noop_actions, random_actions, rollout
from coopbench.envs.heuristics import heuristic_policy
from coopbench.envs.registry import TASKS, make_batched, make_task

REFERENCE_EPISODES = 2000
REFERENCE_SEED = 20240101  # evaluation worlds
RANDOM_POLICY_SEED = 7  # the uniform-random policy's own generator
REFERENCE_POLICIES = ("random", "noop", "heuristic")
_FILE = "reference_returns.json"
# Keywords that do not change returns; any other non-default keyword has no reference.
_NEUTRAL = {"continuous_actions", "obs_mode"}


def _reference_act(task_id: str, policy: str, version: int | None = None, **kwargs: Any) -> Act:
    """The ``act`` of a reference policy (``"random"``, ``"noop"`` or ``"heuristic"``;
    ``version`` picks an earlier task version's heuristic)."""
    if policy == "heuristic":
        scripted = heuristic_policy(task_id, version=version, **kwargs)
        return lambda obs, env: scripted(env.state())
    if policy == "random":
        rng = np.random.default_rng(RANDOM_POLICY_SEED)
        return lambda obs, env: random_actions(env.task, rng, env.num_envs)
    if policy == "noop":
        return lambda obs, env: noop_actions(env.task, env.num_envs)
    raise ValueError(f"unknown reference policy {policy!r}; expected one of {REFERENCE_POLICIES}")


def policy_returns(
    task_id: str,
    policy: str,
    episodes: int,
    seed: int = REFERENCE_SEED,
    version: int | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """Team returns ``[episodes]`` of a reference policy's play, one batch of worlds
    (``version``: the heuristic of an earlier task version)."""
    act = _reference_act(task_id, policy, version, **kwargs)
    env: BatchedEnv = make_batched(task_id, episodes, **kwargs)
    return rollout(env, act, seed)


def _stored() -> dict[str, Any]:
    return json.loads(resources.files("coopbench.envs").joinpath(_FILE).read_text())


def reference_returns(task_id: str, version: int | None = None, **kwargs: Any) -> dict[str, float]:
    """``{"random": R, "noop": R, "heuristic": R}`` team returns of the task's current
    version, or of an earlier stored ``version`` (scores are normalised with random and
    heuristic)."""
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
    if version is not None and version != task.version:
        previous = entry.get("previous", {})
        if str(version) not in previous:
            kept = sorted([int(v) for v in previous] + [task.version])
            raise ValueError(
                f"{task_id}: no reference returns stored for version {version!r}; "
                f"expected one of {kept}"
            )
        entry = previous[str(version)]
    mode = "continuous" if task.continuous_actions else "discrete"
    return {k: float(entry[mode][k]["mean"]) for k in REFERENCE_POLICIES}


def scoring_references(task_id: str, version: int, **kwargs: Any) -> dict[str, float]:
    """The references a run recorded under task ``version`` is scored against: the current
    version's, for the current version and the earlier ones with the same dynamics
    (``Task.same_dynamics_as``: their raw returns mean the same); ValueError otherwise."""
    task = make_task(task_id, **kwargs)
    if version != task.version and version not in task.same_dynamics_as:
        scored = sorted({task.version, *task.same_dynamics_as})
        raise ValueError(
            f"task {task_id} version {version} but references are for the current version "
            f"{task.version}, which scores runs of versions {scored}"
        )
    return reference_returns(task_id, **kwargs)


def measure(
    policies: tuple[str, ...] = REFERENCE_POLICIES,
    episodes: int = REFERENCE_EPISODES,
    stored: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Measure ``policies`` on every task (mean, std, standard error) for both action kinds,
    keeping the other entries of ``stored``."""
    out: dict[str, Any] = json.loads(json.dumps(stored or {}))  # a deep copy
    out["_about"] = (
        f"Team returns (sum over agents and steps) over {episodes} episodes, "
        f"evaluation seed {REFERENCE_SEED}; written by python -m coopbench.envs.reference"
    )
    for task_id in TASKS:
        entry = out.setdefault(task_id, {})
        version = make_task(task_id).version
        if entry.get("version", version) != version:  # a bump: keep the old version's entry
            previous = entry.pop("previous", {})
            previous[str(entry.pop("version"))] = entry
            entry = out[task_id] = {"version": version, "previous": previous}
        entry["version"] = version
        for mode in ("discrete", "continuous"):
            results = entry.setdefault(mode, {})
            for policy in policies:
                r = policy_returns(
                    task_id, policy, episodes, continuous_actions=mode == "continuous"
                )
                results[policy] = {
                    "mean": round(float(r.mean()), 4),
                    "std": round(float(r.std(ddof=1)), 4),
                    "sem": round(float(r.std(ddof=1) / np.sqrt(episodes)), 4),
                    "episodes": episodes,
                }
            entry[mode] = {p: results[p] for p in REFERENCE_POLICIES if p in results}
            if len(entry[mode]) < len(REFERENCE_POLICIES):
                raise ValueError(
                    f"{task_id} version {version} has no stored {mode} returns of "
                    f"{sorted(set(REFERENCE_POLICIES) - set(entry[mode]))}; measure them too"
                )
        if "previous" in entry:
            entry["previous"] = entry.pop("previous")  # listed after the current version
    return out


if __name__ == "__main__":
    chosen = tuple(sys.argv[1:]) or REFERENCE_POLICIES
    bad = [p for p in chosen if p not in REFERENCE_POLICIES]
    if bad:
        sys.exit(f"unknown reference policy {bad}; expected some of {list(REFERENCE_POLICIES)}")
    path = resources.files("coopbench.envs").joinpath(_FILE)
    data = measure(chosen, stored=_stored())
    with open(str(path), "w") as fh:
        json.dump(data, fh, indent=1)
        fh.write("\n")
    print(json.dumps(data, indent=1))
