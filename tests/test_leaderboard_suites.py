"""Suite aggregates: hand-computed cases, incomplete entries, determinism, and a cross-check
of every statistic against rliable on the same ``[runs, tasks]`` score matrices."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from coopbench import stats
from coopbench.leaderboard import aggregate
from coopbench.leaderboard.suite_html import render_suite_section, write_suite_figures
from coopbench.leaderboard.suite_markdown import render_suite_markdown
from coopbench.leaderboard.suites import SUITES, IncompleteEntry, suite_board, suite_key
from leaderboard_fakes import fake_submission

CTEDD = SUITES["ctedd"]


def runs(name, finals, tasks=CTEDD, seeds=range(4), continuous=False, config_hash=None):
    """Submissions of ``name`` ending at ``finals[task][seed]`` (linear curves from 0)."""
    docs = []
    for task in tasks:
        for s in seeds:
            f = finals[task][s] if isinstance(finals, dict) else finals
            doc = fake_submission(
                f"{name}-{task}-{s}-{continuous}",
                curve=lambda step, f=f: f * step / 100,
                task=task,
                seed=s,
                name=name,
                continuous=continuous,
            )
            if config_hash:
                doc["algorithm"]["config_hash"] = config_hash
            docs.append(doc)
    return docs


def board(*groups):
    return aggregate([d for g in groups for d in g], reps=50)


def grid(offset=0.0):
    """Per-task, per-seed finals: task t, seed s -> offset + 0.1 * t + 0.02 * s (4 seeds)."""
    return {t: [offset + 0.1 * i + 0.02 * s for s in range(4)] for i, t in enumerate(CTEDD)}


# ------------------------------------------------------------------------ hand-computed


def test_hand_computed_aggregates_ranking_and_poi():
    lb = board(runs("weak", grid()), runs("strong", grid(0.5)))
    (sb,) = suite_board(lb, "ctedd", reps=200)
    assert (sb.suite, sb.tasks, sb.continuous, sb.metric) == ("ctedd", CTEDD, False, "final")
    assert [r.label for r in sb.rows] == ["strong", "weak"]  # ranked by IQM, best first
    strong = sb.rows[0]
    values = np.sort(np.array([grid(0.5)[t] for t in CTEDD]).ravel())  # 16 runs
    agg = strong.aggregates["final"]
    assert agg.iqm.point == pytest.approx(values[4:12].mean())
    task_means = [np.mean(grid(0.5)[t]) for t in CTEDD]  # 0.53, 0.63, 0.73, 0.83
    assert agg.median.point == pytest.approx(np.median(task_means))
    assert agg.mean.point == pytest.approx(np.mean(task_means))
    assert agg.optimality_gap.point == pytest.approx(1 - np.minimum(values, 1).mean())
    # A linear curve from 0 has AUC final / 2, for every aggregate.
    assert strong.aggregates["auc"].mean.point == pytest.approx(agg.mean.point / 2)
    assert strong.scores["final"].shape == (4, 4) and strong.seeds == [0, 1, 2, 3]
    # Every strong run beats every weak run on every task: P = 1, and the interval too.
    assert sb.poi[0][1] == stats.Interval(1.0, 1.0, 1.0)
    assert sb.poi[1][0] == stats.Interval(0.0, 0.0, 0.0)
    assert sb.poi[0][0] is None and sb.poi[1][1] is None
    assert not sb.incomplete


def test_poi_hand_computed_with_ties():
    # On every task, a's runs are (0.2, 0.4) x2 seeds, b's (0.4, 0.4): P(a > b) per task is
    # (0 + 0.5 + 0 + 0.5 + ...) / 16 pairs: a=0.4 ties b (half), a=0.2 loses -> 0.25.
    a = runs("a", {t: [0.2, 0.4, 0.2, 0.4] for t in CTEDD})
    b = runs("b", {t: [0.4, 0.4, 0.4, 0.4] for t in CTEDD})
    (sb,) = suite_board(board(a, b), "ctedd", reps=100)
    labels = [r.label for r in sb.rows]
    ia, ib = labels.index("a"), labels.index("b")
    assert sb.poi[ia][ib].point == pytest.approx(0.25)
    assert sb.poi[ib][ia].point == pytest.approx(0.75)
    assert sb.poi[ib][ia].low == pytest.approx(1 - sb.poi[ia][ib].high)


def test_intervals_are_stratified_by_task():
    # No spread within a task: a stratified resample only ever redraws the same value per
    # task, so every interval collapses to its point (mixing tasks would not).
    finals = {t: [0.1 * (i + 1)] * 4 for i, t in enumerate(CTEDD)}
    (sb,) = suite_board(board(runs("flat", finals)), "ctedd", reps=300)
    for iv in vars(sb.rows[0].aggregates["final"]).values():
        assert iv.low == pytest.approx(iv.point) and iv.high == pytest.approx(iv.point)
    assert sb.rows[0].profile_low == pytest.approx(sb.rows[0].profile)


def test_profile_and_curve_hand_computed():
    (sb,) = suite_board(board(runs("a", grid())), "ctedd", reps=100)
    row = sb.rows[0]
    values = row.scores["final"].ravel()
    assert sb.taus[0] == 0.0 and sb.taus[-1] == 1.0  # scores within [0, 1]
    expected = [(values > tau).mean() for tau in sb.taus]
    assert row.profile == pytest.approx(expected)
    assert np.all(row.profile_low <= row.profile) and np.all(row.profile <= row.profile_high)
    curve = row.curve
    assert list(curve.steps) == [0, 20, 40, 60, 80, 100]
    for j, step in enumerate(curve.steps):  # linear curves: IQM of final * step / 100
        assert curve.iqm[j] == pytest.approx(stats.iqm(values * step / 100))
    assert np.all(curve.low <= curve.iqm + 1e-12) and np.all(curve.iqm <= curve.high + 1e-12)
    (bare,) = suite_board(board(runs("a", grid())), "ctedd", reps=100, curves=False)
    assert bare.rows[0].curve is None
    assert bare.rows[0].aggregates == row.aggregates


# ------------------------------------------------------------------------ grouping


def test_incomplete_entries_are_listed_apart():
    partial = runs("partial", 0.9, tasks=("cn-v1", "cn-v2", "pp"))
    (sb,) = suite_board(board(runs("full", grid()), partial), "ctedd", reps=50)
    assert [r.label for r in sb.rows] == ["full"]
    assert len(sb.poi) == 1
    (inc,) = sb.incomplete
    assert isinstance(inc, IncompleteEntry)
    assert (inc.label, inc.missing, inc.tasks) == ("partial", ("pf",), ("cn-v1", "cn-v2", "pp"))
    assert inc.reason == "missing pf"
    # On 'all' both miss spread; an entry with no suite task at all is not listed.
    (sb_all,) = suite_board(board(runs("full", grid()), partial), "all", reps=50)
    assert not sb_all.rows
    assert [i.reason for i in sb_all.incomplete] == ["missing spread", "missing spread, pf"]
    other = runs("elsewhere", 0.5, tasks=("spread",))
    (sb2,) = suite_board(board(runs("full", grid()), other), "ctedd", reps=50)
    assert not sb2.incomplete


def test_seeds_common_to_every_task_form_the_matrix():
    docs = runs("a", 0.5, seeds=range(3)) + runs("a", 0.5, tasks=("pf",), seeds=[3, 4])
    (sb,) = suite_board(board(docs), "ctedd", reps=50)
    row = sb.rows[0]
    assert row.seeds == [0, 1, 2] and row.dropped == 2
    assert row.scores["final"].shape == (3, 4)
    disjoint = runs("b", 0.5, tasks=CTEDD[:3], seeds=[0]) + runs("b", 0.5, tasks=("pp",), seeds=[1])
    (sb,) = suite_board(board(disjoint), "ctedd", reps=50)
    assert not sb.rows and sb.incomplete[0].reason == "no seed was run on every task"


def test_suite_key_excludes_the_task_and_splits_shown_names_and_action_kinds():
    """A per-task config (``b`` on pp) stays one suite row; two configs under one label on
    one task (``c`` on pf) are two entries with shown names of their own there, so ``c`` is
    complete under no single name and is listed apart, never ranked."""
    lb = board(
        runs("a", grid()),
        runs("b", grid(0.2), tasks=CTEDD[:3]),
        runs("b", 0.9, tasks=CTEDD[3:], config_hash="fedcba9876543210"),
        runs("c", grid(0.1), tasks=CTEDD),
        runs("c", 0.7, tasks=("pf",), config_hash="1111111111111111"),
        runs("a", grid(), continuous=True),
    )
    assert len({suite_key(e) for e in lb.entries}) == 6  # a, a cont., b, c, c (x2 on pf)
    discrete, continuous = suite_board(lb, "ctedd", reps=50)
    assert (discrete.continuous, continuous.continuous) == (False, True)
    rows = {r.label: r for r in discrete.rows}
    assert sorted(rows) == ["a", "b"]
    assert rows["b"].config_hashes == ("0123456789abcdef", "fedcba9876543210")
    missing = sorted((i.label, i.missing) for i in discrete.incomplete)
    assert [m for _, m in missing] == [("pf",), *[("cn-v1", "cn-v2", "pp")] * 2]
    assert missing[0][0] == "c" and all(name.startswith("c (") for name, _ in missing[1:])
    assert len(continuous.rows) == 1 and not continuous.incomplete
    (only,) = suite_board(lb, "ctedd", continuous=True, reps=50)
    assert only.continuous and len(only.rows) == 1


def test_determinism_and_metric_choice():
    lb = board(runs("a", grid()), runs("b", grid(0.05)))
    one, two = (suite_board(lb, "ctedd", reps=300, seed=3)[0] for _ in range(2))
    assert one.rows[0].aggregates == two.rows[0].aggregates and one.poi == two.poi
    assert np.array_equal(one.rows[0].curve.low, two.rows[0].curve.low)
    other = suite_board(lb, "ctedd", reps=300, seed=4)[0]
    assert other.rows[0].aggregates["final"].iqm.low != one.rows[0].aggregates["final"].iqm.low
    (auc,) = suite_board(lb, "ctedd", metric="absolute", reps=50)
    assert set(auc.rows[0].aggregates) == {"final", "auc", "absolute"}


def test_bad_suite_and_metric():
    lb = board(runs("a", grid()))
    with pytest.raises(
        ValueError, match=r"unknown suite 'ctde'; expected one of \['all', 'ctedd'\]"
    ):
        suite_board(lb, "ctde")
    with pytest.raises(ValueError, match=r"unknown suite metric 'steps'; expected one of"):
        suite_board(lb, "ctedd", metric="steps")


def test_requested_action_kind_without_entries_is_an_empty_board():
    (sb,) = suite_board(board(runs("a", grid())), "ctedd", continuous=True, reps=50)
    assert sb.continuous and not sb.rows and not sb.incomplete and sb.poi == []
    assert suite_board(board(runs("a", 0.5, tasks=("spread",))), "ctedd") == []


# ------------------------------------------------------------------------ stats engine


def test_vector_bootstrap_shares_the_engine_and_the_draws():
    rng = np.random.default_rng(1)
    data = rng.normal(size=(3, 6, 4))  # [steps, runs, tasks]
    point, low, high = stats.stratified_bootstrap(
        data, lambda a: stats.iqm(a, axis=(-2, -1)), reps=500, seed=7
    )
    for s in range(3):  # every step sees the same draws as a scalar bootstrap of that step
        assert (point[s], low[s], high[s]) == pytest.approx(
            stats.stratified_bootstrap_ci(data[s], stats.iqm, reps=500, seed=7), abs=1e-12
        )
    p4, l4, h4 = stats.stratified_bootstrap(data[0], stats.suite_aggregates, reps=500, seed=7)
    assert (p4[0], l4[0], h4[0]) == pytest.approx((point[0], low[0], high[0]), abs=1e-12)


def test_stats_additions_reject_bad_input():
    with pytest.raises(ValueError, match=r"taus must be a 1-D strictly increasing grid"):
        stats.performance_profile(np.ones((2, 2)), [0.5, 0.2])
    with pytest.raises(
        ValueError, match=r"scores must be \[\.\.\., runs, tasks\], got shape \(3,\)"
    ):
        stats.suite_aggregates(np.ones(3))
    with pytest.raises(ValueError, match="scores must be finite"):
        stats.stratified_bootstrap([[np.nan, 1.0]], stats.suite_aggregates)
    with pytest.raises(ValueError, match=r"one result per replicate: expected shape \(10,\)"):
        stats.stratified_bootstrap(np.ones((3, 2)), lambda a: a.mean(), reps=10)


# ------------------------------------------------------------------------ rendering

HOSTILE = "<script>alert(\"x\")</script> $\\frac{a}{b}$ 'q' | *b*"


def test_markdown_and_html_escape_hostile_labels(tmp_path):
    lb = board(runs(HOSTILE, grid()), runs("plain", grid(0.1)), runs("part", 0.5, tasks=CTEDD[:1]))
    boards = suite_board(lb, "ctedd", reps=50)
    text = render_suite_markdown(boards)
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert r"\| \*b\*" in text  # no cell split, no emphasis
    assert "- part (quick, 100 env steps): missing cn-v2, pf, pp" in text
    html = str(render_suite_section(boards[0], tmp_path))
    assert "<script" not in html and "style=" not in html.lower()
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&#39;q&#39;" in html and html.count("<img ") == 4
    for src in re.findall(r'<img src="([^"]+)"', html):
        png = (tmp_path / src).read_bytes()  # relative to out_dir
        assert png.startswith(b"\x89PNG") and len(png) > 1000


def test_figures_per_board(tmp_path):
    lb = board(runs("a", grid()), runs("b", grid(0.2)))
    (sb,) = suite_board(lb, "ctedd", reps=50, curves=False)
    paths = write_suite_figures(sb, tmp_path / "site")
    assert sorted(paths) == ["intervals", "poi", "profile"]  # no curves were computed
    assert all(p.parent == tmp_path / "site" and p.stat().st_size > 1000 for p in paths.values())
    (empty,) = suite_board(board(runs("c", 0.5, tasks=CTEDD[:2])), "ctedd", reps=50)
    assert write_suite_figures(empty, tmp_path / "none") == {}
    html = str(render_suite_section(empty, tmp_path / "none"))
    assert "No entry ran every task of the suite." in html and "<img" not in html
    assert "c (quick, 100 env steps): missing pf, pp" in html


# ------------------------------------------------------------------------ rliable

rliable = pytest.importorskip("rliable")
from rliable import library as rly  # noqa: E402
from rliable import metrics  # noqa: E402

# Interval tolerance. Both sides draw 20000 replicates from different generators (rliable:
# numpy's legacy global RandomState), so percentile endpoints agree only up to Monte Carlo
# error: sqrt(p (1 - p) / B) / f(q) at p = 0.025, i.e. ~0.02 bootstrap standard deviations
# per side. The four aggregates of the 10 x 4 matrix below have bootstrap sd <= 0.07
# (measured), so the two endpoint estimates differ with sd ~0.002; TOL = 0.02 is ~10 of them,
# yet below the interval half-widths (0.08-0.14), and an unstratified resample (pooling all
# 40 cells) moves the IQM endpoints by 0.07 / 0.08 on this data, so it would fail.
REPS = 20_000
TOL = 0.02


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _matrix(seed, runs=10, tasks=4):
    rng = np.random.default_rng(seed)
    return rng.normal(0.5, 0.3, size=(runs, tasks)) + rng.normal(0, 0.4, size=tasks)


def _rliable_aggregates(x):
    return np.array(
        [
            metrics.aggregate_iqm(x),
            metrics.aggregate_median(x),
            metrics.aggregate_mean(x),
            metrics.aggregate_optimality_gap(x),
        ]
    )


@pytest.mark.parametrize("seed", range(3))
def test_aggregate_points_equal_rliable(seed):
    d = _matrix(seed, runs=5 + seed)
    ours = stats.suite_aggregates(d)
    ref = _rliable_aggregates(d)
    assert ours[1:].tolist() == ref[1:].tolist()  # median, mean, optimality gap: bit-for-bit
    # IQM: the same kept values, summed in sorted rather than partition order.
    assert ours[0] == pytest.approx(ref[0], rel=1e-12, abs=1e-15)


def test_aggregate_intervals_match_rliable():
    d = _matrix(2024)
    np.random.seed(0)  # noqa: NPY002 -- rliable samples from the global legacy RandomState
    points, intervals = rly.get_interval_estimates({"a": d}, _rliable_aggregates, reps=REPS)
    point, low, high = stats.stratified_bootstrap(d, stats.suite_aggregates, REPS, seed=0)
    assert point == pytest.approx(points["a"], rel=1e-12)
    assert low == pytest.approx(intervals["a"][0], abs=TOL)
    assert high == pytest.approx(intervals["a"][1], abs=TOL)


def test_suite_rows_equal_rliable_on_their_score_matrices():
    lb = board(runs("a", grid()), runs("b", {t: [0.3, 0.9, 0.1, 0.5] for t in CTEDD}))
    (sb,) = suite_board(lb, "ctedd", reps=100)
    for row in sb.rows:
        agg = row.aggregates["final"]
        got = [agg.iqm.point, agg.median.point, agg.mean.point, agg.optimality_gap.point]
        assert got == pytest.approx(_rliable_aggregates(row.scores["final"]), rel=1e-12)
    x, y = (r.scores["final"] for r in sb.rows)
    assert sb.poi[0][1].point == pytest.approx(metrics.probability_of_improvement(x, y), abs=1e-12)


def test_performance_profile_equals_rliable():
    d = _matrix(5, runs=6)
    taus = np.linspace(-0.5, 1.5, 41)
    np.random.seed(0)  # noqa: NPY002
    profiles, cis = rly.create_performance_profile({"a": d}, taus, reps=2000)
    point, low, high = stats.stratified_bootstrap(
        d, lambda a: stats.performance_profile(a, taus), 2000, seed=0
    )
    assert point.tolist() == profiles["a"].tolist()
    # The profile lives on a lattice of step 1/24 (24 runs): the bands agree within one step.
    assert low == pytest.approx(cis["a"][0], abs=1 / 24 + 1e-9)
    assert high == pytest.approx(cis["a"][1], abs=1 / 24 + 1e-9)


def test_a_centralised_entry_is_flagged_in_the_suite_ranking():
    """A row whose policy reads the global state says so, in markdown and HTML, like the task
    tables do; the others show ``-``."""
    central = {"default": {"label": "g", "centralised": True, "privileged": False}}
    central_runs = runs("g", grid())
    for doc in central_runs:
        doc["policies"] = central
    lb = board(central_runs, runs("d", grid(0.1)))
    (sb,) = suite_board(lb, "ctedd", reps=50)
    flags = {r.label: r.flags for r in sb.rows}
    assert flags == {"g": "centralised (reads the global state)", "d": "-"}
    text = render_suite_markdown([sb])
    assert "| g | centralised (reads the global state) |" in text and "| d | - |" in text
