"""``coopbench evaluate`` (a pre-trained policy) and the marl-eval side of
``coopbench leaderboard import``: bad input is one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _error(exc: BaseException) -> int:
    from coopbench.cli import _one_line

    print(f"coopbench: error: {_one_line(exc)}", file=sys.stderr)
    return 2


def add_evaluate_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """The ``evaluate`` sub-command's options."""
    from coopbench.cli_parser import _task_options

    p = sub.add_parser(
        "evaluate",
        parents=parents,
        help="score a pre-trained policy on the fixed evaluation worlds (not ranked)",
    )
    p.add_argument("--task", required=True)
    p.add_argument(
        "--policy",
        required=True,
        metavar="MODULE:FUNCTION",
        help="load(spec) -> policy (or dict name -> policy); the current folder is importable",
    )
    p.add_argument("--tier", default="quick", help="whose evaluation worlds: quick or standard")
    p.add_argument("--label", help="the entry's name (default: the --policy path)")
    p.add_argument("--no-db", action="store_true", help="do not write to the store")
    _task_options(p)


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate, store as an evaluation-only run, print the scores."""
    from rich.table import Table

    from coopbench.cli import _store, _task_kwargs, db_path, out
    from coopbench.harness.evaluate import EvaluationError
    from coopbench.harness.pretrained import PretrainedError, evaluate_pretrained
    from coopbench.results.errors import StoreError

    try:
        task_kwargs = _task_kwargs([args.task], args)
        store = None if args.no_db else _store(args)
        try:
            result = evaluate_pretrained(
                args.task, args.policy, args.tier, args.label, task_kwargs, sink=store
            )
        finally:
            if store is not None:
                store.close()
    except (PretrainedError, EvaluationError, StoreError, ValueError) as exc:
        return _error(exc)
    if not result.final:
        out.print(f"run {result.key[:12]} is already evaluated in {db_path(args.db)}")
        return 0
    from coopbench.envs import reference_returns

    try:
        ref = reference_returns(args.task, **task_kwargs)
        low, high = ref["random"], ref["heuristic"]
    except (TypeError, ValueError):
        low, high = None, None
    table = Table(title=f"{args.task} · {args.policy} · evaluation-only, {args.tier} tier worlds")
    for col in ("policy", "final score", "absolute metric", "final team return"):
        table.add_column(col)
    for name, returns in result.final.items():
        absolute = result.absolute[name]
        scores = (
            ("-", "-")
            if low is None
            else (
                f"{(returns.mean() - low) / (high - low):.3f}",
                f"{(absolute.mean() - low) / (high - low):.3f}",
            )
        )
        table.add_row(name, *scores, f"{returns.mean():.2f}")
    out.print(table)
    where = "" if args.no_db else f" · stored in {db_path(args.db)} (evaluation-only, not ranked)"
    out.print(f"run {result.key[:12]} · {result.wall_time_s:.1f} s{where}")
    return 0


def add_import_options(parser: argparse.ArgumentParser) -> None:
    """``leaderboard import`` options for marl-eval files."""
    from coopbench.leaderboard.marl_eval_import import RETURNS

    parser.add_argument(
        "--format",
        choices=("auto", "json", "marl-eval"),
        default="auto",
        help="auto: marl-eval when the file is not coopbench submissions",
    )
    parser.add_argument(
        "--task-map",
        action="append",
        metavar="NAME=TASK",
        help="marl-eval task (or env/task) name -> coopbench task, e.g. simple_spread=spread",
    )
    parser.add_argument(
        "--returns",
        choices=RETURNS,
        default="team",
        help="marl-eval 'return' is the team return (coopbench export) or the mean over "
        "agents (BenchMARL's writer: multiplied by the number of agents)",
    )


def import_one(store: Any, path: str, args: argparse.Namespace) -> int:
    """Import one file (coopbench submissions or marl-eval JSON), all or nothing; returns
    how many runs were new."""
    from coopbench.leaderboard.marl_eval_import import (
        from_marl_eval,
        is_marl_eval,
        parse_task_map,
    )
    from coopbench.results.files import import_document, read_json

    doc = read_json(path)
    if args.format == "marl-eval" or (args.format == "auto" and is_marl_eval(doc)):
        doc = from_marl_eval(doc, str(path), parse_task_map(args.task_map), args.returns)
    return import_document(store, doc, path)
