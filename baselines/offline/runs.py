"""Run folders of the offline algorithms: which algorithm, its config, what it kept of its dataset,
and the trained model (what the agent and a resumed run read back).

A run folder's files are listed in :mod:`baselines.offline.train`. The algorithms are found by name
in :data:`ALGORITHMS` (each a module with ``Config``, an :class:`OfflineConfig`, ``build_model(config, info)``,
``loss(model, windows, config, normalizer)`` and ``TOKENS_PER_STEP``).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.configs import check_choice, check_types, fail, from_dict
from baselines.offline.nets import TransformerConfig
from baselines.offline.optim import OptimConfig
from baselines.offline.sequences import Episode, make_encoder

#: The algorithms ``icl-bench train`` knows, by name: the module of each.
ALGORITHMS = {
    "dt": "baselines.offline.dt",
    "reinformer": "baselines.offline.reinformer",
    "bc": "baselines.offline.bc",
}


def algorithm_module(name: str) -> ModuleType:
    """The module of the algorithm ``name``, or a ``ValueError`` naming the known ones."""
    check_choice("algorithm", name, tuple(ALGORITHMS))
    return importlib.import_module(ALGORITHMS[name])


@dataclass
class RunConfig:
    """How long, where and on what a run trains (the same for every algorithm)."""

    steps: int = 10_000
    """Optimizer steps (the total: a resumed run continues up to this)."""
    batch_size: int = 64
    """Windows per step over all processes (each process takes batch_size / world size)."""
    seed: int = 0
    """Seeds the weights and, with the step number, each step's batch and dropout."""
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu`` or ``cuda``."""
    bf16: bool = True
    """bf16 autocast on CUDA (ignored on CPU, where training is float32)."""
    compile: bool = True
    """``torch.compile`` the model on CUDA (ignored on CPU)."""
    out: str = ""
    """The run folder; empty: ``runs/offline/<algorithm>-<dataset>-s<seed>``."""
    log_every: int = 100
    """Write a metrics line every this many steps."""
    checkpoint_every: int = 1000
    """Save a checkpoint every this many steps (and always at the end)."""
    eval_episodes: int = 0
    """At each checkpoint, play this many episodes of the dataset's env (seed 0) and log their mean
    return; 0: never."""
    resume: bool = True
    """Continue from the run folder's checkpoint when there is one."""
    progress: bool = True
    """Show a progress bar."""

    def validate(self) -> None:
        check_choice("device", self.device, ("auto", "cpu", "cuda"))
        if self.batch_size < 1:
            fail("batch_size", f"must be a positive integer, got {self.batch_size!r}")
        for name in ("steps", "seed", "eval_episodes"):
            if getattr(self, name) < 0:
                fail(name, f"must be a non-negative integer, got {getattr(self, name)!r}")
        for name in ("log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                fail(name, f"must be >= 1, got {getattr(self, name)!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            fail("device", "is 'cuda' but no CUDA device is available; use --device cpu")


@dataclass
class OfflineConfig:
    """What every offline run has; an algorithm's ``Config`` adds its ``model`` group and its own
    fields (their docstrings document the command line as these do)."""

    dataset: str = ""
    """The Minari dataset id to train on (e.g. icl/numberline-symbolic/mixed-v0)."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """The optimizer."""
    run: RunConfig = field(default_factory=RunConfig)
    """Steps, batch, seed, device and the run folder."""

    @property
    def context(self) -> int:
        """Steps per training window."""
        return self.model.context

    def select_episodes(self, episodes: list[Episode]) -> list[Episode]:
        """The episodes trained on (all of them; %BC keeps the best)."""
        return episodes

    def validate(self) -> None:
        """Raise a ``ValueError`` naming the first bad field (types, then each group's ranges)."""
        check_types(self)
        if not self.dataset:
            fail("dataset", "is required: a Minari dataset id such as icl/numberline-symbolic/mixed-v0")
        for group in ("model", "optim", "run"):
            getattr(self, group).validate()


@dataclass
class SequenceConfig(OfflineConfig):
    """An offline run of a causal transformer over K-step windows (Decision Transformer, Reinformer)."""

    model: TransformerConfig = field(default_factory=TransformerConfig)
    """The causal transformer."""


@dataclass
class DatasetInfo:
    """What a run keeps of its dataset: the model's shape and what the agent plays with."""

    dataset_id: str
    env_id: str | None
    """The env the dataset was collected on (from its icl-bench metadata), or None when it has none."""
    env_kwargs: dict[str, Any]
    observation_space: str
    """Minari's JSON serialization of a symbolic observation space (what the agent flattens by);
    empty for frames, whose space is ``frame_shape`` (Minari writes a Box's bounds pixel by pixel:
    2.5 MB of JSON at 300 px)."""
    observation_sizes: list[int] | None
    """Symbolic observations: each component's number of values (else None)."""
    frame_shape: list[int] | None
    """Frames: (H, W, C) (else None)."""
    n_actions: int
    max_timestep: int
    """The longest episode's length: the timestep embedding's size."""
    return_scale: float
    """Returns-to-go are divided by this: the best episode return's magnitude, at least 1, so that
    the return the agent is conditioned on reads about 1. Scaled by the largest |return| instead
    (folders written before this rule), a long tail of bad episodes squeezes the returns that
    matter: NumberLine's random episodes reach -9 against a best of 1, a success and a miss then
    differ by 0.11 in the input, and Decision Transformer missed some first moves on 3 of 8
    training seeds of the d3rlpy cross-check at 400 steps (none at this scale)."""
    best_return: float
    mean_return: float
    episodes: int

    @classmethod
    def of(cls, dataset, episodes: list[Episode]) -> DatasetInfo:
        # Lazy: Gymnasium and Minari read datasets; the models (and the GPU machine) need neither.
        import gymnasium as gym
        from minari.serialization import serialize_space

        from baselines.offline.datasets import dataset_env, episode_observation_space
        from baselines.offline.observations import observation_shape

        space, actions = episode_observation_space(dataset), dataset.action_space
        if not isinstance(actions, gym.spaces.Discrete) or actions.start != 0:
            raise ValueError(f"dataset {dataset.id!r}: actions must be Discrete(n) from 0, got {actions}")
        sizes, frame_shape = observation_shape(space)
        env_id, env_kwargs = dataset_env(dataset)
        returns = np.asarray([episode.rewards.sum() for episode in episodes])
        return cls(
            dataset_id=dataset.id,
            env_id=env_id,
            env_kwargs=env_kwargs,
            observation_space="" if frame_shape else serialize_space(space),
            observation_sizes=sizes,
            frame_shape=frame_shape,
            n_actions=int(actions.n),
            max_timestep=max(len(episode.actions) for episode in episodes),
            return_scale=float(max(1.0, abs(returns.max()))),
            best_return=float(returns.max()),
            mean_return=float(returns.mean()),
            episodes=len(returns),
        )

    @property
    def space(self):
        """The observation space (a ``gymnasium.Space``)."""
        if self.frame_shape is not None and not self.observation_space:
            import gymnasium as gym  # lazy, as below

            return gym.spaces.Box(0, 255, tuple(self.frame_shape), np.uint8)
        from minari.serialization import deserialize_space  # lazy: only the agent needs the space

        return deserialize_space(self.observation_space)

    @property
    def frames(self) -> bool:
        return self.frame_shape is not None

    def encoder(self, dim: int) -> nn.Module:
        """The observation encoder into ``dim`` features."""
        return make_encoder(self.observation_sizes, self.frame_shape, dim)


def read_run(run_dir: str | Path) -> tuple[str, Any, DatasetInfo]:
    """(algorithm, config, dataset info) of a run folder, or a ``FileNotFoundError``/``ValueError``."""
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: it has no config.json")
    data = json.loads(path.read_text())
    algorithm = data.pop("algorithm", None)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"{path}: 'algorithm' must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    model = data.get("model")
    if isinstance(model, dict) and "context" in model:
        # Run folders written before ``mask_padding`` existed were trained seeing the padding.
        model.setdefault("mask_padding", False)
    config = from_dict(algorithm_module(algorithm).Config, data, {}, str(path))
    info = DatasetInfo(**json.loads((run_dir / "dataset.json").read_text()))
    return algorithm, config, info


def load_model(
    run_dir: str | Path, device: str | torch.device = "cpu"
) -> tuple[str, Any, DatasetInfo, nn.Module]:
    """The trained model of a run folder (its latest checkpoint), in eval mode."""
    from safetensors.torch import load_file

    algorithm, config, info = read_run(run_dir)
    weights = Path(run_dir) / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{run_dir} has no checkpoint (model.safetensors); train it first")
    model = algorithm_module(algorithm).build_model(config, info)
    model.load_state_dict(load_file(str(weights)))
    return algorithm, config, info, model.to(device).eval()


__all__ = [
    "ALGORITHMS",
    "DatasetInfo",
    "OfflineConfig",
    "RunConfig",
    "SequenceConfig",
    "algorithm_module",
    "load_model",
    "read_run",
]
