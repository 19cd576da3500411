"""Stable-Baselines3 PPO with parameter sharing (agents as envs), scored by coopbench.

SB3 trains on ``SB3VecEnv``, an SB3 ``VecEnv`` over the budgeted env the harness hands
``learn``: every SB3 step is one harness step of ``num_envs`` worlds, so the budget and the
evaluation schedule apply exactly as for any coopbench algorithm. The SB3 model is built
when the algorithm is (``policies()`` must exist before training) on a stand-in env with
the same spaces that is never stepped, then ``set_env`` points it at the harness's env.
Run it from this folder (needs ``pip install 'coopbench[sb3]'``):

    PYTHONPATH=. coopbench train --task spread --algo sb3_ppo:SB3PPO --budget 20000
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from stable_baselines3 import PPO

from coopbench.algorithms.base import Algorithm, Hooks, Policy, TrainingEnv
from coopbench.algorithms.checkpoint import load_checkpoint, save_checkpoint
from coopbench.envs import TaskSpec, make_batched
from coopbench.integrations.sb3 import SB3Policy, SB3VecEnv


@dataclass
class SB3PPOConfig:
    """SB3 PPO arguments, settable with ``--set key=value``."""

    num_envs: int = 8  # worlds; SB3 sees num_envs * n_agents envs
    n_steps: int = 25  # steps per world per rollout
    batch_size: int = 150
    n_epochs: int = 4
    learning_rate: float = 3e-4
    gamma: float = 0.99
    ent_coef: float = 0.01


class SB3PPO(Algorithm):
    """SB3's PPO, one policy shared by all agents."""

    name: ClassVar[str] = "sb3-ppo"
    display_name: ClassVar[str] = "SB3-PPO"
    Config = SB3PPOConfig

    def __init__(self, spec: TaskSpec, config: SB3PPOConfig, seed: int, device: str = "cpu"):
        super().__init__(spec, config, seed, device)
        stand_in = make_batched(spec.task_id, config.num_envs, **spec.kwargs)  # never stepped
        self.model = PPO(
            "MlpPolicy",
            SB3VecEnv(stand_in),
            n_steps=config.n_steps,
            batch_size=config.batch_size,
            n_epochs=config.n_epochs,
            learning_rate=config.learning_rate,
            gamma=config.gamma,
            ent_coef=config.ent_coef,
            seed=seed,
            device=device,
            verbose=0,
        )

    def learn(self, env: TrainingEnv, hooks: Hooks) -> None:
        vec_env = SB3VecEnv(env)
        vec_env.seed(self.seed)
        self.model.set_env(vec_env)
        rollout = env.num_envs * self.config.n_steps  # env steps of one SB3 rollout
        rollouts = env.remaining // rollout  # whole rollouts only: none is cut by the budget
        self.model.learn(total_timesteps=rollouts * self.config.n_steps * vec_env.num_envs)
        hooks.log(sb3_timesteps=self.model.num_timesteps)

    def policies(self) -> dict[str, Policy]:
        return {"default": SB3Policy(self.model)}

    def save(self, path: str | Path) -> None:
        save_checkpoint(path, {"policy": self.model.policy}, {})

    def load(self, path: str | Path) -> None:
        load_checkpoint(path, {"policy": self.model.policy})
