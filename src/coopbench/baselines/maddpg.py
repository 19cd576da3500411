"""MADDPG (Lowe et al. 2017) with optional message channels: MADDPG, MADDPG-1, MADDPG-3.

The baseline of the CTEDD paper (Chen 2019, "Centralized Training and Exploration with
Decentralized Execution via Policy Distillation", §5, §5.2), with the defaults of the
reference code openai/maddpg:

- **actors**: decentralised local policies ``CommPolicyNet`` (CTEDD §4.2, fig. 2):
  agent i's action is computed from its own observation and the ``comm_dim``-value
  messages of the other agents, exchanged within the time step; gradients of the
  actor loss flow through the messages into the senders' message heads.
- **critics**: one centralised critic per agent, ``Q_i(x, a_1..a_N)``, on all
  agents' observations (``critic_input="obs"``, MADDPG's choice) or the global
  state (``"state"``), plus all actions; 64×64 ReLU layers (§5.2).
- **critic update** (Lowe et al. eq. 6): ``y_i = r_i + γ (1 - done) Q'_i(x', μ'(o'))``
  with target networks, squared error.
- **actor update** (eq. 5 / CTEDD eq. 4): maximise ``Q_i(x, a_1, .., μ_i(o_i, m), .., a_N)``
  with the other agents' stored actions, plus openai/maddpg's ``1e-3 · mean(raw²)``
  penalty on the actor's raw outputs.
- **discrete actions**: Gumbel-softmax relaxed samples (temperature 1) — the critic
  sees the relaxed vectors, the env gets their argmax; evaluation takes the argmax
  of the logits. **continuous actions**: ``sigmoid`` keeps actions in MPE's box
  ``[0, 1]^5``; exploration adds Gaussian noise of std ``noise_std`` (clipped to the
  box); the target actor and evaluation are noiseless (DDPG). openai/maddpg samples
  a diagonal Gaussian policy instead; we use the deterministic actor of DDPG that
  CTEDD eq. 4 describes.
- **schedule**: openai/maddpg updates once every 100 env steps once 1024×25
  transitions are stored. With ``num_envs`` worlds per step call we keep that
  ratio — ``num_envs / update_every`` updates per step call (one per call for
  the default 100 worlds), i.e. one update per 100 collected transitions.

Episodes end only at the horizon (truncation): stored ``done`` is the env's
``terminated`` (always False here), so targets bootstrap through the time limit.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from coopbench.algorithms.base import Algorithm, Hooks, Policy, TrainingEnv
from coopbench.algorithms.checkpoint import load_checkpoint, save_checkpoint
from coopbench.algorithms.comm import CommPolicyNet
from coopbench.algorithms.critics import CentralCritics, clip_grad_norm_per_agent
from coopbench.algorithms.gumbel import gumbel_softmax
from coopbench.algorithms.networks import adam, seed_everything, soft_update
from coopbench.algorithms.replay import ReplayBuffer
from coopbench.algorithms.search_space import Param, categorical, integer, log_uniform, uniform
from coopbench.envs import TaskSpec
from coopbench.validation import check_int

CRITIC_INPUTS = ("obs", "state")


@dataclass
class MADDPGConfig:
    """Hyper-parameters; defaults are the paper's (§5.2) / openai/maddpg's."""

    num_envs: int = 100  # worlds stepped together (openai/maddpg: 1)
    comm_dim: int = 0  # message values per agent: 0 MADDPG, 1 MADDPG-1, 3 MADDPG-3 (§5)
    actor_hidden: tuple[int, ...] | None = None  # None: (64, 64) if comm_dim == 0
    # (openai/maddpg's actor), (64,) with messages (CTEDD fig. 2 part 2, §5.2)
    message_hidden: tuple[int, ...] = (64,)  # message head (part 1), one 64 layer (§5.2)
    critic_hidden: tuple[int, ...] = (64, 64)  # centralised critic, 64×64 (§5.2)
    critic_input: str = "obs"  # "obs": all observations (MADDPG); "state": env.state()
    actor_lr: float = 0.01  # Adam (§5.2, openai/maddpg)
    critic_lr: float = 0.01  # Adam (§5.2, openai/maddpg)
    gamma: float = 0.95  # discount (§5.2)
    tau: float = 0.01  # Polyak rate of the target networks (openai/maddpg)
    batch_size: int = 1024  # mini-batch (§5.2)
    buffer_size: int = 1_000_000  # replay capacity (openai/maddpg)
    learning_starts: int = 25_600  # stored transitions before updates: 1024 × 25
    update_every: float = 100.0  # collected transitions per update (openai/maddpg: 100)
    grad_clip: float = 0.5  # per-agent, per-variable gradient norm clip (openai/maddpg)
    actor_reg: float = 1e-3  # weight of mean(raw actor output²) (openai/maddpg)
    temperature: float = 1.0  # Gumbel-softmax temperature, discrete actions (openai/maddpg)
    noise_std: float = 0.1  # Gaussian exploration noise in [0, 1] units, continuous actions


class MADDPGPolicy:
    """Deterministic decentralised execution *with communication*: each agent's action
    from its own observation and the messages the agents exchange (argmax / noiseless)."""

    centralised = False

    def __init__(self, actor: CommPolicyNet, continuous: bool, device: str) -> None:
        self.actor, self.continuous, self.device = actor, continuous, device

    @torch.no_grad()
    def __call__(self, obs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        raw = self.actor(torch.as_tensor(obs, dtype=torch.float32, device=self.device))
        if self.continuous:
            return torch.sigmoid(raw).cpu().numpy()
        return raw.argmax(dim=-1).cpu().numpy()


class MADDPG(Algorithm):
    """MADDPG with ``comm_dim``-value message channels between the local policies."""

    name: ClassVar[str] = "maddpg"
    display_name: ClassVar[str] = "MADDPG"
    Config = MADDPGConfig

    def __init__(self, spec: TaskSpec, config: MADDPGConfig, seed: int, device: str = "cpu"):
        super().__init__(spec, config, seed, device)
        c = config
        if c.critic_input not in CRITIC_INPUTS:
            raise ValueError(f"critic_input={c.critic_input!r}; expected one of {CRITIC_INPUTS}")
        for field in ("num_envs", "batch_size", "buffer_size"):
            check_int(getattr(c, field), field)
        if c.update_every <= 0:
            raise ValueError(f"update_every={c.update_every} is invalid; expected > 0")
        seed_everything(seed)
        n, a = spec.n_agents, spec.n_actions
        self.actor = CommPolicyNet(
            n, spec.obs_dim, a, c.comm_dim, self.actor_hidden(c), tuple(c.message_hidden)
        ).to(device)
        context = n * spec.obs_dim if c.critic_input == "obs" else spec.state_dim
        self.critic = CentralCritics(n, context, a, c.critic_hidden).to(device)
        self.target_actor = copy.deepcopy(self.actor).requires_grad_(False)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_opt = adam(self.actor.parameters(), device, lr=c.actor_lr)
        self.critic_opt = adam(self.critic.parameters(), device, lr=c.critic_lr)
        self.gen = torch.Generator(device).manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.updates = 0
        self.buffer: ReplayBuffer | None = None  # the replay memory of the last learn()

    @staticmethod
    def actor_hidden(config: MADDPGConfig) -> tuple[int, ...]:
        if config.actor_hidden is not None:
            return tuple(config.actor_hidden)
        return (64, 64) if config.comm_dim == 0 else (64,)

    @classmethod
    def label(cls, config: MADDPGConfig) -> str:
        return "MADDPG" if config.comm_dim == 0 else f"MADDPG-{config.comm_dim}"

    @classmethod
    def preset(cls, task_id: str, tier: str) -> dict[str, Any]:
        """Quick tier (100k env steps): earlier and more frequent updates (see
        docs/baselines/maddpg.md); standard tier: the reference settings."""
        if tier not in ("quick", "standard"):
            raise ValueError(f"tier={tier!r}; expected 'quick' or 'standard'")
        if tier == "standard":
            return {}
        return dict(QUICK_PRESET)

    @classmethod
    def search_space(cls) -> tuple[Param, ...]:
        """What ``coopbench tune`` searches (``SEARCH_SPACE``, docs/baselines/tuning.md)."""
        return SEARCH_SPACE

    # ------------------------------------------------------------------ acting
    def _actions(self, raw: torch.Tensor, explore: bool) -> torch.Tensor:
        """Action vectors the critic sees: relaxed one-hots or box points."""
        if not self.spec.continuous_actions:
            return gumbel_softmax(raw, self.config.temperature, self.gen)
        act = torch.sigmoid(raw)
        if explore:
            noise = torch.randn(act.shape, generator=self.gen, device=act.device)
            act = (act + self.config.noise_std * noise).clamp(0.0, 1.0)
        return act

    def _context(self, obs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return obs.flatten(-2) if self.config.critic_input == "obs" else state

    # ---------------------------------------------------------------- training
    def learn(self, env: TrainingEnv, hooks: Hooks) -> None:
        c, spec, b = self.config, self.spec, env.num_envs
        n, a = spec.n_agents, spec.n_actions
        capacity = max(b, min(int(c.buffer_size), env.steps_taken + env.remaining))
        self.buffer = buffer = ReplayBuffer(
            capacity,
            {
                "obs": ((n, spec.obs_dim), np.float32),
                "state": ((spec.state_dim,), np.float32),
                "act": ((n, a), np.float32),
                "rew": ((n,), np.float32),
                "next_obs": ((n, spec.obs_dim), np.float32),
                "next_state": ((spec.state_dim,), np.float32),
                "done": ((), np.float32),
            },
        )
        obs, _ = env.reset(seed=self.seed)
        state = env.state()
        due = 0.0  # updates owed at one per `update_every` collected transitions
        logged = 0
        while not env.exhausted:
            with torch.no_grad():
                act = self._actions(self.actor(torch.as_tensor(obs, device=self.device)), True)
            act_np = act.cpu().numpy()
            env_act = act_np if spec.continuous_actions else act_np.argmax(-1)
            next_obs, rew, term, trunc, _ = env.step(env_act)
            next_state = env.state()
            buffer.add(
                obs=obs, state=state, act=act_np, rew=rew, next_obs=next_obs,
                next_state=next_state, done=term.astype(np.float32),
            )  # fmt: skip
            obs, state = next_obs, next_state
            if (term | trunc).all() and not env.exhausted:
                obs, _ = env.reset()
                state = env.state()
            if len(buffer) >= c.learning_starts:
                due += b / c.update_every
                while due >= 1.0:
                    metrics = self.update(buffer.sample(c.batch_size, self.rng))
                    due -= 1.0
                if self.updates // 100 > logged:  # diagnostics every 100 updates
                    logged = self.updates // 100
                    hooks.log(**metrics)

    def update(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """One MADDPG update of every agent's critic and actor on a shared mini-batch."""
        c = self.config
        t = {k: torch.as_tensor(v, device=self.device) for k, v in batch.items()}
        x = self._context(t["obs"], t["state"])
        y = self.targets(t)
        critic_loss = ((self.critic(x, t["act"]) - y) ** 2).mean(0).sum()
        self.critic_opt.zero_grad()
        critic_loss.backward()
        clip_grad_norm_per_agent(self.critic, c.grad_clip)
        self.critic_opt.step()

        raw = self.actor(t["obs"])  # messages exchanged inside, gradients flow through them
        self.critic.requires_grad_(False)  # gradients reach the actions, not critic weights
        q = self.critic.with_own(x, t["act"], self._actions(raw, explore=False))
        self.critic.requires_grad_(True)
        actor_loss = -q.mean(0).sum() + c.actor_reg * (raw**2).mean((0, 2)).sum()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        clip_grad_norm_per_agent(self.actor, c.grad_clip)
        self.actor_opt.step()

        soft_update(self.target_actor, self.actor, c.tau)
        soft_update(self.target_critic, self.critic, c.tau)
        self.updates += 1
        return {"critic_loss": critic_loss.item(), "actor_loss": actor_loss.item()}

    @torch.no_grad()
    def targets(self, t: dict[str, torch.Tensor]) -> torch.Tensor:
        """Critic targets ``[B, N]`` of a batch, from the target actor and target critics."""
        next_act = self._actions(self.target_actor(t["next_obs"]), explore=False)
        next_q = self.target_critic(self._context(t["next_obs"], t["next_state"]), next_act)
        return critic_target(t["rew"], t["done"], next_q, self.config.gamma)

    # ------------------------------------------------------------ evaluation
    def policies(self) -> dict[str, Policy]:
        return {"default": MADDPGPolicy(self.actor, self.spec.continuous_actions, self.device)}

    def _modules(self) -> dict[str, torch.nn.Module]:
        return {
            "actor": self.actor,
            "critic": self.critic,
            "target_actor": self.target_actor,
            "target_critic": self.target_critic,
        }

    def save(self, path: str | Path) -> None:
        meta = {"algorithm": self.name, "config": asdict(self.config), "updates": self.updates}
        save_checkpoint(path, self._modules(), meta)

    def load(self, path: str | Path) -> None:
        meta = load_checkpoint(path, self._modules())
        self.updates = int(meta.get("updates", 0))


