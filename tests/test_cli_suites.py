"""``coopbench leaderboard show --suite``: the suite ranking from a store of fake runs."""

from __future__ import annotations

import pytest

from coopbench.cli import main
from coopbench.results.store import Store
from test_leaderboard_suites import CTEDD, grid, runs


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.delenv("COOPBENCH_DB", raising=False)
    path = tmp_path / "suite.db"
    docs = runs("Strong", grid(0.5)) + runs("Weak", grid())
    docs += runs("Partial", 0.7, tasks=CTEDD[:3]) + runs("Spready", 0.4, tasks=("spread",))
    with Store(path) as store:
        store.import_submissions(docs)
    return str(path)


def _show(capsys, *args):
    rc = main(["leaderboard", "show", *args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_show_suite_ranks_complete_entries(capsys, db):
    rc, out, _ = _show(capsys, "--db", db, "--suite", "ctedd")
    assert rc == 0
    assert "## Suite ctedd (cn-v1, cn-v2, pf, pp), discrete actions" in out
    ranking = [line for line in out.splitlines() if line.startswith("| 1 |")]
    assert ranking and "| Strong |" in ranking[0]
    assert "| 2 | Weak |" in out
    assert "- Partial (quick, 100 env steps): missing pp" in out
    assert "Spready" not in out  # it ran no task of the suite
    assert "| Strong | - | 1.00 [1.00, 1.00] |" in out  # PoI: every Strong run wins
    assert "| Task |" not in out  # the per-task table is replaced


def test_show_suite_all_and_entries(capsys, db):
    rc, out, _ = _show(capsys, "--db", db, "--suite", "all", "--entries", "Strong", "Spready")
    assert rc == 0
    assert "No entry ran every task of the suite." in out
    assert "- Strong (quick, 100 env steps): missing spread" in out
    assert "Spready (quick, 100 env steps): missing cn-v1, cn-v2, pf, pp" in out
    assert "Weak" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--suite", "ctde"], "unknown suite 'ctde'; expected one of ['all', 'ctedd']"),
        (["--suite", "ctedd", "--tasks", "pf"], "--suite fixes the tasks; drop --tasks"),
    ],
)
def test_show_suite_bad_input_is_one_line(capsys, db, args, message):
    rc, _, err = _show(capsys, "--db", db, *args)
    assert rc == 1 and err.strip() == f"coopbench: error: {message}"


def test_show_suite_without_suite_tasks(capsys, db):
    rc, out, _ = _show(capsys, "--db", db, "--suite", "ctedd", "--entries", "Spready")
    assert rc == 0 and out.strip() == "no entry ran a task of ctedd"
