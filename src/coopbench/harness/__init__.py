"""Evaluation harness: protocol tiers, the budget-enforcing env, evaluation, runs and sweeps.

>>> from coopbench.harness import run_experiment
>>> result = run_experiment("spread", "random", seed=0, tier="quick", budget=20_000)
>>> result.final_scores()  # normalised: 0 = random, 1 = heuristic
"""

from importlib import import_module
from typing import Any

# Names load lazily (PEP 562): ``import coopbench.harness`` stays cheap, and a name pulls in
# only its own module (``BudgetEnv`` does not load the algorithm registry behind ``run``).
_HOMES = {
    "BudgetEnv": "budget",
    "EvaluationError": "evaluate",
    "evaluate_policy": "evaluate",
    "PROTOCOLS": "protocol",
    "TierProtocol": "protocol",
    "get_protocol": "protocol",
    "AlgorithmError": "run",
    "RunResult": "run",
    "run_experiment": "run",
    "run_key": "run",
    "run_metadata": "run",
    "rerun": "repeat",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'coopbench.harness' has no attribute {name!r}")
    return getattr(import_module(f"coopbench.harness.{_HOMES[name]}"), name)
