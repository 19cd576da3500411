"""Hyper-parameter schedules shared by the baselines."""

from __future__ import annotations


def linear_anneal(start: float, end: float, progress: float) -> float:
    """Linear interpolation ``start → end`` for ``progress`` in [0, 1] (clamped).

    PPO/MAPPO's learning-rate annealing uses ``progress = update / total_updates``
    and ``end = 0`` (Schulman et al. 2017, sec. 6; Yu et al. 2022, ``use_linear_lr_decay``).
    """
    p = min(max(float(progress), 0.0), 1.0)
    return start + (end - start) * p
