"""Error paths a user meets: naming a class that is not there, a module that cannot be
imported, an empty evaluation schedule, an algorithm class without a name, and every
baseline's bad config (one line naming the field; a Ray task that raises: tests/test_ray_*)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from coopbench.algorithms.base import Algorithm
from coopbench.algorithms.registry import get_algorithm
from coopbench.envs import make_batched
from coopbench.harness import TierProtocol, run_experiment
from coopbench.harness.budget import BudgetEnv
from coopbench.results.store import Store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # tests.fixtures.mod:Algo


def test_class_name_typo_names_the_missing_attribute() -> None:
    with pytest.raises(ValueError, match=r"^module tests.fixtures.mod has no attribute Algoo;"):
        get_algorithm("tests.fixtures.mod:Algoo")
    with pytest.raises(ValueError, match="is not an Algorithm subclass"):
        get_algorithm("tests.fixtures.mod:Config")  # there, but not an algorithm


def test_unimportable_module_says_how_to_make_it_importable() -> None:
    with pytest.raises(ValueError, match=r"no_such_algo_module.*PYTHONPATH=.*pip install -e"):
        get_algorithm("no_such_algo_module:Algo")


def test_missing_dependency_inside_the_module_gets_no_pythonpath_hint(tmp_path, monkeypatch):
    (tmp_path / "algo_with_bad_dep.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="no_such_dependency_xyz") as err:
        get_algorithm("algo_with_bad_dep:Algo")
    assert "PYTHONPATH" not in str(err.value)


def test_empty_schedule_is_a_clear_value_error() -> None:
    env = make_batched("spread", 2)
    with pytest.raises(ValueError, match=r"schedule \[\] is invalid"):
        BudgetEnv(env, 10, [], lambda point, taken: None)


@dataclass
class _NoNameConfig:
    num_envs: int = 4  # worlds stepped together


class _StandStill:
    centralised = False

    def __call__(self, obs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        return np.zeros(obs.shape[:2], dtype=np.int64)


class NoNameAlgo(Algorithm):
    """A user's algorithm that sets neither ``name`` nor ``display_name``."""

    Config = _NoNameConfig

    def learn(self, env, hooks) -> None:
        env.reset(seed=self.seed)
        while not env.exhausted:
            env.step(np.zeros((env.num_envs, self.spec.n_agents), dtype=np.int64))

    def policies(self) -> dict:
        return {"default": _StandStill()}


def test_algorithm_without_a_name_is_labelled_by_its_class(tmp_path) -> None:
    proto = TierProtocol("test", budget=8, eval_interval=4, eval_episodes=2, eval_seed=5)
    with Store(str(tmp_path / "s.db")) as store:
        result = run_experiment(
            "spread", "tests.test_harness_errors:NoNameAlgo", 0, proto, sink=store
        )
        assert store.is_finished(result.key)
    assert result.meta["policies"]["default"]["label"] == "NoNameAlgo"
    assert result.meta["algorithm"]["name"] == "NoNameAlgo"


BAD_CONFIGS = [
    ("mutual-q", "spread", {"target_every": 0}),
    ("mutual-q", "spread", {"lr": -1.0}),
    ("mutual-q", "spread", {"gamma": 1.5}),
    ("mutual-q", "spread", {"eps_decay": 0.0}),
    ("mutual-q", "spread", {"updates_per_step": 0}),
    ("mutual-q", "spread", {"hidden": (64, 0)}),
    ("mutual-q", "spread", {"c": -1.0}),
    ("dqn", "spread", {"buffer_size": 0}),
    ("mappo", "spread", {"lr": -1.0}),
    ("maddpg", "spread", {"update_every": 0}),
    ("ctedd", "spread", {"batch_size": 0}),
]


@pytest.mark.parametrize(("algo", "task", "bad"), BAD_CONFIGS)
def test_bad_baseline_config_is_one_line_naming_the_field(algo, task, bad) -> None:
    cls = get_algorithm(algo)
    kwargs = {"continuous_actions": True} if not cls.supports_discrete else {}
    spec = make_batched(task, 1, **kwargs).task
    with pytest.raises(ValueError) as err:
        cls(spec, cls.Config(**bad), 0)
    message = str(err.value)
    assert "\n" not in message and f"{next(iter(bad))}=" in message, message
