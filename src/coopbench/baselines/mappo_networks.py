"""MAPPO's networks and evaluation policies: the feed-forward actor and rMAPPO's GRU actor.

Both actors share the action distribution (``ActionDistribution``): logits for discrete
actions; for continuous ones a diagonal Gaussian with a learned, state-independent log-std
around ``0.5 + out`` (the centre of MPE's box [0, 1]^5).

rMAPPO (Yu et al. 2022, "The Surprising Effectiveness of PPO in Cooperative Multi-Agent
Games", the recurrent variant of their code): the actor's MLP features feed a GRU whose
output, layer-normalised, feeds the action head; the GRU's hidden state starts at zeros at
every episode start. ``RecurrentActorPolicy`` follows the optional recurrent-policy
protocol of docs/contracts.md (``initial_state`` + ``policy(obs, hidden=h) -> (actions,
h)``), so the evaluation carries the hidden state from step to step and resets it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from coopbench.algorithms.networks import agent_one_hot, mlp
from coopbench.envs import TaskSpec

if TYPE_CHECKING:
    from coopbench.baselines.mappo import MAPPOConfig

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}


def network(in_dim: int, out_dim: int, cfg: MAPPOConfig, out_gain: float) -> nn.Module:
    """Paper's MLP: input LayerNorm, ``layers`` × ``hidden`` units, orthogonal initialisation."""
    act = ACTIVATIONS[cfg.activation]
    body = mlp(in_dim, [cfg.hidden] * cfg.layers, out_dim, activation=act, out_gain=out_gain)
    return nn.Sequential(nn.LayerNorm(in_dim), body) if cfg.feature_norm else body


