"""Aggregation: per-run scores recomputed from raw returns, IQM across seeds, flags."""

from __future__ import annotations

import numpy as np
import pytest

from coopbench import stats
from coopbench.leaderboard import SubmissionError, aggregate, probability_of_improvement
from leaderboard_fakes import fake_submission, level_returns

FINALS = [0.2, 0.4, 0.6, 1.0, 3.0]  # seed s ends at FINALS[s]; the curve is linear from 0
ABSOLUTE = [0.5, 0.7, 0.9, 1.1, 5.0]


def _runs(finals=FINALS, name="algo", **kw):
    return [
        fake_submission(
            f"{name}-{s}",
            seed=s,
            name=name,
            curve=lambda step, f=f: f * step / 100,
            absolute_level=ABSOLUTE[s],
            **kw,
        )
        for s, f in enumerate(finals)
    ]


def test_hand_computed_entry():
    board = aggregate(_runs(), reps=500)
    (e,) = board.entries
    assert (e.task, e.continuous, e.tier, e.label) == ("spread", False, "quick", "algo")
    assert e.seeds == [0, 1, 2, 3, 4]
    # IQM of 5 values drops one from each end: mean(0.4, 0.6, 1.0).
    assert e.final.point == pytest.approx((0.4 + 0.6 + 1.0) / 3)
    # A linear curve 0 -> f over the whole budget has time-averaged score f / 2.
    assert e.auc.point == pytest.approx((0.4 + 0.6 + 1.0) / 6)
    assert e.absolute.point == pytest.approx((0.7 + 0.9 + 1.1) / 3)
    # Threshold 0.5 needs step >= 50 / f on the grid 0, 20, ..., 100:
    # f=0.2, 0.4 never (censored at 100); 0.6 -> 100; 1.0 -> 60; 3.0 -> 20.
    got = [(r.steps_to_threshold, r.censored) for r in e.runs]
    assert got == [(100, True), (100, True), (100, False), (60, False), (20, False)]
    assert (e.steps_median, e.steps_censored, e.reached) == (100, False, 3)
    for iv, vals in ((e.final, FINALS), (e.absolute, ABSOLUTE)):
        assert min(vals) <= iv.low <= iv.point <= iv.high <= max(vals)
        same = stats.iqm_interval(vals, reps=500, seed=0)
        assert (iv.low, iv.high) == pytest.approx((same.low, same.high))
    np.testing.assert_array_equal(e.curve_steps, [0, 20, 40, 60, 80, 100])
    np.testing.assert_allclose(e.curve_iqm, np.array([0, 0.2, 0.4, 0.6, 0.8, 1.0]) * 2 / 3)
    assert np.all(e.curve_low <= e.curve_iqm + 1e-12) and np.all(e.curve_iqm <= e.curve_high)


def test_censored_median_and_determinism():
    board = aggregate(_runs([0.2, 0.3, 0.4, 3.0]), reps=300, seed=5)
    (e,) = board.entries
    assert (e.steps_median, e.steps_censored, e.reached) == (100, True, 1)
    again = aggregate(_runs([0.2, 0.3, 0.4, 3.0]), reps=300, seed=5).entries[0]
    assert (again.final, again.auc) == (e.final, e.auc)


def test_recomputed_from_raw_returns_never_trusted():
    docs = _runs()
    tampered = [dict(d, final_score=123.0) for d in docs]
    with pytest.raises(SubmissionError, match="derived fields"):
        aggregate(tampered)
    # Changing the raw returns (and only them) changes the score accordingly.
    docs[2]["evaluations"]["default"][-1]["returns"] = level_returns("spread", 10.0, 4)
    e = aggregate(docs, reps=100).entries[0]
    assert e.runs[2].final == pytest.approx(10.0)
    assert e.final.point == pytest.approx((0.4 + 1.0 + 3.0) / 3)


def test_entries_split_by_task_mode_tier_and_label():
    docs = (
        _runs(name="a")
        + _runs(name="a", continuous=True)
        + _runs(name="a", tier="standard")
        + _runs(name="a", task="pp")
        + _runs(name="a", budget=200)
        + _runs(name="b")
    )
    board = aggregate(docs, reps=50)
    keys = [(e.task, e.continuous, e.tier, e.budget, e.label) for e in board.entries]
    assert keys == [
        ("pp", False, "quick", 100, "a"),
        ("spread", False, "quick", 100, "a"),
        ("spread", False, "quick", 100, "b"),
        ("spread", False, "quick", 200, "a"),
        ("spread", False, "standard", 100, "a"),
        ("spread", True, "quick", 100, "a"),
    ]
    assert all(len(e.runs) == 5 for e in board.entries)
    assert len(board.groups()) == 5  # one curve plot per task, action kind, tier and budget


