"""The trial: one Gymnasium episode in which a task is kept for several sub-episodes.

In-context reinforcement learning asks whether an agent improves *from episode to episode* on a
task it has never seen, with frozen weights. Here one Gymnasium episode is a *trial*: ``reset`` draws
a task, which is then kept for ``episodes_per_trial`` sub-episodes of at most ``horizon`` steps each.
A sub-episode ends after ``horizon`` steps or earlier when the env says so (Key-to-Door's door); the
next one starts from the start state with the same task. The trial terminates when its last
sub-episode ends. The per-sub-episode returns of a trial are its in-context learning curve.

Every env observes ``Dict(state, step, episode, last_reward)``: the current state, the steps taken
in this sub-episode, the sub-episode index and the last reward received (0 at the start of the
trial), which is what an in-context learner needs. Every step's ``info`` holds
``sub_episode_end`` (this step ended a sub-episode) and ``sub_episode_return`` (the return of the
sub-episode so far, this step included); neither says anything about the hidden task.

The rules live once, in a :class:`TrialBatch`: the arrays of ``size`` trials and a step on all of
them. The single env (:class:`TrialEnv`) is a batch of one and the vector env
(:class:`TrialVectorEnv`) a batch of ``num_envs``, so the two cannot drift apart. A trial draws all
of its randomness when its task is drawn (the bandit's reward noise for every pull), so a vector
env touches each sub-env's generator once per trial and steps with array operations only.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

from icl_envs.checks import (
    check_discrete_action,
    check_discrete_actions,
    check_int,
    check_reset_options,
    describe,
)
from icl_envs.vector_base import SeededVectorEnv

#: The longest trial (sub-episodes x horizon): the harness stops an episode after 10 000 steps.
MAX_TRIAL_STEPS = 10_000


def check_trial_length(horizon: Any, episodes_per_trial: Any) -> tuple[int, int]:
    """``horizon`` and ``episodes_per_trial`` as ints whose product is at most MAX_TRIAL_STEPS."""
    horizon = check_int("horizon", horizon, minimum=1, maximum=MAX_TRIAL_STEPS)
    episodes = check_int("episodes_per_trial", episodes_per_trial, minimum=1, maximum=MAX_TRIAL_STEPS)
    if horizon * episodes > MAX_TRIAL_STEPS:
        raise ValueError(
            f"horizon * episodes_per_trial must be <= {MAX_TRIAL_STEPS} (a trial's steps), "
            f"got {horizon} * {episodes} = {horizon * episodes}"
        )
    return horizon, episodes


def trial_observation_space(
    num_states: int, horizon: int, episodes_per_trial: int, reward_low: float, reward_high: float
) -> spaces.Dict:
    return spaces.Dict(
        {
            "state": spaces.Discrete(num_states),
            "step": spaces.Discrete(horizon),
            "episode": spaces.Discrete(episodes_per_trial),
            "last_reward": spaces.Box(reward_low, reward_high, (1,), np.float32),
        }
    )


class TrialBatch:
    """The state of ``size`` trials and one step of all of them, for the single and vector envs.

    A subclass stores its tasks in arrays (``_load_tasks``), puts the agent back at the start of a
    sub-episode (``_restart``), says which state each trial is in (``_state``) and moves every trial
    by one action (``_transition``). ``_transition`` is also called on trials that have ended (the
    vector env resets them right after), so it must not fail on them.
    """

    def __init__(self, size: int, horizon: int, episodes_per_trial: int):
        self.size, self.horizon, self.episodes_per_trial = size, horizon, episodes_per_trial
        self.t = np.zeros(size, dtype=np.int64)  # steps taken in the current sub-episode
        self.episode = np.zeros(size, dtype=np.int64)
        self.last_reward = np.zeros(size, dtype=np.float32)
        self.sub_return = np.zeros(size, dtype=np.float64)

    def load(self, envs: np.ndarray, tasks: list[Any]) -> None:
        """Start a trial of ``tasks[k]`` in trial ``envs[k]``."""
        if len(envs) == 0:
            return
        self._load_tasks(envs, tasks)
        self.t[envs] = 0
        self.episode[envs] = 0
        self.last_reward[envs] = 0.0
        self.sub_return[envs] = 0.0
        self._restart(envs)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Step every trial: ``(rewards, sub-episode ended, trial ended, sub-episode returns)``."""
        rewards, finished_early = self._transition(actions)
        self.t += 1
        self.sub_return += rewards
        returns = self.sub_return.copy()
        sub_end = finished_early | (self.t >= self.horizon)
        trial_end = sub_end & (self.episode == self.episodes_per_trial - 1)
        restart = np.flatnonzero(sub_end & ~trial_end)
        self.episode[restart] += 1
        self.t[restart] = 0
        self.sub_return[restart] = 0.0
        self._restart(restart)
        self.last_reward[:] = rewards
        return rewards, sub_end, trial_end, returns

    def observation(self) -> dict[str, np.ndarray]:
        return {
            "state": self._state().astype(np.int64),
            # The step after the trial's last one would be `horizon`; the terminal observation shows
            # the last step index instead, to stay in the space.
            "step": np.minimum(self.t, self.horizon - 1),
            "episode": self.episode.copy(),
            "last_reward": self.last_reward[:, None].copy(),
        }

    # -- what a subclass supplies ---------------------------------------------------------------
    def _load_tasks(self, envs: np.ndarray, tasks: list[Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    def _restart(self, envs: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    def _state(self) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _transition(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError


class TrialEnv(gym.Env):
    """One trial at a time: a :class:`TrialBatch` of size one behind the Gymnasium API.

    A subclass's ``__init__`` checks its arguments, sets ``self.generator`` and calls
    ``_setup_trial``; it implements ``new_batch(size)`` (its :class:`TrialBatch`), ``check_task(task)``
    (a user generator's task is checked before use) and ``episode_bounds()``.
    """

    metadata: dict[str, Any] = {"render_modes": []}
    generator: Any

    def _setup_trial(
        self,
        num_states: int,
        num_actions: int,
        horizon: int,
        episodes_per_trial: int,
        reward_range: tuple[float, float],
        render_mode: Any,
    ) -> None:
        if render_mode is not None:
            raise ValueError(f"render_mode must be None (no rendering), got {describe(render_mode)}")
        if not callable(getattr(self.generator, "sample", None)):
            raise ValueError(
                f"generator must have a sample(np_random) method, got {describe(self.generator)}"
            )
        self.render_mode = None
        self.horizon, self.episodes_per_trial = horizon, episodes_per_trial
        self.observation_space = trial_observation_space(
            num_states, horizon, episodes_per_trial, *reward_range
        )
        self.action_space = spaces.Discrete(num_actions)
        self.batch = self.new_batch(1)
        self.task: Any = None
        self._trial_over = True  # no trial until reset

    def new_batch(self, size: int) -> TrialBatch:  # pragma: no cover - every env overrides
        raise NotImplementedError

    def check_task(self, task: Any) -> None:  # pragma: no cover - every env overrides
        raise NotImplementedError

    def task_bytes(self) -> int:
        """About what one trial's task arrays take (the vector env's memory check)."""
        return 64

    def _observation(self) -> dict[str, Any]:
        obs = self.batch.observation()
        return {key: value[0] for key, value in obs.items()}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        check_reset_options(options, (), "a trial's task is drawn by the generator (pass generator=...)")
        task = self.generator.sample(self.np_random)
        self.check_task(task)
        self.task = task
        self.batch.load(np.zeros(1, dtype=np.int64), [task])
        self._trial_over = False
        return self._observation(), {}

    def step(self, action: Any):
        if self._trial_over:
            raise ResetNeeded("call reset() before step(): the trial has ended (or never started)")
        action = check_discrete_action(action, self.action_space.n)
        rewards, sub_end, trial_end, returns = self.batch.step(np.array([action], dtype=np.int64))
        self._trial_over = bool(trial_end[0])
        info = {"sub_episode_end": bool(sub_end[0]), "sub_episode_return": float(returns[0])}
        return self._observation(), float(rewards[0]), self._trial_over, False, info


class TrialVectorEnv(SeededVectorEnv):
    """``num_envs`` trials stepped together: one :class:`TrialBatch` of size ``num_envs``.

    Takes the single env's arguments; env ``i`` draws its tasks from its own generator (seeded with
    ``seed + i``), so the results equal ``SyncVectorEnv`` over the single env with the same seeds.
    Autoreset is NEXT_STEP: the step after a trial ends starts a new one (action ignored, reward 0).
    """

    single_env_class: type[TrialEnv]

    def __init__(self, num_envs: int, **kwargs: Any):
        template = self._setup_from_single_env(num_envs, kwargs)
        self.template = template
        self.generator = template.generator
        self.batch = template.new_batch(self.num_envs)

    def _bytes_per_env(self, template: TrialEnv) -> int:
        return 64 + template.task_bytes()  # the trial's counters and its task

    def _new_tasks(self, envs: np.ndarray) -> None:
        tasks = [self.generator.sample(self.rngs[i]) for i in envs]
        for task in tasks:
            self.template.check_task(task)  # as the single env does
        self.batch.load(envs, tasks)

    def _observation(self) -> dict[str, np.ndarray]:
        return self.batch.observation()

    def step(self, actions: Any):
        self._check_started()
        actions = check_discrete_actions(actions, self.num_envs, self.single_action_space.n)
        rewards, sub_end, terminated, returns = self.batch.step(actions)
        restarted = self.needs_reset.copy()
        # NEXT_STEP autoreset: trials that ended last step start a new task and score nothing.
        self._new_tasks(np.flatnonzero(restarted))
        rewards[restarted] = 0.0
        sub_end[restarted] = terminated[restarted] = False
        returns[restarted] = 0.0
        self.needs_reset = terminated.copy()
        # SyncVectorEnv's info of a reset sub-env is the reset's (empty): masked out, and no keys at
        # all when every sub-env was reset.
        stepped = ~restarted
        info: dict[str, Any] = {}
        if stepped.any():
            info = {
                "sub_episode_end": sub_end,
                "_sub_episode_end": stepped,
                "sub_episode_return": returns,
                "_sub_episode_return": stepped.copy(),
            }
        truncated = np.zeros(self.num_envs, dtype=bool)
        return self._observation(), rewards, terminated, truncated, info
