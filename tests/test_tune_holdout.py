"""The hold-out of ``coopbench tune``: the winner and today's config re-run on the
leaderboard's own seeds and protocol, and a tuned preset written only where the AUC gain
holds there (the probability of improvement's 95 % interval above 0.5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("optuna")

from coopbench import stats
from coopbench.cli import main
from coopbench.harness.protocol import get_protocol
from coopbench.harness.sweep import Job
from coopbench.leaderboard import aggregate
from coopbench.results.store import Store
from coopbench.tuning import command
from coopbench.tuning.check import check_top
from coopbench.tuning.confirm import confirm
from coopbench.tuning.study import TuneSpec, storage_path, tune

ROOT = Path(__file__).resolve().parents[1]
ALGO = "tests.fixtures.tunable:Tunable"
TODAY = {"epsilon": 0.5, "greedy": True}  # the fixture's defaults
NOOP = {"greedy": False}  # evaluates action 0 (stay): far better than its greedy bandit


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def spec() -> TuneSpec:
    return TuneSpec(ALGO, ("spread",), trials=1, seeds=1, budget=60, workers=1)


def test_holdout_runs_the_leaderboard_protocol_and_holds_only_above_half(tmp_path):
    db = str(tmp_path / "tune.db")
    result = confirm(spec(), NOOP, db, "quick", seeds=3, budget=2_000)
    protocol = get_protocol("quick").with_budget(2_000).as_dict()
    with Store(db) as store:
        metas = store.metas()
        board = aggregate(store)
    assert len(metas) == 6  # today's config and the winner on seeds 0-2
    assert {m["seed"] for m in metas.values()} == {0, 1, 2}  # the leaderboard's seeds
    assert all(m["protocol"] == protocol for m in metas.values())  # its protocol, not tuning's
    noop = (("greedy", False),)
    jobs = [Job("spread", ALGO, seed, "quick", 2_000, overrides=noop) for seed in (0, 1, 2)]
    assert result.tuned_keys == tuple(job.key() for job in jobs)  # the runs `bench` makes
    by_config = {e.config_hashes[0]: e for e in board.entries}
    tuned_hash = metas[result.tuned_keys[0]]["algorithm"]["config_hash"]
    tuned = by_config.pop(tuned_hash)
    (today,) = by_config.values()
    assert sorted(result.tuned["auc"].ravel()) == pytest.approx(sorted(tuned.scores("auc")))
    assert sorted(result.today["auc"].ravel()) == pytest.approx(sorted(today.scores("auc")))
    expected = stats.probability_of_improvement_ci(tuned.scores("auc"), today.scores("auc"))
    assert tuple(vars(result.improvement["auc"]).values()) == pytest.approx(expected)
    assert result.improvement["auc"].low > 0.5 and result.held
    assert "quick tier, seeds 0-2: AUC IQM" in result.summary()

    same = confirm(spec(), TODAY, db, "quick", seeds=3, budget=2_000)  # today against itself
    assert same.improvement["auc"].point == 0.5 and not same.held
    with Store(db) as store:
        assert len(store.metas()) == 6  # every run was in the store: nothing run again


ARGV = ["tune", "--algo", ALGO, "--tasks", "spread", "--trials", "4", "--seeds", "1",
        "--workers", "1", "--check-top", "1", "--check-tier", "quick", "--write-presets",
        "--holdout-seeds", "2"]  # fmt: skip


def test_cli_writes_the_check_winner_as_preset_where_the_holdout_holds(tmp_path, capsys):
    presets, record = tmp_path / "p.json", tmp_path / "tuning.md"
    argv = [*ARGV, "--db", str(tmp_path / "t.db"), "--presets", str(presets)]
    assert main([*argv, "--record", str(record)]) == 0
    out = capsys.readouterr().out
    assert "the gain holds" in out
    # off a terminal the check's and the hold-out's runs are shown a line each: the check
    # finds today's and trial 3's runs in the study, the hold-out runs 2 seeds × 2 configs
    runs = [line.split(" [")[0] for line in out.splitlines() if line.startswith("runs (")]
    assert runs == ["runs (1 skipped): 1/1"] * 2 + ["runs (1 done): 1/2", "runs (2 done): 2/2"] * 2
    (entry,) = json.loads(presets.read_text())[ALGO]["quick"].values()
    assert entry["params"]["greedy"] is False  # the check's winner (trial 3 of TPE seed 0)
    assert entry["check_trial"] == 3 and entry["checked_at"] == "quick"
    assert entry["holdout"].startswith("quick tier, seeds 0-1: AUC IQM")
    assert "Hold-out on the leaderboard's seeds (quick tier, seeds 0-1" in record.read_text()
    assert "the tuned config becomes the preset" in record.read_text()


def test_cli_writes_no_preset_where_the_holdout_does_not_hold(tmp_path, monkeypatch, capsys):
    def against_itself(spec, params, *args):  # the winner's hold-out finds no gain
        return confirm(spec, {}, *args)

    monkeypatch.setattr(command, "confirm", against_itself)
    presets = tmp_path / "p.json"
    assert main([*ARGV, "--db", str(tmp_path / "t.db"), "--presets", str(presets)]) == 0
    out = capsys.readouterr().out
    assert "probability of improvement 0.50" in out and "the gain does not hold" in out
    assert "no tuned preset for spread" in out and not presets.exists()


def test_a_continuous_study_checks_and_holds_out_on_continuous_actions(tmp_path):
    """``tune --continuous`` tunes the action type the leaderboard ranks MADDPG and CTEDD on:
    the study, its check and its hold-out all run continuous actions, the study is named and
    stored apart from the discrete one, and its hold-out runs are those of ``bench
    --continuous``."""
    db, record = tmp_path / "t.db", tmp_path / "tuning.md"
    argv = ["tune", "--algo", ALGO, "--tasks", "spread", "--trials", "2", "--seeds", "1",
            "--workers", "1", "--budget", "60", "--db", str(db)]  # fmt: skip
    assert main([*argv, "--continuous", "--record", str(record)]) == 0
    import optuna

    cont = TuneSpec(ALGO, ("spread",), trials=2, seeds=1, budget=60, continuous=True)
    assert cont.name() == f"{ALGO}-spread-continuous-quick-b60-1seeds"
    studies = f"sqlite:///{storage_path(db)}"
    assert optuna.get_all_study_names(studies) == [cont.name()]
    assert f"### {ALGO} · spread · continuous actions · quick tier" in record.read_text()
    rows = check_top(cont, tune(cont, str(db)).trials, str(db), 1, "quick", budget=60)
    assert len(rows) == 2
    held = confirm(cont, NOOP, str(db), "quick", seeds=2, budget=200)
    with Store(db) as store:
        metas = store.metas()
    assert len(metas) == 2 + 4  # the study's (the check at its budget reuses them), hold-out
    assert all(m["task"]["kwargs"]["continuous_actions"] for m in metas.values())
    jobs = [
        Job("spread", ALGO, s, "quick", 200, (("continuous_actions", True),), (("greedy", False),))
        for s in (0, 1)
    ]
    assert held.tuned_keys == tuple(job.key() for job in jobs)

    assert main(argv) == 0  # the discrete study of the same task: a study of its own
    assert len(optuna.get_all_study_names(studies)) == 2
    with Store(db) as store:
        discrete = [
            m for m in store.metas().values() if not m["task"]["kwargs"]["continuous_actions"]
        ]
    assert len(discrete) == 2
    forced = TuneSpec(ALGO, ("spread",), trials=2, seeds=1, budget=60, study=cont.name())
    with pytest.raises(ValueError, match=r"was made for .*'continuous': True"):
        tune(forced, str(db))  # resuming a continuous study on discrete actions is refused


def test_cli_tune_refuses_an_action_type_the_algorithm_lacks(tmp_path, capsys):
    db = str(tmp_path / "t.db")
    assert main(["tune", "--algo", "ctedd", "--tasks", "cn-v1", "--db", db]) == 1
    out, err = capsys.readouterr()
    assert "algorithm 'ctedd' does not support discrete actions (run it with --continuous)" in err
    assert out == ""  # one error line, no progress bar
    assert not (tmp_path / "t.optuna.db").exists()  # refused before any study
