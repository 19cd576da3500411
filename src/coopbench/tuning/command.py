"""The body of ``coopbench tune``: run the study with a progress bar, print the best params,
optionally write them as tuned presets and append the study's record to a markdown file."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from coopbench.harness.progress import JobProgress
from coopbench.harness.protocol import get_protocol
from coopbench.tuning.check import CheckRow, check_top, check_winner
from coopbench.tuning.confirm import confirm, confirm_markdown
from coopbench.tuning.study import (
    TuneResult,
    TuneSpec,
    check_spec,
    counted_trials,
    storage_path,
    tune,
    tuning_seeds,
)

DEFAULT_TUNE_DB = "coopbench-tune.db"  # tuning runs stay out of the leaderboard's store
HOLDOUT_SEEDS = 5  # the leaderboard's seeds 0-4 (``bench --seeds 5``)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return repr(value) if isinstance(value, str) else str(value)


def _interrupted(study: Any) -> list[int]:
    return [t.number for t in study.get_trials(deepcopy=False) if t.user_attrs.get("interrupted")]


def record_markdown(spec: TuneSpec, result: TuneResult) -> str:
    """The study's record as markdown (docs/baselines/tuning.md keeps these)."""
    r = result.record
    default = "n/a" if r["default_value"] is None else f"{r['default_value']:.3f}"
    actions = " · continuous actions" if spec.continuous else ""
    lines = [
        f"### {spec.algo} · {', '.join(spec.tasks)}{actions} · {r['tier']} tier",
        "",
        f"- study `{r['study']}`, {r['date']}, coopbench commit `{r['git_commit']}`",
        f"- objective: {r['objective']} (tuning seeds {r['tuning_seeds']})",
        f"- budget: {r['trials']} trials × {len(spec.tasks) * spec.seeds} run(s) × "
        f"{r['budget']:,} env steps = {r['env_steps']:,} env steps",
        f"- best value {r['value']:.3f} (trial {result.study.best_trial.number}); "
        f"today's config (trial 0) {default}",
        *(f"- interrupted and run again: trial {n}" for n in _interrupted(result.study)),
        "",
        "| param | best |",
        "|---|---|",
        *(f"| `{k}` | {_value(v)} |" for k, v in sorted(result.params.items())),
        "",
        "| trial | value | " + " | ".join(f"`{k}`" for k in sorted(result.params)) + " |",
        "|---|---|" + "---|" * len(result.params),
    ]
    for t in sorted(result.trials, key=lambda t: t.number):
        value = "failed" if t.value is None else f"{t.value:.3f}"
        cells = " | ".join(_value(t.params.get(k, "")) for k in sorted(result.params))
        lines.append(f"| {t.number} | {value} | {cells} |")
    return "\n".join(lines) + "\n"


