"""Search spaces of ``coopbench tune``: which config fields are tuned, over which ranges.

An algorithm declares its space as ``search_space`` — a class attribute or a classmethod
returning a sequence of :class:`Param` — next to its config dataclass::

    from coopbench.algorithms.search_space import categorical, integer, log_uniform

    class MyAlgo(Algorithm):
        search_space = (
            log_uniform("lr", 1e-4, 3e-3),       # float, sampled uniformly in log space
            integer("epochs", 2, 10),            # int in [2, 10]
            categorical("batch_size", 64, 256),  # one of the listed values
        )

``coopbench.tuning.space.resolve_search_space(cls)`` validates it against ``cls.Config``
(every name a field, bounds ordered and positive on a log scale, every bound or choice a
value of the field's type). This module imports nothing (baselines import it; Optuna is an
optional extra).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["float", "int", "categorical"]
Choice = bool | int | float | str | None  # what Optuna can store as a categorical value


@dataclass(frozen=True)
class Param:
    """One tuned config field: a float or int range (``log``: uniform in log space) or
    categorical ``choices``."""

    name: str
    kind: Kind
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Choice, ...] = ()

    def describe(self) -> str:
        """The distribution in words, e.g. ``log-uniform float [0.0003, 0.005]``."""
        if self.kind == "categorical":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        scale = "log-uniform" if self.log else "uniform"
        return f"{scale} {self.kind} [{self.low:g}, {self.high:g}]"


def log_uniform(name: str, low: float, high: float) -> Param:
    """A float in ``[low, high]`` sampled uniformly in log space (``0 < low < high``)."""
    return Param(name, "float", low, high, log=True)


def uniform(name: str, low: float, high: float) -> Param:
    """A float in ``[low, high]`` sampled uniformly."""
    return Param(name, "float", low, high)


def integer(name: str, low: int, high: int, log: bool = False) -> Param:
    """An int in ``[low, high]`` (``log``: uniformly in log space)."""
    return Param(name, "int", low, high, log=log)


def categorical(name: str, *choices: Choice) -> Param:
    """One of ``choices`` (bools, numbers, strings or None)."""
    return Param(name, "categorical", choices=tuple(choices))


__all__ = [
    "Param",
    "categorical",
    "integer",
    "log_uniform",
    "uniform",
]
