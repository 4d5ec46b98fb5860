"""Synthetic offline workloads for the speed measurements of ``baselines/offline`` (CPU benchmark
and ``gpu_bench.py``): a table of random NumberLine-shaped episodes and a Decision Transformer on it,
so the speed is measured without building a dataset, and without Gymnasium or Minari (the GPU
machine has neither).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from baselines.offline import dt
from baselines.offline.nets import TransformerConfig
from baselines.offline.runs import DatasetInfo
from baselines.offline.sequences import Episode, EpisodeTable

#: NumberLine's symbolic observation, Dict(current: Discrete(6), target: Discrete(6)), as components.
OBSERVATION_SIZES = [6, 6]
EPISODE_LENGTH = 10


def random_episodes(count: int, seed: int = 0) -> list[Episode]:
    rng = np.random.default_rng(seed)
    return [
        Episode(
            observations=rng.integers(0, 6, size=(EPISODE_LENGTH, 2)),
            actions=rng.integers(0, 2, size=EPISODE_LENGTH),
            rewards=rng.choice([-1.0, 0.0, 1.0], size=EPISODE_LENGTH),
        )
        for _ in range(count)
    ]


def info_of(table: EpisodeTable) -> DatasetInfo:
    return DatasetInfo(
        dataset_id="synthetic/numberline-v0",
        env_id=None,
        env_kwargs={},
        observation_space="",  # no agent plays it: the space itself is not needed
        observation_sizes=OBSERVATION_SIZES,
        frame_shape=None,
        n_actions=2,
        max_timestep=table.max_length,
        return_scale=float(max(1.0, np.abs(table.episode_returns).max())),
        best_return=float(table.episode_returns.max()),
        mean_return=float(table.episode_returns.mean()),
        episodes=len(table.episode_returns),
    )


def dt_workload(
    device: torch.device,
    *,
    batch: int,
    context: int = 20,
    embed_dim: int = 128,
    layers: int = 3,
    episodes: int = 2000,
) -> tuple[dt.Config, EpisodeTable, DatasetInfo]:
    """(the config, the table on ``device``, its info) of a Decision Transformer step at this size."""
    table = EpisodeTable(random_episodes(episodes), device)
    config = dt.Config(dataset="synthetic/numberline-v0")
    model = TransformerConfig(context=context, embed_dim=embed_dim, layers=layers, heads=1, dropout=0.1)
    config = dataclasses.replace(config, model=model, run=dataclasses.replace(config.run, batch_size=batch))
    return config, table, info_of(table)
