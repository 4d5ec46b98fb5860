"""Native numpy vector envs for in-context regression.

Stepping is one set of array operations for all envs and seeding follows ``SyncVectorEnv``, both
written once in :class:`~icl_envs.prediction.PredictionVectorEnv`. What is regression's own is how
env i draws its tasks from its own generator: with ``generator.sample_each``, a block of tasks at
a time as the single env does, so the numbers are exactly those of ``SyncVectorEnv`` over the
single env. Autoreset is next-step: the step after an episode ends resets that env (reward 0, no
info).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from icl_envs.prediction import PredictionVectorEnv
from icl_envs.regression import env as single
from icl_envs.regression.generators import RegressionTasks


class RegressionVectorEnv(PredictionVectorEnv):
    """``num_envs`` copies of a :class:`~icl_envs.regression.env.RegressionEnv` stepped as arrays."""

    single_env_class: type[single.RegressionEnv] = single.RegressionEnv

    def __init__(self, num_envs: int, **kwargs: Any):
        template = self._setup_prediction(num_envs, kwargs)
        self.generator, self.d = template.generator, template.d
        # Tasks drawn ahead, per env (see RegressionEnv._next_task); position == block: used up.
        self._block_size = (
            self.generator.block_size(self.n) if isinstance(self.generator, RegressionTasks) else 1
        )
        self._block_inputs = np.zeros((self.num_envs, self._block_size, self.n, self.d))
        self._block_targets = np.zeros((self.num_envs, self._block_size, self.n))
        self._block_next = np.full(self.num_envs, self._block_size)

    def _bytes_per_env(self, template: single.RegressionEnv) -> int:
        """The episode arrays, the block of tasks drawn ahead and drawing it (our generators); a
        plugged-in generator's own memory is its business."""
        n, d, generator = template.n, template.d, template.generator
        if not isinstance(generator, RegressionTasks):
            return super()._bytes_per_env(template)
        block = generator.block_size(n)
        return super()._bytes_per_env(template) + block * (8 * (n * d + n) + generator.bytes_per_task(n))

    def _draw_episodes(
        self, envs: np.ndarray, out: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each env's next task, drawn from its own generator exactly as the single env draws it."""
        if isinstance(self.generator, RegressionTasks):
            inputs, targets = self._next_from_blocks(envs)
        elif hasattr(self.generator, "sample_each"):
            tasks = self.generator.sample_each([self.rngs[i] for i in envs], self.n)
            single.check_task(tasks, self.n, self.d, self.generator, batch=len(envs))
            inputs, targets = tasks.inputs, tasks.targets
        else:  # a user's generator with only sample(rng, n)
            tasks = [self.generator.sample(self.rngs[i], self.n) for i in envs]
            for task in tasks:
                single.check_task(task, self.n, self.d, self.generator)
            inputs = np.stack([task.inputs for task in tasks])
            targets = np.stack([task.targets for task in tasks])
        return single.episode_arrays(inputs, targets, out=out)

    def _reseeded(self, i: int) -> None:
        self._block_next[i] = self._block_size  # a seed starts a fresh stream of tasks

    def _next_from_blocks(self, envs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Serve the next task of each env's block, drawing a new block where one is used up."""
        block = self._block_size
        refill = envs[self._block_next[envs] == block]
        if refill.size:
            tasks = self.generator.sample_each([self.rngs[i] for i in refill], self.n, block)
            inputs = tasks.inputs.reshape(refill.size, block, self.n, self.d)
            targets = tasks.targets.reshape(refill.size, block, self.n)
            if refill.size == self.num_envs:
                self._block_inputs, self._block_targets = inputs, targets
            else:
                self._block_inputs[refill], self._block_targets[refill] = inputs, targets
            self._block_next[refill] = 0
        position = self._block_next[envs]
        self._block_next[envs] += 1
        if len(envs) == self.num_envs and np.all(position == position[0]):  # lockstep: a slice
            return self._block_inputs[:, position[0]], self._block_targets[:, position[0]]
        return self._block_inputs[envs, position], self._block_targets[envs, position]


class LinearRegressionVectorEnv(RegressionVectorEnv):
    """Vector env of :class:`~icl_envs.regression.env.LinearRegressionEnv`; same kwargs plus ``num_envs``."""

    single_env_class = single.LinearRegressionEnv


class SparseRegressionVectorEnv(RegressionVectorEnv):
    """Vector env of :class:`~icl_envs.regression.env.SparseRegressionEnv`; same kwargs plus ``num_envs``."""

    single_env_class = single.SparseRegressionEnv


class ReLUNetRegressionVectorEnv(RegressionVectorEnv):
    """Vector env of :class:`~icl_envs.regression.env.ReLUNetRegressionEnv`; same kwargs plus ``num_envs``."""

    single_env_class = single.ReLUNetRegressionEnv


class DecisionTreeRegressionVectorEnv(RegressionVectorEnv):
    """Vector env of :class:`~icl_envs.regression.env.DecisionTreeRegressionEnv`; same kwargs plus ``num_envs``."""

    single_env_class = single.DecisionTreeRegressionEnv
