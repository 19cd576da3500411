"""One run = (task, algorithm, config, seed, protocol): train under the budget, evaluate on the
schedule, re-evaluate the best checkpoint (absolute metric), write every point to a sink.

``run_experiment`` is the single entry point the CLI, the sweeps and the tests use; a
user's algorithm is named by its import path ``"pkg.mod:Class"`` and needs no change to
coopbench. Writing is incremental: ``sink.begin_run`` before training, ``sink.add_eval``
at every evaluation point, ``sink.finish_run`` only after the run succeeded — a failed run
is never finished, and the store discards its rows when the run is started again.
"""

from __future__ import annotations

import copy
import inspect
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coopbench.algorithms.base import Algorithm, BudgetExhausted
from coopbench.algorithms.registry import get_algorithm
from coopbench.envs import TaskSpec, make_batched, reference_returns
from coopbench.harness.budget import BudgetEnv
from coopbench.harness.config import build_config
from coopbench.harness.evaluate import EvaluationError, evaluate_policy
from coopbench.harness.metadata import run_key, run_metadata
from coopbench.harness.progress import JobProgress
from coopbench.harness.protocol import TierProtocol, get_protocol
from coopbench.harness.threads import thread_policy
from coopbench.stats import normalise
from coopbench.validation import check_int


class AlgorithmError(RuntimeError):
    """The algorithm raised during ``learn`` (the run is not finished in the store)."""


