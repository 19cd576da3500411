"""Suite aggregates: one algorithm entry scored across the tasks of a named suite.

Follows Agarwal et al. 2021 ("Deep RL at the edge of the statistical precipice") and
rliable's conventions. A suite *row* is one leaderboard entry (same ``suite_key``: shown name,
action kind, tier, budget, algorithm path, protocol) on every task of the suite; its scores form
a ``[runs, tasks]`` matrix (one run per seed common to all tasks). Per row, for the ``final``
and ``auc`` scores (and ``metric``): IQM, median, mean and optimality gap with 95%
stratified-bootstrap intervals (runs resampled within each task); the ``metric`` also gets a
performance profile and ranks the rows. Between rows: a probability-of-improvement matrix.
Aggregated sample-efficiency curve: IQM over tasks x seeds of the normalised score at each
common evaluation step, with a stratified-bootstrap band. Discrete and continuous actions are
never ranked together; entries that miss a task of the suite are listed apart, never ranked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from coopbench import stats
from coopbench.leaderboard.scoring import Entry, Leaderboard, RunScores

__all__ = [
    "SUITES",
    "SUITE_METRICS",
    "Aggregates",
    "IncompleteEntry",
    "SuiteBoard",
    "SuiteCurve",
    "SuiteRow",
    "row_names",
    "suite_board",
    "suite_key",
    "suite_tasks",
]

SUITES: dict[str, tuple[str, ...]] = {
    "ctedd": ("cn-v1", "cn-v2", "pf", "pp"),
    "all": ("spread", "cn-v1", "cn-v2", "pf", "pp"),
}
SUITE_METRICS = ("final", "auc", "absolute")  # normalised per-run scores (steps are not)
ROW_METRICS = ("final", "auc")  # always aggregated for every row
PROFILE_POINTS = 101  # thresholds of the performance profile


def suite_key(entry: Entry) -> tuple[Any, ...]:
    """The identity of an entry across tasks: its shown name (``Entry.display``), action type,
    tier, budget, algorithm path and evaluation protocol. The config may differ between tasks
    (a preset can depend on the task, e.g. warm-up scaled to the episode length); two configs
    under one label on one task already carry different shown names."""
    return (
        entry.display,
        entry.continuous,
        entry.tier,
        entry.budget,
        (entry.algorithm_path,),
        tuple(sorted(entry.protocol.items())),
    )


@dataclass(frozen=True)
class Aggregates:
    """rliable's four aggregates of one score over a ``[runs, tasks]`` matrix, each with its
    95% stratified-bootstrap interval. ``optimality_gap`` is the mean shortfall from 1 (the
    scripted heuristic): ``1 - mean(min(score, 1))``, lower is better."""

    iqm: stats.Interval
    median: stats.Interval  # median over tasks of the per-task mean
    mean: stats.Interval  # mean over tasks of the per-task mean
    optimality_gap: stats.Interval


@dataclass(frozen=True)
class SuiteCurve:
    """Aggregated sample-efficiency curve: IQM over tasks x seeds of the normalised score at
    each evaluation step common to every run, with its 95% stratified-bootstrap band."""

    steps: np.ndarray
    iqm: np.ndarray
    low: np.ndarray
    high: np.ndarray


@dataclass
class SuiteRow:
    """One ranked suite entry: the same algorithm entry on every task of the suite."""

    label: str
    continuous: bool
    tier: str
    budget: int
    algorithms: tuple[str, ...]
    config_hashes: tuple[str, ...]
    entries: dict[str, Entry]  # the per-task leaderboard entries, by task
    seeds: list[int]  # seeds run on every task: the rows of the score matrices
    dropped: int  # runs left out because their seed is not on every task
    scores: dict[str, np.ndarray]  # metric -> [runs, tasks] score matrix, tasks in suite order
    aggregates: dict[str, Aggregates]  # metric -> aggregates (``ROW_METRICS`` and the board's)
    profile: np.ndarray  # fraction of runs scoring > tau, one per ``SuiteBoard.taus``
    profile_low: np.ndarray
    profile_high: np.ndarray
    curve: SuiteCurve | None  # None when ``suite_board(curves=False)``

    @property
    def flags(self) -> str:
        """What the row's policies read beyond their own observations, as the task tables say
        it (``centralised (reads the global state)``, ...; ``-`` for none)."""
        parts = []
        if any(e.centralised for e in self.entries.values()):
            parts.append("centralised (reads the global state)")
        if any(e.privileged for e in self.entries.values()):
            parts.append("privileged (uses global state)")
        return ", ".join(parts) or "-"


@dataclass(frozen=True)
class IncompleteEntry:
    """An entry that cannot be ranked on the suite, and why."""

    label: str
    tier: str
    budget: int
    algorithms: tuple[str, ...]
    tasks: tuple[str, ...]  # suite tasks it did run
    missing: tuple[str, ...]  # suite tasks it did not run
    reason: str  # e.g. "missing pf"


@dataclass
class SuiteBoard:
    """The suite ranking of one action kind on one metric."""

    suite: str
    tasks: tuple[str, ...]
    continuous: bool
    metric: str  # ranks the rows; also the metric of ``poi`` and the profiles
    rows: list[SuiteRow]  # sorted by IQM of ``metric``, best first
    incomplete: list[IncompleteEntry]
    poi: list[list[stats.Interval | None]]  # poi[i][j] = P(row i beats row j); None if i == j
    taus: np.ndarray  # thresholds of the performance profiles


def suite_tasks(suite: str) -> tuple[str, ...]:
    """The tasks of a named suite; ValueError naming the known suites otherwise."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; expected one of {sorted(SUITES)}")
    return SUITES[suite]


