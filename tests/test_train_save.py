"""``coopbench train --save DIR`` + ``coopbench render --checkpoint DIR/best.ckpt``: a GIF of
the trained MAPPO policy; ``--tensorboard DIR`` writes the run's logs; ``render --algo``
without a checkpoint is a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from coopbench.cli import main
from coopbench.envs import make_batched
from coopbench.harness.checkpoints import load_saved, read_run_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COOPBENCH_DB", raising=False)


def _state(path: Path) -> dict:
    return torch.load(path, weights_only=True)["state"]


def _same(a: dict, b: dict) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_train_save_then_render_the_trained_mappo_policy(tmp_path, capsys):
    argv = ["train", "--task", "spread", "--algo", "mappo", "--budget", "1600", "--save", "ck"]
    assert main([*argv, "--no-db"]) == 0
    run = json.loads((tmp_path / "ck" / "run.json").read_text())
    assert run["steps_taken"] == 1600 and run["seed"] == 0
    assert run["algorithm"]["run_as"] == "mappo"
    assert run["best"]["default"]["file"] == "best.ckpt"
    assert run["best"]["default"]["step"] in range(0, 1601, 800)
    best = tmp_path / "ck" / "best.ckpt"
    assert (tmp_path / "ck" / "final.ckpt").is_file()

    # the checkpoint's weights are what render plays, not a fresh network
    saved = read_run_file(best)
    algo = load_saved(best, saved)
    algo.save(tmp_path / "again.ckpt")
    assert _same(_state(tmp_path / "again.ckpt"), _state(best))
    fresh = type(algo)(make_batched("spread", 1).task, algo.config, 1)
    fresh.save(tmp_path / "fresh.ckpt")
    assert not _same(_state(tmp_path / "fresh.ckpt"), _state(best))

    assert main(["render", "--checkpoint", "ck/best.ckpt", "--out", "trained.gif"]) == 0
    gif = Image.open(tmp_path / "trained.gif")
    assert gif.format == "GIF"
    assert gif.n_frames == 26  # the reset frame and 25 steps of spread


def test_render_algo_without_checkpoint_is_a_one_line_error(capsys):
    rc = main(["render", "--task", "spread", "--algo", "mappo", "--out", "x.gif"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and len(err.splitlines()) == 1
    assert "--algo mappo needs --checkpoint" in err
    assert not Path("x.gif").exists()


def test_saved_run_rejects_a_different_task(tmp_path, capsys):
    argv = ["train", "--task", "spread", "--algo", "random", "--budget", "200", "--save", "ck"]
    assert main([*argv, "--no-db"]) == 0
    capsys.readouterr()
    rc = main(["render", "--task", "pp", "--checkpoint", "ck/best.ckpt", "--out", "x.gif"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and "trained on task 'spread', not 'pp'" in err


def test_tensorboard_gets_the_logged_metrics_and_evaluations(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    argv = ["train", "--task", "spread", "--algo", "tests.fixtures.threads_algo:ThreadsAlgo"]
    assert main([*argv, "--budget", "200", "--tensorboard", "tb", "--db", "r.db"]) == 0
    (folder,) = [p for p in (tmp_path / "tb").rglob("*") if p.is_file()]
    events = EventAccumulator(str(folder.parent))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert {"train/torch_threads", "train/team_reward", "eval/default/team_return_mean"} <= set(
        tags
    )
    assert [e.step for e in events.Scalars("train/torch_threads")] == [0]
    evals = [e.step for e in events.Scalars("eval/default/team_return_mean")]
    assert evals[0] == 0 and evals[-1] == 200  # the schedule's first point and the budget
    # bench mirrors the same run from the store (skipped there: it is finished)
    bench = ["bench", "--tasks", "spread", "--algos", "tests.fixtures.threads_algo:ThreadsAlgo"]
    assert main([*bench, "--seeds", "1", "--budget", "200", "--db", "r.db", "--tensorboard",
                 "tb2", "--workers", "1"]) == 0  # fmt: skip
    assert "wrote 1 run(s) as TensorBoard logs" in capsys.readouterr().out
    assert len([p for p in (tmp_path / "tb2").rglob("*") if p.is_file()]) == 1


def test_render_keeps_a_recurrent_policys_hidden_state(tmp_path, capsys):
    """rMAPPO's policy is rendered through the recurrent protocol (the hidden state is reset
    at the start and carried): it used to fail for want of ``hidden``."""
    argv = ["train", "--task", "spread", "--algo", "mappo", "--set", "recurrent=true"]
    assert main([*argv, "--budget", "800", "--save", "ck", "--no-db"]) == 0
    assert main(["render", "--checkpoint", "ck/best.ckpt", "--out", "r.gif"]) == 0
    assert Image.open(tmp_path / "r.gif").n_frames == 26
