"""The compiled (numba) and pure-numpy paths give the same episodes, step for step."""

from __future__ import annotations

import numpy as np
import pytest
from mpe2 import simple_spread_v3

from coopbench.envs import TASKS, heuristic_policy, kernels, make, make_batched, make_task
from coopbench.envs.batched import BatchedEnv
from coopbench.envs.core import Bodies, collision_pair_mask, physics_step
from coopbench.envs.parallel import CoopParallelEnv
from coopbench.envs.task import geometry

needs_numba = pytest.mark.skipif(not kernels.HAVE_NUMBA, reason="numba is not installed")
WORLDS = 32
TOL = 1e-6


def pair(task: str, continuous: bool, **kw) -> tuple[BatchedEnv, BatchedEnv]:
    def build(kernel: str) -> BatchedEnv:
        return BatchedEnv(make_task(task, continuous_actions=continuous, **kw), WORLDS, kernel)

    return build("numpy"), build("numba")


def compare_episodes(task: str, continuous: bool, episodes: int = 2, **kw) -> dict[str, float]:
    """Step both paths with the same actions (half random, half scripted so that pushes,
    captures and contacts happen); return event totals seen on the way."""
    ref, fast = pair(task, continuous, **kw)
    version = 1 if task == "pp" else None  # PP's version-1 heuristic chases: it captures
    policy = heuristic_policy(task, version=version, continuous_actions=continuous, **kw)
    rng = np.random.default_rng(7)
    events: dict[str, float] = {"contacts": 0.0}
    for episode in range(episodes):
        o_ref, _ = ref.reset(seed=episode)
        o_fast, _ = fast.reset(seed=episode)
        np.testing.assert_allclose(o_fast, o_ref, atol=TOL)
        for _ in range(ref.task.max_cycles):
            if continuous:
                noise = rng.uniform(-0.2, 1.2, (WORLDS, ref.task.n_agents, 5))
            else:
                noise = rng.integers(0, 5, (WORLDS, ref.task.n_agents))
            scripted = np.asarray(policy(ref.state()))
            actions = np.where(
                (np.arange(WORLDS) % 2 == 0).reshape((-1,) + (1,) * (noise.ndim - 1)),
                scripted,
                noise,
            )
            out_ref, out_fast = ref.step(actions), fast.step(actions)
            for a, b in zip(out_ref[:4], out_fast[:4], strict=True):
                assert a.dtype == b.dtype and a.shape == b.shape
                np.testing.assert_allclose(b, a, atol=TOL)
            assert out_ref[4].keys() == out_fast[4].keys()
            for key, value in out_ref[4].items():
                np.testing.assert_array_equal(out_fast[4][key], value)
                events[key] = events.get(key, 0.0) + float(np.sum(value))
            np.testing.assert_allclose(fast.state(), ref.state(), atol=TOL)
            events["contacts"] += float((ref.rules.collisions(geometry(ref._world)) < 0).sum())
    return events


@needs_numba
@pytest.mark.parametrize("continuous", [False, True])
@pytest.mark.parametrize("task", TASKS)
def test_numba_matches_numpy_over_episodes(task: str, continuous: bool) -> None:
    events = compare_episodes(task, continuous)
    assert events["contacts"] > 0  # the contact-force branch of the kernel was exercised
    if task == "pf":
        assert events["push"] > 0
    if task == "pp":
        assert events["captures"] > 0


@needs_numba
@pytest.mark.parametrize("obs_mode", ["distance", "relative", "mpe"])
def test_numba_matches_numpy_in_every_obs_mode(obs_mode: str) -> None:
    compare_episodes("cn-v1", False, episodes=1, obs_mode=obs_mode, n_agents=4, n_landmarks=2)


