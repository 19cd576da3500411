"""The hold-out after a study (and its check): the candidate config and today's config re-run
on the leaderboard's own seeds ``0..n-1`` under the tier's real protocol (its evaluation
seed, the 10× absolute metric) — exactly the runs ``coopbench bench`` makes once the config is
the preset, so they can be committed as the entry's runs. A tuned preset is written only
where the AUC gain holds there: the 95 % bootstrap interval of the probability that a run of
the candidate beats a run of today's config (Agarwal et al. 2021, §4) lies above 0.5
(docs/baselines/tuning.md, "Fairness rule"). Runs go through ``harness.sweep.run_sweep``, so
today's runs already in the store (the committed leaderboard, imported) are not run again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from coopbench import stats
from coopbench.tuning.check import run_config
from coopbench.tuning.study import TuneSpec, run_means
from coopbench.validation import check_int

METRICS = ("auc", "final")


@dataclass(frozen=True)
class Confirmation:
    """The hold-out's scores, ``[seeds, tasks]`` per metric, for the candidate ("tuned") and
    today's config, with the probability of improvement of the candidate on each metric."""

    tier: str
    seeds: tuple[int, ...]
    tuned: dict[str, np.ndarray]
    today: dict[str, np.ndarray]
    improvement: dict[str, stats.Interval]
    tuned_keys: tuple[str, ...]  # run keys of the candidate's runs (seed-major, then task)

    @property
    def held(self) -> bool:
        """The rule: the AUC improvement's 95 % interval lies above 0.5."""
        return self.improvement["auc"].low > 0.5

    def summary(self) -> str:
        """One line for the record and the preset file (``holdout``)."""
        first, last = self.seeds[0], self.seeds[-1]
        seeds = f"seed {first}" if first == last else f"seeds {first}-{last}"
        parts = []
        for metric in METRICS:
            a, b = (stats.iqm_interval(s[metric]) for s in (self.tuned, self.today))
            p = self.improvement[metric]
            parts.append(
                f"{metric.upper() if metric == 'auc' else metric} IQM {a.point:.2f} "
                f"[{a.low:.2f}, {a.high:.2f}] vs {b.point:.2f} [{b.low:.2f}, {b.high:.2f}], "
                f"probability of improvement {p.point:.2f} [{p.low:.2f}, {p.high:.2f}]"
            )
        return f"{self.tier} tier, {seeds}: " + "; ".join(parts)


def _scores(
    spec: TuneSpec,
    seeds: list[int],
    tier: str,
    budget: int | None,
    db_path: str,
    overrides: dict[str, Any],
) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """Run (or find in the store) one config on every task × seed; metric → ``[seeds, tasks]``."""
    from coopbench.results.store import Store

    which = "today's config" if not overrides else "the tuned config"
    outcomes = run_config(spec, seeds, tier, db_path, overrides, f"hold-out of {which} at {tier}",
                          budget)  # fmt: skip
    by_run = {(o["seed"], o["task"]): o["key"] for o in outcomes}
    keys = tuple(by_run[(seed, task)] for seed in seeds for task in spec.tasks)
    with Store(db_path) as store:
        scores = [run_means(store, key) for key in keys]
    shape = (len(seeds), len(spec.tasks))
    return {m: np.array([getattr(s, m) for s in scores]).reshape(shape) for m in METRICS}, keys


def confirm(
    spec: TuneSpec,
    params: dict[str, Any],
    db_path: str,
    tier: str = "standard",
    seeds: int = 5,
    budget: int | None = None,
) -> Confirmation:
    """Run today's config and ``params`` at ``tier`` on the leaderboard's seeds ``0..seeds-1``
    (at the tier's budget, or ``budget`` env steps) into the store at ``db_path`` and compare
    them. ``ValueError`` if a run failed."""
    run_seeds = list(range(check_int(seeds, "confirm seeds")))
    today, _ = _scores(spec, run_seeds, tier, budget, db_path, {})
    tuned, keys = _scores(spec, run_seeds, tier, budget, db_path, params)
    improvement = {
        m: stats.Interval(*stats.probability_of_improvement_ci(tuned[m], today[m])) for m in METRICS
    }
    return Confirmation(tier, tuple(run_seeds), tuned, today, improvement, keys)


def confirm_markdown(result: Confirmation) -> str:
    """The hold-out's verdict as markdown (appended to the study's record)."""
    verdict = (
        "the gain holds: the tuned config becomes the preset"
        if result.held
        else "the gain does not hold: today's config stays the preset"
    )
    return f"\nHold-out on the leaderboard's seeds ({result.summary()}): {verdict}.\n"


__all__ = ["Confirmation", "confirm", "confirm_markdown"]
