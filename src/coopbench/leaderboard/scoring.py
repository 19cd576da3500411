"""Leaderboard aggregation: per-run scores recomputed from raw returns, IQM across seeds.

One *entry* pools the runs (seeds) of one experiment: same task (id, version, keywords),
action type, protocol (tier, budget, evaluation interval, episodes and seed), policy label,
algorithm path and config hash (``identity``: two configs under one label are two entries,
told apart by the config keys that differ). Per run, from the raw returns only (the
per-point mean team returns the store keeps, never numbers a submitter wrote):

- **final score**: normalised mean team return of the last evaluation point;
- **AUC**: area under the normalised learning curve over ``[0, budget]`` divided by the budget
  (the time-averaged score, ``stats.curve_auc``), the sample-efficiency score;
- **steps to threshold**: first evaluation step whose normalised mean reaches
  ``threshold`` (default 0.5: halfway from random to the heuristic); runs that never reach it
  are censored at their budget (``stats.steps_to_threshold``), shown as ``>budget``;
- **absolute metric**: normalised mean of the re-evaluation of the best checkpoint on 10x
  the episodes (Gorsane et al. 2022, §4 "absolute performance").

Normalisation: ``(R - R_random) / (R_heuristic - R_random)`` with the task's stored reference
returns (0 = uniform random, 1 = scripted heuristic) of its current version, also for runs of
an earlier version with the same dynamics (``envs.scoring_references``). Across seeds: IQM
with a 95% stratified-bootstrap interval, the run as resampling unit (Agarwal et al. 2021, §4;
``stats.iqm_interval``), seeded so the same store always prints the same numbers.

Only runs trained under a tier's protocol are *ranked* (``Leaderboard.entries``). Runs whose
protocol has a ``kind`` are scored the same way but kept apart in ``Leaderboard.unranked``:
``evaluation-only`` (a pre-trained policy scored on the tier's evaluation worlds: one point
at step 0, so final score and absolute metric only, AUC NaN) and ``external`` (results
produced elsewhere under another protocol; AUC NaN when their curve does not start at 0).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from coopbench import stats
from coopbench.envs import scoring_references
from coopbench.leaderboard.identity import EntryKey, entry_key, names, protocol_dict
from coopbench.leaderboard.presets import runs_todays_config
from coopbench.results.reading import RunSummary, summarise
from coopbench.results.store import Store
from coopbench.results.submission import decode_submission

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
_NAMES = ("label", "display")
_BAND_CHUNK = 4_000_000  # bootstrap array elements per chunk of replicates


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
    """One leaderboard row: all runs of one experiment (see the module docstring).

    ``label`` is the policy's raw label; ``display`` the name shown everywhere (``label``
    unless another entry on the board shares it: then a suffix names what differs, and a
    label of a different algorithm than the label's main one is marked ``foreign``).
    ``curve_table`` is every run's normalised score at each common step [runs, steps]; the
    curve band (``curve_low``, ``curve_high``) is bootstrapped on first use.
    """

    task: str
    continuous: bool
    tier: str
    budget: int
    label: str
    algorithm_path: str
    config_hash: str
    display: str
    foreign: bool
    task_version: int
    task_kwargs: dict[str, Any]
    protocol: dict[str, Any]  # tier, budget, eval_interval, eval_episodes, eval_seed
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
    curve_table: np.ndarray = field(repr=False)
    reps: int = 2000  # bootstrap replicates of the curve band
    seed: int = 0  # bootstrap seed of the curve band
    kind: str = ""  # "" (trained under the protocol), "evaluation-only" or "external"
    config: dict[str, Any] = field(default_factory=dict, repr=False)  # the runs' config

    @property
    def ranked(self) -> bool:
        """Whether the entry was trained under a tier's protocol (``kind`` empty): only such
        entries are ranked; the others are shown apart, as ``Leaderboard.unranked``."""
        return not self.kind

    @cached_property
    def _band(self) -> tuple[np.ndarray, np.ndarray]:
        return _curve_band(self.curve_table, self.reps, self.seed)

    @property
    def curve_low(self) -> np.ndarray:
        """Lower end of the 95% bootstrap band of ``curve_iqm`` (runs resampled whole)."""
        return self._band[0]

    @property
    def curve_high(self) -> np.ndarray:
        """Upper end of the 95% bootstrap band of ``curve_iqm``."""
        return self._band[1]

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

    entries: list[Entry]  # ranked: trained under a tier's protocol
    threshold: float
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (run_key, reason)
    unranked: list[Entry] = field(default_factory=list)  # evaluation-only and external

    def groups(self) -> dict[tuple[str, bool, str, int], list[Entry]]:
        """Entries grouped by ``(task, continuous, tier, budget)``, the unit of one plot."""
        out: dict[tuple[str, bool, str, int], list[Entry]] = {}
        for e in self.entries:
            out.setdefault((e.task, e.continuous, e.tier, e.budget), []).append(e)
        return out

    def select(
        self, tasks: Collection[str] | None = None, labels: Collection[str] | None = None
    ) -> Leaderboard:
        """The entries on ``tasks`` whose label or display name is in ``labels`` (None: all).

        A name that matches no entry is a ValueError naming the names there are, so a typo
        never publishes an empty or partial board silently.
        """
        entries, unranked = self.entries, self.unranked
        for kind, wanted, attrs in (("task", tasks, ("task",)), ("entry", labels, _NAMES)):
            if wanted is None:
                continue
            wanted = set(wanted)
            present = {getattr(e, a) for e in entries + unranked for a in attrs}
            if wanted - present:
                raise ValueError(
                    f"no {kind} named {sorted(wanted - present)} on this board; "
                    f"there are {sorted(present)}"
                )
            entries = [e for e in entries if any(getattr(e, a) in wanted for a in attrs)]
            unranked = [e for e in unranked if any(getattr(e, a) in wanted for a in attrs)]
        return Leaderboard(entries, self.threshold, list(self.skipped), unranked)


def _references(task: dict[str, Any], cache: dict[str, Any]) -> tuple[float, float]:
    """``(R_random, R_heuristic)`` for the submission's task; ValueError when none apply."""
    ident = (task["id"], task["version"], repr(sorted(task["kwargs"].items())))
    if ident not in cache:
        try:
            ref = scoring_references(task["id"], task["version"], **task["kwargs"])
            cache[ident] = (ref["random"], ref["heuristic"])
        except (TypeError, ValueError) as exc:
            cache[ident] = " ".join(str(exc).split())
    value = cache[ident]
    if isinstance(value, str):
        raise ValueError(value)
    return value


