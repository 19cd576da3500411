"""Evaluation protocol tiers: the sample budget, the evaluation schedule and its seeds.

Every result records its protocol, so numbers obtained under different tiers are never
compared. The paper evaluates every 10k samples (CTEDD, Chen 2019, section 5.2); both
tiers follow it. A run evaluates at step 0, every ``eval_interval`` env steps and at the
budget, each time on ``eval_episodes`` fresh evaluation worlds with the fixed seed
``eval_seed`` (common random numbers: every algorithm meets the same episodes). At the end
the best evaluation point is re-evaluated on ``absolute_factor × eval_episodes`` episodes
with a different fixed seed (the "absolute metric", Colas et al. 2018 / Gorsane et al. 2022).

Why ``eval_episodes = 500``: the team-return standard deviation of one episode, divided by
the random→heuristic gap of ``reference_returns.json``, is 0.44 (spread, cn-v1), 0.53 (pf),
0.33 (pp version 2; 0.86 against version 1's weaker heuristic) and up to 1.36 (cn-v2,
heavy-tailed) in normalised units. With 100 episodes one
point's standard error would be 0.14 on cn-v2 (measured: the heuristic scored 1.28 on one
100-episode seed set); with 500 it is 0.02-0.04 (0.06 on cn-v2), small next to the spread
between seeds, which is the resampling unit of every interval, and because every algorithm
is evaluated on the same seeded episodes, paired differences are tighter still. The absolute
metric (5000 episodes) brings cn-v2 to 0.02. Evaluation is one batch of 500 worlds stepped
for one horizon per point, a small cost next to training.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from coopbench.validation import check_int

EVAL_SEED = 1_000_003  # evaluation worlds; differs from the reference-return seed on purpose


@dataclass(frozen=True)
class TierProtocol:
    """One protocol tier; ``budget`` counts joint env steps summed over all training worlds.

    Budget semantics: the budget is exact — an algorithm never takes more than ``budget``
    env steps. A ``step`` call that would take the count past the budget is refused
    (``BudgetExhausted``, nothing is stepped), so when ``num_envs`` does not divide the
    budget the run stops at the largest multiple of ``num_envs`` below it.
    """

    tier: str
    budget: int  # env steps (one joint step of all agents in one world), over all worlds
    eval_interval: int  # env steps between evaluations (the paper: 10k samples)
    eval_episodes: int  # evaluation episodes per point (see the module docstring)
    eval_seed: int  # seed of the evaluation worlds, the same for every algorithm
    absolute_factor: int = 10  # the best point is re-evaluated on this many × eval_episodes

    def __post_init__(self) -> None:
        for name in ("budget", "eval_interval", "eval_episodes", "absolute_factor"):
            check_int(getattr(self, name), f"protocol {name}")

    @property
    def absolute_episodes(self) -> int:
        """Episodes of the final re-evaluation of the best checkpoint."""
        return self.absolute_factor * self.eval_episodes

    @property
    def absolute_seed(self) -> int:
        """Seed of the absolute-metric episodes (distinct from the curve's episodes)."""
        return self.eval_seed + 1

    def schedule(self) -> tuple[int, ...]:
        """Scheduled evaluation steps: 0, eval_interval, 2·eval_interval, …, budget."""
        return (*range(0, self.budget, self.eval_interval), self.budget)

    def with_budget(self, budget: int | None) -> TierProtocol:
        """The same tier with another budget (``None`` keeps the tier's budget)."""
        if budget is None:
            return self
        return replace(self, budget=check_int(budget, "budget"))

    def as_dict(self) -> dict[str, int | str]:
        """The protocol as recorded in every result."""
        return {
            "tier": self.tier,
            "budget": self.budget,
            "eval_interval": self.eval_interval,
            "eval_episodes": self.eval_episodes,
            "eval_seed": self.eval_seed,
            "absolute_episodes": self.absolute_episodes,
        }


PROTOCOLS: dict[str, TierProtocol] = {
    "quick": TierProtocol(
        "quick", budget=100_000, eval_interval=10_000, eval_episodes=500, eval_seed=EVAL_SEED
    ),
    "standard": TierProtocol(
        "standard", budget=1_000_000, eval_interval=10_000, eval_episodes=500, eval_seed=EVAL_SEED
    ),
}


def get_protocol(tier: str) -> TierProtocol:
    """The protocol of a tier name; ``ValueError`` listing the tiers otherwise."""
    try:
        return PROTOCOLS[tier]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown protocol tier {tier!r}; expected one of {list(PROTOCOLS)}"
        ) from None
