"""Gymnasium observations as the arrays the offline models read, and Minari datasets as episodes.

Datasets are read by the dataset module (:mod:`baselines.offline.datasets`), the one loader of
the suite's offline datasets. Symbolic spaces (``Discrete``, ``MultiDiscrete``, ``Tuple`` and ``Dict`` of them) become (N, C) int64
component values counted from 0, in one fixed component order (``Dict`` keys in the space's order,
``Tuple`` in order), the same for a dataset's episodes and a vector env's batch at play time; frames
(a ``uint8`` ``Box`` of shape (H, W, C)) stay as they are.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from baselines.offline.datasets import (
    episode_observation_space,
    iter_episode_arrays,
    observation_components,
    symbolic_columns,
)
from baselines.offline.sequences import Episode, frame_pool, shrink_frames


def symbolic_sizes(space: gym.Space) -> list[int]:
    """The number of values of each integer component of a symbolic space, in flattening order
    (``Dict`` keys in the space's order), or a ``ValueError`` naming the space."""
    return list(observation_components(space))


def _offsets(space: gym.Space) -> np.ndarray:
    """What each component's values start at (``Discrete(n, start=s)`` counts from s)."""
    if isinstance(space, gym.spaces.Discrete):
        return np.asarray([int(space.start)])
    if isinstance(space, gym.spaces.MultiDiscrete):
        return np.asarray(space.start).reshape(-1).astype(np.int64)
    parts = space.spaces if isinstance(space, gym.spaces.Tuple) else space.spaces.values()
    return np.concatenate([_offsets(part) for part in parts])


def flatten_symbolic(space: gym.Space, obs) -> np.ndarray:
    """``obs`` (a batch: arrays with a leading axis, dicts and tuples of them) as an (N, C) int64
    array of component values counted from 0 (the dataset's columns, shifted by each start)."""
    return symbolic_columns(space, obs) - _offsets(space)


def is_frames(space: gym.Space) -> bool:
    """A ``uint8`` ``Box`` of shape (H, W, C): frames for the CNN."""
    return isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3


def observation_array(space: gym.Space, obs) -> np.ndarray:
    """A batch of observations in the form the encoders take: (N, C) int64 or (N, H, W, C) uint8."""
    if is_frames(space):
        return np.asarray(obs, dtype=np.uint8)
    return flatten_symbolic(space, obs)


def check_observation_space(space: gym.Space) -> None:
    """Refuse, naming the space, an observation space no encoder reads."""
    if not is_frames(space):
        symbolic_sizes(space)


def observation_shape(space: gym.Space) -> tuple[list[int] | None, list[int] | None]:
    """(component sizes, None) of a symbolic space, (None, [H, W, C]) of frames: what
    :func:`baselines.offline.sequences.make_encoder` builds from."""
    check_observation_space(space)
    if is_frames(space):
        return None, [int(n) for n in space.shape]
    return symbolic_sizes(space), None


def dataset_episodes(dataset) -> list[Episode]:
    """The episodes of a dataset written by ``icl-bench collect``, read by the dataset module's
    :func:`~baselines.offline.datasets.iter_episode_arrays` (the content hash checked on the way,
    an image dataset's frames drawn from its stored states, then shrunk as the CNN reads them,
    :func:`~baselines.offline.sequences.shrink_frames`), each without its last observation (the
    one after the final action)."""
    space = episode_observation_space(dataset)
    frames = is_frames(space)
    offsets = None if frames else _offsets(space)
    episodes = []
    for arrays in iter_episode_arrays(dataset, check_hash=True):
        steps = len(arrays.rewards)
        observations = arrays.observations[:steps]
        if frames:  # as the CNN reads them, once: a quarter of the bytes at 300 px, no per-step work
            observations = shrink_frames(observations, frame_pool(space.shape)).numpy()
        else:
            observations = observations - offsets
        episodes.append(Episode(observations, arrays.actions, arrays.rewards))
    return episodes


__all__ = [
    "check_observation_space",
    "dataset_episodes",
    "flatten_symbolic",
    "is_frames",
    "observation_array",
    "observation_shape",
    "symbolic_sizes",
]
