"""Which entries run a built-in baseline's tuned preset, and the fairness rule the board
states: every baseline gets the same tuning budget per task (docs/baselines/tuning.md).

An entry runs the tuned preset when its algorithm is a built-in baseline with a tuned preset
for the entry's task and tier (``baselines.tuned_presets``) and its config hash is the one
``coopbench bench`` gives that baseline there today. Hand presets, ``--set`` variants and
every user algorithm are left unmarked.
"""

from __future__ import annotations

from coopbench.algorithms.registry import BUILTIN, get_algorithm
from coopbench.baselines.tuned_presets import load_tuned_presets
from coopbench.harness.config import build_config
from coopbench.harness.metadata import config_hash
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


def runs_tuned_preset(entry: Entry) -> bool:
    """Whether ``entry``'s runs used today's tuned preset of a built-in baseline."""
    name = _NAMES.get(entry.algorithm_path)
    if name is None or entry.task not in load_tuned_presets().get(name, {}).get(entry.tier, {}):
        return False
    config = build_config(get_algorithm(name), entry.task, entry.tier, {})
    return config_hash(config) == entry.config_hash


__all__ = ["TUNED_FLAG", "TUNING_NOTE", "runs_tuned_preset"]
