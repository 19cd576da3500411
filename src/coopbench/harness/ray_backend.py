"""Sweeps on Ray: each run is a Ray task, its evaluation points streamed to the store.

The store stays on the driver's machine (the file need not be shared): a ``StoreWriter``
actor pinned to the driver's node owns it, and each run's ``begin_run``/``add_eval``/
``finish_run`` are sent to that actor as they happen, so every evaluation point is in the
store within moments of being made, while the run goes on. The run waits for its calls only
at ``finish_run``, where a store error fails it.

Failures: a worker process or node that dies makes Ray run the task again (``max_retries``);
the new attempt's ``begin_run`` discards the rows of the lost one, so no point is counted
twice (runs are fully seeded: a retry writes the same numbers). A run whose algorithm raises
is not retried: it is recorded as failed with its error, like on the process pool. A driver
killed mid-sweep takes its actor and tasks with it; the next sweep skips the finished runs
and restarts the rest.

Resources: every run asks Ray for ``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs (fractions
allowed) and holds the thread policy's count of threads (see ``harness.threads``), which the
caller derives from the CPUs (``sweep.run_sweep``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coopbench.harness.threads import worker_env

if TYPE_CHECKING:
    from coopbench.harness.sweep import Job, RunsProgress

MAX_RETRIES = 3  # attempts after a lost worker or node, per run
RAY_MISSING = "the ray backend needs Ray: pip install 'coopbench[ray]'"

__all__ = ["MAX_RETRIES", "StoreWriter", "check_resources", "run_ray"]


class StoreWriter:
    """The results store as a Ray actor: the one process that writes a sweep's store.

    A run the store has finished already (a retry of a run whose worker died after
    ``finish_run`` but before Ray heard back) is not written again."""

    def __init__(self, db_path: str) -> None:
        from coopbench.results.store import Store

        self.store = Store(db_path)
        self.finished_before: set[str] = set()

    def begin_run(self, key: str, meta: dict[str, Any]) -> None:
        if self.store.is_finished(key):
            self.finished_before.add(key)
        else:
            self.finished_before.discard(key)
            self.store.begin_run(key, meta)

    def add_eval(self, key: str, policy: str, step: int, returns: list[float]) -> None:
        if key not in self.finished_before:
            self.store.add_eval(key, policy, step, returns)

    def finish_run(
        self,
        key: str,
        absolute: dict[str, list[float]],
        wall: float,
        steps_taken: int | None = None,
        logs: list[dict[str, float]] | None = None,
    ) -> dict | None:
        if key not in self.finished_before:
            return self.store.finish_run(key, absolute, wall, steps_taken, logs)
        return None


class _ActorSink:
    """A run's sink in a Ray task: every call is sent to the writer actor at once (one
    caller's calls run in order) without waiting — a task blocked in ``ray.get`` lends its
    CPU to the next task, which would put two runs on one CPU. ``finish_run`` waits for all
    of them and raises the first store error."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self.sent: list[Any] = []

    def begin_run(self, key: str, meta: dict[str, Any]) -> None:
        self.sent.append(self.writer.begin_run.remote(key, meta))

    def add_eval(self, key: str, policy: str, step: int, returns: list[float]) -> None:
        self.sent.append(self.writer.add_eval.remote(key, policy, step, returns))

    def finish_run(
        self,
        key: str,
        absolute: dict[str, list[float]],
        wall: float,
        steps_taken: int | None = None,
        logs: list[dict[str, float]] | None = None,
    ) -> dict | None:
        import ray

        self.sent.append(self.writer.finish_run.remote(key, absolute, wall, steps_taken, logs))
        try:
            return ray.get(self.sent)[-1]
        except ray.exceptions.RayTaskError as exc:  # the store's own error, not Ray's wrapper
            raise exc.cause from None


