"""NumberLine: move a marker along a number line to a target (the gym-cards task, defects fixed)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import InvalidAction, ResetNeeded
from gymnasium.vector import AutoresetMode

from icl_envs.cards.base import CardGameEnv, CardVectorEnv, check_card_generator, check_card_vector_arguments
from icl_envs.checks import check_discrete_action, check_int

ACTION_STRINGS = ("-", "+")


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
        self.max_position = check_int("max_position", max_position, minimum=1)
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
        raise ValueError(f"generator produced an invalid task {task!r} for max_position={max_position}")


def numberline_step(position: int, target: int, action: int, max_position: int) -> tuple[int, float, bool]:
    """Move (clamped to the line) and score: +1 on the target, -1 unless the distance shrank, else 0."""
    new_position = min(max(position + (1 if action == 1 else -1), 0), max_position)
    if new_position == target:
        return new_position, 1.0, True
    closer = abs(new_position - target) < abs(position - target)
    return new_position, 0.0 if closer else -1.0, False


# --- Drawing ---------------------------------------------------------------------------------------
BACKGROUND = (250, 250, 246)
INK = (25, 25, 30)
TARGET_COLOR = (30, 140, 70)
MARKER_COLOR = (200, 30, 45)


@functools.lru_cache(maxsize=32)
def _line_layout(max_position: int, size: int) -> tuple[Any, list[int], int]:
    """The static part of the frame (line, ticks, numbers) and the x of each tick."""
    import pygame

    from icl_envs.cards.sprites import text_surface

    surface = pygame.Surface((size, size))
    surface.fill(BACKGROUND)
    margin = round(0.1 * size)
    line_y = round(0.68 * size)
    xs = [round(margin + i * (size - 2 * margin) / max_position) for i in range(max_position + 1)]
    thick = max(2, size // 100)
    pygame.draw.line(surface, INK, (xs[0] - margin // 2, line_y), (xs[-1] + margin // 2, line_y), thick)
    digit_px = max(12, min(round(0.08 * size), round(1.1 * (xs[1] - xs[0]))))
    for i, x in enumerate(xs):
        pygame.draw.line(surface, INK, (x, line_y - 2 * thick), (x, line_y + 2 * thick), thick)
        label = text_surface(str(i), digit_px, INK)
        surface.blit(label, label.get_rect(midtop=(x, line_y + 3 * thick)))
    return surface, xs, line_y


def draw_numberline_frame(current: int, target: int, max_position: int, size: int) -> np.ndarray:
    """A ``(size, size, 3)`` frame: the target and current numbers in words, the line, a flag and a marker."""
    import pygame

    from icl_envs.cards.sprites import surface_to_array, text_surface

    static, xs, line_y = _line_layout(max_position, size)
    surface = static.copy()
    text_px = round(0.11 * size)
    surface.blit(
        text_surface(f"Target: {target}", text_px, TARGET_COLOR, True),
        (round(0.08 * size), round(0.07 * size)),
    )
    surface.blit(
        text_surface(f"Current: {current}", text_px, MARKER_COLOR, True),
        (round(0.08 * size), round(0.22 * size)),
    )
    spacing = xs[1] - xs[0]
    # Target: a flag on a pole standing on the line.
    pole = max(2, size // 120)
    top = line_y - round(0.2 * size)
    pygame.draw.line(surface, TARGET_COLOR, (xs[target], line_y), (xs[target], top), pole)
    flag = min(round(0.07 * size), spacing // 2)
    pygame.draw.polygon(
        surface,
        TARGET_COLOR,
        [(xs[target], top), (xs[target] + flag, top + flag // 2), (xs[target], top + flag)],
    )
    # Current position: a filled triangle pointing at the line.
    half = max(4, min(round(0.035 * size), spacing // 3))
    tip = line_y - max(3, size // 60)
    pygame.draw.polygon(
        surface,
        MARKER_COLOR,
        [(xs[current] - half, tip - 2 * half), (xs[current] + half, tip - 2 * half), (xs[current], tip)],
    )
    return surface_to_array(surface)


def numberline_text(current: int, target: int, max_position: int) -> str:
    return f"A number line from 0 to {max_position}. Current number: {current}. Target number: {target}."


# --- Single env ------------------------------------------------------------------------------------
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
    ``max_position=5``, ``obs_mode="image"``, ``image_size=300``, ``render_mode=None``,
    ``generator=None`` (an object with ``sample(np_random) -> NumberLineTask``).
    ``reset(options={"start": s, "target": t})`` sets a task.

    ## Vector env
    ``NumberLineVectorEnv`` (``gym.make_vec("icl/NumberLine-v0", num_envs, vectorization_mode="vector_entry_point")``)
    steps all envs with numpy, symbolic and image modes, NEXT_STEP autoreset.

    ## Version History
    - v0: initial version, gym-cards compatible actions, rewards and episode ends.
    """

    action_strings = ACTION_STRINGS
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
        self.max_position = check_int("max_position", max_position, minimum=1, maximum=20)
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
        return draw_numberline_frame(self.position, self.target, self.max_position, self.image_size)

    def _info(self) -> dict[str, Any]:
        return {"action_mask": self.action_mask(), "current": self.position, "target": self.target}

    def _task_from_options(self, options: dict[str, Any]) -> NumberLineTask:
        unknown = set(options) - {"start", "target"}
        if unknown or set(options) != {"start", "target"}:
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
        truncated = not terminated and self.steps >= 2 * self.max_position
        self._episode_over = terminated or truncated
        if self.render_mode == "human":
            self.render()
        return self.observation(), reward, terminated, truncated, self._info()


