"""Export to marl-eval's raw-experiment JSON (Gorsane et al. 2022; instadeepai/marl-eval).

Layout, as marl-eval's README and ``JsonLogger`` write it::

    {env_name: {task_name: {algorithm: {run: {"step_<i>": {"step_count": int,
                                                            "return": [per-episode]},
                                              ...,
                                              "absolute_metrics": {"return": [per-episode]}}}}}}

``env_name`` is ``coopbench_<tier>_<budget>`` (marl-eval needs every run of an environment
to have the same evaluation steps, which a tier and budget guarantee), suffixed
``_evaluation-only`` or ``_external`` for runs that are never ranked (``protocol.kind``);
``task_name`` is the task id, suffixed ``_continuous`` for continuous actions;
``algorithm`` is the policy label; runs are named ``seed_<seed>`` (as ``JsonLogger``; a
repeated seed gets ``_<n>``);
``step_<i>`` is the i-th evaluation. The metric ``return`` holds the *raw* per-episode team
returns: pass ``metrics_to_normalize=["return"]`` to marl-eval, or use coopbench's own
normalised scores. Exporting a ``Store`` streams one run at a time from its arrays.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from coopbench.results.errors import StoreError
from coopbench.results.store import Store
from coopbench.results.submission import decode_submission

__all__ = ["METRIC", "export_marl_eval", "to_marl_eval"]

METRIC = "return"
# env -> task -> algorithm -> run name -> (run key, policy)
_Tree = dict[str, dict[str, dict[str, dict[str, tuple[str, str]]]]]


def _tree(metas: dict[str, dict[str, Any]]) -> _Tree:
    """Where each (run, policy) goes in the export, runs taken in run-key order."""
    tree: _Tree = {}
    for key in sorted(metas):
        meta = metas[key]
        proto = meta["protocol"]
        kind = f"_{proto['kind']}" if proto.get("kind") else ""  # never ranked: kept apart
        env = f"coopbench_{proto['tier']}_{proto['budget']}{kind}"
        cont = meta["task"]["kwargs"].get("continuous_actions", False)
        task = meta["task"]["id"] + ("_continuous" if cont else "")
        for policy, info in meta["policies"].items():
            runs = tree.setdefault(env, {}).setdefault(task, {}).setdefault(info["label"], {})
            name, n = f"seed_{meta['seed']}", 1
            while name in runs:
                n += 1
                name = f"seed_{meta['seed']}_{n}"
            runs[name] = (key, policy)
    return tree


def _run(doc: dict[str, Any], policy: str) -> dict[str, Any]:
    run: dict[str, Any] = {
        f"step_{i}": {"step_count": p["step"], METRIC: p["returns"].tolist()}
        for i, p in enumerate(doc["evaluations"][policy])
    }
    run["absolute_metrics"] = {METRIC: doc["absolute"][policy].tolist()}
    return run


def to_marl_eval(submissions: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The marl-eval dictionary for submissions (validated here; see the module docstring)."""
    docs = {d["run_key"]: d for d in map(decode_submission, submissions)}
    return {
        env: {
            task: {
                algo: {name: _run(docs[key], policy) for name, (key, policy) in runs.items()}
                for algo, runs in algos.items()
            }
            for task, algos in tasks.items()
        }
        for env, tasks in _tree(docs).items()
    }


def _write(fh: IO[str], tree: _Tree, run: Any) -> None:
    """Stream ``tree`` as JSON, each leaf ``run(run_key, policy)`` written as it is read."""
    fh.write("{")
    for i, (env, tasks) in enumerate(tree.items()):
        fh.write(f"{',' if i else ''}\n{json.dumps(env)}: {{")
        for j, (task, algos) in enumerate(tasks.items()):
            fh.write(f"{',' if j else ''}\n {json.dumps(task)}: {{")
            for k, (algo, runs) in enumerate(algos.items()):
                fh.write(f"{',' if k else ''}\n  {json.dumps(algo)}: {{")
                for m, (name, (key, policy)) in enumerate(runs.items()):
                    leaf = json.dumps(run(key, policy), allow_nan=False)
                    fh.write(f"{',' if m else ''}\n   {json.dumps(name)}: {leaf}")
                fh.write("}")
            fh.write("}")
        fh.write("}")
    fh.write("\n}\n")


def export_marl_eval(
    source: Store | Iterable[dict[str, Any]], path: str | os.PathLike[str]
) -> Path:
    """Write the marl-eval JSON of a ``Store`` (streamed run by run) or of submissions to
    ``path``; returns the path."""
    out = Path(path)
    if isinstance(source, Store):
        metas = source.metas()
        cache: dict[str, dict[str, Any]] = {}

        def run(key: str, policy: str) -> dict[str, Any]:
            if key not in cache:  # keep only the run being written
                cache.clear()
                cache[key] = source.decoded(key, metas[key])
            return _run(cache[key], policy)

        tree = _tree(metas)
    else:
        docs = {d["run_key"]: d for d in map(decode_submission, source)}
        tree = _tree(docs)

        def run(key: str, policy: str) -> dict[str, Any]:
            return _run(docs[key], policy)

    try:
        with open(out, "w", encoding="utf-8") as fh:
            _write(fh, tree, run)
    except OSError as exc:
        raise StoreError(f"{out}: cannot write: {exc.strerror}") from None
    return out
