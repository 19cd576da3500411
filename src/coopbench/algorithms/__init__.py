"""The algorithm contract, the registry, and parts shared by the baselines."""

from coopbench.algorithms.base import (
    Algorithm,
    BudgetExhausted,
    EmptyConfig,
    Hooks,
    Policy,
    TrainingEnv,
)
from coopbench.algorithms.registry import algorithm_names, get_algorithm, register

__all__ = [
    "Algorithm",
    "BudgetExhausted",
    "EmptyConfig",
    "Hooks",
    "Policy",
    "TrainingEnv",
    "algorithm_names",
    "get_algorithm",
    "register",
]
