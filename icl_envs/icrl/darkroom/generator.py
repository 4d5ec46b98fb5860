"""Dark Room's tasks: a goal cell, never shown, uniform over the room."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from icl_envs.checks import describe
from icl_envs.icrl.room import check_room, is_cell


@dataclass(frozen=True)
class DarkRoomTask:
    goal: int


class DarkRoomGenerator:
    """The goal uniform over the ``size * size`` cells (the start cell included)."""

    def __init__(self, size: int = 9):
        self.size, _ = check_room(size, "center")

    def sample(self, np_random: np.random.Generator) -> DarkRoomTask:
        return DarkRoomTask(int(np_random.integers(self.size * self.size)))


def check_darkroom_task(task: Any, size: int) -> None:
    if not is_cell(getattr(task, "goal", None), size):
        raise ValueError(
            f"generator produced an invalid task {describe(task)}: goal must be a cell in [0, {size * size - 1}]"
        )
