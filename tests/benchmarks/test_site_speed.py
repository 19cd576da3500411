"""Time of ``coopbench leaderboard html`` on the committed standard-tier results (200 runs):
the site written from a store (``write_site``: aggregation from the summary columns, suite
rankings, pages, figures), without and with the per-entry downloads. Goal: under 60 s.

Run: ``pytest tests/benchmarks/test_site_speed.py -m bench -s``. ``COOPBENCH_SITE_FILES``
(space-separated paths) times a subset instead, e.g. ``results/standard/maddpg.json.gz``.
Speed is reported (``docs/site.md``), never asserted.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import pytest

import coopbench.leaderboard as lb

RESULTS = Path(__file__).resolve().parents[2] / "results" / "standard"
GOAL_S = 60.0


def _cpu() -> float:
    """CPU seconds of this process and its finished children."""
    own, kids = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _stage(name, fn, times):
    wall, cpu = time.perf_counter(), _cpu()
    value = fn()
    times.append((name, time.perf_counter() - wall, _cpu() - cpu))
    return value


@pytest.mark.bench
def test_site_speed(tmp_path, benchmark):
    files = os.environ.get("COOPBENCH_SITE_FILES", "").split() or sorted(RESULTS.glob("*.json.gz"))
    times: list[tuple[str, float, float]] = []
    with lb.Store(tmp_path / "site.db") as store:
        _stage("import", lambda: [lb.import_file(store, f) for f in files], times)
        _stage(
            "html --no-downloads",
            lambda: lb.write_site(store, tmp_path / "a", downloads=False),
            times,
        )
        benchmark.pedantic(
            lambda: _stage(
                "html (with downloads)", lambda: lb.write_site(store, tmp_path / "b"), times
            ),
            rounds=1,
        )
        runs = len(store.run_keys())
    print(f"\n{runs} runs, {os.cpu_count()} CPUs")
    for name, wall, cpu in times:
        miss = "  MISS (goal < 60 s)" if name.startswith("html") and wall > GOAL_S else ""
        print(f"  {name:<24} {wall:6.1f} s wall {cpu:6.1f} CPU s{miss}")
