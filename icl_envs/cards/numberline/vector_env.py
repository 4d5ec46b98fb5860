"""NumberLineVectorEnv: ``num_envs`` NumberLine envs stepped together with numpy."""

from __future__ import annotations

from typing import Any

import numpy as np

from icl_envs.cards.base import CardVectorEnv
from icl_envs.cards.numberline.env import NumberLineEnv
from icl_envs.cards.numberline.generator import check_numberline_task
from icl_envs.cards.numberline.rules import numberline_step, step_limit
from icl_envs.cards.numberline.viewer import numberline_frame
from icl_envs.checks import check_discrete_actions


class NumberLineVectorEnv(CardVectorEnv):
    """``num_envs`` NumberLine envs stepped together with numpy (symbolic or image observations).

    Takes the arguments of :class:`~icl_envs.cards.numberline.env.NumberLineEnv` (``obs_mode``
    "symbolic" or "image"). Env ``i`` draws its tasks from its own generator, seeded with
    ``seed + i`` by ``reset(seed=seed)``, so the results equal ``SyncVectorEnv`` over
    ``NumberLineEnv`` with the same seeds. Autoreset is NEXT_STEP: the step after an episode ends
    resets that env (its action is ignored, reward 0).
    """

    single_env_class = NumberLineEnv
    reset_hint = "reset single envs to set a task"

    def __init__(self, num_envs: int, **kwargs: Any):
        self.max_position = self._setup_from_single_env(num_envs, kwargs).max_position
        self.position = np.zeros(self.num_envs, dtype=np.int64)
        self.target = np.zeros(self.num_envs, dtype=np.int64)
        self.steps = np.zeros(self.num_envs, dtype=np.int64)
        self._mask = np.ones((self.num_envs, 2), dtype=np.int8)

    def _prefetchable(self, generator: Any) -> bool:
        # The default generator's draws are fetched in blocks; a user's generator is called per task.
        return hasattr(generator, "bounds") and hasattr(generator, "decode")

    def _new_tasks(self, envs: np.ndarray) -> None:
        if self.draws is not None:
            self.position[envs], self.target[envs] = self.generator.decode(self.draws.take(envs))
        else:
            for i in envs:
                task = self.generator.sample(self.rngs[i])
                check_numberline_task(task, self.max_position)  # as the single env does
                self.position[i], self.target[i] = task.start, task.target
        self.steps[envs] = 0

    def _symbolic_observation(self) -> dict[str, np.ndarray]:
        return {"current": self.position.copy(), "target": self.target.copy()}

    def _frames(self) -> np.ndarray:
        return np.stack(
            [
                numberline_frame(p, t, self.max_position, self.image_size)
                for p, t in zip(self.position, self.target)
            ]
        )

    def _info(self, present: np.ndarray | None = None) -> dict[str, Any]:
        values = {
            "action_mask": self._mask.copy(),
            "current": self.position.copy(),
            "target": self.target.copy(),
        }
        return self._batched_info(values, present)

    def step(self, actions: Any):
        self._check_started()
        actions = check_discrete_actions(actions, self.num_envs, 2)
        self.position, rewards, reached = numberline_step(
            self.position, self.target, actions, self.max_position
        )
        self.steps += 1
        terminated = reached
        truncated = ~reached & (self.steps >= step_limit(self.max_position))
        # NEXT_STEP autoreset: envs that ended last step start a new task and score nothing.
        self._new_tasks(np.flatnonzero(self.needs_reset))
        rewards[self.needs_reset] = 0.0
        terminated[self.needs_reset] = False
        truncated[self.needs_reset] = False
        self.needs_reset = terminated | truncated
        return self._observation(), rewards, terminated, truncated, self._info()
