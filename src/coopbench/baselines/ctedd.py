"""CTEDD: centralised training and exploration, decentralised execution via policy
distillation (G. Chen 2019, "A New Framework for Multi-Agent Reinforcement Learning –
Centralized Training and Exploration with Decentralized Execution via Policy Distillation").

Algorithm 1, with both stages running side by side in one loop:

1. **Centralised training and exploration** (§3, §4.1). Global policies
   ``π̃_i(s) = π_θi(s) + ε·σ_ωi(s)`` on the full state (``env.state()``), built as
   figure 1 (``ctedd_networks.GlobalPolicyNet``: one shared global layer, per-agent
   local heads; π_θ and σ_ω are two instances — the "symmetric design"). One
   centralised critic ``Q(s, a_1..a_N)`` learns by eq. 2; π_θ (heads and shared layer)
   by eq. 4; σ_ω by eq. 5 on the samples collected since the last learning iteration,
   with the advantage ``Q(s, a) - Q(s, π_θ(s))`` and an entropy weight α annealed
   0.1 → 0.001 over 3M sampling steps. Target networks for π_θ and Q (Polyak τ).
2. **Distillation** (§4.2). Local students (``comm.CommPolicyNet``, figure 2) with 1-d
   and 3-d messages are trained by eq. 6 towards the current π_θ(s) on the replay
   buffer read **chronologically**: whenever a round of episodes ends, every student
   consumes the transitions written since its cursor, in mini-batches of consecutive
   samples, each ``distill_repeats`` times. Students only ever read transitions already
   collected, so each evaluation point measures students trained without extra env
   samples (figure 5's curves).

Policies (``policies()``): ``"global"`` — CTEDD-G, sigmoid(π_θ(s)), centralised (needs
``state``); ``"local-k"`` — CTEDD-L-k for k in ``comm_dims``, decentralised.

Decisions where the paper is silent (each covered by ``tests/test_ctedd.py``):

- **Actions** are MPE's continuous box ``[0, 1]^5``: π_θ(s) = sigmoid(head output), the
  sample ``a = clip(π_θ(s) + ε σ_ω(s), 0, 1)``; the critic sees the executed (clipped)
  action, eq. 5's ``log π̃`` is the Gaussian density of the unclipped sample. Students'
  outputs are squashed by the same sigmoid. Discrete actions are not supported
  (the paper is continuous only): ``supports_discrete = False``.
- **σ_ω(s) ∈ [sigma_min, sigma_max] = [0.01, 1]** via a scaled sigmoid: the entropy
  term pushes log σ up without limit when advantages are small; the box has width 1.
  σ_ω has its own shared layer (trained by eq. 5 only: the paper trains the shared
  global DNN of π_θ by eq. 4 and ω by eq. 5 only) and no target network (none named).
- **Eq. 5** is averaged over the batch in both terms (the printed entropy term has no
  1/|B|, which would tie α to the batch size); advantage uses the current critic.
  σ_ω is updated first in a learning iteration, while π_θ and σ_ω are still exactly the
  policy that sampled the batch (on-policy, footnote 1).
- **Eq. 2's target action** is the stochastic global policy at ``s'``: target π_θ' plus
  noise from the current σ_ω, clipped. **Eq. 4** literally: for agent i, only a_i is
  replaced by π_θi(s), the others' actions come from the batch (MADDPG); the shared
  layer gets the sum of the N agents' gradients. MADDPG defaults (§5.2): Adam,
  per-tensor gradient-norm clipping 0.5, τ = 0.01, 1e-3·mean(pre-activation²) on π_θ.
- **Reward** of the single centralised critic: the team reward (sum over agents).
  Truncation at the horizon bootstraps (MADDPG's convention; only ``terminated`` stops it).
- **α** decreases linearly in env steps (the paper: "gradually decremented").
- **Learning iterations** every ``update_every`` env steps counted over all worlds
  (MADDPG: one gradient step per 100 samples); when ``num_envs > update_every`` one
  iteration does ``num_envs // update_every`` critic/actor steps and one σ step.
- **Distillation** runs after every round of episodes (the ``num_envs`` worlds finish
  together) once learning has started, on each finished round in the order a single env
  would have produced it — episode after episode, not the buffer's [time, world] rows:
  a mini-batch of consecutive rows would hold the same 2-3 time steps of every world, a
  narrow slice of the state distribution (it fits the teacher worse, see the doc). A round
  of ``num_envs × horizon`` samples is cut into ``ceil(round / distill_batch)`` near-equal
  consecutive mini-batches (``distill_batch = 256``), ``distill_repeats = 4`` Adam steps
  each (the paper: "a few iterations"), lr 0.005 (CTEDD's lr), per-tensor clipping 0.5.
  Labels come from π_θ at distillation time (Algorithm 1, line 14). Rounds collected
  before learning starts are distilled at the first round end after it (the paper
  consumes the whole buffer). Messages are tanh-bounded (``CommPolicyNet``'s default).
- **Presets** (``CTEDD.preset``): standard = the paper (learning starts = batch × horizon,
  as MADDPG). Quick (100k steps) compresses the standard schedule 10×: learning starts
  and α's anneal are divided by 10, so at 100k α has the value the standard run has at
  1M; one learning iteration per ``update_every = 25`` env steps (4× the paper's rate)
  so that the quick tier sees ~4k updates.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from coopbench.algorithms.base import Algorithm, Hooks, Policy, TrainingEnv
from coopbench.algorithms.checkpoint import load_checkpoint, save_checkpoint
from coopbench.algorithms.comm import CommPolicyNet
from coopbench.algorithms.networks import adam, seed_everything, soft_update
from coopbench.algorithms.replay import ReplayBuffer
from coopbench.algorithms.search_space import Param, categorical, integer, log_uniform, uniform
from coopbench.baselines.ctedd_networks import (
    CentralCritic,
    GlobalPolicy,
    GlobalPolicyNet,
    LocalPolicy,
    alpha_at,
    bounded_sigma,
    clipped_step,
    distillation_loss,
    exploration_loss,
    gaussian_entropy,
    gaussian_log_prob,
)
from coopbench.envs import TaskSpec, make_task

LOG_EVERY = 10  # learning iterations between hooks.log calls
TIERS = ("quick", "standard")


@dataclass
class CTEDDConfig:
    """Every hyper-parameter of CTEDD; paper defaults (§5.2 / openai/maddpg) in comments."""

    num_envs: int = 100  # worlds stepped together (the paper: 1; update rate is per env step)
    lr: float = 0.005  # Adam lr of π_θ, σ_ω and Q (§5.2: 0.005)
    gamma: float = 0.95  # discount (§5.2: 0.95)
    tau: float = 0.01  # Polyak rate of the target networks (MADDPG: 0.01)
    batch_size: int = 1024  # critic/actor mini-batch (§5.2: 1024)
    buffer_size: int = 1_000_000  # replay capacity in transitions (MADDPG: 1e6)
    learning_starts: int = 25_600  # transitions before learning (MADDPG: 1024 × horizon 25)
    update_every: int = 100  # env steps per learning iteration (MADDPG: 100)
    grad_clip: float = 0.5  # per-tensor gradient-norm clip (MADDPG: 0.5)
    actor_reg: float = 1e-3  # weight of mean(pre-activation²) in π_θ's loss (MADDPG: 1e-3)
    global_hidden: int = 64  # units of the shared global layer (§5.2: 64)
    local_hidden: int = 64  # units of each agent's local head (§5.2: 64)
    critic_hidden: tuple[int, ...] = (64, 64)  # Q-network hidden layers (§5.2: 64×64)
    alpha_start: float = 0.1  # entropy weight α at step 0 (§5.2: 0.1)
    alpha_end: float = 0.001  # α after the anneal (§5.2: 0.001)
    alpha_anneal_steps: int = 3_000_000  # env steps of the linear anneal (§5.2: 3M)
    sigma_min: float = 0.01  # lower bound of σ_ω(s) (decision; paper silent)
    sigma_max: float = 1.0  # upper bound of σ_ω(s) (decision; the box has width 1)
    fixed_sigma: float | None = None  # figure 6 ablation: constant σ (0.4/0.6/0.8), no eq. 5
    comm_dims: tuple[int, ...] = (1, 3)  # message sizes of the students (§5: CTEDD-L-1, -L-3)
    distill_batch: int = 256  # chronological mini-batch of eq. 6 (decision; paper silent)
    distill_repeats: int = 4  # gradient steps per mini-batch ("a few iterations", §4.2)
    distill_lr: float = 0.005  # Adam lr of the students (decision: CTEDD's lr)
    message_activation: str = "tanh"  # squashing of the messages (comm.CommPolicyNet)


def _check_config(cfg: CTEDDConfig) -> None:
    """ValueError naming any invalid field."""
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if f.name == "fixed_sigma":
            if value is not None and not value > 0:
                raise ValueError(f"fixed_sigma={value!r} is invalid; expected None or > 0")
        elif f.name in ("critic_hidden", "comm_dims"):
            if not value or any(int(v) != v or v < 1 for v in value):
                raise ValueError(f"{f.name}={value!r} is invalid; expected positive integers")
        elif f.name == "message_activation":
            continue  # CommPolicyNet validates it
        elif f.name in ("gamma", "tau"):
            if not 0 <= value <= 1:
                raise ValueError(f"{f.name}={value!r} is invalid; expected a value in [0, 1]")
        elif f.name != "learning_starts" and not value > 0:
            raise ValueError(f"{f.name}={value!r} is invalid; expected a positive value")
    if not 0 < cfg.sigma_min < cfg.sigma_max:
        raise ValueError(
            f"sigma_min={cfg.sigma_min}, sigma_max={cfg.sigma_max}; expected 0 < min < max"
        )


class CTEDD(Algorithm):
    """CTEDD (Chen 2019): global policies + centralised critic, distilled students."""

    name: ClassVar[str] = "ctedd"
    display_name: ClassVar[str] = "CTEDD"
    Config = CTEDDConfig
    supports_discrete: ClassVar[bool] = False

    def __init__(self, spec: TaskSpec, config: CTEDDConfig, seed: int, device: str = "cpu"):
        super().__init__(spec, config, seed, device)
        _check_config(config)
        cfg, n, a, s = config, spec.n_agents, spec.n_actions, spec.state_dim
        seed_everything(seed)
        self.actor = GlobalPolicyNet(n, s, a, cfg.global_hidden, (cfg.local_hidden,)).to(device)
        self.sigma_net = GlobalPolicyNet(n, s, a, cfg.global_hidden, (cfg.local_hidden,))
        self.sigma_net.to(device)
        self.critic = CentralCritic(s, n, a, cfg.critic_hidden).to(device)
        self.actor_target = copy.deepcopy(self.actor)
        self.critic_target = copy.deepcopy(self.critic)
        self.students = {
            k: CommPolicyNet(n, spec.obs_dim, a, k, message_activation=cfg.message_activation).to(
                device
            )
            for k in cfg.comm_dims
        }
        self.actor_opt = adam(self.actor.parameters(), device, lr=cfg.lr)
        self.sigma_opt = adam(self.sigma_net.parameters(), device, lr=cfg.lr)
        self.critic_opt = adam(self.critic.parameters(), device, lr=cfg.lr)
        self.student_opts = {
            k: adam(net.parameters(), device, lr=cfg.distill_lr) for k, net in self.students.items()
        }
        self.buffer = ReplayBuffer(
            cfg.buffer_size,
            {
                "state": ((s,), np.float32),
                "obs": ((n, spec.obs_dim), np.float32),
                "action": ((n, a), np.float32),
                "reward": ((), np.float32),
                "next_state": ((s,), np.float32),
                "done": ((), np.float32),
            },
        )
        self.rng = np.random.default_rng(seed)
        self.noise = torch.Generator(device=device).manual_seed(seed)
        self.env_steps = 0  # sampling steps taken (α's clock)
        self.iterations = 0  # learning iterations done
        self.distill_cursor = 0  # buffer.written index of the next sample to distill

    # ------------------------------------------------------------ contract
    @classmethod
    def label(cls, config: CTEDDConfig) -> str:
        return cls.display_name + _sigma_suffix(config)

    @classmethod
    def policy_labels(cls, config: CTEDDConfig) -> dict[str, str]:
        """Leaderboard label of each named policy (CTEDD-G, CTEDD-L-1, CTEDD-L-3)."""
        suffix = _sigma_suffix(config)
        labels = {"global": f"CTEDD-G{suffix}"}
        labels.update({f"local-{k}": f"CTEDD-L-{k}{suffix}" for k in config.comm_dims})
        return labels

    @classmethod
    def preset(cls, task_id: str, tier: str) -> dict[str, Any]:
        """Standard: the paper with learning starts = 1024 × horizon; quick: 10× compressed."""
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; expected one of {list(TIERS)}")
        starts = CTEDDConfig.batch_size * make_task(task_id).max_cycles  # validates task_id
        if tier == "standard":
            return {"learning_starts": starts}
        return {"learning_starts": starts // 10, "alpha_anneal_steps": 300_000, "update_every": 25}

    @classmethod
    def search_space(cls) -> tuple[Param, ...]:
        """What ``coopbench tune`` searches (``SEARCH_SPACE``, docs/baselines/tuning.md)."""
        return SEARCH_SPACE

    def policies(self) -> dict[str, Policy]:
        named: dict[str, Policy] = {"global": GlobalPolicy(self.actor, self.device)}
        for k, net in self.students.items():
            named[f"local-{k}"] = LocalPolicy(net, self.device)
        return named

    # ------------------------------------------------------------ Algorithm 1
    def learn(self, env: TrainingEnv, hooks: Hooks) -> None:
        cfg, b = self.config, env.num_envs
        obs, _ = env.reset(seed=self.seed)
        state = env.state()
        recent: list[tuple[torch.Tensor, ...]] = []  # samples since the last iteration
        pending = 0  # env steps since the last learning iteration
        while env.remaining >= b:
            s = self._tensor(state)
            raw, action = self._explore(s)  # line 5: sample from π̃ on the global state
            next_obs, rewards, terminated, truncated, _ = env.step(action.cpu().numpy())
            next_state = env.state()
            self.buffer.add(  # line 7
                state=state,
                obs=obs,
                action=action.cpu().numpy(),
                reward=rewards.sum(axis=1),
                next_state=next_state,
                done=terminated.astype(np.float32),
            )
            recent.append((s, raw, action))
            self.env_steps += b
            pending += b
            if pending >= cfg.update_every:  # line 8: learning interval reached
                if self.buffer.written >= cfg.learning_starts:
                    self._iteration(pending // cfg.update_every, recent, hooks)
                recent, pending = [], pending % cfg.update_every
            if (terminated | truncated).all():
                if self.buffer.written >= cfg.learning_starts:  # lines 12-15
                    distilled = self._distill(b)
                    if distilled:
                        hooks.log(**distilled)
                obs, _ = env.reset()
                state = env.state()
            else:
                obs, state = next_obs, next_state

    def _iteration(self, grad_steps: int, recent: list, hooks: Hooks) -> None:
        """One learning iteration: σ by eq. 5, then Q (eq. 2) and π_θ (eq. 4)."""
        metrics: dict[str, float] = {}
        if self.config.fixed_sigma is None:
            metrics["alpha"] = alpha_at(self.env_steps, *self._alpha_schedule())
            metrics["loss_sigma"], metrics["sigma"] = self._update_sigma(recent, metrics["alpha"])
        for _ in range(grad_steps):
            sample = self.buffer.sample(self.config.batch_size, self.rng)
            batch = {k: self._tensor(v) for k, v in sample.items()}
            metrics["loss_q"] = self._update_critic(batch)
            metrics["loss_pi"] = self._update_actor(batch)
            soft_update(self.actor_target, self.actor, self.config.tau)
            soft_update(self.critic_target, self.critic, self.config.tau)
        if self.iterations % LOG_EVERY == 0:
            hooks.log(**metrics)
        self.iterations += 1

    # ------------------------------------------------------------ stage 1
    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(x, dtype=torch.float32, device=self.device)

    def _alpha_schedule(self) -> tuple[float, float, int]:
        cfg = self.config
        return cfg.alpha_start, cfg.alpha_end, cfg.alpha_anneal_steps

    def _sigma(self, state: torch.Tensor) -> torch.Tensor:
        """σ_ω(s) ``[..., N, A]`` (or the ablation's constant)."""
        cfg = self.config
        if cfg.fixed_sigma is not None:
            shape = (*state.shape[:-1], self.spec.n_agents, self.spec.n_actions)
            return state.new_full(shape, cfg.fixed_sigma)
        return bounded_sigma(self.sigma_net(state), cfg.sigma_min, cfg.sigma_max)

    def _noisy(self, mean: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        eps = torch.randn(mean.shape, generator=self.noise, device=mean.device)
        return mean + eps * sigma

    @torch.no_grad()
    def _explore(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(raw, executed)``: ``π_θ(s) + ε σ_ω(s)`` and its clip to the box [0, 1]."""
        raw = self._noisy(torch.sigmoid(self.actor(state)), self._sigma(state))
        return raw, raw.clamp(0.0, 1.0)

    def _update_sigma(self, recent: list, alpha: float) -> tuple[float, float]:
        """Eq. 5 on the samples since the last iteration, advantage Q(s,a) − Q(s, π_θ(s))."""
        s, raw, action = (torch.cat(x) for x in zip(*recent, strict=True))
        with torch.no_grad():
            mean = torch.sigmoid(self.actor(s))
            advantage = self.critic(s, action) - self.critic(s, mean)
        sigma = self._sigma(s)
        log_prob = gaussian_log_prob(raw, mean, sigma)
        loss = exploration_loss(log_prob, gaussian_entropy(sigma), advantage, alpha)
        clipped_step(self.sigma_opt, loss, self.config.grad_clip)
        return float(loss.detach()), float(sigma.detach().mean())

    def _update_critic(self, batch: dict[str, torch.Tensor]) -> float:
        """Eq. 2 with the stochastic target global policy at s'."""
        cfg = self.config
        with torch.no_grad():
            s2 = batch["next_state"]
            a2 = self._noisy(torch.sigmoid(self.actor_target(s2)), self._sigma(s2)).clamp(0, 1)
            not_done = 1.0 - batch["done"]
            y = batch["reward"] + cfg.gamma * not_done * self.critic_target(s2, a2)
        loss = (self.critic(batch["state"], batch["action"]) - y).square().mean()
        clipped_step(self.critic_opt, loss, cfg.grad_clip)
        return float(loss.detach())

    def _update_actor(self, batch: dict[str, torch.Tensor]) -> float:
        """Eq. 4: for each agent i, Q with a_i = π_θi(s) and the other actions from the batch."""
        n = self.spec.n_agents
        s, a = batch["state"], batch["action"]
        pre = self.actor(s)
        mine = torch.eye(n, device=s.device).view(n, 1, n, 1)  # [i, batch, agent, action]
        joint = mine * torch.sigmoid(pre).unsqueeze(0) + (1.0 - mine) * a.unsqueeze(0)
        q = self.critic(s.unsqueeze(0).expand(n, *s.shape), joint)  # [N, batch]
        loss = -q.mean(dim=1).sum() + self.config.actor_reg * pre.square().mean()
        clipped_step(self.actor_opt, loss, self.config.grad_clip)
        return float(loss.detach())

    # ------------------------------------------------------------ stage 2
    def _distill(self, num_envs: int) -> dict[str, float]:
        """Eq. 6 on every complete round of episodes written since the cursor, in the order a
        single env would have produced them (episode after episode), in ``distill_batch``
        mini-batches of consecutive samples, ``distill_repeats`` steps each."""
        cfg, losses = self.config, {}
        horizon = self.spec.max_cycles
        block = num_envs * horizon  # one round: horizon steps of num_envs worlds
        for chunk in self.buffer.ordered(self.distill_cursor, block):
            if len(chunk["state"]) < block:
                break  # an unfinished round waits
            # rows are [time, world]; episode order is [world, time]
            order = np.arange(block).reshape(horizon, num_envs).T.ravel()
            states, obs = self._tensor(chunk["state"][order]), self._tensor(chunk["obs"][order])
            with torch.no_grad():
                teacher = torch.sigmoid(self.actor(states))  # labels from the current π_θ
            n_batches = -(-block // cfg.distill_batch)
            for rows in torch.arange(block).tensor_split(n_batches):
                for k, student in self.students.items():  # local observations only
                    for _ in range(cfg.distill_repeats):
                        out = torch.sigmoid(student(obs[rows]))
                        loss = distillation_loss(teacher[rows], out)
                        clipped_step(self.student_opts[k], loss, cfg.grad_clip)
                    losses[f"loss_distill_{k}"] = float(loss.detach())
            self.distill_cursor += block
        return losses

    # ------------------------------------------------------------ checkpoints
    def _modules(self) -> dict[str, nn.Module]:
        modules = {
            "actor": self.actor,
            "actor_target": self.actor_target,
            "sigma": self.sigma_net,
            "critic": self.critic,
            "critic_target": self.critic_target,
        }
        modules.update({f"student_{k}": net for k, net in self.students.items()})
        return modules

    def save(self, path: str | Path) -> None:
        meta = {
            "algorithm": self.name,
            "task_id": self.spec.task_id,
            "config": asdict(self.config),
            "env_steps": self.env_steps,
            "distill_cursor": self.distill_cursor,
        }
        save_checkpoint(path, self._modules(), meta)

    def load(self, path: str | Path) -> None:
        try:
            meta = load_checkpoint(path, self._modules())
        except RuntimeError as exc:  # state dicts of another task or config
            raise ValueError(f"checkpoint {str(path)!r} does not fit this CTEDD: {exc}") from None
        if meta.get("algorithm") != self.name or meta.get("task_id") != self.spec.task_id:
            raise ValueError(
                f"checkpoint {str(path)!r} is {meta.get('algorithm')!r} on "
                f"{meta.get('task_id')!r}; expected {self.name!r} on {self.spec.task_id!r}"
            )
        self.env_steps = int(meta["env_steps"])
        self.distill_cursor = int(meta["distill_cursor"])


def _sigma_suffix(config: CTEDDConfig) -> str:
    return "" if config.fixed_sigma is None else f" (σ={config.fixed_sigma:g})"


# Tuning search space around the quick preset (coopbench tune).
SEARCH_SPACE: tuple[Param, ...] = (
    log_uniform("lr", 1e-3, 2e-2),
    log_uniform("tau", 1e-3, 5e-2),
    categorical("batch_size", 256, 512, 1024),
    integer("update_every", 10, 100, log=True),
    integer("learning_starts", 1_000, 25_600, log=True),  # as MADDPG's: both may start early
    log_uniform("alpha_start", 0.01, 0.3),
    uniform("gamma", 0.9, 0.99),
    log_uniform("distill_lr", 1e-3, 2e-2),
)
