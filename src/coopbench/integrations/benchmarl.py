"""BenchMARL algorithms under coopbench's harness: ``--algo benchmarl:<name>``.

``get_algorithm("benchmarl:masac")`` (``coopbench.algorithms.registry``) resolves to
``BenchmarlMasac``, an ``Algorithm`` whose ``learn`` runs a BenchMARL ``Experiment`` on the
harness's budgeted env through the torchrl face (``integrations.torchrl``): every env step
counts against the budget and the harness evaluates the policy on its fixed worlds at its
schedule. BenchMARL's own evaluation, loggers, JSON output and checkpoints are switched off.

The config (``BenchmarlMasac.Config``) is BenchMARL's: every field of the algorithm's config
dataclass and the training fields of its ``ExperimentConfig`` (on- or off-policy ones), with
BenchMARL's yaml defaults, plus ``num_envs`` (its ``n_envs_per_worker``), ``frames_per_batch``
(its ``collected_frames_per_batch``) and ``hidden`` (the MLP's ``num_cells``); it is
recorded in every submission with the benchmarl, torchrl and tensordict versions.
BenchMARL collects whole batches: a run takes ``budget // frames_per_batch`` of them and
leaves the rest of the budget unused. The evaluated policy is BenchMARL's policy in
deterministic mode (each agent acts on its own observation; centralised critics and mixers
see the global ``state`` during training only).
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
import typing
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar
from unittest import mock

import numpy as np
import torch
from packaging.version import Version

with warnings.catch_warnings():  # torchrl's own deprecations, nothing a user can act on
    warnings.simplefilter("ignore", DeprecationWarning)
    import benchmarl

from coopbench.integrations.versions import check_version

SUPPORTED_BENCHMARL = (Version("1.5"), Version("1.6"))  # [low, high)


def check_benchmarl_version(version: str | None = None) -> None:
    """Raise ``ImportError`` (one line) unless ``version`` (default: the installed
    benchmarl) is one this adapter supports."""
    found = benchmarl.__version__ if version is None else version
    check_version(__name__, "benchmarl", found, SUPPORTED_BENCHMARL)


check_benchmarl_version()

with warnings.catch_warnings():  # torchrl's own deprecations, nothing a user can act on
    warnings.simplefilter("ignore", DeprecationWarning)
    import benchmarl.experiment.experiment as _experiment_module
    from benchmarl.algorithms import algorithm_config_registry
    from benchmarl.experiment import Callback, Experiment, ExperimentConfig
    from benchmarl.models.mlp import MlpConfig
    from tensordict import TensorDict
    from torchrl.envs.utils import ExplorationType, set_exploration_type

from coopbench.algorithms.base import Algorithm, Hooks, TrainingEnv  # noqa: E402
from coopbench.algorithms.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from coopbench.envs import TaskSpec  # noqa: E402
from coopbench.integrations.benchmarl_tasks import benchmarl_task  # noqa: E402
from coopbench.integrations.torchrl import GROUP  # noqa: E402

# ExperimentConfig fields a run may set (BenchMARL's names); the rest the adapter fixes
COMMON_FIELDS = (
    "gamma",
    "lr",
    "adam_eps",
    "clip_grad_norm",
    "clip_grad_val",
    "share_policy_params",
)
ON_POLICY_FIELDS = ("on_policy_n_minibatch_iters", "on_policy_minibatch_size")
OFF_POLICY_FIELDS = (
    "off_policy_n_optimizer_steps",
    "off_policy_train_batch_size",
    "off_policy_memory_size",
    "off_policy_init_random_frames",
    "off_policy_use_prioritized_replay_buffer",
    "off_policy_prb_alpha",
    "off_policy_prb_beta",
    "soft_target_update",
    "polyak_tau",
    "hard_target_update_frequency",
    "exploration_eps_init",
    "exploration_eps_end",
    "exploration_anneal_frames",
)
PACKAGES = ("benchmarl", "torchrl", "tensordict")


def algorithm_names() -> tuple[str, ...]:
    """BenchMARL's algorithm names (``mappo``, ``masac``, …)."""
    return tuple(algorithm_config_registry)


@functools.lru_cache(maxsize=1)
def _experiment_defaults() -> ExperimentConfig:
    return ExperimentConfig.get_from_yaml()


def _experiment_fields(on_policy: bool) -> tuple[str, ...]:
    return COMMON_FIELDS + (ON_POLICY_FIELDS if on_policy else OFF_POLICY_FIELDS)


