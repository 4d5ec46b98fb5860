"""The dark room shared by DarkRoom and Key-to-Door: cells, moves, the start, and the room's batch.

Cells are numbered ``row * size + col``. The five actions move up, down, left, right or stay; a
move into a wall leaves the agent where it is. Every sub-episode starts on the same cell. With
``obs_mode="image"`` the observation shows the room as a frame (:mod:`icl_envs.icrl.room_view`)
instead of the cell's number.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from icl_envs.checks import check_choice, check_int
from icl_envs.icrl.room_view import check_image_arguments, image_observation_space, room_frames
from icl_envs.icrl.trial import TrialBatch, TrialEnv, check_trial_length

ACTIONS = ("up", "down", "left", "right", "stay")
STARTS = ("center", "corner")
MAX_SIZE = 64
#: Row and column change of each action.
_DROW = np.array([-1, 1, 0, 0, 0])
_DCOL = np.array([0, 0, -1, 1, 0])


def check_room(size: Any, start: Any) -> tuple[int, str]:
    return check_int("size", size, minimum=2, maximum=MAX_SIZE), check_choice("start", start, STARTS)


def start_cell(size: int, start: str) -> int:
    """The centre cell (row and column ``size // 2``), or the top-left corner (cell 0)."""
    return (size // 2) * size + size // 2 if start == "center" else 0


def move(cells: Any, actions: Any, size: int) -> Any:
    """The cells reached by ``actions`` from ``cells`` (arrays or ints), walls holding the agent."""
    row = np.clip(cells // size + _DROW[actions], 0, size - 1)
    col = np.clip(cells % size + _DCOL[actions], 0, size - 1)
    return row * size + col


def distance(a: Any, b: Any, size: int) -> Any:
    """Steps between two cells (Manhattan: no obstacles in the room)."""
    return abs(a // size - b // size) + abs(a % size - b % size)


def is_cell(value: Any, size: int) -> bool:
    """Whether a generator's ``value`` is a cell of the room (an integer in [0, size**2))."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value < size * size


class RoomBatch(TrialBatch):
    """Trials in a ``size`` x ``size`` room: the agent's cell, back on ``start`` every sub-episode."""

    def __init__(self, size: int, start: int, horizon: int, episodes_per_trial: int, batch: int):
        super().__init__(batch, horizon, episodes_per_trial)
        self.room, self.start = size, start
        self.position = np.full(batch, start, dtype=np.int64)
        self.image_size: int | None = None
        """Observe frames of this size instead of the cell (``obs_mode="image"``); None: the cell."""

    def observation(self) -> dict[str, np.ndarray]:
        obs = super().observation()
        if self.image_size is not None:
            obs["image"] = room_frames(obs.pop("state"), self.room, self.image_size)
        return obs

    def _restart(self, envs: np.ndarray) -> None:
        self.position[envs] = self.start

    def _state(self) -> np.ndarray:
        return self.position

    def _move(self, actions: np.ndarray) -> np.ndarray:
        self.position = move(self.position, actions, self.room)
        return self.position


class RoomEnv(TrialEnv):
    """What Dark Room and Key-to-Door share: the room's arguments, its batch and its generator.

    A subclass sets ``batch_class`` and ``generator_class`` (built with the room's ``size``) and
    calls ``_setup_room`` with its arguments."""

    action_strings = ACTIONS
    batch_class: type[RoomBatch]
    generator_class: type

    def _setup_room(
        self,
        size: Any,
        horizon: Any,
        episodes_per_trial: Any,
        start: Any,
        render_mode: Any,
        generator: Any,
        obs_mode: Any = "symbolic",
        image_size: Any = 84,
    ) -> None:
        self.size, self.start = check_room(size, start)
        self.obs_mode, self.image_size = check_image_arguments(obs_mode, image_size, self.size)
        self.horizon, self.episodes_per_trial = check_trial_length(horizon, episodes_per_trial)
        self.start_cell = start_cell(self.size, self.start)
        self.generator = self.generator_class(self.size) if generator is None else generator
        self._setup_trial(
            self.size**2, len(ACTIONS), self.horizon, self.episodes_per_trial, (0.0, 1.0), render_mode
        )
        if self.obs_mode == "image":
            self.observation_space = image_observation_space(self.observation_space, self.image_size)

    def new_batch(self, size: int) -> RoomBatch:
        batch = self.batch_class(self.size, self.start_cell, self.horizon, self.episodes_per_trial, size)
        batch.image_size = self.image_size if self.obs_mode == "image" else None
        return batch

    def task_bytes(self) -> int:
        frame = 3 * self.image_size**2 if self.obs_mode == "image" else 0
        return super().task_bytes() + frame