def check_markdown(rows: list[CheckRow], tier: str, seeds: list[int]) -> str:
    """The check's table as markdown (appended to the study's record)."""
    winner = check_winner(rows)
    verdict = (
        f"{winner.label} beats today's config at the {tier} tier"
        if winner
        else f"no checked config beats today's config at the {tier} tier"
    )
    lines = [
        "",
        f"Check at the {tier} tier (tuning seeds {seeds}; mean over seeds and tasks): {verdict}.",
        "",
        f"| config | study value | {tier} AUC | {tier} final | params |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        value = "-" if r.study_value is None else f"{r.study_value:.3f}"
        params = ", ".join(f"`{k}`={_value(v)}" for k, v in sorted(r.params.items())) or "-"
        lines.append(f"| {r.label} | {value} | {r.auc:.3f} | {r.final:.3f} | {params} |")
    return "\n".join(lines) + "\n"


def _show(console: Console, spec: TuneSpec, result: TuneResult) -> None:
    best = Table(title=f"best params · {spec.name()} · value {result.value:.3f}")
    best.add_column("param")
    best.add_column("value")
    for k, v in sorted(result.params.items()):
        best.add_row(k, _value(v))
    console.print(best)
    top = Table(title="top trials (objective: mean normalised AUC)")
    for col in ("trial", "value", "params"):
        top.add_column(col)
    ranked = sorted(
        (t for t in result.trials if t.value is not None), key=lambda t: -t.value
    )  # fmt: skip
    for t in ranked[:5]:
        params = ", ".join(f"{k}={_value(v)}" for k, v in sorted(t.params.items()))
        top.add_row(str(t.number), f"{t.value:.3f}", params)
    console.print(top)


class _TrialBar(JobProgress):
    """Progress over the study's trials, with the last and best values."""

    def __call__(self, study: Any, trial: Any = None) -> None:
        """After each trial (Optuna's callback), and once at the end with no trial."""
        values = [t.value for t in study.get_trials(deepcopy=False) if t.value is not None]
        best = max(values) if values else math.nan
        value = "-" if trial is None else "failed" if trial.value is None else f"{trial.value:.3f}"
        self.update(len(counted_trials(study)), f"trials (last {value}, best {best:.3f})")


def cmd_tune(args: argparse.Namespace, console: Console) -> int:
    """``coopbench tune``: see ``tuning.study`` (and ``tuning.check`` for ``--check-top``)."""
    db = args.db or DEFAULT_TUNE_DB
    if args.write_presets and args.budget is not None:
        raise ValueError(
            f"--write-presets with --budget {args.budget}: tuned presets are per tier, so the "
            "study must run at the tier's own budget"
        )
    if args.check_top:
        get_protocol(args.check_tier)  # an unknown tier fails before the study
    spec = TuneSpec(
        algo=args.algo,
        tasks=tuple(args.tasks),
        tier=args.tier,
        trials=args.trials,
        seeds=args.seeds,
        budget=args.budget,
        workers=args.workers,
        backend=args.backend,
        threads=args.threads,
        study=args.study,
        continuous=args.continuous,
        progress=True,
    )
    check_spec(spec)  # a bad argument is one error line, before the progress bar
    with _TrialBar(args.trials, "trials") as bar:
        result = tune(spec, db, on_trial=bar)
        bar(result.study)
    _show(console, spec, result)
    console.print(
        f"study {spec.name()!r}: {len(result.trials)} trials ({result.ran} run now) · "
        f"runs in {db} · study in {storage_path(db)}"
    )
    record = record_markdown(spec, result)
    checked: list[CheckRow] = []
    if args.check_top:
        seeds = args.check_seeds or spec.seeds

        def shown(row: CheckRow) -> None:
            console.print(
                f"check · {row.label}: {args.check_tier} AUC {row.auc:.3f}, final {row.final:.3f}"
            )

        checked = check_top(
            spec, result.trials, db, args.check_top, args.check_tier, seeds, on_config=shown
        )
        record += check_markdown(checked, args.check_tier, tuning_seeds(seeds))
    holdout_seeds = args.holdout_seeds or (HOLDOUT_SEEDS if args.write_presets else None)
    winner = _winner(spec, result, checked, args.check_tier)
    holdout = None
    if winner is None:
        console.print(f"no tuned config for {', '.join(spec.tasks)}: today's config held")
    elif holdout_seeds:
        holdout = confirm(spec, winner.params, db, winner.tier, holdout_seeds, winner.budget)
        verdict = "holds" if holdout.held else "does not hold"
        console.print(f"hold-out · {holdout.summary()} · the gain {verdict}")
        record += confirm_markdown(holdout)
    if args.write_presets and winner is not None and holdout is not None:
        if holdout.held:
            entry = {**winner.record, "holdout": holdout.summary()}
            _write_preset(console, spec, winner, entry, args.presets)
        else:
            console.print(f"no tuned preset for {', '.join(spec.tasks)}: the gain did not hold")
    if args.record:
        with Path(args.record).open("a", encoding="utf-8") as fh:
            fh.write("\n" + record)
        console.print(f"study record appended to {args.record}")
    return 0


@dataclass(frozen=True)
class _Winner:
    """The config tuning found better than today's, the tier it won at and its record."""

    tier: str
    params: dict[str, Any]
    record: dict[str, Any]
    budget: int | None = None  # the study's --budget when it won in the study itself


def _winner(
    spec: TuneSpec, result: TuneResult, checked: list[CheckRow], check_tier: str
) -> _Winner | None:
    """After a check, the check's winner at the check tier; without one, the study's best at
    its tier when it beat trial 0 (today's config)."""
    if checked:
        best = check_winner(checked)
        if best is None:
            return None
        record = {
            **result.record,
            "checked_at": check_tier,
            "check_trial": best.trial,
            "check_auc": round(best.auc, 4),
            "check_default_auc": round(checked[0].auc, 4),
        }
        return _Winner(check_tier, best.params, record)
    default = result.record["default_value"]
    if default is not None and result.value <= default:
        return None
    return _Winner(spec.tier, result.params, dict(result.record), spec.budget)


def _write_preset(
    console: Console, spec: TuneSpec, winner: _Winner, record: dict[str, Any], presets: str | None
) -> None:
    from coopbench.baselines.tuned_presets import write_tuned_presets

    tasks = ", ".join(spec.tasks) + (" (continuous actions)" if spec.continuous else "")
    path = write_tuned_presets(
        spec.algo, spec.tasks, winner.tier, winner.params, record, presets, spec.continuous
    )
    console.print(f"tuned presets for {tasks} ({winner.tier}) written to {path}")


__all__ = ["DEFAULT_TUNE_DB", "check_markdown", "cmd_tune", "record_markdown"]
