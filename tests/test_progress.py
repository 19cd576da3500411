"""Progress off a terminal: a log file gets one flushed line per update, not rich's final
frame alone (a sweep of hours would otherwise log nothing until it ended)."""

from __future__ import annotations

import select
import subprocess
import sys
import textwrap

from coopbench.harness.progress import JobProgress
from coopbench.harness.run import run_experiment
from coopbench.harness.sweep import run_sweep


def test_a_sweep_logs_a_line_per_run_with_its_outcome(tmp_path, capsys):
    kwargs = {"budget": 200, "progress": True}
    run_sweep(["spread"], ["random"], 2, "quick", str(tmp_path / "s.db"), **kwargs)
    run_sweep(["spread"], ["random"], 3, "quick", str(tmp_path / "s.db"), **kwargs)
    lines = [line.split(" [")[0] for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        "runs (1 done): 1/2",
        "runs (2 done): 2/2",
        # the resumed sweep counts the two finished runs as skipped, in plan order
        "runs (1 skipped): 1/3",
        "runs (2 skipped): 2/3",
        "runs (1 done, 2 skipped): 3/3",
    ]


def test_a_single_run_logs_every_tenth_of_its_budget(capsys):
    run_experiment("spread", "random", 0, budget=200_000, progress=True)
    lines = [line.split(" [")[0] for line in capsys.readouterr().out.splitlines()]
    # the quick tier evaluates every 10,000 steps: a line once 20,000 more are done
    assert lines == [f"spread random seed 0: {s}/200000" for s in range(20_000, 200_001, 20_000)]


def test_nothing_is_shown_when_disabled_and_no_line_repeats(capsys):
    with JobProgress(3, "x", enabled=False) as bar:
        bar.update(1)
    with JobProgress(3, "trials") as bar:
        bar.update(0)  # nothing done yet
        bar.update(2, "trials (best 0.5)")
        bar.update(2, "trials (best 0.6)")  # the same count: no new line
        bar.update(3)
        bar.update(3)  # a final update after the last unit
    lines = [line.split(" [")[0] for line in capsys.readouterr().out.splitlines()]
    assert lines == ["trials (best 0.5): 2/3", "trials (best 0.6): 3/3"]


def test_each_line_reaches_a_pipe_before_the_job_ends():
    """Flushed at once: the parent reads the line while the child still waits."""
    child = textwrap.dedent(
        """
        import sys
        from coopbench.harness.progress import JobProgress
        with JobProgress(2, "runs") as bar:
            bar.update(1)
            sys.stdin.readline()  # held until the parent has read the line
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", child],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        readable, _, _ = select.select([proc.stdout], [], [], 60)
        assert readable, "no line within 60 s: the progress line was not flushed"
        line = proc.stdout.readline()
        assert line.startswith("runs: 1/2 [0:00:0")
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
