"""Scoring statistics: normalisation, IQM, stratified-bootstrap intervals, probability of
improvement, learning-curve area and steps-to-threshold.

Conventions follow rliable (Agarwal et al., 2021) so that numbers are comparable with the
literature: scores across seeds are arrays shaped ``[runs, tasks]``, the run (seed) is the
bootstrap resampling unit and resampling is stratified by task. Everything is vectorised
numpy with a seeded ``np.random.Generator``; ``tests/test_stats_rliable.py`` cross-checks the
results against rliable itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from coopbench.validation import check_int

__all__ = [
    "SUITE_AGGREGATES",
    "Interval",
    "bootstrap_difference_ci",
    "bootstrap_replicates",
    "curve_auc",
    "iqm",
    "iqm_interval",
    "iqm_intervals",
    "normalise",
    "performance_profile",
    "probability_of_improvement",
    "probability_of_improvement_ci",
    "steps_to_threshold",
    "stratified_bootstrap",
    "stratified_bootstrap_ci",
    "suite_aggregates",
]

# Upper bound on the number of elements materialised per bootstrap chunk (~32 MiB of float64).
# The chunk size depends only on the data shape, so results are reproducible for a given seed.
_MAX_CHUNK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval ``[low, high]``."""

    point: float
    low: float
    high: float


# --------------------------------------------------------------------------- validation


def _finite_array(values: ArrayLike, name: str) -> np.ndarray:
    """Return ``values`` as a non-empty float array, rejecting NaN/inf (they poison ranks)."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric, got {values!r}") from exc
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = arr[bad].flat[0]
        raise ValueError(
            f"{name} must be finite, found {int(bad.sum())} non-finite value(s) "
            f"(e.g. {first}) at flat index {int(np.flatnonzero(bad)[0])}"
        )
    return arr


def _runs_by_tasks(values: ArrayLike, name: str) -> np.ndarray:
    """Coerce scores to ``[runs, tasks]``; a 1-D input is one task, ``[runs, 1]``."""
    arr = _finite_array(values, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D [runs] or 2-D [runs, tasks], got shape {arr.shape}")
    return arr


def _check_reps_confidence(reps: int, confidence: float) -> None:
    check_int(reps, "reps")
    if not (0.0 < confidence < 1.0):
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")


def _check_budget(budget: int) -> None:
    check_int(budget, "budget")


def _curve(steps: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate a learning curve: 1-D, same length, integer steps strictly increasing from 0."""
    s = _finite_array(steps, "steps")
    y = _finite_array(scores, "scores")
    if s.ndim != 1 or y.ndim != 1:
        raise ValueError(f"steps and scores must be 1-D, got shapes {s.shape} and {y.shape}")
    if s.shape != y.shape:
        raise ValueError(f"steps and scores must have the same length, got {s.size} and {y.size}")
    frac = np.flatnonzero(s != np.round(s))
    if frac.size:
        raise ValueError(
            f"steps must be whole env-step counts, got {s[frac[0]]} at index {frac[0]}"
        )
    if s[0] != 0:
        raise ValueError(f"steps must start at 0 (the step-0 evaluation), got first step {s[0]}")
    dec = np.flatnonzero(np.diff(s) <= 0)
    if dec.size:
        i = int(dec[0])
        raise ValueError(
            f"steps must be strictly increasing, got {s[i]} then {s[i + 1]} at index {i + 1}"
        )
    return s, y


# --------------------------------------------------------------------------- scores


def normalise(returns: ArrayLike, r_random: float, r_heuristic: float) -> np.ndarray:
    """Normalise team returns so that the random policy scores 0 and the heuristic scores 1."""
    if not (np.isfinite(r_random) and np.isfinite(r_heuristic)):
        raise ValueError(
            f"reference returns must be finite, got r_random={r_random!r}, "
            f"r_heuristic={r_heuristic!r}"
        )
    if r_heuristic == r_random:
        raise ValueError(
            f"r_heuristic == r_random == {r_random!r}: normalisation is undefined (zero range)"
        )
    return (_finite_array(returns, "returns") - r_random) / (r_heuristic - r_random)