def _config_class(name: str, algo_config: type) -> type:
    """The coopbench config dataclass of BenchMARL's algorithm ``name``."""
    on_policy = algo_config.on_policy()
    exp = _experiment_defaults()
    exp_hints = typing.get_type_hints(ExperimentConfig)
    algo_defaults = algo_config.get_from_yaml()
    algo_hints = typing.get_type_hints(algo_config)
    mlp = MlpConfig.get_from_yaml()
    fields: list[tuple[str, Any, Any]] = [
        ("num_envs", int, dataclasses.field(default=exp.n_envs_per_worker(on_policy))),
        (
            "frames_per_batch",
            int,
            dataclasses.field(default=exp.collected_frames_per_batch(on_policy)),
        ),
        ("hidden", tuple[int, ...], dataclasses.field(default=tuple(mlp.num_cells))),
    ]
    fields += [
        (f, exp_hints[f], dataclasses.field(default=getattr(exp, f)))
        for f in _experiment_fields(on_policy)
    ]
    fields += [
        (f.name, algo_hints[f.name], dataclasses.field(default=getattr(algo_defaults, f.name)))
        for f in dataclasses.fields(algo_config)
    ]
    cls_name = f"Benchmarl{name.capitalize()}Config"
    config = dataclasses.make_dataclass(cls_name, fields)
    config.__module__ = __name__
    config.__doc__ = f"BenchMARL {name}'s config (its yaml defaults) and experiment fields."
    return config


@contextmanager
def _quiet() -> Iterator[None]:
    """BenchMARL without its progress bar and torchrl's deprecation warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        bar = functools.partial(_experiment_module.tqdm, disable=True)
        with mock.patch.object(_experiment_module, "tqdm", bar):
            yield


class _LogCallback(Callback):
    """Hands BenchMARL's training losses to the harness's ``Hooks.log``."""

    def __init__(self, hooks: Hooks) -> None:
        super().__init__()
        self.hooks = hooks

    def __getstate__(self) -> dict[str, Any]:  # BenchMARL pickles its callbacks
        return {k: v for k, v in self.__dict__.items() if k not in ("hooks", "experiment")}

    def on_train_end(self, training_td: Any, group: str) -> None:
        metrics = {
            f"{group}/{key}": float(value.float().mean())
            for key, value in training_td.items()
            if isinstance(key, str) and key.startswith("loss") and value.numel()
        }
        if metrics:
            self.hooks.log(**metrics)


class BenchmarlPolicy:
    """BenchMARL's policy as a coopbench ``Policy``: numpy ``obs [B, N, obs_dim]`` →
    actions ``[B, N]`` (discrete) or ``[B, N, 5]`` (continuous), deterministic."""

    centralised = False

    def __init__(self, algorithm: BenchmarlAlgorithm) -> None:
        self._algorithm = algorithm

    def __call__(self, obs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        experiment = self._algorithm.experiment
        if experiment is None:
            raise RuntimeError(
                f"{self._algorithm.name}: no policy yet; call learn() or load() first"
            )
        device = experiment.config.sampling_device
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=device)
        b, n = x.shape[:2]
        td = TensorDict(
            {GROUP: TensorDict({"observation": x}, batch_size=(b, n))},
            batch_size=(b,),
            device=device,
        )
        with torch.no_grad(), set_exploration_type(ExplorationType.DETERMINISTIC):
            out = experiment.policy(td)
        return out.get((GROUP, "action")).cpu().numpy()


class BenchmarlAlgorithm(Algorithm):
    """Base of the ``benchmarl:<name>`` adapters (one subclass per BenchMARL algorithm)."""

    benchmarl_name: ClassVar[str] = ""
    algorithm_config: ClassVar[type] = type(None)
    library_packages: ClassVar[tuple[str, ...]] = PACKAGES  # versions recorded with a run

    def __init__(self, spec: TaskSpec, config: Any, seed: int, device: str = "cpu") -> None:
        super().__init__(spec, config, seed, device)
        if config.frames_per_batch % config.num_envs:
            raise ValueError(
                f"{self.name}: frames_per_batch={config.frames_per_batch} is not a multiple "
                f"of num_envs={config.num_envs}; BenchMARL collects whole steps of all worlds"
            )
        self.experiment: Experiment | None = None

    # ------------------------------------------------------------ configs
    def benchmarl_algorithm_config(self) -> Any:
        """BenchMARL's algorithm config dataclass filled from this run's config."""
        names = [f.name for f in dataclasses.fields(self.algorithm_config)]
        return self.algorithm_config(**{f: getattr(self.config, f) for f in names})

    def benchmarl_experiment_config(self, budget: int) -> ExperimentConfig:
        """BenchMARL's experiment config: this run's fields, ``budget`` frames rounded down
        to whole batches, BenchMARL's evaluation, logging and checkpoints off."""
        cfg, on_policy = self.config, self.algorithm_config.on_policy()
        frames = budget - budget % cfg.frames_per_batch
        if frames <= 0:
            raise ValueError(
                f"{self.name}: budget of {budget} env steps is smaller than one batch "
                f"(frames_per_batch={cfg.frames_per_batch}); lower frames_per_batch"
            )
        exp = dataclasses.replace(_experiment_defaults())
        for f in _experiment_fields(on_policy):
            setattr(exp, f, getattr(cfg, f))
        prefix = "on_policy" if on_policy else "off_policy"
        setattr(exp, f"{prefix}_collected_frames_per_batch", cfg.frames_per_batch)
        setattr(exp, f"{prefix}_n_envs_per_worker", cfg.num_envs)
        exp.sampling_device = exp.train_device = exp.buffer_device = self.device
        exp.prefer_continuous_actions = True  # the task's own action type is the only one
        exp.max_n_frames, exp.max_n_iters = frames, None
        exp.evaluation, exp.render, exp.loggers, exp.create_json = False, False, [], False
        # the test env BenchMARL builds must not be the harness's (same number of worlds)
        exp.evaluation_episodes = 1 if cfg.num_envs != 1 else 2
        exp.checkpoint_interval, exp.checkpoint_at_end = 0, False
        return exp

    def _build(self, env: TrainingEnv | None, budget: int, folder: str, hooks: Any) -> None:
        task = benchmarl_task(self.spec.task_id, **dict(self.spec.kwargs))
        task.training_env = env
        exp = self.benchmarl_experiment_config(budget)
        exp.save_folder = folder
        model = MlpConfig.get_from_yaml()
        model.num_cells = list(self.config.hidden)
        with _quiet():
            self.experiment = Experiment(
                task=task,
                algorithm_config=self.benchmarl_algorithm_config(),
                model_config=model,
                seed=self.seed,
                config=exp,
                callbacks=[_LogCallback(hooks)] if hooks is not None else [],
            )

    # ------------------------------------------------------------ Algorithm
    def learn(self, env: TrainingEnv, hooks: Hooks) -> None:
        with tempfile.TemporaryDirectory(prefix="coopbench-benchmarl-") as folder:
            self._build(env, env.remaining, folder, hooks)
            with _quiet():
                self.experiment.run()

    def policies(self) -> dict[str, BenchmarlPolicy]:
        return {"default": BenchmarlPolicy(self)}

    def save(self, path: str | Path) -> None:
        if self.experiment is None:
            raise RuntimeError(f"{self.name}: nothing to save before learn() or load()")
        save_checkpoint(path, {"policy": self.experiment.policy}, {"algorithm": self.name})

    def load(self, path: str | Path) -> None:
        if self.experiment is None:  # build the networks on a fresh, unbudgeted env
            with tempfile.TemporaryDirectory(prefix="coopbench-benchmarl-") as folder:
                self._build(None, self.config.frames_per_batch, folder, None)
        load_checkpoint(path, {"policy": self.experiment.policy})