def row_names(rows: list[SuiteRow]) -> list[str]:
    """Display names of ranked rows: the label, plus tier, budget and config hash where two
    rows share a label."""
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.label] = counts.get(r.label, 0) + 1
    return [
        r.label
        if counts[r.label] == 1
        else f"{r.label} [{r.tier}, {r.budget:,}, {'/'.join(h[:8] for h in r.config_hashes)}]"
        for r in rows
    ]


def _common_runs(
    entries: dict[str, Entry], tasks: tuple[str, ...]
) -> tuple[list[int], list[list[RunScores]], int]:
    """The seeds run on every task, the runs ``[seed][task]`` (the first by run key where a
    seed repeats) and how many runs are left out."""
    by_seed = [{r.seed: r for r in reversed(entries[t].runs)} for t in tasks]
    seeds = sorted(set.intersection(*(set(s) for s in by_seed)))
    runs = [[col[s] for col in by_seed] for s in seeds]
    total = sum(len(entries[t].runs) for t in tasks)
    return seeds, runs, total - len(seeds) * len(tasks)


def _aggregates(matrix: np.ndarray, reps: int, seed: int) -> Aggregates:
    point, low, high = stats.stratified_bootstrap(matrix, stats.suite_aggregates, reps, seed=seed)
    return Aggregates(*(stats.Interval(*map(float, v)) for v in np.stack([point, low, high], 1)))


def _curve(runs: list[list[RunScores]], reps: int, seed: int) -> SuiteCurve:
    flat = [r for row in runs for r in row]
    common = flat[0].steps
    for r in flat[1:]:
        common = np.intersect1d(common, r.steps)
    table = np.array([[r.curve[np.searchsorted(r.steps, common)] for r in row] for row in runs])
    table = np.moveaxis(table, -1, 0)  # [steps, runs, tasks]: a run keeps its whole curve
    point, low, high = stats.stratified_bootstrap(
        table, lambda a: stats.iqm(a, axis=(-2, -1)), reps, seed=seed
    )
    return SuiteCurve(common, point, low, high)


def _runs_or_incomplete(
    key: tuple[Any, ...], entries: dict[str, Entry], tasks: tuple[str, ...]
) -> tuple[list[int], list[list[RunScores]], int] | IncompleteEntry:
    """The common runs of a complete entry, else why it cannot be ranked."""
    label, _, tier, budget, algorithms, _ = key
    missing = tuple(t for t in tasks if t not in entries)
    common = ([], [], 0) if missing else _common_runs(entries, tasks)
    if common[0]:
        return common
    reason = f"missing {', '.join(missing)}" if missing else "no seed was run on every task"
    present = tuple(t for t in tasks if t in entries)
    return IncompleteEntry(label, tier, budget, algorithms, present, missing, reason)


