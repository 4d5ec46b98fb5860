"""NumberLine's tasks: a start and a different target on the line, and the generator that draws them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from icl_envs.cards.numberline.rules import MAX_POSITION
from icl_envs.checks import check_int, describe


@dataclass(frozen=True)
class NumberLineTask:
    start: int
    target: int


class NumberLineGenerator:
    """Start and target uniform over the distinct pairs of positions 0..max_position.

    A task consumes one row of draws ``np_random.integers(0, bounds)`` (the vector env fetches
    such rows in blocks, see ``PrefetchedDraws``); ``decode`` turns rows into tasks.
    """

    def __init__(self, max_position: int = 5):
        self.max_position = check_int("max_position", max_position, minimum=1, maximum=MAX_POSITION)
        self.bounds = (self.max_position + 1, self.max_position)

    def decode(self, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of draws (start, target index among the other positions) -> (start, target) arrays."""
        start, other = draws[:, 0], draws[:, 1]
        return start, other + (other >= start)  # skip the start: uniform over the other positions

    def sample(self, np_random: np.random.Generator) -> NumberLineTask:
        start, target = self.decode(np_random.integers(0, self.bounds)[None])
        return NumberLineTask(int(start[0]), int(target[0]))


def check_numberline_task(task: Any, max_position: int) -> None:
    """A generator's task must hold distinct integer positions in 0..max_position."""
    start, target = getattr(task, "start", None), getattr(task, "target", None)
    if not (
        isinstance(start, (int, np.integer))
        and isinstance(target, (int, np.integer))
        and 0 <= start <= max_position
        and 0 <= target <= max_position
        and start != target
    ):
        raise ValueError(
            f"generator produced an invalid task {describe(task)} for max_position={max_position}"
        )
