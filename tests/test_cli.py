"""The ``coopbench`` CLI in-process: commands, the store, and one-line errors for bad input."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import types
from pathlib import Path

import pytest

from coopbench.cli import main
from coopbench.results.store import Store

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--budget", "50"]


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT))  # tests.fixtures.mod
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COOPBENCH_DB", raising=False)


def one_line_error(capsys, rc, match):
    err = capsys.readouterr().err.strip()
    assert rc != 0
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert match in err, err
    return err


def submissions(path):
    with Store(path) as store:
        return store.submissions()


def test_tasks_and_algos(capsys):
    assert main(["tasks"]) == 0
    text = capsys.readouterr().out
    assert all(t in text for t in ("spread", "cn-v1", "cn-v2", "pf", "pp"))
    assert main(["algos"]) == 0
    assert "random" in capsys.readouterr().out


def test_train_stores_once_and_resolves_db(capsys, tmp_path, monkeypatch):
    assert main(["train", "--task", "spread", "--algo", "random", *TINY]) == 0
    assert len(submissions(tmp_path / "coopbench.db")) == 1  # ./coopbench.db by default
    assert main(["train", "--task", "spread", "--algo", "random", *TINY]) == 0
    assert "already finished" in capsys.readouterr().out
    monkeypatch.setenv("COOPBENCH_DB", str(tmp_path / "env.db"))
    assert main(["train", "--task", "cn-v1", "--algo", "heuristic", *TINY]) == 0
    assert main(["train", "--task", "cn-v1", "--algo", "heuristic", "--db", "flag.db", *TINY]) == 0
    assert len(submissions(tmp_path / "env.db")) == len(submissions(tmp_path / "flag.db")) == 1


def test_train_user_algorithm_with_set(tmp_path):
    args = [
        "train",
        "--task",
        "spread",
        "--algo",
        "tests.fixtures.mod:Algo",
        "--seed",
        "2",
        "--set",
        "epsilon=0.25",
        "--set",
        "greedy=false",
        *TINY,
    ]
    assert main(args) == 0
    (doc,) = submissions(tmp_path / "coopbench.db")
    assert doc["algorithm"]["config"] == {"num_envs": 10, "epsilon": 0.25, "greedy": False}
    assert doc["seed"] == 2 and doc["protocol"]["budget"] == 50


def test_train_task_keywords(tmp_path):
    assert main(["train", "--task", "pf", "--algo", "heuristic", "--continuous", *TINY]) == 0
    assert (
        main(["train", "--task", "spread", "--algo", "random", "--task-set", "n_agents=4", *TINY])
        == 0
    )
    docs = submissions(tmp_path / "coopbench.db")
    kwargs = {d["task"]["id"]: d["task"]["kwargs"] for d in docs}
    assert kwargs["pf"]["continuous_actions"] is True and kwargs["spread"]["n_agents"] == 4


@pytest.mark.parametrize(
    "args, match",
    [
        (["--task", "nope", "--algo", "random"], "unknown task 'nope'"),
        (["--task", "spread", "--algo", "nope"], "unknown algorithm 'nope'"),
        (["--task", "spread", "--algo", "random", "--set", "lr=1"], "unknown config key 'lr'"),
        (
            ["--task", "spread", "--algo", "tests.fixtures.mod:Algo", "--set", "epsilon=big"],
            "not a valid float",
        ),
        (["--task", "spread", "--algo", "random", "--set", "num_envs"], "malformed"),
        (["--task", "spread", "--algo", "random", "--tier", "huge"], "unknown protocol tier"),
        (["--task", "spread", "--algo", "random", "--task-set", "n_agents=x"], "not a valid int"),
        (
            ["--task", "spread", "--algo", "random", "--task-set", "colour=red"],
            "unknown config key 'colour'",
        ),
        (["--task", "pf", "--algo", "tests.fixtures.mod:NaNAlgo"], "non-finite action"),
        (["--task", "pf", "--algo", "tests.fixtures.mod:CrashAlgo"], "fixture crash mid-run"),
    ],
)
def test_train_errors_are_one_line_and_leave_nothing_finished(capsys, tmp_path, args, match):
    rc = main(["train", *args, *TINY])
    one_line_error(capsys, rc, match)
    db = tmp_path / "coopbench.db"
    assert not db.exists() or submissions(db) == []


@pytest.mark.parametrize("value", ["0", "-5", "ten"])
def test_budget_must_be_positive(capsys, value):
    with pytest.raises(SystemExit) as info:
        main(["train", "--task", "spread", "--algo", "random", "--budget", value])
    one_line_error(capsys, info.value.code, "--budget")


def test_debug_shows_the_traceback():
    with pytest.raises(ValueError, match="unknown task"):
        main(["train", "--task", "nope", "--algo", "random", "--debug"])


def test_corrupt_and_foreign_store(capsys, tmp_path):
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database" * 50)
    before = corrupt.read_bytes()
    rc = main(["train", "--task", "spread", "--algo", "random", "--db", str(corrupt), *TINY])
    one_line_error(capsys, rc, "corrupt.db")
    assert corrupt.read_bytes() == before
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER, total REAL)")
    for cmd in (["leaderboard", "show"], ["bench", "--tasks", "spread", "--seeds", "1"]):
        one_line_error(capsys, main([*cmd, "--db", str(foreign)]), "foreign.db")


def test_leaderboard_export_import_html(capsys, tmp_path):
    for algo in ("random", "heuristic"):
        assert main(["train", "--task", "spread", "--algo", algo, "--db", "a.db", *TINY]) == 0
    capsys.readouterr()
    assert main(["leaderboard", "show", "--db", "a.db"]) == 0
    shown = capsys.readouterr().out
    assert "Random" in shown and "Heuristic" in shown
    assert main(["leaderboard", "export", "--db", "a.db", "--out", "subs.json"]) == 0
    assert (
        main(["leaderboard", "export", "--db", "a.db", "--out", "me.json", "--format", "marl-eval"])
        == 0
    )
    json.loads((tmp_path / "me.json").read_text())
    assert main(["leaderboard", "import", "--db", "b.db", "subs.json"]) == 0
    assert main(["leaderboard", "import", "--db", "b.db", "subs.json"]) == 0
    assert "0 new" in capsys.readouterr().out  # importing twice changes nothing
    assert submissions(tmp_path / "a.db") == submissions(tmp_path / "b.db")
    assert main(["leaderboard", "html", "--db", "b.db", "--out", "site"]) == 0
    assert (tmp_path / "site" / "index.html").exists()
    capsys.readouterr()
    assert main(["leaderboard", "show", "--db", "b.db", "--entries", "Heuristic"]) == 0
    shown = capsys.readouterr().out
    assert "| Heuristic |" in shown and "| Random |" not in shown
    for cmd in (["show"], ["html", "--out", "site2"]):
        rc = main(["leaderboard", *cmd, "--db", "b.db", "--tasks", "pp"])
        one_line_error(capsys, rc, "no task named ['pp'] on this board; there are ['spread']")
    assert not (tmp_path / "site2").exists()
    (tmp_path / "bad.json").write_text('[{"task": ')
    one_line_error(capsys, main(["leaderboard", "import", "--db", "b.db", "bad.json"]), "bad.json")
    assert len(submissions(tmp_path / "b.db")) == 2


def test_render(capsys, tmp_path):
    assert main(["render", "--task", "cn-v1", "--out", "h.gif"]) == 0
    assert main(["render", "--task", "cn-v1", "--policy", "random", "--out", "r.gif"]) == 0
    from tests.fixtures.mod import Algo

    algo = Algo(__import__("coopbench.envs").envs.make_batched("cn-v1", 1).task, Algo.Config(), 0)
    algo.values[:, 2] = 1.0
    algo.save(tmp_path / "ck.json")
    assert (
        main(
            [
                "render",
                "--task",
                "cn-v1",
                "--algo",
                "tests.fixtures.mod:Algo",
                "--checkpoint",
                "ck.json",
                "--out",
                "a.gif",
            ]
        )
        == 0
    )
    for name in ("h.gif", "r.gif", "a.gif"):
        assert (tmp_path / name).read_bytes()[:3] == b"GIF"
    one_line_error(
        capsys,
        main(["render", "--task", "cn-v1", "--checkpoint", "ck.json", "--out", "x.gif"]),
        "--checkpoint needs --algo",
    )


def test_reproduce_delegates(capsys, monkeypatch):
    calls = []
    fake = types.ModuleType("coopbench.reproduce")
    fake.run = lambda name, **kw: calls.append((name, kw)) or "ok"
    monkeypatch.setitem(sys.modules, "coopbench.reproduce", fake)
    assert main(["reproduce", "mutual-q", "--trials", "3", "--workers", "2"]) == 0
    assert calls == [("mutual-q", {"trials": 3, "workers": 2})]
    monkeypatch.setitem(sys.modules, "coopbench.reproduce", None)  # not installed
    one_line_error(capsys, main(["reproduce", "mutual-q"]), "not available")


def test_bench_reports_failed_runs_and_keeps_the_others(capsys, tmp_path):
    args = [
        "bench",
        "--tasks",
        "spread",
        "--algos",
        "random",
        "tests.fixtures.mod:CrashAlgo",
        "--seeds",
        "1",
        "--workers",
        "1",
        "--budget",
        "50",
    ]
    rc = main(args)
    captured = capsys.readouterr()
    assert rc == 1 and "fixture crash mid-run" in captured.err and "Traceback" not in captured.err
    assert "Random" in captured.out  # the leaderboard is still printed
    (doc,) = submissions(tmp_path / "coopbench.db")
    assert doc["algorithm"]["name"] == "random"


def test_bench_set_applies_to_every_run_and_rejects_unknown_keys(capsys, tmp_path):
    base = ["bench", "--tasks", "spread", "cn-v1", "--seeds", "1", "--workers", "1", *TINY]
    algo = ["--algos", "tests.fixtures.mod:Algo"]
    assert main([*base, *algo, "--set", "epsilon=0.5"]) == 0
    docs = submissions(tmp_path / "coopbench.db")
    assert sorted(d["task"]["id"] for d in docs) == ["cn-v1", "spread"]
    assert all(d["algorithm"]["config"]["epsilon"] == 0.5 for d in docs)
    rc = main([*base, "--algos", "random", "tests.fixtures.mod:Algo", "--set", "epsilon=0.5"])
    one_line_error(capsys, rc, "epsilon")
    assert len(submissions(tmp_path / "coopbench.db")) == 2  # nothing ran


def test_every_sub_command_has_its_function():
    from coopbench.cli import COMMANDS, build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) == set(COMMANDS)
