"""Leaderboard aggregation: per-run scores recomputed from raw returns, IQM across seeds.

One *entry* is ``(task, continuous actions?, protocol tier, budget, policy label)``: every
run (seed) of a policy with that label on that task under that protocol. The budget is part
of the key because a ``--budget`` override changes what AUC and steps-to-threshold mean.
Per run, from the raw returns only (never from numbers stored in a file):

- **final score**: normalised mean team return of the last evaluation point;
- **AUC**: area under the normalised learning curve over ``[0, budget]`` divided by the budget
  (the time-averaged score, ``stats.curve_auc``), the sample-efficiency score;
- **steps to threshold**: first evaluation step whose normalised mean reaches
  ``threshold`` (default 0.5: halfway from random to the heuristic); runs that never reach it
  are censored at their budget (``stats.steps_to_threshold``), shown as ``>budget``;
- **absolute metric**: normalised mean of the re-evaluation of the best checkpoint on 10x
  the episodes (Gorsane et al. 2022, §4 "absolute performance").

Normalisation: ``(R - R_random) / (R_heuristic - R_random)`` with the task's stored reference
returns (0 = uniform random, 1 = scripted heuristic). Across seeds: IQM with a 95%
stratified-bootstrap interval, the run as resampling unit (Agarwal et al. 2021, §4;
``stats.iqm_interval``), seeded so the same store always prints the same numbers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coopbench import stats
from coopbench.envs import make_task, reference_returns
from coopbench.results.submission import validate_submission

__all__ = [
    "DEFAULT_THRESHOLD",
    "Entry",
    "Leaderboard",
    "RunScores",
    "aggregate",
    "probability_of_improvement",
    "run_scores",
]

DEFAULT_THRESHOLD = 0.5  # normalised score: halfway from the random policy to the heuristic
_METRICS = ("final", "auc", "absolute", "steps")


@dataclass(frozen=True)
class RunScores:
    """The scores of one policy in one run, recomputed from its raw returns."""

    run_key: str
    seed: int
    algorithm: str
    config_hash: str
    budget: int
    steps: np.ndarray  # evaluation steps [points]
    curve: np.ndarray  # normalised mean score per evaluation point [points]
    final: float
    auc: float
    steps_to_threshold: int
    censored: bool
    absolute: float


@dataclass
class Entry:
    """One leaderboard row: all runs of one policy label on one task, action kind and tier."""

    task: str
    continuous: bool
    tier: str
    budget: int
    label: str
    centralised: bool
    privileged: bool
    runs: list[RunScores]
    final: stats.Interval
    auc: stats.Interval
    absolute: stats.Interval
    steps_median: int  # lower median over runs of steps-to-threshold (censored = budget)
    steps_censored: bool  # the median run never reached the threshold: show ">budget"
    reached: int  # runs that reached the threshold
    curve_steps: np.ndarray  # evaluation steps common to every run
    curve_iqm: np.ndarray  # IQM over runs of the normalised score at each common step
    curve_low: np.ndarray
    curve_high: np.ndarray

    @property
    def seeds(self) -> list[int]:
        return sorted(r.seed for r in self.runs)

    @property
    def algorithms(self) -> list[str]:
        return sorted({r.algorithm for r in self.runs})

    @property
    def config_hashes(self) -> list[str]:
        return sorted({r.config_hash for r in self.runs})

    def scores(self, metric: str) -> np.ndarray:
        """Per-run values of ``metric`` (``final``, ``auc``, ``absolute`` or ``steps``)."""
        if metric not in _METRICS:
            raise ValueError(f"unknown metric {metric!r}; expected one of {list(_METRICS)}")
        name = "steps_to_threshold" if metric == "steps" else metric
        return np.array([getattr(r, name) for r in self.runs], dtype=np.float64)


@dataclass
class Leaderboard:
    """Aggregated entries plus the runs that could not be scored (and why)."""

    entries: list[Entry]
    threshold: float
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (run_key, reason)

    def groups(self) -> dict[tuple[str, bool, str, int], list[Entry]]:
        """Entries grouped by ``(task, continuous, tier, budget)``, the unit of one plot."""
        out: dict[tuple[str, bool, str, int], list[Entry]] = {}
        for e in self.entries:
            out.setdefault((e.task, e.continuous, e.tier, e.budget), []).append(e)
        return out

    def select(
        self, tasks: Collection[str] | None = None, labels: Collection[str] | None = None
    ) -> Leaderboard:
        """The entries on ``tasks`` whose policy label is one of ``labels`` (None: all).

        A name that matches no entry is a ValueError naming the names there are, so a typo
        never publishes an empty or partial board silently.
        """
        entries = self.entries
        for kind, wanted, attr in (("task", tasks, "task"), ("entry", labels, "label")):
            if wanted is None:
                continue
            wanted = set(wanted)
            present = {getattr(e, attr) for e in entries}
            if wanted - present:
                raise ValueError(
                    f"no {kind} named {sorted(wanted - present)} on this board; "
                    f"there are {sorted(present)}"
                )
            entries = [e for e in entries if getattr(e, attr) in wanted]
        return Leaderboard(entries, self.threshold, list(self.skipped))


def _references(task: dict[str, Any], cache: dict[str, Any]) -> tuple[float, float]:
    """``(R_random, R_heuristic)`` for the submission's task; ValueError when none apply."""
    ident = (task["id"], task["version"], repr(sorted(task["kwargs"].items())))
    if ident not in cache:
        try:
            current = make_task(task["id"], **task["kwargs"]).version
            if current != task["version"]:
                raise ValueError(
                    f"task {task['id']} version {task['version']} but references are for the "
                    f"current version {current}"
                )
            ref = reference_returns(task["id"], **task["kwargs"])
            cache[ident] = (ref["random"], ref["heuristic"])
        except (TypeError, ValueError) as exc:
            cache[ident] = " ".join(str(exc).split())
    value = cache[ident]
    if isinstance(value, str):
        raise ValueError(value)
    return value


