"""Training diagnostics kept with a run: what ``hooks.log`` recorded, thinned to stay compact.

``learn`` may call ``hooks.log(loss=..., entropy=...)`` thousands of times; the store keeps
at most ``MAX_LOG_POINTS`` points per run. The rule (:func:`thin_logs`): records are kept
in the order logged; when there are more than ``MAX_LOG_POINTS``, they are cut into
``MAX_LOG_POINTS`` consecutive groups of (nearly) equal count, each group becomes one point
at the env step of its last record, every metric the mean of the group's finite values of
it. Non-finite values (a NaN loss) are left out of the means; a metric with no finite value
in a group reads ``null`` there. A submission holds the result as columns::

    "logs": {"step": [120, 240, ...], "metrics": {"loss": [0.7, 0.5, ...], ...}}
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from coopbench.results.errors import SubmissionError

__all__ = [
    "MAX_LOG_POINTS",
    "MAX_METRICS",
    "check_logs",
    "check_metric_name",
    "log_rows",
    "thin_logs",
]

MAX_LOG_POINTS = 200  # points kept per run
MAX_METRICS = 64  # distinct metric names kept per run (the first logged)
_NAME = re.compile(r"^[A-Za-z0-9_./:-]{1,100}$")


def _finite(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def check_metric_name(name: str) -> str:
    """``name`` if it is a valid ``hooks.log`` metric name, else a one-line ``ValueError``."""
    if name == "step" or not _NAME.match(str(name)):
        raise ValueError(
            f"hooks.log metric name {str(name)!r:.120} is invalid; expected letters, digits "
            "and _./:- (at most 100 characters), not 'step'"
        )
    return name


def thin_logs(records: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """``hooks.log`` records (``{"step": s, name: value, ...}``) as thinned columns (see the
    module docstring); None when nothing was logged. Metric names that are not plain
    identifiers (``[A-Za-z0-9_./:-]``, at most 100 characters) raise ``ValueError``."""
    if not records:
        return None
    names: list[str] = []
    for record in records:
        for name in record:
            if name != "step" and name not in names:
                names.append(check_metric_name(name))
    names = names[:MAX_METRICS]
    steps = np.array([int(r.get("step", 0)) for r in records], dtype=np.int64)
    values = np.full((len(records), len(names)), np.nan)
    for i, record in enumerate(records):
        for j, name in enumerate(names):
            v = _finite(record.get(name))
            if v is not None:
                values[i, j] = v
    groups = np.array_split(np.arange(len(records)), min(len(records), MAX_LOG_POINTS))
    out_steps = [int(steps[g[-1]]) for g in groups]
    metrics: dict[str, list[float | None]] = {name: [] for name in names}
    for g in groups:
        block = values[g]
        seen = np.isfinite(block)
        for j, name in enumerate(names):
            col = block[seen[:, j], j]
            metrics[name].append(float(col.mean()) if col.size else None)
    return {"step": out_steps, "metrics": metrics}


def check_logs(logs: Any, budget: int, what: str) -> None:
    """Beyond the schema: every metric column as long as ``step``, steps non-decreasing and
    within ``budget``. Raises ``SubmissionError`` naming ``what``."""
    steps = logs["step"]
    for name, column in logs["metrics"].items():
        if len(column) != len(steps):
            raise SubmissionError(
                f"{what}: logs/metrics/{name} has {len(column)} values, expected one per "
                f"logs/step ({len(steps)})"
            )
    for i in range(1, len(steps)):
        if steps[i] < steps[i - 1]:
            raise SubmissionError(
                f"{what}: logs/step must not decrease, got {steps[i - 1]} then {steps[i]} "
                f"at index {i}"
            )
    if steps and steps[-1] > budget:
        raise SubmissionError(f"{what}: logs/step has step {steps[-1]} past the budget {budget}")


def log_rows(logs: Mapping[str, Any] | None) -> list[tuple[int, dict[str, float]]]:
    """``(step, {metric: value})`` per logged point of a submission's ``logs`` (nulls left
    out), for the TensorBoard and wandb mirrors."""
    if not logs:
        return []
    metrics = logs["metrics"]
    return [
        (int(step), {n: float(c[i]) for n, c in metrics.items() if c[i] is not None})
        for i, step in enumerate(logs["step"])
    ]
