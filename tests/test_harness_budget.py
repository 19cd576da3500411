"""The budget is exact and evaluations happen at exactly the scheduled steps, whatever the
algorithm does (odd num_envs, early return, catching BudgetExhausted, swallowing errors)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from coopbench.algorithms.base import Algorithm, BudgetExhausted
from coopbench.envs import make_batched
from coopbench.harness import BudgetEnv, EvaluationError, TierProtocol, get_protocol, run_experiment

PROTO = TierProtocol("test", budget=100, eval_interval=30, eval_episodes=4, eval_seed=5)
SCHEDULE = (0, 30, 60, 90, 100)


def zeros(env):
    return np.zeros((env.num_envs, env.task.n_agents), dtype=int)


def drive(num_envs: int, budget: int = 100, schedule=SCHEDULE):
    """Step a BudgetEnv until exhausted; return it and the (point, steps_taken) calls."""
    calls: list[tuple[int, int]] = []
    env = BudgetEnv(
        make_batched("spread", num_envs), budget, schedule, lambda p, s: calls.append((p, s))
    )
    env.reset(seed=0)
    while not env.exhausted:
        _, _, _, trunc, _ = env.step(zeros(env))
        if trunc.all():
            env.reset()
    return env, calls


@pytest.mark.parametrize("num_envs", [1, 5, 7, 10, 30, 33, 64])
def test_budget_exact_and_schedule(num_envs):
    env, calls = drive(num_envs)
    # never more than the budget; exactly the budget when num_envs divides it
    assert env.steps_taken == (100 // num_envs) * num_envs <= 100
    assert env.remaining == 100 - env.steps_taken and env.remaining < num_envs
    with pytest.raises(BudgetExhausted):
        env.step(zeros(env))
    assert env.steps_taken == (100 // num_envs) * num_envs  # the refused step moved nothing
    env.finish()
    points = [p for p, _ in calls]
    assert points == list(SCHEDULE)  # each point exactly once, in order
    for point, seen in calls:
        # the policy evaluated at `point` was trained on at most `point` env steps, and on
        # the most that whole steps allow (within one step of num_envs worlds)
        assert seen <= point
        assert seen > point - num_envs or seen == env.steps_taken


def test_point_evaluated_before_the_step_that_crosses_it():
    calls = []
    env = BudgetEnv(make_batched("spread", 10), 100, SCHEDULE, lambda p, s: calls.append((p, s)))
    env.reset(seed=0)
    env.step(zeros(env))  # step 0 evaluated before the first step
    assert calls == [(0, 0)]
    env.step(zeros(env))
    env.step(zeros(env))
    assert calls == [(0, 0)]  # 30 reached, evaluated lazily at the next step call
    env.step(zeros(env))
    assert calls == [(0, 0), (30, 30)]


def test_finish_evaluates_points_never_reached():
    calls = []
    env = BudgetEnv(make_batched("spread", 10), 100, SCHEDULE, lambda p, s: calls.append((p, s)))
    env.finish()
    assert calls == [(p, 0) for p in SCHEDULE]
    env.finish()  # idempotent: nothing twice
    assert len(calls) == len(SCHEDULE)


def test_failed_evaluation_is_sticky():
    def boom(point, seen):
        if point == 30:
            raise EvaluationError("bad")

    env = BudgetEnv(make_batched("spread", 10), 100, SCHEDULE, boom)
    env.reset(seed=0)
    with pytest.raises(EvaluationError):
        for _ in range(5):
            env.step(zeros(env))
    for call in (lambda: env.step(zeros(env)), env.finish, env.raise_failure):
        with pytest.raises(EvaluationError):
            call()


@pytest.mark.parametrize(
    "budget, schedule", [(0, (0,)), (-5, (0, -5)), (100, (0, 50)), (100, (0, 60, 30, 100))]
)
def test_bad_budget_or_schedule(budget, schedule):
    with pytest.raises(ValueError, match=r"budget|schedule"):
        BudgetEnv(make_batched("spread", 2), budget, schedule, lambda p, s: None)


def test_protocols():
    quick, standard = get_protocol("quick"), get_protocol("standard")
    assert (quick.budget, standard.budget) == (100_000, 1_000_000)
    assert quick.eval_interval == standard.eval_interval == 10_000
    assert quick.schedule() == tuple(range(0, 100_001, 10_000))
    assert quick.absolute_episodes == 10 * quick.eval_episodes
    assert quick.absolute_seed != quick.eval_seed
    assert TierProtocol("x", 25, 10, 2, 0).schedule() == (0, 10, 20, 25)
    with pytest.raises(ValueError, match="unknown protocol tier 'huge'"):
        get_protocol("huge")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="budget"):
            quick.with_budget(bad)


# --------------------------------------------------------------- whole runs, odd algorithms


@dataclass
class StepConfig:
    num_envs: int = 7  # odd on purpose: 7 divides neither the interval nor the budget
    early_return_after: int = -1  # steps before learn returns (-1: run to the budget)
    catch: bool = False  # keep stepping after BudgetExhausted, catching it


class ZeroPolicy:
    centralised = False

    def __call__(self, obs, state=None):
        return np.zeros(obs.shape[:2], dtype=int)


class Stepper(Algorithm):
    name = "stepper"
    Config = StepConfig

    def learn(self, env, hooks):
        env.reset(seed=self.seed)
        steps = 0
        tries = 0
        while True:
            if steps == self.config.early_return_after:
                return
            if env.exhausted and not self.config.catch:
                return
            try:
                _, _, _, trunc, _ = env.step(zeros(env))
            except BudgetExhausted:
                tries += 1
                if tries > 3:
                    return
                continue
            steps += 1
            if trunc.all():
                env.reset()

    def policies(self):
        return {"default": ZeroPolicy()}


@pytest.fixture
def stepper(monkeypatch):
    import sys
    import types

    module = types.ModuleType("harness_test_algos")
    module.Stepper = Stepper
    monkeypatch.setitem(sys.modules, "harness_test_algos", module)
    return "harness_test_algos:Stepper"


@pytest.mark.parametrize(
    "overrides, taken",
    [
        ({}, 98),  # 14 steps of 7 worlds; a 15th would exceed 100
        ({"num_envs": 10}, 100),
        ({"early_return_after": 3}, 21),  # returns early: the rest is evaluated frozen
        ({"catch": True}, 98),  # catches BudgetExhausted and retries
        ({"catch": True, "num_envs": 20}, 100),
    ],
)
def test_run_evaluates_exactly_the_schedule(stepper, overrides, taken):
    result = run_experiment("spread", stepper, seed=0, tier=PROTO, overrides=overrides)
    steps, returns = result.curves["default"]
    assert steps.tolist() == list(SCHEDULE)
    assert returns.shape == (len(SCHEDULE), PROTO.eval_episodes)
    assert result.steps_taken == taken
    assert result.absolute["default"].shape == (PROTO.absolute_episodes,)


def test_algorithm_stepping_past_budget_without_checking(stepper):
    """learn() letting BudgetExhausted escape just ends training."""

    class Reckless(Stepper):
        def learn(self, env, hooks):
            env.reset(seed=0)
            while True:
                _, _, _, trunc, _ = env.step(zeros(env))
                if trunc.all():
                    env.reset()

    import sys

    sys.modules["harness_test_algos"].Reckless = Reckless
    result = run_experiment("spread", "harness_test_algos:Reckless", 0, tier=PROTO)
    assert result.steps_taken == 98
    assert result.curves["default"][0].tolist() == list(SCHEDULE)
