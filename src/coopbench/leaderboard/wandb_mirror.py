"""Optional mirror of submissions to Weights & Biases (``pip install 'coopbench[wandb]'``).

wandb is imported lazily, only here. Runs are logged offline (``mode="offline"``, synced
later with ``wandb sync``) unless the user is logged in: ``WANDB_API_KEY`` is set or the
netrc file has credentials for ``api.wandb.ai``. Each submission becomes one wandb run with a
deterministic id (from its content hash), so mirroring twice resumes rather than duplicates.
"""

from __future__ import annotations

import netrc
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from coopbench.leaderboard.scoring import run_scores
from coopbench.results.diagnostics import log_rows
from coopbench.results.submission import content_hash, run_meta, validate_submission

__all__ = ["WandbError", "logged_in", "mirror_to_wandb"]


class WandbError(ValueError):
    """wandb is missing or refused the mirror."""


def logged_in() -> bool:
    """Whether wandb credentials exist (``WANDB_API_KEY`` or a netrc entry for api.wandb.ai)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def mirror_to_wandb(
    submissions: Iterable[dict[str, Any]],
    project: str = "coopbench",
    entity: str | None = None,
    mode: str | None = None,
    directory: str | os.PathLike[str] | None = None,
) -> int:
    """Log each submission as a wandb run: per evaluation step the mean team return and the
    normalised score of every policy, per logged step the run's ``hooks.log`` metrics as
    ``train/METRIC`` (its ``logs``, thinned in the store), the absolute metric and
    ``steps_taken`` in the summary. Returns the number of runs logged. ``mode`` overrides the
    offline/online choice."""
    try:
        import wandb
    except ImportError:
        raise WandbError(
            "the wandb mirror needs wandb: pip install 'coopbench[wandb]' (or pip install wandb)"
        ) from None
    chosen = mode or ("online" if logged_in() else "offline")
    count = 0
    for doc in submissions:
        validate_submission(doc)
        try:
            scores = run_scores(doc)
        except ValueError:
            scores = {}
        config = run_meta(doc)
        run = wandb.init(
            project=project,
            entity=entity,
            name=doc["run_key"],
            id=content_hash(doc)[:32],
            resume="allow",
            group=f"{doc['task']['id']}-{doc['protocol']['tier']}",
            config=config,
            mode=chosen,
            dir=None if directory is None else str(directory),
            reinit="create_new",  # a run of the caller's stays untouched
        )
        try:
            points: dict[int, dict[str, float]] = {}
            for policy, evals in doc["evaluations"].items():
                for i, p in enumerate(evals):
                    row = points.setdefault(p["step"], {})
                    row[f"{policy}/team_return_mean"] = float(np.mean(p["returns"]))
                    if policy in scores:
                        row[f"{policy}/normalised_score"] = float(scores[policy].curve[i])
            for step, metrics in log_rows(doc.get("logs")):
                row = points.setdefault(step, {})
                row.update({f"train/{name}": value for name, value in metrics.items()})
            for step in sorted(points):
                run.log(points[step], step=step)
            if "steps_taken" in doc:
                run.summary["steps_taken"] = int(doc["steps_taken"])
            for policy, values in doc["absolute"].items():
                run.summary[f"{policy}/absolute_team_return_mean"] = float(np.mean(values))
                if policy in scores:
                    s = scores[policy]
                    run.summary[f"{policy}/absolute_normalised"] = s.absolute
                    run.summary[f"{policy}/final_normalised"] = s.final
                    run.summary[f"{policy}/auc_normalised"] = s.auc
        finally:
            run.finish()
        count += 1
    return count
