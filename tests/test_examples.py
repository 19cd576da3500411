"""examples/minimal_algorithm.py: runs through the console script as a user would run it, and
is the example printed in docs/contracts.md, character for character."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from coopbench.results.store import Store

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "minimal_algorithm.py"
EXE = shutil.which("coopbench")
CMD = [EXE] if EXE else [sys.executable, "-m", "coopbench.cli"]


def test_minimal_algorithm_trains_through_coopbench_train(tmp_path) -> None:
    db = tmp_path / "example.db"
    env = {**os.environ, "COOPBENCH_DB": ""}  # examples/ is not on PYTHONPATH: cwd is searched
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
