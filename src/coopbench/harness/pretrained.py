"""Score a given (pre-trained) policy on a tier's fixed evaluation worlds.

``coopbench evaluate --task T --policy pkg.mod:load`` imports ``load`` (a ``module:attr``
path, the current directory importable as with ``python -m``), calls ``load(spec)`` with the
task's :class:`~coopbench.envs.TaskSpec` and expects a policy (a callable
``policy(obs) -> actions``, or ``policy(obs, state)`` when it sets ``centralised`` or
``privileged``, as in :class:`~coopbench.algorithms.base.Policy`) or a dict ``name ->
policy``. Each policy is evaluated as a trained run's would be: the *final* metric on the
tier's ``eval_episodes`` worlds (seed ``eval_seed``), the *absolute* metric on its
``absolute_episodes`` worlds (seed ``absolute_seed``).

The result is stored as an **evaluation-only** run: ``protocol.kind = "evaluation-only"``,
one evaluation point at step 0, no learning curve, so no sample-efficiency numbers; the
leaderboard never ranks it against runs trained under the tier's budget. The run records
the sha256 of the module file holding ``load`` (in ``algorithm.config`` and
``provenance``), so an edited policy file is a new run.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from coopbench import __version__
from coopbench.envs import TaskSpec, make_batched
from coopbench.harness import metadata as md
from coopbench.harness.evaluate import evaluate_policy
from coopbench.harness.protocol import TierProtocol, get_protocol
from coopbench.harness.threads import thread_settings

__all__ = [
    "KIND",
    "PretrainedError",
    "PretrainedResult",
    "evaluate_pretrained",
    "load_policies",
    "policy_source_sha256",
    "resolve_loader",
]

KIND = "evaluation-only"


class PretrainedError(ValueError):
    """The policy path cannot be imported, ``load`` raised or returned no policy."""


@dataclass(frozen=True)
class PretrainedResult:
    """What ``evaluate_pretrained`` measured: team returns per policy name."""

    key: str
    meta: dict[str, Any]
    final: dict[str, np.ndarray]  # [eval_episodes]
    absolute: dict[str, np.ndarray]  # [absolute_episodes]
    wall_time_s: float
    stored: bool  # False: the store already held this run (nothing evaluated)


def resolve_loader(path: str) -> Callable[..., Any]:
    """The callable named by ``"package.module:attr"``; the current directory is importable
    (as with ``python -m``). ``PretrainedError`` with a one-line reason otherwise."""
    if not isinstance(path, str) or path.count(":") != 1 or not all(path.split(":")):
        raise PretrainedError(
            f"policy path {path!r} is not 'package.module:function' (e.g. mypolicy:load)"
        )
    module_name, attr = path.split(":")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PretrainedError(
            f"cannot import policy module {module_name!r}: {exc} (run from the folder holding "
            "it, set PYTHONPATH to that folder, or pip install its package)"
        ) from None
    except Exception as exc:
        raise PretrainedError(
            f"importing policy module {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from None
    loader = getattr(module, attr, None)
    if not callable(loader):
        raise PretrainedError(
            f"module {module_name} has no callable {attr!r}; expected load(spec) -> policy"
        )
    return loader


def load_policies(loader: Callable[..., Any], spec: TaskSpec, path: str) -> dict[str, Any]:
    """``loader(spec)`` as ``{name: policy}`` (a single policy is named ``default``)."""
    try:
        loaded = loader(spec)
    except Exception as exc:
        raise PretrainedError(f"{path}(spec) raised {type(exc).__name__}: {exc}") from None
    policies = dict(loaded) if isinstance(loaded, Mapping) else {"default": loaded}
    if not policies:
        raise PretrainedError(f"{path}(spec) returned no policy (an empty dict)")
    for name, policy in policies.items():
        if not isinstance(name, str) or not name or len(name) > 200:
            raise PretrainedError(f"{path}(spec) returned a policy named {name!r:.80}")
        if not callable(policy):
            raise PretrainedError(
                f"{path}(spec) returned {type(policy).__name__} for policy {name!r}; expected "
                "a callable policy(obs) -> actions (or a dict name -> policy)"
            )
    return policies


def policy_source_sha256(loader: Callable[..., Any]) -> str | None:
    """sha256 of the module file that defines ``loader`` (None when it has no file)."""
    module = sys.modules.get(getattr(loader, "__module__", "") or "")
    file = getattr(module, "__file__", None)
    try:
        return hashlib.sha256(Path(file).read_bytes()).hexdigest() if file else None
    except OSError:
        return None


def _metadata(
    spec: TaskSpec,
    path: str,
    policies: dict[str, Any],
    label: str,
    source: str | None,
    protocol: TierProtocol,
) -> dict[str, Any]:
    config = {"source_sha256": source}
    entries = {
        name: {
            "label": label if name == "default" else f"{label}-{name}",
            "centralised": bool(getattr(p, "centralised", False)),
            "privileged": bool(getattr(p, "privileged", False)),
        }
        for name, p in policies.items()
    }
    return {
        "coopbench_version": __version__,
        "task": {"id": spec.task_id, "version": spec.version, "kwargs": dict(spec.kwargs)},
        "algorithm": {
            "name": "pretrained",
            "path": path,
            "config": config,
            "config_hash": md._sha256(config),
        },
        "policies": entries,
        "seed": 0,
        "protocol": {"kind": KIND, **protocol.as_dict()},
        "versions": {
            "python": platform.python_version(),
            **{p: md._version(p) for p in ("numpy", "torch", "pettingzoo")},
            "coopbench": __version__,
        },
        "git_commit": md._git_commit(),
        "hardware": md._hardware("cpu"),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "provenance": {
            "coopbench_version": __version__,
            "git_commit": md._git_commit(),
            "git_dirty": md._git_dirty(),
            "policy_source_sha256": source,
            "threads": thread_settings(None),
        },
    }


def evaluate_pretrained(
    task: str,
    path: str,
    tier: str = "quick",
    label: str | None = None,
    task_kwargs: dict[str, Any] | None = None,
    sink: Any = None,
) -> PretrainedResult:
    """Evaluate the policies ``path`` loads on ``task`` under ``tier``'s evaluation worlds
    and, with a ``sink`` (a ``Store``), store them as one evaluation-only run. A run already
    finished in the sink is not evaluated again (``stored=False``)."""
    started = time.perf_counter()
    protocol = get_protocol(tier)
    spec = make_batched(task, 1, **(task_kwargs or {})).task
    loader = resolve_loader(path)
    policies = load_policies(loader, spec, path)
    source = policy_source_sha256(loader)
    meta = _metadata(spec, path, policies, label or path, source, protocol)
    key = md.run_key(meta)
    if sink is not None and sink.is_finished(key):
        return PretrainedResult(key, meta, {}, {}, 0.0, stored=False)
    final = {
        n: evaluate_policy(p, spec, protocol.eval_episodes, protocol.eval_seed, name=n)
        for n, p in policies.items()
    }
    absolute = {
        n: evaluate_policy(p, spec, protocol.absolute_episodes, protocol.absolute_seed, name=n)
        for n, p in policies.items()
    }
    wall = time.perf_counter() - started
    if sink is not None:
        sink.begin_run(key, meta)
        for n, returns in final.items():
            sink.add_eval(key, n, 0, returns.tolist())
        sink.finish_run(key, {n: r.tolist() for n, r in absolute.items()}, wall)
    return PretrainedResult(key, meta, final, absolute, wall, stored=sink is not None)
