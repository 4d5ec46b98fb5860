"""A numpy batch of ``MRPValueEnv``: every step of every env in a few array operations."""

from __future__ import annotations

from typing import Any

import numpy as np

from icl_envs.checks import check_batch_actions
from icl_envs.mrp.env import MRPValueEnv, check_task, episode_arrays
from icl_envs.mrp.generators import MRPTasks, stack_tasks
from icl_envs.vector_base import SeededVectorEnv


class MRPValueVectorEnv(SeededVectorEnv):
    """``num_envs`` copies of ``MRPValueEnv`` stepped together in numpy (see that class for the env).

    Same keyword arguments as ``MRPValueEnv`` after ``num_envs`` (``render_mode`` only ``None``).
    Autoreset is ``NEXT_STEP``: the step after an episode ends resets that env (its action is
    ignored, reward 0). Seeding and ``reset`` come from
    :class:`~icl_envs.vector_base.SeededVectorEnv`: each env draws its tasks from its own
    Generator, so the numbers are exactly those of ``SyncVectorEnv`` over ``MRPValueEnv``; only the
    arithmetic is batched (a generator with ``sample_each``, such as ``MRPTasks``, turns every env's
    draws into tasks in one computation).
    """

    single_env_class = MRPValueEnv

    def __init__(self, num_envs: int, **kwargs: Any) -> None:
        template = self._setup_from_single_env(num_envs, kwargs)
        self.generator = template.generator
        self.d, self.n, self.action_bound = template.d, template.n, template.action_bound

        # Everything the episodes show, precomputed per task by episode_arrays.
        self._step_rows = np.zeros((self.num_envs, self.n, 2 * self.d + 1), dtype=np.float32)  # row i
        self._step_targets = np.zeros((self.num_envs, self.n))  # the target scored at step i
        self._queries = np.zeros((self.num_envs, self.n + 1, self.d), dtype=np.float32)  # before step i
        self._t = np.zeros(self.num_envs, dtype=np.int64)
        self._context = np.zeros((self.num_envs, self.n, 2 * self.d + 1), dtype=np.float32)
        self._lockstep = True  # whether every env is at the same step t (then slices replace gathers)
        self._envs = np.arange(self.num_envs)

    # --- Gymnasium API -----------------------------------------------------------------------------

    def step(self, actions: Any):
        self._check_started()
        predictions = check_batch_actions(actions, self.num_envs, self.action_bound)
        if self.needs_reset.any():
            return self._step_with_resets(predictions)
        # Every env steps (all but one step in n + 1): whole-array operations only, and plain
        # slices when every env is at the same step (always, unless a partial reset split them).
        t = self._t
        if self._lockstep:
            step = int(t[0])
            targets = self._step_targets[:, step].copy()
            self._context[:, step] = self._step_rows[:, step]  # reveal the transition just scored
        else:
            targets = self._step_targets[self._envs, t]
            self._context[self._envs, t] = self._step_rows[self._envs, t]
        rewards = -((predictions - targets) ** 2)
        self._t = t + 1
        terminated = self._t == self.n
        self.needs_reset = terminated
        info = {"target": targets, "_target": np.ones(self.num_envs, dtype=bool)}
        return self._observation(), rewards, terminated.copy(), np.zeros(self.num_envs, dtype=bool), info

    def _step_with_resets(self, predictions: np.ndarray):
        """A step where the envs whose episode ended last step reset (action ignored, reward 0)."""
        resetting = self.needs_reset
        stepping = ~resetting
        envs = np.flatnonzero(stepping)
        t = self._t[envs]
        targets = self._step_targets[envs, t]
        rewards = np.zeros(self.num_envs)
        rewards[envs] = -((predictions[envs] - targets) ** 2)
        self._context[envs, t] = self._step_rows[envs, t]
        self._t[envs] = t + 1
        terminated = np.zeros(self.num_envs, dtype=bool)
        terminated[envs] = t + 1 == self.n
        self._new_tasks(np.flatnonzero(resetting))
        self.needs_reset = terminated

        # As SyncVectorEnv aggregates the single envs' infos: a "target" array and its "_target"
        # mask, absent when no env stepped (all of them were reset).
        info: dict[str, Any] = {}
        if len(envs):
            target_info = np.zeros(self.num_envs)
            target_info[envs] = targets
            info = {"target": target_info, "_target": stepping}
        return self._observation(), rewards, terminated.copy(), np.zeros(self.num_envs, dtype=bool), info

    # --- Helpers -----------------------------------------------------------------------------------

    def _new_tasks(self, envs: np.ndarray) -> None:
        """Draw a fresh task for each env in ``envs`` from that env's own Generator."""
        rngs = [self.rngs[i] for i in envs]
        if hasattr(self.generator, "sample_each"):
            tasks = self.generator.sample_each(rngs, self.n)
            if not isinstance(self.generator, MRPTasks):  # a user's generator: check what it gives
                check_task(tasks, self.n, self.d, batch=len(rngs))
        else:
            single_tasks = [self.generator.sample(rng, self.n) for rng in rngs]
            for task in single_tasks:
                check_task(task, self.n, self.d)
            tasks = stack_tasks(single_tasks)
        # Everything the episodes show, precomputed: written in place when every env resets.
        self._lockstep = len(envs) == self.num_envs  # every env restarts together at t = 0
        if self._lockstep:
            envs = slice(None)
            episode_arrays(tasks, out=(self._step_rows, self._queries, self._step_targets))
        else:
            self._step_rows[envs], self._queries[envs], self._step_targets[envs] = episode_arrays(tasks)
        self._t[envs] = 0
        self._context[envs] = 0.0

    def _observation(self) -> dict[str, np.ndarray]:
        if self._lockstep:
            query = self._queries[:, int(self._t[0])].copy()
        else:
            query = self._queries[self._envs, self._t]
        return {"context": self._context.copy(), "length": self._t.copy(), "query": query}


__all__ = ["MRPValueVectorEnv"]
