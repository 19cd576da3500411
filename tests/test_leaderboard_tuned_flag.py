"""The board marks the entries that run a baseline's tuned preset and states the fairness
rule; hand presets, other baselines and user algorithms stay unmarked."""

from __future__ import annotations

import copy

from coopbench.algorithms.registry import get_algorithm
from coopbench.baselines import tuned_presets
from coopbench.harness.config import build_config, config_dict
from coopbench.harness.metadata import config_hash
from coopbench.leaderboard import aggregate, render_markdown
from coopbench.leaderboard.presets import TUNING_NOTE, runs_tuned_preset
from coopbench.leaderboard.suites import suite_board
from leaderboard_fakes import fake_submission


def _as(sub: dict, path: str, config) -> dict:
    out = copy.deepcopy(sub)
    out["algorithm"].update(path=path, config=config_dict(config), config_hash=config_hash(config))
    return out


def test_only_entries_on_todays_tuned_preset_are_flagged(tmp_path, monkeypatch):
    monkeypatch.setattr(tuned_presets, "PRESETS_FILE", tmp_path / "tuned.json")
    mappo = get_algorithm("mappo")
    hand = build_config(mappo, "cn-v1", "quick", {})
    tuned_presets.write_tuned_presets("mappo", ["cn-v1"], "quick", {"lr": 1e-3}, {"study": "s"})
    tuned = build_config(mappo, "cn-v1", "quick", {})
    assert tuned.lr == 1e-3 != hand.lr

    def sub(key: str, label: str, path: str, config) -> dict:
        return _as(fake_submission(key, task="cn-v1", name=label), path, config)

    board = aggregate(
        [
            sub("tuned", "MAPPO", "coopbench.baselines.mappo:MAPPO", tuned),
            sub("hand", "MAPPO", "coopbench.baselines.mappo:MAPPO", hand),
            sub("ippo", "IPPO", "coopbench.baselines.mappo:IPPO", tuned),  # no IPPO preset
            sub("user", "Mine", "tests.fake:Mine", tuned),  # a user's algorithm
        ]
    )
    flagged = {e.algorithm_path: e.config_hash for e in board.entries if runs_tuned_preset(e)}
    assert flagged == {"coopbench.baselines.mappo:MAPPO": config_hash(tuned)}
    text = render_markdown(board)
    assert TUNING_NOTE in text
    assert sum("| tuned preset |" in line for line in text.splitlines()) == 1

    tuned_presets.write_tuned_presets("mappo", ["cn-v1"], "quick", {"lr": 5e-4}, {"study": "t"})
    assert not any(runs_tuned_preset(e) for e in board.entries)  # a newer preset: not today's


def test_todays_config_keeps_the_plain_name_and_its_suite_row(tmp_path, monkeypatch):
    """A store holding a baseline's runs of an older preset next to today's (a user who
    re-ran ``bench`` after a tuned preset was written): today's config is shown as the plain
    label and ranked on the suite; the older one is told apart by what differs."""
    monkeypatch.setattr(tuned_presets, "PRESETS_FILE", tmp_path / "tuned.json")
    mappo, path = get_algorithm("mappo"), "coopbench.baselines.mappo:MAPPO"
    hand = {t: build_config(mappo, t, "quick", {}) for t in ("cn-v1", "cn-v2", "pf", "pp")}
    tuned_presets.write_tuned_presets("mappo", ["cn-v1"], "quick", {"lr": 1e-3}, {"study": "s"})
    tuned = build_config(mappo, "cn-v1", "quick", {})
    older = f"MAPPO (lr={hand['cn-v1'].lr:g})"

    def sub(key: str, task: str, config, seed: int) -> dict:
        return _as(fake_submission(key, task=task, name="MAPPO", seed=seed), path, config)

    runs = [sub(f"{t}-{s}", t, hand[t], s) for t in hand for s in range(2)]
    runs += [sub(f"tuned-{s}", "cn-v1", tuned, s) for s in range(2)]
    board = aggregate(runs)
    shown = {(e.task, e.config_hash): e.display for e in board.entries}
    assert shown[("cn-v1", config_hash(tuned))] == "MAPPO"
    assert shown[("cn-v1", config_hash(hand["cn-v1"]))] == older
    (suite,) = suite_board(board, "ctedd", reps=20)
    (row,) = suite.rows
    assert row.label == "MAPPO" and row.entries["cn-v1"].config_hash == config_hash(tuned)
    assert [e.label for e in suite.incomplete] == [older]

    user = [_as(r, "tests.fake:Mine", tuned) for r in runs[-2:]]  # not a built-in: no today
    names = {e.display for e in aggregate([*runs, *user]).entries if e.task == "cn-v1"}
    assert names == {"MAPPO", older, "MAPPO [other: tests.fake:Mine]"}


def test_the_flag_follows_the_action_type_of_the_preset(tmp_path, monkeypatch):
    monkeypatch.setattr(tuned_presets, "PRESETS_FILE", tmp_path / "tuned.json")
    maddpg, path = get_algorithm("maddpg"), "coopbench.baselines.maddpg:MADDPG"
    params, record = {"actor_lr": 3e-3}, {"study": "s"}
    tuned_presets.write_tuned_presets("maddpg", ["pf"], "quick", params, record, continuous=True)
    runs = [
        _as(
            fake_submission(f"{kind}-{s}", task="pf", name="MADDPG", seed=s, continuous=kind),
            path,
            build_config(maddpg, "pf", "quick", {}, continuous=kind),
        )
        for kind in (False, True)
        for s in range(2)
    ]
    flagged = {e.continuous for e in aggregate(runs).entries if runs_tuned_preset(e)}
    assert flagged == {True}  # the continuous entry runs the preset; the discrete one its own


def test_a_set_variant_keeping_the_tuned_values_is_flagged(tmp_path, monkeypatch):
    """MADDPG-1/-3 are ``bench --algos maddpg --set comm_dim=1|3``: on a task where MADDPG's
    preset is tuned they run it too and carry the flag; a variant that overrides a tuned value
    does not run the tuned preset and is left unmarked."""
    monkeypatch.setattr(tuned_presets, "PRESETS_FILE", tmp_path / "tuned.json")
    maddpg, path = get_algorithm("maddpg"), "coopbench.baselines.maddpg:MADDPG"
    params, record = {"actor_lr": 3e-3, "update_every": 12.5}, {"study": "s"}
    tuned_presets.write_tuned_presets("maddpg", ["cn-v1"], "quick", params, record, continuous=True)
    variants = {
        "MADDPG": {},
        "MADDPG-1": {"comm_dim": 1},
        "MADDPG-3": {"comm_dim": 3},
        "MADDPG-3 (slow)": {"comm_dim": 3, "update_every": 100.0},  # a tuned value overridden
    }
    runs = []
    for label, overrides in variants.items():
        config = build_config(maddpg, "cn-v1", "quick", overrides, continuous=True)
        for s in range(2):
            sub = fake_submission(f"{label}-{s}", task="cn-v1", name=label, seed=s, continuous=True)
            runs.append(_as(sub, path, config))
    flagged = {e.label for e in aggregate(runs).entries if runs_tuned_preset(e)}
    assert flagged == {"MADDPG", "MADDPG-1", "MADDPG-3"}
