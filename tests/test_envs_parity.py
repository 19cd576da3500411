"""Exactness: spread reproduces mpe2, the batched face reproduces the PettingZoo face,
and whole episodes are reproducible from a seed."""

from __future__ import annotations

import numpy as np
import pytest
from mpe2 import simple_spread_v3

from coopbench.envs import TASKS, make, make_batched

EPISODES = 50


def random_actions(rng: np.random.Generator, agents: list[str], continuous: bool) -> dict:
    if continuous:
        return {a: rng.uniform(-0.2, 1.2, 5).astype(np.float32) for a in agents}  # some clipped
    return {a: int(rng.integers(5)) for a in agents}


@pytest.mark.parametrize("continuous", [False, True])
def test_spread_matches_mpe2(continuous: bool) -> None:
    worst_obs = worst_rew = 0.0
    steps = 0
    for seed in range(EPISODES):
        ref = simple_spread_v3.parallel_env(
            N=3, local_ratio=0.5, max_cycles=25, continuous_actions=continuous
        )
        ours = make("spread", continuous_actions=continuous)
        ref_obs, _ = ref.reset(seed=seed)
        our_obs, _ = ours.reset(seed=seed)
        rng = np.random.default_rng(1000 + seed)
        while True:
            assert ours.agents == ref.agents
            for a in ref.agents:
                worst_obs = max(worst_obs, np.abs(ref_obs[a] - our_obs[a]).max())
            if not ref.agents:
                break
            acts = random_actions(rng, ref.agents, continuous)
            ref_obs, ref_rew, _, ref_trunc, _ = ref.step(dict(acts))
            our_obs, our_rew, _, our_trunc, _ = ours.step(dict(acts))
            steps += 1
            for a in ref_rew:
                worst_rew = max(worst_rew, abs(ref_rew[a] - our_rew[a]))
                assert ref_trunc[a] == our_trunc[a]
    assert steps == EPISODES * 25
    assert worst_obs < 1e-6 and worst_rew < 1e-6, (worst_obs, worst_rew)


@pytest.mark.parametrize("continuous", [False, True])
@pytest.mark.parametrize("task", TASKS)
def test_batched_matches_pettingzoo(task: str, continuous: bool) -> None:
    pz = make(task, continuous_actions=continuous)
    batched = make_batched(task, 1, continuous_actions=continuous)
    agents = list(pz.possible_agents)
    events = 0.0
    for seed in range(EPISODES):
        pz_obs, _ = pz.reset(seed=seed)
        b_obs, _ = batched.reset(seed=seed)
        np.testing.assert_array_equal(np.stack([pz_obs[a] for a in agents]), b_obs[0])
        np.testing.assert_array_equal(pz.state(), batched.state()[0])
        rng = np.random.default_rng(seed)
        while pz.agents:
            acts = random_actions(rng, agents, continuous)
            pz_obs, pz_rew, _, pz_trunc, _ = pz.step(acts)
            batch = np.stack([np.asarray(acts[a]) for a in agents])[None]
            b_obs, b_rew, _, b_trunc, b_info = batched.step(batch)
            np.testing.assert_array_equal(np.stack([pz_obs[a] for a in agents]), b_obs[0])
            np.testing.assert_array_equal([pz_rew[a] for a in agents], b_rew[0])
            np.testing.assert_array_equal(pz.state(), batched.state()[0])
            assert all(pz_trunc[a] == b_trunc[0] for a in agents)
            events += sum(float(np.sum(v)) for v in b_info.values())
        assert b_trunc[0] and batched.t == pz.task.max_cycles


@pytest.mark.parametrize("continuous", [False, True])
@pytest.mark.parametrize("task", TASKS)
def test_whole_episodes_reproducible_from_seed(task: str, continuous: bool) -> None:
    def episodes(seed: int) -> tuple[np.ndarray, np.ndarray]:
        env = make_batched(task, 8, continuous_actions=continuous)
        rng = np.random.default_rng(99)
        obs_log, rew_log = [], []
        for ep in range(3):
            obs, _ = env.reset(seed=seed if ep == 0 else None)
            obs_log.append(obs)
            for _ in range(env.task.max_cycles):
                shape = (8, 3, 5) if continuous else (8, 3)
                a = rng.uniform(0, 1, shape) if continuous else rng.integers(0, 5, shape)
                obs, rew, *_ = env.step(a)
                obs_log.append(obs)
                rew_log.append(rew)
        return np.stack(obs_log), np.stack(rew_log)

    o1, r1 = episodes(5)
    o2, r2 = episodes(5)
    o3, _ = episodes(6)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(r1, r2)
    assert not np.array_equal(o1, o3)


def test_reset_without_seed_continues_the_stream() -> None:
    env = make_batched("cn-v1", 4)
    first, _ = env.reset(seed=3)
    second, _ = env.reset()
    again, _ = env.reset(seed=3)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)
