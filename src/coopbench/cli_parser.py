"""The argument parser of the ``coopbench`` command (the commands live in ``cli.py``).

Kept apart so the option surface reads in one place; each sub-command's name
(``args.command``) selects its function in ``cli.COMMANDS``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from coopbench.validation import check_int, expected_int

DB_ENV = "COOPBENCH_DB"
DEFAULT_DB = "coopbench.db"
BENCH_ALGOS = ("random", "heuristic", "mappo")  # the README's quick benchmark


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` for integers ``>= minimum`` (``check_int``'s message)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        try:
            return check_int(value, "value", minimum)
        except ValueError:  # argparse names the option: "argument --seeds: 0 is invalid; ..."
            raise argparse.ArgumentTypeError(
                f"{value} is invalid; expected {expected_int(minimum)}"
            ) from None

    return parse


_positive = _int_at_least(1)
_non_negative = _int_at_least(0)


def _resource(text: str) -> float:
    """An argparse ``type`` for a finite number of CPUs/GPUs ``>= 0`` (fractions allowed)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is invalid; expected a number >= 0")
    return value


def _threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=_positive,
        help="torch/BLAS threads per run (default $COOPBENCH_THREADS or 1)",
    )


def _tensorboard_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="also write the runs' hooks.log metrics and evaluations as TensorBoard logs",
    )


def _task_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--continuous", action="store_true", help="continuous actions")
    parser.add_argument(
        "--task-set", action="append", metavar="KEY=VALUE", help="task keyword (e.g. n_agents=4)"
    )


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--db", help=f"results store (default ${DB_ENV} or ./{DEFAULT_DB})")
    parser = _Parser(
        prog="coopbench", parents=[common], description="Cooperative MARL benchmark suite."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("tasks", parents=[common], help="list the tasks")
    sub.add_parser("algos", parents=[common], help="list the algorithms")

    train = sub.add_parser("train", parents=[common, db], help="one run into the store")
    train.add_argument("--task", required=True)
    train.add_argument("--algo", required=True, help="a name or 'package.module:Class'")
    train.add_argument("--seed", type=_non_negative, default=0)
    train.add_argument("--tier", default="quick", help="protocol tier: quick or standard")
    train.add_argument("--budget", type=_positive, help="env steps (replaces the tier's)")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override")
    train.add_argument("--device", default="cpu")
    _threads_option(train)
    _task_options(train)
    train.add_argument("--no-db", action="store_true", help="do not write to the store")
    train.add_argument(
        "--save", metavar="DIR", help="write DIR/final.ckpt, DIR/best.ckpt and DIR/run.json"
    )
    _tensorboard_option(train)

    from coopbench.cli_foreign import add_evaluate_parser, add_import_options

    add_evaluate_parser(sub, [common, db])

    bench = sub.add_parser("bench", parents=[common, db], help="task × algorithm × seed sweep")
    bench.add_argument("--tier", default="quick")
    bench.add_argument("--tasks", nargs="+", help="default: every task")
    bench.add_argument("--algos", nargs="+", help=f"default: {' '.join(BENCH_ALGOS)}")
    bench.add_argument("--seeds", type=_positive, default=3, help="seeds 0..N-1")
    bench.add_argument("--workers", type=_positive, default=min(2, os.cpu_count() or 1))
    bench.add_argument("--budget", type=_positive, help="env steps (replaces the tier's)")
    bench.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="config override, every algorithm"
    )
    bench.add_argument("--backend", choices=("process", "ray"), default="process")
    bench.add_argument(
        "--cpus-per-run",
        type=_resource,
        help="Ray CPUs per run, fractions allowed (default 1; also the run's threads, "
        "rounded down, unless --threads)",
    )
    bench.add_argument(
        "--gpus-per-run", type=_resource, help="Ray GPUs per run, fractions allowed (default 0)"
    )
    bench.add_argument("--wandb", action="store_true", help="mirror the store to wandb after")
    _tensorboard_option(bench)
    _threads_option(bench)
    _task_options(bench)

    _tune_parser(sub, common)

    board = sub.add_parser("leaderboard", parents=[common], help="show and publish results")
    actions = board.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", parents=[common, db], help="print the markdown table")
    show.add_argument(
        "--suite", help="print the ranking across a suite's tasks instead (ctedd or all)"
    )
    export = actions.add_parser("export", parents=[common, db], help="write submissions")
    export.add_argument("--out", required=True)
    export.add_argument("--format", choices=("json", "marl-eval"), default="json")
    imp = actions.add_parser("import", parents=[common, db], help="import submission files")
    imp.add_argument("files", nargs="+")
    add_import_options(imp)
    html = actions.add_parser("html", parents=[common, db], help="write the static site")
    html.add_argument("--out", required=True, help="output directory")
    html.add_argument(
        "--no-downloads",
        action="store_true",
        help="leave out each entry's submission file (e.g. for a site kept in git)",
    )
    for p in (show, html):
        p.add_argument("--tasks", nargs="+", help="only these tasks (default: all)")
        p.add_argument("--entries", nargs="+", help="only these entry labels, e.g. MAPPO CTEDD-G")
    for p in (show, export, imp, html):
        p.add_argument("--wandb", action="store_true", help="also mirror to wandb")
    verify = actions.add_parser(
        "verify", parents=[common], help="re-run sampled submissions and compare them"
    )
    verify.add_argument("source", metavar="FILE_OR_STORE", help="a .json/.json.gz file or a store")
    verify.add_argument("--entry", help="only runs of this entry label, e.g. MAPPO")
    verify.add_argument("--runs", type=_positive, default=3, help="runs to sample (default 3)")
    verify.add_argument("--seed", type=_non_negative, default=0, help="seed of the sample")

    render = sub.add_parser("render", parents=[common], help="write a GIF of one episode")
    render.add_argument("--task", help="required unless --checkpoint has a run.json beside it")
    render.add_argument("--algo", help="the algorithm that wrote --checkpoint (default: run.json)")
    render.add_argument(
        "--checkpoint", help="play this trained policy (e.g. DIR/best.ckpt of train --save DIR)"
    )
    render.add_argument("--policy-name", default="default")
    render.add_argument(
        "--policy",
        choices=("heuristic", "random"),
        default="heuristic",
        help="without --algo: the scripted heuristic or uniform random play",
    )
    render.add_argument("--set", action="append", metavar="KEY=VALUE")
    render.add_argument("--seed", type=_non_negative, default=0)
    render.add_argument("--device", default="cpu")
    render.add_argument("--out", required=True, help="FILE.gif")
    _task_options(render)

    rep = sub.add_parser("reproduce", parents=[common], help="reproduce a paper result")
    rep.add_argument("name")
    rep.add_argument("--trials", type=_positive)
    rep.add_argument("--out")
    rep.add_argument("--workers", type=_positive, default=1)
    _threads_option(rep)
    return parser


