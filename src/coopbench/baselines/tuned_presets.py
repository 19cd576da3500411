"""Tuned presets: the best config of a ``coopbench tune`` study, per algorithm, task and tier.

``tuned_presets.json`` beside this module maps ``algorithm name → tier → task → entry``, the
task keyed by its id for discrete actions and ``<id>_continuous`` for continuous ones
(``preset_task_key``: a config tuned on one action type is never applied to the other); an
entry holds the tuned ``params`` and the record of the study that found them (study name,
objective, trials, budget, date, coopbench commit). ``harness.config.build_config`` applies
``params`` on top of the algorithm's ``preset(task, tier)`` (built-in algorithms only), so a
committed entry changes that baseline's default config — and the keys of its runs.
``coopbench tune --write-presets`` writes entries; docs/baselines/tuning.md records them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PRESETS_FILE = Path(__file__).with_name("tuned_presets.json")


def load_tuned_presets(path: str | Path | None = None) -> dict[str, Any]:
    """The whole presets file (``{}`` when it does not exist); ``ValueError`` if malformed."""
    file = Path(path) if path is not None else PRESETS_FILE
    if not file.exists():
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"tuned presets {str(file)!r} are unreadable: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(
            f"tuned presets {str(file)!r}: expected {{algorithm: {{tier: {{task: entry}}}}}}"
        )
    return data


def preset_task_key(task: str, continuous: bool = False) -> str:
    """The key of ``task``'s entries: its id, suffixed ``_continuous`` for continuous actions."""
    return f"{task}_continuous" if continuous else task


def tuned_params(
    algo: str,
    task: str,
    tier: str,
    path: str | Path | None = None,
    continuous: bool = False,
) -> dict[str, Any]:
    """The tuned config values of ``algo`` on ``task`` at ``tier`` with continuous or
    discrete actions (``{}`` when none)."""
    key = preset_task_key(task, continuous)
    entry = load_tuned_presets(path).get(algo, {}).get(tier, {}).get(key)
    if entry is None:
        return {}
    params = entry.get("params") if isinstance(entry, dict) else None
    if not isinstance(params, dict):
        file = path if path is not None else PRESETS_FILE
        raise ValueError(f"tuned presets {str(file)!r}: {algo}/{tier}/{key} has no 'params' dict")
    return dict(params)


def write_tuned_presets(
    algo: str,
    tasks: Iterable[str],
    tier: str,
    params: dict[str, Any],
    record: dict[str, Any],
    path: str | Path | None = None,
    continuous: bool = False,
) -> Path:
    """Set ``params`` (with the study's ``record``) for ``algo`` on every task of ``tasks``
    at ``tier``, for the action type studied; other entries are kept. Returns the file."""
    file = Path(path) if path is not None else PRESETS_FILE
    data = load_tuned_presets(file)
    tiers = data.setdefault(algo, {}).setdefault(tier, {})
    for task in tasks:
        tiers[preset_task_key(task, continuous)] = {"params": dict(params), **record}
    file.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return file


__all__ = [
    "PRESETS_FILE",
    "load_tuned_presets",
    "preset_task_key",
    "tuned_params",
    "write_tuned_presets",
]