def _run_scores(doc: dict[str, Any], policy: str, refs: tuple[float, float], threshold: float):
    budget = doc["protocol"]["budget"]
    points = doc["evaluations"][policy]
    steps = np.array([p["step"] for p in points], dtype=np.int64)
    curve = np.array([stats.normalise(p["returns"], *refs).mean() for p in points])
    reached, censored = stats.steps_to_threshold(steps, curve, threshold, budget)
    return RunScores(
        run_key=doc["run_key"],
        seed=doc["seed"],
        algorithm=doc["algorithm"]["name"],
        config_hash=doc["algorithm"]["config_hash"],
        budget=budget,
        steps=steps,
        curve=curve,
        final=float(curve[-1]),
        auc=stats.curve_auc(steps, curve, budget),
        steps_to_threshold=reached,
        censored=censored,
        absolute=float(stats.normalise(doc["absolute"][policy], *refs).mean()),
    )


def run_scores(
    doc: dict[str, Any], threshold: float = DEFAULT_THRESHOLD, cache: dict[Any, Any] | None = None
) -> dict[str, RunScores]:
    """Every policy's scores in one (validated) submission; ValueError if no references apply."""
    refs = _references(doc["task"], {} if cache is None else cache)
    return {p: _run_scores(doc, p, refs, threshold) for p in doc["policies"]}


def _entry(key: tuple[Any, ...], runs: list[RunScores], flags, reps, seed) -> Entry:
    task, continuous, tier, budget, label = key
    order = sorted(runs, key=lambda r: (r.steps_to_threshold, r.censored))
    median = order[(len(order) - 1) // 2]
    common = runs[0].steps
    for r in runs[1:]:
        common = np.intersect1d(common, r.steps)
    table = np.array([[r.curve[np.searchsorted(r.steps, s)] for s in common] for r in runs])
    bands = [stats.iqm_interval(table[:, j], reps=reps, seed=seed) for j in range(len(common))]
    return Entry(
        task=task,
        continuous=continuous,
        tier=tier,
        budget=budget,
        label=label,
        centralised=flags[0],
        privileged=flags[1],
        runs=sorted(runs, key=lambda r: (r.seed, r.run_key)),
        final=stats.iqm_interval([r.final for r in runs], reps=reps, seed=seed),
        auc=stats.iqm_interval([r.auc for r in runs], reps=reps, seed=seed),
        absolute=stats.iqm_interval([r.absolute for r in runs], reps=reps, seed=seed),
        steps_median=median.steps_to_threshold,
        steps_censored=median.censored,
        reached=sum(not r.censored for r in runs),
        curve_steps=common,
        curve_iqm=np.array([b.point for b in bands]),
        curve_low=np.array([b.low for b in bands]),
        curve_high=np.array([b.high for b in bands]),
    )


def aggregate(
    submissions: Iterable[dict[str, Any]],
    threshold: float = DEFAULT_THRESHOLD,
    reps: int = 2000,
    seed: int = 0,
    validate: bool = True,
) -> Leaderboard:
    """Score every policy of every submission and aggregate them into leaderboard entries.

    Submissions are re-validated (``validate=False`` skips it for documents that just came out
    of a ``Store``). A run whose task has no reference returns (unknown task, non-default task
    keywords, an older task version) is listed in ``Leaderboard.skipped``, never scored.
    """
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    cache: dict[Any, Any] = {}
    groups: dict[tuple[Any, ...], list[RunScores]] = {}
    flags: dict[tuple[Any, ...], tuple[bool, bool]] = {}
    skipped: list[tuple[str, str]] = []
    for doc in submissions:
        if validate:
            validate_submission(doc)
        try:
            scores = run_scores(doc, threshold, cache)
        except ValueError as exc:
            skipped.append((doc["run_key"], str(exc)))
            continue
        continuous = bool(doc["task"]["kwargs"].get("continuous_actions", False))
        for policy, info in doc["policies"].items():
            proto = doc["protocol"]
            key = (doc["task"]["id"], continuous, proto["tier"], proto["budget"], info["label"])
            groups.setdefault(key, []).append(scores[policy])
            old = flags.get(key, (False, False))
            flags[key] = (old[0] or info["centralised"], old[1] or info["privileged"])
    entries = [_entry(k, groups[k], flags[k], reps, seed) for k in sorted(groups)]
    return Leaderboard(entries=entries, threshold=float(threshold), skipped=skipped)


def probability_of_improvement(
    a: Entry, b: Entry, metric: str = "final", reps: int = 2000, seed: int = 0
) -> stats.Interval:
    """P(a run of ``a`` beats a run of ``b``) on ``metric`` with its 95% bootstrap interval
    (Agarwal et al. 2021, §4, ties count half; ``stats.probability_of_improvement_ci``). For
    ``steps`` fewer steps is better, so the comparison is reversed."""
    x, y = a.scores(metric), b.scores(metric)
    if metric == "steps":
        x, y = -x, -y
    return stats.Interval(*stats.probability_of_improvement_ci(x, y, reps=reps, seed=seed))
