"""The check after a study: today's config and the study's top configs re-run at a longer
tier (quick-tier studies, then the top few checked at the standard tier, before a preset is
committed). Same held-out tuning seeds and evaluation worlds as the study; the runs go
through ``harness.sweep.run_sweep`` into the study's store, so a repeated check costs
nothing. Today's config at the check tier is the tier's own preset (no overrides): the bar
a transplanted config must clear there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from coopbench.harness.protocol import TierProtocol
from coopbench.harness.sweep import run_sweep
from coopbench.tuning.study import TuneSpec, run_means, tuning_protocol, tuning_seeds
from coopbench.validation import check_int


@dataclass(frozen=True)
class CheckRow:
    """One checked config: its overrides (``{}`` = today's config at the check tier), the
    study's value for it and its mean normalised AUC and final score at the check tier."""

    trial: int | None  # None: today's config
    params: dict[str, Any]
    study_value: float | None
    auc: float
    final: float

    @property
    def label(self) -> str:
        return "today's config" if self.trial is None else f"trial {self.trial}"


def candidates(trials: Sequence[Any], top: int) -> list[tuple[int | None, dict, float | None]]:
    """Today's config, then the ``top`` best finished trials (distinct params, best first);
    the default-config trial is today's config, never a candidate of its own."""
    default = [t.value for t in trials if t.user_attrs.get("default_config")]
    ranked = sorted(
        (t for t in trials if t.value is not None and not t.user_attrs.get("default_config")),
        key=lambda t: (-t.value, t.number),
    )
    out: list[tuple[int | None, dict, float | None]] = [(None, {}, default[0] if default else None)]
    seen: list[dict] = []
    for t in ranked:
        if len(seen) == top:
            break
        if t.params not in seen:
            seen.append(t.params)
            out.append((t.number, dict(t.params), float(t.value)))
    return out


def run_config(
    spec: TuneSpec,
    seeds: list[int],
    tier: str | TierProtocol,
    db_path: str,
    overrides: dict[str, Any],
    what: str,
    budget: int | None = None,
) -> list[dict[str, Any]]:
    """Run (or find in the store) one config of ``spec`` on every task × seed, at most
    ``spec.workers`` at a time; the sweep's outcomes. ``ValueError`` naming ``what`` and the
    first failed run otherwise."""
    runs = len(spec.tasks) * len(seeds)
    outcomes = run_sweep(
        spec.tasks, [spec.algo], seeds, tier, db_path, min(spec.workers, runs), spec.backend,
        progress=spec.progress, budget=budget, task_kwargs=spec.task_kwargs(), overrides=overrides,
        threads=spec.threads,
    )  # fmt: skip
    failed = [o for o in outcomes if o["status"] == "failed"]
    if failed:
        raise ValueError(
            f"{what}: {failed[0]['task']} seed {failed[0]['seed']} failed: {failed[0]['error']}"
        )
    return outcomes


def check_top(
    spec: TuneSpec,
    trials: Sequence[Any],
    db_path: str,
    top: int,
    tier: str = "standard",
    seeds: int | None = None,
    budget: int | None = None,
    on_config: Callable[[CheckRow], None] | None = None,
) -> list[CheckRow]:
    """Run today's config and the study's ``top`` configs at ``tier`` on the tuning seeds
    (``seeds``, default the study's) at the tier's budget (or ``budget`` env steps); rows in
    that order. ``ValueError`` if a run failed."""
    from coopbench.results.store import Store

    check_int(top, "check-top")
    protocol = tuning_protocol(tier, budget)  # an unknown tier fails before any run
    run_seeds = tuning_seeds(seeds if seeds is not None else spec.seeds)
    rows = []
    for trial, params, value in candidates(trials, top):
        what = f"check of {'today' if trial is None else f'trial {trial}'} at {tier}"
        outcomes = run_config(spec, run_seeds, protocol, db_path, params, what)
        with Store(db_path) as store:
            scores = [run_means(store, o["key"]) for o in outcomes]
        row = CheckRow(
            trial=trial,
            params=params,
            study_value=value,
            auc=sum(s.auc for s in scores) / len(scores),
            final=sum(s.final for s in scores) / len(scores),
        )
        rows.append(row)
        if on_config is not None:
            on_config(row)
    return rows


def check_winner(rows: Sequence[CheckRow]) -> CheckRow | None:
    """The checked config with the best AUC at the check tier, when it beats today's."""
    today, *others = rows
    best = max(others, key=lambda r: r.auc, default=None)
    return best if best is not None and best.auc > today.auc else None


__all__ = ["CheckRow", "candidates", "check_top", "check_winner", "run_config"]
