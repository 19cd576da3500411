"""Failures on a real Ray cluster (loopback): a worker node killed mid-sweep and a driver
killed mid-sweep lose nothing and repeat nothing finished; the numbers stay the pool's."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections import Counter
from pathlib import Path

import pytest
from tests.fixtures.ray_cluster import CLI, ROOT, bench, local_cluster, run_rows, wait_for
from tests.test_harness_sweep import by_key, same_numbers

pytest.importorskip("ray")
pytestmark = pytest.mark.ray

GATE = "tests.fixtures.gate:GateAlgo"
MATRIX = (["spread"], [GATE], 3)


def reached(gate: Path) -> Counter:
    """seed -> how many processes reached the gate (2: the run was started twice)."""
    return Counter(int(p.name.split("-")[1]) for p in gate.glob("reached-*"))


def finished(db: Path) -> int:
    return sum(done for done, _ in run_rows(db).values())


def pool_run(tmp_path: Path, gate: Path) -> Path:
    """The same sweep on the process pool (gate open), for the numbers."""
    from coopbench.harness.sweep import run_sweep

    db = tmp_path / "pool.db"
    (gate / "open").touch()
    overrides = {"gate": str(gate)}
    run_sweep(*MATRIX, db_path=str(db), workers=2, budget=300, progress=False, overrides=overrides)
    return db


@pytest.fixture
def cluster():
    """Two worker nodes of one CPU, fresh for each test (a killed node can look alive to
    the scheduler for a while after its test)."""
    with local_cluster(workers=2, cpus=1) as cluster:
        yield cluster


def test_worker_node_killed_mid_sweep(cluster, tmp_path, monkeypatch):
    from coopbench.harness.sweep import run_sweep

    db, gate = tmp_path / "r.db", tmp_path / "gate"
    gate.mkdir()
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("RAY_ADDRESS", cluster.address)
    out: list = []
    kwargs = {"budget": 300, "progress": False, "overrides": {"gate": str(gate)}}
    sweep = threading.Thread(
        target=lambda: out.extend(run_sweep(*MATRIX, db_path=str(db), backend="ray", **kwargs))
    )
    sweep.start()
    try:
        wait_for(lambda: sum(reached(gate).values()) == 2, "a run at the gate on each node")
        wait_for(lambda: sorted(run_rows(db).values()) == [(0, 1)] * 2, "their points")
        victim = next(iter(cluster.worker_nodes))
        cluster.remove_node(victim, allow_graceful=False)  # SIGKILL its processes
        cluster.add_node(num_cpus=1)
    finally:
        (gate / "open").touch()
        sweep.join(timeout=180)
    assert [o["status"] for o in out] == ["done"] * 3
    assert sorted(reached(gate).values()) == [1, 1, 2]  # the victim's run ran again
    rows = run_rows(db)
    assert len(rows) == 3 and {finished for finished, _ in rows.values()} == {1}
    pool = pool_run(tmp_path, gate)
    same_numbers(by_key(db), by_key(pool))
    assert rows == run_rows(pool)  # no point lost or written twice


def test_driver_killed_mid_sweep_resumes_only_unfinished_runs(cluster, tmp_path):
    db, gate = tmp_path / "r.db", tmp_path / "gate"
    gate.mkdir()
    (gate / "open-0").touch()  # seed 0 runs through; the others stop at their first point
    args = ["--tasks", "spread", "--algos", GATE, "--seeds", "3", "--budget", "300"]
    args += ["--set", f"gate={gate}", "--backend", "ray", "--db", str(db)]
    env = {**os.environ, "RAY_ADDRESS": cluster.address, "COOPBENCH_DB": ""}
    driver = subprocess.Popen(
        [*CLI, "bench", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: db.exists() and finished(db) == 1, "seed 0 finished")
        wait_for(lambda: len(reached(gate)) == 3, "seeds 1 and 2 at the gate")
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    assert finished(db) == 1
    wait_for(lambda: sorted(run_rows(db).values())[:2] == [(0, 1)] * 2, "their points")
    (gate / "open").touch()
    again = bench(cluster.address, *args, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "2 runs done, 1 already finished, 0 failed" in again.stdout
    assert reached(gate) == {0: 1, 1: 2, 2: 2}  # seed 0 was not run again
    pool = pool_run(tmp_path, gate)
    same_numbers(by_key(db), by_key(pool))
    assert run_rows(db) == run_rows(pool)