def _tune_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """``coopbench tune`` (body in ``coopbench.tuning.command``)."""
    tune = sub.add_parser("tune", parents=[common], help="tune an algorithm's config (Optuna)")
    tune.add_argument("--algo", required=True, help="a name or 'package.module:Class'")
    tune.add_argument("--tasks", nargs="+", required=True)
    tune.add_argument(
        "--continuous", action="store_true",
        help="continuous actions (the action type the presets are tuned for)",
    )  # fmt: skip
    tune.add_argument("--trials", type=_positive, default=40, help="finished trials to reach")
    tune.add_argument("--tier", default="quick")
    tune.add_argument("--seeds", type=_positive, default=2, help="tuning seeds 10000..+N-1")
    tune.add_argument("--workers", type=_positive, default=min(2, os.cpu_count() or 1))
    tune.add_argument("--backend", choices=("process", "ray"), default="process")
    tune.add_argument("--budget", type=_positive, help="env steps (replaces the tier's)")
    tune.add_argument("--study", help="study name (default: from algo, tasks, tier, seeds)")
    tune.add_argument(
        "--db", help="results store of the tuning runs (default ./coopbench-tune.db); "
        "the study is kept beside it in <store>.optuna.db"
    )  # fmt: skip
    tune.add_argument(
        "--write-presets",
        action="store_true",
        help="write the winner as a tuned preset where it holds on the hold-out seeds",
    )
    tune.add_argument("--presets", help="tuned presets file (default: the packaged one)")
    tune.add_argument(
        "--check-top", type=_positive, metavar="K",
        help="then re-run today's config and the K best trials at --check-tier",
    )  # fmt: skip
    tune.add_argument("--check-tier", default="standard", help="tier of the check")
    tune.add_argument(
        "--check-seeds", type=_positive, metavar="N", help="tuning seeds of the check (--seeds)"
    )
    tune.add_argument(
        "--holdout-seeds", type=_positive, metavar="N",
        help="re-run the winner and today's config on the leaderboard's seeds 0..N-1; "
        "a preset is written only if the AUC gain holds there (default 5 with --write-presets)",
    )  # fmt: skip
    tune.add_argument("--record", metavar="FILE.md", help="append the study's record here")
    _threads_option(tune)
