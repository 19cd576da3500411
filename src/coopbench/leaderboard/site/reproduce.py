"""The ``coopbench`` command line that reproduces an entry, built from its runs' metadata.

Config values become ``--set key=value`` pairs relative to the algorithm's preset for the task
and tier when the algorithm is a built-in one (its preset is known without importing anything
a submission names); for any other algorithm every config value is spelled out. Nothing named
in a submission is ever imported: a submission file is untrusted input.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from coopbench.leaderboard.presets import todays_config

__all__ = ["reproduce_command"]


# the full config a built-in algorithm runs with on (task, tier, action type); None when
# unknown. Cached: rendering a site never writes a tuned preset.
_preset = cache(todays_config)


@cache
def _task_defaults(task: str, continuous: bool) -> dict[str, Any]:
    """The task's default keywords (empty when the task is unknown here)."""
    from coopbench.envs import make_task

    try:
        return make_task(task, continuous_actions=continuous).kwargs()
    except (TypeError, ValueError):
        return {}


def _value(v: Any) -> str:
    """A config value as ``--set`` parses it back (lists as JSON, booleans as true/false)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, str):
        return v
    return json.dumps(v, separators=(",", ":"))


def _overrides(meta: Mapping[str, Any]) -> dict[str, Any]:
    algo, task, tier = meta["algorithm"], meta["task"]["id"], meta["protocol"]["tier"]
    continuous = bool(meta["task"]["kwargs"].get("continuous_actions", False))
    preset = _preset(algo["path"], task, tier, continuous)
    config = algo["config"]
    if preset is None:
        return dict(config)
    return {k: v for k, v in config.items() if k not in preset or preset[k] != v}


def _algorithm(meta: Mapping[str, Any]) -> str:
    from coopbench.algorithms.registry import BUILTIN

    name, path = meta["algorithm"]["name"], meta["algorithm"]["path"]
    return name if BUILTIN.get(name) == path else path


def _budget_differs(protocol: Mapping[str, Any]) -> bool:
    from coopbench.harness.protocol import PROTOCOLS

    tier = PROTOCOLS.get(protocol["tier"])
    return tier is None or tier.budget != protocol["budget"]


def reproduce_command(metas: Sequence[Mapping[str, Any]]) -> str:
    """The shell command that re-runs every seed of ``metas`` (the runs of one entry, sharing
    task, algorithm, config and protocol): ``coopbench bench ... --seeds N`` when the seeds
    are 0..N-1, else a loop over ``coopbench train ... --seed S``. Every word is shell-quoted."""
    meta = metas[0]
    task, protocol = meta["task"], meta["protocol"]
    seeds = sorted({m["seed"] for m in metas})
    options: list[str] = ["--tier", protocol["tier"]]
    if _budget_differs(protocol):
        options += ["--budget", str(protocol["budget"])]
    continuous = bool(task["kwargs"].get("continuous_actions", False))
    options += ["--continuous"] if continuous else []
    defaults = _task_defaults(task["id"], continuous)
    for key, value in sorted(task["kwargs"].items()):
        if key != "continuous_actions" and (key not in defaults or defaults[key] != value):
            options += ["--task-set", f"{key}={_value(value)}"]
    for key, value in sorted(_overrides(meta).items()):
        options += ["--set", f"{key}={_value(value)}"]
    rest = shlex.join(options)
    algo = shlex.quote(_algorithm(meta))
    if seeds == list(range(len(seeds))):
        tasks = shlex.quote(task["id"])
        return f"coopbench bench --tasks {tasks} --algos {algo} --seeds {len(seeds)} {rest}"
    loop = " ".join(str(s) for s in seeds)
    train = f"coopbench train --task {shlex.quote(task['id'])} --algo {algo} --seed $s {rest}"
    return f"for s in {loop}; do {train}; done"
