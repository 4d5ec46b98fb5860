"""A numpy batch of ``MRPValueEnv``: every step of every env in a few array operations."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from icl_envs.checks import check_batch_actions, check_int, vector_rngs, vector_seeds
from icl_envs.mrp.env import (
    check_generator,
    check_mrp_arguments,
    check_task,
    episode_arrays,
    mrp_observation_space,
)
from icl_envs.mrp.generators import MRPTasks, stack_tasks


class MRPValueVectorEnv(VectorEnv):
    """``num_envs`` copies of ``MRPValueEnv`` stepped together in numpy (see that class for the env).

    Same arguments as ``MRPValueEnv`` after ``num_envs``. Autoreset is ``NEXT_STEP``: the step after
    an episode ends resets that env (its action is ignored, reward 0). ``reset(seed=s)`` seeds env i
    with ``s + i`` and each env draws its tasks from its own Generator, so the numbers are exactly
    those of ``SyncVectorEnv`` over ``MRPValueEnv``; only the arithmetic is batched (a generator with
    ``sample_each``, such as ``MRPTasks``, turns every env's draws into tasks in one computation).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int,
        num_states: int = 10,
        d: int = 4,
        n: int = 30,
        gamma: float = 0.9,
        mrp: str = "boyan",
        rewards: str = "random",
        objective: str = "discounted",
        action_bound: float = 1e3,
        generator: Any = None,
        render_mode: str | None = None,
    ) -> None:
        self.num_envs = check_int("num_envs", num_envs, minimum=1)
        args = check_mrp_arguments(num_states, d, n, gamma, mrp, rewards, objective, action_bound)
        self.d, self.n, self.action_bound = args["d"], args["n"], args["action_bound"]
        if generator is None:
            generator = MRPTasks(num_states, d, gamma, mrp, rewards, objective)
        check_generator(generator, self.d, args["objective"])
        if render_mode is not None:
            raise ValueError(
                f"render_mode must be None for the vector env (no rendering), got {render_mode!r}"
            )
        self.generator = generator
        self.render_mode = None

        self.single_observation_space = mrp_observation_space(self.n, self.d)
        self.single_action_space = spaces.Box(
            -self.action_bound, self.action_bound, shape=(1,), dtype=np.float32
        )
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.spec = None

        self._rngs: list[np.random.Generator] | None = None
        self._step_rows: np.ndarray | None = None  # (N, n, 2d+1): context row i of each env's episode
        self._step_targets: np.ndarray | None = None  # (N, n): the target scored at step i
        self._queries: np.ndarray | None = None  # (N, n + 1, d): the query shown before step i
        self._t = np.zeros(self.num_envs, dtype=np.int64)
        self._context = np.zeros((self.num_envs, self.n, 2 * self.d + 1), dtype=np.float32)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        self._lockstep = True  # whether every env is at the same step t (then slices replace gathers)
        self._envs = np.arange(self.num_envs)

    # --- Gymnasium API -----------------------------------------------------------------------------

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None):
        seeds = vector_seeds(seed, self.num_envs)
        mask = self._reset_mask(options)
        self._rngs = vector_rngs(self._rngs, seeds, mask)
        if seeds[0] is not None:
            self._np_random, self._np_random_seed = seeding.np_random(seeds[0])
        self._new_tasks(np.flatnonzero(mask))
        self._autoreset[mask] = False
        return self._observation(), {}

    def step(self, actions: Any):
        if self._step_rows is None:
            raise ResetNeeded("call reset() before step()")
        predictions = check_batch_actions(actions, self.num_envs, self.action_bound)
        if self._autoreset.any():
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
        self._autoreset = terminated
        info = {"target": targets, "_target": np.ones(self.num_envs, dtype=bool)}
        return self._observation(), rewards, terminated.copy(), np.zeros(self.num_envs, dtype=bool), info

    def _step_with_resets(self, predictions: np.ndarray):
        """A step where the envs whose episode ended last step reset (action ignored, reward 0)."""
        resetting = self._autoreset
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
        self._autoreset = terminated

        # As SyncVectorEnv aggregates the single envs' infos: a "target" array and its "_target"
        # mask, absent when no env stepped (all of them were reset).
        info: dict[str, Any] = {}
        if len(envs):
            target_info = np.zeros(self.num_envs)
            target_info[envs] = targets
            info = {"target": target_info, "_target": stepping}
        return self._observation(), rewards, terminated.copy(), np.zeros(self.num_envs, dtype=bool), info

    # --- Helpers -----------------------------------------------------------------------------------

    def _reset_mask(self, options: dict[str, Any] | None) -> np.ndarray:
        if not options or "reset_mask" not in options:
            return np.ones(self.num_envs, dtype=bool)
        mask = options["reset_mask"]
        if not isinstance(mask, np.ndarray) or mask.shape != (self.num_envs,) or mask.dtype != np.bool_:
            raise ValueError(f"options['reset_mask'] must be a bool numpy array of shape ({self.num_envs},)")
        if not mask.any():
            raise ValueError("options['reset_mask'] must contain at least one True value")
        if self._step_rows is None and not mask.all():
            raise ValueError("the first reset must reset every env (options['reset_mask'] all True)")
        return mask

    def _new_tasks(self, envs: np.ndarray) -> None:
        """Draw a fresh task for each env in ``envs`` from that env's own Generator."""
        rngs = [self._rngs[i] for i in envs]
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
        if self._step_rows is None:
            self._step_rows = np.zeros((self.num_envs, self.n, 2 * self.d + 1), dtype=np.float32)
            self._step_targets = np.zeros((self.num_envs, self.n))
            self._queries = np.zeros((self.num_envs, self.n + 1, self.d), dtype=np.float32)
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
