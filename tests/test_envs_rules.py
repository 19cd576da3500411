"""Analytic checks of the physics and of each task's rules against hand-worked cases."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from coopbench.envs import make_batched
from coopbench.envs import pp as pp_module
from coopbench.envs.cn_v2 import pair_cost
from coopbench.envs.core import Bodies, collision_pair_mask, physics_step
from coopbench.envs.task import World, geometry


def place(env, agents, landmarks, vel=None) -> None:
    """Reset then overwrite world 0 with hand-chosen positions (and velocities)."""
    env.reset(seed=0)
    w = env._world
    w.agent_pos[0] = np.asarray(agents, dtype=float)
    w.landmark_pos[0] = np.asarray(landmarks, dtype=float)
    w.agent_vel[0] = 0.0 if vel is None else np.asarray(vel, dtype=float)


def test_integration_order_by_hand() -> None:
    bodies = Bodies.agents(1)
    pos, vel = np.array([[[0.5, -0.2]]]), np.array([[[1.0, 0.0]]])
    u = np.array([[[5.0, 0.0]]])
    new_pos, new_vel = physics_step(pos, vel, u, bodies, collision_pair_mask(bodies))
    # p += v dt first (old velocity), then v = 0.75 v + u dt
    np.testing.assert_allclose(new_pos, [[[0.6, -0.2]]])
    np.testing.assert_allclose(new_vel, [[[0.75 + 0.5, 0.0]]])


def test_contact_force_by_hand() -> None:
    bodies = Bodies.agents(2)
    pos = np.array([[[0.0, 0.0], [0.25, 0.0]]])  # overlap 0.05 with d_min = 0.3
    _, vel = physics_step(
        pos, np.zeros_like(pos), np.zeros_like(pos), bodies, collision_pair_mask(bodies)
    )
    k = 1e-3
    penetration = k * np.logaddexp(0.0, 0.05 / k)
    force = 100.0 * penetration  # along -x on agent 0, +x on agent 1
    np.testing.assert_allclose(vel[0, 0], [-force * 0.1, 0.0])
    np.testing.assert_allclose(vel[0, 1], [force * 0.1, 0.0])


def test_max_speed_clipping() -> None:
    bodies = Bodies(np.full(1, 0.1), np.ones(1), np.ones(1, bool), max_speed=np.array([0.3]))
    _, vel = physics_step(
        np.zeros((1, 1, 2)),
        np.array([[[3.0, 4.0]]]),
        np.zeros((1, 1, 2)),
        bodies,
        collision_pair_mask(bodies),
    )
    np.testing.assert_allclose(vel, [[[0.18, 0.24]]])


def test_cn_v1_reward_cover_and_collisions() -> None:
    env = make_batched("cn-v1", 1)
    agents = [[0.0, 0.0], [0.2, 0.0], [2.0, 2.0]]  # 0 and 1 collide (0.2 < 0.3)
    place(env, agents, [[0.0, 0.5], [1.0, 0.0], [2.0, 1.0]])
    _, rew, *_ = env.step(np.zeros((1, 3), dtype=np.int64))
    pos = env._world.agent_pos[0]
    lm = np.array([[0.0, 0.5], [1.0, 0.0], [2.0, 1.0]])
    cover = -np.linalg.norm(pos[:, None] - lm[None], axis=-1).min(axis=0).sum()
    np.testing.assert_allclose(rew[0], [cover - 1, cover - 1, cover], rtol=1e-6)


def test_cn_v2_pair_cost_by_hand() -> None:
    # landmark 0 has the nearest agent (0.1) -> l* = 0
    d = np.array([[[0.1, 1.0], [0.4, 0.5], [0.9, 0.2]]])
    pair, wrong, star = pair_cost(d)
    # k = 2 goes to l': 0.2 + 0.1 + 0.4 = 0.7 (k=0: 1.0+0.4+0.9, k=1: 0.5+0.1+0.9)
    np.testing.assert_allclose(pair, [0.7])
    assert star[0] == 0 and not wrong[0]
    d_wrong = np.array([[[0.1, 1.0], [0.6, 0.5], [0.9, 0.2]]])  # agents 1, 2 closer to l'
    assert pair_cost(d_wrong)[1][0]


def test_cn_v2_reward_includes_wrong_penalty() -> None:
    env = make_batched("cn-v2", 1)
    place(env, [[0.0, 0.0], [2.0, 0.05], [2.0, -0.4]], [[0.05, 0.0], [2.0, -0.1]])
    _, rew, _, _, info = env.step(np.zeros((1, 3), dtype=np.int64))
    assert info["wrong"][0]
    d = np.linalg.norm(env._world.agent_pos[0][:, None] - env._world.landmark_pos[0][None], axis=-1)
    expected = -pair_cost(d[None])[0][0] - 10.0
    np.testing.assert_allclose(rew[0], [expected] * 3, rtol=1e-6)


def test_pf_push_needs_zones_and_rightward_motion() -> None:
    env = make_batched("pf", 1)
    lms = [[-0.5, 0.0], [0.0, 0.8], [0.5, -0.8]]
    agents = [[-0.6, 0.0], [-0.1, 0.8], [0.4, -0.8]]
    place(env, agents, lms, vel=[[0.5, 0.0]] * 3)  # moving right, each in its own zone
    _, rew, _, _, info = env.step(np.zeros((1, 3), dtype=np.int64))
    assert info["push"][0]
    np.testing.assert_allclose(env._world.landmark_pos[0], np.array(lms) + [0.05, 0.0])
    assert np.all(rew[0] > 9.0)
    place(env, agents, lms, vel=[[0.5, 0.0], [0.5, 0.0], [-0.5, 0.0]])  # one moves left
    _, _, _, _, info = env.step(np.zeros((1, 3), dtype=np.int64))
    assert not info["push"][0]
    np.testing.assert_allclose(env._world.landmark_pos[0], lms)
    place(env, [[-0.6, 0.0], [-0.4, 0.0], [0.4, -0.8]], lms, vel=[[0.5, 0.0]] * 3)
    _, _, _, _, info = env.step(np.zeros((1, 3), dtype=np.int64))  # two agents share a zone
    assert not info["push"][0]


def test_pp_prey_flees_and_stays_in_arena() -> None:
    prey = np.array([[[0.0, 0.0], [0.98, 0.98]]])
    predicted = np.array([[[-0.5, 0.0], [-0.5, 0.1], [-0.5, -0.1]]])
    new = pp_module.prey_moves(prey, predicted)
    step = np.linalg.norm(new - prey, axis=-1)
    np.testing.assert_allclose(step, pp_module.PREY_STEP)
    assert new[0, 0, 0] == pytest.approx(pp_module.PREY_STEP)  # straight away along +x
    assert np.all(np.abs(new) <= 1.0)


def test_pp_capture_reward_and_respawn() -> None:
    env = make_batched("pp", 1)
    r = 0.2
    ring = [[r * np.cos(a), r * np.sin(a)] for a in (0, 2 * np.pi / 3, 4 * np.pi / 3)]
    place(env, ring, [[0.0, 0.0], [0.9, 0.9]])
    _, rew, _, _, info = env.step(np.zeros((1, 3), dtype=np.int64))
    assert info["captures"][0] == 1
    assert np.all(rew[0] > 5.0)
    gaps = np.linalg.norm(env._world.agent_pos[0] - env._world.landmark_pos[0, 0], axis=-1)
    assert gaps.min() >= pp_module.RESPAWN_MIN_DIST
    assert np.all(np.abs(env._world.landmark_pos) <= 1.0)


def test_state_layout() -> None:
    env = make_batched("pf", 2)
    env.reset(seed=4)
    env.step(np.zeros((2, 3), dtype=np.int64))
    w: World = env._world
    s = env.state()
    parts = env.rules.split_state(s)
    np.testing.assert_allclose(parts["agent_pos"], w.agent_pos, atol=1e-6)
    np.testing.assert_allclose(parts["agent_vel"], w.agent_vel, atol=1e-6)
    np.testing.assert_allclose(parts["landmark_pos"], w.landmark_pos, atol=1e-6)
    np.testing.assert_allclose(parts["t"], 1 / 50)


def test_distance_observation_layout() -> None:
    env = make_batched("cn-v1", 1)
    place(env, [[0.0, 0.0], [0.3, 0.4], [1.0, 0.0]], [[0.0, 1.0], [0.0, -2.0], [3.0, 4.0]])
    env._world.agent_vel[0] = 0.0
    obs = env.rules.observe(
        env._world, __import__("coopbench.envs.task", fromlist=["g"]).geometry(env._world)
    )
    np.testing.assert_allclose(obs[0, 0], [0, 0, 0, 0, 1.0, 2.0, 5.0, 0.5, 1.0], rtol=1e-6)


@pytest.mark.parametrize("task", ["spread", "cn-v1", "cn-v2", "pf", "pp"])
def test_rewards_change_no_state(task: str) -> None:
    """World updates (push, respawn) happen in ``update_world``; ``rewards`` is a pure
    function of the distances and events: calling it again gives the same rewards and
    leaves the world and the random stream untouched."""
    env = make_batched(task, 16)
    env.reset(seed=3)
    rules, world = env.rules, env._world
    for _ in range(5):
        env.step(np.zeros((16, 3), dtype=np.int64))
    geo = geometry(world)
    context = rules.before_physics(world, np.zeros((16, 3, 2)), env._rng, compiled=False)
    geo, events = rules.update_world(world, geo, context, env._rng)
    before, draw = world.copy(), copy.deepcopy(env._rng).random()
    first, _ = rules.rewards(geo, events)
    second, _ = rules.rewards(geo, events)
    np.testing.assert_array_equal(first, second)
    for name in ("agent_pos", "agent_vel", "landmark_pos", "landmark_vel"):
        np.testing.assert_array_equal(getattr(world, name), getattr(before, name))
    assert env._rng.random() == draw


def test_pf_update_world_pushes_and_pp_update_world_respawns() -> None:
    """The two tasks whose rules move landmarks after the physics do it in ``update_world``."""
    env = make_batched("pf", 1)
    lms = [[-0.5, 0.0], [0.0, 0.8], [0.5, -0.8]]
    place(env, [[-0.6, 0.0], [-0.1, 0.8], [0.4, -0.8]], lms, vel=[[0.5, 0.0]] * 3)
    world = env._world
    context = env.rules.before_physics(world, np.zeros((1, 3, 2)), env._rng, compiled=False)
    world.agent_pos += 0.01  # every agent moved right during the step
    geo, events = env.rules.update_world(world, geometry(world), context, env._rng)
    assert events["push"][0]
    np.testing.assert_allclose(world.landmark_pos[0], np.array(lms) + [0.05, 0.0])
    np.testing.assert_allclose(geo.agent_landmark, geometry(world).agent_landmark)

    env = make_batched("pp", 1)
    ring = [[0.2 * np.cos(a), 0.2 * np.sin(a)] for a in (0, 2 * np.pi / 3, 4 * np.pi / 3)]
    place(env, ring, [[0.0, 0.0], [0.9, 0.9]])
    world = env._world
    at_capture = geometry(world)
    geo, events = env.rules.update_world(world, at_capture, None, env._rng)
    assert events["captures"][0] == 1
    assert geo is at_capture  # the rewards read the distances at the capture
    assert np.linalg.norm(world.landmark_pos[0, 0]) > 0.4  # the captured prey respawned
