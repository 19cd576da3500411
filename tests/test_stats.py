"""Unit tests for coopbench.stats: hand-computed cases and bootstrap properties."""

from __future__ import annotations

import numpy as np
import pytest

from coopbench import stats
from coopbench.stats import (
    Interval,
    curve_auc,
    iqm,
    iqm_interval,
    normalise,
    probability_of_improvement,
    probability_of_improvement_ci,
    steps_to_threshold,
    stratified_bootstrap_ci,
)

# --------------------------------------------------------------------------- normalise


def test_normalise_maps_references_to_zero_and_one():
    out = normalise([-100.0, -60.0, -20.0, 20.0], r_random=-100.0, r_heuristic=-20.0)
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0, 1.5])
    assert normalise(np.full((2, 3), 5.0), 0.0, 10.0).shape == (2, 3)


def test_normalise_rejects_zero_range_and_non_finite():
    with pytest.raises(ValueError, match=r"r_heuristic == r_random == 3\.0"):
        normalise([1.0], 3.0, 3.0)
    with pytest.raises(ValueError, match="r_random=nan"):
        normalise([1.0], float("nan"), 3.0)
    with pytest.raises(ValueError, match=r"returns must be finite.*inf"):
        normalise([1.0, float("inf")], 0.0, 1.0)


# --------------------------------------------------------------------------- iqm


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (range(1, 9), 4.5),  # n=8, drop 2 each end: mean(3, 4, 5, 6)
        ([1, 2, 3, 5], 2.5),  # n=4, drop 1 each end: mean(2, 3)
        ([1, 2, 3, 4, 100], 3.0),  # n=5, int(1.25)=1 each end: mean(2, 3, 4)
        ([1, 2, 3, 4, 5, 60], 3.5),  # n=6, int(1.5)=1 each end: mean(2, 3, 4, 5)
        ([7, 1, 6, 2, 5, 3, 4], 4.0),  # n=7, int(1.75)=1, unsorted input: mean(2..6)
        ([1, 2, 9], 4.0),  # n=3, int(0.75)=0: plain mean
        ([5.0], 5.0),  # n=1
        ([1, 2, 3, 4, 5, 6, 7, 8, 1000], 5.0),  # n=9, int(2.25)=2: mean(3..7)
        ([[1, 100], [2, 3], [4, -50]], 2.5),  # 2-D flattened, n=6: mean(1, 2, 3, 4)
    ],
)
def test_iqm_hand_cases(values, expected):
    assert iqm(values) == pytest.approx(expected, abs=1e-12)
    assert isinstance(iqm(values), float)


def test_iqm_along_axes():
    x = np.array([[1, 2, 3, 5], [10, 20, 30, 50]], dtype=float)
    np.testing.assert_allclose(iqm(x, axis=1), [2.5, 25.0])
    np.testing.assert_allclose(iqm(x, axis=-1), [2.5, 25.0])
    np.testing.assert_allclose(iqm(x, axis=0), x.mean(axis=0))  # n=2: nothing trimmed
    batch = np.stack([x, 2 * x])  # [2, 2, 4]: a tuple of axes reduces them jointly
    np.testing.assert_allclose(iqm(batch, axis=(-2, -1)), [iqm(x), iqm(2 * x)])
    assert iqm(x, axis=(0, 1)) == pytest.approx(iqm(x))


def test_iqm_is_permutation_invariant_and_robust_to_outliers():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    assert iqm(rng.permutation(x)) == pytest.approx(iqm(x), abs=1e-12)
    y = x.copy()
    y[np.argmax(y)] = 1e9
    assert iqm(y) == pytest.approx(iqm(x), abs=1e-12)


