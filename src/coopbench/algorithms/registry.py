"""Algorithm names → classes; a user's algorithm is found by import path instead.

``get_algorithm("mappo")`` imports a baseline lazily; ``get_algorithm(
"mypkg.module:MyAlgorithm")`` imports a user's class, so plugging an algorithm
in needs no change to coopbench. A module that is not importable as is is looked for in
the current directory too (as ``python -m`` does): ``coopbench train --algo
myalgo:MyAlgo`` works from the folder holding ``myalgo.py`` without ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib
import os
import sys

from coopbench.algorithms.base import Algorithm

BUILTIN: dict[str, str] = {
    "random": "coopbench.baselines.reference:RandomPolicyAlgorithm",
    "heuristic": "coopbench.baselines.reference:HeuristicAlgorithm",
    "mappo": "coopbench.baselines.mappo:MAPPO",
    "ippo": "coopbench.baselines.mappo:IPPO",
    "maddpg": "coopbench.baselines.maddpg:MADDPG",
    "ctedd": "coopbench.baselines.ctedd:CTEDD",
    "mutual-q": "coopbench.baselines.mutual_q:MutualQ",
    "dqn": "coopbench.baselines.mutual_q:DQN",
}


BENCHMARL_PREFIX = "benchmarl:"


def _benchmarl_algorithm(name: str) -> type[Algorithm]:
    """BenchMARL's algorithm ``name`` under the harness (``coopbench.integrations.benchmarl``)."""
    try:
        from coopbench.integrations.benchmarl import algorithm_class
    except ImportError as exc:  # not installed, or a version the adapter does not support
        hint = " (pip install 'coopbench[benchmarl]')" if "pip install" not in str(exc) else ""
        raise ValueError(
            f"algorithm {BENCHMARL_PREFIX}{name} needs BenchMARL: {exc}{hint}"
        ) from None
    return algorithm_class(name)


def register(name: str, path: str) -> None:
    """Add a built-in name (``path`` is ``"module:Class"``)."""
    BUILTIN[name] = path


def algorithm_names() -> tuple[str, ...]:
    return tuple(BUILTIN)


def add_search_path(folder: str | os.PathLike[str]) -> None:
    """Append ``folder`` to ``sys.path`` (once; last, so it shadows no installed module):
    user algorithm modules are looked for there too.

    Sweep workers call it with the directory the sweep was started from, so a worker whose
    working directory differs (a Ray worker) resolves ``myalgo:MyAlgo`` as the driver did.
    """
    path = os.path.abspath(folder)
    if path not in (os.path.abspath(p or os.curdir) for p in sys.path):
        sys.path.append(path)
        importlib.invalidate_caches()


def _import(module_name: str) -> object:
    """Import ``module_name``; when its top-level package is missing, retry with the current
    directory on ``sys.path`` (``python -m``'s rule) before giving up."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.partition(".")[0]
        if exc.name != top or os.path.abspath(os.curdir) in map(os.path.abspath, sys.path):
            raise
    add_search_path(os.curdir)
    return importlib.import_module(module_name)


def get_algorithm(name_or_path: str) -> type[Algorithm]:
    """The algorithm class for a registered name, ``benchmarl:<name>`` (BenchMARL's algorithm,
    imported only then) or a ``module:Class`` import path (looked for on ``sys.path``, then in
    the current directory)."""
    if isinstance(name_or_path, str) and name_or_path.startswith(BENCHMARL_PREFIX):
        return _benchmarl_algorithm(name_or_path[len(BENCHMARL_PREFIX) :])
    path = BUILTIN.get(name_or_path, name_or_path)
    if ":" not in path:
        raise ValueError(
            f"unknown algorithm {name_or_path!r}; expected one of {list(BUILTIN)} "
            "or an import path 'package.module:ClassName'"
        )
    module_name, _, attr = path.partition(":")
    try:
        module = _import(module_name)
    except ImportError as exc:
        name = exc.name if isinstance(exc, ModuleNotFoundError) else None
        missing = name is not None and f"{module_name}.".startswith(f"{name}.")
        top = module_name.partition(".")[0]
        hint = (
            f" (looked on sys.path and in the current directory {os.getcwd()}; run from the "
            f"folder holding {top}.py or the package {top}/, or set "
            "PYTHONPATH=/path/to/that/folder, or pip install -e its project)"
            if missing
            else ""
        )
        raise ValueError(f"cannot import algorithm module {module_name!r}: {exc}{hint}") from None
    if not hasattr(module, attr):
        raise ValueError(f"module {module_name} has no attribute {attr}; expected a class name")
    cls = getattr(module, attr)
    if not (isinstance(cls, type) and issubclass(cls, Algorithm)):
        raise ValueError(
            f"{path!r} is not an Algorithm subclass (found {type(cls).__name__}); "
            "see coopbench.algorithms.base.Algorithm"
        )
    return cls
