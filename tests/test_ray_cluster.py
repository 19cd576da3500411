"""``coopbench bench --backend ray`` on a real two-node Ray cluster (loopback): the same
numbers and leaderboard as the process pool, evaluation points in the store while a run is
still going, a failing algorithm reported per run with a failing exit code, a lost worker
process retried without duplicating anything."""

from __future__ import annotations

import threading

import pytest
from tests.fixtures.ray_cluster import ROOT, bench, board, local_cluster, run_rows, wait_for
from tests.test_harness_sweep import by_key, same_numbers

from coopbench.cli import main

pytest.importorskip("ray")
pytestmark = pytest.mark.ray

GATE = "tests.fixtures.gate:GateAlgo"


@pytest.fixture(scope="module")
def cluster():
    """The cluster, joined once by this process: its in-process sweeps are one Ray job and
    reuse its worker processes (a sweep leaves a Ray it did not start connected)."""
    import ray

    with local_cluster(workers=2, cpus=2) as cluster:
        ray.init(address=cluster.address, log_to_driver=False)
        try:
            yield cluster
        finally:
            ray.shutdown()


@pytest.fixture(autouse=True)
def _driver(cluster, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", cluster.address)  # in-process sweeps join the cluster
    monkeypatch.syspath_prepend(str(ROOT))


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """``coopbench ARGS`` in this process (a driver joining ``$RAY_ADDRESS``'s cluster):
    exit code, stdout, stderr."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_bench_on_two_nodes_equals_the_pool(cluster, tmp_path, capsys):
    sweep = ["--tasks", "spread", "--algos", "random", "heuristic", "mappo", "--seeds", "1"]
    sweep += ["--budget", "1000"]
    on_ray = bench(cluster.address, *sweep, "--backend", "ray", "--db", str(tmp_path / "r.db"))
    assert on_ray.returncode == 0, on_ray.stderr
    code, pool, err = cli(capsys, "bench", *sweep, "--workers", "2", "--db", str(tmp_path / "p.db"))
    assert code == 0, err
    assert "3 runs done, 0 already finished, 0 failed" in on_ray.stdout
    assert board(on_ray.stdout) == board(pool)
    assert "| MAPPO |" in board(on_ray.stdout)
    same_numbers(by_key(tmp_path / "r.db"), by_key(tmp_path / "p.db"))
    rows = run_rows(tmp_path / "r.db")
    assert len(rows) == 3 and all(finished == 1 for finished, _ in rows.values())


def test_points_reach_the_store_while_the_run_goes_on(tmp_path):
    from coopbench.harness.sweep import run_sweep

    db, gate = tmp_path / "s.db", tmp_path / "gate"
    gate.mkdir()
    args = (["spread"], [GATE], 1)
    kwargs = {"budget": 300, "progress": False, "overrides": {"gate": str(gate)}}
    out: list = []
    sweep = threading.Thread(
        target=lambda: out.extend(run_sweep(*args, db_path=str(db), backend="ray", **kwargs))
    )
    sweep.start()
    try:
        wait_for(lambda: list(gate.glob("reached-*")), "the run at its gate")
        # held at its gate after its first point: the point is in the store, unfinished
        wait_for(lambda: list(run_rows(db).values()) == [(0, 1)], "the first point")
    finally:
        (gate / "open").touch()
        sweep.join(timeout=120)
    assert [o["status"] for o in out] == ["done"]
    ((finished, points),) = run_rows(db).values()
    assert finished == 1 and points > 1
    run_sweep(*args, db_path=str(tmp_path / "pool.db"), workers=1, **kwargs)
    same_numbers(by_key(db), by_key(tmp_path / "pool.db"))


def test_failing_algorithm_is_reported_and_the_exit_code_says_so(tmp_path, capsys):
    db = tmp_path / "f.db"
    algos = ["tests.fixtures.mod:CrashAlgo", "random"]
    sweep = ["--tasks", "spread", "--algos", *algos, "--seeds", "1", "--budget", "40"]
    code, out, err = cli(capsys, "bench", *sweep, "--backend", "ray", "--db", str(db))
    assert code == 1
    assert "1 runs done, 0 already finished, 1 failed" in out
    errors = [line for line in err.splitlines() if line.startswith("coopbench: error")]
    assert errors == [
        "coopbench: error: spread tests.fixtures.mod:CrashAlgo seed 0: AlgorithmError: "
        "algorithm 'tests.fixtures.mod:CrashAlgo' raised RuntimeError at env step 30: "
        "fixture crash mid-run"
    ]
    assert len(by_key(db)) == 1


def test_a_lost_worker_process_is_retried_once_and_writes_once(tmp_path):
    from coopbench.harness.sweep import run_sweep

    gate = tmp_path / "gate"
    gate.mkdir()
    (gate / "open").touch()
    args = (["spread"], [GATE], 2)
    kwargs = {"budget": 300, "progress": False}
    out = run_sweep(
        *args, db_path=str(tmp_path / "r.db"), backend="ray", **kwargs,
        overrides={"gate": str(gate), "die_once": True},
    )  # fmt: skip
    assert [o["status"] for o in out] == ["done", "done"]
    for seed in (0, 1):  # each run's first worker died at its first point; a second ran it
        assert len(list(gate.glob(f"reached-{seed}-*"))) == 2
    pool = tmp_path / "pool.db"
    run_sweep(*args, db_path=str(pool), overrides={"gate": str(gate), "die_once": True}, **kwargs)
    same_numbers(by_key(tmp_path / "r.db"), by_key(pool))
    assert run_rows(tmp_path / "r.db") == run_rows(pool)


def test_a_run_lost_after_its_last_retry_is_failed_and_the_next_sweep_runs_it(tmp_path):
    from coopbench.harness.ray_backend import run_ray
    from coopbench.harness.sweep import RunsProgress, plan, run_sweep

    db, gate = tmp_path / "l.db", tmp_path / "gate"
    gate.mkdir()
    (gate / "open").touch()
    overrides = {"gate": str(gate), "die_once": True}
    jobs = plan(["spread"], [GATE], 1, "quick", 300, overrides=overrides)
    (outcome,) = run_ray(jobs, str(db), RunsProgress(1, False), max_retries=0).values()
    assert outcome["status"] == "failed"
    assert outcome["error"].startswith("RuntimeError: lost after 0 retries: ")
    assert "\n" not in outcome["error"]
    assert by_key(db) == {}  # nothing finished
    again = run_sweep(["spread"], [GATE], 1, db_path=str(db), backend="ray", budget=300,
                      progress=False, overrides=overrides)  # fmt: skip
    assert [o["status"] for o in again] == ["done"]


def test_resources_that_no_node_holds_fail_before_any_run(tmp_path, capsys):
    db = tmp_path / "x.db"
    sweep = ["--tasks", "spread", "--algos", "random", "--seeds", "1", "--budget", "40"]
    sweep += ["--backend", "ray", "--gpus-per-run", "0.5", "--db", str(db)]
    code, _, err = cli(capsys, "bench", *sweep)
    assert code == 1
    assert err.startswith("coopbench: error: no node of the Ray cluster can hold a run of 1 CPU")
    nodes = err[err.index("(nodes: ") + 8 : err.index(")")].split(", ")
    assert sorted(nodes) == ["0 CPU/0 GPU", "2 CPU/0 GPU", "2 CPU/0 GPU"]  # head, 2 workers
    assert not by_key(db)


def test_cpus_per_run_sets_each_runs_threads(cluster, tmp_path):
    db = tmp_path / "t.db"
    sweep = ["--tasks", "spread", "--algos", "random", "--seeds", "2", "--budget", "40"]
    proc = bench(
        cluster.address, *sweep, "--backend", "ray", "--cpus-per-run", "2", "--db", str(db)
    )
    assert proc.returncode == 0, proc.stderr
    for doc in by_key(db).values():
        threads = doc["provenance"]["threads"]
        assert threads["requested"] == 2 and threads["env"]["OMP_NUM_THREADS"] == "2"
        assert threads["torch_intra_op"] in (None, 2)  # None: torch not loaded by the run
