"""The reference-return table of docs/tasks.md §5 states the stored numbers."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest

from coopbench.envs import TASKS

DOC = Path(__file__).parents[1] / "docs" / "tasks.md"
STORED = json.loads(
    resources.files("coopbench.envs").joinpath("reference_returns.json").read_text()
)
POLICIES = ("random", "noop", "heuristic")


def number(text: str) -> float:
    return float(text.replace("−", "-"))


@pytest.mark.parametrize("mode", ["discrete", "continuous"])
@pytest.mark.parametrize("task", TASKS)
def test_docs_table_matches_stored_returns(task: str, mode: str) -> None:
    rows = [
        line for line in DOC.read_text().splitlines() if line.startswith(f"| {task} | {mode} |")
    ]
    assert len(rows) == 1, rows
    cells = [c.strip() for c in rows[0].split("|")[3:7]]
    entry = STORED[task][mode]
    for policy, cell in zip(POLICIES, cells[:3], strict=True):
        mean, sem = re.fullmatch(r"(\S+) \((\S+)\)", cell).groups()
        assert number(mean) == pytest.approx(entry[policy]["mean"], abs=0.006), (policy, cell)
        assert number(sem) == pytest.approx(entry[policy]["sem"], abs=0.006), (policy, cell)
    r, n, h = (entry[p]["mean"] for p in POLICIES)
    assert number(cells[3]) == pytest.approx((n - r) / (h - r), abs=0.006)
