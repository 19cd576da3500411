"""``coopbench tune``: an Optuna study over an algorithm's search space, resumable.

Objective: the normalised AUC (area under the learning curve / budget, exactly the
leaderboard's ``auc``: ``leaderboard.scoring.run_scores``) of the algorithm's ``default``
policy (else its first by name, e.g. CTEDD's ``global``), averaged over the tuning seeds and
the tasks. Held out from the leaderboard: the tuning seeds are ``10_000 + i`` (``bench``
uses ``0..n-1``) and the evaluation worlds have their own seed (``TUNE_EVAL_SEED``, not the
protocol's ``EVAL_SEED``), so tuning never sees the leaderboard's evaluation episodes; the
tuning runs skip the absolute metric's 10× re-evaluation (``absolute_factor=1``), which
the objective does not read. Runs have their own protocol, so they never pool with
leaderboard runs even in one store; the CLI still keeps them in a store of their own.

Every trial's runs go through ``harness.sweep.run_sweep`` (the process pool or Ray, finished
runs skipped), so a trial re-run with the same params costs nothing. The study lives in
Optuna's RDB storage in ``<store>.optuna.db`` beside the results store. Resuming: a trial
left RUNNING by a killed process is failed and its params enqueued again; a trial stopped
by Ctrl-C or SIGTERM enqueues its params itself. Such trials are marked ``interrupted``
and do not count toward ``trials`` (the number of finished trials the study is run to).
Run one tuning process per study at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from coopbench.algorithms.registry import get_algorithm
from coopbench.harness.config import build_config
from coopbench.harness.protocol import TierProtocol, get_protocol
from coopbench.harness.run import prepare_run
from coopbench.harness.sweep import run_sweep
from coopbench.tuning.space import resolve_search_space, suggest
from coopbench.validation import check_int

TUNE_SEED_BASE = 10_000  # tuning seeds: 10_000, 10_001, ... (bench uses 0..n-1)
TUNE_EVAL_SEED = 2_000_003  # evaluation worlds of tuning runs (the protocol's: 1_000_003)
OBJECTIVE = "mean normalised AUC over tuning seeds and tasks"


class TrialRunsFailed(RuntimeError):
    """A run of the trial failed (the trial is recorded as failed and counts)."""


@dataclass(frozen=True)
class TuneSpec:
    """What a study tunes and how; everything but ``trials``/``workers``/``backend``/
    ``threads``/``progress`` must match when a study is resumed."""

    algo: str
    tasks: tuple[str, ...]
    tier: str = "quick"
    trials: int = 40
    seeds: int = 2
    budget: int | None = None  # env steps (None: the tier's)
    workers: int = 1
    backend: str = "process"
    threads: int | None = None
    study: str | None = None  # None: default_study_name(...)
    sampler_seed: int = 0
    continuous: bool = False  # continuous actions (the tasks' ``continuous_actions``)
    progress: bool = False  # show the check's and the hold-out's runs (harness.progress)

    def name(self) -> str:
        """The study name (given, or made from what defines the objective)."""
        if self.study:
            return self.study
        budget = f"-b{self.budget}" if self.budget else ""
        actions = "-continuous" if self.continuous else ""
        tasks = "+".join(self.tasks)
        return f"{self.algo}-{tasks}{actions}-{self.tier}{budget}-{self.seeds}seeds"

    def identity(self) -> dict[str, Any]:
        """What defines the objective, stored on the study and checked on resume."""
        identity = {
            "algo": self.algo,
            "tasks": list(self.tasks),
            "tier": self.tier,
            "seeds": self.seeds,
            "budget": self.budget,
        }
        # discrete studies predate the field: their stored identity has no such key
        return {**identity, "continuous": True} if self.continuous else identity

    def task_kwargs(self) -> dict[str, Any]:
        """The tasks' keyword arguments of every run of the study, its check and hold-out."""
        return {"continuous_actions": True} if self.continuous else {}


@dataclass
class TuneResult:
    """The study after ``tune``: its best params and value, and a record for the docs."""

    study: Any  # optuna.Study
    params: dict[str, Any]
    value: float
    record: dict[str, Any]
    ran: int  # trials run by this call (requeued ones included)
    trials: list[Any] = field(default_factory=list)  # counted finished trials


def tuning_protocol(tier: str, budget: int | None = None) -> TierProtocol:
    """The tier's protocol with the tuning evaluation seed and no 10× absolute metric."""
    base = get_protocol(tier).with_budget(budget)
    return replace(base, eval_seed=TUNE_EVAL_SEED, absolute_factor=1)


def tuning_seeds(n: int) -> list[int]:
    """The ``n`` tuning seeds, disjoint from the leaderboard's ``0..n-1``."""
    return [TUNE_SEED_BASE + i for i in range(check_int(n, "seeds"))]


