"""KeyToDoorEnv: find a hidden key, then a hidden door, in a dark room, sub-episode after sub-episode."""

from __future__ import annotations

from typing import Any

import numpy as np

from icl_envs.bounds import EpisodeBounds
from icl_envs.icrl.keytodoor.generator import KeyToDoorGenerator, check_keytodoor_task
from icl_envs.icrl.room import RoomBatch, RoomEnv
from icl_envs.icrl.room_view import DEFAULT_IMAGE_SIZE


class KeyToDoorBatch(RoomBatch):
    """Key-to-Door trials: 1 for picking up the key, 1 for reaching the door with it (which ends
    the sub-episode)."""

    def __init__(self, size: int, start: int, horizon: int, episodes_per_trial: int, batch: int):
        super().__init__(size, start, horizon, episodes_per_trial, batch)
        self.key = np.zeros(batch, dtype=np.int64)
        self.door = np.zeros(batch, dtype=np.int64)
        self.has_key = np.zeros(batch, dtype=bool)

    def _load_tasks(self, envs: np.ndarray, tasks: list[Any]) -> None:
        self.key[envs] = [task.key for task in tasks]
        self.door[envs] = [task.door for task in tasks]

    def _restart(self, envs: np.ndarray) -> None:
        super()._restart(envs)
        self.has_key[envs] = False

    def _transition(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cells = self._move(actions)
        picked = (cells == self.key) & ~self.has_key
        opened = (cells == self.door) & self.has_key
        self.has_key |= picked
        return picked + opened.astype(np.float64), opened


class KeyToDoorEnv(RoomEnv):
    """Find a hidden key, then a hidden door, in a dark room; the same key and door all trial long.

    ## Description
    A ``size`` x ``size`` room with a key and a door drawn per trial on different cells, both
    invisible. The agent sees only its own cell and the rewards. Each trial is
    ``episodes_per_trial`` sub-episodes of at most ``horizon`` steps from the same start cell: an
    in-context learner has to remember where the key was and where the door was. It is the Dark
    Key-to-Door task of Laskin et al. 2022 (Algorithm Distillation: 9 x 9, 50 steps).

    ## Action Space
    ``Discrete(5)``: 0 up, 1 down, 2 left, 3 right, 4 stay. A move into a wall stays put.

    ## Observation Space
    ``Dict(state=Discrete(size**2), step=Discrete(horizon), episode=Discrete(episodes_per_trial),
    last_reward=Box(0, 1, (1,)))``: the agent's cell ``row * size + col``, the steps taken in this
    sub-episode, the sub-episode index and the last reward (0 at the start of the trial). Whether
    the key is held is not shown: the reward history says it.

    With ``obs_mode="image"``, ``Dict(image=Box(0, 255, (image_size, image_size, 3), uint8), step,
    episode, last_reward)``: the room seen from above, its grid on a dark floor and the agent's disc
    on its cell, in place of the cell's number (the hidden cells stay hidden).

    ## Rewards
    1 for the step that first reaches the key in a sub-episode; 1 for the step that reaches the
    door holding the key. At most 2 per sub-episode.

    ## Starting State
    Key uniform over the cells, door uniform over the other cells. Every sub-episode starts on
    ``start`` (``"center"`` or ``"corner"``) without the key.

    ## Episode End
    A sub-episode ends when the door is reached with the key or after ``horizon`` steps
    (``info["sub_episode_end"]``; ``info["sub_episode_return"]`` is its return so far). The trial
    terminates when its last sub-episode ends.

    ## Arguments
    ``size=9`` (2..64), ``horizon=50``, ``episodes_per_trial=10`` (their product at most 10000),
    ``start="center"``, ``render_mode=None``, ``generator=None`` (an object with
    ``sample(np_random) -> KeyToDoorTask``), ``obs_mode="symbolic"`` or ``"image"``, ``image_size=84``
    (pixels, at least 4 per cell, at most 1024).

    ## Vector env
    ``KeyToDoorVectorEnv`` (the ``vector_entry_point``): every trial stepped with numpy, NEXT_STEP
    autoreset, the same numbers as ``SyncVectorEnv`` for the same seeds.

    ## Version History
    - v0: initial version; ``obs_mode="image"`` added later (the default observations unchanged).
    """

    batch_class = KeyToDoorBatch
    generator_class = KeyToDoorGenerator

    def __init__(
        self,
        size: int = 9,
        horizon: int = 50,
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
        check_keytodoor_task(task, self.size)

    def episode_bounds(self) -> EpisodeBounds:
        """At most 2 per sub-episode. A sub-episode lasts 2..horizon steps: the door is another cell
        than the key, so opening it takes a step after the one that picks the key up."""
        return EpisodeBounds(
            0.0,
            2.0 * self.episodes_per_trial,
            min(2, self.horizon) * self.episodes_per_trial,
            self.horizon * self.episodes_per_trial,
            step_rewards=(0.0, 1.0),
            sub_episodes=self.episodes_per_trial,
        )
