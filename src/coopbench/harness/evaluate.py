"""Evaluate a policy: team returns of whole episodes on separate, seeded evaluation worlds.

The score of an episode is the team return, the sum of every agent's reward over every
step (DESIGN.md, "Scoring"). All ``episodes`` episodes run as one batch of worlds built
from the task spec with a fixed seed, so every algorithm meets the same episodes.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from typing import Any

import numpy as np

from coopbench.algorithms.base import Policy
from coopbench.envs import TaskSpec, make_batched


class EvaluationError(RuntimeError):
    """A policy produced invalid actions (wrong shape, non-finite, out of range) or raised."""


def reads_state(policy: Any) -> bool:
    """Whether the policy is given the global state (centralised or privileged)."""
    return bool(getattr(policy, "centralised", False) or getattr(policy, "privileged", False))


def checked_actions(actions: Any, spec: TaskSpec, batch: int, name: str) -> np.ndarray:
    """``actions`` as an array of the task's action shape; ``EvaluationError`` otherwise."""
    try:
        arr = np.asarray(actions.detach().cpu() if hasattr(actions, "detach") else actions)
    except Exception as exc:
        raise EvaluationError(f"policy {name!r} returned {type(actions).__name__}: {exc}") from None
    shape = (
        (batch, spec.n_agents, spec.n_actions)
        if spec.continuous_actions
        else (batch, spec.n_agents)
    )
    if arr.shape != shape:
        raise EvaluationError(
            f"policy {name!r} returned actions of shape {arr.shape} on {spec.task_id}; "
            f"expected {shape}"
        )
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise EvaluationError(f"policy {name!r} returned actions of dtype {arr.dtype}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise EvaluationError(
            f"policy {name!r} returned {int(bad.sum())} non-finite action value(s) (e.g. "
            f"{arr[bad].flat[0]}) on {spec.task_id}; expected finite actions"
        )
    if not spec.continuous_actions and np.issubdtype(arr.dtype, np.floating):
        if (arr != np.round(arr)).any():
            raise EvaluationError(f"policy {name!r} returned fractional discrete actions")
        arr = arr.astype(np.int64)
    return arr


def evaluate_policy(
    policy: Policy, spec: TaskSpec, episodes: int, seed: int, name: str = "policy"
) -> np.ndarray:
    """Team returns ``[episodes]`` (float64) of ``policy`` on ``episodes`` seeded worlds.

    The policy is called as ``policy(obs)``, or ``policy(obs, state)`` when it is
    centralised or privileged. Invalid actions raise ``EvaluationError`` naming the policy.
    """
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ValueError(f"episodes={episodes!r} is invalid; expected a positive integer")
    grad_off = sys.modules["torch"].no_grad() if "torch" in sys.modules else nullcontext()
    with grad_off:
        return _episodes(policy, spec, int(episodes), seed, name)


def _episodes(policy: Policy, spec: TaskSpec, episodes: int, seed: int, name: str) -> np.ndarray:
    env = make_batched(spec.task_id, episodes, **spec.kwargs)
    obs, _ = env.reset(seed=seed)
    with_state = reads_state(policy)
    total = np.zeros(episodes)
    for _ in range(spec.max_cycles):
        try:
            raw = policy(obs, env.state()) if with_state else policy(obs)
        except Exception as exc:
            raise EvaluationError(f"policy {name!r} raised {type(exc).__name__}: {exc}") from exc
        actions = checked_actions(raw, spec, episodes, name)
        try:
            obs, rewards, _, _, _ = env.step(actions)
        except ValueError as exc:
            raise EvaluationError(f"policy {name!r}: {exc}") from None
        total += rewards.sum(axis=1, dtype=np.float64)
    return total
