"""Export to marl-eval's raw-experiment JSON (Gorsane et al. 2022; instadeepai/marl-eval).

Layout, as marl-eval's README and ``JsonLogger`` write it::

    {env_name: {task_name: {algorithm: {run: {"step_<i>": {"step_count": int,
                                                            "return": [per-episode]},
                                              ...,
                                              "absolute_metrics": {"return": [per-episode]}}}}}}

``env_name`` is ``coopbench_<tier>_<budget>`` (marl-eval needs every run of an environment
to have the same evaluation steps, which a tier and budget guarantee); ``task_name`` is the
task id, suffixed ``_continuous`` for continuous actions; ``algorithm`` is the policy label;
runs are named ``seed_<seed>`` (as ``JsonLogger``; a repeated seed gets ``_<n>``);
``step_<i>`` is the i-th evaluation. The metric ``return`` holds the *raw* per-episode team
returns: pass ``metrics_to_normalize=["return"]`` to marl-eval, or use coopbench's own
normalised scores.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from coopbench.results.errors import StoreError
from coopbench.results.submission import validate_submission

__all__ = ["METRIC", "export_marl_eval", "to_marl_eval"]

METRIC = "return"


def to_marl_eval(submissions: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The marl-eval dictionary for validated submissions (see the module docstring)."""
    data: dict[str, Any] = {}
    for doc in sorted(submissions, key=lambda d: d["run_key"]):
        validate_submission(doc)
        env = f"coopbench_{doc['protocol']['tier']}_{doc['protocol']['budget']}"
        cont = doc["task"]["kwargs"].get("continuous_actions", False)
        task = doc["task"]["id"] + ("_continuous" if cont else "")
        for policy, info in doc["policies"].items():
            runs = data.setdefault(env, {}).setdefault(task, {}).setdefault(info["label"], {})
            name, n = f"seed_{doc['seed']}", 1
            while name in runs:
                n += 1
                name = f"seed_{doc['seed']}_{n}"
            run: dict[str, Any] = {
                f"step_{i}": {"step_count": p["step"], METRIC: list(p["returns"])}
                for i, p in enumerate(doc["evaluations"][policy])
            }
            run["absolute_metrics"] = {METRIC: list(doc["absolute"][policy])}
            runs[name] = run
    return data


def export_marl_eval(submissions: Iterable[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write :func:`to_marl_eval` of ``submissions`` to ``path`` (JSON); returns the path."""
    out = Path(path)
    try:
        out.write_text(json.dumps(to_marl_eval(submissions), indent=1, allow_nan=False) + "\n")
    except OSError as exc:
        raise StoreError(f"{out}: cannot write: {exc.strerror}") from None
    return out
