"""Mutual Q-learning (Reid, thesis ch. 2) as a cooperative multi-agent baseline; DQN is m = 1.

Independent learners share parameters across agents (the agent-id one-hot is
appended to each observation). Each agent's Q-function is an ensemble of m
mutually learning estimators trained on the same replay samples with the TD loss
(eq. 2.1) plus ``C/(m-1) Σ_k D(Q_i, Q_k)`` (eq. 2.2-2.3), C constant or the mirrored
sigmoid ω of eq. 2.4 over env steps; actions are ε-greedy on Q_1 alone (§2.1).
Unlike ch. 2 (no target network on CartPole) we bootstrap from a target network
copied every ``target_every`` updates, as in ch. 3 (§3.2.1). Worlds advance
together without auto-reset: at the horizon all are truncated, the last
transition bootstraps and the env is reset.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from coopbench.algorithms.base import Algorithm, Hooks, Policy, TrainingEnv
from coopbench.algorithms.checkpoint import load_checkpoint, save_checkpoint
from coopbench.algorithms.mutual import BatchedMLP, mutual_q_loss, omega
from coopbench.algorithms.networks import adam, agent_one_hot, seed_everything
from coopbench.algorithms.replay import ReplayBuffer
from coopbench.algorithms.search_space import Param, categorical, integer, log_uniform, uniform


@dataclass
class MutualQConfig:
    """Every hyper-parameter; thesis (ch. 2, CartPole) defaults noted where they differ."""

    num_envs: int = 8  # worlds stepped together
    m: int = 2  # mutually learning estimators (thesis: 2, best 10; 1 = DQN)
    c: float = 1.0  # weight C of the mutual term (thesis: 1.0, eq. 2.2)
    omega_mu: float | None = None  # ω(i; μ, σ) centre in env steps (eq. 2.4); None = constant C
    omega_sigma: float = 250.0  # ω width in env steps (thesis: 250 of 5000 steps)
    detach_others: bool = True  # Q_k fixed inside D (closer to the thesis, docs/baselines)
    hidden: tuple[int, ...] = (128, 128)  # leaky-ReLU hidden sizes (thesis: (4, 8), CartPole)
    lr: float = 5e-4  # Adam learning rate (thesis: Adam default 1e-3)
    gamma: float = 0.9  # discount, 25-step episodes (thesis: 1.0 in ch. 2, 0.99 in ch. 3)
    batch_size: int = 512  # agent transitions per update (thesis: 32)
    updates_per_step: int = 1  # gradient updates per env.step call (thesis: ~3 per step)
    buffer_size: int = 200_000  # replay capacity in agent transitions (thesis: unbounded)
    learning_starts: int = 2_000  # env steps before learning (thesis: 100 tuples)
    eps_start: float = 1.0  # initial ε (thesis: 1.0)
    eps_decay: float = 0.999  # ε multiplied after every update (thesis: 0.999)
    eps_min: float = 0.05  # ε floor (thesis: 0.01)
    target_every: int = 250  # updates between target copies (thesis: ch. 2 none, ch. 3 100)
    # Added after the first standard-tier runs: left out of the recorded config (and its hash)
    # at their defaults, so those runs keep their keys (harness.config.config_dict).
    anneal_lr: bool = field(  # lr falls linearly to 0 at the budget (thesis: constant)
        default=False, metadata={"omit_at_default": True}
    )
    double: bool = field(  # double Q-learning target: online argmax, target value (thesis: no)
        default=False, metadata={"omit_at_default": True}
    )


class GreedyQ1:
    """Deterministic policy: argmax of the primary estimator Q_1 per agent (§2.1)."""

    centralised = False

    def __init__(self, net: BatchedMLP, n_agents: int, device: str = "cpu") -> None:
        self.net, self.n_agents, self.device = net, n_agents, device

    @torch.no_grad()
    def q1(self, obs: np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        x = torch.cat([x, agent_one_hot(x.shape[0], self.n_agents, self.device)], -1)
        b, n = x.shape[:2]
        return self.net(x.reshape(1, b * n, -1), members=slice(0, 1))[0].reshape(b, n, -1)

    def __call__(self, obs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        return self.q1(obs).argmax(-1).cpu().numpy()


_POSITIVE_INTS = ("num_envs", "m", "batch_size", "updates_per_step", "buffer_size", "target_every")
_UNIT_INTERVAL = ("gamma", "eps_start", "eps_min")


def _check_config(cfg: MutualQConfig) -> None:
    """One-line ``ValueError`` naming the first invalid field and what it should be."""
    for name in _POSITIVE_INTS:
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} is invalid; expected a positive integer")
    for name in _UNIT_INTERVAL:
        if not 0.0 <= getattr(cfg, name) <= 1.0:
            raise ValueError(
                f"{name}={getattr(cfg, name)!r} is invalid; expected a value in [0, 1]"
            )
    checks = (
        ("c", cfg.c >= 0, "expected C ≥ 0"),
        ("lr", cfg.lr > 0, "expected a positive learning rate"),
        ("eps_decay", 0 < cfg.eps_decay <= 1, "expected a factor in (0, 1]"),
        ("omega_sigma", cfg.omega_sigma > 0, "expected a positive width in env steps"),
        ("learning_starts", cfg.learning_starts >= 0, "expected ≥ 0 env steps"),
        ("hidden", all(h >= 1 for h in cfg.hidden), "expected positive layer sizes"),
    )
    for name, ok, expected in checks:
        if not ok:
            raise ValueError(f"{name}={getattr(cfg, name)!r} is invalid; {expected}")


class MutualQ(Algorithm):
    """m mutually learning Q-estimators per agent, parameters shared across agents."""

    name: ClassVar[str] = "mutual-q"
    display_name: ClassVar[str] = "Mutual-Q"
    Config = MutualQConfig
    supports_continuous: ClassVar[bool] = False

    def __init__(self, spec, config: MutualQConfig, seed: int, device: str = "cpu") -> None:
        super().__init__(spec, config, seed, device)
        _check_config(config)
        seed_everything(seed)
        gen = torch.Generator().manual_seed(seed)  # weights drawn on the CPU: same on any device
        self.in_dim = spec.obs_dim + spec.n_agents
        sizes = (self.in_dim, *config.hidden, spec.n_actions)
        self.q = BatchedMLP(config.m, sizes, gen).to(device)
        self.target = BatchedMLP(config.m, sizes, gen).to(device)
        self.target.load_state_dict(self.q.state_dict())
        self.opt = adam(self.q.parameters(), device, lr=config.lr)
        self.rng = np.random.default_rng(seed)
        self.eps, self.updates = config.eps_start, 0
        self.policy = GreedyQ1(self.q, spec.n_agents, device)

    @classmethod
    def label(cls, config: MutualQConfig) -> str:
        return f"{cls.display_name}-{config.m}" if config.m != 2 else cls.display_name

    @classmethod
    def preset(cls, task_id: str, tier: str) -> dict[str, Any]:
        """quick (100k env steps): ε reaches its floor after ~4k updates; two updates per
        step, lr 1e-3 annealed to 0 at the budget and double-Q targets (docs/baselines/
        mutual_q.md, "Quick preset"); standard (1M): ε floor after ~20k updates. The same
        for every task."""
        if tier == "quick":
            return {
                "num_envs": 8,
                "eps_decay": 0.99925,  # per update: the ε floor after ~4k updates (~18k steps)
                "learning_starts": 2_000,
                "updates_per_step": 2,
                "lr": 1e-3,
                "anneal_lr": True,
                "double": True,
            }
        if tier == "standard":
            return {"num_envs": 16, "eps_decay": 0.99985, "learning_starts": 10_000}
        return {}

    @classmethod
    def search_space(cls) -> tuple[Param, ...]:
        """What ``coopbench tune`` searches (``SEARCH_SPACE``, docs/baselines/tuning.md)."""
        return SEARCH_SPACE

    def weight(self, env_step: int) -> float:
        """C, or C·ω(env_step; μ, σ) under the decaying schedule (eq. 2.4)."""
        cfg = self.config
        return (
            cfg.c
            if cfg.omega_mu is None
            else cfg.c * omega(env_step, cfg.omega_mu, cfg.omega_sigma)
        )

    def learn(self, env: TrainingEnv, hooks: Hooks) -> None:
        cfg, n, b = self.config, self.spec.n_agents, env.num_envs
        fields = {
            "obs": ((self.in_dim,), np.float32),
            "action": ((), np.int64),
            "reward": ((), np.float32),
            "next_obs": ((self.in_dim,), np.float32),
            "done": ((), np.float32),
        }
        buffer = ReplayBuffer(cfg.buffer_size, fields)
        ids = np.broadcast_to(np.eye(n, dtype=np.float32), (b, n, n))
        obs, _ = env.reset(seed=self.seed)
        budget = env.steps_taken + env.remaining
        while not env.exhausted:
            actions = self.policy(obs)
            explore = self.rng.random((b, n)) < self.eps
            actions[explore] = self.rng.integers(0, self.spec.n_actions, int(explore.sum()))
            next_obs, rewards, terminated, truncated, _ = env.step(actions)
            buffer.add(  # truncation bootstraps: only `terminated` ends the return
                obs=np.concatenate([obs, ids], -1).reshape(b * n, -1),
                action=actions.reshape(-1),
                reward=rewards.reshape(-1),
                next_obs=np.concatenate([next_obs, ids], -1).reshape(b * n, -1),
                done=np.repeat(terminated.astype(np.float32), n),
            )
            obs = next_obs
            if terminated.any() or truncated.any():
                obs, _ = env.reset()
            if env.steps_taken >= cfg.learning_starts:
                if cfg.anneal_lr:
                    for group in self.opt.param_groups:
                        group["lr"] = cfg.lr * (1.0 - env.steps_taken / budget)
                for _ in range(cfg.updates_per_step):
                    loss = self.update(buffer.sample(cfg.batch_size, self.rng), env.steps_taken)
                hooks.log(loss=loss, epsilon=self.eps)

    def update(self, batch: dict[str, np.ndarray], env_step: int) -> float:
        """One Adam step on eq. 2.2 for all m estimators; returns Q_1's loss."""
        cfg, m = self.config, self.config.m
        t = {k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}
        obs = t["obs"].expand(m, *t["obs"].shape)
        q_sa = self.q(obs).gather(-1, t["action"].expand(m, -1)[..., None])[..., 0]
        with torch.no_grad():
            next_obs = t["next_obs"].expand(m, *t["next_obs"].shape)
            q_next = self.target(next_obs)
            if cfg.double:  # each estimator's own online argmax, valued by its target
                v_next = q_next.gather(-1, self.q(next_obs).argmax(-1, keepdim=True))[..., 0]
            else:
                v_next = q_next.max(-1).values
            target = t["reward"] + cfg.gamma * (1 - t["done"]) * v_next
        weight = torch.tensor(self.weight(env_step), dtype=torch.float32, device=self.device)
        loss = mutual_q_loss(q_sa, target, weight, cfg.detach_others)
        self.opt.zero_grad()
        loss.sum().backward()
        self.opt.step()
        self.updates += 1
        self.eps = max(self.eps * cfg.eps_decay, cfg.eps_min)
        if self.updates % cfg.target_every == 0:
            self.target.load_state_dict(self.q.state_dict())
        return float(loss[0].detach())

    def policies(self) -> dict[str, Policy]:
        return {"default": self.policy}

    def save(self, path: str | Path) -> None:
        modules = {"q": self.q, "target": self.target, "opt": self.opt}
        meta = {"eps": self.eps, "updates": self.updates, "config": asdict(self.config)}
        save_checkpoint(path, modules, meta)  # type: ignore[arg-type]

    def load(self, path: str | Path) -> None:
        modules = {"q": self.q, "target": self.target, "opt": self.opt}
        meta = load_checkpoint(path, modules)  # type: ignore[arg-type]
        self.eps, self.updates = float(meta["eps"]), int(meta["updates"])