def _run_scores(
    run: RunSummary, policy: str, refs: tuple[float, float], threshold: float
) -> RunScores:
    budget = run.meta["protocol"]["budget"]
    steps, means = run.curves[policy]
    low, high = refs
    curve = (means - low) / (high - low)
    if steps[0] == 0 and run.meta["protocol"].get("kind") != "evaluation-only":
        reached, censored = stats.steps_to_threshold(steps, curve, threshold, budget)
        auc = stats.curve_auc(steps, curve, budget)
    else:  # no learning curve from step 0: no sample-efficiency numbers (module docstring)
        hit = np.flatnonzero(curve >= threshold)
        reached, censored = (int(steps[hit[0]]), False) if hit.size else (budget, True)
        auc = float("nan")
    return RunScores(
        run_key=run.run_key,
        seed=run.meta["seed"],
        algorithm=run.meta["algorithm"]["name"],
        config_hash=run.meta["algorithm"]["config_hash"],
        budget=budget,
        steps=steps,
        curve=curve,
        final=float(curve[-1]),
        auc=auc,
        steps_to_threshold=reached,
        censored=censored,
        absolute=float((run.absolute[policy] - low) / (high - low)),
    )


def _summary(run: dict[str, Any] | RunSummary, validate: bool) -> RunSummary:
    if isinstance(run, RunSummary):
        return run
    return summarise(decode_submission(run) if validate else run)


def run_scores(
    run: dict[str, Any] | RunSummary,
    threshold: float = DEFAULT_THRESHOLD,
    cache: dict[Any, Any] | None = None,
) -> dict[str, RunScores]:
    """Every policy's scores in one run (a submission or a store's ``RunSummary``);
    ValueError if no references apply."""
    summary = _summary(run, validate=False)
    refs = _references(summary.meta["task"], {} if cache is None else cache)
    return {p: _run_scores(summary, p, refs, threshold) for p in summary.meta["policies"]}


