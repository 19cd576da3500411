"""Which entries run a built-in baseline's tuned preset, and the fairness rule the board
states: every baseline gets the same tuning budget per task (docs/baselines/tuning.md).

An entry runs the tuned preset when its algorithm is a built-in baseline with a tuned preset
for the entry's task, tier and action type (``baselines.tuned_presets``) and every value that
preset sets is the entry's: today's ``coopbench bench`` config, or a ``--set`` variant of it
that leaves the tuned values alone (MADDPG-1/-3 are ``--algos maddpg --set comm_dim=1|3`` and
share MADDPG's preset). Hand presets, older tuned presets and every user algorithm are left
unmarked. The hash of today's config (``bench_config_hash``) lets the board keep a baseline's
plain name for it when a store also holds an older one (``identity.names``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from coopbench.algorithms.registry import BUILTIN, get_algorithm
from coopbench.baselines.tuned_presets import load_tuned_presets, preset_task_key
from coopbench.harness.config import build_config, config_dict
from coopbench.harness.metadata import config_hash

if TYPE_CHECKING:
    from coopbench.leaderboard.identity import EntryKey
    from coopbench.leaderboard.scoring import Entry

TUNED_FLAG = "tuned preset"
TUNING_NOTE = (
    "Tuned preset (flag): the baseline runs the config its coopbench tune study found for "
    "the task and tier; the other baselines run their hand presets. Fairness rule: every "
    "baseline gets the same tuning budget per task (40 trials × 2 held-out seeds at the "
    "quick tier, the best 3 re-run at the standard tier, the winner kept only where its "
    "gain holds on the leaderboard's seeds 0-4; docs/baselines/tuning.md)."
)
_NAMES = {path: name for name, path in BUILTIN.items()}


def _todays(algorithm_path: str, task: str, tier: str, continuous: bool) -> Any | None:
    name = _NAMES.get(algorithm_path)
    if name is None:
        return None
    try:
        return build_config(get_algorithm(name), task, tier, {}, continuous)
    except ValueError:  # a task or tier the baseline's presets do not know
        return None


def todays_config(
    algorithm_path: str, task: str, tier: str, continuous: bool = False
) -> dict[str, Any] | None:
    """The config (``config_dict``) ``coopbench bench`` gives the built-in baseline at
    ``algorithm_path`` on ``task`` and ``tier`` today with continuous or discrete actions (its
    preset, with its tuned preset where one is written); None for any other algorithm, or a
    task or tier the baseline has no preset for."""
    config = _todays(algorithm_path, task, tier, continuous)
    return None if config is None else config_dict(config)


def bench_config_hash(
    algorithm_path: str, task: str, tier: str, continuous: bool = False
) -> str | None:
    """The hash of ``todays_config``, as a run records it; None where that is None."""
    config = _todays(algorithm_path, task, tier, continuous)
    return None if config is None else config_hash(config)


def runs_todays_config(entry: Entry | EntryKey) -> bool:
    """Whether an entry (or its key) runs the config ``coopbench bench`` gives its built-in
    baseline today (``bench_config_hash``)."""
    today = bench_config_hash(entry.algorithm_path, entry.task, entry.tier, entry.continuous)
    return today == entry.config_hash


def runs_tuned_preset(entry: Entry) -> bool:
    """Whether ``entry``'s runs used today's tuned preset of a built-in baseline: every value
    the preset sets, as ``coopbench bench`` builds it today, is the entry's."""
    tiers = load_tuned_presets().get(_NAMES.get(entry.algorithm_path), {}).get(entry.tier, {})
    record = tiers.get(preset_task_key(entry.task, entry.continuous))
    if record is None:  # not a built-in baseline, or no tuned preset for this entry
        return False
    today = todays_config(entry.algorithm_path, entry.task, entry.tier, entry.continuous)
    unset = object()  # a field left out of a config while at its default (``config_dict``)
    return all(entry.config.get(k, unset) == today.get(k, unset) for k in record["params"])


__all__ = [
    "TUNED_FLAG",
    "TUNING_NOTE",
    "bench_config_hash",
    "runs_todays_config",
    "runs_tuned_preset",
    "todays_config",
]