@dataclass
class DQNConfig(MutualQConfig):
    """Plain deep Q-learning: one estimator, no mutual term."""

    m: int = 1  # a single estimator: eq. 2.2 reduces to eq. 2.1


class DQN(MutualQ):
    """Deep Q-learning with parameter sharing (mutual Q-learning with m = 1)."""

    name: ClassVar[str] = "dqn"
    display_name: ClassVar[str] = "DQN"
    Config = DQNConfig

    @classmethod
    def label(cls, config: MutualQConfig) -> str:
        return cls.display_name

    @classmethod
    def search_space(cls) -> tuple[Param, ...]:
        """What ``coopbench tune`` searches (``DQN_SEARCH_SPACE``, docs/baselines/tuning.md)."""
        return DQN_SEARCH_SPACE


# Tuning search spaces around the quick preset (coopbench tune); DQN has no mutual term.
DQN_SEARCH_SPACE: tuple[Param, ...] = (
    log_uniform("lr", 2e-4, 3e-3),
    categorical("batch_size", 128, 256, 512),
    uniform("eps_decay", 0.998, 0.9998),
    integer("target_every", 50, 1_000, log=True),
    uniform("gamma", 0.85, 0.99),
    integer("updates_per_step", 1, 4),
)
SEARCH_SPACE: tuple[Param, ...] = (*DQN_SEARCH_SPACE, log_uniform("c", 0.1, 3.0))