def storage_path(db_path: str | Path) -> Path:
    """The Optuna storage file beside the results store: ``x.db`` → ``x.optuna.db``."""
    path = Path(db_path)
    return path.with_name(f"{path.stem}.optuna.db")


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ValueError("coopbench tune needs Optuna: pip install 'coopbench[tune]'") from None
    return optuna


class RunMeans(NamedTuple):
    """A finished run's normalised AUC and final score (the leaderboard's ``auc`` and
    ``final``), each the mean over the run's policies: one for most algorithms; CTEDD's
    teacher G and students L-1, L-3 count alike, so ``distill_lr`` moves the objective."""

    auc: float
    final: float


def run_means(store: Any, key: str) -> RunMeans:
    """The ``RunMeans`` of the finished run ``key`` in ``store``."""
    from coopbench.leaderboard.scoring import run_scores
    from coopbench.results.reading import summarise

    scores = list(run_scores(summarise(store.decoded(key))).values())
    return RunMeans(
        auc=sum(s.auc for s in scores) / len(scores),
        final=sum(s.final for s in scores) / len(scores),
    )


def counted_trials(study: Any) -> list[Any]:
    """Finished trials that count toward the budget (interrupted ones do not)."""
    optuna = _optuna()
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    return [
        t
        for t in study.get_trials(deepcopy=False, states=done)
        if not t.user_attrs.get("interrupted")
    ]


def recover_interrupted(study: Any, storage: Any) -> list[int]:
    """Fail every trial left RUNNING (its process was killed) and enqueue its params again;
    returns their numbers. Only safe when no other process runs this study."""
    optuna = _optuna()
    stale = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for t in stale:
        requeued = t.user_attrs.get("interrupted")  # Ctrl-C: the trial enqueued itself
        storage.set_trial_user_attr(t._trial_id, "interrupted", True)
        if t.params and not requeued:
            study.enqueue_trial(t.params, user_attrs={"requeued_from": t.number})
        storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
    return [t.number for t in stale]


def _default_params(cls: type, spec: TuneSpec, space: Sequence[Any]) -> dict[str, Any] | None:
    """The current default config's values of the space (None if one is off the space)."""
    config = build_config(cls, spec.tasks[0], spec.tier, {}, spec.continuous)
    out = {}
    for p in space:
        value = getattr(config, p.name)
        inside = value in p.choices if p.kind == "categorical" else p.low <= value <= p.high
        if not inside:
            return None
        out[p.name] = value
    return out


