"""The episode every in-context prediction env plays (regression, MRP value prediction), written once.

An episode is ``n`` predictions. At step t the observation holds the context rows revealed so far
(row i < t; the rows from ``length`` = t on are zero) and a query; the agent predicts the query's
target, is scored ``-(prediction - target)^2``, and row t is revealed. What differs between the
envs is only the task and how it becomes an episode, so each env turns a new task into its
*episode arrays* up front and the classes below do the rest:

- ``rows`` (n, w) float32: the context row revealed after step i;
- ``queries`` (n + 1, d) float32: the query shown before step i (i = n: the final observation's);
- ``targets`` (n,) float64: the target scored at step i;

with a leading axis of envs in a vector env. A step then only copies and compares, which is what
makes the native vector envs fast, and the single and vector envs show the same numbers because
they show the same arrays.

The sizes and numbers every prediction env shares are bounded here, once (the suites use d <= 20
and n <= 100): ``n`` <= :data:`MAX_N`, ``d`` <= :data:`MAX_D` and ``n * d`` <= :data:`MAX_CONTEXT`,
so an episode's arrays stay below about 30 MiB; ``action_bound`` <= :data:`MAX_ACTION_BOUND`, so
a prediction's squared error stays finite. A plugged-in generator's tasks must hold finite numbers
that float32 observations can hold (:func:`check_task_values`); the package's own generators are
bounded by their arguments' limits and are not checked at every episode.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

from icl_envs.bounds import EpisodeBounds
from icl_envs.checks import (
    FLOAT32_MAX,
    check_batch_actions,
    check_float,
    check_int,
    check_memory,
    check_scalar_action,
    describe,
)
from icl_envs.vector_base import SeededVectorEnv

#: Predictions (examples, transitions) per episode.
MAX_N = 4096
#: Input or feature dimension.
MAX_D = 1024
#: n * d: the numbers of an episode's context (n rows of about d numbers): 8 MiB in float64.
MAX_CONTEXT = 2**20
#: The largest action_bound: squared errors of predictions this large against any target an env
#: can hold (float32) stay finite in float64, and float32 holds the bound itself.
MAX_ACTION_BOUND = 1e12


def check_d(d: Any) -> int:
    """The input or feature dimension ``d``: an integer in [1, MAX_D]."""
    return check_int("d", d, minimum=1, maximum=MAX_D)


def check_n(n: Any, d: int) -> int:
    """The predictions per episode ``n``: an integer in [1, MAX_N] with ``n * d <= MAX_CONTEXT``."""
    n = check_int("n", n, minimum=1, maximum=MAX_N)
    if n * d > MAX_CONTEXT:
        raise ValueError(
            f"n * d must be <= {MAX_CONTEXT} (the context holds n rows of about d numbers), got n={n}, d={d}"
        )
    return n


def check_action_bound(action_bound: Any) -> float:
    """The bound of the action space: a real number in (0, MAX_ACTION_BOUND]."""
    bound = check_float("action_bound", action_bound, minimum=0.0, maximum=MAX_ACTION_BOUND)
    if bound == 0.0:
        raise ValueError("action_bound must be > 0, got 0.0")
    return bound


def check_task_values(generator: Any, name: str, value: Any, shape: tuple[int, ...]) -> None:
    """A plugged-in generator's task array ``name`` must have ``shape`` and hold real numbers that
    are finite and within float32's range (|x| <= FLOAT32_MAX), so that observations never hold
    inf and rewards (squared errors in float64) stay finite. The error names the generator."""
    where = f"generator: {describe(generator)} gave a task whose {name}"
    if np.shape(value) != shape:
        raise ValueError(f"{where} has shape {np.shape(value)}; it must have shape {shape}")
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{where} are not real numbers (dtype {array.dtype})")
    if not np.all(np.isfinite(array)) or np.any(np.abs(array) > FLOAT32_MAX):
        raise ValueError(
            f"{where} must be finite numbers within float32's range (|x| <= {FLOAT32_MAX:.4g}): "
            "the observations are float32"
        )


def check_task_batch(generator: Any, tasks: int, n: Any, what: str) -> int:
    """A generator's ``n`` (its ``check_n``) and that ``tasks`` tasks drawn at once, about
    ``generator.bytes_per_task(n)`` each, fit in memory; ``what`` names the count. Return ``n``."""
    n = generator.check_n(n)
    check_memory(tasks * generator.bytes_per_task(n), f"{what} with n={n}")
    return n


def episode_bytes(n: int, row_width: int, d: int) -> int:
    """Bytes of one env's episode arrays (rows, context, queries in float32; targets in float64)."""
    return 4 * (2 * n * row_width + (n + 1) * d) + 8 * n


def prediction_observation_space(n: int, row_width: int, d: int) -> spaces.Dict:
    """Dict(context=Box(n, row_width), length=Discrete(n+1), query=Box(d)), float32 boxes."""
    return spaces.Dict(
        {
            "context": spaces.Box(-np.inf, np.inf, shape=(n, row_width), dtype=np.float32),
            "length": spaces.Discrete(n + 1),
            "query": spaces.Box(-np.inf, np.inf, shape=(d,), dtype=np.float32),
        }
    )


