"""A numpy batch of ``MRPValueEnv``: every step of every env in a few array operations."""

from __future__ import annotations

from typing import Any

import numpy as np

from icl_envs.mrp.env import MRPValueEnv, check_task, episode_arrays
from icl_envs.mrp.generators import MRPTasks, stack_tasks
from icl_envs.prediction import PredictionVectorEnv


class MRPValueVectorEnv(PredictionVectorEnv):
    """``num_envs`` copies of ``MRPValueEnv`` stepped together in numpy (see that class for the env).

    Same keyword arguments as ``MRPValueEnv`` after ``num_envs`` (``render_mode`` only ``None``).
    Autoreset is ``NEXT_STEP``: the step after an episode ends resets that env (its action is
    ignored, reward 0). Stepping, seeding and ``reset`` come from
    :class:`~icl_envs.prediction.PredictionVectorEnv`: each env draws its tasks from its own
    Generator, so the numbers are exactly those of ``SyncVectorEnv`` over ``MRPValueEnv``; only the
    arithmetic is batched (a generator with ``sample_each``, such as ``MRPTasks``, turns every env's
    draws into tasks in one computation).
    """

    single_env_class = MRPValueEnv

    def __init__(self, num_envs: int, **kwargs: Any) -> None:
        template = self._setup_prediction(num_envs, kwargs)
        self.generator, self.d = template.generator, template.d

    def _bytes_per_env(self, template: MRPValueEnv) -> int:
        """The episode arrays and, for our generator, drawing one task (a plugged-in generator's own
        memory is its business)."""
        extra = (
            template.generator.bytes_per_task(template.n) if isinstance(template.generator, MRPTasks) else 0
        )
        return super()._bytes_per_env(template) + extra

    def _draw_episodes(
        self, envs: np.ndarray, out: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw a fresh task for each env in ``envs`` from that env's own Generator."""
        rngs = [self.rngs[i] for i in envs]
        if hasattr(self.generator, "sample_each"):
            tasks = self.generator.sample_each(rngs, self.n)
            if not isinstance(self.generator, MRPTasks):  # a user's generator: check what it gives
                check_task(tasks, self.n, self.d, self.generator, batch=len(rngs))
        else:
            single_tasks = [self.generator.sample(rng, self.n) for rng in rngs]
            for task in single_tasks:
                check_task(task, self.n, self.d, self.generator)
            tasks = stack_tasks(single_tasks)
        return episode_arrays(tasks, out=out)


__all__ = ["MRPValueVectorEnv"]
