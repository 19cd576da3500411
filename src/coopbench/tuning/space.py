"""An algorithm's search space, validated against its config, and sampled by an Optuna trial.

The declarations (``Param``, ``log_uniform``, ``integer``, ...) live in
``coopbench.algorithms.search_space`` so that algorithms can import them without the tuner.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from coopbench.algorithms.search_space import Choice, Param
from coopbench.harness.config import check_overrides, config_fields


def _label(cls: type) -> str:
    return f"algorithm {getattr(cls, 'name', None) or cls.__name__!r}"


def _bounds(param: Param, where: str) -> list[Any]:
    low, high = param.low, param.high
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    if not numbers or not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise ValueError(f"{where}: bounds [{low!r}, {high!r}] are invalid; expected low < high")
    if param.kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
        raise ValueError(f"{where}: int bounds [{low!r}, {high!r}] are not whole numbers")
    if param.log and not low > 0:
        raise ValueError(f"{where}: a log scale needs low > 0, got {low!r}")
    return [int(low), int(high)] if param.kind == "int" else [float(low), float(high)]


def _check_param(param: Any, fields: dict[str, Any], config_cls: type, label: str) -> Param:
    if not isinstance(param, Param):
        raise ValueError(f"{label}: search space entry {param!r} is not a Param")
    where = f"{label}: search space entry {param.name!r}"
    if param.name not in fields:
        raise ValueError(
            f"{where} is not a field of {config_cls.__name__}; expected one of {sorted(fields)}"
        )
    if param.kind == "categorical":
        if not param.choices:
            raise ValueError(f"{where} has no choices; expected at least one")
        bad = [c for c in param.choices if not isinstance(c, Choice)]
        if bad:
            raise ValueError(f"{where}: choice {bad[0]!r} is not a bool, number, string or None")
        values = list(param.choices)
    elif param.kind in ("float", "int"):
        values = _bounds(param, where)
    else:
        raise ValueError(f"{where}: kind {param.kind!r}; expected 'float', 'int' or 'categorical'")
    for value in values:  # every bound and choice must be a value of the field's type
        check_overrides(config_cls, {param.name: value}, label)
    return param


def resolve_search_space(cls: type) -> tuple[Param, ...]:
    """``cls.search_space`` (attribute or classmethod) validated against ``cls.Config``;
    ``ValueError`` naming the algorithm when it declares none or an entry is invalid."""
    label = _label(cls)
    space = getattr(cls, "search_space", None)
    if callable(space):
        space = space()
    if space is None:
        raise ValueError(
            f"{label} declares no search space; give its class a search_space of "
            "coopbench.algorithms.search_space params (e.g. log_uniform('lr', 1e-4, 1e-2))"
        )
    if isinstance(space, (str, bytes)) or not isinstance(space, Sequence) or not space:
        raise ValueError(f"{label}: search_space must be a non-empty sequence of Param")
    fields = config_fields(cls.Config)
    params = tuple(_check_param(p, fields, cls.Config, label) for p in space)
    names = [p.name for p in params]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{label}: search space names {dupes} more than once")
    return params


def suggest(trial: Any, params: Sequence[Param]) -> dict[str, Any]:
    """One config override per param, sampled by an Optuna ``trial``."""
    out: dict[str, Any] = {}
    for p in params:
        if p.kind == "float":
            out[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
        elif p.kind == "int":
            out[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
        else:
            out[p.name] = trial.suggest_categorical(p.name, list(p.choices))
    return out


__all__ = ["resolve_search_space", "suggest"]
