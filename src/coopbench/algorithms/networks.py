"""Small torch building blocks shared by the baselines."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn


def mlp(
    in_dim: int,
    hidden: Sequence[int],
    out_dim: int,
    activation: type[nn.Module] = nn.ReLU,
    out_gain: float | None = None,
) -> nn.Sequential:
    """``in -> hidden... -> out`` with ``activation`` between layers.

    ``out_gain`` set: orthogonal initialisation (gain sqrt(2) on hidden layers,
    ``out_gain`` on the last), as in the PPO/MAPPO implementations; ``None``
    keeps torch's default initialisation (as MADDPG's reference code does).
    """
    sizes = [in_dim, *hidden, out_dim]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        linear = nn.Linear(a, b)
        if out_gain is not None:
            last = i == len(sizes) - 2
            nn.init.orthogonal_(linear.weight, out_gain if last else float(np.sqrt(2.0)))
            nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def agent_one_hot(batch: int, n_agents: int, device: str | torch.device = "cpu") -> torch.Tensor:
    """``[batch, N, N]`` agent-id one-hots, appended to observations for shared networks."""
    return torch.eye(n_agents, device=device).expand(batch, n_agents, n_agents)


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA) for reproducible runs; numpy generators are passed explicitly."""
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """Polyak averaging ``θ' ← τ θ + (1 − τ) θ'`` (MADDPG/DDPG target networks; τ = 1 copies)."""
    for t, s in zip(target.parameters(), source.parameters(), strict=True):
        t.lerp_(s, tau)


def adam(params: Any, device: str | torch.device, **kwargs: Any) -> torch.optim.Adam:
    """Adam with the fused kernel where torch has one (CPU, CUDA): one kernel for every
    tensor instead of a dozen small ops per step — ~15 % of a MAPPO update on one CPU core
    (docs/speed.md). Elsewhere torch's default implementation."""
    fused = torch.device(device).type in {"cpu", "cuda"}
    return torch.optim.Adam(params, fused=fused, **kwargs)
