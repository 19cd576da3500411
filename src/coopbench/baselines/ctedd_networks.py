"""CTEDD's networks and losses (Chen 2019, §3-4): the mixed global policy, the critic,
eq. 5's maximum-entropy exploration loss, eq. 6's distillation loss, α's schedule, the
MADDPG-style clipped optimiser step and the two evaluated policy kinds.

Kept apart from ``ctedd.py`` (the algorithm and its training loop) so that each loss
is a small pure function that the tests check against hand-computed numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from coopbench.algorithms.comm import AgentMLP, CommPolicyNet
from coopbench.algorithms.networks import mlp

HALF_LOG_2PI_E = 0.5 * math.log(2.0 * math.pi * math.e)  # Gaussian entropy per unit log σ = 0


class GlobalPolicyNet(nn.Module):
    """Figure 1: one shared global layer on the full state, then one local head per agent.

    ``forward(state [..., state_dim]) -> [..., N, out_dim]`` raw outputs. ``shared``
    (``state_dim -> global_hidden``, ReLU) is a single module whose output feeds every
    agent's head, so the global layer is one set of parameters used by all agents;
    ``heads`` holds N independent ``global_hidden -> local_hidden... -> out_dim`` MLPs
    (one batched einsum, ``comm.AgentMLP``). The deterministic part π_θ and the
    stochastic part σ_ω are two instances of this class (the paper's "symmetric design").
    """

    def __init__(
        self,
        n_agents: int,
        state_dim: int,
        out_dim: int,
        global_hidden: int = 64,
        local_hidden: Sequence[int] = (64,),
    ) -> None:
        super().__init__()
        self.n_agents = n_agents
        self.shared = nn.Sequential(nn.Linear(state_dim, global_hidden), nn.ReLU())
        self.heads = AgentMLP(n_agents, global_hidden, local_hidden, out_dim)

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        h = self.shared(state)  # [..., global_hidden], computed once for all agents
        h = h.unsqueeze(-2).expand(*h.shape[:-1], self.n_agents, h.shape[-1])
        return self.heads(h)


class CentralCritic(nn.Module):
    """The centralised Q-network ``Q(s, a_1..a_N)`` (§3.2, eq. 2): an MLP, 64×64 in §5.2."""

    def __init__(
        self, state_dim: int, n_agents: int, action_dim: int, hidden: Sequence[int] = (64, 64)
    ) -> None:
        super().__init__()
        self.net = mlp(state_dim + n_agents * action_dim, hidden, 1)

    def forward(self, state: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``state [..., S]``, ``actions [..., N, A]`` -> ``Q [...]``."""
        return self.net(torch.cat([state, actions.flatten(-2)], dim=-1)).squeeze(-1)


def bounded_sigma(raw: torch.Tensor, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """σ_ω(s) = ``sigma_min + (sigma_max - sigma_min)·sigmoid(raw)``."""
    return sigma_min + (sigma_max - sigma_min) * torch.sigmoid(raw)


def gaussian_log_prob(
    action: torch.Tensor, mean: torch.Tensor, sigma: torch.Tensor
) -> torch.Tensor:
    """``log π̃_i(s, a_i)`` of a diagonal Gaussian, summed over the action's last axis."""
    z = (action - mean) / sigma
    return (-0.5 * z.square() - sigma.log() - 0.5 * math.log(2.0 * math.pi)).sum(-1)


def gaussian_entropy(sigma: torch.Tensor) -> torch.Tensor:
    """Shannon entropy ``H(π̃_i(s, ·)) = Σ_k (½ log(2πe) + log σ_k)`` over the last axis."""
    return (HALF_LOG_2PI_E + sigma.log()).sum(-1)


def exploration_loss(
    log_prob: torch.Tensor, entropy: torch.Tensor, advantage: torch.Tensor, alpha: float
) -> torch.Tensor:
    """Eq. 5 as a loss to minimise (its ascent direction, negated).

    ``log_prob``/``entropy`` ``[B, N]`` (agent i's ``log π̃_i(s, a_i)`` and ``H(π̃_i(s, ·))``,
    the paper's simplification of the joint terms), ``advantage [B]`` =
    ``Q(s, a) - Q(s, π_θ(s))`` (no gradient). Both terms are averaged over the batch:
    ``-(1/|B|) Σ_B Σ_i [log π̃_i · A + α H_i]``.
    """
    per_agent = log_prob * advantage.unsqueeze(-1) + alpha * entropy
    return -per_agent.sum(-1).mean()


def distillation_loss(teacher: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
    """Eq. 6: ``(1/|B|) Σ_B Σ_i ||π_θi(s) - π̂_θ'i(o_i, m)||²`` for ``[B, N, A]`` actions."""
    return (teacher - student).square().sum(dim=(-2, -1)).mean()


def alpha_at(step: int, start: float, end: float, anneal_steps: int) -> float:
    """Entropy weight α after ``step`` sampling steps (§5.2): linear from ``start`` to ``end``
    over ``anneal_steps``, then held at ``end``."""
    frac = min(max(step, 0) / anneal_steps, 1.0)
    return start + frac * (end - start)


class GlobalPolicy:
    """CTEDD-G: the deterministic part of the global policies; reads the global state."""

    centralised = True

    def __init__(self, net: GlobalPolicyNet, device: str) -> None:
        self.net, self.device = net, device

    @torch.no_grad()
    def __call__(self, obs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        if state is None:
            raise ValueError("CTEDD-G uses the global state; call policy(obs, state)")
        s = torch.as_tensor(state, dtype=torch.float32, device=self.device)
        return torch.sigmoid(self.net(s)).cpu().numpy()


class LocalPolicy:
    """CTEDD-L-k: a distilled communicating student; never reads the global state."""

    centralised = False

    def __init__(self, net: CommPolicyNet, device: str) -> None:
        self.net, self.device = net, device

    @torch.no_grad()
    def __call__(self, obs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        return torch.sigmoid(self.net(o)).cpu().numpy()


def clipped_step(opt: torch.optim.Optimizer, loss: torch.Tensor, clip: float) -> None:
    """Adam step with each gradient tensor's norm clipped to ``clip`` separately
    (openai/maddpg's ``minimize_and_clip``), vectorised over the tensors."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    grads = [p.grad for group in opt.param_groups for p in group["params"] if p.grad is not None]
    norms = torch.stack([torch.linalg.vector_norm(g) for g in grads])
    scale = (clip / (norms + 1e-6)).clamp(max=1.0)
    torch._foreach_mul_(grads, list(scale.unbind()))
    opt.step()
