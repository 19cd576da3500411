"""The ``coopbench`` command: list tasks and algorithms, train, benchmark, publish, render.

Every error is one line on stderr and a non-zero exit (``--debug`` shows the traceback).
The results store is ``--db PATH``, else ``$COOPBENCH_DB``, else ``./coopbench.db``.

    coopbench bench --tier quick --seeds 3 --workers 2     # fill the store, print the table
    coopbench train --task cn-v1 --algo mypkg.mod:MyAlgo --seed 0 --set lr=3e-4
    coopbench evaluate --task cn-v1 --policy mypolicy:load   # a pre-trained policy, unranked
    coopbench leaderboard html --out site/
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from coopbench.cli_foreign import cmd_evaluate
from coopbench.cli_parser import BENCH_ALGOS, DB_ENV, DEFAULT_DB, build_parser

out = Console(highlight=False)


class CLIError(Exception):
    """A user error reported as one line."""


def db_path(arg: str | None) -> str:
    """``--db``, else ``$COOPBENCH_DB``, else ``./coopbench.db``."""
    return arg or os.environ.get(DB_ENV) or DEFAULT_DB


def _store(args: argparse.Namespace) -> Any:
    from coopbench.results.store import Store

    return Store(db_path(args.db))


# ------------------------------------------------------------------------ tasks / algos


def cmd_tasks(args: argparse.Namespace) -> int:
    from coopbench.envs import TASKS, make_batched, reference_returns

    table = Table(title="coopbench tasks (team returns: sum over agents and steps)")
    for col in (
        "task",
        "version",
        "agents",
        "obs dim",
        "state dim",
        "horizon",
        "random return",
        "heuristic return",
    ):
        table.add_column(col)
    for task in TASKS:
        spec = make_batched(task, 1).task
        ref = reference_returns(task)
        table.add_row(
            task,
            str(spec.version),
            str(spec.n_agents),
            str(spec.obs_dim),
            str(spec.state_dim),
            str(spec.max_cycles),
            f"{ref['random']:.1f}",
            f"{ref['heuristic']:.1f}",
        )
    out.print(table)
    return 0


def cmd_algos(args: argparse.Namespace) -> int:
    from coopbench.algorithms.registry import BUILTIN, get_algorithm

    table = Table(
        title="coopbench algorithms (or any 'package.module:Class'; BenchMARL's as "
        "'benchmarl:<name>', see docs/integrations.md)"
    )
    for col in ("name", "label", "actions", "path"):
        table.add_column(col)
    for name, path in BUILTIN.items():
        try:
            cls = get_algorithm(name)
            label = cls.label(cls.Config())
            kinds = [
                k
                for k, ok in (
                    ("discrete", cls.supports_discrete),
                    ("continuous", cls.supports_continuous),
                )
                if ok
            ]
            table.add_row(name, label, ", ".join(kinds), path)
        except Exception as exc:  # one broken entry must not hide the others
            table.add_row(name, "-", f"unavailable: {exc}", path)
    out.print(table)
    return 0


# ------------------------------------------------------------------------ train / bench


def _overrides(algo: str, items: list[str] | None) -> dict[str, Any]:
    from coopbench.algorithms.registry import get_algorithm
    from coopbench.harness.config import parse_assignments

    if not items:
        return {}
    cls = get_algorithm(algo)
    return parse_assignments(cls.Config, items, f"algorithm {algo!r}")


def _sweep_overrides(algos: list[str], items: list[str] | None) -> dict[str, Any]:
    """``--set`` for a sweep: the same typed overrides must hold for every algorithm."""
    parsed = [_overrides(algo, items) for algo in algos]
    if any(p != parsed[0] for p in parsed[1:]):
        raise ValueError(
            f"--set {items} reads differently for the algorithms {algos}; "
            "run them in separate sweeps"
        )
    return parsed[0]


def _task_kwargs(tasks: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """``--task-set key=value`` (typed by the task's fields) and ``--continuous``."""
    from coopbench.envs.registry import task_class
    from coopbench.harness.config import parse_assignments

    kwargs: dict[str, Any] = {}
    for task in tasks:
        kwargs = parse_assignments(task_class(task), args.task_set or [], f"task {task!r}")
    if args.continuous:
        kwargs["continuous_actions"] = True
    return kwargs


def cmd_train(args: argparse.Namespace) -> int:
    from coopbench.harness.run import prepare_run, run_experiment, run_key, run_metadata

    overrides = _overrides(args.algo, args.set)
    task_kwargs = _task_kwargs([args.task], args)
    cls, config, protocol, spec = prepare_run(
        args.task, args.algo, args.seed, args.tier, args.budget, overrides, task_kwargs
    )
    key = run_key(run_metadata(spec, args.algo, cls, config, args.seed, protocol))
    if args.tensorboard:
        from coopbench.leaderboard.tensorboard_mirror import require_tensorboard

        require_tensorboard()  # tensorboard missing: one line now, not after training
    store = None if args.no_db else _store(args)
    try:
        if store is not None and store.is_finished(key):
            if not args.save:
                out.print(f"run {key[:12]} is already finished in {store.path}; nothing to do")
                return 0
            out.print(f"run {key[:12]} is already finished: training again for --save only")
            store.close()
            store = None
        result = run_experiment(
            args.task,
            args.algo,
            args.seed,
            args.tier,
            args.budget,
            overrides,
            task_kwargs,
            sink=store,
            device=args.device,
            progress=True,
            threads=args.threads,
            save_dir=args.save,
        )
    finally:
        if store is not None:
            store.close()
    _train_outputs(args, result)
    table = Table(
        title=f"{args.task} · {args.algo} · seed {args.seed} · "
        f"{protocol.tier} tier, {protocol.budget} env steps"
    )
    for col in ("policy", "final score", "absolute metric", "best step", "final team return"):
        table.add_column(col)
    final, absolute = _scores(result)
    for name, (_, returns) in result.curves.items():
        table.add_row(
            name,
            final.get(name, "-"),
            absolute.get(name, "-"),
            str(result.best_step[name]),
            f"{returns[-1].mean():.2f}",
        )
    out.print(table)
    out.print(
        f"run {result.key[:12]} · {result.wall_time_s:.1f} s · scores normalised "
        "(0 = random, 1 = heuristic) team returns"
        + ("" if store is None else f" · stored in {db_path(args.db)}")
    )
    return 0


def _train_outputs(args: argparse.Namespace, result: Any) -> None:
    """``--tensorboard``: the run's full-resolution logs and curves; ``--save``: say where."""
    if args.tensorboard:
        from coopbench.leaderboard.tensorboard_mirror import run_folder, write_run

        logs = [(r["step"], {k: v for k, v in r.items() if k != "step"}) for r in result.logs]
        curves = {n: (s, r.mean(axis=1)) for n, (s, r) in result.curves.items()}
        folder = f"{args.tensorboard}/{run_folder(result.meta, result.key)}"
        write_run(folder, logs, curves)
        out.print(f"TensorBoard logs in {folder}")
    if args.save:
        out.print(f"checkpoints in {args.save}: final.ckpt, best.ckpt, run.json")


def _scores(result: Any) -> tuple[dict[str, str], dict[str, str]]:
    try:
        final, absolute = result.final_scores(), result.absolute_scores()
    except ValueError:  # no reference returns for a non-default task configuration
        return {}, {}
    return ({k: f"{v:.3f}" for k, v in final.items()}, {k: f"{v:.3f}" for k, v in absolute.items()})


def cmd_bench(args: argparse.Namespace) -> int:
    from coopbench.envs import TASKS
    from coopbench.harness.sweep import run_sweep

    path = db_path(args.db)
    tasks = args.tasks or list(TASKS)
    algos = args.algos or list(BENCH_ALGOS)
    outcomes = run_sweep(
        tasks,
        algos,
        args.seeds,
        args.tier,
        path,
        args.workers,
        args.backend,
        progress=True,
        budget=args.budget,
        task_kwargs=_task_kwargs(tasks, args),
        overrides=_sweep_overrides(algos, args.set),
        threads=args.threads,
        **_ray_resources(args),
    )
    failed = [o for o in outcomes if o["status"] == "failed"]
    counts = {s: sum(o["status"] == s for o in outcomes) for s in ("done", "skipped", "failed")}
    out.print(
        f"{counts['done']} runs done, {counts['skipped']} already finished, "
        f"{counts['failed']} failed · store {path}"
    )
    with _store(args) as store:
        _show(store)  # scored from the summary columns: no returns decoded
        if args.tensorboard:
            from coopbench.leaderboard.tensorboard_mirror import mirror_to_tensorboard

            keys = [o["key"] for o in outcomes if o["status"] != "failed"]
            count = mirror_to_tensorboard(store.submissions(keys), args.tensorboard)
            out.print(f"wrote {count} run(s) as TensorBoard logs in {args.tensorboard}")
        if args.wandb:
            from coopbench.leaderboard import mirror_to_wandb

            out.print(f"mirrored {mirror_to_wandb(store.submissions())} run(s) to wandb")
    for o in failed:
        print(
            f"coopbench: error: {o['task']} {o['algo']} seed {o['seed']}: {o['error']}",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _ray_resources(args: argparse.Namespace) -> dict[str, float]:
    """``--cpus-per-run``/``--gpus-per-run`` as ``run_sweep`` arguments (Ray only)."""
    given = {k: v for k in ("cpus_per_run", "gpus_per_run") if (v := getattr(args, k)) is not None}
    if given and args.backend != "ray":
        raise CLIError("--cpus-per-run/--gpus-per-run need --backend ray")
    return given


def _show(
    runs: Any,
    tasks: list[str] | None = None,
    entries: list[str] | None = None,
    suite: str | None = None,
) -> None:
    """Print the leaderboard of ``runs`` (a ``Store`` or submissions; only ``tasks`` /
    ``entries`` when given), or with ``suite`` the ranking across that suite's tasks."""
    from coopbench.leaderboard import aggregate, render_markdown

    board = aggregate(runs)
    if not board.entries and not board.skipped and not board.unranked:
        print("the store holds no finished runs")
    elif suite is None:
        print(render_markdown(board.select(tasks, entries)))
    else:
        from coopbench.leaderboard.suite_markdown import render_suite_markdown
        from coopbench.leaderboard.suites import suite_board

        boards = suite_board(board.select(None, entries), suite, curves=False)
        print(render_suite_markdown(boards) if boards else f"no entry ran a task of {suite}")


# ------------------------------------------------------------------------ leaderboard


def cmd_leaderboard(args: argparse.Namespace) -> int:
    import coopbench.leaderboard as lb

    if args.action == "verify":
        return _verify(args)
    path = db_path(args.db)
    if args.action != "import" and not os.path.exists(path):
        raise CLIError(f"{path}: no results store here (run coopbench bench/train or pass --db)")
    with _store(args) as store:
        if args.action == "show":
            if args.suite is not None:
                from coopbench.leaderboard.suites import suite_tasks

                suite_tasks(args.suite)  # a bad name fails before the store is read
                if args.tasks:
                    raise CLIError("--suite fixes the tasks; drop --tasks")
            _show(store, args.tasks, args.entries, args.suite)
        elif args.action == "export":
            if args.format == "marl-eval":
                path = lb.export_marl_eval(store, args.out)
            else:
                path = lb.export_file(store, args.out)
            out.print(f"wrote {path}")
        elif args.action == "import":
            from coopbench.cli_foreign import import_one

            for name in args.files:
                try:
                    added = import_one(store, name, args)  # submissions or marl-eval JSON
                except (lb.StoreError, ValueError) as exc:  # bad input: exit 2, one line
                    print(f"coopbench: error: {_one_line(exc)}", file=sys.stderr)
                    return 2
                out.print(f"{name}: {added} new submission(s)")
        elif args.action == "html":
            path = lb.write_site(
                store,
                args.out,
                tasks=args.tasks,
                labels=args.entries,
                downloads=not args.no_downloads,
            )
            out.print(f"wrote {path}")
        if getattr(args, "wandb", False):
            count = lb.mirror_to_wandb(store.submissions())
            out.print(f"mirrored {count} run(s) to wandb")
    return 0


def _verify(args: argparse.Namespace) -> int:
    """Exit 0 when every sampled run matches, 1 when one does not, 2 on bad input."""
    from coopbench.leaderboard import verify

    try:
        docs = verify.load_submissions(args.source)
        progress = lambda doc: out.print(f"re-running {verify.describe(doc)}")  # noqa: E731
        results = verify.verify_runs(docs, args.runs, args.seed, args.entry, progress=progress)
    except verify.VerifyError as exc:
        print(f"coopbench: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    out.print(verify.verify_table(results))
    if not str(args.source).endswith((".json", ".json.gz")):  # a store: the site marks them
        from coopbench.results.store import Store

        with Store(args.source) as store:
            for r in results:
                store.record_verification(r.run_key, r.matches, verify.verdict_text(r))
    bad = sum(not r.matches for r in results)
    out.print(f"{len(results) - bad} of {len(results)} sampled run(s) match")
    return 1 if bad else 0


# ------------------------------------------------------------------------ render / reproduce


def cmd_render(args: argparse.Namespace) -> int:
    from coopbench.cli_render import cmd_render as render

    return render(args)


def cmd_reproduce(args: argparse.Namespace) -> int:
    try:
        from coopbench.reproduce import run
    except ImportError as exc:
        raise CLIError(f"reproductions are not available in this install ({exc})") from None
    from coopbench.harness.threads import thread_policy

    options = {"trials": args.trials, "out": args.out, "workers": args.workers}
    with thread_policy(args.threads):  # its workers read $COOPBENCH_THREADS
        result = run(args.name, **{k: v for k, v in options.items() if v is not None})
    if result is not None:
        out.print(result)
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from coopbench.tuning.command import cmd_tune as run

    return run(args, out)


COMMANDS = {
    "tasks": cmd_tasks,
    "algos": cmd_algos,
    "train": cmd_train,
    "bench": cmd_bench,
    "evaluate": cmd_evaluate,
    "tune": cmd_tune,
    "leaderboard": cmd_leaderboard,
    "render": cmd_render,
    "reproduce": cmd_reproduce,
}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 500 else text[:497] + "..."


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill PID``), raised where the command is so that it stops as on Ctrl-C:
    a sweep's pool ended, a tuning trial requeued, the store left sound."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``coopbench`` console script."""
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return COMMANDS[args.command](args)
    except Terminated:
        print("coopbench: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("coopbench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        print(f"coopbench: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
