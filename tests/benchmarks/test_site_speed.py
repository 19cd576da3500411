"""Time of ``coopbench leaderboard html`` on the committed standard-tier results (200 runs),
stage by stage: decoding the submissions, aggregating them, writing the site (pages and
figures), and writing it with the per-entry downloads. Goal: the whole under 60 s.

Run: ``pytest tests/benchmarks/test_site_speed.py -m bench -s``. ``COOPBENCH_SITE_FILES``
(space-separated paths) times a subset instead, e.g. ``results/standard/maddpg.json.gz``.
Speed is reported (``docs/site.md``), never asserted.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import time
import types
from pathlib import Path

import pytest

import coopbench.leaderboard as lb

RESULTS = Path(__file__).resolve().parents[2] / "results" / "standard"
GOAL_S = 60.0


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the figure workers)."""
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

    def decode():
        return [d for f in files for d in json.loads(gzip.decompress(Path(f).read_bytes()))]

    docs = _stage("decode submissions", decode, times)
    board = _stage("aggregate", lambda: lb.aggregate(docs, validate=False), times)
    metas = lb.submission_metas(docs)
    _stage("pages + figures", lambda: lb.write_html(board, tmp_path / "a", metas=metas), times)

    def write_submissions(keys, path):
        wanted = set(keys)
        chosen = [d for d in docs if d["run_key"] in wanted]
        lb.export_file(types.SimpleNamespace(submissions=lambda: chosen), path)

    def full():
        return lb.write_html(
            board, tmp_path / "b", metas=metas, write_submissions=write_submissions
        )

    benchmark.pedantic(lambda: _stage("pages + figures + downloads", full, times), rounds=1)
    total = sum(t[1] for t in times if t[0] != "pages + figures")
    print(f"\n{len(docs)} runs, {len(board.entries)} entries, {os.cpu_count()} CPUs")
    for name, wall, cpu in times:
        print(f"  {name:<30} {wall:6.1f} s wall {cpu:6.1f} CPU s")
    miss = "  MISS" if total > GOAL_S else ""
    print(f"  {'html total (goal < 60 s)':<30} {total:6.1f} s wall{miss}")
