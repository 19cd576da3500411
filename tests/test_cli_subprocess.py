"""The console script as a user runs it: a user's algorithm from outside the package, a
``coopbench bench`` killed with SIGKILL at random points that resumes losing nothing, and
one stopped by Ctrl-C that stops at once."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing, suppress
from pathlib import Path

import numpy as np
import pytest

from coopbench.harness.sweep import Job, run_sweep
from coopbench.results.store import Store

ROOT = Path(__file__).resolve().parents[1]
EXE = shutil.which("coopbench")
CMD = [EXE] if EXE else [sys.executable, "-m", "coopbench.cli"]


def env_with_root():
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "COOPBENCH_DB": "",
    }


def test_user_algorithm_through_console_script(tmp_path):
    db = tmp_path / "user.db"
    proc = subprocess.run(
        [
            *CMD,
            "train",
            "--task",
            "cn-v1",
            "--algo",
            "tests.fixtures.mod:Algo",
            "--seed",
            "1",
            "--budget",
            "100",
            "--set",
            "epsilon=0.3",
            "--db",
            str(db),
        ],
        cwd=tmp_path,
        env=env_with_root(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    with Store(db) as store:
        (doc,) = store.submissions()
    assert doc["algorithm"]["path"] == "tests.fixtures.mod:Algo"
    assert doc["algorithm"]["config"]["epsilon"] == 0.3
    assert sorted(e["step"] for e in doc["evaluations"]["default"]) == [0, 100]


def test_console_script_error_is_one_line(tmp_path):
    proc = subprocess.run(
        [
            *CMD,
            "train",
            "--task",
            "pf",
            "--algo",
            "tests.fixtures.mod:NaNAlgo",
            "--budget",
            "50",
            "--db",
            str(tmp_path / "n.db"),
        ],
        cwd=tmp_path,
        env=env_with_root(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("coopbench: error: ") and "non-finite" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


# ------------------------------------------------------------------------- kill -9

TASKS = ["spread", "cn-v1"]
ALGOS = ["random", "heuristic", "tests.fixtures.mod:Algo"]
SEEDS, BUDGET = 1, 200  # 6 runs, 2 evaluation points each (0 and the budget): 18 commits


def progress(db: Path) -> int:
    """Evaluation rows plus finished runs committed so far (0 before the store exists)."""
    if not db.exists():
        return 0
    try:
        with closing(sqlite3.connect(db, timeout=5)) as conn:
            evals = conn.execute("SELECT COUNT(*) FROM evals").fetchone()[0]
            done = conn.execute("SELECT COUNT(*) FROM runs WHERE finished = 1").fetchone()[0]
            return evals + done
    except sqlite3.Error:  # tables not created yet
        return 0


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_group_gone(pgid: int, timeout: float = 20.0) -> None:
    """Wait until every process of the killed group has exited."""
    deadline = time.monotonic() + timeout
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)


def bench(db: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            *CMD,
            "bench",
            "--tasks",
            *TASKS,
            "--algos",
            *ALGOS,
            "--seeds",
            str(SEEDS),
            "--workers",
            "2",
            "--budget",
            str(BUDGET),
            "--db",
            str(db),
        ],
        cwd=db.parent,
        env={**env_with_root(), "TMPDIR": str(db.parent)},  # killed runs leave temp dirs
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group
    )


def test_bench_survives_kill_9_and_resumes(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    db = tmp_path / "killed.db"
    rng = np.random.default_rng(20240607)
    kills = partial = 0
    for _ in range(3):
        target = progress(db) + int(rng.integers(1, 6))  # a random point in the work
        proc = bench(db)
        deadline = time.monotonic() + 240
        while proc.poll() is None and progress(db) < target and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the main process and both workers
            kills += 1
        proc.wait(timeout=60)
        wait_group_gone(proc.pid)
        proc.stderr.close()
        with Store(db) as store:
            partial += bool(store.unfinished())  # a run cut between two of its points
    assert kills >= 2 and partial >= 1  # the test must really interrupt runs
    final = bench(db)
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()

    reference = tmp_path / "reference.db"
    run_sweep(
        TASKS, ALGOS, SEEDS, "quick", str(reference), workers=1, progress=False, budget=BUDGET
    )
    with Store(db) as store:
        docs = store.submissions()
        assert store.unfinished() == []
    with Store(reference) as store:
        expected = {d["run_key"]: d for d in store.submissions()}
    keys = [d["run_key"] for d in docs]
    assert len(keys) == len(set(keys)) == len(TASKS) * len(ALGOS) * SEEDS  # each run once
    assert set(keys) == {
        Job(t, a, s, "quick", BUDGET).key() for t in TASKS for a in ALGOS for s in range(SEEDS)
    }
    for doc in docs:
        for policy, points in doc["evaluations"].items():
            assert [p["step"] for p in points] == [0, BUDGET]  # each point exactly once
            assert points == expected[doc["run_key"]]["evaluations"][policy]  # nothing lost
        assert doc["absolute"] == expected[doc["run_key"]]["absolute"]


# ------------------------------------------------------------------------- Ctrl-C

GATE = "tests.fixtures.gate:GateAlgo"  # each run waits at its first evaluation point
GATED_SEEDS = 6  # two running when Ctrl-C comes, four queued behind them
# A terminal's foreground job has Ctrl-C at its default action, but a test run started with
# ``&`` from a shell without job control (``nohup pytest ... &`` in a script) has SIGINT
# ignored, and the command would inherit that through exec and never see the Ctrl-C. This
# shim restores the default and execs the command in the same process (same pid and group).
SIGINT_DEFAULT = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execvp(sys.argv[1], sys.argv[1:])",
]


def gated_bench(db: Path, gate: Path) -> subprocess.Popen:
    args = ["bench", "--tasks", "spread", "--algos", GATE, "--seeds", str(GATED_SEEDS)]
    args += ["--workers", "2", "--budget", "200", "--set", f"gate={gate}", "--db", str(db)]
    return subprocess.Popen(
        [*SIGINT_DEFAULT, *CMD, *args],
        cwd=db.parent,
        env={**env_with_root(), "TMPDIR": str(db.parent)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def ctrl_c(pid: int) -> None:
    os.killpg(pid, signal.SIGINT)  # a terminal sends it to the whole foreground group


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)  # ``kill PID``: the main process alone


@pytest.mark.parametrize(
    ("stop", "status", "message"),
    [(ctrl_c, 130, "coopbench: interrupted"), (kill, 143, "coopbench: terminated")],
    ids=["ctrl-c", "sigterm"],
)
def test_a_stopped_bench_ends_the_pool_at_once_and_the_sweep_resumes(
    tmp_path, stop, status, message
):
    """Ctrl-C, or SIGTERM to the main process, while both workers sit in a run: the command
    exits within seconds with every worker gone and no queued run started. Before, on Ctrl-C
    each worker turned it into a failed run and took the next job, so the command ran on
    until the queue was done (here: each queued run waiting at its gate); on SIGTERM the
    main process died alone and left its workers running."""
    db, gate = tmp_path / "stopped.db", tmp_path / "gate"
    gate.mkdir()
    proc = gated_bench(db, gate)
    deadline = time.monotonic() + 120
    while len(list(gate.glob("reached-*"))) < 2 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    assert len(list(gate.glob("reached-*"))) == 2, "the two workers never reached the gate"
    stop(proc.pid)
    try:
        _, err = proc.communicate(timeout=30)  # without the fix: it runs on, queue and all
        wait_group_gone(proc.pid, timeout=10)
        left_behind = group_alive(proc.pid)
    finally:  # nothing of it may outlive the test, pass or fail
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert not left_behind  # no worker left behind
    assert proc.returncode == status
    assert err.strip().splitlines()[-1] == message and "Traceback" not in err
    assert len(list(gate.glob("reached-*"))) == 2  # no queued run started
    with Store(db) as store:
        assert len(store.unfinished()) == 2 and store.submissions() == []

    (gate / "open").touch()
    final = gated_bench(db, gate)
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    with Store(db) as store:
        assert store.unfinished() == []
        assert sorted(d["seed"] for d in store.submissions()) == list(range(GATED_SEEDS))


@pytest.mark.skipif(EXE is None, reason="console script not installed")
def test_console_script_is_installed():
    proc = subprocess.run([EXE, "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "bench" in proc.stdout