def run_streamed(job: Job, writer: Any) -> dict[str, Any]:
    """The Ray task of one job: run it, streaming its store calls to ``writer``."""
    from coopbench.harness.sweep import _outcome

    try:
        result = job.run(_ActorSink(writer))
    except Exception as exc:  # the algorithm's (or the store's) error: recorded, not retried
        return _outcome(job, error=exc)
    return _outcome(job, result)


def _number(name: str, value: Any, zero_ok: bool) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    bad = not math.isfinite(number) or number < 0 or (number == 0 and not zero_ok)
    if bad or isinstance(value, bool):
        expected = "a number >= 0" if zero_ok else "a number > 0"
        raise ValueError(f"{name}={value!r} is invalid; expected {expected}")
    return number


def check_resources(cpus_per_run: Any, gpus_per_run: Any) -> tuple[float, float]:
    """The per-run resources as numbers: CPUs > 0 and GPUs >= 0 (fractions allowed)."""
    return _number("cpus_per_run", cpus_per_run, False), _number("gpus_per_run", gpus_per_run, True)


def _check_fits(ray: Any, cpus: float, gpus: float) -> None:
    """Fail in one line when no alive node of the cluster can hold one run."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if any(r.get("CPU", 0) >= cpus and r.get("GPU", 0) >= gpus for r in nodes):
        return
    shapes = ", ".join(f"{r.get('CPU', 0):g} CPU/{r.get('GPU', 0):g} GPU" for r in nodes)
    raise ValueError(
        f"no node of the Ray cluster can hold a run of {cpus:g} CPU and {gpus:g} GPU "
        f"(nodes: {shapes or 'none'}); lower --cpus-per-run/--gpus-per-run or add a node"
    )


def _lost(exc: Exception, retries: int) -> Exception:
    """The error of a run Ray gave up on, in one line."""
    cause = getattr(exc, "cause", None)
    if cause is not None:
        return cause
    first = (str(exc).strip().splitlines() or [""])[0]
    return RuntimeError(f"lost after {retries} retries: {type(exc).__name__}: {first}")


def run_ray(
    jobs: list[Job],
    db_path: str | None,
    bar: RunsProgress,
    cpus_per_run: float = 1.0,
    gpus_per_run: float = 0.0,
    max_retries: int = MAX_RETRIES,
) -> dict[Job, dict[str, Any]]:
    """Run ``jobs`` as Ray tasks on the cluster of ``$RAY_ADDRESS`` (else a local Ray),
    streaming every store call to a writer actor on this node. Returns job -> outcome."""
    try:
        import ray
    except ImportError:
        raise ValueError(RAY_MISSING) from None
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from coopbench.harness.sweep import _outcome, _skip_finished
    from coopbench.results.store import DEFAULT_DB, ENV_VAR

    cpus, gpus = check_resources(cpus_per_run, gpus_per_run)
    # the writer actor's working directory is not ours: an absolute path
    path = str(Path(db_path or os.environ.get(ENV_VAR) or DEFAULT_DB).resolve())
    started = not ray.is_initialized()
    if started:
        ray.init(log_to_driver=False)  # joins $RAY_ADDRESS's cluster when set
    try:
        _check_fits(ray, cpus, gpus)
        todo, outcomes = _skip_finished(jobs, path, bar)
        if not todo:
            return outcomes
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        writer = ray.remote(StoreWriter).options(num_cpus=0, scheduling_strategy=here).remote(path)
        task = ray.remote(run_streamed).options(
            num_cpus=cpus,
            num_gpus=gpus,
            max_retries=max_retries,
            retry_exceptions=False,
            runtime_env={"env_vars": worker_env(todo[0].threads)},
        )
        refs = {task.remote(job, writer): job for job in todo}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            job = refs[ready[0]]
            try:
                outcomes[job] = ray.get(ready[0])
            except ray.exceptions.RayError as exc:  # retries used up, or the task was lost
                outcomes[job] = _outcome(job, error=_lost(exc, max_retries))
            bar.advance(outcomes[job])
        return outcomes
    finally:
        if started:
            ray.shutdown()
