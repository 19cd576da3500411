"""Leaderboard speed: import, show and store size on the committed standard-tier results,
and ``show`` on a generated store of 10,000 runs.

Run: ``pytest tests/benchmarks/test_leaderboard_speed.py -m bench`` (a table of every
measured number next to its goal is printed at the end; ``MISS`` marks a missed goal).
``show`` runs as ``coopbench leaderboard show`` in a subprocess, so its time includes the
interpreter start-up and its peak memory is the child's maximum RSS. The 10,000-run store
(5 tasks x 2 action kinds x 100 labels x 10 seeds, 21 evaluation points of 100 episodes,
1,000 absolute episodes, float32-exact synthetic returns) is built once through the store
API in one transaction and cached in ``tests/benchmarks/.cache`` (ignored by git).
Speed is reported, never asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from coopbench.envs import reference_returns
from coopbench.results import Store, import_file
from coopbench.results.arrays import to_b64

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "results" / "standard").glob("*.json.gz"))
CACHE = Path(__file__).parent / ".cache"
TASKS = ("spread", "cn-v1", "cn-v2", "pf", "pp")
LABELS, SEEDS, POINTS, EPISODES, ABSOLUTE = 100, 10, 21, 100, 1000
MEASURED: list[tuple[str, float, float, str]] = []  # what, value, goal, unit


@pytest.fixture(scope="module", autouse=True)
def _table(request):
    yield
    lines = ["", "leaderboard speed (measured vs goal):"]
    for what, value, goal, unit in MEASURED:
        mark = "ok" if value <= goal else "MISS"
        lines.append(f"  {what:<44} {value:>9.2f} {unit:<3} goal <= {goal:g} {unit}  {mark}")
    text = "\n".join(lines)
    with request.config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        print(text)


def _record(what: str, value: float, goal: float, unit: str) -> None:
    MEASURED.append((what, value, goal, unit))


def _show(db: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of ``coopbench leaderboard show`` in a
    fresh process (CPU time is what a busy shared machine does not inflate; the peak RSS
    is the child's ``VmHWM``, as ``ru_maxrss`` would include the forking parent's)."""
    code = (
        "import resource, sys; from coopbench.cli import main;"
        "rc = main(['leaderboard', 'show', '--db', sys.argv[1]]);"
        "u = resource.getrusage(resource.RUSAGE_SELF);"
        "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')];"
        "print(u.ru_utime + u.ru_stime, hwm[0] if hwm else u.ru_maxrss, file=sys.stderr);"
        "sys.exit(rc)"
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, str(db)], capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - start
    cpu, rss_kb = map(float, proc.stderr.split()[-2:])
    return seconds, cpu, rss_kb / 1024


@pytest.fixture(scope="module")
def standard(tmp_path_factory) -> dict:
    """The committed standard-tier files imported once into a fresh store, timed."""
    if not FILES:
        pytest.skip("no results/standard/*.json.gz")
    db = tmp_path_factory.mktemp("standard") / "standard.db"
    start, cpu = time.perf_counter(), time.process_time()
    with Store(db) as store:
        for path in FILES:
            import_file(store, path)
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {
        "db": db,
        "import_s": time.perf_counter() - start,
        "import_cpu_s": time.process_time() - cpu,
    }


def test_import_standard(standard, benchmark):
    benchmark.pedantic(lambda: None, rounds=1)
    benchmark.extra_info["import_s"] = standard["import_s"]
    _record(f"import {len(FILES)} standard-tier files (s)", standard["import_s"], 30, "s")
    _record(f"import {len(FILES)} standard-tier files, CPU (s)", standard["import_cpu_s"], 30, "s")


def test_store_size_vs_gzip_files(standard, benchmark):
    benchmark.pedantic(lambda: None, rounds=1)
    ratio = standard["db"].stat().st_size / sum(p.stat().st_size for p in FILES)
    benchmark.extra_info["size_ratio"] = ratio
    _record("store size / gzip files (x)", ratio, 2, "x")


def test_show_standard(standard, benchmark):
    seconds, cpu, rss = benchmark.pedantic(_show, args=(standard["db"],), rounds=3)
    _record("show, 200 standard runs (s)", seconds, 2, "s")
    _record("show, 200 standard runs, CPU (s)", cpu, 2, "s")
    _record("show, 200 standard runs, peak RSS (MB)", rss, 1024, "MB")


def _synthetic_store() -> Path:
    """The cached 10,000-run store (built on first use, ~1 min)."""
    CACHE.mkdir(exist_ok=True)
    db = CACHE / f"synthetic-{len(TASKS) * 2 * LABELS * SEEDS}.db"
    if db.exists():
        return db
    rng = np.random.default_rng(0)
    steps = np.linspace(0, 1_000_000, POINTS).astype(int)
    docs = []
    for task in TASKS:
        for continuous in (False, True):
            ref = reference_returns(task, continuous_actions=continuous)
            low, span = ref["random"], ref["heuristic"] - ref["random"]
            for label in range(LABELS):
                skill = rng.uniform(0.0, 1.2)
                for seed in range(SEEDS):
                    level = skill * steps / steps[-1] + rng.normal(0, 0.05, POINTS)

                    def returns(n, lv, low=low, span=span):
                        raw = low + span * (lv + rng.normal(0, 0.3, n))
                        return to_b64(raw.astype(np.float32).astype(np.float64))

                    docs.append(_doc(task, continuous, label, seed, steps, level, returns))
    tmp = db.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with Store(tmp) as store:
        store.import_submissions(docs)
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.replace(tmp, db)
    return db


def _doc(task, continuous, label, seed, steps, level, returns) -> dict:
    return {
        "schema_version": 2,
        "run_key": f"{task}-{int(continuous)}-{label}-{seed}",
        "coopbench_version": "0.1.0",
        "task": {"id": task, "version": 1, "kwargs": {"continuous_actions": continuous}},
        "algorithm": {
            "name": f"algo{label}",
            "path": f"bench.synthetic:Algo{label}",
            "config": {"lr": 0.001, "label": label},
            "config_hash": f"cfg{label}",
        },
        "policies": {"default": {"label": f"A{label}", "centralised": False, "privileged": False}},
        "seed": seed,
        "protocol": {
            "tier": "standard",
            "budget": 1_000_000,
            "eval_interval": 50_000,
            "eval_episodes": EPISODES,
            "eval_seed": 1,
            "absolute_episodes": ABSOLUTE,
        },
        "versions": {"python": "3"},
        "git_commit": None,
        "hardware": {"cpu": "synthetic"},
        "started_at": "2026-01-01T00:00:00+00:00",
        "evaluations": {
            "default": [
                {"step": int(s), "returns": returns(EPISODES, lv)}
                for s, lv in zip(steps, level, strict=True)
            ]
        },
        "absolute": {"default": returns(ABSOLUTE, level[-1])},
        "wall_time_s": 1.0,
    }


def test_show_10k_runs(benchmark):
    db = _synthetic_store()
    seconds, cpu, rss = benchmark.pedantic(_show, args=(db,), rounds=2)
    _record("show, 10,000 synthetic runs (s)", seconds, 10, "s")
    _record("show, 10,000 synthetic runs, CPU (s)", cpu, 10, "s")
    _record("show, 10,000 synthetic runs, peak RSS (MB)", rss, 1024, "MB")
