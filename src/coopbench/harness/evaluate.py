"""Evaluate a policy: team returns of whole episodes on separate, seeded evaluation worlds.

The score of an episode is the team return, the sum of every agent's reward over every
step (docs/tasks.md §1). All ``episodes`` episodes run as one batch of worlds built
from the task spec with a fixed seed, so every algorithm meets the same episodes; the
episode loop is ``coopbench.envs.rollout``.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from typing import Any

import numpy as np

from coopbench.algorithms.base import Policy
from coopbench.envs import BatchedEnv, TaskSpec, make_batched, rollout
from coopbench.envs.episodes import policy_act
from coopbench.validation import check_int


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
    centralised or privileged; a recurrent policy (one with ``initial_state(batch)``) also
    gets ``hidden=``, reset to ``initial_state(episodes)`` at the episode start and carried
    from step to step, and returns ``(actions, hidden)`` (``envs.episodes.policy_act``).
    Invalid actions raise ``EvaluationError`` naming the policy.
    """
    episodes = check_int(episodes, "episodes")
    grad_off = sys.modules["torch"].no_grad() if "torch" in sys.modules else nullcontext()
    with grad_off:
        return _episodes(policy, spec, episodes, seed, name)


def _episodes(policy: Policy, spec: TaskSpec, episodes: int, seed: int, name: str) -> np.ndarray:
    env = make_batched(spec.task_id, episodes, **spec.kwargs)
    call = policy_act(policy, reads_state(policy))

    def act(obs: np.ndarray, env: BatchedEnv) -> np.ndarray:
        try:
            raw = call(obs, env)
        except Exception as exc:
            raise EvaluationError(f"policy {name!r} raised {type(exc).__name__}: {exc}") from exc
        return checked_actions(raw, spec, episodes, name)

    try:
        return rollout(env, act, seed)
    except ValueError as exc:  # the env rejected the actions
        raise EvaluationError(f"policy {name!r}: {exc}") from None