def prediction_action_space(action_bound: float) -> spaces.Box:
    """Box(-action_bound, action_bound, (1,), float32): one prediction."""
    return spaces.Box(-action_bound, action_bound, shape=(1,), dtype=np.float32)


class PredictionEnv(gym.Env[dict, np.ndarray]):
    """A single in-context prediction env: ``step`` and the observation of the episode arrays.

    A subclass sets ``n``, ``action_bound`` and the spaces in ``__init__``, and in ``reset`` draws
    ``self.task`` and returns ``self._start_episode(rows, queries, targets)`` (its observation).
    """

    n: int
    action_bound: float
    task: Any = None  # the task of the running episode; None until the first reset
    _t = 0  # predictions made in the running episode
    _last: tuple[float, float] | None = None  # (prediction, target) of the last step, for render

    def _start_episode(self, rows: np.ndarray, queries: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
        self._rows, self._queries, self._targets = rows, queries, targets
        self._context = np.zeros_like(rows)
        self._t = 0
        self._last = None
        return self._observation()

    def step(self, action: Any):
        if self.task is None or self._t >= self.n:
            raise ResetNeeded("call reset() before step(): the episode has ended (or never started)")
        prediction = check_scalar_action(action, self.action_bound)
        t = self._t
        target = float(self._targets[t])
        error = prediction - target
        reward = -(error * error)  # not error ** 2: C pow() may round differently from numpy's square
        self._context[t] = self._rows[t]  # reveal the example just scored
        self._t = t + 1
        self._last = (prediction, target)
        return self._observation(), reward, self._t == self.n, False, {"target": target}

    def episode_bounds(self) -> EpisodeBounds:
        """Exactly n steps, each paying minus a squared error: a return of at most 0."""
        return EpisodeBounds(-math.inf, 0.0, self.n, self.n, squared_error=True)

    def _observation(self) -> dict[str, Any]:
        return {
            "context": self._context.copy(),
            "length": np.int64(self._t),
            "query": self._queries[self._t].copy(),
        }


class PredictionVectorEnv(SeededVectorEnv):
    """``num_envs`` in-context prediction envs stepped as arrays, seeded as ``SyncVectorEnv`` seeds them.

    A subclass sets ``single_env_class``, calls ``_setup_prediction(num_envs, kwargs)`` in
    ``__init__`` and implements ``_draw_episodes(envs, out)``: draw a new task for each env index in
    ``envs`` from ``self.rngs[i]`` exactly as the single env draws it, and return their episode
    arrays, written into ``out`` when it is given. Autoreset is ``NEXT_STEP``: the step after an
    episode ends starts the next one (action ignored, reward 0).
    """

    def _setup_prediction(self, num_envs: Any, kwargs: dict[str, Any]) -> PredictionEnv:
        """Build the template single env (see ``_setup_from_single_env``) and the batch's arrays."""
        template = self._setup_from_single_env(num_envs, kwargs)
        self.n, self.action_bound = template.n, template.action_bound
        count, n = self.num_envs, self.n
        row_width = self.single_observation_space["context"].shape[1]
        d = self.single_observation_space["query"].shape[0]
        self._rows = np.zeros((count, n, row_width), dtype=np.float32)
        self._queries = np.zeros((count, n + 1, d), dtype=np.float32)
        self._targets = np.zeros((count, n))
        self._context = np.zeros((count, n, row_width), dtype=np.float32)
        self._t = np.zeros(count, dtype=np.int64)
        self._lockstep = True  # every env at the same step t: slices replace gathers
        self._all = np.arange(count)
        return template

    def _bytes_per_env(self, template: PredictionEnv) -> int:
        """The episode arrays of one env (its task draws are added by each env's vector env)."""
        space = template.observation_space
        return episode_bytes(template.n, space["context"].shape[1], space["query"].shape[0])

    def _draw_episodes(
        self, envs: np.ndarray, out: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - every env overrides
        raise NotImplementedError

    def _new_tasks(self, envs: np.ndarray) -> None:
        every = len(envs) == self.num_envs
        if every:  # the common case (the episodes end together): written in place, no scatter
            self._draw_episodes(envs, out=(self._rows, self._queries, self._targets))
            where = slice(None)
        else:
            self._rows[envs], self._queries[envs], self._targets[envs] = self._draw_episodes(envs, out=None)
            where = envs
        self._context[where] = 0.0
        self._t[where] = 0
        # Envs stay in step with each other (fixed-length episodes) unless only some are reset.
        self._lockstep = every or (self._lockstep and bool(np.all(self._t == self._t[0])))

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
            targets = self._targets[:, step].copy()
            self._context[:, step] = self._rows[:, step]  # reveal the example just scored
        else:
            targets = self._targets[self._all, t]
            self._context[self._all, t] = self._rows[self._all, t]
        errors = predictions - targets
        rewards = -(errors * errors)  # as the single env computes it, bit for bit
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
        targets = self._targets[envs, t]
        errors = predictions[envs] - targets
        rewards = np.zeros(self.num_envs)
        rewards[envs] = -(errors * errors)
        self._context[envs, t] = self._rows[envs, t]
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

    def _observation(self) -> dict[str, np.ndarray]:
        if self._lockstep:
            query = self._queries[:, int(self._t[0])].copy()
        else:
            query = self._queries[self._all, self._t]
        return {"context": self._context.copy(), "length": self._t.copy(), "query": query}
