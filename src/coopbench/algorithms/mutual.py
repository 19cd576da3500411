"""Mutual Q-learning core (Reid, thesis ch. 2): the mutual loss and its weight schedule.

m Q-estimators are trained on the same replay samples; estimator i minimises its TD
error (eq. 2.1) plus ``C/(m-1) Σ_k D(Q_i, Q_k)`` with D the mean squared difference of
the two estimators' values on the sampled (s, a) (eq. 2.2-2.3). C is a constant or
the mirrored sigmoid ω of eq. 2.4. The thesis does not say whether Q_k is a fixed
target inside D; ``detach_others=True`` treats it as one (each estimator is pulled
towards the others), ``False`` differentiates through both sides of every pair.

``BatchedMLP`` holds K independent small networks as batched weights, so many
estimators (and many independent trials) train in one ``torch.bmm`` per layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def omega(step: float | np.ndarray, mu: float, sigma: float) -> float | np.ndarray:
    """Mirrored sigmoid ``ω(i; μ, σ) = 1 − 1/(1 + exp((−i + μ)/σ))`` (eq. 2.4), in (0, 1)."""
    if sigma <= 0:
        raise ValueError(f"sigma={sigma} is invalid; expected a positive width")
    z = np.clip((np.asarray(step, dtype=np.float64) - mu) / sigma, -700.0, 700.0)
    out = 1.0 / (1.0 + np.exp(z))  # equals 1 − 1/(1 + e^{(−i+μ)/σ})
    return float(out) if np.ndim(out) == 0 else out


def mutual_q_loss(
    q_sa: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, detach_others: bool = True
) -> torch.Tensor:
    """Per-estimator loss of eq. 2.2, shape ``[..., m]``.

    ``q_sa [..., m, N]``: Q_i(s_j, a_j) of the m estimators on the same N samples;
    ``target [..., m, N]``: r_j + v̂_i(s'_j) (no gradient); ``weight [...]``: C or ω(i).
    With m = 1 this is the plain TD loss of eq. 2.1.
    """
    td = (target.detach() - q_sa).pow(2).mean(-1)
    m = q_sa.shape[-2]
    if m == 1:
        return td
    others = q_sa.detach() if detach_others else q_sa
    d = (q_sa.unsqueeze(-2) - others.unsqueeze(-3)).pow(2).mean(-1).sum(-1)  # Σ_k D(Q_i, Q_k)
    return td + weight.unsqueeze(-1) / (m - 1) * d


class BatchedMLP(nn.Module):
    """K independent MLPs ``sizes[0] → ... → sizes[-1]`` with leaky-ReLU hidden layers.

    Weights are ``[K, in, out]`` and initialised like ``nn.Linear`` (PyTorch's default,
    U(±1/√fan_in) for weights and biases), so network k equals a default torch MLP.
    ``forward(x [K, B, in]) -> [K, B, out]``; ``members`` selects a slice of the K networks.
    """

    def __init__(self, k: int, sizes: Sequence[int], generator: torch.Generator | None = None):
        super().__init__()
        if k < 1 or len(sizes) < 2:
            raise ValueError(f"k={k}, sizes={tuple(sizes)}: expected k ≥ 1 and ≥ 2 sizes")
        self.k, self.sizes = k, tuple(int(s) for s in sizes)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            bound = 1.0 / math.sqrt(a)
            w = (torch.rand(k, a, b, generator=generator) * 2 - 1) * bound
            bias = (torch.rand(k, b, generator=generator) * 2 - 1) * bound
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(bias))

    def forward(self, x: torch.Tensor, members: slice = slice(None)) -> torch.Tensor:
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b[members].unsqueeze(1), x, w[members])
            if i < last:
                x = F.leaky_relu(x)
        return x
