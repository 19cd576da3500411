"""A complete coopbench algorithm in one file: a per-agent bandit over the five actions.

Each agent keeps the mean team reward of each of its actions, acts ε-greedily while
training and, when evaluated, always takes its best action. Run it from this folder (the
current directory is searched for the module; elsewhere set PYTHONPATH to this folder):

    coopbench train --task spread --algo minimal_algorithm:BanditAlgorithm
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from coopbench.algorithms.base import Algorithm, Hooks, Policy, TrainingEnv
from coopbench.envs import TaskSpec


@dataclass
class BanditConfig:
    """Every hyper-parameter, settable with ``--set key=value``."""

    num_envs: int = 16  # worlds the harness steps together (every config needs it)
    epsilon: float = 0.2  # probability of a random action while training


class BestActionPolicy:
    """Agent i always takes action ``actions[i]``; reads no global state."""

    centralised = False

    def __init__(self, actions: np.ndarray) -> None:
        self.actions = actions

    def __call__(self, obs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        return np.broadcast_to(self.actions, obs.shape[:2]).copy()


class BanditAlgorithm(Algorithm):
    """Per-agent action values from the team reward; discrete actions only."""

    name: ClassVar[str] = "bandit"
    display_name: ClassVar[str] = "Bandit"
    Config = BanditConfig
    supports_continuous: ClassVar[bool] = False

    def __init__(self, spec: TaskSpec, config: BanditConfig, seed: int, device: str = "cpu"):
        super().__init__(spec, config, seed, device)
        if not 0.0 <= config.epsilon <= 1.0:
            raise ValueError(f"epsilon={config.epsilon!r} is invalid; expected a value in [0, 1]")
        self.sums = np.zeros((spec.n_agents, spec.n_actions))
        self.counts = np.zeros((spec.n_agents, spec.n_actions))

    @classmethod
    def preset(cls, task_id: str, tier: str) -> dict[str, Any]:
        """More exploration for the short quick tier (the same for every task)."""
        return {"epsilon": 0.3} if tier == "quick" else {}

    def best_actions(self) -> np.ndarray:
        return (self.sums / np.maximum(self.counts, 1)).argmax(axis=1)

    def learn(self, env: TrainingEnv, hooks: Hooks) -> None:
        rng = np.random.default_rng(self.seed)
        b, n, k = env.num_envs, self.spec.n_agents, self.spec.n_actions
        env.reset(seed=self.seed)
        while not env.exhausted:  # one more step would raise BudgetExhausted
            explore = rng.random((b, n)) < self.config.epsilon
            actions = np.where(explore, rng.integers(0, k, (b, n)), self.best_actions())
            _, rewards, terminated, truncated, _ = env.step(actions)
            team = rewards.sum(axis=1)
            for i in range(n):
                np.add.at(self.sums[i], actions[:, i], team)
                np.add.at(self.counts[i], actions[:, i], 1)
            if terminated.any() or truncated.any():  # no auto-reset: all worlds end together
                env.reset()
                hooks.log(mean_team_reward=float(team.mean()))

    def policies(self) -> dict[str, Policy]:
        return {"default": BestActionPolicy(self.best_actions())}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(
            json.dumps({"sums": self.sums.tolist(), "counts": self.counts.tolist()})
        )

    def load(self, path: str | Path) -> None:
        data = json.loads(Path(path).read_text())
        self.sums, self.counts = np.array(data["sums"]), np.array(data["counts"])
