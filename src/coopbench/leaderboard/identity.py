"""Entry identity: which runs pool into one leaderboard entry, and how entries are named.

Runs pool only when everything that defines the experiment is equal: task id, version and
keyword arguments, action type, protocol (kind, tier, budget, eval_interval, eval_episodes,
eval_seed), policy label, algorithm path and config hash. The protocol ``kind`` keeps
evaluation-only and external-protocol runs apart from runs trained under a tier (never
pooled or ranked with them). Entries that end up with the same
label on one board are told apart by a short suffix naming what differs (config keys first,
then protocol fields and task keywords), e.g. ``MAPPO (lr=0.0003)``, except that the one
entry of such a group running today's ``coopbench bench`` config of its built-in baseline keeps
the plain label (a store that also holds runs of an older preset still ranks today's ``MAPPO``
on the suites); a label used by a
*different* algorithm than the label's main one (the built-in ``coopbench.`` algorithm, else
the one with most runs) is marked ``MAPPO [other: mypkg.algos:MAPPO]``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

__all__ = ["MAX_KEYS", "EntryKey", "entry_key", "names", "protocol_dict"]

MAX_KEYS = 3  # at most this many differing settings in a disambiguation suffix
_PROTOCOL = ("tier", "budget", "eval_interval", "eval_episodes", "eval_seed")


class EntryKey(NamedTuple):
    """The identity of an entry; sorting by it orders a board (task, actions, tier, ...)."""

    task: str
    continuous: bool
    tier: str
    budget: int
    label: str
    task_version: int
    task_kwargs: str  # canonical JSON of the task's keyword arguments
    protocol: tuple[int, int, int]  # eval_interval, eval_episodes, eval_seed
    algorithm_path: str
    config_hash: str
    kind: str = ""  # protocol kind: "" (trained, ranked), "evaluation-only" or "external"


def entry_key(meta: dict[str, Any], label: str) -> EntryKey:
    """The key of a policy labelled ``label`` in a run with metadata ``meta``."""
    task, proto, algo = meta["task"], meta["protocol"], meta["algorithm"]
    return EntryKey(
        task=task["id"],
        continuous=bool(task["kwargs"].get("continuous_actions", False)),
        tier=proto["tier"],
        budget=proto["budget"],
        label=label,
        task_version=task["version"],
        task_kwargs=json.dumps(task["kwargs"], sort_keys=True),
        protocol=(proto["eval_interval"], proto["eval_episodes"], proto["eval_seed"]),
        algorithm_path=algo["path"],
        config_hash=algo["config_hash"],
        kind=proto.get("kind", ""),
    )


def protocol_dict(key: EntryKey) -> dict[str, Any]:
    """The protocol fields of an entry key as a mapping."""
    return dict(zip(_PROTOCOL, (key.tier, key.budget, *key.protocol), strict=True))


def _flat(value: Any, prefix: str, out: dict[str, str]) -> dict[str, str]:
    if isinstance(value, dict) and value:
        for k in sorted(value):
            _flat(value[k], f"{prefix}.{k}" if prefix else str(k), out)
    else:
        out[prefix] = _compact(value)
    return out


def _compact(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value if len(value) <= 24 else value[:21] + "..."
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= 24 else text[:21] + "..."


def _settings(key: EntryKey, config: dict[str, Any]) -> list[dict[str, str]]:
    """What may tell two entries apart, in order of preference: config, protocol, task."""
    task = {"task_version": str(key.task_version)}
    _flat(json.loads(key.task_kwargs), "task", task)
    proto = {k: str(v) for k, v in protocol_dict(key).items()}
    return [_flat(config, "", {}), proto, task]


def _suffix(key: EntryKey, config: dict[str, Any], others: Sequence[tuple[EntryKey, Any]]) -> str:
    mine = _settings(key, config)
    theirs = [_settings(k, c) for k, c in others]
    differing = [
        f"{name}={value}"
        for level, settings in enumerate(mine)
        for name, value in settings.items()
        if any(t[level].get(name) != value for t in theirs)
    ]
    if not differing:
        return f"config {key.config_hash[:8]}"
    more = ", ..." if len(differing) > MAX_KEYS else ""
    return ", ".join(differing[:MAX_KEYS]) + more


def names(
    keys: Sequence[EntryKey],
    configs: dict[EntryKey, dict[str, Any]],
    runs: dict[EntryKey, int],
    todays: Callable[[EntryKey], bool] | None = None,
) -> dict[EntryKey, tuple[str, bool]]:
    """``{key: (display, foreign)}`` for every entry of one board (see the module docstring);
    ``runs[key]`` is how many runs the entry pools, ``configs[key]`` its algorithm config,
    ``todays(key)`` whether it runs today's ``bench`` config (asked only of clashing keys)."""
    paths: dict[str, Counter[str]] = {}
    for k in keys:
        paths.setdefault(k.label, Counter())[k.algorithm_path] += runs[k]
    owner = {
        label: max(count, key=lambda p: (p.startswith("coopbench."), count[p], p))
        for label, count in paths.items()
    }
    base: dict[EntryKey, str] = {}
    for k in keys:
        foreign = k.algorithm_path != owner[k.label]
        base[k] = f"{k.label} [other: {k.algorithm_path}]" if foreign else k.label
    clashes: dict[tuple[Any, ...], list[EntryKey]] = {}
    for k in keys:
        clashes.setdefault((k.task, k.continuous, k.tier, k.budget, base[k]), []).append(k)
    out: dict[EntryKey, tuple[str, bool]] = {}
    for group in clashes.values():
        current = [k for k in group if todays(k)] if todays and len(group) > 1 else []
        plain = current[0] if len(current) == 1 else None
        for k in group:
            display = base[k]
            if len(group) > 1 and k != plain:
                others = [(o, configs[o]) for o in group if o != k]
                display += f" ({_suffix(k, configs[k], others)})"
            out[k] = (display, k.algorithm_path != owner[k.label])
    return out