def _curve_band(table: np.ndarray, reps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """95% percentile bootstrap band of the per-step IQM of ``table [runs, steps]``, each
    replicate resampling whole runs (a run's curve stays together)."""
    rng = np.random.default_rng(seed)
    runs, steps = table.shape
    batch = max(1, _BAND_CHUNK // max(runs * steps, 1))
    boot = np.concatenate(
        [
            stats.iqm(table[rng.integers(0, runs, size=(n, runs))], axis=1).reshape(n, steps)
            for n in [min(batch, reps - i) for i in range(0, reps, batch)]
        ]
    )
    low, high = np.percentile(boot, [2.5, 97.5], axis=0)
    return low, high


def _entry(
    key: EntryKey,
    runs: list[RunScores],
    config: dict[str, Any],
    flags: tuple[bool, bool],
    name: tuple[str, bool],
    reps: int,
    seed: int,
) -> Entry:
    order = sorted(runs, key=lambda r: (r.steps_to_threshold, r.censored))
    median = order[(len(order) - 1) // 2]
    common = runs[0].steps
    for r in runs[1:]:
        common = np.intersect1d(common, r.steps)
    table = np.array([r.curve[np.searchsorted(r.steps, common)] for r in runs])
    if all(np.isfinite(r.auc) for r in runs):
        scores = [[r.final, r.auc, r.absolute] for r in runs]
        final, auc, absolute = stats.iqm_intervals(scores, reps=reps, seed=seed)
    else:  # an unranked entry without a curve from step 0 (see ``Entry.kind``)
        final, absolute = stats.iqm_intervals(
            [[r.final, r.absolute] for r in runs], reps=reps, seed=seed
        )
        auc = stats.Interval(float("nan"), float("nan"), float("nan"))
    return Entry(
        task=key.task,
        continuous=key.continuous,
        tier=key.tier,
        budget=key.budget,
        label=key.label,
        algorithm_path=key.algorithm_path,
        config_hash=key.config_hash,
        display=name[0],
        foreign=name[1],
        task_version=key.task_version,
        task_kwargs=json.loads(key.task_kwargs),
        protocol=protocol_dict(key),
        centralised=flags[0],
        privileged=flags[1],
        runs=sorted(runs, key=lambda r: (r.seed, r.run_key)),
        final=final,
        auc=auc,
        absolute=absolute,
        steps_median=median.steps_to_threshold,
        steps_censored=median.censored,
        reached=sum(not r.censored for r in runs),
        curve_steps=common,
        curve_iqm=np.asarray(stats.iqm(table, axis=0)).reshape(len(common)),
        curve_table=table,
        reps=reps,
        seed=seed,
        kind=key.kind,
        config=config,
    )


def aggregate(
    runs: Store | Iterable[dict[str, Any] | RunSummary],
    threshold: float = DEFAULT_THRESHOLD,
    reps: int = 2000,
    seed: int = 0,
    validate: bool = True,
) -> Leaderboard:
    """Score every policy of every run and aggregate them into leaderboard entries.

    ``runs`` is a ``Store`` (read from its summary columns: fast, nothing re-validated), its
    ``run_summaries()``, or submission documents (validated unless ``validate=False``). A
    run whose task has no reference returns (unknown task, non-default task keywords, an
    older task version) is listed in ``Leaderboard.skipped``, never scored.
    """
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    if isinstance(runs, Store):
        runs = runs.run_summaries()
    cache: dict[Any, Any] = {}
    groups: dict[EntryKey, list[RunScores]] = {}
    flags: dict[EntryKey, tuple[bool, bool]] = {}
    configs: dict[EntryKey, dict[str, Any]] = {}
    skipped: list[tuple[str, str]] = []
    for run in runs:
        summary = _summary(run, validate)
        try:
            scores = run_scores(summary, threshold, cache)
        except ValueError as exc:
            skipped.append((summary.run_key, str(exc)))
            continue
        for policy, info in summary.meta["policies"].items():
            key = entry_key(summary.meta, info["label"])
            groups.setdefault(key, []).append(scores[policy])
            configs.setdefault(key, summary.meta["algorithm"]["config"])
            old = flags.get(key, (False, False))
            flags[key] = (old[0] or info["centralised"], old[1] or info["privileged"])
    boards: list[list[Entry]] = []
    for ranked in (True, False):  # named apart: an unranked label never renames a ranked one
        keys = sorted(k for k in groups if (not k.kind) == ranked)
        named = names(keys, configs, {k: len(groups[k]) for k in keys}, runs_todays_config)
        boards.append(
            [_entry(k, groups[k], configs[k], flags[k], named[k], reps, seed) for k in keys]
        )
    return Leaderboard(boards[0], float(threshold), skipped, boards[1])


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