def iqm(scores: ArrayLike, axis: int | tuple[int, ...] | None = None) -> np.ndarray | float:
    """Interquartile mean: the 25% trimmed mean, robust to outlier runs yet less noisy than
    the median.

    Equal to ``scipy.stats.trim_mean(scores, 0.25, axis)`` (and so to rliable's
    ``aggregate_iqm`` when ``axis`` is None) up to floating-point summation order (the kept
    values are summed sorted): ``n // 4`` values are dropped from each end of
    the ``n`` values reduced over (no fractional weighting) and the rest are averaged.
    ``axis=None`` reduces the flattened array; a tuple of axes reduces them jointly.
    Returns a float for a full reduction, else an array.
    """
    a = _finite_array(scores, "scores")
    if axis is None:
        a = a.reshape(-1)
    else:
        axes = _normalise_axes(axis, a.ndim)
        a = np.moveaxis(a, axes, tuple(range(-len(axes), 0)))
        a = a.reshape(*a.shape[: a.ndim - len(axes)], -1)
    n = a.shape[-1]
    k = n // 4
    if k:  # a full sort of the small rows is several times faster than np.partition
        a = np.sort(a, axis=-1)[..., k : n - k]
    out = a.mean(axis=-1)
    return float(out) if out.ndim == 0 else out


def _normalise_axes(axis: int | tuple[int, ...], ndim: int) -> tuple[int, ...]:
    """Axes as a tuple of distinct non-negative ints, validated against ``ndim``."""
    raw = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for ax in raw:
        if not -ndim <= ax < ndim:
            raise ValueError(f"axis {ax!r} is out of bounds for an array of dimension {ndim}")
    axes = tuple(int(ax) % ndim for ax in raw)
    if len(set(axes)) != len(axes):
        raise ValueError(f"axis contains duplicates: {axis!r}")
    return axes


# --------------------------------------------------------------------------- bootstrap


