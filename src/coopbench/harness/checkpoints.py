"""Checkpoints a run leaves behind (``coopbench train --save DIR``) and reading them back.

``DIR`` receives, once ``learn`` has returned (before the absolute-metric re-evaluation):

- ``final.ckpt`` — ``algorithm.save`` at the end of training;
- ``best.ckpt`` — the checkpoint of the evaluation point where the ``"default"`` policy (the
  first policy when there is no ``"default"``) scored best; ``best-NAME.ckpt`` for every
  other policy ``NAME`` (CTEDD's ``global``);
- ``run.json`` — what rebuilds the algorithm: task and its keywords, algorithm (registered
  name or ``module:Class``), resolved config, seed, protocol, run key, ``steps_taken`` and,
  per policy, the best step and its file.

``load_saved(checkpoint)`` reads ``run.json`` beside a checkpoint and returns an algorithm
with that checkpoint loaded (``coopbench render --checkpoint DIR/best.ckpt``). Algorithms
without ``save``/``load`` (stateless ones) write ``{}`` files.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RUN_FILE", "SavedRun", "best_file", "load_saved", "read_run_file", "save_run"]

RUN_FILE = "run.json"


def best_file(name: str, names: list[str]) -> str:
    """The file name of policy ``name``'s best checkpoint among the run's policies."""
    main = "default" if "default" in names else names[0]
    return "best.ckpt" if name == main else f"best-{name}.ckpt"


def save_run(
    directory: str | Path,
    algorithm: Any,
    best: dict[str, tuple[float, int, Any]],
    meta: dict[str, Any],
    algo: str,
    key: str,
    steps_taken: int,
) -> Path:
    """Write ``final.ckpt``, the best checkpoints and ``run.json`` into ``directory``.

    ``best`` is the evaluator's ``{policy: (mean return, step, snapshot)}``: a snapshot is
    the checkpoint file written at that step, or (an algorithm without ``save``) a policy
    copy, for which the current ``save`` is written instead.
    """
    out = Path(directory)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--save {str(out)!r}: cannot create the folder: {exc}") from None
    algorithm.save(out / "final.ckpt")
    names = list(best)
    policies = {}
    for name, (mean, step, snapshot) in best.items():
        file = best_file(name, names)
        if isinstance(snapshot, Path):
            shutil.copyfile(snapshot, out / file)
        else:
            algorithm.save(out / file)
        policies[name] = {"file": file, "step": int(step), "mean_team_return": float(mean)}
    info = {
        "task": meta["task"],
        "algorithm": {"run_as": algo, **meta["algorithm"]},
        "seed": meta["seed"],
        "protocol": meta["protocol"],
        "run_key": key,
        "steps_taken": int(steps_taken),
        "final": "final.ckpt",
        "best": policies,
    }
    (out / RUN_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return out


@dataclass(frozen=True)
class SavedRun:
    """What ``run.json`` says about a saved run."""

    task: str
    task_kwargs: dict[str, Any]
    algo: str
    config: dict[str, Any]
    seed: int
    best_files: dict[str, str]  # best checkpoint file name -> its policy

    def policy_of(self, checkpoint: str | Path) -> str | None:
        """The policy whose best checkpoint ``checkpoint`` is (None: final or unknown)."""
        return self.best_files.get(Path(checkpoint).name)


def read_run_file(checkpoint: str | Path) -> SavedRun | None:
    """``run.json`` beside ``checkpoint``; None when there is none."""
    path = Path(checkpoint).parent / RUN_FILE
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text())
        return SavedRun(
            task=info["task"]["id"],
            task_kwargs=dict(info["task"]["kwargs"]),
            algo=info["algorithm"]["run_as"],
            config=dict(info["algorithm"]["config"]),
            seed=int(info["seed"]),
            best_files={v["file"]: name for name, v in info.get("best", {}).items()},
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        kind = type(exc).__name__
        raise ValueError(f"{path}: not a coopbench run file ({kind}: {exc})") from None


def load_saved(checkpoint: str | Path, run: SavedRun, device: str = "cpu") -> Any:
    """The algorithm of ``run`` (its recorded config) with ``checkpoint`` loaded."""
    from coopbench.algorithms.registry import get_algorithm
    from coopbench.envs import make_batched
    from coopbench.harness.config import build_config

    if not Path(checkpoint).is_file():
        raise ValueError(f"checkpoint {str(checkpoint)!r} does not exist")
    cls = get_algorithm(run.algo)
    spec = make_batched(run.task, 1, **run.task_kwargs).task
    config = build_config(cls, run.task, "quick", run.config, spec.continuous_actions)
    algorithm = cls(spec, config, run.seed, device)
    algorithm.load(checkpoint)
    return algorithm
