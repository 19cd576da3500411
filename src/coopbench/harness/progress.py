"""Progress of long jobs: a rich bar on a terminal, flushed plain lines anywhere else.

rich draws a live bar only on a terminal; writing to a file (``nohup``, a batch job's log,
CI) it shows the final state alone, so a sweep or a study of hours would log nothing until
it ended. Off a terminal the same updates are printed as one line each, flushed at once:
``runs (3 done): 3/80 [0:02:31]``. ``min_step`` thins the lines (a single run prints every
tenth of its budget rather than each of its evaluation points).
"""

from __future__ import annotations

import datetime
import time
from typing import Any

__all__ = ["JobProgress"]


class JobProgress:
    """Progress of ``total`` units (runs, trials, env steps) as a context manager; nothing
    at all when ``enabled`` is false."""

    def __init__(
        self,
        total: int,
        description: str,
        enabled: bool = True,
        transient: bool = False,
        min_step: int = 0,
    ) -> None:
        self.total, self.description, self.enabled = total, description, enabled
        self.transient, self.min_step = transient, min_step
        self.bar: Any = None
        self.shown = 0  # units at the last printed line
        self.started = time.monotonic()

    def __enter__(self) -> JobProgress:
        from rich.console import Console

        if self.enabled and Console().is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                transient=self.transient,
            )
            self.task = self.bar.add_task(self.description, total=self.total)
            self.bar.start()
        self.started = time.monotonic()
        return self

    def update(self, completed: int, description: str | None = None) -> None:
        """``completed`` units so far; ``description`` replaces the label when given."""
        if description is not None:
            self.description = description
        if self.bar is not None:
            self.bar.update(self.task, completed=completed, description=self.description)
        elif (
            self.enabled
            and completed > self.shown
            and (completed - self.shown >= self.min_step or completed >= self.total)
        ):
            self.shown = completed
            elapsed = datetime.timedelta(seconds=int(time.monotonic() - self.started))
            print(f"{self.description}: {completed}/{self.total} [{elapsed}]", flush=True)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
