"""``coopbench tune``: trials stored in Optuna's storage and their runs in the store, a
study resumed after interruption without redoing finished runs, search-space validation,
tuned presets applied by ``build_config``, one-line errors for bad arguments."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from coopbench.algorithms.registry import get_algorithm  # noqa: E402
from coopbench.algorithms.search_space import categorical, integer, log_uniform  # noqa: E402
from coopbench.baselines import tuned_presets  # noqa: E402
from coopbench.cli import main  # noqa: E402
from coopbench.harness.config import build_config  # noqa: E402
from coopbench.harness.sweep import run_sweep  # noqa: E402
from coopbench.leaderboard import aggregate  # noqa: E402
from coopbench.results.store import Store  # noqa: E402
from coopbench.tuning import study as tuning  # noqa: E402
from coopbench.tuning.space import resolve_search_space, suggest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ALGO = "tests.fixtures.tunable:Tunable"


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def spec(trials: int, seeds: int = 1, **kw) -> tuning.TuneSpec:
    return tuning.TuneSpec(ALGO, ("spread",), trials=trials, seeds=seeds, budget=60, **kw)


def open_study(db: Path, name: str):
    url = f"sqlite:///{tuning.storage_path(db).resolve()}"
    return optuna.load_study(study_name=name, storage=url)


def test_two_trials_stored_then_resumed_to_three(tmp_path):
    db = tmp_path / "tune.db"
    first = tuning.tune(spec(2), str(db))
    assert first.ran == 2 and len(first.trials) == 2
    assert first.trials[0].user_attrs.get("default_config")  # trial 0 = today's config
    assert first.trials[0].params == {"epsilon": 0.5, "greedy": True}
    with Store(db) as store:
        metas = store.metas()
    assert len(metas) == 2  # one run per trial (one task, one seed)
    for meta in metas.values():
        assert meta["seed"] == tuning.TUNE_SEED_BASE  # held out from bench's 0..n-1
        assert meta["protocol"]["eval_seed"] == tuning.TUNE_EVAL_SEED
    # the objective is the leaderboard's AUC of the trial's run (one seed: IQM = the run)
    with Store(db) as store:
        board = aggregate(store)
    aucs = sorted(e.auc.point for e in board.entries)
    assert sorted(t.value for t in first.trials) == pytest.approx(aucs)
    again = tuning.tune(spec(2), str(db))
    assert again.ran == 0 and len(again.trials) == 2  # nothing to do
    more = tuning.tune(spec(3), str(db))
    assert more.ran == 1 and len(more.trials) == 3
    with Store(db) as store:
        assert len(store.metas()) == 3
    assert more.value == max(t.value for t in more.trials)
    assert more.record["trials"] == 3 and more.record["env_steps"] == 3 * 60


def test_a_study_resumed_in_its_random_start_draws_new_configs(tmp_path):
    db = tmp_path / "tune.db"
    tuning.tune(spec(2), str(db))  # trial 0 today's config, trial 1 the first random draw
    resumed = tuning.tune(spec(12), str(db))  # 12 trials: 3 random start-up trials
    params = [json.dumps(t.params, sort_keys=True) for t in resumed.trials]
    assert len(set(params)) == 12  # none evaluated twice (resuming used to replay trial 1)


def test_a_trial_left_running_is_requeued_and_its_finished_runs_not_redone(tmp_path):
    db = tmp_path / "tune.db"
    tuning.tune(spec(1), str(db))
    # a process killed after its trial's runs finished but before the trial was told
    study = open_study(db, spec(1).name())
    study.enqueue_trial({"epsilon": 0.2, "greedy": False})
    trial = study.ask()
    params = suggest(trial, resolve_search_space(get_algorithm(ALGO)))
    protocol = tuning.tuning_protocol("quick", 60)
    run_sweep(["spread"], [ALGO], [tuning.TUNE_SEED_BASE], protocol, str(db), progress=False,
              overrides=params)  # fmt: skip
    with Store(db) as store:
        assert len(store.metas()) == 2
    resumed = tuning.tune(spec(2), str(db))
    states = {t.number: t.state for t in open_study(db, spec(1).name()).trials}
    assert states[trial.number] == optuna.trial.TrialState.FAIL  # the stale one
    assert resumed.ran == 1 and len(resumed.trials) == 2
    redo = resumed.trials[-1]
    assert redo.params == params and redo.user_attrs["requeued_from"] == trial.number
    assert redo.user_attrs["skipped"] == 1  # its run was already in the store
    with Store(db) as store:
        assert len(store.metas()) == 2


def test_ctrl_c_requeues_the_trial(tmp_path, monkeypatch, caplog):
    db = tmp_path / "tune.db"
    real = tuning.run_sweep

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tuning, "run_sweep", interrupted)
    optuna.logging.enable_propagation()  # Optuna's own records, seen by caplog
    try:
        with pytest.raises(KeyboardInterrupt):
            tuning.tune(spec(1), str(db))
    finally:
        optuna.logging.disable_propagation()
    # the stop is not reported as a failed trial with a traceback: the trial is requeued
    assert [r.getMessage() for r in caplog.records if r.name.startswith("optuna")] == []
    monkeypatch.setattr(tuning, "run_sweep", real)
    done = tuning.tune(spec(1), str(db))
    assert done.ran == 1 and len(done.trials) == 1
    assert done.trials[0].params == {"epsilon": 0.5, "greedy": True}
    assert done.trials[0].user_attrs["requeued_from"] == 0


def test_sigterm_stops_cli_tune_like_ctrl_c_and_requeues_the_trial(tmp_path, monkeypatch, capsys):
    """``kill PID`` on ``coopbench tune``: status 143, one line, the trial requeued, and the
    handler gone once ``main`` returns."""
    db = tmp_path / "tune.db"
    real = tuning.run_sweep

    def killed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        raise AssertionError("SIGTERM did not stop the trial")

    argv = ["tune", "--algo", ALGO, "--tasks", "spread", "--trials", "1", "--seeds", "1",
            "--workers", "1", "--budget", "60", "--db", str(db)]  # fmt: skip
    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(tuning, "run_sweep", killed)
    assert main(argv) == 143
    assert capsys.readouterr().err.strip().splitlines() == ["coopbench: terminated"]
    assert signal.getsignal(signal.SIGTERM) == before
    monkeypatch.setattr(tuning, "run_sweep", real)
    done = tuning.tune(spec(1), str(db))
    assert done.ran == 1 and done.trials[0].user_attrs["requeued_from"] == 0


def test_parallel_trials_run_the_enqueued_config_once(tmp_path):
    # two trials at a time (4 workers, two runs per trial): today's config, enqueued as
    # trial 0, must run once, not in both threads at once (Optuna's SQLite race)
    db = tmp_path / "tune.db"
    done = tuning.tune(spec(6, seeds=2, workers=4), str(db))
    assert [t.state for t in done.trials] == [optuna.trial.TrialState.COMPLETE] * 6
    assert done.trials[0].user_attrs.get("default_config")
    with Store(db) as store:
        assert len(store.metas()) == 2 * len({json.dumps(t.params) for t in done.trials})


def test_a_study_resumed_with_another_objective_is_refused(tmp_path):
    db = tmp_path / "tune.db"
    tuning.tune(spec(1, study="s"), str(db))
    other = tuning.TuneSpec(ALGO, ("spread",), trials=1, seeds=2, budget=60, study="s")
    with pytest.raises(ValueError, match=r"was made for .*pass another --study"):
        tuning.tune(other, str(db))


def test_failed_runs_fail_the_trial_and_count(tmp_path):
    db = tmp_path / "tune.db"
    crash = tuning.TuneSpec("tests.fixtures.tunable:CrashTunable", ("spread",), trials=1,
                            seeds=1, budget=60)  # fmt: skip
    with pytest.raises(ValueError, match="no trial finished"):
        tuning.tune(crash, str(db))
    (trial,) = open_study(db, crash.name()).trials
    assert trial.state == optuna.trial.TrialState.FAIL
    assert "AlgorithmError" in trial.user_attrs["error"]
    with pytest.raises(ValueError, match="no trial finished"):
        tuning.tune(crash, str(db))  # the failed trial counts: nothing is re-run
    assert len(open_study(db, crash.name()).trials) == 1


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (log_uniform("nope", 0.1, 1.0), "'nope' is not a field of Config"),
        (log_uniform("epsilon", 0.0, 1.0), "log scale needs low > 0"),
        (log_uniform("epsilon", 0.5, 0.1), r"bounds \[0.5, 0.1\] are invalid"),
        (integer("num_envs", 1, 2.5), "not whole numbers"),
        (categorical("greedy"), "has no choices"),
        (categorical("num_envs", 4, "many"), "config key 'num_envs'.*'many' is not a valid int"),
        (categorical("greedy", [True]), r"choice \[True\] is not a bool"),
        ("lr", "is not a Param"),
    ],
)
def test_search_space_errors_name_the_entry(entry, message):
    cls = type("Space", (get_algorithm(ALGO),), {"search_space": (entry,)})
    with pytest.raises(ValueError, match=message):
        resolve_search_space(cls)


def test_search_space_missing_or_duplicated():
    with pytest.raises(ValueError, match="'random' declares no search space"):
        resolve_search_space(get_algorithm("random"))
    twice = (log_uniform("epsilon", 0.1, 0.5), log_uniform("epsilon", 0.2, 0.3))
    cls = type("Twice", (get_algorithm(ALGO),), {"search_space": twice})
    with pytest.raises(ValueError, match=r"names \['epsilon'\] more than once"):
        resolve_search_space(cls)


def test_the_objective_averages_a_runs_policies(tmp_path):
    """CTEDD's teacher and students are one run's policies: the objective (and the check's and
    hold-out's scores) averages them, so settings only the students use count."""
    db = tmp_path / "tune.db"
    two = tuning.TuneSpec("tests.fixtures.tunable:TwoPolicies", ("spread",), trials=1, seeds=1,
                          budget=60)  # fmt: skip
    (trial,) = tuning.tune(two, str(db)).trials
    with Store(db) as store:
        board = aggregate(store)
    aucs = {e.label: e.auc.point for e in board.entries}  # one run each: IQM = the run
    assert set(aucs) == {"fixture-two-policies", "fixture-two-policies-stay"}
    assert aucs["fixture-two-policies-stay"] > aucs["fixture-two-policies"] + 0.5  # they differ
    assert trial.value == pytest.approx(sum(aucs.values()) / 2)


@pytest.mark.parametrize("algo", ["mappo", "ippo", "maddpg", "ctedd", "mutual-q", "dqn"])
def test_every_baseline_declares_a_valid_space(algo):
    space = resolve_search_space(get_algorithm(algo))
    assert len(space) >= 5
    assert algo != "dqn" or "c" not in {p.name for p in space}  # DQN has no mutual term


def test_tuned_presets_are_applied_by_build_config(tmp_path, monkeypatch):
    mappo = get_algorithm("mappo")
    before = build_config(mappo, "cn-v1", "quick", {})
    file = tmp_path / "tuned.json"
    monkeypatch.setattr(tuned_presets, "PRESETS_FILE", file)
    record = {"study": "s", "value": 0.5}
    tuned_presets.write_tuned_presets("mappo", ["cn-v1"], "quick", {"lr": 1e-3}, record)
    assert json.loads(file.read_text())["mappo"]["quick"]["cn-v1"]["study"] == "s"
    assert build_config(mappo, "cn-v1", "quick", {}).lr == 1e-3 != before.lr
    assert build_config(mappo, "spread", "quick", {}).lr == before.lr  # per task
    assert build_config(mappo, "cn-v1", "standard", {}).lr != 1e-3  # per tier
    assert build_config(mappo, "cn-v1", "quick", {"lr": 5e-4}).lr == 5e-4  # --set wins
    assert build_config(get_algorithm("ippo"), "cn-v1", "quick", {}).lr == before.lr
    subclass = type("MyMAPPO", (mappo,), {})  # a user's subclass keeps its own presets
    assert build_config(subclass, "cn-v1", "quick", {}).lr == before.lr
    # per action type: a discrete preset never reaches continuous runs, nor the reverse
    assert build_config(mappo, "cn-v1", "quick", {}, continuous=True).lr == before.lr
    maddpg = get_algorithm("maddpg")
    hand = build_config(maddpg, "cn-v1", "standard", {}).actor_lr
    tuned_presets.write_tuned_presets(
        "maddpg", ["cn-v1"], "standard", {"actor_lr": 3e-3}, record, continuous=True
    )
    assert "cn-v1_continuous" in json.loads(file.read_text())["maddpg"]["standard"]
    assert build_config(maddpg, "cn-v1", "standard", {}, continuous=True).actor_lr == 3e-3
    assert build_config(maddpg, "cn-v1", "standard", {}).actor_lr == hand != 3e-3
    tuned_presets.write_tuned_presets("mappo", ["cn-v1"], "quick", {"lr": "fast"}, record)
    with pytest.raises(ValueError, match=r"tuned preset.*'fast' is not a valid float"):
        build_config(mappo, "cn-v1", "quick", {})
    file.write_text("[1]")
    with pytest.raises(ValueError, match=r"expected \{algorithm"):
        build_config(mappo, "cn-v1", "quick", {})


def test_committed_tuned_presets_are_valid():
    for algo, tiers in tuned_presets.load_tuned_presets().items():
        for tier, tasks in tiers.items():
            for key, entry in tasks.items():
                assert {"study", "value", "trials", "git_commit"} <= set(entry)
                task = key.removesuffix("_continuous")
                assert tuned_presets.preset_task_key(task, key != task) == key
                assert entry.get("actions", "discrete") == ("discrete", "continuous")[key != task]
                build_config(get_algorithm(algo), task, tier, {}, continuous=key != task)


def test_cli_tune_end_to_end(tmp_path, capsys):
    db, presets, record = tmp_path / "t.db", tmp_path / "p.json", tmp_path / "tuning.md"
    argv = ["tune", "--algo", ALGO, "--tasks", "spread", "--trials", "2", "--seeds", "1",
            "--workers", "1", "--db", str(db), "--record", str(record)]  # fmt: skip
    assert main([*argv, "--budget", "60"]) == 0
    text = capsys.readouterr().out
    assert "best params" in text and "epsilon" in text
    assert "| trial | value |" in record.read_text()
    assert tuning.storage_path(db).exists()
    code = main([*argv, "--budget", "60", "--write-presets", "--presets", str(presets)])
    assert code == 1 and not presets.exists()
    assert "--write-presets with --budget 60" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--algo", "nope", "--tasks", "spread"], 1, "unknown algorithm 'nope'"),
        (["--algo", "random", "--tasks", "spread"], 1, "'random' declares no search space"),
        (["--algo", "mappo", "--tasks", "spread", "--trials", "0"], 2, "--trials: 0 is invalid"),
        (["--algo", "mappo", "--tasks", "spread", "--tier", "x"], 1, "unknown protocol tier"),
        (["--algo", "mappo", "--tasks", "nope"], 1, "unknown task 'nope'"),
    ],
)
def test_cli_tune_bad_arguments_are_one_line(argv, code, message, tmp_path, capsys):
    with pytest.raises(SystemExit) if code == 2 else contextlib.nullcontext():
        assert main(["tune", *argv, "--db", str(tmp_path / "t.db")]) == code
    out, err = capsys.readouterr()
    assert message in err and len(err.strip().splitlines()) == 1
    assert out == ""  # refused before the progress bar is drawn
    assert not tuning.storage_path(tmp_path / "t.db").exists()  # refused before any study


