"""``coopbench render``: a GIF of one episode of the heuristic, random play or a trained
policy read from a checkpoint (``coopbench train --save DIR`` writes ``DIR/best.ckpt`` and
the ``run.json`` that says which task, algorithm and config it belongs to)."""

from __future__ import annotations

import argparse
from typing import Any

from coopbench.harness.evaluate import checked_actions


def cmd_render(args: argparse.Namespace) -> int:
    """Write the GIF; a trained policy needs ``--checkpoint`` (never an untrained one)."""
    from coopbench.cli import CLIError, _task_kwargs, out
    from coopbench.envs import heuristic_policy, save_gif
    from coopbench.harness.checkpoints import read_run_file

    run = None
    if args.checkpoint:
        run = read_run_file(args.checkpoint)
        if run is None and not args.algo:
            raise CLIError(
                "--checkpoint needs --algo (the algorithm that wrote it) or a run.json beside "
                "it (coopbench train --save DIR writes both)"
            )
    elif args.algo:
        raise CLIError(
            f"--algo {args.algo} needs --checkpoint (a trained policy, e.g. DIR/best.ckpt of "
            "coopbench train --save DIR); for scripted play use --policy heuristic or random"
        )
    task = args.task or (run.task if run is not None else None)
    if task is None:
        raise CLIError("render needs --task (or a --checkpoint with a run.json beside it)")
    task_kwargs = _task_kwargs([task], args)
    if run is not None:
        _check_matches(args, run, task_kwargs)
        task_kwargs = run.task_kwargs
    policy = None
    if args.checkpoint:
        policy = _trained_policy(args, task, task_kwargs, run)
    elif args.policy == "heuristic":
        scripted = heuristic_policy(task, **task_kwargs)

        def policy(obs: Any, state: Any) -> Any:
            return scripted(state)

    path = save_gif(task, args.out, policy=policy, seed=args.seed, **task_kwargs)
    out.print(f"wrote {path}")
    return 0


def _check_matches(args: argparse.Namespace, run: Any, task_kwargs: dict[str, Any]) -> None:
    """Options given next to a saved run must agree with its ``run.json``."""
    from coopbench.cli import CLIError

    if args.task and args.task != run.task:
        raise CLIError(f"the checkpoint was trained on task {run.task!r}, not {args.task!r}")
    if args.algo and args.algo != run.algo:
        raise CLIError(f"the checkpoint was written by {run.algo!r}, not {args.algo!r}")
    if any(run.task_kwargs.get(k) != v for k, v in task_kwargs.items()):
        raise CLIError(
            f"the checkpoint was trained with task keywords {run.task_kwargs}, not {task_kwargs}"
        )
    if args.set:
        raise CLIError("--set does not apply to a saved run: its config is in its run.json")


def _trained_policy(
    args: argparse.Namespace, task: str, task_kwargs: dict[str, Any], run: Any
) -> Any:
    """The policy ``args.policy_name`` of the checkpoint, checked like an evaluation's."""
    from coopbench.cli import CLIError, _overrides
    from coopbench.envs import make_batched
    from coopbench.envs.episodes import is_recurrent
    from coopbench.harness.checkpoints import load_saved
    from coopbench.harness.evaluate import checked_actions, reads_state

    spec = make_batched(task, 1, **task_kwargs).task
    if run is not None:
        algo = load_saved(args.checkpoint, run, args.device)
    else:
        from coopbench.algorithms.registry import get_algorithm
        from coopbench.harness.config import build_config

        cls = get_algorithm(args.algo)
        overrides = _overrides(args.algo, args.set)
        config = build_config(cls, task, "quick", overrides, spec.continuous_actions)
        algo = cls(spec, config, args.seed, args.device)
        algo.load(args.checkpoint)
    policies = algo.policies()
    name = args.policy_name
    if run is not None and name == "default" and name not in policies:
        name = run.policy_of(args.checkpoint) or next(iter(policies))  # e.g. CTEDD's global
    if name not in policies:
        raise CLIError(
            f"policy {name!r} not found; {run.algo if run else args.algo} has {sorted(policies)}"
        )
    p = policies[name]
    with_state = reads_state(p)

    if not is_recurrent(p):

        def policy(obs: Any, state: Any) -> Any:
            raw = p(obs, state) if with_state else p(obs)
            return checked_actions(raw, spec, 1, name)

        return policy
    return _CheckedRecurrent(p, with_state, spec, name)


class _CheckedRecurrent:
    """A recurrent policy (``envs.episodes.policy_act``'s protocol kept) whose actions are
    checked like an evaluation's."""

    def __init__(self, policy: Any, with_state: bool, spec: Any, name: str) -> None:
        self.policy, self.with_state, self.spec, self.name = policy, with_state, spec, name

    def initial_state(self, batch: int) -> Any:
        return self.policy.initial_state(batch)

    def __call__(self, obs: Any, state: Any, *, hidden: Any) -> tuple[Any, Any]:
        args = (obs, state) if self.with_state else (obs,)
        raw, hidden = self.policy(*args, hidden=hidden)
        return checked_actions(raw, self.spec, 1, self.name), hidden