@dataclass
class RunResult:
    """Everything one run produced; returns are team returns (sum over agents and steps)."""

    key: str
    meta: dict[str, Any]
    curves: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (steps [P], returns [P, episodes])
    absolute: dict[str, np.ndarray]  # name -> returns [absolute_episodes] of the best point
    best_step: dict[str, int]  # name -> scheduled step of the best evaluation point
    wall_time_s: float
    steps_taken: int  # env steps the algorithm actually took (<= budget)
    logs: list[dict[str, float]] = field(default_factory=list)  # Hooks.log records
    submission: dict[str, Any] | None = None  # what sink.finish_run returned

    def references(self) -> dict[str, float]:
        task = self.meta["task"]
        return reference_returns(task["id"], **task["kwargs"])

    def _normalise(self, returns: np.ndarray) -> np.ndarray:
        ref = self.references()
        return normalise(returns, ref["random"], ref["heuristic"])

    def final_scores(self) -> dict[str, float]:
        """Normalised mean return at the last evaluation point (the budget), per policy."""
        return {n: float(self._normalise(r[-1]).mean()) for n, (_, r) in self.curves.items()}

    def absolute_scores(self) -> dict[str, float]:
        """Normalised mean return of the best checkpoint on the absolute-metric episodes."""
        return {n: float(self._normalise(r).mean()) for n, r in self.absolute.items()}

    def normalised_curves(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per policy ``(steps, mean normalised score per point)``."""
        return {n: (s, self._normalise(r).mean(axis=1)) for n, (s, r) in self.curves.items()}


# ----------------------------------------------------------------------------- the run


def _check_seed(seed: int) -> int:
    return check_int(seed, "seed", minimum=0)


def seed_all(seed: int) -> None:
    """Seed torch, numpy's and Python's global generators (algorithms also get ``seed``).

    torch is seeded when it is loaded — an algorithm using torch has imported it by now
    (``get_algorithm`` imports its module) — so numpy-only runs never pay its import.
    """
    if "torch" in sys.modules:
        from coopbench.algorithms.networks import seed_everything

        seed_everything(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - legacy global state, for user code using it
    random.seed(seed)


def prepare_run(
    task: str,
    algo: str,
    seed: int,
    tier: str | TierProtocol = "quick",
    budget: int | None = None,
    overrides: dict[str, Any] | None = None,
    task_kwargs: dict[str, Any] | None = None,
) -> tuple[type[Algorithm], Any, TierProtocol, TaskSpec]:
    """Resolve and validate everything before anything runs: class, config, protocol, spec."""
    _check_seed(seed)
    protocol = (tier if isinstance(tier, TierProtocol) else get_protocol(tier)).with_budget(budget)
    cls = get_algorithm(algo)
    spec = make_batched(task, 1, **(task_kwargs or {})).task
    _check_actions(cls, algo, spec.continuous_actions)
    config = build_config(cls, task, protocol.tier, overrides or {}, spec.continuous_actions)
    return cls, config, protocol, spec


def _check_actions(cls: type[Algorithm], algo: str, continuous: bool) -> None:
    """The algorithm's own action-type check (``Algorithm.__init__``), before anything runs."""
    if continuous and not cls.supports_continuous:
        raise ValueError(
            f"algorithm {algo!r} does not support continuous actions (run it without --continuous)"
        )
    if not continuous and not cls.supports_discrete:
        raise ValueError(
            f"algorithm {algo!r} does not support discrete actions (run it with --continuous)"
        )


class _Hooks:
    """``Hooks`` for ``learn``: ``log`` keeps numeric metrics tagged with the env step."""

    def __init__(self) -> None:
        self.env: BudgetEnv | None = None
        self.records: list[dict[str, float]] = []

    def log(self, **metrics: float) -> None:
        from coopbench.results.diagnostics import check_metric_name

        step = self.env.steps_taken if self.env is not None else 0
        values = {check_metric_name(k): float(v) for k, v in metrics.items()}
        self.records.append({"step": step, **values})


class _Evaluator:
    """The evaluation callback: evaluate every policy, write it, keep the best checkpoint."""

    def __init__(
        self,
        algo: Algorithm,
        protocol: TierProtocol,
        sink: Any,
        key: str,
        tmp: Path,
        progress: Any = None,
    ) -> None:
        self.algo, self.protocol, self.sink, self.key, self.tmp = algo, protocol, sink, key, tmp
        self.names = list(algo.policies())
        self.steps: list[int] = []
        self.returns: dict[str, list[np.ndarray]] = {n: [] for n in self.names}
        self.best: dict[str, tuple[float, int, Any]] = {}  # name -> (mean, step, snapshot)
        self.uses_save = type(algo).save is not Algorithm.save
        self.progress = progress

    def __call__(self, point: int, steps_taken: int) -> None:
        policies = self.algo.policies()
        if list(policies) != self.names:
            raise EvaluationError(
                f"policies() returned {list(policies)} at step {point}; expected {self.names}"
            )
        spec, p = self.algo.spec, self.protocol
        try:
            results = {
                n: evaluate_policy(pol, spec, p.eval_episodes, p.eval_seed, name=n)
                for n, pol in policies.items()
            }
        except EvaluationError as exc:
            raise EvaluationError(f"{exc} (evaluation at env step {point})") from None
        self.steps.append(point)
        snapshot: Any = None
        for n, returns in results.items():
            self.returns[n].append(returns)
            if self.sink is not None:
                self.sink.add_eval(self.key, n, point, returns.tolist())
            mean = float(returns.mean())
            if n not in self.best or mean > self.best[n][0]:
                if snapshot is None:
                    snapshot = self._snapshot(point)
                keep = snapshot if self.uses_save else copy.deepcopy(policies[n])
                self.best[n] = (mean, point, keep)
        if self.progress is not None:
            self.progress(point)

    def _snapshot(self, point: int) -> Path | None:
        if not self.uses_save:
            return None
        path = self.tmp / f"step{point}.ckpt"
        self.algo.save(path)
        for old in self.tmp.glob("step*.ckpt"):  # drop checkpoints no policy refers to
            if old != path and all(b[2] != old for b in self.best.values()):
                old.unlink()
        return path

    def best_policy(self, name: str) -> Any:
        _, _, snap = self.best[name]
        if isinstance(snap, Path):
            self.algo.load(snap)
            return self.algo.policies()[name]
        return snap


def run_experiment(
    task: str,
    algo: str,
    seed: int,
    tier: str | TierProtocol = "quick",
    budget: int | None = None,
    overrides: dict[str, Any] | None = None,
    task_kwargs: dict[str, Any] | None = None,
    sink: Any = None,
    device: str = "cpu",
    progress: bool = False,
    threads: int | None = None,
    save_dir: str | Path | None = None,
) -> RunResult:
    """Train ``algo`` (a registered name or ``"pkg.mod:Class"``) on ``task`` under the
    protocol ``tier`` (a tier name or a ``TierProtocol``; ``budget`` replaces its budget) and
    evaluate every policy on the schedule. ``sink`` is a results store (``begin_run``/``add_eval``/
    ``finish_run``) or None. The run holds the thread policy (``threads``, else
    ``$COOPBENCH_THREADS``, else 1 thread; see ``harness.threads``) and records it. With
    ``save_dir`` the final and best checkpoints and ``run.json`` are written there
    (``harness.checkpoints``). Errors:
    ``ValueError`` for bad input, ``EvaluationError`` for invalid actions, ``AlgorithmError``
    when ``learn`` raises."""
    started = time.perf_counter()
    cls, config, protocol, spec = prepare_run(
        task, algo, seed, tier, budget, overrides, task_kwargs
    )
    with thread_policy(threads) as n:
        return _run(task, algo, seed, cls, config, protocol, spec, task_kwargs, sink, device,
                    progress, n, started, save_dir)  # fmt: skip


def _run(
    task: str,
    algo: str,
    seed: int,
    cls: type[Algorithm],
    config: Any,
    protocol: TierProtocol,
    spec: TaskSpec,
    task_kwargs: dict[str, Any] | None,
    sink: Any,
    device: str,
    progress: bool,
    threads: int,
    started: float,
    save_dir: str | Path | None = None,
) -> RunResult:
    """``run_experiment`` once everything is resolved, under the thread policy."""
    seed_all(seed)
    env = make_batched(task, config.num_envs, **(task_kwargs or {}))
    algorithm = cls(env.task, config, seed, device)
    meta = run_metadata(
        env.task, algo, cls, config, seed, protocol, algorithm.policies(), device, threads
    )
    key = run_key(meta)
    progress_display = JobProgress(  # a line per tenth of the budget off a terminal
        protocol.budget, f"{task} {algo} seed {seed}", progress, transient=True,
        min_step=protocol.budget // 10,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="coopbench-run-") as tmp, progress_display:
        evaluator = _Evaluator(algorithm, protocol, sink, key, Path(tmp), progress_display.update)
        budget_env = BudgetEnv(env, protocol.budget, protocol.schedule(), evaluator)
        hooks = _Hooks()
        hooks.env = budget_env
        if sink is not None:
            sink.begin_run(key, meta)
        _learn(algorithm, budget_env, hooks, algo)
        budget_env.finish()
        if save_dir is not None:
            from coopbench.harness.checkpoints import save_run

            save_run(save_dir, algorithm, evaluator.best, meta, algo, key,
                     budget_env.steps_taken)  # fmt: skip
        absolute = {
            n: evaluate_policy(
                evaluator.best_policy(n),
                spec,
                protocol.absolute_episodes,
                protocol.absolute_seed,
                name=n,
            )
            for n in evaluator.names
        }
    wall = time.perf_counter() - started
    submission = None
    if sink is not None:
        submission = _finish(sink, key, absolute, wall, budget_env.steps_taken, hooks.records)
    steps = np.asarray(evaluator.steps, dtype=np.int64)
    return RunResult(
        key=key,
        meta=meta,
        curves={n: (steps, np.stack(evaluator.returns[n])) for n in evaluator.names},
        absolute=absolute,
        best_step={n: evaluator.best[n][1] for n in evaluator.names},
        wall_time_s=wall,
        steps_taken=budget_env.steps_taken,
        logs=hooks.records,
        submission=submission,
    )


def _finish(sink: Any, key: str, absolute: dict[str, np.ndarray], wall: float, steps: int,
            logs: list[dict[str, float]]) -> Any:  # fmt: skip
    """``sink.finish_run``, passing ``steps_taken`` and ``logs`` to a sink that takes them
    (the store does; a sink written for ``finish_run(key, absolute, wall)`` still works)."""
    lists = {n: r.tolist() for n, r in absolute.items()}
    params = inspect.signature(sink.finish_run).parameters
    if "logs" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return sink.finish_run(key, lists, wall, steps_taken=steps, logs=logs)
    return sink.finish_run(key, lists, wall)


def _learn(algorithm: Algorithm, env: BudgetEnv, hooks: _Hooks, algo: str) -> None:
    """Call ``learn``; stepping past the budget just ends it, anything else fails the run."""
    try:
        algorithm.learn(env, hooks)
    except BudgetExhausted:
        pass
    except EvaluationError:
        raise
    except Exception as exc:
        env.raise_failure()  # an evaluation failure the algorithm swallowed comes first
        raise AlgorithmError(
            f"algorithm {algo!r} raised {type(exc).__name__} at env step {env.steps_taken}: {exc}"
        ) from exc
    env.raise_failure()


__all__ = [
    "AlgorithmError",
    "RunResult",
    "prepare_run",
    "run_experiment",
    "run_key",
    "run_metadata",
]
