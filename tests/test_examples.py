"""examples/minimal_algorithm.py: runs through the console script as a user would run it, and
is the example printed in docs/contracts.md, character for character. The library examples
(CleanRL-style loop, SB3) train under a tiny budget and land a submission."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from coopbench.harness import run_experiment
from coopbench.results.store import Store

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "minimal_algorithm.py"
EXE = shutil.which("coopbench")
CMD = [EXE] if EXE else [sys.executable, "-m", "coopbench.cli"]


def test_minimal_algorithm_trains_through_coopbench_train(tmp_path) -> None:
    db = tmp_path / "example.db"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([".", os.environ.get("PYTHONPATH", "")]),
        "COOPBENCH_DB": "",
    }
    argv = ["train", "--task", "spread", "--algo", "minimal_algorithm:BanditAlgorithm"]
    proc = subprocess.run(
        [*CMD, *argv, "--budget", "320", "--set", "epsilon=0.5", "--db", str(db)],
        cwd=EXAMPLE.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    with Store(db) as store:
        (doc,) = store.submissions()
    assert doc["algorithm"]["path"] == "minimal_algorithm:BanditAlgorithm"
    assert doc["algorithm"]["config"] == {"num_envs": 16, "epsilon": 0.5}
    assert doc["policies"]["default"]["label"] == "Bandit"
    assert sorted(e["step"] for e in doc["evaluations"]["default"]) == [0, 320]


def test_contracts_doc_prints_the_example_verbatim() -> None:
    doc = (ROOT / "docs" / "contracts.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL)
    assert EXAMPLE.read_text() in blocks


@pytest.mark.parametrize(
    ("path", "label", "budget"),
    [("cleanrl_ippo:CleanIPPO", "CleanRL-IPPO", 800), ("sb3_ppo:SB3PPO", "SB3-PPO", 400)],
)
def test_library_examples_train_under_the_budget_and_land_a_submission(
    path, label, budget, tmp_path, monkeypatch
) -> None:
    """The CleanRL-style loop (gymnasium vector face) and SB3 (its VecEnv face) train through
    run_experiment: the budget is spent exactly, the schedule evaluated, a submission stored."""
    monkeypatch.syspath_prepend(str(EXAMPLE.parent))
    with Store(tmp_path / "examples.db") as store:
        result = run_experiment("spread", path, seed=0, budget=budget, sink=store)
        (doc,) = store.submissions()
    assert result.steps_taken == budget
    assert doc["algorithm"]["path"] == path
    assert doc["policies"]["default"]["label"] == label
    assert sorted(e["step"] for e in doc["evaluations"]["default"]) == [0, budget]
    steps, returns = result.curves["default"]
    assert steps.tolist() == [0, budget]
    assert not np.array_equal(returns[0], returns[1])  # training changed the policy
    assert result.logs and result.logs[-1]["step"] == budget


@pytest.mark.slow
@pytest.mark.parametrize("path", ["cleanrl_ippo:CleanIPPO", "sb3_ppo:SB3PPO"])
def test_library_examples_learn_spread_at_the_quick_tier(path, monkeypatch) -> None:
    """The numbers in docs/integrations.md (seed 0; measured 0.34 / 0.37 final, 0.37 / 0.38
    absolute, from -0.76 / -0.60 at step 0)."""
    monkeypatch.syspath_prepend(str(EXAMPLE.parent))
    result = run_experiment("spread", path, seed=0, tier="quick")
    _, curve = result.normalised_curves()["default"]
    assert curve[0] < 0 < 0.25 < curve[-1]
    assert result.absolute_scores()["default"] > 0.25
