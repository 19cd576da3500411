"""PettingZoo's own API tests, SuperSuit vectorisation, constructors and metadata."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test

from coopbench import envs
from coopbench.envs import TASKS, TaskSpec, make, make_aec, make_batched

MODES = [False, True]
MODULES = {"spread": "spread", "cn-v1": "cn_v1", "cn-v2": "cn_v2", "pf": "pf", "pp": "pp"}


@pytest.mark.parametrize("continuous", MODES)
@pytest.mark.parametrize("task", TASKS)
def test_parallel_api(task: str, continuous: bool) -> None:
    parallel_api_test(make(task, continuous_actions=continuous), num_cycles=200)


@pytest.mark.parametrize("continuous", MODES)
@pytest.mark.parametrize("task", TASKS)
def test_aec_api(task: str, continuous: bool) -> None:
    api_test(make_aec(task, continuous_actions=continuous), num_cycles=200)


@pytest.mark.parametrize("continuous", MODES)
@pytest.mark.parametrize("task", TASKS)
def test_parallel_seed(task: str, continuous: bool) -> None:
    parallel_seed_test(lambda: make(task, continuous_actions=continuous))


@pytest.mark.parametrize("task", TASKS)
def test_supersuit_vec_env_runs(task: str) -> None:
    import supersuit as ss

    vec = ss.pettingzoo_env_to_vec_env_v1(make(task))
    vec = ss.concat_vec_envs_v1(vec, 2, num_cpus=0, base_class="gymnasium")
    obs, _ = vec.reset(seed=0)
    n = make(task).task.n_agents
    assert obs.shape == (2 * n, make(task).task.obs_dim)
    total = 0.0
    for _ in range(2 * make(task).task.max_cycles):
        obs, rew, _, _, _ = vec.step(np.zeros(2 * n, dtype=np.int64))
        total += float(np.sum(rew))
    assert np.isfinite(total) and total != 0.0


@pytest.mark.parametrize("task", TASKS)
def test_module_constructors_and_task(task: str) -> None:
    module = __import__(f"coopbench.envs.{MODULES[task]}", fromlist=["parallel_env", "env"])
    par, aec = module.parallel_env(max_cycles=7), module.env(max_cycles=7)
    assert par.task.max_cycles == 7 and aec.task.max_cycles == 7
    spec = par.task
    assert isinstance(spec, TaskSpec) and spec == make_batched(task, 3, max_cycles=7).task
    # PettingZoo's spelling of the id (``simple_spread_v3`` style), the version kept apart
    assert par.metadata["name"] == aec.metadata["name"] == MODULES[task]
    assert par.metadata["version"] == spec.version
    par.reset(seed=1)
    assert par.state().shape == par.state_space.shape == (spec.state_dim,)
    assert spec.state_dim == 4 * spec.n_agents + 4 * spec.n_landmarks + 1


def test_task_list_and_exports() -> None:
    assert envs.TASKS == ("spread", "cn-v1", "cn-v2", "pf", "pp")
    for name in ("make", "make_aec", "make_batched", "heuristic_policy", "reference_returns"):
        assert callable(getattr(envs, name))


def test_envs_do_not_import_torch() -> None:
    code = "import sys, coopbench.envs; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("task", "mode", "dim"),
    [
        ("cn-v1", "distance", 4 + 3 + 2),
        ("cn-v1", "relative", 4 + 6 + 4),
        ("spread", "mpe", 18),
        ("cn-v2", "distance", 4 + 2 + 2),
        ("pp", "relative", 4 + 4 + 4),
    ],
)
def test_observation_sizes(task: str, mode: str, dim: int) -> None:
    env = make_batched(task, 2, obs_mode=mode)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2, 3, dim) and obs.dtype == np.float32


def test_spec_is_a_deprecated_name_of_task() -> None:
    """``env.spec`` still returns the ``TaskSpec`` for one release, warning with the new name."""
    for env in (make("cn-v1"), make_batched("cn-v1", 2)):
        with pytest.warns(DeprecationWarning, match=r"use env\.task"):
            assert env.spec is env.task
