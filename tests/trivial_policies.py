"""The bar every learning test must clear: the best trivial policy, measured in the test.

Two trivial policies are evaluated through the harness (``evaluate_policy``) on the very
evaluation worlds of a tier (its ``eval_seed`` and ``eval_episodes``), the worlds the
algorithm under test is evaluated on:

- no-op: every agent takes the no-op action (discrete action 0, or the continuous action
  of all zeros: both give zero force, ``coopbench.envs.core.action_force``);
- uniform random: discrete actions uniform over ``n_actions``, continuous actions uniform
  in [0, 1] per component (how ``reference_returns`` defines random play).

Standing still beats random play on every particle task (normalised no-op scores 0.06 to
0.19), so "above random" is not evidence of learning; "above max(no-op, random)" is.

Margin: ``margin_in_se`` is the algorithm's mean team return minus the better trivial
policy's mean, in standard errors of that difference, ``sqrt(se_algo² + se_trivial²)`` with
each SE the standard deviation of the per-episode team returns over the square root of the
number of evaluation episodes. The episodes are the same seeded worlds for both policies, so
this unpaired SE is conservative. Learning tests require ``MARGIN_SE`` of them: a one-sided
chance of about 0.1% that a policy no better than the trivial one passes on one seed.
"""

from __future__ import annotations

import functools

import numpy as np

from coopbench.envs import TaskSpec, make_batched
from coopbench.harness.evaluate import evaluate_policy
from coopbench.harness.protocol import get_protocol

MARGIN_SE = 3.0  # standard errors above max(no-op, random) every learning test asks for


class NoOp:
    """Every agent takes the no-op action: discrete 0 or continuous zeros (no force)."""

    centralised = False

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec

    def __call__(self, obs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        b, n = obs.shape[:2]
        if self.spec.continuous_actions:
            return np.zeros((b, n, self.spec.n_actions), dtype=np.float32)
        return np.zeros((b, n), dtype=np.int64)


class UniformRandom:
    """Uniformly random actions from a seeded generator."""

    centralised = False

    def __init__(self, spec: TaskSpec, seed: int = 0) -> None:
        self.spec, self.rng = spec, np.random.default_rng(seed)

    def __call__(self, obs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        b, n = obs.shape[:2]
        if self.spec.continuous_actions:
            return self.rng.uniform(0.0, 1.0, (b, n, self.spec.n_actions))
        return self.rng.integers(0, self.spec.n_actions, (b, n))


@functools.cache
def trivial_returns(task: str, tier: str, continuous: bool = False) -> dict[str, np.ndarray]:
    """Team returns ``[eval_episodes]`` of ``"noop"`` and ``"random"`` on the tier's
    evaluation worlds (cached per task, tier and action type)."""
    spec = make_batched(task, 1, continuous_actions=continuous).task
    p = get_protocol(tier)
    return {
        name: evaluate_policy(policy, spec, p.eval_episodes, p.eval_seed, name=name)
        for name, policy in (("noop", NoOp(spec)), ("random", UniformRandom(spec)))
    }


def _mean_se(returns: np.ndarray) -> tuple[float, float]:
    flat = np.asarray(returns, dtype=np.float64).ravel()
    return float(flat.mean()), float(flat.std(ddof=1) / np.sqrt(flat.size))


def margin_in_se(returns: np.ndarray, task: str, tier: str, continuous: bool = False) -> float:
    """How many standard errors the mean of ``returns`` lies above the better trivial policy.

    ``returns`` holds team returns ``[episodes]`` of one evaluation point or ``[points,
    episodes]`` of several: every point replays the same seeded worlds, so the points are
    first averaged per world and the standard error counts worlds, not points × worlds."""
    returns = np.asarray(returns, dtype=np.float64)
    mean, se = _mean_se(returns.mean(axis=0) if returns.ndim == 2 else returns)
    best_mean, best_se = max(_mean_se(r) for r in trivial_returns(task, tier, continuous).values())
    return (mean - best_mean) / float(np.hypot(se, best_se))


def assert_beats_trivial(
    returns: np.ndarray, task: str, tier: str, continuous: bool = False
) -> float:
    """The margin of ``returns`` in standard errors; ``AssertionError`` naming the
    algorithm's mean, both trivial means and the margin when it is below ``MARGIN_SE``."""
    margin = margin_in_se(returns, task, tier, continuous)
    trivial = trivial_returns(task, tier, continuous)
    means = {name: round(_mean_se(r)[0], 2) for name, r in trivial.items()}
    kind = "continuous" if continuous else "discrete"
    assert margin >= MARGIN_SE, (
        f"{task} ({kind}): mean team return {float(np.mean(returns)):.2f} is {margin:.2f} SE "
        f"above max(no-op, random) {means}; expected >= {MARGIN_SE}"
    )
    return margin
