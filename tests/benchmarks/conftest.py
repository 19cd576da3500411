"""Benchmark session: each speed test records its rate; at the end every ratio is printed
next to its goal, misses marked (``speed_goals``). Reported, never asserted."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import speed_goals

_RATES: dict[str, dict[str, float]] = {}  # group -> {who: env steps per second}


@pytest.fixture
def record_rate() -> Callable[[str, str, float], None]:
    """``record_rate(group, who, env_steps_per_s)``: keep a rate for the closing summary."""

    def record(group: str, who: str, rate: float) -> None:
        _RATES.setdefault(group, {})[who] = float(rate)

    return record


def pytest_terminal_summary(terminalreporter) -> None:
    rows = speed_goals.goal_rows(_RATES)
    if not rows:
        return
    terminalreporter.write_sep("=", "speed against the goals (reported, not asserted)")
    for row in rows:
        terminalreporter.write_line(row.line(), red=row.status == speed_goals.MISSED)
    terminalreporter.write_line(speed_goals.summary(rows))