class ActionDistribution(nn.Module):
    """The action distribution over an actor's output ``out`` (shared by both actors)."""

    continuous: bool

    def _init_distribution(self, n_actions: int, cfg: MAPPOConfig, continuous: bool) -> None:
        """Call after the network is built (keeps the parameters' order of older checkpoints)."""
        self.continuous = continuous
        if continuous:
            self.log_std = nn.Parameter(torch.full((n_actions,), float(cfg.log_std_init)))

    def _centre(self, out: torch.Tensor) -> torch.Tensor:
        return out + 0.5 if self.continuous else out  # mean centred in the box [0, 1]

    def _mode(self, out: torch.Tensor) -> torch.Tensor:
        return out.clamp(0.0, 1.0) if self.continuous else out.argmax(-1)

    def _sample(self, out: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A sampled action (unclipped if continuous) and its log-probability."""
        if self.continuous:
            noise = torch.randn(out.shape, generator=gen, device=out.device)
            action = out + self.log_std.exp() * noise
        else:
            probs = F.softmax(out, -1).reshape(-1, out.shape[-1])
            action = torch.multinomial(probs, 1, generator=gen).reshape(out.shape[:-1])
        return action, self._log_prob_entropy(out, action)[0]

    def _log_prob_entropy(
        self, out: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.continuous:
            dist = torch.distributions.Normal(out, self.log_std.exp().expand_as(out))
            return dist.log_prob(action).sum(-1), dist.entropy().sum(-1)
        logp = F.log_softmax(out, -1)
        chosen = logp.gather(-1, action.long().unsqueeze(-1)).squeeze(-1)
        return chosen, -(logp.exp() * logp).sum(-1)


class Actor(ActionDistribution):
    """Shared feed-forward actor: logits (discrete) or the Gaussian mean (continuous)."""

    def __init__(self, in_dim: int, n_actions: int, cfg: MAPPOConfig, continuous: bool) -> None:
        super().__init__()
        self.net = network(in_dim, n_actions, cfg, out_gain=0.01)
        self._init_distribution(n_actions, cfg, continuous)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._centre(self.net(x))

    def mode(self, x: torch.Tensor) -> torch.Tensor:
        return self._mode(self(x))

    def sample(self, x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A sampled action (unclipped if continuous) and its log-probability."""
        return self._sample(self(x), gen)

    def evaluate(self, x: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability and entropy of stored actions under the current parameters."""
        return self._log_prob_entropy(self(x), action)


class RecurrentActor(ActionDistribution):
    """rMAPPO's actor: [LayerNorm] → MLP (``layers`` × ``hidden``) → GRU → LayerNorm → head.

    ``forward(x [..., in], h [..., hidden]) -> (out [..., A], h' [..., hidden])``: one step
    for any leading shape; ``evaluate`` unrolls it over ``[L, S]`` sequences.
    """

    def __init__(self, in_dim: int, n_actions: int, cfg: MAPPOConfig, continuous: bool) -> None:
        super().__init__()
        act = ACTIVATIONS[cfg.activation]
        hidden = self.hidden_size = cfg.hidden
        body = mlp(in_dim, [hidden] * (cfg.layers - 1), hidden, act, out_gain=math.sqrt(2.0))
        self.features = nn.Sequential(
            *([nn.LayerNorm(in_dim)] if cfg.feature_norm else []), body, act()
        )
        self.gru = nn.GRUCell(hidden, hidden)
        for name, param in self.gru.named_parameters():  # the rMAPPO code's initialisation
            if name.startswith("weight"):
                nn.init.orthogonal_(param)
            else:
                nn.init.zeros_(param)
        self.gru_norm = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, n_actions)
        nn.init.orthogonal_(self.head.weight, 0.01)
        nn.init.zeros_(self.head.bias)
        self._init_distribution(n_actions, cfg, continuous)

    def initial_state(self, *shape: int) -> torch.Tensor:
        """The episode-start hidden state ``[*shape, hidden]``: zeros."""
        return torch.zeros(*shape, self.hidden_size, device=self.head.weight.device)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lead = x.shape[:-1]
        feats = self.features(x).reshape(-1, self.hidden_size)
        h = self.gru(feats, h.reshape(-1, self.hidden_size)).reshape(*lead, self.hidden_size)
        return self._centre(self.head(self.gru_norm(h))), h

    def mode(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, h = self(x, h)
        return self._mode(out), h

    def sample(
        self, x: torch.Tensor, h: torch.Tensor, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A sampled action, its log-probability and the next hidden state."""
        out, h = self(x, h)
        return (*self._sample(out, gen), h)

    def evaluate(
        self, x: torch.Tensor, action: torch.Tensor, h0: torch.Tensor, start: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities and entropies ``[L, S]`` of stored actions along sequences
        ``x [L, S, in]`` that begin in hidden state ``h0 [S, hidden]``; the state is zeroed
        before every step where ``start [L, S]`` marks an episode's first step."""
        outs, h = [], h0
        for t in range(x.shape[0]):
            h = h * (~start[t]).unsqueeze(-1)
            out, h = self(x[t], h)
            outs.append(out)
        return self._log_prob_entropy(torch.stack(outs), action)


class SharedActorPolicy:
    """Deterministic decentralised policy: agent i's action from agent i's observation."""

    centralised = False

    def __init__(self, actor: nn.Module, spec: TaskSpec, agent_id: bool, device: str) -> None:
        self.actor, self.spec, self.agent_id, self.device = actor, spec, agent_id, device

    def actor_input(self, obs: np.ndarray) -> torch.Tensor:
        """``obs [B, N, obs_dim]`` checked, as a tensor (with the agent ids if configured)."""
        arr = np.asarray(obs)
        expected = (self.spec.n_agents, self.spec.obs_dim)
        if arr.ndim != 3 or arr.shape[1:] != expected:
            raise ValueError(f"observations must have shape [B, *{expected}]; got {arr.shape}")
        x = torch.as_tensor(arr, dtype=torch.float32, device=self.device)
        if self.agent_id:
            x = torch.cat([x, agent_one_hot(x.shape[0], x.shape[1], self.device)], -1)
        return x

    @torch.no_grad()
    def __call__(self, obs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        return self.actor.mode(self.actor_input(obs)).cpu().numpy()


class RecurrentActorPolicy(SharedActorPolicy):
    """The GRU actor's deterministic policy, a recurrent policy (docs/contracts.md): the
    evaluation calls ``initial_state(B)`` at every episode start and then
    ``policy(obs, hidden=h) -> (actions, h')``, passing back the state it returned."""

    actor: RecurrentActor

    def initial_state(self, batch: int) -> torch.Tensor:
        """Hidden state ``[batch, N, hidden]`` of every agent at an episode start (zeros)."""
        return self.actor.initial_state(batch, self.spec.n_agents)

    @torch.no_grad()
    def __call__(  # type: ignore[override]
        self, obs: np.ndarray, state: np.ndarray | None = None, *, hidden: torch.Tensor
    ) -> tuple[np.ndarray, torch.Tensor]:
        x = self.actor_input(obs)
        expected = (x.shape[0], self.spec.n_agents, self.actor.hidden_size)
        if not isinstance(hidden, torch.Tensor) or tuple(hidden.shape) != expected:
            got = tuple(hidden.shape) if isinstance(hidden, torch.Tensor) else type(hidden)
            raise ValueError(
                f"hidden must be a tensor of shape {expected} (from initial_state); got {got}"
            )
        action, hidden = self.actor.mode(x, hidden)
        return action.cpu().numpy(), hidden
