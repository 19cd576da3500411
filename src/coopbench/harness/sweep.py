"""Sweeps: the task × algorithm × seed matrix over a process pool (or Ray), resumable.

Each process-pool worker opens the results store itself and writes its run point by point
as it goes (SQLite WAL; the store's transactions serialise writers), so a killed sweep
loses at most the evaluation points in flight: a resumed sweep skips every finished run
(``store.is_finished``) and restarts unfinished ones from scratch (``begin_run`` discards
their rows). Runs are independent and fully seeded, so the pool gives the same numbers as
running the matrix sequentially. Ctrl-C (or SIGTERM, which the CLI raises as an
interrupt) stops the pool at once: queued jobs are dropped and the running workers
terminated (they ignore SIGINT themselves). With ``backend="ray"`` the jobs run as Ray
tasks on a cluster and stream their store calls to the driver's node
(``harness.ray_backend``).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from coopbench.harness.progress import JobProgress
from coopbench.harness.ray_backend import check_resources, run_ray
from coopbench.harness.run import prepare_run, run_experiment, run_key, run_metadata
from coopbench.harness.threads import resolve_threads, worker_env
from coopbench.validation import check_int


@dataclass(frozen=True)
class Job:
    """One run of the matrix (``task_kwargs`` and config ``overrides`` as sorted pairs, so
    that jobs are hashable)."""

    task: str
    algo: str
    seed: int
    tier: str
    budget: int | None = None
    task_kwargs: tuple[tuple[str, Any], ...] = ()
    overrides: tuple[tuple[str, Any], ...] = ()
    threads: int | None = None  # the thread policy's count (None: $COOPBENCH_THREADS or 1)
    device: str = "cpu"  # torch device of the run ("cuda" for runs given GPUs on Ray)
    # where the sweep started: a worker looks for a user's "myalgo:MyAlgo" there too
    cwd: str = field(default_factory=os.getcwd, compare=False)

    def _args(self) -> tuple[Any, ...]:
        """The leading arguments shared by ``prepare_run`` and ``run_experiment``."""
        from coopbench.algorithms.registry import add_search_path

        add_search_path(self.cwd)  # a Ray worker's working directory may differ
        return (self.task, self.algo, self.seed, self.tier, self.budget, dict(self.overrides),
                dict(self.task_kwargs))  # fmt: skip

    def run(self, sink: Any) -> Any:
        """``run_experiment`` for this job, writing to ``sink``."""
        return run_experiment(*self._args(), sink=sink, device=self.device, threads=self.threads)

    def key(self) -> str:
        """The run key this job will have (see ``run_key``)."""
        cls, config, protocol, spec = prepare_run(*self._args())
        return run_key(run_metadata(spec, self.algo, cls, config, self.seed, protocol))

    def label(self) -> str:
        return f"{self.task} {self.algo} seed {self.seed}"


def _outcome(job: Job, result: Any = None, error: BaseException | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"task": job.task, "algo": job.algo, "seed": job.seed}
    if error is not None:
        return {**out, "status": "failed", "error": f"{type(error).__name__}: {error}"}
    try:
        final = result.final_scores()
    except ValueError:  # no reference returns for a non-default task configuration
        final = {}
    return {
        **out,
        "status": "done",
        "key": result.key,
        "final": final,
        "wall_time_s": result.wall_time_s,
    }


def skipped(job: Job, key: str) -> dict[str, Any]:
    """The outcome of a job whose run the store has finished already."""
    return {"task": job.task, "algo": job.algo, "seed": job.seed, "status": "skipped", "key": key}


def run_job(job: Job, db_path: str | None) -> dict[str, Any]:
    """Run one job into the store at ``db_path`` unless it is finished there already."""
    from coopbench.results.store import Store

    store = Store(db_path)
    try:
        key = job.key()
        if store.is_finished(key):
            return skipped(job, key)
        try:
            result = job.run(store)
        except Exception as exc:  # one failed run must not stop the matrix
            return _outcome(job, error=exc)
        return _outcome(job, result)
    finally:
        store.close()


def _init_worker(env: dict[str, str]) -> None:
    # the thread policy's variables, set before torch or numpy load in the worker
    os.environ.update(env)
    # Ctrl-C reaches the whole process group; stopping the pool is the parent's job
    # (``_stop_pool``), so a worker must not turn it into a failed run and take the next job
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def plan(
    tasks: Iterable[str],
    algos: Iterable[str],
    seeds: int | Sequence[int],
    tier: str,
    budget: int | None = None,
    task_kwargs: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    threads: int | None = None,
    device: str = "cpu",
) -> list[Job]:
    """The matrix as jobs; every (task, algorithm) pair is validated before anything runs.
    ``overrides`` (config fields) apply to every algorithm of the matrix; ``threads`` is the
    thread policy's count of every run, ``device`` its torch device."""
    if isinstance(seeds, int):
        seed_list = list(range(check_int(seeds, "seeds")))
    else:
        seed_list = [int(s) for s in seeds]
    tasks, algos = list(tasks), list(algos)
    if not tasks or not algos or not seed_list:
        raise ValueError("the sweep is empty: give at least one task, algorithm and seed")
    kw = tuple(sorted((task_kwargs or {}).items()))
    ov = tuple(sorted((overrides or {}).items()))
    for task, algo in product(tasks, algos):
        prepare_run(task, algo, seed_list[0], tier, budget, dict(ov), task_kwargs=dict(kw))
    n = resolve_threads(threads)
    return [
        Job(t, a, s, tier, budget, kw, ov, n, device=device)
        for t, a, s in product(tasks, algos, seed_list)
    ]