def _algorithm_class(name: str) -> type[BenchmarlAlgorithm]:
    algo_config = algorithm_config_registry[name]
    qualname = f"Benchmarl{name.capitalize()}"
    cls = type(
        qualname,
        (BenchmarlAlgorithm,),
        {
            "__module__": __name__,
            "__qualname__": qualname,
            "__doc__": f"BenchMARL's {name} ({algo_config.__name__}) under coopbench's harness.",
            "name": f"benchmarl:{name}",
            "display_name": f"BenchMARL-{name.upper()}",
            "benchmarl_name": name,
            "algorithm_config": algo_config,
            "Config": _config_class(name, algo_config),
            "supports_continuous": algo_config.supports_continuous_actions(),
            "supports_discrete": algo_config.supports_discrete_actions(),
        },
    )
    globals()[cls.Config.__name__] = cls.Config  # importable by name, like any config
    return cls


ALGORITHMS: dict[str, type[BenchmarlAlgorithm]] = {
    n: _algorithm_class(n) for n in algorithm_names()
}
globals().update({cls.__qualname__: cls for cls in ALGORITHMS.values()})


def algorithm_class(name: str) -> type[BenchmarlAlgorithm]:
    """The adapter class of BenchMARL's algorithm ``name`` (``"masac"``)."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ValueError(
            f"unknown BenchMARL algorithm {name!r}; expected one of "
            f"{['benchmarl:' + n for n in ALGORITHMS]}"
        ) from None


__all__ = [
    "ALGORITHMS",
    "SUPPORTED_BENCHMARL",
    "BenchmarlAlgorithm",
    "BenchmarlPolicy",
    "algorithm_class",
    "algorithm_names",
    "check_benchmarl_version",
]