@needs_numba
def test_kernel_physics_with_speed_limit_sizes_and_ghosts() -> None:
    """General bodies: mixed sizes and masses, a non-colliding body, a speed limit."""
    bodies = Bodies(
        size=np.array([0.1, 0.2, 0.15, 0.3]),
        mass=np.array([1.0, 2.0, 0.5, 1.0]),
        collide=np.array([True, True, False, True]),
        max_speed=np.array([0.5, 1.0, 0.2, 0.8]),
    )
    mask = collision_pair_mask(bodies)
    rng = np.random.default_rng(3)
    pos = rng.uniform(-0.3, 0.3, (64, 4, 2))  # crowded: many overlaps
    vel = rng.normal(size=(64, 4, 2))
    u = rng.uniform(-5, 5, (64, 4, 2))
    landmarks = rng.uniform(-1, 1, (64, 2, 2))
    want_pos, want_vel = physics_step(pos, vel, u, bodies, mask)
    got = kernels.jitted().advance(
        pos, vel, u, landmarks, bodies.min_dist, mask, bodies.mass, bodies.max_speed
    )
    np.testing.assert_allclose(got[0], want_pos, atol=1e-12)
    np.testing.assert_allclose(got[1], want_vel, atol=1e-9)
    assert np.abs(want_vel - vel * 0.75).max() > 1.0  # contacts and clipping did act
    np.testing.assert_allclose(
        got[3], np.linalg.norm(want_pos[:, :, None] - landmarks[:, None], axis=-1), atol=1e-12
    )


@pytest.mark.parametrize("kernel", ["numpy", pytest.param("numba", marks=needs_numba)])
@pytest.mark.parametrize("continuous", [False, True])
def test_spread_matches_mpe2_on_both_paths(kernel: str, continuous: bool) -> None:
    """A shorter version of ``test_envs_parity``'s mpe2 check, run on each path."""
    for seed in range(10):
        ref = simple_spread_v3.parallel_env(
            N=3, local_ratio=0.5, max_cycles=25, continuous_actions=continuous
        )
        ours = CoopParallelEnv(make_task("spread", continuous_actions=continuous), kernel=kernel)
        ref_obs, _ = ref.reset(seed=seed)
        our_obs, _ = ours.reset(seed=seed)
        rng = np.random.default_rng(seed)
        while ref.agents:
            for a in ref.agents:
                np.testing.assert_allclose(our_obs[a], ref_obs[a], atol=TOL)
            if continuous:
                acts = {a: rng.uniform(-0.2, 1.2, 5).astype(np.float32) for a in ref.agents}
            else:
                acts = {a: int(rng.integers(5)) for a in ref.agents}
            ref_obs, ref_rew, _, _, _ = ref.step(dict(acts))
            our_obs, our_rew, _, _, _ = ours.step(dict(acts))
            for a in ref_rew:
                assert abs(ref_rew[a] - our_rew[a]) < TOL
        assert not ours.agents


def test_kernel_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    task = make_task("cn-v1")
    assert BatchedEnv(task, 2, kernel="numpy").kernel == "numpy"
    assert make_batched("cn-v1", 2, kernel="numpy").kernel == "numpy"
    assert make("cn-v1", kernel="numpy")._core.kernel == "numpy"
    monkeypatch.setenv(kernels.ENV_VAR, "numpy")
    assert BatchedEnv(task, 2).kernel == "numpy"
    monkeypatch.setenv(kernels.ENV_VAR, "fortran")
    with pytest.raises(ValueError, match=r"COOPBENCH_KERNEL='fortran' is invalid"):
        BatchedEnv(task, 2)
    with pytest.raises(ValueError, match=r"kernel='cuda' is invalid; expected one of"):
        BatchedEnv(task, 2, kernel="cuda")
    monkeypatch.delenv(kernels.ENV_VAR)
    assert BatchedEnv(task, 2).kernel == ("numba" if kernels.HAVE_NUMBA else "numpy")
    monkeypatch.setattr(kernels, "HAVE_NUMBA", False)
    assert BatchedEnv(task, 2).kernel == "numpy"  # the fallback
    with pytest.raises(ValueError, match="numba is not installed"):
        BatchedEnv(task, 2, kernel="numba")
