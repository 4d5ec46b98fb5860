"""Native numpy vector envs for in-context regression.

Stepping is one set of array operations for all envs. Seeding and ``reset`` come from
:class:`~icl_envs.vector_base.SeededVectorEnv`: env i draws its tasks from its own generator with
``generator.sample_each``, a block of tasks at a time as the single env does, so the numbers are
exactly those of ``SyncVectorEnv`` over the single env.
Autoreset is next-step: the step after an episode ends resets that env (reward 0, no info).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from icl_envs.checks import check_batch_actions
from icl_envs.regression import env as single
from icl_envs.regression.generators import RegressionTasks
from icl_envs.vector_base import SeededVectorEnv


class RegressionVectorEnv(SeededVectorEnv):
    """``num_envs`` copies of a :class:`~icl_envs.regression.env.RegressionEnv` stepped as arrays."""

    single_env_class: type[single.RegressionEnv] = single.RegressionEnv

    def __init__(self, num_envs: int, **kwargs: Any):
        template = self._setup_from_single_env(num_envs, kwargs)
        self.generator = template.generator
        self.n, self.d, self.action_bound = template.n, template.d, template.action_bound
        # Tasks drawn ahead, per env (see RegressionEnv._next_task); position == block: used up.
        self._block_size = (
            self.generator.block_size(self.n) if isinstance(self.generator, RegressionTasks) else 1
        )
        self._block_inputs = np.zeros((self.num_envs, self._block_size, self.n, self.d))
        self._block_targets = np.zeros((self.num_envs, self._block_size, self.n))
        self._block_next = np.full(self.num_envs, self._block_size)
        self._inputs = np.zeros((self.num_envs, self.n, self.d))
        self._targets = np.zeros((self.num_envs, self.n))
        self._context = np.zeros((self.num_envs, self.n, self.d + 1), dtype=np.float32)
        self._t = np.zeros(self.num_envs, dtype=np.int64)
        self._lockstep = True  # every env at the same step t: slices replace gathers
        self._all = np.arange(self.num_envs)

    # ------------------------------------------------------------------------------------ helpers
    def _new_tasks(self, envs: np.ndarray) -> None:
        """Give each env index in ``envs`` its next task, drawn from its own generator exactly as the
        single env draws it, and clear its context."""
        if isinstance(self.generator, RegressionTasks):
            inputs, targets = self._next_from_blocks(envs)
        elif hasattr(self.generator, "sample_each"):
            tasks = self.generator.sample_each([self.rngs[i] for i in envs], self.n)
            single.check_task(tasks, self.n, self.d, batch=len(envs))
            inputs, targets = tasks.inputs, tasks.targets
        else:  # a user's generator with only sample(rng, n)
            tasks = [self.generator.sample(self.rngs[i], self.n) for i in envs]
            for task in tasks:
                single.check_task(task, self.n, self.d)
            inputs = np.stack([task.inputs for task in tasks])
            targets = np.stack([task.targets for task in tasks])
        every = len(envs) == self.num_envs
        if every:  # all envs at once (the lockstep autoreset): no scatter
            self._inputs, self._targets = (
                np.array(inputs, dtype=np.float64),
                np.array(targets, dtype=np.float64),
            )
            envs = slice(None)
        else:
            self._inputs[envs] = inputs
            self._targets[envs] = targets
        self._context[envs] = 0.0
        self._t[envs] = 0
        # Envs stay in step with each other (fixed-length episodes) unless only some are reset.
        self._lockstep = every or (self._lockstep and bool(np.all(self._t == self._t[0])))

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

    def _observation(self) -> dict[str, np.ndarray]:
        if self._lockstep:  # every env at the same step: slices instead of fancy indexing
            t = int(self._t[0])
            if t < self.n:
                queries = self._inputs[:, t].astype(np.float32)
            else:
                queries = np.zeros((self.num_envs, self.d), dtype=np.float32)
        else:
            queries = self._inputs[self._all, np.minimum(self._t, self.n - 1)].astype(np.float32)
            queries[self._t >= self.n] = 0.0
        return {"context": self._context.copy(), "length": self._t.copy(), "query": queries}

    # ---------------------------------------------------------------------------------------- API
    def step(self, actions: Any):
        self._check_started()
        predictions = check_batch_actions(actions, self.num_envs, self.action_bound)
        resetting = self.needs_reset.copy()
        stepping = np.flatnonzero(~resetting)
        rewards = np.zeros(self.num_envs)
        terminated = np.zeros(self.num_envs, dtype=bool)
        infos: dict[str, Any] = {}
        if self._lockstep and not resetting[0]:  # the common case: every env scores step t
            t = int(self._t[0])
            targets = self._targets[:, t]
            errors = predictions - targets
            rewards = -(errors * errors)
            self._context[:, t, : self.d] = self._inputs[:, t]
            self._context[:, t, self.d] = targets
            self._t += 1
            terminated[:] = t + 1 == self.n
            infos = {"target": targets.copy(), "_target": np.ones(self.num_envs, dtype=bool)}
        elif stepping.size:
            t = self._t[stepping]
            targets = self._targets[stepping, t]
            errors = predictions[stepping] - targets
            rewards[stepping] = -(errors * errors)
            self._context[stepping, t, : self.d] = self._inputs[stepping, t]
            self._context[stepping, t, self.d] = targets
            self._t[stepping] = t + 1
            terminated[stepping] = self._t[stepping] == self.n
            target_info = np.zeros(self.num_envs)
            target_info[stepping] = targets
            infos = {"target": target_info, "_target": ~resetting}
        if resetting.any():
            self._new_tasks(np.flatnonzero(resetting))
        self.needs_reset = terminated.copy()
        truncated = np.zeros(self.num_envs, dtype=bool)
        return self._observation(), rewards, terminated, truncated, infos


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