def _scores(runs: list[list[RunScores]], metrics: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {
        m: np.array([[getattr(r, m) for r in row] for row in runs], dtype=np.float64)
        for m in metrics
    }


def _taus(matrices: list[np.ndarray]) -> np.ndarray:
    """One threshold grid for every profile of a board: from min(0, lowest score) to
    max(1, highest score)."""
    values = np.concatenate([m.ravel() for m in matrices] or [np.zeros(1)])
    return np.linspace(min(0.0, values.min()), max(1.0, values.max()), PROFILE_POINTS)


def _row(
    key: tuple[Any, ...],
    entries: dict[str, Entry],
    common: tuple[list[int], list[list[RunScores]], int],
    scores: dict[str, np.ndarray],
    profile: tuple[np.ndarray, np.ndarray, np.ndarray],
    reps: int,
    seed: int,
    curves: bool,
) -> SuiteRow:
    label, continuous, tier, budget, algorithms, _ = key
    config_hashes = tuple(sorted({e.config_hash for e in entries.values()}))
    seeds, runs, dropped = common
    return SuiteRow(
        label=label,
        continuous=continuous,
        tier=tier,
        budget=budget,
        algorithms=algorithms,
        config_hashes=config_hashes,
        entries=entries,
        seeds=seeds,
        dropped=dropped,
        scores=scores,
        aggregates={m: _aggregates(v, reps, seed) for m, v in scores.items()},
        profile=profile[0],
        profile_low=profile[1],
        profile_high=profile[2],
        curve=_curve(runs, reps, seed) if curves else None,
    )


def _poi_matrix(
    rows: list[SuiteRow], metric: str, reps: int, seed: int
) -> list[list[stats.Interval | None]]:
    """``P(row i beats row j)`` with bootstrap intervals; ``P(j beats i) = 1 - P(i beats j)``
    (ties count half), so each pair is bootstrapped once."""
    out: list[list[stats.Interval | None]] = [[None] * len(rows) for _ in rows]
    for i, a in enumerate(rows):
        for j in range(i + 1, len(rows)):
            p, lo, hi = stats.probability_of_improvement_ci(
                a.scores[metric], rows[j].scores[metric], reps=reps, seed=seed
            )
            out[i][j] = stats.Interval(p, lo, hi)
            out[j][i] = stats.Interval(1.0 - p, 1.0 - hi, 1.0 - lo)
    return out


def _board(
    groups: dict[tuple[Any, ...], dict[str, Entry]],
    suite: str,
    continuous: bool,
    metric: str,
    reps: int,
    seed: int,
    curves: bool,
) -> SuiteBoard:
    tasks = SUITES[suite]
    metrics = tuple(dict.fromkeys((*ROW_METRICS, metric)))
    complete: list[tuple[Any, ...]] = []
    incomplete: list[IncompleteEntry] = []
    for key in sorted(k for k in groups if k[1] == continuous):
        common = _runs_or_incomplete(key, groups[key], tasks)
        if isinstance(common, IncompleteEntry):
            incomplete.append(common)
        else:
            complete.append((key, common, _scores(common[1], metrics)))
    taus = _taus([scores[metric] for _, _, scores in complete])
    rows = [
        _row(
            key,
            {t: groups[key][t] for t in tasks},
            common,
            scores,
            stats.stratified_bootstrap(
                scores[metric], lambda a: stats.performance_profile(a, taus), reps, seed=seed
            ),
            reps,
            seed,
            curves,
        )
        for key, common, scores in complete
    ]
    rows.sort(key=lambda r: (-r.aggregates[metric].iqm.point, r.label))
    poi = _poi_matrix(rows, metric, reps, seed)
    return SuiteBoard(suite, tasks, continuous, metric, rows, incomplete, poi, taus)


def suite_board(
    board: Leaderboard,
    suite: str,
    continuous: bool | None = None,
    metric: str = "final",
    reps: int = 2000,
    seed: int = 0,
    curves: bool = True,
) -> list[SuiteBoard]:
    """The suite rankings of ``board``: one ``SuiteBoard`` per action kind present on the
    suite's tasks (discrete first), or only the ``continuous`` one when given. ``metric``
    (``final``, ``auc`` or ``absolute``) ranks the rows; deterministic given ``seed``.
    ``curves=False`` skips the aggregated curves (most of the time; tables need none)."""
    tasks = suite_tasks(suite)
    if metric not in SUITE_METRICS:
        raise ValueError(f"unknown suite metric {metric!r}; expected one of {list(SUITE_METRICS)}")
    groups: dict[tuple[Any, ...], dict[str, Entry]] = {}
    for e in board.entries:
        if e.task in tasks:
            groups.setdefault(suite_key(e), {})[e.task] = e
    kinds = sorted({k[1] for k in groups}) if continuous is None else [continuous]
    return [_board(groups, suite, kind, metric, reps, seed, curves) for kind in kinds]
