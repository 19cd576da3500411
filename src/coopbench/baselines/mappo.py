"""MAPPO and IPPO: PPO with one actor shared by all agents (Yu et al. 2022).

"The Surprising Effectiveness of PPO in Cooperative Multi-Agent Games" (Yu et al.
2022): MAPPO is PPO with a centralised critic, IPPO the same with local inputs for
both the actor and the critic:

1. one actor ``π(a | o_i [, id_i])`` shared by all agents (parameter sharing);
   the critic reads the global ``state()`` (MAPPO) or agent i's observation (IPPO);
2. collect ``rollout_episodes`` whole episodes in all ``num_envs`` worlds at once;
3. GAE(γ, λ) over time, vectorised over worlds and agents (Schulman et al. 2016,
   eq. 16); the horizon is a **truncation**: the last step bootstraps from V(s_T);
4. ``ppo_epochs`` × ``num_minibatches`` updates of the clipped surrogate
   (Schulman et al. 2017, eq. 7) with an entropy bonus, and of a clipped Huber
   value loss on targets normalised by ``ValueNorm`` (Yu et al. sec. 4).

Continuous actions: a diagonal Gaussian with a learned, state-independent
log-std around ``0.5 + actor(o)``. A sample is **clipped** into MPE's box
[0, 1]^5 before the env sees it while PPO's ratio uses the unclipped sample, so
the Gaussian log-probability stays exact (no tanh/sigmoid Jacobian term, as in
the PPO reference implementations). Evaluation uses ``clip(mean, 0, 1)``;
discrete evaluation the arg-max of the logits.

rMAPPO (``recurrent=True``, Yu et al. 2022's recurrent variant): the actor is a GRU
(``mappo_networks.RecurrentActor``); its hidden state is stored with every rollout step and
zeroed at every episode start, and the update unrolls it over chunks of ``chunk_length``
steps that begin in the stored state (``sequences``). The critic stays feed-forward.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from coopbench.algorithms.base import Algorithm, Hooks, Policy, TrainingEnv
from coopbench.algorithms.checkpoint import load_checkpoint, save_checkpoint
from coopbench.algorithms.networks import adam, agent_one_hot, seed_everything
from coopbench.algorithms.normalisers import VALUE_NORMS, make_value_norm
from coopbench.algorithms.schedules import linear_anneal
from coopbench.algorithms.search_space import Param, categorical, integer, log_uniform, uniform
from coopbench.baselines.mappo_networks import (
    ACTIVATIONS,
    Actor,
    RecurrentActor,
    RecurrentActorPolicy,
    SharedActorPolicy,
    network,
)
from coopbench.envs import TASKS, TaskSpec
from coopbench.validation import check_int


@dataclass
class MAPPOConfig:
    """Every hyper-parameter; the paper's (MPE) value is in each comment."""

    num_envs: int = 128  # worlds stepped together (paper: 128 rollout threads)
    rollout_episodes: int = 1  # rollout length in whole episodes (paper: episode_length 25 = 1)
    ppo_epochs: int = 10  # passes over each rollout (paper: 10 on MPE)
    num_minibatches: int = 1  # minibatches per pass (paper: 1 on MPE)
    lr: float = 7e-4  # actor Adam learning rate (paper: 7e-4)
    critic_lr: float = 7e-4  # critic Adam learning rate (paper: 7e-4)
    adam_eps: float = 1e-5  # Adam epsilon (paper: 1e-5)
    anneal_lr: bool = False  # linear decay of both rates to 0 over the budget (paper: off)
    gamma: float = 0.99  # discount (paper: 0.99)
    gae_lambda: float = 0.95  # GAE λ (paper: 0.95)
    clip: float = 0.2  # PPO ratio clip ε, also the value clip (paper: 0.2)
    value_clip: bool = True  # clip the value update around the old value (paper: on)
    entropy_coef: float = 0.01  # entropy bonus (paper: 0.01)
    value_coef: float = 1.0  # weight of the value loss (paper: 1)
    huber_delta: float = 10.0  # Huber value loss δ (paper: 10)
    max_grad_norm: float = 10.0  # global gradient-norm clip per network (paper: 10)
    value_norm: str = "ema"  # "ema" = ValueNorm (paper: on), "running" = exact, "none"
    advantage_norm: bool = True  # standardise advantages over the rollout (paper: on)
    shared_reward: bool = True  # every agent learns from the mean of all agents' rewards
    hidden: int = 64  # hidden width of actor and critic (paper: 64)
    layers: int = 2  # hidden layers (paper: layer_N=1 → 2 hidden layers)
    activation: str = "relu"  # "relu" or "tanh" (paper: ReLU)
    feature_norm: bool = True  # LayerNorm on the network inputs (paper: on)
    agent_id: bool = False  # append the agent-id one-hot to actor and critic inputs
    log_std_init: float = -0.5  # initial log-std of the Gaussian (continuous only)
    # rMAPPO (Yu et al. 2022): a GRU actor trained on chunks of the rollout. Left out of the
    # recorded config (and its hash) at their defaults, so older runs keep their identity.
    recurrent: bool = field(default=False, metadata={"omit_at_default": True})
    chunk_length: int = field(  # BPTT chunk in steps (paper: data_chunk_length 10)
        default=10, metadata={"omit_at_default": True}
    )


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    ends: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and returns ``[T, B, ...]`` (Schulman et al. 2016, eq. 16).

    ``next_values[t] = V(s_{t+1})`` — at an episode end the value of the final
    state, *before* the reset; ``terminated[t]`` zeroes that bootstrap (true
    termination), ``ends[t]`` (terminated or truncated) cuts the recursion. A
    fixed horizon is truncation: ``δ_T = r_T + γ V(s_T) − V(s_{T−1})``.
    ``terminated``/``ends`` are ``[T, B]`` and broadcast over trailing dims.
    """
    shape = terminated.shape + (1,) * (rewards.ndim - terminated.ndim)
    nonterminal = 1.0 - terminated.reshape(shape).to(rewards.dtype)
    carry = 1.0 - ends.reshape(shape).to(rewards.dtype)
    deltas = rewards + gamma * next_values * nonterminal - values
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        last = deltas[t] + gamma * lam * carry[t] * last
        advantages[t] = last
    return advantages, advantages + values


def sequences(data: dict[str, torch.Tensor], length: int) -> dict[str, torch.Tensor]:
    """``[T, B, N, ...]`` tensors cut into ``C = ceil(T / length)`` chunks per world and agent:
    ``[length, C·B·N, ...]`` sequences, the last chunk zero-padded; ``valid [length, C·B·N]``
    marks the real steps. The rMAPPO update trains on these chunks (data_chunk_length)."""
    steps = next(iter(data.values())).shape[0]
    chunks = -(-steps // length)
    pad = chunks * length - steps
    out = {}
    for key, v in data.items():
        v = torch.cat([v, v.new_zeros((pad, *v.shape[1:]))]) if pad else v
        out[key] = v.reshape(chunks, length, *v.shape[1:]).transpose(0, 1).flatten(1, 3)
    valid = torch.arange(chunks * length, device=out["adv"].device) < steps
    shape = (chunks, length, *data["adv"].shape[1:3])
    out["valid"] = valid.reshape(chunks, length, 1, 1).expand(shape).transpose(0, 1).flatten(1, 3)
    return out


def minibatches(
    data: dict[str, torch.Tensor], dim: int, num: int, gen: torch.Generator
) -> Iterator[dict[str, torch.Tensor]]:
    """``num`` random minibatches of ``data`` split along ``dim`` (a remainder is dropped)."""
    size = data["adv"].shape[dim]
    mb_size = max(1, size // num)
    perm = torch.randperm(size, generator=gen, device=data["adv"].device)
    for start in range(0, size - mb_size + 1, mb_size):
        index = perm[start : start + mb_size]
        yield {k: v.index_select(dim, index) for k, v in data.items()}


def _masked_mean(valid: torch.Tensor | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """The mean over the ``valid`` entries (all entries when None)."""
    if valid is None:
        return torch.mean
    weight = valid.to(torch.float32)
    return lambda x: (x * weight).sum() / weight.sum()


class MAPPO(Algorithm):
    """Multi-agent PPO: shared actor on local observations, critic on the global state."""

    name: ClassVar[str] = "mappo"
    display_name: ClassVar[str] = "MAPPO"
    Config = MAPPOConfig

    def __init__(self, spec: TaskSpec, config: Any, seed: int, device: str = "cpu") -> None:
        super().__init__(spec, config if config is not None else MAPPOConfig(), seed, device)
        cfg = self.config
        _validate(cfg)
        seed_everything(seed)
        self.gen = torch.Generator(device=device).manual_seed(seed)
        n, ids = spec.n_agents, cfg.agent_id
        actor_cls = RecurrentActor if cfg.recurrent else Actor
        self.actor = actor_cls(spec.obs_dim + n * ids, spec.n_actions, cfg, spec.continuous_actions)
        self.critic = network(self.critic_dim() + n * ids, 1, cfg, out_gain=1.0)
        self.value_norm = make_value_norm(cfg.value_norm)
        self.hidden: torch.Tensor | None = None  # the GRU actor's state while learning
        self.actor.to(device), self.critic.to(device), self.value_norm.to(device)
        # one Adam, two parameter groups = separate actor and critic Adams (Adam is per-tensor)
        groups = [
            {"params": list(self.actor.parameters()), "lr": cfg.lr},
            {"params": list(self.critic.parameters()), "lr": cfg.critic_lr},
        ]
        self.opt = adam(groups, device, eps=cfg.adam_eps)

    # ------------------------------------------------------------------ inputs
    def critic_dim(self) -> int:
        """MAPPO's critic reads the global state."""
        return self.spec.state_dim

    def critic_input(self, obs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """``[B, N, critic_dim]``: the state, repeated for every agent."""
        return state.unsqueeze(1).expand(-1, self.spec.n_agents, -1)

    def _inputs(self, obs: np.ndarray, state: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        s = torch.as_tensor(state, dtype=torch.float32, device=self.device)
        c = self.critic_input(o, s)
        if self.config.agent_id:
            ids = agent_one_hot(o.shape[0], o.shape[1], self.device)
            o, c = torch.cat([o, ids], -1), torch.cat([c, ids], -1)
        return o, c

    def _value(self, critic_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw (normalised-space) critic output and the denormalised value ``[B, N]``."""
        raw = self.critic(critic_in).squeeze(-1)
        return raw, self.value_norm.denormalise(raw)

    # ------------------------------------------------------------------ training
    def learn(self, env: TrainingEnv, hooks: Hooks) -> None:
        cfg, spec = self.config, self.spec
        horizon = cfg.rollout_episodes * spec.max_cycles
        total_updates = max(1, -(-env.remaining // (env.num_envs * horizon)))
        obs, _ = env.reset(seed=self.seed)
        state, update = env.state(), 0
        while not env.exhausted:
            if cfg.anneal_lr:
                self._set_lr(linear_anneal(1.0, 0.0, update / total_updates))
            batch, obs, state = self._rollout(env, obs, state, horizon)
            hooks.log(**self._update(batch))
            update += 1

    @torch.no_grad()
    def _rollout(
        self, env: TrainingEnv, obs: np.ndarray, state: np.ndarray, horizon: int
    ) -> tuple[dict[str, torch.Tensor], np.ndarray, np.ndarray]:
        """Up to ``horizon`` steps in every world; stops early when the budget is spent."""
        keys = ("actor_in", "critic_in", "actions", "logp", "raw_values", "values", "rewards")
        extra = ("next_values", "term", "end", "hidden", "start")
        buf: dict[str, list[torch.Tensor]] = {k: [] for k in (*keys, *extra)}
        actor_in, critic_in = self._inputs(obs, state)
        raw, value = self._value(critic_in)
        for _ in range(horizon):
            if env.exhausted:
                break
            if self.config.recurrent:  # the GRU's state before this step, zeros at a reset
                start = env.t == 0
                if start or self.hidden is None:
                    self.hidden = self.actor.initial_state(*actor_in.shape[:2])
                buf["hidden"].append(self.hidden)
                buf["start"].append(torch.full(actor_in.shape[:1], start, device=self.device))
                action, logp, self.hidden = self.actor.sample(actor_in, self.hidden, self.gen)
            else:
                action, logp = self.actor.sample(actor_in, self.gen)
            env_action = action.clamp(0.0, 1.0) if self.spec.continuous_actions else action
            obs, rewards, terminated, truncated, _ = env.step(env_action.cpu().numpy())
            state = env.state()
            r = torch.as_tensor(rewards, dtype=torch.float32, device=self.device)
            if self.config.shared_reward:
                r = r.mean(-1, keepdim=True).expand_as(r)
            for k, v in zip(keys, (actor_in, critic_in, action, logp, raw, value, r), strict=True):
                buf[k].append(v)
            actor_in, critic_in = self._inputs(obs, state)
            raw, value = self._value(critic_in)
            buf["next_values"].append(value)  # V(s_{t+1}); the final state's value at the horizon
            end = np.logical_or(terminated, truncated)
            buf["term"].append(torch.as_tensor(terminated, device=self.device))
            buf["end"].append(torch.as_tensor(end, device=self.device))
            if end.any():
                if not end.all():
                    raise RuntimeError(
                        "MAPPO needs aligned worlds: some but not all episodes ended"
                    )
                obs, _ = env.reset()
                state = env.state()
                actor_in, critic_in = self._inputs(obs, state)
                raw, value = self._value(critic_in)
        return {k: torch.stack(v) for k, v in buf.items() if v}, obs, state

    def _update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """GAE, then ``ppo_epochs`` × ``num_minibatches`` clipped-surrogate updates; the
        logged losses and diagnostics are means over the last pass's minibatches."""
        cfg = self.config
        adv, returns = gae(
            batch["rewards"], batch["values"], batch["next_values"], batch["term"], batch["end"],
            cfg.gamma, cfg.gae_lambda,
        )  # fmt: skip
        self.value_norm.update(returns)
        targets = self.value_norm.normalise(returns)
        if cfg.advantage_norm:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        data = {  # every tensor [T, B, N, ...]
            "actor_in": batch["actor_in"],
            "critic_in": batch["critic_in"],
            "actions": batch["actions"],
            "logp": batch["logp"],
            "old_values": batch["raw_values"],
            "targets": targets,
            "adv": adv,
        }
        if cfg.recurrent:  # [L, S, ...] sequences of chunk_length steps; minibatches of them
            data["hidden"] = batch["hidden"]
            data["start"] = batch["start"].unsqueeze(-1).expand_as(adv)
            data, dim = sequences(data, cfg.chunk_length), 1
        else:  # single steps [T·B·N, ...]
            data, dim = {k: v.flatten(0, 2) for k, v in data.items()}, 0
        stats: dict[str, list[torch.Tensor]] = {"policy_loss": [], "value_loss": [], "entropy": []}
        stats["approx_kl"], stats["clip_frac"] = [], []
        for epoch in range(cfg.ppo_epochs):
            for mb in minibatches(data, dim, cfg.num_minibatches, self.gen):
                if cfg.recurrent:
                    logp, entropy = self.actor.evaluate(
                        mb["actor_in"], mb["actions"], mb["hidden"][0], mb["start"]
                    )
                else:
                    logp, entropy = self.actor.evaluate(mb["actor_in"], mb["actions"])
                mean = _masked_mean(mb.get("valid"))
                log_ratio = logp - mb["logp"]
                ratio = log_ratio.exp()
                surr = torch.min(
                    ratio * mb["adv"], ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * mb["adv"]
                )
                policy_loss = -mean(surr) - cfg.entropy_coef * mean(entropy)
                value_loss = cfg.value_coef * mean(self._value_loss(mb))
                self.opt.zero_grad()
                (policy_loss + value_loss).backward()
                for group in self.opt.param_groups:  # each network clipped on its own
                    nn.utils.clip_grad_norm_(group["params"], cfg.max_grad_norm, foreach=True)
                self.opt.step()
                if epoch < cfg.ppo_epochs - 1:
                    continue  # diagnostics of the last pass only: ~5 % of the update's time
                with torch.no_grad():
                    stats["policy_loss"].append(policy_loss.detach())
                    stats["value_loss"].append(value_loss.detach())
                    stats["entropy"].append(mean(entropy))
                    stats["approx_kl"].append(mean((ratio - 1) - log_ratio))
                    stats["clip_frac"].append(mean(((ratio - 1).abs() > cfg.clip).float()))
        return {k: torch.stack(v).mean().item() for k, v in stats.items()}

    def _value_loss(self, mb: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-sample Huber(δ) on normalised targets, clipped around the old value (MAPPO
        code)."""
        cfg = self.config
        v = self.critic(mb["critic_in"]).squeeze(-1)
        loss = F.huber_loss(v, mb["targets"], delta=cfg.huber_delta, reduction="none")
        if cfg.value_clip:
            clipped = mb["old_values"] + (v - mb["old_values"]).clamp(-cfg.clip, cfg.clip)
            loss_clipped = F.huber_loss(
                clipped, mb["targets"], delta=cfg.huber_delta, reduction="none"
            )
            loss = torch.max(loss, loss_clipped)
        return loss

    def _set_lr(self, fraction: float) -> None:
        rates = (self.config.lr, self.config.critic_lr)
        for group, lr in zip(self.opt.param_groups, rates, strict=True):
            group["lr"] = lr * fraction

    # ------------------------------------------------------------------ contract
    def policies(self) -> dict[str, Policy]:
        cls = RecurrentActorPolicy if self.config.recurrent else SharedActorPolicy
        return {"default": cls(self.actor, self.spec, self.config.agent_id, self.device)}

    def save(self, path: str | Path) -> None:
        modules = {"actor": self.actor, "critic": self.critic, "value_norm": self.value_norm}
        save_checkpoint(path, modules, {"algorithm": self.name, "config": asdict(self.config)})

    def load(self, path: str | Path) -> None:
        modules = {"actor": self.actor, "critic": self.critic, "value_norm": self.value_norm}
        try:
            meta = load_checkpoint(path, modules)
        except RuntimeError as exc:  # tensors of another shape: another task, config or critic
            raise ValueError(
                f"checkpoint {str(path)!r} does not fit this {self.name} on "
                f"{self.spec.task_id!r} with this config: {exc}"
            ) from None
        if meta.get("algorithm") != self.name:
            raise ValueError(
                f"checkpoint {str(path)!r} was written by {meta.get('algorithm')!r}; "
                f"expected {self.name!r}"
            )

    @classmethod
    def label(cls, config: MAPPOConfig) -> str:
        """``MAPPO``/``IPPO``; ``rMAPPO``/``rIPPO`` with the GRU actor."""
        return f"r{cls.display_name}" if config.recurrent else cls.display_name

    @classmethod
    def preset(cls, task_id: str, tier: str) -> dict[str, Any]:
        """Tuned overrides (docs/baselines/mappo.md records the sweep behind them)."""
        if task_id not in TASKS:
            raise ValueError(f"unknown task {task_id!r}; expected one of {list(TASKS)}")
        if tier not in PRESETS:
            raise ValueError(f"unknown tier {tier!r}; expected one of {list(PRESETS)}")
        table = PRESETS[tier]
        return {**table.get("*", {}), **table.get(f"{cls.name}:{task_id}", {})}

    @classmethod
    def search_space(cls) -> tuple[Param, ...]:
        """What ``coopbench tune`` searches (``SEARCH_SPACE``, docs/baselines/tuning.md)."""
        return SEARCH_SPACE


class IPPO(MAPPO):
    """Independent PPO: as MAPPO, but the critic reads agent i's own observation."""

    name: ClassVar[str] = "ippo"
    display_name: ClassVar[str] = "IPPO"

    def critic_dim(self) -> int:
        return self.spec.obs_dim

    def critic_input(self, obs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return obs


def _validate(cfg: MAPPOConfig) -> None:
    if not isinstance(cfg, MAPPOConfig):
        raise ValueError(f"config must be a MAPPOConfig; got {type(cfg).__name__}")
    if cfg.value_norm not in VALUE_NORMS:
        raise ValueError(f"value_norm={cfg.value_norm!r} is invalid; expected one of {VALUE_NORMS}")
    if cfg.activation not in ACTIVATIONS:
        raise ValueError(
            f"activation={cfg.activation!r} is invalid; expected one of {list(ACTIVATIONS)}"
        )
    names = ("num_envs", "rollout_episodes", "ppo_epochs", "num_minibatches", "hidden")
    for name in (*names, "chunk_length"):
        check_int(getattr(cfg, name), name)
    for name in ("lr", "critic_lr", "clip", "huber_delta", "max_grad_norm"):
        if not getattr(cfg, name) > 0:
            raise ValueError(f"{name}={getattr(cfg, name)!r} is invalid; expected > 0")
    for name in ("gamma", "gae_lambda"):
        if not 0.0 <= getattr(cfg, name) <= 1.0:
            raise ValueError(f"{name}={getattr(cfg, name)!r} is invalid; expected in [0, 1]")


# Tuned overrides per tier: "*" applies to every task, "<algo>:<task>" on top (see the docs).
_QUICK = {"num_envs": 32, "num_minibatches": 4, "lr": 2e-3, "critic_lr": 2e-3}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "quick": {"*": {**_QUICK, "agent_id": True, "feature_norm": False}},
    # no sweep at 1M steps: the quick settings with the paper's learning-rate decay
    "standard": {"*": {**_QUICK, "agent_id": True, "feature_norm": False, "anneal_lr": True}},
}


# Tuning search space of MAPPO and IPPO around the quick preset (coopbench tune).
SEARCH_SPACE: tuple[Param, ...] = (
    log_uniform("lr", 3e-4, 5e-3),
    log_uniform("critic_lr", 3e-4, 5e-3),
    categorical("num_envs", 16, 32, 64, 128),
    integer("ppo_epochs", 3, 15),
    categorical("num_minibatches", 1, 2, 4, 8),
    uniform("clip", 0.1, 0.3),
    log_uniform("entropy_coef", 1e-4, 3e-2),
    uniform("gae_lambda", 0.9, 1.0),
    categorical("anneal_lr", False, True),
)
