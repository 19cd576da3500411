"""Centralised per-agent critics and per-agent gradient clipping (MADDPG, Lowe et al. 2017).

``CentralCritics`` holds one critic ``Q_i(x, a_1, ..., a_N)`` per agent (separate
parameters, no sharing) evaluated together in one ``einsum`` through
``AgentMLP``; ``x`` is the centralised context — all agents' observations
concatenated, or the global ``state()``. ``with_own`` evaluates every critic
``i`` at the joint action where slot ``i`` holds agent ``i``'s fresh action and
the other slots hold the stored ones: the input of MADDPG's actor update
(Lowe et al. eq. 5; CTEDD eq. 4) for all agents at once.

``clip_grad_norm_per_agent`` is openai/maddpg's ``minimize_and_clip``: every
variable's gradient is clipped to norm ``max_norm`` separately, and with
per-agent parameters stacked on a leading agent axis each agent's slice counts
as its own variable.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from coopbench.algorithms.comm import AgentMLP


class CentralCritics(nn.Module):
    """N critics on ``[context, all actions]`` with ``hidden`` ReLU layers (64×64 in MADDPG)."""

    def __init__(
        self, n_agents: int, context_dim: int, action_dim: int, hidden: Sequence[int] = (64, 64)
    ) -> None:
        super().__init__()
        self.n_agents, self.context_dim, self.action_dim = n_agents, context_dim, action_dim
        self.net = AgentMLP(n_agents, context_dim + n_agents * action_dim, tuple(hidden), 1)
        self.register_buffer("own", torch.eye(n_agents, dtype=torch.bool)[..., None])

    def _q(self, context: torch.Tensor, joint: torch.Tensor) -> torch.Tensor:
        """``context [..., C]``, ``joint [..., N, N*A]`` (one joint action per critic)."""
        ctx = context.unsqueeze(-2).expand(*joint.shape[:-1], self.context_dim)
        return self.net(torch.cat([ctx, joint], dim=-1)).squeeze(-1)

    def forward(self, context: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``Q_i(x, a)`` for every agent: ``context [..., C]``, ``actions [..., N, A]`` →
        ``[..., N]``."""
        joint = actions.flatten(-2).unsqueeze(-2).expand(*actions.shape[:-1], -1)
        return self._q(context, joint)

    def with_own(
        self, context: torch.Tensor, actions: torch.Tensor, own: torch.Tensor
    ) -> torch.Tensor:
        """``Q_i(x, a_1, .., own_i, .., a_N)`` for every agent i → ``[..., N]``."""
        joint = torch.where(self.own, own.unsqueeze(-3), actions.unsqueeze(-3))  # [..., N, N, A]
        return self._q(context, joint.flatten(-2))


@torch.no_grad()
def clip_grad_norm_per_agent(module: nn.Module, max_norm: float) -> None:
    """Clip each agent's slice of each parameter's gradient to L2 norm ``max_norm``.

    Parameters must carry the agent axis first (``AgentLinear`` weights ``[N, in,
    out]`` and biases ``[N, out]``), as openai/maddpg clips every agent's
    variables separately (``tf.clip_by_norm`` per variable).
    """
    for p in module.parameters():
        if p.grad is None:
            continue
        norm = p.grad.flatten(1).norm(dim=1).view(-1, *([1] * (p.grad.dim() - 1)))
        p.grad.mul_((max_norm / norm.clamp_min(1e-12)).clamp(max=1.0))
