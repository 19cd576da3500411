"""The thesis reproduction: batched CartPole equals gymnasium's, and a tiny run writes the
JSON, plot and table (a smoke test, not a claim)."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from coopbench.reproduce import CH2_CLAIMS, CH3_CLAIMS, NAMES, report, run
from coopbench.reproduce.cartpole import CartPoleBatch


def test_batched_cartpole_equals_gymnasium_step_for_step() -> None:
    rng = np.random.default_rng(0)
    n = 6
    batch = CartPoleBatch(n, rng)
    envs = [gym.make("CartPole-v1") for _ in range(n)]
    for i, env in enumerate(envs):
        env.reset(seed=i)
        env.unwrapped.state = batch.state[i].copy()
    policy = np.random.default_rng(1)
    ended = 0
    for _ in range(600):
        actions = policy.integers(0, 2, n)
        _, reward, term, trunc, next_obs = batch.step(actions)
        for i, env in enumerate(envs):
            o, r, te, tr, _ = env.step(int(actions[i]))
            assert np.array_equal(o, next_obs[i]) and r == reward[i]
            assert (te, tr) == (term[i], trunc[i])
            if te or tr:
                ended += 1
                env.reset()
                env.unwrapped.state = batch.state[i].copy()
    assert ended > 20  # episodes ended (and restarted) many times


def test_truncation_at_500_steps() -> None:
    batch = CartPoleBatch(1, np.random.default_rng(0))
    batch.state[:] = 0.0
    for t in range(500):
        batch.state[:] = 0.0  # hold the pole upright: never terminates
        _, _, term, trunc, _ = batch.step(np.zeros(1, np.int64))
        assert not term[0] and trunc[0] == (t == 499)


def test_tiny_reproduction_writes_json_plot_and_table(tmp_path) -> None:
    paths = run("thesis", trials=2, out=tmp_path, steps=100)
    data = json.loads((tmp_path / "thesis.json").read_text())
    ch2, ch3 = data.values()
    assert set(ch2["curves"]) >= {"DQN", "m=2 C=1", "m=10 C=1", "m=2 ω(μ=4000)"}
    assert set(ch3["curves"]) == {"DQL", "ADP", "Algorithm 1"}
    assert np.asarray(ch2["curves"]["DQN"]["scores"]).shape == (2, 1)
    assert all(len(c["diff"]) == 3 for c in ch2["claims"])
    assert (tmp_path / "thesis.png").stat().st_size > 10_000
    table = (tmp_path / "thesis.md").read_text()
    assert "final ≈ 194" in table and "Algorithm 1" in table
    assert sorted(paths) == ["json", "md", "png"]


def test_bad_reproduction_name() -> None:
    assert "thesis-mutual-q" in NAMES
    with pytest.raises(ValueError, match="unknown reproduction"):
        run("thesis-v3", trials=1, out="unused")
    with pytest.raises(ValueError, match="trials=0"):
        run("thesis", trials=0, out="unused")


THESIS = Path(__file__).parents[1] / "results" / "thesis"


def test_report_bootstrap_is_the_stats_bootstrap() -> None:
    """The report's intervals are coopbench.stats' percentile bootstrap of the mean, drawn
    from the report's one generator: x's resamples, then y's (the textbook formula)."""
    x, y = np.arange(7.0) ** 1.5, np.linspace(-2.0, 9.0, 5)
    draw = np.random.default_rng(3)
    mx = x[draw.integers(0, 7, (report.REPS, 7))].mean(1)
    my = y[draw.integers(0, 5, (report.REPS, 5))].mean(1)
    rng = np.random.default_rng(3)
    np.testing.assert_allclose(
        report.boot_diff(x, y, rng), [x.mean() - y.mean(), *np.percentile(mx - my, [2.5, 97.5])]
    )
    later = draw.integers(0, 7, (report.REPS, 7))  # the stream goes on where it stopped
    np.testing.assert_allclose(
        report.boot_mean(x, rng), [x.mean(), *np.percentile(x[later].mean(1), [2.5, 97.5])]
    )


def test_thesis_report_reproduced_from_its_json() -> None:
    """results/thesis: the table renders from the stored summaries, and re-summarising the
    stored curves gives the stored intervals and verdicts."""
    stored = json.loads((THESIS / "thesis.json").read_text())
    md = "\n".join(report.markdown(s, title) for title, s in stored.items())
    assert md == (THESIS / "thesis.md").read_text()
    for (title, summary), claims in zip(stored.items(), (CH2_CLAIMS, CH3_CLAIMS), strict=True):
        curves = {k: v for k, v in summary.items() if k not in ("stats", "claims")}
        again = report.summarise(curves, claims)
        for label, st in summary["stats"].items():
            for window in ("final", "late", "early"):
                np.testing.assert_allclose(again["stats"][label][window], st[window], rtol=1e-9)
        assert [c["verdict"] for c in again["claims"]] == [c["verdict"] for c in summary["claims"]]
        assert report.markdown(again, title) == report.markdown(summary, title)
