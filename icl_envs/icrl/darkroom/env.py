"""DarkRoomEnv: find a hidden goal in a dark room, then come back to it in every sub-episode."""

from __future__ import annotations

from typing import Any

import numpy as np

from icl_envs.bounds import EpisodeBounds
from icl_envs.icrl.darkroom.generator import DarkRoomGenerator, check_darkroom_task
from icl_envs.icrl.room import RoomBatch, RoomEnv
from icl_envs.icrl.room_view import DEFAULT_IMAGE_SIZE


class DarkRoomBatch(RoomBatch):
    """Dark Room trials: reward 1 for every step that ends on the goal."""

    def __init__(self, size: int, start: int, horizon: int, episodes_per_trial: int, batch: int):
        super().__init__(size, start, horizon, episodes_per_trial, batch)
        self.goal = np.zeros(batch, dtype=np.int64)

    def _load_tasks(self, envs: np.ndarray, tasks: list[Any]) -> None:
        self.goal[envs] = [task.goal for task in tasks]

    def _transition(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        on_goal = self._move(actions) == self.goal
        return on_goal.astype(np.float64), np.zeros(self.size, dtype=bool)


class DarkRoomEnv(RoomEnv):
    """Find a goal you cannot see in a dark room, then return to it sub-episode after sub-episode.

    ## Description
    A ``size`` x ``size`` room with a goal cell drawn per trial and never shown. The agent sees only
    its own cell and the rewards. Each trial is ``episodes_per_trial`` sub-episodes of ``horizon``
    steps, all starting on the same cell with the same goal: an in-context learner explores in the
    first sub-episodes and goes straight to the goal in the later ones. It is the Dark Room of
    Laskin et al. 2022 (Algorithm Distillation: 9 x 9, 20 steps, start in the centre); Lee et al.
    2023 (Decision-Pretrained Transformer) use a 10 x 10 room with ``horizon=100``
    (``size=10, horizon=100``).

    ## Action Space
    ``Discrete(5)``: 0 up, 1 down, 2 left, 3 right, 4 stay. A move into a wall stays put.

    ## Observation Space
    ``Dict(state=Discrete(size**2), step=Discrete(horizon), episode=Discrete(episodes_per_trial),
    last_reward=Box(0, 1, (1,)))``: the agent's cell ``row * size + col``, the steps taken in this
    sub-episode, the sub-episode index and the last reward (0 at the start of the trial).

    With ``obs_mode="image"``, ``Dict(image=Box(0, 255, (image_size, image_size, 3), uint8), step,
    episode, last_reward)``: the room seen from above, its grid on a dark floor and the agent's disc
    on its cell, in place of the cell's number (the hidden cells stay hidden).

    ## Rewards
    1 for every step that ends on the goal (staying on it keeps paying), else 0.

    ## Starting State
    The goal is uniform over all cells. Every sub-episode starts on ``start``: ``"center"`` (row and
    column ``size // 2``) or ``"corner"`` (cell 0).

    ## Episode End
    The trial terminates after ``episodes_per_trial * horizon`` steps. ``info["sub_episode_end"]``
    is True on the last step of each sub-episode, ``info["sub_episode_return"]`` the sub-episode's
    return so far; the next step is the first of the next sub-episode, from the start cell.

    ## Arguments
    ``size=9`` (2..64), ``horizon=20``, ``episodes_per_trial=10`` (their product at most 10000),
    ``start="center"``, ``render_mode=None``, ``generator=None`` (an object with
    ``sample(np_random) -> DarkRoomTask``), ``obs_mode="symbolic"`` or ``"image"``, ``image_size=84``
    (pixels, at least 4 per cell, at most 1024).

    ## Vector env
    ``DarkRoomVectorEnv`` (the ``vector_entry_point``): every trial stepped with numpy, NEXT_STEP
    autoreset, the same numbers as ``SyncVectorEnv`` for the same seeds.

    ## Version History
    - v0: initial version; ``obs_mode="image"`` added later (the default observations unchanged).
    """

    batch_class = DarkRoomBatch
    generator_class = DarkRoomGenerator

    def __init__(
        self,
        size: int = 9,
        horizon: int = 20,
        episodes_per_trial: int = 10,
        start: str = "center",
        render_mode: str | None = None,
        generator: Any = None,
        obs_mode: str = "symbolic",
        image_size: int = DEFAULT_IMAGE_SIZE,
    ):
        self._setup_room(
            size, horizon, episodes_per_trial, start, render_mode, generator, obs_mode, image_size
        )

    def check_task(self, task: Any) -> None:
        check_darkroom_task(task, self.size)

    def episode_bounds(self) -> EpisodeBounds:
        """Steps pay 0 or 1; a trial lasts exactly ``episodes_per_trial * horizon`` steps."""
        steps = self.horizon * self.episodes_per_trial
        return EpisodeBounds(
            0.0, float(steps), steps, steps, step_rewards=(0.0, 1.0), sub_episodes=self.episodes_per_trial
        )
