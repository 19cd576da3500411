"""Optional mirror of runs to TensorBoard (``pip install 'coopbench[tensorboard]'``).

Written with ``torch.utils.tensorboard.SummaryWriter`` (which needs the ``tensorboard``
package). One folder per run, ``DIR/TASK/LABEL/seedS-KEY8``; in it, per env step, every
``hooks.log`` metric as ``train/METRIC`` and every policy's mean evaluation team return as
``eval/POLICY/team_return_mean``. ``coopbench train --tensorboard DIR`` writes the run's
logs at full resolution; ``coopbench bench --tensorboard DIR`` mirrors the sweep's runs from
the store (their logs thinned to at most 200 points, ``results.diagnostics``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from coopbench.results.diagnostics import log_rows

__all__ = [
    "TensorBoardError",
    "mirror_to_tensorboard",
    "require_tensorboard",
    "run_folder",
    "write_run",
]


class TensorBoardError(ValueError):
    """tensorboard is missing."""


def require_tensorboard() -> Any:
    """``SummaryWriter``, or a one-line ``TensorBoardError`` saying how to install it."""
    try:
        import tensorboard  # noqa: F401 - SummaryWriter needs it; say so in one line
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TensorBoardError(
            "--tensorboard needs the tensorboard package: pip install 'coopbench[tensorboard]' "
            "(or pip install tensorboard)"
        ) from None
    return SummaryWriter


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)) or "_"


def run_folder(meta: Mapping[str, Any], key: str) -> str:
    """``TASK/LABEL/seedS-KEY8`` of a run (its default or first policy's label)."""
    policies = meta["policies"]
    first = policies.get("default") or next(iter(policies.values()))
    return f"{_safe(meta['task']['id'])}/{_safe(first['label'])}/seed{meta['seed']}-{key[:8]}"


def write_run(
    directory: str | os.PathLike[str],
    logs: Iterable[tuple[int, Mapping[str, float]]],
    curves: Mapping[str, tuple[Any, Any]],
) -> Path:
    """Write one run's ``logs`` (``(step, {metric: value})``) and ``curves`` (``{policy:
    (steps, mean team returns)}``) as TensorBoard scalars into ``directory``."""
    writer = require_tensorboard()(log_dir=str(directory))
    try:
        for step, metrics in logs:
            for name, value in metrics.items():
                writer.add_scalar(f"train/{name}", float(value), int(step))
        for policy, (steps, means) in curves.items():
            for step, mean in zip(steps, means, strict=True):
                writer.add_scalar(f"eval/{policy}/team_return_mean", float(mean), int(step))
    finally:
        writer.close()
    return Path(directory)


def mirror_to_tensorboard(
    submissions: Iterable[Mapping[str, Any]], directory: str | os.PathLike[str]
) -> int:
    """Write each submission (validated, e.g. from ``Store.submissions``) as a TensorBoard
    run under ``directory``; returns how many were written."""
    require_tensorboard()
    count = 0
    for doc in submissions:
        curves = {
            policy: ([p["step"] for p in points], [float(np.mean(p["returns"])) for p in points])
            for policy, points in doc["evaluations"].items()
        }
        folder = Path(directory) / run_folder(doc, doc["run_key"])
        write_run(folder, log_rows(doc.get("logs")), curves)
        count += 1
    return count