@pytest.mark.parametrize("algo", ["mappo", "maddpg", "ctedd", "mutual-q"])
def test_docs_list_each_search_space_as_declared(algo):
    docs = (ROOT / "docs" / "baselines" / "tuning.md").read_text()
    section = docs.split(f"#### `{algo}`", 1)[1].split("####", 1)[0]
    for p in resolve_search_space(get_algorithm(algo)):
        assert f"| `{p.name}` | {p.describe()} |" in section


def test_check_reruns_today_and_the_top_trials_at_the_check_budget(tmp_path):
    from coopbench.tuning.check import candidates, check_top, check_winner

    db = tmp_path / "tune.db"
    result = tuning.tune(spec(4), str(db))
    picked = candidates(result.trials, top=2)
    assert picked[0] == (None, {}, result.trials[0].value)  # today's config first
    ranked = sorted((t for t in result.trials[1:] if t.value is not None), key=lambda t: -t.value)
    assert [p[0] for p in picked[1:]] == [t.number for t in ranked[:2]]
    rows = check_top(spec(4), result.trials, str(db), top=2, tier="quick", budget=120)
    assert [r.trial for r in rows] == [p[0] for p in picked]
    with Store(db) as store:
        metas = list(store.metas().values())
    checked = [m for m in metas if m["protocol"]["budget"] == 120]
    assert len(checked) == 3  # one run per config (one task, one seed), at the check's budget
    assert {m["seed"] for m in checked} == {tuning.TUNE_SEED_BASE}
    assert {m["protocol"]["eval_seed"] for m in checked} == {tuning.TUNE_EVAL_SEED}
    # the row's AUC is the leaderboard's AUC of that config's run
    with Store(db) as store:
        board = {e.config_hash: e.auc.point for e in aggregate(store).entries}
    for row in rows:
        values = row.params or result.trials[0].params  # today's config: the defaults
        (meta,) = [
            m for m in checked if all(m["algorithm"]["config"][k] == v for k, v in values.items())
        ]
        assert row.auc == pytest.approx(board[meta["algorithm"]["config_hash"]])
    winner = check_winner(rows)
    assert winner is None or (winner.trial is not None and winner.auc > rows[0].auc)
    again = check_top(spec(4), result.trials, str(db), top=2, tier="quick", budget=120)
    assert again == rows  # the runs were in the store: nothing re-run, same numbers
    with Store(db) as store:
        assert len(store.metas()) == len(metas)


def test_cli_check_top_appends_the_check_to_the_record(tmp_path, capsys):
    db, record = tmp_path / "t.db", tmp_path / "tuning.md"
    argv = ["tune", "--algo", ALGO, "--tasks", "spread", "--trials", "2", "--seeds", "1",
            "--workers", "1", "--db", str(db), "--budget", "60", "--record", str(record),
            "--check-top", "1", "--check-tier", "quick"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "check · today's config: quick AUC" in out and "check · trial 1: quick AUC" in out
    text = record.read_text()
    assert "Check at the quick tier (tuning seeds [10000]" in text
    assert "| today's config |" in text and "| trial 1 |" in text
    assert main([*argv[:-2], "--check-tier", "nope"]) == 1  # refused before the study
    assert "unknown protocol tier 'nope'" in capsys.readouterr().err
