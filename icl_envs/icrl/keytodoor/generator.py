"""Key-to-Door's tasks: a key cell and a different door cell, both hidden, uniform over the room."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from icl_envs.checks import describe
from icl_envs.icrl.room import check_room, is_cell


@dataclass(frozen=True)
class KeyToDoorTask:
    key: int
    door: int


class KeyToDoorGenerator:
    """The key uniform over the cells, the door uniform over the other cells."""

    def __init__(self, size: int = 9):
        self.size, _ = check_room(size, "center")

    def sample(self, np_random: np.random.Generator) -> KeyToDoorTask:
        cells = self.size * self.size
        key, other = np_random.integers(0, (cells, cells - 1))
        return KeyToDoorTask(int(key), int(other + (other >= key)))  # skip the key's cell


def check_keytodoor_task(task: Any, size: int) -> None:
    key, door = getattr(task, "key", None), getattr(task, "door", None)
    if not (is_cell(key, size) and is_cell(door, size) and key != door):
        raise ValueError(
            f"generator produced an invalid task {describe(task)}: key and door must be different "
            f"cells in [0, {size * size - 1}]"
        )
