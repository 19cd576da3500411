"""The env handed to ``learn``: a ``BatchedEnv`` that counts env steps, enforces the budget
and runs the evaluation schedule itself, whatever the algorithm does.

Counting: one ``step`` call advances ``num_envs`` worlds and costs ``num_envs`` env steps.
The budget is exact: a step that would take ``steps_taken`` past the budget is refused with
``BudgetExhausted`` before anything moves, so ``steps_taken <= budget`` always holds and
``exhausted`` turns True as soon as no whole step fits (``remaining < num_envs``).

Evaluation: the scheduled point ``s`` (0, eval_interval, …) is evaluated at the start of the
first ``step`` call that would take ``steps_taken`` past ``s`` — so the policy evaluated at
``s`` has been trained on at most ``s`` env steps, exactly ``s`` when ``num_envs`` divides
``s``, and it includes any update the algorithm made between its last step and this one.
The final point (the budget) and any point the algorithm never reached (``learn`` returned
early) are evaluated by ``finish()``, which the harness calls after ``learn`` returns, with
the frozen policies. A failed evaluation (e.g. NaN actions) is remembered: every later
``step`` and ``finish`` raise it again, so an algorithm cannot swallow it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from coopbench.algorithms.base import BudgetExhausted
from coopbench.envs import BatchedEnv, TaskSpec
from coopbench.validation import check_int

EvalCallback = Callable[[int, int], None]  # (scheduled step, env steps actually taken)


class BudgetEnv:
    """``TrainingEnv`` over a ``BatchedEnv`` with an exact budget and an evaluation schedule."""

    def __init__(
        self, env: BatchedEnv, budget: int, schedule: Sequence[int], on_eval: EvalCallback
    ) -> None:
        check_int(budget, "budget")
        points = [int(s) for s in schedule]
        if not points or points != sorted(set(points)) or points[-1] != budget or points[0] < 0:
            raise ValueError(
                f"schedule {points} is invalid; expected strictly increasing steps ending at "
                f"the budget {budget}"
            )
        self._env = env
        self._budget = int(budget)
        self._schedule = points
        self._next = 0  # index of the next scheduled point to evaluate
        self._on_eval = on_eval
        self._steps = 0
        self._failure: BaseException | None = None
        self.task: TaskSpec = env.task
        self.num_envs: int = env.num_envs

    # ------------------------------------------------------------ TrainingEnv
    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        self.raise_failure()
        return self._env.reset(seed=seed)

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        self.raise_failure()
        self._evaluate_until(self._steps + self.num_envs, inclusive=False)
        if self._steps + self.num_envs > self._budget:
            raise BudgetExhausted(
                f"budget of {self._budget} env steps: {self._steps} taken, one more step of "
                f"{self.num_envs} worlds would exceed it"
            )
        out = self._env.step(actions)
        self._steps += self.num_envs
        return out

    def state(self) -> np.ndarray:
        return self._env.state()

    def check_actions(self, actions: Any) -> np.ndarray:
        return self._env.check_actions(actions)

    @property
    def t(self) -> int:
        """Steps taken in the current episode."""
        return self._env.t

    @property
    def budget(self) -> int:
        return self._budget

    @property
    def steps_taken(self) -> int:
        return self._steps

    @property
    def remaining(self) -> int:
        return self._budget - self._steps

    @property
    def exhausted(self) -> bool:
        """True once no whole step of ``num_envs`` worlds fits in the remaining budget."""
        return self.remaining < self.num_envs

    # ------------------------------------------------------------ harness side
    @property
    def evaluated(self) -> list[int]:
        """Scheduled points evaluated so far."""
        return self._schedule[: self._next]

    def finish(self) -> None:
        """Evaluate every remaining scheduled point (the budget included) with the policies as
        they are now; called by the harness after ``learn`` returns."""
        self.raise_failure()
        self._evaluate_until(self._budget, inclusive=True)

    def _evaluate_until(self, limit: int, inclusive: bool) -> None:
        """Evaluate the pending points ``s < limit`` (``<=`` if inclusive); the budget point is
        left to ``finish``."""
        while self._next < len(self._schedule):
            point = self._schedule[self._next]
            due = point <= limit if inclusive else point < limit
            if not due or (point == self._budget and not inclusive):
                return
            try:
                self._on_eval(point, self._steps)
            except BaseException as exc:
                self._failure = exc
                raise
            self._next += 1

    def raise_failure(self) -> None:
        """Re-raise a failed evaluation (also one the algorithm caught)."""
        if self._failure is not None:
            raise self._failure
