"""Run metadata and run keys: what every result records, and what identifies a run.

``run_metadata`` builds the dict the leaderboard schema describes (task and versions,
resolved config and its hash, seed, protocol, software versions, git commit, hardware,
start time, provenance); ``run_key`` hashes only what defines a run, so repeating it maps to
the same key and a resumed sweep recognises finished work.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from coopbench import __version__
from coopbench.algorithms.base import Algorithm
from coopbench.algorithms.registry import BUILTIN
from coopbench.envs import TaskSpec
from coopbench.harness.config import config_dict
from coopbench.harness.protocol import TierProtocol
from coopbench.harness.threads import thread_settings


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _sha256(obj: Any) -> str:
    return hashlib.sha256(_canonical(obj).encode()).hexdigest()


def config_hash(config: Any) -> str:
    """The ``config_hash`` a run with this config records: sha256 of ``config_dict``."""
    return _sha256(config_dict(config))


def algorithm_path(name_or_path: str, cls: type[Algorithm]) -> str:
    """The ``module:Class`` path that identifies an algorithm in results."""
    return BUILTIN.get(name_or_path, f"{cls.__module__}:{cls.__qualname__}")


def _git(*args: str) -> str | None:
    """``git ARGS`` in the package's directory; None when git or the checkout is missing."""
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


@lru_cache(maxsize=1)
def _git_commit() -> str | None:
    out = _git("rev-parse", "HEAD")
    return (out or "").strip() or None


@lru_cache(maxsize=1)
def _git_dirty() -> bool | None:
    """Whether the checkout holding coopbench has uncommitted changes (None: no checkout)."""
    if _git_commit() is None:
        return None
    out = _git("status", "--porcelain")
    return None if out is None else bool(out.strip())


def algorithm_source_sha256(cls: type) -> str | None:
    """sha256 of the file defining a user's algorithm class (its module file), None for
    coopbench's own classes (the coopbench version and git commit cover them) and for a
    class without a source file. Part of the run key: editing ``myalgo.py`` makes a new run."""
    if cls.__module__ == "coopbench" or cls.__module__.startswith("coopbench."):
        return None
    try:
        path = inspect.getsourcefile(cls)
        return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else None
    except (OSError, TypeError):
        return None


def provenance(algo: str, cls: type[Algorithm], threads: int | None = None) -> dict[str, Any]:
    """How a run is made, for ``coopbench leaderboard verify``: coopbench version, git commit
    and dirty flag of its checkout, the sha256 of a user algorithm's source file (None for
    coopbench's own: the commit covers it), the platform and the thread settings in force."""
    return {
        "coopbench_version": __version__,
        "git_commit": _git_commit(),
        "git_dirty": _git_dirty(),
        "algorithm_source_sha256": algorithm_source_sha256(cls),
        "platform": {
            "platform": platform.platform(),
            "machine": platform.machine(),
            "python_implementation": platform.python_implementation(),
            "python_version": platform.python_version(),
        },
        "threads": thread_settings(threads),
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _hardware(device: str) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = None
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(torch.device(device))
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": gpu}


def policy_entries(cls: type[Algorithm], config: Any, policies: dict[str, Any]) -> dict:
    """Leaderboard label and flags of every policy. ``"default"`` is labelled
    ``cls.label(config)``; an algorithm may name the others with an optional classmethod
    ``policy_labels(config) -> {name: label}``, else they read ``f"{label}-{name}"``."""
    base = cls.label(config) or cls.__name__  # a class without name/display_name
    custom = getattr(cls, "policy_labels", None)
    labels = dict(custom(config)) if callable(custom) else {}
    return {
        name: {
            "label": str(labels.get(name, base if name == "default" else f"{base}-{name}")),
            "centralised": bool(getattr(p, "centralised", False)),
            "privileged": bool(getattr(p, "privileged", False)),
        }
        for name, p in policies.items()
    }


def run_metadata(
    spec: TaskSpec,
    algo: str,
    cls: type[Algorithm],
    config: Any,
    seed: int,
    protocol: TierProtocol,
    policies: dict[str, Any] | None = None,
    device: str = "cpu",
    threads: int | None = None,
) -> dict[str, Any]:
    """The metadata every result records (see the leaderboard schema); ``provenance``
    records the thread settings in force now and the policy's count ``threads``."""
    cfg = config_dict(config)
    return {
        "coopbench_version": __version__,
        "task": {"id": spec.task_id, "version": spec.version, "kwargs": dict(spec.kwargs)},
        "algorithm": {
            "name": algo if algo in BUILTIN else (cls.name or cls.__name__),
            "path": algorithm_path(algo, cls),
            "config": cfg,
            "config_hash": _sha256(cfg),
        },
        "policies": policy_entries(cls, config, policies or {}),
        "seed": int(seed),
        "protocol": protocol.as_dict(),
        "versions": {
            "python": platform.python_version(),
            **{p: _version(p) for p in ("numpy", "torch", "pettingzoo")},
            "coopbench": __version__,
            # an adapter's library (e.g. benchmarl, torchrl, tensordict for benchmarl:<name>)
            **{p: _version(p) for p in getattr(cls, "library_packages", ())},
        },
        "git_commit": _git_commit(),
        "hardware": _hardware(device),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "provenance": provenance(algo, cls, threads),
    }


def run_key(meta: dict[str, Any]) -> str:
    """sha256 over what defines a run: task id/version/kwargs, algorithm path, config hash,
    seed, protocol and, for a user's algorithm, the sha256 of its source file
    (``provenance.algorithm_source_sha256``). Repeating a run gives the same key (versions,
    the rest of the provenance and time are excluded); editing a user algorithm's module
    gives a new one. coopbench's own algorithms record no source hash, so their keys (and
    those of the committed results) do not depend on the code version."""
    defining = {
        "task": meta["task"],
        "algorithm": meta["algorithm"]["path"],
        "config_hash": meta["algorithm"]["config_hash"],
        "seed": meta["seed"],
        "protocol": meta["protocol"],
    }
    source = (meta.get("provenance") or {}).get("algorithm_source_sha256")
    if source is not None:
        defining["algorithm_source_sha256"] = source
    return _sha256(defining)
