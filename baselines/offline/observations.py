"""Gymnasium observations as the arrays the offline models read, and Minari datasets as episodes.

Symbolic spaces (``Discrete``, ``MultiDiscrete``, ``Tuple`` and ``Dict`` of them) become (N, C) int64
component values counted from 0, in one fixed component order (``Dict`` keys in the space's order,
``Tuple`` in order), the same for a dataset's episodes and a vector env's batch at play time; frames
(a ``uint8`` ``Box`` of shape (H, W, C)) stay as they are.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from baselines.offline.sequences import Episode


def symbolic_sizes(space: gym.Space) -> list[int]:
    """The number of values of each integer component of a symbolic space, in flattening order
    (``Dict`` keys in the space's order), or a ``ValueError`` naming the space."""
    if isinstance(space, gym.spaces.Discrete):
        return [int(space.n)]
    if isinstance(space, gym.spaces.MultiDiscrete):
        return [int(n) for n in np.asarray(space.nvec).reshape(-1)]
    if isinstance(space, gym.spaces.Tuple):
        return [n for part in space.spaces for n in symbolic_sizes(part)]
    if isinstance(space, gym.spaces.Dict):
        return [n for key in space.spaces for n in symbolic_sizes(space.spaces[key])]
    raise ValueError(
        f"observation space {space} is not symbolic (Discrete, MultiDiscrete, Tuple or Dict of them)"
    )


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
    array of component values counted from 0."""

    def columns(space: gym.Space, value) -> list[np.ndarray]:
        if isinstance(space, gym.spaces.Discrete):
            return [np.asarray(value, dtype=np.int64).reshape(-1, 1)]
        if isinstance(space, gym.spaces.MultiDiscrete):
            array = np.asarray(value, dtype=np.int64)
            return [array.reshape(array.shape[0], -1)]
        if isinstance(space, gym.spaces.Tuple):
            return [c for part, v in zip(space.spaces, value) for c in columns(part, v)]
        return [c for key, part in space.spaces.items() for c in columns(part, value[key])]

    return np.concatenate(columns(space, obs), axis=1) - _offsets(space)


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
    """The episodes of a ``MinariDataset`` (its last observation, after the final action, dropped)."""
    space = dataset.observation_space
    episodes = []
    for data in dataset.iterate_episodes():
        steps = len(data.rewards)
        observations = observation_array(space, data.observations)[:steps]
        actions = np.asarray(data.actions).reshape(steps)
        episodes.append(Episode(observations, actions, np.asarray(data.rewards, dtype=np.float64)))
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
