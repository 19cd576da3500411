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
