"""The contract every algorithm implements — ours and a user's alike.

An algorithm is built from the task's ``TaskSpec``, its config dataclass, a seed
and a torch device string. ``learn(env, hooks)`` owns its training loop on the
batched env the harness hands it: that env counts joint env steps over all
worlds, stops the algorithm at the budget (``env.exhausted`` turns True; one more
``step`` raises ``BudgetExhausted``) and evaluates the algorithm's policies at
fixed step intervals whatever the algorithm does. ``policies()`` returns the
named policies to evaluate; ``save``/``load`` write and read checkpoints without
arbitrary pickle (see ``coopbench.algorithms.checkpoint``).

Minimal example (a user's module needs nothing else from coopbench)::

    @dataclass
    class MyConfig:
        num_envs: int = 16  # worlds stepped together during training

    class MyAlgo(Algorithm):
        name = "my-algo"
        Config = MyConfig
        def learn(self, env, hooks):
            env.reset(seed=self.seed)
            while not env.exhausted:
                ... env.step(actions) ...
        def policies(self):
            return {"default": MyPolicy(...)}
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from coopbench.envs import TaskSpec


class BudgetExhausted(RuntimeError):
    """Raised by the harness's env when ``step`` is called after the budget is spent."""


@runtime_checkable
class Policy(Protocol):
    """Maps local observations ``[B, N, obs_dim]`` to actions ``[B, N]`` / ``[B, N, 5]``.

    Evaluation uses the deterministic (mode) action. A decentralised policy
    computes agent i's action from agent i's observation (and, for
    communicating policies, the messages the agents exchange); it never reads
    the global state. A policy with ``centralised = True`` is also given
    ``state [B, state_dim]`` and is reported as a separate, flagged entry.
    An optional attribute ``privileged = True`` marks scripted references that
    read the global state (the task heuristic).
    """

    centralised: bool

    def __call__(self, obs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray: ...


class TrainingEnv(Protocol):
    """What ``learn`` receives: a ``BatchedEnv`` with a budget (see ``harness.budget``)."""

    task: TaskSpec
    num_envs: int

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]: ...
    def step(self, actions: Any) -> tuple[np.ndarray, ...]: ...
    def state(self) -> np.ndarray: ...
    @property
    def budget(self) -> int: ...
    @property
    def steps_taken(self) -> int: ...
    @property
    def remaining(self) -> int: ...
    @property
    def exhausted(self) -> bool: ...


class Hooks(Protocol):
    """Callbacks the harness passes to ``learn``."""

    def log(self, **metrics: float) -> None:
        """Record training diagnostics (losses, entropy...) at the current env step; kept
        with the run (thinned: ``coopbench.results.diagnostics``) and mirrored to
        TensorBoard/wandb when asked. Names: letters, digits and ``_./:-``."""


@dataclass
class EmptyConfig:
    """Config of an algorithm without hyper-parameters."""

    num_envs: int = 100  # worlds stepped together during training


class Algorithm(ABC):
    """Base class: store the constructor arguments; subclasses build their networks."""

    name: ClassVar[str] = ""
    display_name: ClassVar[str] = ""  # leaderboard label; defaults to the name
    Config: ClassVar[type] = EmptyConfig
    supports_continuous: ClassVar[bool] = True
    supports_discrete: ClassVar[bool] = True

    def __init__(self, spec: TaskSpec, config: Any, seed: int, device: str = "cpu") -> None:
        if spec.continuous_actions and not self.supports_continuous:
            raise ValueError(f"{self.name}: continuous actions are not supported")
        if not spec.continuous_actions and not self.supports_discrete:
            raise ValueError(f"{self.name}: discrete actions are not supported")
        self.spec = spec
        self.config = config
        self.seed = seed
        self.device = device

    @classmethod
    def label(cls, config: Any) -> str:
        """Leaderboard name of a single-policy run with this config (e.g. ``MADDPG-3``)."""
        return cls.display_name or cls.name

    @classmethod
    def policy_labels(cls, config: Any) -> dict[str, str]:
        """Leaderboard names of the policies ``policies()`` returns, by policy name.

        Names left out read ``label(config)`` for ``"default"`` and
        ``f"{label(config)}-{name}"`` otherwise (CTEDD maps ``"global"`` to ``CTEDD-G``).
        """
        return {}

    @classmethod
    def preset(cls, task_id: str, tier: str) -> dict[str, Any]:
        """Config overrides tuned for a task and protocol tier (``quick``/``standard``)."""
        return {}

    @abstractmethod
    def learn(self, env: TrainingEnv, hooks: Hooks) -> None:
        """Train until ``env.exhausted`` (returning earlier freezes the policies)."""

    @abstractmethod
    def policies(self) -> dict[str, Policy]:
        """Named policies to evaluate; one entry named ``"default"`` for most algorithms."""

    def save(self, path: str | Path) -> None:
        """Write a checkpoint (no arbitrary pickle); stateless algorithms write nothing."""
        Path(path).write_text("{}")

    def load(self, path: str | Path) -> None:
        """Restore a checkpoint written by ``save``; stateless algorithms read nothing."""
        return None
