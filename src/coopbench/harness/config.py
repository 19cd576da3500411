"""Resolved algorithm configs: preset ∪ overrides, typed against the config dataclass.

``build_config(cls, task, tier, overrides)`` = ``cls.Config(**{**cls.preset(task, tier),
**tuned, **overrides})`` (``tuned``: a built-in's entry of ``baselines/tuned_presets.json``)
with unknown keys and wrongly typed values rejected by name;
``parse_assignments(cls.Config, ["lr=3e-4", "hidden=[64,64]"])`` turns the CLI's
``--set key=value`` strings into values of each field's declared type.
"""

from __future__ import annotations

import dataclasses
import json
import types
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import numpy as np

from coopbench.validation import check_int

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def config_fields(config_cls: type) -> dict[str, Any]:
    """Field name → resolved type hint of a config dataclass."""
    if not dataclasses.is_dataclass(config_cls):
        raise ValueError(f"{config_cls!r} is not a dataclass; an algorithm's Config must be one")
    try:
        hints = get_type_hints(config_cls)
    except Exception:  # unresolvable annotations: fall back to "anything"
        hints = {}
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(config_cls) if f.init}


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _split_list(text: str) -> list[Any]:
    text = text.strip()
    if text.startswith("["):
        value = json.loads(text)
        if not isinstance(value, list):
            raise ValueError
        return value
    return [t.strip() for t in text.split(",") if t.strip()]


def coerce(hint: Any, value: Any, from_string: bool) -> Any:
    """``value`` as an instance of ``hint``; ``ValueError`` if it is not one (strings from the
    command line are parsed first)."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any or hint is object:
        return value
    if origin in (Union, types.UnionType):
        if type(None) in args and (
            value is None or (from_string and value.lower() in ("none", "null"))
        ):
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(arg, value, from_string)
            except (ValueError, TypeError):
                continue
        raise ValueError
    if origin is Literal:
        for choice in args:
            if value == choice or (from_string and str(choice) == value):
                return choice
        raise ValueError
    if origin in (tuple, list) or hint in (tuple, list):
        items = _split_list(value) if from_string else value
        if isinstance(items, (str, bytes)) or not isinstance(items, (list, tuple)):
            raise ValueError
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(items):
                raise ValueError
            kinds = list(args)
        else:
            kinds = [args[0] if args else Any] * len(items)
        parsed = [
            coerce(k, v, from_string and isinstance(v, str))
            for k, v in zip(kinds, items, strict=True)
        ]
        return tuple(parsed) if (origin or hint) is tuple else parsed
    if hint is bool:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if from_string and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise ValueError
    if hint is int:
        if from_string:
            return int(value)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return int(value)
        raise ValueError
    if hint is float:
        if from_string:
            return float(value)
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            return float(value)
        raise ValueError
    if hint is str:
        if isinstance(value, str):
            return value
        raise ValueError
    if isinstance(hint, type):
        if isinstance(value, hint):
            return value
        raise ValueError
    return value


def check_overrides(
    config_cls: type, overrides: dict[str, Any], label: str, from_string: bool = False
) -> dict[str, Any]:
    """Typed overrides; ``ValueError`` naming an unknown key or a value of the wrong type."""
    fields = config_fields(config_cls)
    out = {}
    for key, value in overrides.items():
        if key not in fields:
            raise ValueError(
                f"unknown config key {key!r} for {label}; expected one of {sorted(fields)}"
            )
        try:
            out[key] = coerce(fields[key], value, from_string)
        except (ValueError, TypeError, AttributeError, json.JSONDecodeError):
            raise ValueError(
                f"config key {key!r} of {label}: {value!r} is not a valid {_type_name(fields[key])}"
            ) from None
    return out


def parse_assignments(
    config_cls: type, items: list[str], label: str = "the algorithm"
) -> dict[str, Any]:
    """``["key=value", …]`` (the CLI's ``--set``) → typed overrides."""
    raw: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r} is malformed; expected key=value")
        raw[key.strip()] = value.strip()
    return check_overrides(config_cls, raw, label, from_string=True)


def _tuned(cls: Any, task: str, tier: str, label: str, continuous: bool) -> dict[str, Any]:
    """A built-in algorithm's tuned preset for (task, tier, action type)
    (``baselines.tuned_presets``)."""
    from coopbench.algorithms.registry import BUILTIN
    from coopbench.baselines.tuned_presets import tuned_params

    name = getattr(cls, "name", None)
    if BUILTIN.get(name) != f"{cls.__module__}:{cls.__qualname__}":
        return {}  # a user's algorithm (or a subclass) never picks up a baseline's tuning
    params = tuned_params(name, task, tier, continuous=continuous)
    return check_overrides(cls.Config, params, f"{label} tuned preset")


def build_config(
    cls: Any, task: str, tier: str, overrides: dict[str, Any], continuous: bool = False
) -> Any:
    """``cls.Config`` from the algorithm's preset for (task, tier), its tuned preset when
    ``baselines/tuned_presets.json`` has one for the action type (``continuous``), and the
    user's overrides, in that order."""
    label = f"algorithm {cls.name or cls.__name__!r}"
    if not isinstance(overrides, dict):
        raise ValueError(f"overrides must be a dict of config values, got {overrides!r}")
    preset = {**cls.preset(task, tier), **_tuned(cls, task, tier, label, continuous)}
    merged = {**preset, **check_overrides(cls.Config, overrides, label)}
    try:
        config = cls.Config(**merged)
    except TypeError as exc:
        raise ValueError(f"{label}: invalid config {merged}: {exc}") from None
    check_int(getattr(config, "num_envs", None), f"{label}: config num_envs")
    return config


def _jsonable(value: Any, where: str) -> Any:
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            raise ValueError(f"config value {where}={value!r} is not finite")
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    raise ValueError(f"config value {where}={value!r} is not JSON-serialisable")


OMIT_AT_DEFAULT = "omit_at_default"  # field metadata key, see ``config_dict``


def _omitted(f: dataclasses.Field, value: Any) -> bool:
    """Whether field ``f`` is marked ``OMIT_AT_DEFAULT`` and holds its default."""
    if not f.metadata.get(OMIT_AT_DEFAULT):
        return False
    if f.default is not dataclasses.MISSING:
        return bool(value == f.default)
    factory = f.default_factory
    return factory is not dataclasses.MISSING and bool(value == factory())


def config_dict(config: Any) -> dict[str, Any]:
    """The config as a JSON-safe dict (tuples become lists).

    A field declared with ``metadata={"omit_at_default": True}`` is left out while it holds its
    default: a field added to a config later (e.g. MAPPO's ``recurrent``) then keeps the
    recorded config, its hash and the run keys of every run that does not use it.
    """
    return {
        f.name: _jsonable(getattr(config, f.name), f.name)
        for f in dataclasses.fields(config)
        if not _omitted(f, getattr(config, f.name))
    }


__all__ = [
    "OMIT_AT_DEFAULT",
    "build_config",
    "check_overrides",
    "config_dict",
    "config_fields",
    "parse_assignments",
]
