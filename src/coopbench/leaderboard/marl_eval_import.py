"""Import marl-eval raw-experiment JSON (what BenchMARL's ``create_json`` and marl-eval's
``JsonLogger`` write, and ``coopbench leaderboard export --format marl-eval``) as submissions.

Layout (``coopbench.leaderboard.marl_eval``)::

    {env: {task: {algorithm: {run: {"step_<i>": {"step_count": int, "return": [...]},
                                    ..., "absolute_metrics": {"return": [...]}}}}}}

Every ``(env, task, algorithm, run)`` becomes one submission with one policy labelled
``algorithm``. Task names: a coopbench task id, suffixed ``_continuous`` for continuous
actions (as the exporter writes them); any other name needs ``task_map`` (``{"task" or
"env/task": "cn-v1" or "cn-v1_continuous"}``). An env named ``coopbench_<tier>_<budget>``
declares its budget; otherwise the budget is the last ``step_count``.

A run whose budget, evaluation steps (``step_count``\\ s), episodes per evaluation and
absolute-metric episodes equal a tier's is recorded under that tier's protocol and ranked
with ours (our own export, re-imported, lands exactly where it was; an env suffixed
``_evaluation-only`` by the exporter is an evaluation-only run again). Any other run is
recorded with ``protocol.kind = "external"`` (tier ``external``, eval_seed 0: unknown) and
shown apart, never ranked. ``returns="agent-mean"`` multiplies the returns by the task's
number of agents: BenchMARL's writer logs the mean over agents of each agent's return,
coopbench's team return is their sum. Flags (centralised, privileged) are not in the format
and read ``False``; ``started_at`` is unknown and recorded as the Unix epoch.
Any malformed part is a one-line ``SubmissionError`` naming where it is; a file is imported
all or nothing (one transaction).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from coopbench import __version__
from coopbench.envs import make_batched
from coopbench.harness.protocol import PROTOCOLS
from coopbench.leaderboard.marl_eval import METRIC
from coopbench.results.arrays import array_digest
from coopbench.results.errors import SubmissionError
from coopbench.results.submission import canonical_json, encode_submission

__all__ = ["RETURNS", "from_marl_eval", "is_marl_eval", "parse_task_map"]

RETURNS = ("team", "agent-mean")
_ENV = re.compile(
    r"coopbench_([a-z][a-z0-9_-]{0,31})_([0-9]{1,13})(?:_(evaluation-only|external))?"
)
_STEP = re.compile(r"step_([0-9]{1,9})")
_SEED = re.compile(r"(?:seed_)?([0-9]{1,18})(?:_[0-9]+)?")
_EPOCH = "1970-01-01T00:00:00+00:00"


def is_marl_eval(doc: Any) -> bool:
    """Whether a parsed JSON document looks like marl-eval data rather than submissions."""
    return isinstance(doc, dict) and bool(doc) and not {"schema_version", "run_key"} & set(doc)


def parse_task_map(items: list[str] | None) -> dict[str, str]:
    """``["NAME=TASK", ...]`` (``--task-map``) as a dict; ``ValueError`` on a bad item."""
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, task = item.partition("=")
        if not sep or not name or not task:
            raise ValueError(f"--task-map {item!r} is not NAME=TASK (e.g. simple_spread=spread)")
        out[name] = task
    return out


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not value:
        raise SubmissionError(f"{where}: expected a non-empty JSON object, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return "an empty object" if value == {} else type(value).__name__


def _returns(value: Any, where: str) -> np.ndarray:
    ok = (
        isinstance(value, list)
        and value
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )
    if not ok:
        raise SubmissionError(f"{where}: expected a non-empty list of numbers, got {_kind(value)}")
    arr = np.asarray(value, dtype=np.float64)
    if not np.isfinite(arr).all() or (np.abs(arr) > 1e12).any():
        raise SubmissionError(f"{where}: every return must be finite and within ±1e12")
    return arr


def _task(env: str, task: str, task_map: Mapping[str, str], where: str) -> tuple[str, bool]:
    from coopbench.envs import TASKS

    name = task_map.get(f"{env}/{task}", task_map.get(task, task))
    cont = name.endswith("_continuous")
    base = name.removesuffix("_continuous")
    if base not in TASKS:
        hint = (
            f"map it with --task-map {task}=TASK" if name == task else f"--task-map gave {name!r}"
        )
        raise SubmissionError(
            f"{where}: {task!r:.80} is not a coopbench task; expected one of {list(TASKS)} "
            f"(suffixed _continuous for continuous actions), or {hint}"
        )
    return base, cont


def _points(run: dict[str, Any], where: str) -> tuple[list[int], list[np.ndarray], np.ndarray]:
    steps: list[tuple[int, int, np.ndarray]] = []
    absolute = None
    for key, value in run.items():
        here = f"{where}/{key}"
        if key == "absolute_metrics":
            absolute = _returns(_obj(value, here).get(METRIC), f"{here}/{METRIC}")
            continue
        match = _STEP.fullmatch(key)
        if match is None:
            raise SubmissionError(f"{here:.300}: expected step_<i> or absolute_metrics")
        point = _obj(value, here)
        count = point.get("step_count")
        if type(count) is not int or not 0 <= count <= 10**12:
            raise SubmissionError(f"{here}/step_count: expected an integer in [0, 1e12]")
        steps.append((int(match.group(1)), count, _returns(point.get(METRIC), f"{here}/{METRIC}")))
    if absolute is None:
        raise SubmissionError(f"{where}: no absolute_metrics/{METRIC} (needed for the metric)")
    if not steps:
        raise SubmissionError(f"{where}: no step_<i> evaluations")
    steps.sort(key=lambda s: s[0])
    counts = [c for _, c, _ in steps]
    for i in range(1, len(counts)):
        if counts[i] <= counts[i - 1]:
            raise SubmissionError(
                f"{where}: step_count must strictly increase with i, got {counts[i - 1]} "
                f"then {counts[i]}"
            )
    sizes = {r.size for _, _, r in steps}
    if len(sizes) > 1:
        raise SubmissionError(
            f"{where}: evaluations hold different numbers of episodes {sorted(sizes)[:5]}; "
            "expected the same at every step"
        )
    return counts, [r for _, _, r in steps], absolute


def _protocol(steps: list[int], episodes: int, absolute: int, env: str, where: str) -> dict:
    """The tier's protocol when the run matches it exactly, else an ``external`` one."""
    match = _ENV.fullmatch(env)
    tier_name, declared, kind = match.groups() if match else (None, None, None)
    budget = int(declared) if declared else max(steps[-1], 1)
    if steps[-1] > budget or budget < 1:
        raise SubmissionError(
            f"{where}: step_count {steps[-1]} past the budget {budget} its environment declares"
        )
    for tier in PROTOCOLS.values():
        same = tier_name in (None, tier.tier) and (
            tier.budget,
            tier.eval_episodes,
            tier.absolute_episodes,
        ) == (budget, episodes, absolute)
        if same and kind is None and tuple(steps) == tier.schedule():
            return tier.as_dict()
        if same and kind == "evaluation-only" and steps == [0]:  # exported `coopbench evaluate`
            return {"kind": kind, **tier.as_dict()}
    gaps = np.diff(steps)
    return {
        "kind": "external",
        "tier": "external",
        "budget": budget,
        "eval_interval": int(gaps.min()) if gaps.size else budget,
        "eval_episodes": episodes,
        "eval_seed": 0,
        "absolute_episodes": absolute,
    }


