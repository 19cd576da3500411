"""How benchmark ratios are reported against the speed goals (default run: no timing)."""

from __future__ import annotations

import speed_goals


def test_goals_follow_the_docs() -> None:
    assert speed_goals.goal_of("pettingzoo spread") == 5.0
    assert speed_goals.goal_of("batched spread B=1024") == 2.0
    assert speed_goals.goal_of("batched spread B=4096") == 1.0
    assert speed_goals.goal_of("mappo spread") == 3.0
    assert speed_goals.goal_of("maddpg quick discrete") is None


def test_misses_are_marked_and_summarised() -> None:
    rates = {
        "pettingzoo spread": {"coopbench": 4_200.0, "mpe2": 1_000.0},
        "batched spread B=32": {"coopbench": 500_000.0, "vmas": 6_000.0},
        "batched spread B=16384": {"coopbench": 1_000.0},  # VMAS not installed
        "maddpg quick discrete": {"coopbench": 4_000.0},
    }
    rows = {row.group: row for row in speed_goals.goal_rows(rates)}
    assert rows["pettingzoo spread"].status == speed_goals.MISSED
    assert (
        "4.20x" in rows["pettingzoo spread"].line() and ">= 5x" in rows["pettingzoo spread"].line()
    )
    assert rows["batched spread B=32"].status == "met"
    assert rows["batched spread B=16384"].status == "peer not measured"
    assert rows["maddpg quick discrete"].status == "no goal"
    assert speed_goals.summary(list(rows.values())) == (
        "speed goals met: 1 of 2; MISSED: pettingzoo spread (4.20x < 5x)"
    )
