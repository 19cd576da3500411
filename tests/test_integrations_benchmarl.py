"""BenchMARL under the harness (``--algo benchmarl:<name>``): the registry resolves it lazily
and says how to install it, the coopbench tasks are BenchMARL tasks, and each of the six
algorithms the issue names trains under a tiny budget and lands an ordinary submission with
BenchMARL's config and version."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from coopbench.algorithms.registry import get_algorithm

HAS_BENCHMARL = importlib.util.find_spec("benchmarl") is not None
needs_benchmarl = pytest.mark.skipif(
    not HAS_BENCHMARL, reason="benchmarl is not installed (pip install 'coopbench[benchmarl]')"
)
ROOT = Path(__file__).resolve().parents[1]
TINY_BUDGET = 1000


def _forget_adapter(monkeypatch) -> None:
    """Make the next ``benchmarl:`` lookup import the adapter again (restored afterwards)."""
    for name in ("coopbench.integrations.benchmarl", "coopbench.integrations.benchmarl_tasks"):
        if name in sys.modules:
            monkeypatch.delitem(sys.modules, name)


def test_missing_benchmarl_says_how_to_install(monkeypatch):
    _forget_adapter(monkeypatch)
    monkeypatch.setitem(sys.modules, "benchmarl", None)  # what an uninstalled package looks like
    with pytest.raises(ValueError) as info:
        get_algorithm("benchmarl:masac")
    message = str(info.value)
    assert "\n" not in message
    assert "benchmarl:masac needs BenchMARL" in message
    assert "pip install 'coopbench[benchmarl]'" in message


def test_builtin_names_never_import_benchmarl():
    code = (
        "import sys; from coopbench.algorithms.registry import get_algorithm; "
        "get_algorithm('mappo'); assert 'benchmarl' not in sys.modules, 'imported'"
    )
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


@needs_benchmarl
def test_unsupported_benchmarl_version_is_one_line(monkeypatch):
    get_algorithm("benchmarl:mappo")  # imports benchmarl (without torchrl's deprecation noise)
    benchmarl = sys.modules["benchmarl"]
    _forget_adapter(monkeypatch)
    monkeypatch.setattr(benchmarl, "__version__", "1.4.0")
    with pytest.raises(ValueError) as info:
        get_algorithm("benchmarl:mappo")
    message = str(info.value)
    assert "\n" not in message
    assert "supports benchmarl >=1.5,<1.6; found benchmarl 1.4.0" in message


@needs_benchmarl
def test_registry_names_and_errors():
    from coopbench.integrations.benchmarl import BenchmarlAlgorithm

    cls = get_algorithm("benchmarl:masac")
    assert issubclass(cls, BenchmarlAlgorithm) and cls.name == "benchmarl:masac"
    # the recorded path imports back to the same class (what rerun and reproduce use)
    assert get_algorithm(f"{cls.__module__}:{cls.__qualname__}") is cls
    assert not get_algorithm("benchmarl:qmix").supports_continuous
    assert not get_algorithm("benchmarl:maddpg").supports_discrete
    with pytest.raises(ValueError, match="unknown BenchMARL algorithm 'nope'; expected one of"):
        get_algorithm("benchmarl:nope")


@needs_benchmarl
def test_coopbench_tasks_are_benchmarl_tasks():
    from torchrl.envs.utils import check_env_specs

    from coopbench.envs import TASKS
    from coopbench.integrations.benchmarl_tasks import CoopbenchTask, benchmarl_task

    assert [t.name.lower().replace("_", "-") for t in CoopbenchTask] == list(TASKS)
    task = CoopbenchTask.CN_V1.get_from_yaml()
    assert task.supports_discrete_actions() and task.supports_continuous_actions()
    env = task.get_env_fun(num_envs=2, continuous_actions=True, seed=0, device="cpu")()
    check_env_specs(env)
    assert task.group_map(env) == {"agents": ["agent_0", "agent_1", "agent_2"]}
    assert "state" not in task.observation_spec(env).keys()
    assert task.state_spec(env)["state"].shape == (env.task.state_dim,)
    assert task.max_steps(env) == env.task.max_cycles
    fixed = benchmarl_task("pf", continuous_actions=False)
    assert fixed.supports_discrete_actions() and not fixed.supports_continuous_actions()
    with pytest.raises(ValueError, match="unknown coopbench task 'nope'"):
        benchmarl_task("nope")


def _small(algo: str) -> dict:
    """Overrides that keep a BenchMARL run to a few seconds."""
    small = {"num_envs": 10, "frames_per_batch": 250, "hidden": [32, 32]}
    if algo in ("mappo", "ippo"):
        return {**small, "on_policy_n_minibatch_iters": 2, "on_policy_minibatch_size": 125}
    return {**small, "off_policy_n_optimizer_steps": 4, "off_policy_train_batch_size": 64}


def _run_tiny(algo: str, tmp_path):
    from coopbench.harness.protocol import TierProtocol
    from coopbench.harness.run import run_experiment
    from coopbench.results.store import Store

    continuous = not get_algorithm(f"benchmarl:{algo}").supports_discrete
    protocol = TierProtocol("tiny", TINY_BUDGET, 500, 8, 11, 2)
    with Store(tmp_path / "runs.db") as store:
        result = run_experiment(
            "cn-v1",
            f"benchmarl:{algo}",
            0,
            protocol,
            overrides=_small(algo),
            task_kwargs={"continuous_actions": continuous},
            sink=store,
        )
        (doc,) = store.submissions()
    assert result.steps_taken == TINY_BUDGET  # 1000 is four whole batches of 250
    steps, returns = result.curves["default"]
    assert steps.tolist() == [0, 500, 1000] and returns.shape == (3, 8)
    assert np.isfinite(returns).all()
    assert result.logs and all(k.startswith(("step", "agents/loss")) for k in result.logs[-1])
    meta = doc["algorithm"]
    assert meta["name"] == f"benchmarl:{algo}"
    assert meta["path"] == f"coopbench.integrations.benchmarl:Benchmarl{algo.capitalize()}"
    assert meta["config"]["frames_per_batch"] == 250 and meta["config"]["hidden"] == [32, 32]
    assert doc["versions"]["benchmarl"] and doc["versions"]["torchrl"]
    assert doc["policies"]["default"]["label"] == f"BenchMARL-{algo.upper()}"
    return result, doc


@needs_benchmarl
@pytest.mark.parametrize("algo", ["mappo", "ippo", "masac", "qmix", "iql", "maddpg"])
def test_tiny_run_lands_a_submission(algo, tmp_path):
    _, doc = _run_tiny(algo, tmp_path)
    from benchmarl.algorithms import algorithm_config_registry

    fields = algorithm_config_registry[algo].__dataclass_fields__
    assert set(fields) <= set(doc["algorithm"]["config"])  # BenchMARL's config, recorded


@needs_benchmarl
def test_policy_is_deterministic_and_survives_save_load(tmp_path):
    from coopbench.envs import make_batched
    from coopbench.harness.budget import BudgetEnv
    from coopbench.harness.config import build_config

    cls = get_algorithm("benchmarl:iql")
    spec = make_batched("spread", 1).task
    config = build_config(cls, "spread", "quick", _small("iql"))
    algo = cls(spec, config, seed=1)
    env = BudgetEnv(make_batched("spread", 10), 500, [0, 500], lambda p, s: None)
    algo.learn(env, hooks=type("H", (), {"log": lambda self, **m: None})())
    assert env.steps_taken == 500
    obs = make_batched("spread", 6).reset(seed=4)[0]
    actions = algo.policies()["default"](obs)
    assert actions.shape == (6, 3) and actions.dtype.kind == "i"
    np.testing.assert_array_equal(actions, algo.policies()["default"](obs))
    algo.save(tmp_path / "iql.ckpt")
    fresh = cls(spec, config, seed=2)
    with pytest.raises(RuntimeError, match="no policy yet"):
        fresh.policies()["default"](obs)
    fresh.load(tmp_path / "iql.ckpt")
    np.testing.assert_array_equal(fresh.policies()["default"](obs), actions)


@needs_benchmarl
def test_bad_configs_are_refused(tmp_path):
    from coopbench.harness.run import run_experiment

    with pytest.raises(ValueError, match="frames_per_batch=6000 is not a multiple of num_envs=7"):
        run_experiment("cn-v1", "benchmarl:mappo", 0, budget=500, overrides={"num_envs": 7})
    with pytest.raises(ValueError, match="'benchmarl:qmix' does not support continuous actions"):
        run_experiment(
            "cn-v1", "benchmarl:qmix", 0, budget=500, task_kwargs={"continuous_actions": True}
        )
    with pytest.raises(ValueError, match="unknown config key 'nope'"):
        run_experiment("cn-v1", "benchmarl:mappo", 0, budget=500, overrides={"nope": 1})


@needs_benchmarl
def test_cli_train_benchmarl(tmp_path, monkeypatch, capsys):
    from coopbench.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COOPBENCH_DB", raising=False)
    sets = [f"{k}={v}" for k, v in _small("mappo").items()]
    args = ["train", "--task", "spread", "--algo", "benchmarl:mappo", "--budget", "500"]
    args += [a for s in sets for a in ("--set", s.replace(" ", ""))]
    assert main(args) == 0, capsys.readouterr().err
    rc = main(["train", "--task", "spread", "--algo", "benchmarl:nope", "--budget", "500"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and len(err.splitlines()) == 1 and "unknown BenchMARL algorithm" in err


@pytest.mark.slow
@needs_benchmarl
@pytest.mark.parametrize("algo", ["mappo", "ippo", "masac", "qmix", "iql", "maddpg"])
def test_quick_tier_cn_v1(algo, capsys):
    """BenchMARL's defaults at the quick tier on cn-v1, seed 0 (maddpg: continuous actions);
    the numbers in docs/integrations.md come from this test (``-s`` prints them)."""
    from coopbench.harness.run import run_experiment

    continuous = not get_algorithm(f"benchmarl:{algo}").supports_discrete
    result = run_experiment(
        "cn-v1", f"benchmarl:{algo}", 0, "quick", task_kwargs={"continuous_actions": continuous}
    )
    steps, returns = result.curves["default"]
    assert result.steps_taken == 96_000  # 16 whole batches of BenchMARL's 6000 frames
    assert steps.tolist() == list(range(0, 100_001, 10_000)) and np.isfinite(returns).all()
    with capsys.disabled():
        print(
            f"\n{algo}: final {result.final_scores()['default']:.2f}, absolute "
            f"{result.absolute_scores()['default']:.2f}, best step {result.best_step['default']}, "
            f"wall {result.wall_time_s:.0f} s"
        )
