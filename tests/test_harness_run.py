"""run_experiment: sinks, errors, best checkpoint (absolute metric), keys, configs, references."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from coopbench.algorithms.base import Algorithm
from coopbench.envs import TASKS, heuristic_policy, make_batched
from coopbench.harness import AlgorithmError, EvaluationError, TierProtocol, run_experiment
from coopbench.harness.config import parse_assignments
from coopbench.harness.evaluate import evaluate_policy

ROOT = Path(__file__).resolve().parents[1]
PROTO = TierProtocol("test", budget=100, eval_interval=30, eval_episodes=4, eval_seed=5)
REFS = json.loads((ROOT / "src/coopbench/envs/reference_returns.json").read_text())


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # tests.fixtures.mod:Algo


class FakeSink:
    """In-memory stand-in for the leaderboard store's write interface."""

    def __init__(self):
        self.begun, self.evals, self.finished = {}, [], {}

    def begin_run(self, key, meta):
        json.dumps(meta, allow_nan=False)  # the meta must be JSON-safe
        self.begun[key] = meta

    def add_eval(self, key, policy, step, returns):
        assert key in self.begun and isinstance(returns, list)
        self.evals.append((key, policy, step, len(returns)))

    def finish_run(self, key, absolute, wall_time_s):
        self.finished[key] = (absolute, wall_time_s)
        return {"run_key": key}


def test_fixture_algorithm_writes_every_point_and_finishes():
    sink = FakeSink()
    result = run_experiment("spread", "tests.fixtures.mod:Algo", 3, tier=PROTO, sink=sink)
    assert [e[2] for e in sink.evals] == [0, 30, 60, 90, 100]
    assert all(e[3] == PROTO.eval_episodes for e in sink.evals)
    assert list(sink.finished) == [result.key] and result.submission == {"run_key": result.key}
    assert len(sink.finished[result.key][0]["default"]) == PROTO.absolute_episodes
    assert result.logs and result.logs[-1]["step"] == 100  # Hooks.log records, tagged
    meta = result.meta
    assert meta["algorithm"]["path"] == "tests.fixtures.mod:Algo"
    assert meta["protocol"]["budget"] == 100 and meta["seed"] == 3
    assert meta["policies"]["default"] == {
        "label": "fixture-bandit",
        "centralised": False,
        "privileged": False,
    }


def test_same_seed_same_numbers_and_key():
    a = run_experiment("cn-v1", "tests.fixtures.mod:Algo", 1, tier=PROTO)
    b = run_experiment("cn-v1", "tests.fixtures.mod:Algo", 1, tier=PROTO)
    c = run_experiment("cn-v1", "tests.fixtures.mod:Algo", 2, tier=PROTO)
    d = run_experiment(
        "cn-v1", "tests.fixtures.mod:Algo", 1, tier=PROTO, overrides={"epsilon": 0.3}
    )
    np.testing.assert_array_equal(a.curves["default"][1], b.curves["default"][1])
    np.testing.assert_array_equal(a.absolute["default"], b.absolute["default"])
    assert a.key == b.key and len({a.key, c.key, d.key}) == 3


@pytest.mark.parametrize("algo", ["NaNAlgo", "CrashAlgo"])
def test_misbehaving_algorithm_fails_cleanly(algo):
    sink = FakeSink()
    error = EvaluationError if algo == "NaNAlgo" else AlgorithmError
    with pytest.raises(error, match=r"non-finite|fixture crash"):
        run_experiment("pf", f"tests.fixtures.mod:{algo}", 0, tier=PROTO, sink=sink)
    assert sink.begun and not sink.finished  # never finished: the store discards it on resume


def test_swallowed_evaluation_error_still_fails():
    class Swallower(Algorithm):
        name = "swallower"

        def learn(self, env, hooks):
            env.reset(seed=0)
            for _ in range(50):
                try:
                    env.step(np.zeros((env.num_envs, 3), dtype=int))
                except Exception:  # swallowing is the point of the test
                    pass

        def policies(self):
            return {"default": lambda obs: np.full(obs.shape[:2], -1)}  # out of range

    sys.modules["harness_swallow"] = types.SimpleNamespace(Swallower=Swallower)
    with pytest.raises(EvaluationError, match="outside"):
        run_experiment(
            "spread", "harness_swallow:Swallower", 0, tier=PROTO, overrides={"num_envs": 10}
        )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"task": "nope"}, "unknown task 'nope'"),
        ({"algo": "nope"}, "unknown algorithm 'nope'"),
        ({"algo": "no.such.module:X"}, "cannot import"),
        ({"tier": "huge"}, "unknown protocol tier"),
        ({"budget": 0}, "budget=0"),
        ({"budget": -3}, "budget=-3"),
        ({"seed": -1}, "seed=-1"),
        ({"overrides": {"bogus": 1}}, "unknown config key 'bogus'"),
        ({"overrides": {"num_envs": "ten"}}, "'num_envs'.*not a valid int"),
        ({"overrides": {"num_envs": 0}}, "num_envs=0"),
        ({"task_kwargs": {"n_agents": "x", "bad": 1}}, "unknown keyword"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"task": "spread", "algo": "random", "seed": 0, "tier": "quick", **kwargs}
    with pytest.raises(ValueError, match=match):
        run_experiment(args.pop("task"), args.pop("algo"), args.pop("seed"), **args)


