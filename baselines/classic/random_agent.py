"""The uniformly random agent: the 0 of the normalized score for the games.

``RandomAgent`` reads the env's action space once per ``reset(env_id, env_kwargs)`` (by building the
env from its registered spec and closing it again) and then samples uniformly:

- a ``Discrete`` action uniformly over the legal actions when the observation carries an
  ``action_mask`` (the multimodal mode, the PettingZoo table), else over the whole space;
- a ``Box`` action uniformly within its bounds;
- in text mode (``obs_mode="text"``) a JSON answer naming one of the env's ``action_strings``
  uniformly, which the text protocol's ``parse_action`` reads back;
- any other space through its own ``sample()``, seeded from the agent's generator.

Every draw comes from one ``numpy`` generator seeded at each reset by ``(seed, env_id, k)`` where
``k`` counts this agent's earlier resets on that env: the same agent replays the same actions for
the same sequence of resets (reproducible runs), while the harness's successive seeds of one entry
get independent action streams (so the intervals across seeds mean what they say).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from leaderboard.agent import Agent, batch_size


class RandomAgent(Agent):
    """Acts uniformly at random in the env's action space; ``act_batch`` draws a whole batch at once."""

    def __init__(self, seed: int = 0):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self.action_space: gym.Space | None = None
        self.action_strings: tuple[str, ...] | None = None
        self.text_actions = False
        self.rng = np.random.default_rng(self.seed)
        self._resets_per_env: dict[str, int] = {}

    def reset(self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> None:
        # crc32 rather than hash(): Python salts str hashes per process, which would break reproducibility.
        key = env_id or ""
        count = self._resets_per_env.get(key, 0)
        self._resets_per_env[key] = count + 1
        self.rng = np.random.default_rng([self.seed, zlib.crc32(key.encode()), count])
        if env_id is None:
            return
        env_kwargs = dict(env_kwargs or {})
        try:
            gym.spec(env_id)
        except gym.error.Error as error:
            raise ValueError(f"env_id {env_id!r} is not a registered environment ({error})") from None
        env = gym.make(env_id, **env_kwargs)
        try:
            self.action_space = env.action_space
            strings = getattr(env.unwrapped, "action_strings", None)
            self.action_strings = tuple(strings) if strings is not None else None
        finally:
            env.close()
        self.text_actions = env_kwargs.get("obs_mode") == "text"
        if self.text_actions and not self.action_strings:
            raise ValueError(f"obs_mode='text' needs an env with action_strings; {env_id!r} has none")
        self.action_space.seed(int(self.rng.integers(2**31)))

    def act(self, obs: Any) -> Any:
        if isinstance(obs, Mapping):
            obs = {key: np.asarray(value)[None] for key, value in obs.items()}
        else:
            obs = [obs]  # a one-env batch; only its size and action mask are ever read
        return self.act_batch(obs)[0]

    def act_batch(self, obs_batch: Any) -> Any:
        n = _batch_size(obs_batch)
        mask = obs_batch.get("action_mask") if isinstance(obs_batch, Mapping) else None
        if self.text_actions:
            choices = self.rng.integers(len(self.action_strings), size=n)
            return [
                json.dumps({"thoughts": "uniform random choice", "action": self.action_strings[i]})
                for i in choices
            ]
        if mask is not None:
            return _sample_masked(self.rng, np.asarray(mask), self.action_space)
        space = self.action_space
        if space is None:
            raise ValueError(
                "RandomAgent needs reset(env_id, env_kwargs) before acting (or an action_mask in obs)"
            )
        if isinstance(space, gym.spaces.Discrete):
            return space.start + self.rng.integers(space.n, size=n)
        if isinstance(space, gym.spaces.Box) and space.is_bounded():
            return self.rng.uniform(space.low, space.high, size=(n, *space.shape)).astype(space.dtype)
        return np.stack([np.asarray(space.sample()) for _ in range(n)])


def _batch_size(obs_batch: Any) -> int:
    # A batch of text observations is a tuple/list of strings: its size is its length, not the
    # length of its first string (which is what the generic rule for tuples would read).
    if isinstance(obs_batch, Sequence) and not isinstance(obs_batch, str) and obs_batch:
        if all(isinstance(item, str) for item in obs_batch) or not isinstance(obs_batch, tuple):
            return len(obs_batch)
    return batch_size(obs_batch)


def _sample_masked(rng: np.random.Generator, mask: np.ndarray, space: gym.Space | None) -> np.ndarray:
    """One uniform legal action per row of an (n, num_actions) mask; a row with no legal action
    (a finished player at the table) falls back to any action."""
    if mask.ndim != 2:
        raise ValueError(f"action_mask must have shape (num_envs, num_actions), got {mask.shape}")
    legal = mask.astype(bool)
    legal[~legal.any(axis=1)] = True
    # The argmax of i.i.d. uniform scores over the legal entries is a uniform legal index.
    scores = np.where(legal, rng.random(legal.shape), -1.0)
    start = space.start if isinstance(space, gym.spaces.Discrete) else 0
    return start + np.argmax(scores, axis=1)