def _chunks(reps: int, per_rep: int) -> list[int]:
    """Split ``reps`` into chunk sizes bounded by ``_MAX_CHUNK_ELEMENTS`` total elements."""
    size = max(1, _MAX_CHUNK_ELEMENTS // max(per_rep, 1))
    return [min(size, reps - start) for start in range(0, reps, size)]


def _resample(rng: np.random.Generator, data: np.ndarray, batch: int) -> np.ndarray:
    """Stratified resample of ``data [..., runs, tasks]`` -> ``[..., batch, runs, tasks]``: the
    runs are drawn with replacement independently within each task column, tasks are never
    mixed; the leading axes share the draws (a run keeps e.g. its whole learning curve)."""
    runs, tasks = data.shape[-2:]
    idx = rng.integers(0, runs, size=(batch, runs, tasks))
    flat = data.reshape(*data.shape[:-2], runs * tasks)
    return np.take(flat, idx * tasks + np.arange(tasks), axis=-1)


def _percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval (linear interpolation), as arch's ``conf_int(method='percentile')``."""
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(values, [100.0 * alpha, 100.0 * (1.0 - alpha)])
    return float(low), float(high)


def _replicates(
    rng: np.random.Generator, data: np.ndarray, statistic: Callable[[np.ndarray], Any], reps: int
) -> np.ndarray:
    """``statistic`` of ``reps`` stratified resamples of ``data [*lead, runs, tasks]``, as
    ``[*lead, reps, *out]``: ``statistic`` maps a batch ``[*lead, batch, runs, tasks]`` to
    ``[*lead, batch, *out]`` (replicates are drawn in memory-bounded chunks)."""
    axis = data.ndim - 2
    parts = []
    for batch in _chunks(reps, data.size):
        stat = np.asarray(statistic(_resample(rng, data, batch)), dtype=np.float64)
        expected = (*data.shape[:axis], batch)
        if stat.shape[: axis + 1] != expected:
            raise ValueError(
                f"statistic must return one result per replicate: expected shape {expected} "
                f"(then any output axes), got {stat.shape}"
            )
        parts.append(stat)
    return np.concatenate(parts, axis=axis)


def bootstrap_replicates(
    scores: ArrayLike,
    statistic: Callable[..., Any] = iqm,
    reps: int = 2000,
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    """``statistic`` of ``reps`` stratified resamples of ``scores`` ``[runs, tasks]`` (1-D
    means one task): ``[reps]`` float64.

    Each replicate resamples the runs with replacement independently within every task
    (rliable's stratified bootstrap, the seed is the resampling unit). ``statistic(a,
    axis=(-2, -1))`` must reduce the trailing ``[runs, tasks]`` axes of ``a`` (``iqm``,
    ``np.mean``, ``np.median`` all do); it is applied to whole batches of replicates at once.
    ``seed``: an int, or a generator to draw from (several intervals from one stream).
    """
    data = _runs_by_tasks(scores, "scores")
    check_int(reps, "reps")
    rng = np.random.default_rng(seed)
    values = _replicates(rng, data, lambda a: statistic(a, axis=(-2, -1)), reps)
    if values.shape != (reps,):
        raise ValueError(
            f"statistic must reduce the trailing [runs, tasks] axes to one value per "
            f"replicate: expected shape ({reps},), got {values.shape[1:] or 'a scalar'} each"
        )
    return values


def stratified_bootstrap_ci(
    scores: ArrayLike,
    statistic: Callable[..., Any] = iqm,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> tuple[float, float, float]:
    """Point estimate and percentile bootstrap interval of an aggregate over runs and tasks.

    The replicates are ``bootstrap_replicates(scores, statistic, reps, seed)``, so the
    uncertainty is that of re-running the seeds on the same tasks. Returns ``(point, low,
    high)``, the point computed on the data.
    """
    data = _runs_by_tasks(scores, "scores")
    _check_reps_confidence(reps, confidence)
    point = float(np.asarray(statistic(data, axis=(-2, -1))))
    low, high = _percentile_interval(bootstrap_replicates(data, statistic, reps, seed), confidence)
    return point, low, high


def bootstrap_difference_ci(
    x: ArrayLike,
    y: ArrayLike,
    statistic: Callable[..., Any] = iqm,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> tuple[float, float, float]:
    """``statistic(x) - statistic(y)`` with a percentile bootstrap interval, the runs of ``x``
    and of ``y`` resampled independently (x's replicates drawn first). Returns
    ``(point, low, high)``."""
    xa, ya = _runs_by_tasks(x, "x"), _runs_by_tasks(y, "y")
    _check_reps_confidence(reps, confidence)
    rng = np.random.default_rng(seed)
    point = float(np.asarray(statistic(xa, axis=(-2, -1)) - statistic(ya, axis=(-2, -1))))
    diff = bootstrap_replicates(xa, statistic, reps, rng) - bootstrap_replicates(
        ya, statistic, reps, rng
    )
    low, high = _percentile_interval(diff, confidence)
    return point, low, high


def stratified_bootstrap(
    scores: ArrayLike,
    statistic: Callable[[np.ndarray], Any],
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified-bootstrap point estimates and percentile intervals of a vector statistic.

    The multi-output form of ``stratified_bootstrap_ci`` (same resampling, same random stream):
    ``scores`` is ``[*lead, runs, tasks]``, the leading axes sharing each replicate's draws, so
    a run keeps all of its values (``[steps, runs, tasks]``: its whole learning curve).
    ``statistic`` maps a batch ``[*lead, batch, runs, tasks]`` to ``[*lead, batch, *out]``
    (``suite_aggregates``, ``performance_profile``, ``lambda a: iqm(a, axis=(-2, -1))``), every
    output computed on the same replicates. Returns ``(point, low, high)``, each
    ``[*lead, *out]``.
    """
    data = _finite_array(scores, "scores")
    if data.ndim < 2:
        raise ValueError(f"scores must be [..., runs, tasks], got shape {data.shape}")
    _check_reps_confidence(reps, confidence)
    axis = data.ndim - 2
    rng = np.random.default_rng(seed)
    point = np.asarray(statistic(np.expand_dims(data, axis)), dtype=np.float64)
    values = _replicates(rng, data, statistic, reps)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(values, [100.0 * alpha, 100.0 * (1.0 - alpha)], axis=axis)
    return point.take(0, axis=axis), low, high


# --------------------------------------------------------------------------- suites

SUITE_AGGREGATES = ("iqm", "median", "mean", "optimality_gap")


def suite_aggregates(scores: ArrayLike, gamma: float = 1.0) -> np.ndarray:
    """rliable's four aggregates of ``[..., runs, tasks]`` scores, stacked as ``[..., 4]``.

    In ``SUITE_AGGREGATES`` order: IQM over all runs and tasks pooled; median and mean over
    tasks of the per-task mean score; optimality gap ``gamma - mean(min(score, gamma))``, the
    shortfall from ``gamma`` (1 = the heuristic on normalised scores; lower is better,
    exceeding ``gamma`` earns nothing). Equal to ``rliable.metrics.aggregate_*``.
    """
    a = _finite_array(scores, "scores")
    if a.ndim < 2:
        raise ValueError(f"scores must be [..., runs, tasks], got shape {a.shape}")
    task_means = a.mean(axis=-2)
    return np.stack(
        [
            np.asarray(iqm(a, axis=(-2, -1))),
            np.median(task_means, axis=-1),
            task_means.mean(axis=-1),
            gamma - np.minimum(a, gamma).mean(axis=(-2, -1)),
        ],
        axis=-1,
    )


def performance_profile(scores: ArrayLike, taus: ArrayLike) -> np.ndarray:
    """Score distribution: the fraction of all runs (pooled over tasks) scoring ``> tau``, for
    each ``tau`` (increasing); ``[..., runs, tasks]`` -> ``[..., len(taus)]`` (rliable's
    run-score performance profile, equal to it exactly)."""
    a = _finite_array(scores, "scores")
    t = _finite_array(taus, "taus")
    if t.ndim != 1 or np.any(np.diff(t) <= 0):
        raise ValueError(f"taus must be a 1-D strictly increasing grid, got {t!r}")
    lead, n = a.shape[:-2], a.shape[-2] * a.shape[-1]
    # Each score exceeds the taus below it: count the runs per number of taus exceeded.
    above = np.searchsorted(t, a.reshape(-1, n), side="left")
    rows = np.arange(above.shape[0])[:, None] * (t.size + 1)
    counts = np.bincount((rows + above).ravel(), minlength=above.shape[0] * (t.size + 1))
    at_most = np.cumsum(counts.reshape(-1, t.size + 1), axis=-1)[:, : t.size]
    return ((n - at_most) / n).reshape(*lead, t.size)


def iqm_interval(
    scores: ArrayLike, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> Interval:
    """IQM over ``[runs, tasks]`` with its stratified-bootstrap interval (leaderboard rows)."""
    return Interval(*stratified_bootstrap_ci(scores, iqm, reps, confidence, seed))


def iqm_intervals(
    columns: ArrayLike, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> list[Interval]:
    """``iqm_interval`` of every column of ``columns [runs, k]`` at once, equal to ``k``
    separate calls with the same ``seed`` (same draws, same per-replicate arithmetic)."""
    data = _finite_array(columns, "scores")
    if data.ndim != 2 or data.shape[0] < 1:
        raise ValueError(f"columns must be [runs, k] with runs >= 1, got shape {data.shape}")
    _check_reps_confidence(reps, confidence)
    runs = data.shape[0]
    rng = np.random.default_rng(seed)
    values = np.empty((data.shape[1], reps), dtype=np.float64)
    start = 0
    for batch in _chunks(reps, runs):
        idx = rng.integers(0, runs, size=(batch, runs, 1))[..., 0]
        rows = data.T[:, idx].reshape(-1, runs)  # [k * batch, runs], as iqm_interval's rows
        values[:, start : start + batch] = iqm(rows, axis=-1).reshape(-1, batch)
        start += batch
    return [
        Interval(iqm(column), *_percentile_interval(boot, confidence))
        for column, boot in zip(data.T, values, strict=True)
    ]


# --------------------------------------------------------------------------- improvement


def _pairs_x_beats_y(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x [..., n, T]``, ``y [..., m, T]`` -> mean over all run pairs of
    ``1[x > y] + 0.5 * 1[x == y]`` (Mann-Whitney U / (n m)) per task, shape ``[..., T]``."""
    pairs = x.shape[-2] * y.shape[-2]
    # The sum of signs is an exact integer and U = (sum + pairs) / 2, so this is U / pairs
    # correctly rounded, bit-for-bit what scipy's Mann-Whitney U gives.
    sign_sum = np.sign(x[..., :, None, :] - y[..., None, :, :]).sum(axis=(-3, -2))
    return (sign_sum + pairs) / (2.0 * pairs)


def _pair_arrays(x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    xa = _runs_by_tasks(x, "x")
    ya = _runs_by_tasks(y, "y")
    if xa.shape[1] != ya.shape[1]:
        raise ValueError(
            f"x and y must cover the same tasks, got {xa.shape[1]} and {ya.shape[1]} task columns"
        )
    return xa, ya


def probability_of_improvement(x: ArrayLike, y: ArrayLike) -> float:
    """P(X > Y): the chance that a run of X beats a run of Y on a task (ties count half),
    averaged over tasks, as rliable. ``x [runs_x, tasks]``, ``y [runs_y, tasks]``."""
    xa, ya = _pair_arrays(x, y)
    return float(_pairs_x_beats_y(xa, ya).mean())


def probability_of_improvement_ci(
    x: ArrayLike,
    y: ArrayLike,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Probability of improvement with a percentile bootstrap interval.

    The runs of ``x`` and of ``y`` are resampled independently of each other, stratified per
    task (rliable's ``StratifiedIndependentBootstrap``): the two algorithms' seeds are unpaired.
    Returns ``(point, low, high)``.
    """
    xa, ya = _pair_arrays(x, y)
    _check_reps_confidence(reps, confidence)
    rng = np.random.default_rng(seed)
    point = float(_pairs_x_beats_y(xa, ya).mean())
    values = np.empty(reps, dtype=np.float64)
    start = 0
    for batch in _chunks(reps, xa.shape[0] * ya.shape[0] * xa.shape[1]):
        xb = _resample(rng, xa, batch)
        yb = _resample(rng, ya, batch)
        values[start : start + batch] = _pairs_x_beats_y(xb, yb).mean(axis=-1)
        start += batch
    low, high = _percentile_interval(values, confidence)
    return point, low, high


# --------------------------------------------------------------------------- learning curves


def curve_auc(steps: ArrayLike, scores: ArrayLike, budget: int) -> float:
    """Sample efficiency: trapezoid area under the score curve on ``[0, budget]`` divided by
    ``budget``, i.e. the time-averaged score (a constant curve at ``c`` gives ``c``).

    ``steps`` must start at 0 and strictly increase. If the last evaluation is before the
    budget, the last score is held flat up to it; evaluations past the budget are cut off,
    with the score at ``budget`` linearly interpolated.
    """
    s, y = _curve(steps, scores)
    _check_budget(budget)
    inside = s < budget
    s2 = np.append(s[inside], float(budget))
    y2 = np.append(y[inside], np.interp(float(budget), s, y))  # flat beyond s[-1]
    area = 0.5 * np.sum((y2[1:] + y2[:-1]) * np.diff(s2))
    return float(area / budget)


def steps_to_threshold(
    steps: ArrayLike, scores: ArrayLike, threshold: float, budget: int
) -> tuple[int, bool]:
    """First evaluation step (within the budget) whose score is ``>= threshold``.

    Returns ``(step, censored)``. A run that never reaches the threshold returns
    ``(budget, True)``, read as "more than the budget": it is censored, never dropped, so
    aggregates do not flatter algorithms that often fail.
    """
    s, y = _curve(steps, scores)
    _check_budget(budget)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    hit = np.flatnonzero((y >= threshold) & (s <= budget))
    if hit.size == 0:
        return int(budget), True
    return int(s[hit[0]]), False