# ------------------------------------------------------------------------- --set parsing


@dataclass
class TypedConfig:
    num_envs: int = 4  # worlds
    lr: float = 1e-3  # learning rate
    anneal: bool = False  # flag
    hidden: tuple[int, ...] = (64, 64)  # layer widths
    name: str = "x"  # free text
    clip: float | None = None  # optional


def test_parse_assignments_types():
    got = parse_assignments(
        TypedConfig,
        ["num_envs=8", "lr=3e-4", "anneal=true", "hidden=[32,16]", "name=a=b", "clip=none"],
    )
    assert got == {
        "num_envs": 8,
        "lr": 3e-4,
        "anneal": True,
        "hidden": (32, 16),
        "name": "a=b",
        "clip": None,
    }
    assert parse_assignments(TypedConfig, ["hidden=8,8,8", "clip=0.2", "anneal=no"]) == {
        "hidden": (8, 8, 8),
        "clip": 0.2,
        "anneal": False,
    }


@pytest.mark.parametrize(
    "item, match",
    [
        ("num_envs=1.5", "'num_envs'.*not a valid int"),
        ("lr=fast", "'lr'.*not a valid float"),
        ("anneal=maybe", "'anneal'.*not a valid bool"),
        ("hidden=[1,x]", "'hidden'"),
        ("nope=1", "unknown config key 'nope'"),
        ("novalue", "malformed"),
    ],
)
def test_parse_assignments_errors(item, match):
    with pytest.raises(ValueError, match=match):
        parse_assignments(TypedConfig, [item])


# ------------------------------------------------------------- best checkpoint (absolute)


@dataclass
class PeakConfig:
    num_envs: int = 10  # worlds


class PeakPolicy:
    """Plays the heuristic while the algorithm has seen 30..59 env steps, else action 0."""

    centralised = True

    def __init__(self, source):
        self.source = source  # callable returning the env steps the algorithm has seen
        self.scripted = heuristic_policy("spread")

    def __call__(self, obs, state=None):
        if 30 <= self.source() < 60:
            return self.scripted(state)
        return np.zeros(obs.shape[:2], dtype=int)


class PeakAlgo(Algorithm):
    """Best at the 30-step point; ``save``/``load`` carry the state the policy reads live."""

    name = "peak"
    Config = PeakConfig

    def __init__(self, spec, config, seed, device="cpu"):
        super().__init__(spec, config, seed, device)
        self.seen = 0

    def learn(self, env, hooks):
        env.reset(seed=0)
        while not env.exhausted:
            env.step(np.zeros((env.num_envs, 3), dtype=int))
            self.seen = env.steps_taken

    def policies(self):
        return {"default": PeakPolicy(lambda: self.seen)}

    def save(self, path):
        Path(path).write_text(json.dumps({"seen": self.seen}))

    def load(self, path):
        self.seen = json.loads(Path(path).read_text())["seen"]


class PeakCopied(PeakAlgo):
    """No save/load: the harness deep-copies the policy at its best point instead."""

    save = Algorithm.save
    load = Algorithm.load

    def policies(self):
        seen = self.seen
        return {"default": PeakPolicy(lambda: seen)}


@pytest.mark.parametrize("cls", [PeakAlgo, PeakCopied])
def test_absolute_metric_uses_best_checkpoint(cls):
    sys.modules["harness_peak"] = types.SimpleNamespace(**{cls.__name__: cls})
    result = run_experiment("spread", f"harness_peak:{cls.__name__}", 0, tier=PROTO)
    assert result.best_step["default"] == 30
    good = evaluate_policy(
        PeakPolicy(lambda: 30),
        make_batched("spread", 1).task,
        PROTO.absolute_episodes,
        PROTO.absolute_seed,
    )
    np.testing.assert_array_equal(result.absolute["default"], good)
    assert result.final_scores()["default"] < 0.5 < result.absolute_scores()["default"]


# ------------------------------------------------------------- references: 0 and 1


@pytest.mark.parametrize("task", TASKS)
def test_random_scores_zero_heuristic_scores_one(task):
    """Neither learns; their absolute metric (1000 episodes) must land within 4 standard
    errors (from the stored per-episode std) of 0 and 1 respectively."""
    proto = TierProtocol("test", budget=10, eval_interval=10, eval_episodes=20, eval_seed=11)
    entry = REFS[task]["discrete"]
    gap = entry["heuristic"]["mean"] - entry["random"]["mean"]
    for algo, target in (("random", 0.0), ("heuristic", 1.0)):
        result = run_experiment(task, algo, 0, tier=proto)
        tol = 4 * entry[algo]["std"] / np.sqrt(proto.absolute_episodes) / gap
        assert abs(result.absolute_scores()["default"] - target) < tol, (task, algo, tol)
        assert result.meta["policies"]["default"]["privileged"] == (algo == "heuristic")
