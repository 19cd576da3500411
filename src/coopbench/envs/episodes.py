"""Whole episodes: the one loop that plays a policy in every world of a ``BatchedEnv``.

The reference returns, the GIFs and the harness's evaluation all run through ``rollout``;
``policy_act`` turns a policy into its ``act``, carrying a recurrent policy's hidden state
(docs/contracts.md, "Recurrent policies").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from coopbench.envs.batched import BatchedEnv, TaskSpec
from coopbench.envs.registry import make_batched

# ``act(obs [B, N, obs_dim], env) -> actions [B, N(, 5)]``; ``env`` gives ``state()`` and ``t``.
Act = Callable[[np.ndarray, BatchedEnv], Any]


def rollout(
    env: BatchedEnv,
    act: Act,
    seed: int | None = None,
    on_step: Callable[[BatchedEnv], None] | None = None,
) -> np.ndarray:
    """Reset ``env`` (with ``seed``), play one whole episode in every world with ``act``;
    return the team returns ``[B]`` float64 (rewards summed over agents and steps).

    ``on_step(env)`` runs after the reset and after every step (e.g. to draw frames).
    """
    obs, _ = env.reset(seed=seed)
    if on_step is not None:
        on_step(env)
    total = np.zeros(env.num_envs)
    for _ in range(env.task.max_cycles):
        obs, rewards, _, _, _ = env.step(act(obs, env))
        total += rewards.sum(axis=1, dtype=np.float64)
        if on_step is not None:
            on_step(env)
    return total


def is_recurrent(policy: Any) -> bool:
    """Whether ``policy`` follows the recurrent protocol: it has ``initial_state(batch)``."""
    return callable(getattr(policy, "initial_state", None))


def policy_act(policy: Callable[..., Any], with_state: bool) -> Act:
    """``act(obs, env)`` that calls ``policy(obs)``, or ``policy(obs, env.state())`` when
    ``with_state``, and returns what it returns.

    A recurrent policy (``is_recurrent``) is also passed ``hidden=``: ``policy.initial_state(B)``
    at every episode start (``env.t == 0``: all worlds of a ``BatchedEnv`` start and end
    together), then the state its previous call returned; it returns ``(actions, hidden)``.
    """
    if not is_recurrent(policy):
        if with_state:
            return lambda obs, env: policy(obs, env.state())
        return lambda obs, env: policy(obs)
    hidden: Any = None

    def act(obs: np.ndarray, env: BatchedEnv) -> Any:
        nonlocal hidden
        if env.t == 0:
            hidden = policy.initial_state(env.num_envs)  # type: ignore[attr-defined]
        out = policy(obs, env.state(), hidden=hidden) if with_state else policy(obs, hidden=hidden)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(
                f"a recurrent policy must return (actions, hidden); got {type(out).__name__}"
            )
        actions, hidden = out
        return actions

    return act


def random_actions(task: TaskSpec, rng: np.random.Generator, batch: int) -> np.ndarray:
    """Uniformly random actions ``[batch, N(, 5)]`` drawn from ``rng``."""
    if task.continuous_actions:
        return rng.uniform(0.0, 1.0, (batch, task.n_agents, task.n_actions))
    return rng.integers(0, task.n_actions, (batch, task.n_agents))


def noop_actions(task: TaskSpec, batch: int) -> np.ndarray:
    """The no-op action for every agent ``[batch, N(, 5)]``: discrete action 0, or the zero
    vector (force ``(a2 - a1, a4 - a3) = 0``)."""
    if task.continuous_actions:
        return np.zeros((batch, task.n_agents, task.n_actions))
    return np.zeros((batch, task.n_agents), dtype=np.int64)


def save_gif(
    task_id: str,
    path: str | Path,
    policy: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    seed: int = 0,
    size: int = 300,
    fps: int = 10,
    **kwargs: Any,
) -> Path:
    """Write a GIF of one episode and return its path.

    ``policy(obs [1, N, obs_dim], state [1, state_dim]) -> actions [1, N(, 5)]`` (a recurrent
    policy also gets and returns its hidden state, see ``policy_act``); ``None`` plays
    uniformly random actions.
    """
    env = make_batched(task_id, 1, **kwargs)
    rng = np.random.default_rng(seed)
    act = (
        policy_act(policy, with_state=True)
        if policy is not None
        else lambda obs, env: random_actions(env.task, rng, 1)
    )

    frames: list[np.ndarray] = []
    rollout(env, act, seed, on_step=lambda env: frames.append(env.render(0, size)))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(out, save_all=True, append_images=images[1:], duration=1000 // fps, loop=0)
    return out
