"""Sweeps: a process pool gives the same numbers as sequential runs; finished runs are
skipped; bad input fails before any work (the Ray backend: tests/test_ray_*.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from coopbench.harness.sweep import Job, plan, run_sweep
from coopbench.results.store import Store

ROOT = Path(__file__).resolve().parents[1]
MATRIX = {
    "tasks": ["spread"],
    "algos": ["random", "tests.fixtures.mod:Algo"],
    "seeds": 2,
    "budget": 60,
    "progress": False,
}


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # spawn workers inherit sys.path


def by_key(path):
    with Store(path) as store:
        return {d["run_key"]: d for d in store.submissions()}


def same_numbers(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key]["evaluations"] == b[key]["evaluations"]
        assert a[key]["absolute"] == b[key]["absolute"]


def test_pool_equals_sequential_and_resumes(tmp_path):
    seq, par = tmp_path / "seq.db", tmp_path / "par.db"
    first = run_sweep(db_path=str(seq), workers=1, **MATRIX)
    assert [o["status"] for o in first] == ["done"] * 4
    assert [(o["algo"], o["seed"]) for o in first] == [
        ("random", 0),
        ("random", 1),
        ("tests.fixtures.mod:Algo", 0),
        ("tests.fixtures.mod:Algo", 1),
    ]
    run_sweep(db_path=str(par), workers=2, **MATRIX)
    same_numbers(by_key(seq), by_key(par))
    assert len(by_key(seq)) == 4
    again = run_sweep(db_path=str(par), workers=2, **MATRIX)
    assert [o["status"] for o in again] == ["skipped"] * 4
    expected = {Job("spread", a, s, "quick", 60).key() for a in MATRIX["algos"] for s in (0, 1)}
    assert set(by_key(par)) == expected


def test_failed_run_is_reported_not_finished(tmp_path):
    db = tmp_path / "f.db"
    out = run_sweep(
        ["spread"],
        ["tests.fixtures.mod:CrashAlgo", "random"],
        1,
        db_path=str(db),
        budget=40,
        progress=False,
    )
    assert [o["status"] for o in out] == ["failed", "done"]
    assert "fixture crash" in out[0]["error"]
    assert len(by_key(db)) == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"algos": ["random", "nope"]}, "unknown algorithm 'nope'"),
        ({"tasks": ["spread", "nope"]}, "unknown task 'nope'"),
        ({"seeds": 0}, "seeds=0"),
        ({"tier": "huge"}, "unknown protocol tier"),
        ({"workers": 0}, "workers=0"),
        ({"backend": "dask"}, "unknown backend"),
    ],
)
def test_bad_sweeps_fail_before_work(tmp_path, kwargs, match):
    args = {
        "tasks": ["spread"],
        "algos": ["random"],
        "seeds": 1,
        "db_path": str(tmp_path / "x.db"),
        "progress": False,
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        run_sweep(**args)
    assert not (tmp_path / "x.db").exists() or by_key(tmp_path / "x.db") == {}


def test_ray_backend_needs_ray(tmp_path, monkeypatch):
    # ray is an optional extra; without it the error names the extra to install
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(ValueError, match=r"coopbench\[ray\]"):
        run_sweep(
            ["spread"],
            ["random"],
            1,
            db_path=str(tmp_path / "r.db"),
            backend="ray",
            budget=40,
            progress=False,
        )
    assert by_key(tmp_path / "r.db") == {}


def test_plan_accepts_explicit_seeds():
    jobs = plan(["spread"], ["random"], [3, 7], "quick", 40)
    assert [j.seed for j in jobs] == [3, 7]