def critic_target(
    rew: torch.Tensor, done: torch.Tensor, next_q: torch.Tensor, gamma: float
) -> torch.Tensor:
    """``y_i = r_i + γ (1 - done) Q'_i(x', μ'(o'))`` (Lowe et al. eq. 6): ``rew``/``next_q``
    ``[B, N]``, ``done [B]`` (1 only at a true termination; truncation bootstraps)."""
    return rew + gamma * (1.0 - done).unsqueeze(-1) * next_q


QUICK_PRESET: dict[str, Any] = {  # tuned on spread and cn-v1 (docs/baselines/maddpg.md)
    "learning_starts": 5_000,  # reference 25,600 leaves only 744 updates in 100k steps
    "update_every": 25.0,  # 4 updates per 100 transitions (reference: 1)
    "batch_size": 256,  # reference 1024; 4x cheaper updates, better at this budget
}


# Tuning search space around the quick preset (coopbench tune).
SEARCH_SPACE: tuple[Param, ...] = (
    log_uniform("actor_lr", 1e-3, 3e-2),
    log_uniform("critic_lr", 1e-3, 3e-2),
    log_uniform("tau", 1e-3, 5e-2),
    categorical("batch_size", 128, 256, 512, 1024),
    log_uniform("update_every", 10.0, 100.0),
    integer("learning_starts", 1_000, 25_600, log=True),
    uniform("gamma", 0.9, 0.99),
)