def test_iqm_rejects_bad_inputs():
    with pytest.raises(ValueError, match="must not be empty"):
        iqm([])
    with pytest.raises(ValueError, match=r"finite.*nan"):
        iqm([1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        iqm(np.ones((3, 2)), axis=2)


# --------------------------------------------------------------------------- bootstrap


def _data(runs: int, tasks: int = 3, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(runs, tasks))


def test_bootstrap_contains_point_and_point_is_iqm():
    d = _data(10)
    point, low, high = stratified_bootstrap_ci(d, reps=1000)
    assert point == pytest.approx(iqm(d))
    assert low < point < high


def test_bootstrap_shrinks_with_more_runs():
    few = stratified_bootstrap_ci(_data(5), reps=1000)
    many = stratified_bootstrap_ci(_data(80), reps=1000)
    assert many[2] - many[1] < 0.5 * (few[2] - few[1])


def test_bootstrap_wider_at_higher_confidence():
    d = _data(10)
    _, lo90, hi90 = stratified_bootstrap_ci(d, reps=1000, confidence=0.90)
    _, lo99, hi99 = stratified_bootstrap_ci(d, reps=1000, confidence=0.99)
    assert lo99 < lo90 and hi90 < hi99


def test_bootstrap_is_reproducible_per_seed():
    d = _data(8)
    assert stratified_bootstrap_ci(d, reps=500, seed=3) == stratified_bootstrap_ci(
        d, reps=500, seed=3
    )
    assert stratified_bootstrap_ci(d, reps=500, seed=3) != stratified_bootstrap_ci(
        d, reps=500, seed=4
    )


def test_bootstrap_constant_input_has_zero_width():
    point, low, high = stratified_bootstrap_ci(np.full((6, 4), 0.7), reps=200)
    assert point == pytest.approx(0.7)
    assert low == high
    assert low == pytest.approx(0.7)


def test_bootstrap_resamples_runs_within_each_task():
    # Task j holds the values 100*j + run: any mixing of tasks would be visible.
    runs, tasks = 7, 4
    d = 100.0 * np.arange(tasks) + np.arange(runs)[:, None]
    seen = []

    def record(a, axis):
        seen.append(np.array(a))
        return np.mean(a, axis=axis)

    stratified_bootstrap_ci(d, statistic=record, reps=300)
    batches = [b for b in seen if b.ndim == 3]
    reps = np.concatenate(batches)
    assert reps.shape == (300, runs, tasks)  # every replicate keeps `runs` draws per task
    for j in range(tasks):
        assert np.isin(reps[:, :, j], d[:, j]).all()  # only task j's runs in column j
    assert (reps != d).any(axis=(1, 2)).mean() > 0.9  # and they are really resampled


def test_bootstrap_stratification_removes_between_task_variance():
    # Constant within each task, very different across tasks: stratified replicates all
    # have the same mean (zero-width interval); pooled resampling over runs x tasks would not.
    d = np.tile([0.0, 10.0], (5, 1))
    point, low, high = stratified_bootstrap_ci(d, statistic=np.mean, reps=500)
    assert point == low == high == 5.0
    pooled = np.random.default_rng(0).choice(d.ravel(), size=(500, d.size)).mean(axis=1)
    assert pooled.std() > 1.0


def test_bootstrap_one_dimensional_is_one_task():
    v = _data(9, tasks=1).ravel()
    assert stratified_bootstrap_ci(v, reps=300) == stratified_bootstrap_ci(v[:, None], reps=300)


def test_bootstrap_chunking(monkeypatch):
    d = _data(10)
    whole = stratified_bootstrap_ci(d, reps=2000)
    monkeypatch.setattr(stats, "_MAX_CHUNK_ELEMENTS", 64)  # 2 replicates per chunk
    chunked = stratified_bootstrap_ci(d, reps=2000)
    assert chunked == stratified_bootstrap_ci(d, reps=2000)
    assert chunked[0] == whole[0]
    np.testing.assert_allclose(chunked[1:], whole[1:], atol=0.1)


def test_iqm_interval_wraps_bootstrap():
    d = _data(6)
    out = iqm_interval(d, reps=400, seed=2)
    assert isinstance(out, Interval)
    assert (out.point, out.low, out.high) == stratified_bootstrap_ci(d, iqm, 400, 0.95, 2)


def test_bootstrap_rejects_bad_inputs():
    with pytest.raises(ValueError, match="reps=0 is invalid; expected a positive integer"):
        stratified_bootstrap_ci(_data(4), reps=0)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\), got 1.5"):
        stratified_bootstrap_ci(_data(4), confidence=1.5)
    with pytest.raises(ValueError, match=r"got shape \(2, 2, 2\)"):
        stratified_bootstrap_ci(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="scores must be finite"):
        stratified_bootstrap_ci([[1.0, np.inf]])
    with pytest.raises(ValueError, match=r"expected shape \(10,\)"):
        stratified_bootstrap_ci(_data(4), statistic=lambda a, axis: np.mean(a), reps=10)


# --------------------------------------------------------------------------- improvement


def test_probability_of_improvement_hand_cases():
    assert probability_of_improvement([3, 4, 5], [0, 1]) == 1.0
    assert probability_of_improvement([0, 1], [3, 4, 5]) == 0.0
    assert probability_of_improvement([2, 2], [2, 2, 2]) == 0.5  # all ties
    same = _data(5, tasks=2)
    assert probability_of_improvement(same, same) == 0.5
    # x = [3, 2] vs y = [2, 1, 0]: 3 beats all three, 2 ties one and beats two -> 5.5 / 6.
    assert probability_of_improvement([3, 2], [2, 1, 0]) == pytest.approx(11 / 12)
    # Averaged over tasks: task 0 always won, task 1 always lost.
    x = [[5.0, 0.0], [6.0, 1.0]]
    y = [[1.0, 9.0], [2.0, 8.0], [3.0, 7.0]]
    assert probability_of_improvement(x, y) == 0.5


def test_probability_of_improvement_is_complementary():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 4, size=(7, 3))  # small integers: plenty of ties
    y = rng.integers(0, 4, size=(4, 3))
    p_xy = probability_of_improvement(x, y)
    assert p_xy + probability_of_improvement(y, x) == pytest.approx(1.0, abs=1e-12)
    assert 0.0 < p_xy < 1.0


