"""The plumbing every in-context RL agent of ``baselines/classic`` shares: per-trial memory.

The trial envs (``icl_envs/icrl``) observe ``Dict(state, step, episode, last_reward)``. A
:class:`TrialAgent` keeps one memory per sub-env of the batch and, at each ``act_batch``:

1. starts a fresh memory for every sub-env whose observation opens a trial (``step == 0`` and
   ``episode == 0``: the first call, and the vector env's autoresets);
2. tells the others what their previous action led to (``_observe``: the state it was taken in,
   the action, the reward now in ``last_reward``, the state now, and whether that step ended a
   sub-episode, which ``step == 0`` shows);
3. chooses the next actions (``_choose``).

``reset(env_id, env_kwargs)`` builds the env once to read its arguments (``arms``, ``horizon``,
``size``...) into ``self.env``; subclasses read what they need from it.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from leaderboard.agent import Agent


class TrialAgent(Agent):
    """Batched per-trial memory; subclasses implement ``_new_trials``, ``_observe`` and ``_choose``."""

    def __init__(self, seed: int = 0):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.env: Any = None
        self.size = 0
        self._resets = 0

    def reset(self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> None:
        # A fresh stream per reset (crc32: Python salts str hashes per process).
        self.rng = np.random.default_rng([self.seed, zlib.crc32((env_id or "").encode()), self._resets])
        self._resets += 1
        self.size = 0  # the next batch starts every memory afresh
        if env_id is not None:
            env = gym.make(env_id, **dict(env_kwargs or {}))
            self.env = env.unwrapped
            env.close()
        self._check_observations()
        self._configure()

    def configure(self, env: gym.Env) -> TrialAgent:
        """Use the arguments of ``env`` (a built trial env) instead of ``reset(env_id, kwargs)``."""
        self.env = env.unwrapped
        self.size = 0
        self._check_observations()
        self._configure()
        return self

    def _check_observations(self) -> None:
        if self.env is not None and "state" not in self.env.observation_space.spaces:
            raise ValueError(
                f"{type(self).__name__} reads the state's number: obs_mode={getattr(self.env, 'obs_mode', None)!r} "
                "is not supported (use the default obs_mode='symbolic')"
            )

    def act(self, obs: Mapping[str, Any]) -> int:
        return int(self.act_batch({key: np.asarray(value)[None] for key, value in obs.items()})[0])

    def act_batch(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        if self.env is None:
            raise ValueError(f"{type(self).__name__} needs reset(env_id, env_kwargs) before acting")
        state = np.asarray(obs["state"], dtype=np.int64)
        step = np.asarray(obs["step"], dtype=np.int64)
        episode = np.asarray(obs["episode"], dtype=np.int64)
        reward = np.asarray(obs["last_reward"], dtype=np.float64).reshape(-1)
        opens = (step == 0) & (episode == 0)
        if len(state) != self.size:
            self.size = len(state)
            self._allocate(self.size)
            opens[:] = True
        else:
            seen = np.flatnonzero(~opens)
            if len(seen):
                ended = step[seen] == 0  # the previous step closed a sub-episode
                self._observe(
                    seen, self.prev_state[seen], self.prev_action[seen], reward[seen], state[seen], ended
                )
        if opens.any():
            self._new_trials(np.flatnonzero(opens))
        actions = self._choose(state, step, episode)
        self.prev_state, self.prev_action = state.copy(), np.asarray(actions, dtype=np.int64)
        return self.prev_action

    # -- what a subclass supplies ---------------------------------------------------------------
    def _configure(self) -> None:
        """Read what the agent needs from ``self.env`` (its arguments)."""

    def _allocate(self, size: int) -> None:  # pragma: no cover - every agent overrides
        raise NotImplementedError

    def _new_trials(self, envs: np.ndarray) -> None:  # pragma: no cover - every agent overrides
        raise NotImplementedError

    def _observe(
        self,
        envs: np.ndarray,
        states: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_states: np.ndarray,
        ended: np.ndarray,
    ) -> None:  # pragma: no cover - every agent overrides
        raise NotImplementedError

    def _choose(
        self, state: np.ndarray, step: np.ndarray, episode: np.ndarray
    ) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


def argmax_random_ties(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row-wise argmax, ties broken uniformly at random (a tiny random perturbation below every gap)."""
    noise = rng.random(values.shape)
    best = values >= values.max(axis=1, keepdims=True) - 1e-12
    return np.argmax(np.where(best, noise, -1.0), axis=1)
