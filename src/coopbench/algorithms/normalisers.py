"""Running statistics for on-policy baselines: exact running mean/std and MAPPO's ValueNorm.

Both are ``nn.Module`` s whose statistics are buffers, so they travel with
``coopbench.algorithms.checkpoint`` like any weights.

- ``RunningMeanStd``: exact mean and variance of everything seen so far (Chan et
  al.'s parallel update), the normaliser of the PPO reference implementations.
- ``ValueNorm``: the value normaliser of the MAPPO code (Yu et al. 2022, sec. 4
  "value normalization"; ``onpolicy/utils/valuenorm.py``): a debiased exponential
  moving average of the mean and mean square of the value targets, i.e. PopArt's
  statistics without PopArt's output-layer rescaling. The critic regresses
  normalised targets; advantages are computed on denormalised values.
"""

from __future__ import annotations

import torch
from torch import nn


class RunningMeanStd(nn.Module):
    """Exact running mean/variance over all updates (parallel-variance algorithm)."""

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-5) -> None:
        super().__init__()
        self.epsilon = epsilon  # added to the variance before the square root
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Fold a batch ``x [..., *shape]`` into the statistics."""
        x = x.detach().to(torch.float64).reshape(-1, *self.mean.shape)
        if x.shape[0] == 0:
            raise ValueError("RunningMeanStd.update got an empty batch; expected >= 1 sample")
        b_mean, b_var, b_count = x.mean(0), x.var(0, unbiased=False), float(x.shape[0])
        total = self.count + b_count
        delta = b_mean - self.mean
        m2 = self.var * self.count + b_var * b_count + delta.square() * self.count * b_count / total
        self.mean += delta * b_count / total
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / torch.sqrt(self.var + self.epsilon)).to(x.dtype)

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x * torch.sqrt(self.var + self.epsilon) + self.mean).to(x.dtype)


class ValueNorm(nn.Module):
    """Debiased EMA of the targets' mean and mean square (MAPPO ``ValueNorm``).

    After ``update`` with weight ``w = beta ** batch_size`` (``per_element``, our default)
    or ``w = beta`` (the MAPPO code's default, ``per_element_update=False``):
    ``m ← w m + (1 − w) mean(x)``, ``s ← w s + (1 − w) mean(x²)``, ``d ← w d + (1 − w)``;
    the estimates are ``μ = m / d`` and ``σ² = max(s / d − μ², var_floor)``.

    Per element, β = 0.99999 forgets over ~10⁵ targets (about 40 rollouts of the quick
    preset), so the statistics follow the returns as the policy improves; per update, the
    weight stays ≈ 1 for the ~10² updates of a run and the statistics are close to an
    equal-weight average of every batch so far (``RunningMeanStd``). Both were measured at
    the quick tier with no difference larger than the spread between seeds
    (docs/baselines/mappo.md); we keep per-element, with which every stored MAPPO result
    was produced.
    """

    def __init__(
        self,
        beta: float = 0.99999,
        per_element: bool = True,
        epsilon: float = 1e-5,
        var_floor: float = 1e-2,
    ) -> None:
        super().__init__()
        if not 0.0 < beta < 1.0:
            raise ValueError(f"ValueNorm beta={beta} is invalid; expected 0 < beta < 1")
        self.beta = beta  # EMA decay per sample (per_element) or per update
        self.per_element = per_element
        self.epsilon = epsilon  # lower bound of the debiasing term
        self.var_floor = var_floor  # lower bound of the variance (MAPPO code: 1e-2)
        self.register_buffer("running_mean", torch.zeros((), dtype=torch.float64))
        self.register_buffer("running_mean_sq", torch.zeros((), dtype=torch.float64))
        self.register_buffer("debiasing_term", torch.zeros((), dtype=torch.float64))

    def stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Debiased ``(mean, var)``."""
        d = self.debiasing_term.clamp(min=self.epsilon)
        mean = self.running_mean / d
        var = (self.running_mean_sq / d - mean.square()).clamp(min=self.var_floor)
        return mean, var

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        x = x.detach().to(torch.float64)
        if x.numel() == 0:
            raise ValueError("ValueNorm.update got an empty batch; expected >= 1 target")
        w = self.beta ** x.numel() if self.per_element else self.beta
        self.running_mean.mul_(w).add_(x.mean() * (1.0 - w))
        self.running_mean_sq.mul_(w).add_(x.square().mean() * (1.0 - w))
        self.debiasing_term.mul_(w).add_(1.0 - w)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        mean, var = self.stats()
        return ((x - mean) / var.sqrt()).to(x.dtype)

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        mean, var = self.stats()
        return (x * var.sqrt() + mean).to(x.dtype)


class Identity(nn.Module):
    """No normalisation (the ``"none"`` choice)."""

    def update(self, x: torch.Tensor) -> None:
        return None

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        return x


VALUE_NORMS = ("ema", "running", "none")


def make_value_norm(kind: str) -> nn.Module:
    """``"ema"`` → ``ValueNorm``, ``"running"`` → ``RunningMeanStd``, ``"none"`` → identity."""
    if kind == "ema":
        return ValueNorm()
    if kind == "running":
        return RunningMeanStd()
    if kind == "none":
        return Identity()
    raise ValueError(f"value_norm={kind!r} is invalid; expected one of {VALUE_NORMS}")