def _open_study(spec: TuneSpec, db_path: str | Path, cls: type, space: Sequence[Any]) -> Any:
    optuna = _optuna()
    storage = optuna.storages.RDBStorage(f"sqlite:///{storage_path(db_path).resolve()}")
    study = optuna.create_study(
        study_name=spec.name(), storage=storage, direction="maximize", load_if_exists=True
    )
    # A resumed study draws from a stream of its own: reseeded with the sampler seed alone,
    # it would replay its first random start-up draws and evaluate those configs again.
    study.sampler = optuna.samplers.TPESampler(
        seed=spec.sampler_seed + len(study.get_trials(deepcopy=False)),
        n_startup_trials=min(10, max(2, spec.trials // 4)),
    )
    stored = study.user_attrs.get("spec")
    if stored is None:
        study.set_user_attr("spec", spec.identity())
        study.set_user_attr("objective", OBJECTIVE)
        default = _default_params(cls, spec, space)
        if default is not None:  # trial 0: today's config, the bar tuning must clear
            study.enqueue_trial(default, user_attrs={"default_config": True})
    elif stored != spec.identity():
        raise ValueError(
            f"study {spec.name()!r} in {storage_path(db_path)} was made for {stored}, "
            f"not {spec.identity()}; pass another --study"
        )
    return study, storage


def _objective(
    spec: TuneSpec, db_path: str, space: Sequence[Any], sweep_workers: int
) -> Callable[[Any], float]:
    from coopbench.results.store import Store

    protocol = tuning_protocol(spec.tier, spec.budget)
    seeds = tuning_seeds(spec.seeds)

    def objective(trial: Any) -> float:
        params = suggest(trial, space)
        try:
            outcomes = run_sweep(
                spec.tasks, [spec.algo], seeds, protocol, db_path, sweep_workers, spec.backend,
                progress=False, task_kwargs=spec.task_kwargs(), overrides=params,
                threads=spec.threads,
            )  # fmt: skip
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            trial.study.enqueue_trial(trial.params, user_attrs={"requeued_from": trial.number})
            # Optuna would log the stop as a failed trial with a traceback; it is requeued
            optuna_logging = _optuna().logging
            optuna_logging.set_verbosity(optuna_logging.ERROR)
            raise
        failed = [o for o in outcomes if o["status"] == "failed"]
        if failed:
            trial.set_user_attr("error", f"{failed[0]['task']}: {failed[0]['error']}"[:500])
            raise TrialRunsFailed(failed[0]["error"])
        with Store(db_path) as store:
            aucs = {o["key"]: run_means(store, o["key"]).auc for o in outcomes}
        per_task = {
            task: sum(aucs[o["key"]] for o in outcomes if o["task"] == task) / len(seeds)
            for task in spec.tasks
        }
        trial.set_user_attr("auc_per_task", per_task)
        trial.set_user_attr("runs", sorted(aucs))
        trial.set_user_attr("skipped", sum(o["status"] == "skipped" for o in outcomes))
        return sum(per_task.values()) / len(per_task)

    return objective


def _record(spec: TuneSpec, study: Any, counted: list[Any], db_path: str) -> dict[str, Any]:
    from coopbench.results.store import Store

    best = study.best_trial
    runs = len(spec.tasks) * spec.seeds
    steps = tuning_protocol(spec.tier, spec.budget).budget
    with Store(db_path) as store:
        commit = store.metas_of(best.user_attrs["runs"][:1]).popitem()[1].get("git_commit")
    default = [t for t in counted if t.user_attrs.get("default_config") and t.value is not None]
    return {
        "study": spec.name(),
        "objective": OBJECTIVE,
        "actions": "continuous" if spec.continuous else "discrete",
        "value": round(float(best.value), 4),
        "default_value": round(float(default[0].value), 4) if default else None,
        "trials": len(counted),
        "tuning_seeds": tuning_seeds(spec.seeds),
        "env_steps": len(counted) * runs * steps,
        "tier": spec.tier,
        "budget": steps,
        "date": datetime.now(timezone.utc).date().isoformat(),
        "git_commit": commit,
    }


def check_spec(spec: TuneSpec) -> tuple[type, tuple[Any, ...]]:
    """Validate ``spec`` before a study exists (counts, algorithm and its search space, every
    task with the tier, budget and action type); the algorithm class and its search space."""
    check_int(spec.trials, "trials")
    check_int(spec.workers, "workers")
    check_int(spec.seeds, "seeds")
    cls = get_algorithm(spec.algo)
    space = resolve_search_space(cls)
    if not spec.tasks:
        raise ValueError("tune needs at least one task")
    protocol = tuning_protocol(spec.tier, spec.budget)
    for task in spec.tasks:
        prepare_run(task, spec.algo, TUNE_SEED_BASE, protocol, task_kwargs=spec.task_kwargs())
    return cls, tuple(space)


def tune(
    spec: TuneSpec,
    db_path: str,
    on_trial: Callable[[Any, Any], None] | None = None,
) -> TuneResult:
    """Run ``spec``'s study to ``spec.trials`` counted trials (resuming a stored one);
    ``on_trial(study, trial)`` is called after each. Runs land in the store ``db_path``."""
    optuna = _optuna()
    cls, space = check_spec(spec)
    tasks = list(spec.tasks)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study, storage = _open_study(spec, db_path, cls, space)
    recover_interrupted(study, storage)
    runs = len(tasks) * check_int(spec.seeds, "seeds")
    parallel = max(1, spec.workers // runs)  # trials at once, each in its own processes
    sweep_workers = min(spec.workers, runs) if parallel == 1 else max(2, runs)
    if spec.backend == "ray" and parallel > 1:
        try:
            import ray
        except ImportError:
            raise ValueError("the ray backend needs Ray: pip install 'coopbench[ray]'") from None
        ray.init(ignore_reinit_error=True)  # once, before the trial threads share it
    todo = max(0, spec.trials - len(counted_trials(study)))
    callbacks = [on_trial] if on_trial is not None else []
    objective = _objective(spec, db_path, space, sweep_workers)
    # Enqueued trials (today's config, requeued ones) first and one at a time: Optuna's
    # threads can pop the same waiting trial on SQLite, running it twice at once.
    queued = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
    waiting = min(todo, len(queued))
    for n_trials, n_jobs in ((waiting, 1), (todo - waiting, min(parallel, todo - waiting))):
        if n_trials:
            study.optimize(
                objective, n_trials=n_trials, n_jobs=n_jobs, catch=(TrialRunsFailed,),
                callbacks=callbacks,
            )  # fmt: skip
    counted = counted_trials(study)
    if not any(t.value is not None for t in counted):
        raise ValueError(f"study {spec.name()!r}: no trial finished; see the failed trials")
    return TuneResult(
        study=study,
        params=dict(study.best_trial.params),
        value=float(study.best_value),
        record=_record(spec, study, counted, db_path),
        ran=todo,
        trials=counted,
    )


__all__ = [
    "OBJECTIVE",
    "TUNE_EVAL_SEED",
    "TUNE_SEED_BASE",
    "RunMeans",
    "TrialRunsFailed",
    "TuneResult",
    "TuneSpec",
    "check_spec",
    "counted_trials",
    "recover_interrupted",
    "run_means",
    "storage_path",
    "tune",
    "tuning_protocol",
    "tuning_seeds",
]