def _seed(run: str, index: int) -> int:
    match = _SEED.fullmatch(run)
    return int(match.group(1)) if match else index


def _submission(
    names: tuple[str, str, str, str],
    index: int,
    run: dict[str, Any],
    where: str,
    task_map: Mapping[str, str],
    returns: str,
    version: str,
) -> dict[str, Any]:
    env, task_name, algo, run_name = names
    task_id, continuous = _task(env, task_name, task_map, where)
    spec = make_batched(task_id, 1, continuous_actions=continuous).task
    steps, values, absolute = _points(run, where)
    if returns == "agent-mean":
        values = [v * spec.n_agents for v in values]
        absolute = absolute * spec.n_agents
    protocol = _protocol(steps, values[0].size, absolute.size, env, where)
    digest = [array_digest(v) for v in (*values, absolute)]
    source = {"env": env, "task": task_name, "algorithm": algo, "run": run_name}
    config = {"marl_eval_env": env, "returns": returns}
    key = hashlib.sha256(canonical_json({**source, "returns": digest}).encode()).hexdigest()
    doc = {
        "run_key": f"marl-eval-{key}",
        "coopbench_version": version,
        "task": {"id": spec.task_id, "version": spec.version, "kwargs": dict(spec.kwargs)},
        "algorithm": {
            "name": algo,
            "path": f"marl-eval:{algo}",
            "config": config,
            "config_hash": hashlib.sha256(canonical_json(config).encode()).hexdigest(),
        },
        "policies": {"default": {"label": algo, "centralised": False, "privileged": False}},
        "seed": _seed(run_name, index),
        "protocol": protocol,
        "versions": {},
        "git_commit": None,
        "hardware": {},
        "started_at": _EPOCH,
        "notes": f"imported from marl-eval JSON ({returns} returns)",
        "provenance": {"source": "marl-eval", **source},
        "evaluations": {
            "default": [{"step": s, "returns": v} for s, v in zip(steps, values, strict=True)]
        },
        "absolute": {"default": absolute},
        "wall_time_s": 0.0,
    }
    return encode_submission(doc)


def from_marl_eval(
    doc: Any,
    source: str = "marl-eval data",
    task_map: Mapping[str, str] | None = None,
    returns: str = "team",
) -> list[dict[str, Any]]:
    """Submissions (schema version 2, not yet validated: ``Store.import_submissions`` does)
    for every run of a parsed marl-eval document (see the module docstring)."""
    if returns not in RETURNS:
        raise ValueError(f"returns must be one of {list(RETURNS)}, got {returns!r}")
    version = __version__
    out = []
    for env, tasks in _obj(doc, source).items():
        for task, algos in _obj(tasks, f"{source}: {env}").items():
            for algo, runs in _obj(algos, f"{source}: {env}/{task}").items():
                where = f"{source}: {env}/{task}/{algo}"
                for i, (name, run) in enumerate(sorted(_obj(runs, where).items())):
                    names = (env, task, algo, name)
                    here = f"{source}: {'/'.join(names)}"
                    run = _obj(run, here)
                    out.append(_submission(names, i, run, here, task_map or {}, returns, version))
    return out