# --- Vector env ------------------------------------------------------------------------------------
class NumberLineVectorEnv(CardVectorEnv):
    """``num_envs`` NumberLine envs stepped together with numpy (symbolic or image observations).

    Env ``i`` draws its tasks from its own generator, seeded with ``seed + i`` by
    ``reset(seed=seed)``, so the results equal ``SyncVectorEnv`` over ``NumberLineEnv`` with the
    same seeds. Autoreset is NEXT_STEP: the step after an episode ends resets that env (its
    action is ignored, reward 0).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": ["rgb_array"]}
    reset_hint = "reset single envs to set a task"

    def __init__(
        self,
        num_envs: int,
        max_position: int = 5,
        obs_mode: str = "image",
        image_size: int = 300,
        render_mode: str | None = None,
        generator: Any = None,
    ):
        self.max_position = check_int("max_position", max_position, minimum=1, maximum=20)
        self.obs_mode, self.image_size, self.render_mode = check_card_vector_arguments(
            obs_mode, image_size, render_mode, generator
        )
        self.generator = generator if generator is not None else NumberLineGenerator(self.max_position)
        positions = gym.spaces.Discrete(self.max_position + 1)
        # The default generator's draws are fetched in blocks; a user's generator is called per task.
        prefetch = hasattr(self.generator, "bounds") and hasattr(self.generator, "decode")
        self._setup_card_vector(
            num_envs, gym.spaces.Dict({"current": positions, "target": positions}), 2, prefetch
        )
        self.position = np.zeros(self.num_envs, dtype=np.int64)
        self.target = np.zeros(self.num_envs, dtype=np.int64)
        self.steps = np.zeros(self.num_envs, dtype=np.int64)
        self._mask = np.ones((self.num_envs, 2), dtype=np.int8)

    def _new_tasks(self, envs: np.ndarray) -> None:
        if self.draws is not None:
            self.position[envs], self.target[envs] = self.generator.decode(self.draws.take(envs))
        else:
            for i in envs:
                task = self.generator.sample(self.rngs[i])
                check_numberline_task(task, self.max_position)  # as the single env does
                self.position[i], self.target[i] = task.start, task.target
        self.steps[envs] = 0

    def _observation(self) -> Any:
        if self.obs_mode == "symbolic":
            return {"current": self.position.copy(), "target": self.target.copy()}
        return np.stack(
            [
                draw_numberline_frame(int(p), int(t), self.max_position, self.image_size)
                for p, t in zip(self.position, self.target)
            ]
        )

    def _info(self, present: np.ndarray | None = None) -> dict[str, Any]:
        """The batched info; ``present`` marks the envs that report one (all but after a masked reset)."""
        every = np.ones(self.num_envs, dtype=bool) if present is None else present.copy()
        return {
            "action_mask": self._mask.copy(),
            "_action_mask": every,
            "current": self.position.copy(),
            "_current": every,
            "target": self.target.copy(),
            "_target": every,
        }

    def step(self, actions: Any):
        if not self._started:
            raise ResetNeeded("call reset() before step()")
        actions = np.asarray(actions)
        if (
            actions.shape != (self.num_envs,)
            or actions.dtype.kind not in "iu"
            or np.any((actions < 0) | (actions > 1))
        ):
            raise InvalidAction(f"actions must be {self.num_envs} integers in [0, 1], got {actions!r}")
        moved = np.clip(self.position + np.where(actions == 1, 1, -1), 0, self.max_position)
        reached = moved == self.target
        closer = np.abs(moved - self.target) < np.abs(self.position - self.target)
        rewards = np.where(reached, 1.0, np.where(closer, 0.0, -1.0))
        self.position = moved
        self.steps += 1
        terminated = reached
        truncated = ~reached & (self.steps >= 2 * self.max_position)
        # NEXT_STEP autoreset: envs that ended last step start a new task and score nothing.
        self._new_tasks(np.flatnonzero(self.needs_reset))
        rewards[self.needs_reset] = 0.0
        terminated[self.needs_reset] = False
        truncated[self.needs_reset] = False
        self.needs_reset = terminated | truncated
        return self._observation(), rewards, terminated, truncated, self._info()

    def render(self) -> tuple[np.ndarray, ...] | None:
        """One frame per env, as a tuple like ``SyncVectorEnv.render()`` (and BlackjackVectorEnv)."""
        if self.render_mode is None:
            return None
        return tuple(
            draw_numberline_frame(int(p), int(t), self.max_position, self.image_size)
            for p, t in zip(self.position, self.target)
        )