def test_continuous_uses_continuous_references():
    (e,) = aggregate(_runs(continuous=True), reps=50).entries
    assert e.continuous and e.final.point == pytest.approx((0.4 + 0.6 + 1.0) / 3)


def test_multi_policy_runs_and_flags():
    policies = {
        "student": {"label": "ctedd", "centralised": False, "privileged": False},
        "teacher": {"label": "ctedd (teacher)", "centralised": True, "privileged": False},
    }
    docs = [fake_submission(f"r{s}", seed=s, policies=policies) for s in range(3)]
    docs += [
        fake_submission(
            f"h{s}",
            seed=s,
            policies={"default": {"label": "heuristic", "centralised": False, "privileged": True}},
        )
        for s in range(2)
    ]
    entries = {e.label: e for e in aggregate(docs, reps=50).entries}
    assert set(entries) == {"ctedd", "ctedd (teacher)", "heuristic"}
    assert entries["ctedd (teacher)"].centralised and not entries["ctedd"].centralised
    assert entries["heuristic"].privileged and len(entries["heuristic"].runs) == 2
    assert len(entries["ctedd"].runs) == 3


def test_runs_without_references_are_skipped_not_scored():
    odd = [
        fake_submission("k-agents"),
        fake_submission("k-version"),
        fake_submission("k-task"),
    ]
    odd[0]["task"]["kwargs"]["n_agents"] = 4
    odd[1]["task"]["version"] = 0
    odd[2]["task"]["id"] = "nosuchtask"
    board = aggregate([*odd, *_runs()], reps=50)
    assert [e.label for e in board.entries] == ["algo"]
    reasons = dict(board.skipped)
    assert set(reasons) == {"k-agents", "k-version", "k-task"}
    assert "n_agents" in reasons["k-agents"]
    assert "version 0" in reasons["k-version"]
    assert "nosuchtask" in reasons["k-task"]


def test_probability_of_improvement_between_entries():
    board = aggregate(_runs(name="good") + _runs([0.0, 0.1, 0.1, 0.1, 0.1], name="bad"), reps=200)
    good = next(e for e in board.entries if e.label == "good")
    bad = next(e for e in board.entries if e.label == "bad")
    p = probability_of_improvement(good, bad, reps=200)
    expected = stats.probability_of_improvement(good.scores("final"), bad.scores("final"))
    assert p.point == pytest.approx(expected) and p.point > 0.8
    assert p.low <= p.point <= p.high
    flipped = probability_of_improvement(bad, good, reps=200)
    assert flipped.point == pytest.approx(1 - p.point)
    fast = probability_of_improvement(good, bad, metric="steps", reps=50)
    assert fast.point > 0.5  # fewer steps to the threshold is better
    with pytest.raises(ValueError, match="unknown metric"):
        probability_of_improvement(good, bad, metric="speed")


def test_bad_threshold():
    with pytest.raises(ValueError, match="threshold"):
        aggregate(_runs(), threshold=float("nan"))


def test_exported_names_never_shadow_a_submodule():
    """Importing ``pkg.x`` rebinds ``pkg.x`` to the module, so an export named like a submodule
    (``leaderboard.aggregate`` used to be both) resolves by import order."""
    import importlib
    import pkgutil

    import coopbench

    for info in pkgutil.walk_packages(coopbench.__path__, "coopbench."):
        if info.ispkg:
            pkg = importlib.import_module(info.name)
            submodules = {m.name for m in pkgutil.iter_modules(pkg.__path__)}
            assert not submodules & set(getattr(pkg, "__all__", ())), info.name
    import coopbench.leaderboard.markdown  # imports the scoring module first
    from coopbench import leaderboard

    assert callable(leaderboard.aggregate) and callable(leaderboard.run_scores)


@pytest.mark.parametrize(("runs", "reps"), [(1, 50), (5, 2000), (40, 300), (333, 30000)])
def test_batched_intervals_equal_one_call_per_column(runs, reps):
    data = np.random.default_rng(runs).normal(size=(runs, 3))
    batched = stats.iqm_intervals(data, reps=reps, seed=7)
    assert batched == [stats.iqm_interval(data[:, j], reps=reps, seed=7) for j in range(3)]