def test_probability_of_improvement_ci():
    x = _data(8, seed=1) + 0.5
    y = _data(6, seed=2)
    point, low, high = probability_of_improvement_ci(x, y, reps=1000)
    assert point == probability_of_improvement(x, y)
    assert low <= point <= high and high - low > 0.05
    assert probability_of_improvement_ci(x, y, reps=300, seed=1) == probability_of_improvement_ci(
        x, y, reps=300, seed=1
    )
    assert probability_of_improvement_ci(x + 100, y, reps=100) == (1.0, 1.0, 1.0)


def test_probability_of_improvement_rejects_mismatched_tasks():
    with pytest.raises(ValueError, match="got 3 and 2 task columns"):
        probability_of_improvement(np.ones((4, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="y must be finite"):
        probability_of_improvement([1.0], [np.nan])
    with pytest.raises(ValueError, match="reps=-1 is invalid; expected a positive integer"):
        probability_of_improvement_ci([1.0], [2.0], reps=-1)


# --------------------------------------------------------------------------- learning curves


def test_curve_auc_hand_cases():
    assert curve_auc([0, 10, 20], [0.3, 0.3, 0.3], 20) == pytest.approx(0.3)
    assert curve_auc([0, 100], [0.0, 1.0], 100) == pytest.approx(0.5)  # linear ramp
    # Uneven spacing: ramp 0->1 over [0, 10] (area 5), flat 1 over [10, 40] (area 30).
    assert curve_auc([0, 10, 40], [0.0, 1.0, 1.0], 40) == pytest.approx(35 / 40)


def test_curve_auc_holds_last_score_to_budget():
    assert curve_auc([0, 10], [0.3, 0.3], 1000) == pytest.approx(0.3)
    assert curve_auc([0], [0.8], 50) == pytest.approx(0.8)
    # Ramp to 1 at step 50 (area 25), then held flat at 1 to 100 (area 50).
    assert curve_auc([0, 50], [0.0, 1.0], 100) == pytest.approx(0.75)


def test_curve_auc_cuts_evaluations_past_budget():
    # Score at the budget (50) is interpolated to 0.5: area 12.5 over 50 steps.
    assert curve_auc([0, 100, 200], [0.0, 1.0, 1.0], 50) == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("steps", "scores", "budget", "message"),
    [
        ([5, 10], [0.0, 1.0], 10, "must start at 0.*first step 5"),
        ([0, 10, 10], [0.0, 1.0, 1.0], 10, "strictly increasing, got 10.0 then 10.0 at index 2"),
        ([0, 20, 10], [0.0, 1.0, 1.0], 10, "strictly increasing, got 20.0 then 10.0"),
        ([0, 10], [0.0], 10, "same length, got 2 and 1"),
        ([0, 10], [0.0, np.nan], 10, "scores must be finite"),
        ([0, 2.5], [0.0, 1.0], 10, "whole env-step counts, got 2.5"),
        ([[0, 10]], [[0.0, 1.0]], 10, "must be 1-D"),
        ([0, 10], [0.0, 1.0], 0, r"budget=0 is invalid; expected a positive integer"),
        (
            [0, 10],
            [0.0, 1.0],
            10.0,
            r"budget=10.0 is invalid; expected a positive integer",
        ),
    ],
)
def test_curves_reject_bad_inputs(steps, scores, budget, message):
    with pytest.raises(ValueError, match=message):
        curve_auc(steps, scores, budget)
    with pytest.raises(ValueError, match=message):
        steps_to_threshold(steps, scores, 0.5, budget)


def test_steps_to_threshold_reached():
    steps, scores = [0, 10, 20, 30], [0.0, 0.4, 0.8, 0.9]
    assert steps_to_threshold(steps, scores, 0.8, 30) == (20, False)  # >= counts
    assert steps_to_threshold(steps, scores, 0.5, 30) == (20, False)
    assert steps_to_threshold(steps, scores, -1.0, 30) == (0, False)
    step, censored = steps_to_threshold(np.array(steps), np.array(scores), 0.1, 30)
    assert (step, censored) == (10, False) and type(step) is int


def test_steps_to_threshold_censored():
    steps, scores = [0, 10, 20, 30], [0.0, 0.4, 0.8, 0.9]
    assert steps_to_threshold(steps, scores, 0.95, 30) == (30, True)
    assert steps_to_threshold(steps, scores, 0.95, 1000) == (1000, True)
    assert steps_to_threshold(steps, scores, 0.8, 15) == (15, True)  # reached after budget
    with pytest.raises(ValueError, match="threshold must be finite, got nan"):
        steps_to_threshold(steps, scores, float("nan"), 30)
