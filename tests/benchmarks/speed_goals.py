"""The speed goals (docs/speed.md, docs/baselines/mappo.md) and how a measured ratio is
reported against them: every ratio is printed next to its goal and a miss is marked.

Speed is never asserted (a shared machine makes timing asserts flaky); these rows are
printed at the end of a ``pytest tests/benchmarks -m bench`` session (``conftest.py``) and
by ``speed_table.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MISSED = "MISSED"


def goal_of(group: str) -> float | None:
    """The speed-ratio goal (ours / peer) of a comparison group; None when it has none."""
    if group == "pettingzoo spread":
        return 5.0  # PettingZoo face vs mpe2 simple_spread_v3
    batched = re.fullmatch(r"batched spread B=(\d+)", group)
    if batched:
        return 2.0 if int(batched.group(1)) <= 1024 else 1.0  # batched face vs VMAS (CPU)
    if group in ("mappo spread", "mappo spread, per CPU s"):
        return 3.0  # MAPPO training throughput vs BenchMARL's MAPPO on VMAS
    return None


@dataclass(frozen=True)
class GoalRow:
    """One comparison: our rate, the peer's (None if not measured) and the goal."""

    group: str
    ours: float
    peer: str
    peer_rate: float | None
    goal: float | None

    @property
    def ratio(self) -> float | None:
        return None if self.peer_rate is None else self.ours / self.peer_rate

    @property
    def status(self) -> str:
        if self.goal is None:
            return "no goal"
        if self.ratio is None:
            return f"{self.peer} not measured"
        return "met" if self.ratio >= self.goal else MISSED

    def line(self) -> str:
        ratio = "-" if self.ratio is None else f"{self.ratio:.2f}x"
        goal = "-" if self.goal is None else f">= {self.goal:g}x"
        peer = "-" if self.peer_rate is None else f"{self.peer_rate:,.0f}"
        return (
            f"{self.group:<26} ours {self.ours:>12,.0f} | {self.peer} {peer:>12} env steps/s | "
            f"ratio {ratio:>8} | goal {goal:<7} | {self.status}"
        )


def goal_rows(rates: dict[str, dict[str, float]], ours: str = "coopbench") -> list[GoalRow]:
    """Rows from ``{group: {who: env steps per second}}``; the peer is whoever is not ours."""
    rows = []
    for group, by_who in rates.items():
        if ours not in by_who:
            continue
        peers = [who for who in by_who if who != ours]
        peer = peers[0] if peers else "peer"
        rows.append(GoalRow(group, by_who[ours], peer, by_who.get(peer), goal_of(group)))
    return rows


def summary(rows: list[GoalRow]) -> str:
    """One closing line: how many goals were met and which were missed."""
    judged = [r for r in rows if r.status in ("met", MISSED)]
    missed = [f"{r.group} ({r.ratio:.2f}x < {r.goal:g}x)" for r in judged if r.status == MISSED]
    text = f"speed goals met: {len(judged) - len(missed)} of {len(judged)}"
    return text + (f"; {MISSED}: " + ", ".join(missed) if missed else "")
