"""``--cpus-per-run``/``--gpus-per-run``: what each run asks Ray for, the thread count and
device each run gets from them, and bad values refused in one line (no cluster needed: the
Ray backend is replaced by a recorder; tests/test_ray_cluster.py runs them for real)."""

from __future__ import annotations

import pytest

import coopbench.harness.sweep as sweep
from coopbench.cli import main


@pytest.fixture
def asked(monkeypatch):
    """What ``run_sweep`` hands the Ray backend: (jobs, cpus per run, gpus per run)."""
    seen: dict = {}

    def record(jobs, db_path, bar, cpus, gpus):
        seen.update(jobs=jobs, cpus=cpus, gpus=gpus)
        return {job: sweep.skipped(job, "k") for job in jobs}

    monkeypatch.setattr(sweep, "run_ray", record)
    return seen


def ray_sweep(tmp_path, **kwargs):
    return sweep.run_sweep(
        ["spread"], ["random"], 2, db_path=str(tmp_path / "x.db"), backend="ray", budget=40,
        progress=False, **kwargs,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "cpus", "gpus", "threads", "device"),
    [
        ({}, 1.0, 0.0, 1, "cpu"),  # the single-thread default
        ({"cpus_per_run": 0.5}, 0.5, 0.0, 1, "cpu"),  # a fraction: still one thread
        ({"cpus_per_run": 2.5}, 2.5, 0.0, 2, "cpu"),  # threads rounded down
        ({"cpus_per_run": 4, "threads": 1}, 4.0, 0.0, 1, "cpu"),  # --threads wins
        ({"gpus_per_run": 0.25}, 1.0, 0.25, 1, "cuda"),  # a GPU share: the run uses cuda
    ],
)
def test_resources_map_to_ray_threads_and_device(
    tmp_path, asked, kwargs, cpus, gpus, threads, device
):
    ray_sweep(tmp_path, **kwargs)
    assert (asked["cpus"], asked["gpus"]) == (cpus, gpus)
    assert {(job.threads, job.device) for job in asked["jobs"]} == {(threads, device)}


def test_threads_default_follows_the_environment_not_the_cpus(tmp_path, asked, monkeypatch):
    monkeypatch.setenv("COOPBENCH_THREADS", "3")
    ray_sweep(tmp_path)
    assert {job.threads for job in asked["jobs"]} == {3}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cpus_per_run": 0}, "cpus_per_run=0 is invalid; expected a number > 0"),
        ({"cpus_per_run": -1.5}, "cpus_per_run=-1.5 is invalid; expected a number > 0"),
        ({"cpus_per_run": float("nan")}, "cpus_per_run=nan is invalid"),
        ({"gpus_per_run": -1}, "gpus_per_run=-1 is invalid; expected a number >= 0"),
        ({"gpus_per_run": "one"}, "gpus_per_run='one' is invalid"),
    ],
)
def test_bad_resources_fail_before_any_work(tmp_path, asked, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        ray_sweep(tmp_path, **kwargs)
    assert asked == {} and not (tmp_path / "x.db").exists()


def test_resources_need_the_ray_backend(tmp_path, capsys):
    with pytest.raises(ValueError, match="apply to the ray backend only"):
        sweep.run_sweep(["spread"], ["random"], 1, db_path=str(tmp_path / "x.db"), cpus_per_run=2)
    db = ["--db", str(tmp_path / "x.db")]
    assert main(["bench", "--tasks", "spread", "--cpus-per-run", "2", *db]) == 1
    assert capsys.readouterr().err.strip() == (
        "coopbench: error: --cpus-per-run/--gpus-per-run need --backend ray"
    )


@pytest.mark.parametrize("value", ["abc", "-1", "inf"])
def test_bad_resource_options_are_usage_errors(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--backend", "ray", "--gpus-per-run", value])
    assert exit_.value.code == 2
    assert f"argument --gpus-per-run: {value!r} is invalid; expected a number >= 0" in (
        capsys.readouterr().err
    )