def run_sweep(
    tasks: Iterable[str],
    algos: Iterable[str],
    seeds: int | Sequence[int],
    tier: str = "quick",
    db_path: str | None = None,
    workers: int = 1,
    backend: str = "process",
    progress: bool = True,
    budget: int | None = None,
    task_kwargs: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    threads: int | None = None,
    cpus_per_run: float | None = None,
    gpus_per_run: float | None = None,
) -> list[dict[str, Any]]:
    """Run the matrix into the store at ``db_path`` (``None``: ``$COOPBENCH_DB`` or
    ``./coopbench.db``); finished runs are skipped. Every run holds the thread policy
    (``threads``, else ``$COOPBENCH_THREADS``, else 1; see ``harness.threads``). On Ray each
    run asks for ``cpus_per_run`` CPUs (default 1; without ``threads`` it also sets the
    thread count, rounded down, at least 1) and ``gpus_per_run`` GPUs (default 0; above 0
    the run's device is ``cuda``). Returns one outcome dict per job (``status``
    ``done``/``skipped``/``failed``) in matrix order."""
    check_int(workers, "workers")
    if backend not in ("process", "ray"):
        raise ValueError(f"unknown backend {backend!r}; expected 'process' or 'ray'")
    device = "cpu"
    if backend == "ray":
        cpus, gpus = check_resources(
            1.0 if cpus_per_run is None else cpus_per_run, gpus_per_run or 0.0
        )
        if threads is None and cpus_per_run is not None:
            threads = max(1, math.floor(cpus))
        device = "cuda" if gpus > 0 else "cpu"
    elif cpus_per_run is not None or gpus_per_run is not None:
        raise ValueError("cpus_per_run/gpus_per_run apply to the ray backend only")
    jobs = plan(tasks, algos, seeds, tier, budget, task_kwargs, overrides, threads, device)
    from coopbench.results.store import Store

    Store(db_path).close()  # a corrupt or foreign file fails here, before any work
    with RunsProgress(len(jobs), progress) as bar:
        if backend == "ray":
            outcomes = run_ray(jobs, db_path, bar, cpus, gpus)
        elif workers == 1:
            outcomes = {}
            for job in jobs:
                outcomes[job] = run_job(job, db_path)
                bar.advance(outcomes[job])
        else:
            outcomes = _run_pool(jobs, db_path, workers, bar)
    return [outcomes[job] for job in jobs]


def _skip_finished(
    jobs: list[Job], db_path: str | None, bar: RunsProgress
) -> tuple[list[Job], dict]:
    """Split off the jobs already finished in the store (reported as skipped)."""
    from coopbench.results.store import Store

    todo, outcomes = [], {}
    with Store(db_path) as store:
        for job in jobs:
            key = job.key()
            if store.is_finished(key):
                outcomes[job] = skipped(job, key)
                bar.advance(outcomes[job])
            else:
                todo.append(job)
    return todo, outcomes


def _run_pool(jobs: list[Job], db_path: str | None, workers: int, bar: RunsProgress) -> dict:
    jobs, outcomes = _skip_finished(jobs, db_path, bar)
    if not jobs:
        return outcomes
    context = multiprocessing.get_context("spawn")
    env = worker_env(jobs[0].threads)
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(env,)
    )
    try:
        futures = {pool.submit(run_job, job, db_path): job for job in jobs}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                job = futures[future]
                try:
                    outcomes[job] = future.result()
                except Exception as exc:  # the worker died or the store failed
                    outcomes[job] = _outcome(job, error=exc)
                bar.advance(outcomes[job])
    except BaseException:  # Ctrl-C (or any error here): stop now, not after the queue
        _stop_pool(pool)
        raise
    pool.shutdown()
    return outcomes


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Drop the queued jobs and end the running ones. A run cut short leaves an unfinished
    run in the store, which the next sweep runs again from the start (as after ``kill -9``)."""
    workers = list((pool._processes or {}).values())  # no public handle before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        process.terminate()
    for process in workers:
        process.join(timeout=10)


class RunsProgress(JobProgress):
    """Progress over a sweep's jobs, counting them by outcome (done, skipped, failed)."""

    def __init__(self, total: int, enabled: bool) -> None:
        super().__init__(total, "runs", enabled)
        self.counts = {"done": 0, "skipped": 0, "failed": 0}

    def advance(self, outcome: dict[str, Any]) -> None:
        self.counts[outcome["status"]] += 1
        text = ", ".join(f"{v} {k}" for k, v in self.counts.items() if v)
        self.update(sum(self.counts.values()), f"runs ({text})")
