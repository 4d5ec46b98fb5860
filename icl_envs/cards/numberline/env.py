"""NumberLineEnv: move a marker along a number line to a target (the gym-cards task, defects fixed)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded

from icl_envs.bounds import EpisodeBounds
from icl_envs.cards.base import CardGameEnv, check_card_generator
from icl_envs.cards.numberline.generator import NumberLineGenerator, NumberLineTask, check_numberline_task
from icl_envs.cards.numberline.rules import ACTION_STRINGS, MAX_POSITION, numberline_step, step_limit
from icl_envs.cards.numberline.viewer import numberline_frame
from icl_envs.checks import check_discrete_action, check_int


def numberline_text(current: int, target: int, max_position: int) -> str:
    return f"A number line from 0 to {max_position}. Current number: {current}. Target number: {target}."


class NumberLineEnv(CardGameEnv):
    """Move a marker one step at a time along a number line until it reaches the target.

    ## Description
    Positions are the integers 0..``max_position``. Each episode draws a start and a different
    target. The agent moves the marker left ("-") or right ("+"); the line has walls at both ends.
    It is the NumberLine task of gym-cards (Zhai et al. 2024), with its defects fixed: the start
    never equals the target, randomness comes from ``reset(seed=...)`` (gym-cards used Python's
    global ``random``), and ``info`` keys are lower case.

    ## Action Space
    ``Discrete(2)``: 0 "-" (left), 1 "+" (right).

    ## Observation Space
    ``obs_mode="image"`` (default): ``Box(0, 255, (image_size, image_size, 3), uint8)`` showing the
    target and current numbers in words, the line, a flag on the target and a marker on the current
    position. ``"symbolic"``: ``Dict(current=Discrete(max_position + 1), target=Discrete(max_position + 1))``.
    ``"text"``: the state in one sentence. ``"multimodal"``: ``Dict(image, text, action_mask)``.

    ## Rewards
    +1 for the step that reaches the target; -1 for a step that does not reduce the distance
    (away from the target, or into a wall); 0 otherwise.

    ## Starting State
    ``(start, target)`` uniform over the ordered pairs of distinct positions.

    ## Episode End
    Terminated on reaching the target; truncated after ``2 * max_position`` steps.

    ## Arguments
    ``max_position=5`` (1..20), ``obs_mode="image"``, ``image_size=300`` (128..2048),
    ``render_mode=None``, ``generator=None`` (an object with ``sample(np_random) -> NumberLineTask``).
    ``reset(options={"start": s, "target": t})`` sets a task; any other option key is refused.

    ## Vector env
    ``NumberLineVectorEnv`` (``gym.make_vec("icl/NumberLine-v0", num_envs, vectorization_mode="vector_entry_point")``)
    steps all envs with numpy, symbolic and image modes, NEXT_STEP autoreset. ``num_envs`` <= 65536,
    and the sub-envs' frames together must fit in about 1 GiB (``image_size=300``: about 1,900 envs).

    ## Version History
    - v0: initial version, gym-cards compatible actions, rewards and episode ends.
    """

    action_strings = ACTION_STRINGS
    reset_options = ("start", "target")
    reset_hint = "options set a task: {'start': s, 'target': t}"
    task_description = (
        "You are playing NumberLine. A marker sits on a number line at the current number, and a "
        "target number is marked on the same line. Each step you move the marker one position: "
        '"-" moves it left (down by one), "+" moves it right (up by one). Reaching the target earns 1; '
        "a move that does not bring the marker closer to the target costs 1."
    )
    answer_fields = {"current number": "the number the marker is on", "target number": "the target number"}

    def __init__(
        self,
        max_position: int = 5,
        obs_mode: str = "image",
        image_size: int = 300,
        render_mode: str | None = None,
        generator: Any = None,
    ):
        self.max_position = check_int("max_position", max_position, minimum=1, maximum=MAX_POSITION)
        check_card_generator(generator)
        self.generator = generator if generator is not None else NumberLineGenerator(self.max_position)
        positions = gym.spaces.Discrete(self.max_position + 1)
        self.symbolic_space = gym.spaces.Dict({"current": positions, "target": positions})
        self._setup_observations(obs_mode, image_size, render_mode)
        self.position = self.target = 0
        self.steps = 0
        self._episode_over = True  # no episode until reset

    def action_mask(self) -> np.ndarray:
        return np.ones(2, dtype=np.int8)  # both moves are always allowed (a wall move costs 1)

    def symbolic_observation(self) -> dict[str, np.int64]:
        return {"current": np.int64(self.position), "target": np.int64(self.target)}

    def state_text(self) -> str:
        return numberline_text(self.position, self.target, self.max_position)

    def frame(self) -> np.ndarray:
        return numberline_frame(self.position, self.target, self.max_position, self.image_size).copy()

    def _info(self) -> dict[str, Any]:
        return {"action_mask": self.action_mask(), "current": self.position, "target": self.target}

    def _task_from_options(self, options: dict[str, Any]) -> NumberLineTask:
        if set(options) != {"start", "target"}:
            raise ValueError(f"options must be {{'start': s, 'target': t}}, got keys {sorted(options)}")
        start = check_int("options['start']", options["start"], minimum=0, maximum=self.max_position)
        target = check_int("options['target']", options["target"], minimum=0, maximum=self.max_position)
        if start == target:
            raise ValueError("options['start'] must differ from options['target']")
        return NumberLineTask(start, target)

    def _start(self, task: NumberLineTask) -> None:
        check_numberline_task(task, self.max_position)
        self.position, self.target, self.steps = task.start, task.target, 0

    def step(self, action: Any):
        if self._episode_over:  # as the other envs: an ended episode is reset, not stepped on
            raise ResetNeeded("call reset() before step(): the episode has ended (or never started)")
        action = check_discrete_action(action, 2)
        self.position, reward, terminated = numberline_step(
            self.position, self.target, action, self.max_position
        )
        self.steps += 1
        truncated = not terminated and self.steps >= step_limit(self.max_position)
        self._episode_over = terminated or truncated
        if self.render_mode == "human":
            self.render()
        return self.observation(), reward, terminated, truncated, self._info()

    def episode_bounds(self) -> EpisodeBounds:
        """Steps pay -1, 0 or +1, and +1 only on reaching the target, which ends the episode: a
        return of at most 1; at most ``2 * max_position`` steps, each at worst -1."""
        limit = step_limit(self.max_position)
        return EpisodeBounds(-float(limit), 1.0, 1, limit, step_rewards=(-1.0, 0.0, 1.0))
