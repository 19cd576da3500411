"""Runners for the speed comparison (docs/speed.md): our two faces and their peers.

Each ``*_runner`` builds one environment and returns ``(run, env_steps)``: ``run()``
plays whole episodes of random actions (drawn in advance, so the timing is the
environment's, not the random generator's) and resets when they end, and
``env_steps`` is how many environment steps one call makes (worlds x steps for
the batched faces). The peers are configured like ``spread``:

- PettingZoo face vs ``mpe2.simple_spread_v3.parallel_env(N=3, local_ratio=0.5,
  max_cycles=25)``, discrete actions, ``reset()`` when the agents are done;
- batched face vs VMAS ``simple_spread`` (3 agents, 3 landmarks) on the CPU with
  discrete actions, ``max_steps=25``, ``env.reset()`` when every world is done.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from coopbench.envs import make, make_batched

HORIZON = 25
N_AGENTS = 3
Runner = tuple[Callable[[], None], int]


def pettingzoo_runner(env, episodes: int, seed: int = 0) -> Runner:
    """``episodes`` episodes of a PettingZoo ParallelEnv with pre-drawn random actions."""
    rng = np.random.default_rng(seed)
    agents = list(env.possible_agents)
    table = [
        {a: int(x) for a, x in zip(agents, row, strict=True)}
        for row in rng.integers(0, 5, (HORIZON, len(agents)))
    ]
    env.reset(seed=seed)

    def run() -> None:
        for _ in range(episodes):
            env.reset()
            for actions in table:
                env.step(actions)
            assert not env.agents  # the episode ended at the horizon

    return run, episodes * HORIZON


def ours_pettingzoo(episodes: int) -> Runner:
    return pettingzoo_runner(make("spread"), episodes)


def mpe2_pettingzoo(episodes: int) -> Runner:
    from mpe2 import simple_spread_v3

    return pettingzoo_runner(
        simple_spread_v3.parallel_env(N=3, local_ratio=0.5, max_cycles=HORIZON), episodes
    )


def ours_batched(num_envs: int, episodes: int, seed: int = 0, task: str = "spread") -> Runner:
    """``make_batched(task, num_envs)`` with pre-drawn ``[B, 3]`` integer actions."""
    env = make_batched(task, num_envs)
    horizon = env.task.max_cycles
    actions = np.random.default_rng(seed).integers(0, 5, (horizon, num_envs, N_AGENTS))
    env.reset(seed=seed)

    def run() -> None:
        for _ in range(episodes):
            env.reset()
            for step_actions in actions:
                *_, truncated, _ = env.step(step_actions)
            assert truncated.all()

    return run, episodes * horizon * num_envs


def vmas_batched(num_envs: int, episodes: int, seed: int = 0) -> Runner:
    """VMAS ``simple_spread`` on the CPU, discrete actions, 25-step episodes."""
    import torch
    import vmas

    env = vmas.make_env(
        "simple_spread",
        num_envs=num_envs,
        device="cpu",
        continuous_actions=False,
        max_steps=HORIZON,
        seed=seed,
        n_agents=N_AGENTS,
    )
    gen = torch.Generator().manual_seed(seed)
    actions = [
        [torch.randint(0, 5, (num_envs,), generator=gen) for _ in range(N_AGENTS)]
        for _ in range(HORIZON)
    ]
    env.reset()

    def run() -> None:
        for _ in range(episodes):
            env.reset()
            for step_actions in actions:
                _, _, dones, _ = env.step(step_actions)
            assert bool(dones.all())

    return run, episodes * HORIZON * num_envs


def have_vmas() -> bool:
    try:
        import vmas  # noqa: F401
    except ImportError:
        return False
    return True


def episodes_for(num_envs: int, target_env_steps: int = 200_000, most: int = 400) -> int:
    """Episodes per timed call: about ``target_env_steps`` steps, at least one episode."""
    return int(np.clip(target_env_steps // (HORIZON * num_envs), 1, most))
