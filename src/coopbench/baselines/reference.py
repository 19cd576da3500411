"""The two reference entries every score is normalised by: uniform random and the heuristic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from coopbench.algorithms.base import Algorithm, Hooks, Policy, TrainingEnv
from coopbench.envs import heuristic_policy


@dataclass
class ReferenceConfig:
    """No hyper-parameters: these entries do not learn."""

    num_envs: int = 100  # worlds per batch (unused: the entries take no training steps)


class UniformRandomPolicy:
    """Uniformly random actions (discrete choices or the continuous box)."""

    centralised = False

    def __init__(self, n_actions: int, continuous: bool, seed: int) -> None:
        self.n_actions, self.continuous = n_actions, continuous
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        b, n = obs.shape[:2]
        if self.continuous:
            return self.rng.uniform(0.0, 1.0, (b, n, self.n_actions)).astype(np.float32)
        return self.rng.integers(0, self.n_actions, (b, n))


class ScriptedPolicy:
    """The task heuristic, reading the global state (privileged)."""

    centralised = True
    privileged = True  # leaderboard flag "privileged (uses global state)"

    def __init__(self, task_id: str, kwargs: dict[str, Any]) -> None:
        self._policy = heuristic_policy(task_id, **kwargs)

    def __call__(self, obs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        if state is None:
            raise ValueError("the heuristic policy needs the global state")
        return self._policy(state)


class RandomPolicyAlgorithm(Algorithm):
    """Uniform random play: the 0 of the normalised score. Takes no training steps."""

    name: ClassVar[str] = "random"
    display_name: ClassVar[str] = "Random"
    Config = ReferenceConfig

    def learn(self, env: TrainingEnv, hooks: Hooks) -> None:
        return None

    def policies(self) -> dict[str, Policy]:
        return {
            "default": UniformRandomPolicy(
                self.spec.n_actions, self.spec.continuous_actions, self.seed
            )
        }


class HeuristicAlgorithm(Algorithm):
    """The task's scripted policy on the global state: the 1 of the normalised score.

    Flagged "privileged (uses global state)" on the leaderboard.
    """

    name: ClassVar[str] = "heuristic"
    display_name: ClassVar[str] = "Heuristic"
    Config = ReferenceConfig

    def learn(self, env: TrainingEnv, hooks: Hooks) -> None:
        return None

    def policies(self) -> dict[str, Policy]:
        return {"default": ScriptedPolicy(self.spec.task_id, self.spec.kwargs)}
