"""BanditEnv: a K-armed bandit whose arms are drawn per trial; the metric is regret."""

from __future__ import annotations

from typing import Any

import numpy as np

from icl_envs.bounds import EpisodeBounds
from icl_envs.icrl.bandit.generator import BanditGenerator, check_bandit_task, check_noise_std
from icl_envs.icrl.trial import TrialBatch, TrialEnv, check_trial_length


class BanditBatch(TrialBatch):
    """Bandit trials: one state, ``horizon`` pulls, each paying from the pulled arm's distribution."""

    def __init__(self, size: int, arms: int, horizon: int, reward: str, noise_std: float):
        super().__init__(size, horizon, 1)
        self.bernoulli, self.noise_std = reward == "bernoulli", noise_std
        self.means = np.zeros((size, arms))
        self.noise = np.zeros((size, horizon))
        self.rows = np.arange(size)

    def _load_tasks(self, envs: np.ndarray, tasks: list[Any]) -> None:
        self.means[envs] = [task.means for task in tasks]
        self.noise[envs] = [task.noise for task in tasks]

    def _restart(self, envs: np.ndarray) -> None:
        pass  # a bandit has no state to go back to

    def _state(self) -> np.ndarray:
        return np.zeros(self.size, dtype=np.int64)

    def _transition(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # A trial that has ended (t == horizon) reads its last noise value: the vector env resets it.
        noise = self.noise[self.rows, np.minimum(self.t, self.horizon - 1)]
        means = self.means[self.rows, actions]
        if self.bernoulli:
            rewards = (noise < means).astype(np.float64)
        else:
            rewards = means + self.noise_std * noise
        return rewards, np.zeros(self.size, dtype=bool)


class BanditEnv(TrialEnv):
    """A K-armed bandit drawn per trial: learn in context which arm pays most.

    ## Description
    Each trial draws ``arms`` reward distributions and lets the agent pull ``horizon`` times. It is
    the bandit task of in-context RL (Laskin et al. 2022, "In-context Reinforcement Learning with
    Algorithm Distillation"; Lee et al. 2023, "Supervised Pretraining Can Learn In-Context
    Reinforcement Learning"). The metric is regret: ``horizon * max(means)`` minus the return. The
    trial is one sub-episode (see :mod:`icl_envs.icrl.trial`).

    ## Action Space
    ``Discrete(arms)``: the arm to pull.

    ## Observation Space
    ``Dict(state=Discrete(1), step=Discrete(horizon), episode=Discrete(1), last_reward=Box(1,))``:
    ``state`` is always 0 (a bandit has one state), ``step`` the number of pulls so far and
    ``last_reward`` the reward of the last pull (0 before the first). ``last_reward`` lies in
    [0, 1] for Bernoulli arms and is unbounded for Gaussian ones.

    ## Rewards
    ``reward="bernoulli"``: 1 with probability ``means[a]``, else 0. ``reward="gaussian"``:
    ``means[a] + noise_std * z`` with ``z ~ N(0, 1)``.

    ## Starting State
    Bernoulli means are uniform in [0, 1] (the uniform prior of the Bayes-optimal policy in
    ``baselines/classic/bandits.py``); Gaussian means are ``N(0, 1)``. The noise of every pull is
    drawn at ``reset`` too, so a trial's randomness is fixed by its seed whatever the agent does.

    ## Episode End
    Terminated after ``horizon`` pulls. ``info["sub_episode_end"]`` is True on that step;
    ``info["sub_episode_return"]`` is the return so far.

    ## Arguments
    ``arms=5`` (2..1024), ``horizon=100`` (1..10000), ``reward="bernoulli"`` or ``"gaussian"``,
    ``noise_std=1.0`` (Gaussian arms, 0..1000), ``render_mode=None``, ``generator=None`` (an object
    with ``sample(np_random) -> BanditTask``).

    ## Vector env
    ``BanditVectorEnv`` (the ``vector_entry_point``): every trial stepped with numpy, NEXT_STEP
    autoreset, the same numbers as ``SyncVectorEnv`` for the same seeds.

    ## Version History
    - v0: initial version.
    """

    def __init__(
        self,
        arms: int = 5,
        horizon: int = 100,
        reward: str = "bernoulli",
        noise_std: float = 1.0,
        render_mode: str | None = None,
        generator: Any = None,
    ):
        self.horizon, _ = check_trial_length(horizon, 1)
        default = BanditGenerator(arms, self.horizon, reward)
        self.arms, self.reward = default.arms, default.reward
        self.noise_std = check_noise_std(noise_std)
        self.generator = default if generator is None else generator
        reward_range = (0.0, 1.0) if self.reward == "bernoulli" else (-np.inf, np.inf)
        self._setup_trial(1, self.arms, self.horizon, 1, reward_range, render_mode)

    def new_batch(self, size: int) -> BanditBatch:
        return BanditBatch(size, self.arms, self.horizon, self.reward, self.noise_std)

    def check_task(self, task: Any) -> None:
        check_bandit_task(task, self.arms, self.horizon, self.reward)

    def task_bytes(self) -> int:
        return 8 * (self.arms + self.horizon)

    def episode_bounds(self) -> EpisodeBounds:
        """Bernoulli pulls pay 0 or 1, so a trial returns 0..horizon; Gaussian pulls are unbounded."""
        if self.reward == "bernoulli":
            return EpisodeBounds(
                0.0, float(self.horizon), self.horizon, self.horizon, step_rewards=(0.0, 1.0), sub_episodes=1
            )
        return EpisodeBounds(-np.inf, np.inf, self.horizon, self.horizon, sub_episodes=1)
