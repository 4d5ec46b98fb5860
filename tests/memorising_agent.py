"""An agent that cheats on the public dev seeds, for the tests of the held-out test seed set.

It reads nothing it is not given: the suite (public) names each entry's dev seeds and episode
count, so before an entry it replays ``reset(seed=s + i)`` in its own copy of the env, records each
task's targets, and keys the task by its first query. While playing, a task whose first query it
recognises is answered with the targets it recorded (a return of about 0, better than any learner);
any other task falls back to an honest learner, the Bayes-optimal ridge predictor. On dev seeds it beats the Bayes
optimum; on test seeds, which it cannot have replayed, it is exactly that honest learner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from baselines.classic.regression import Ridge
from leaderboard.protocol import entry_key, suites


def replay_dev_tasks(env_id: str, env_kwargs: Mapping[str, Any]) -> dict[bytes, np.ndarray]:
    """Every dev task of the published entry (env_id, env_kwargs): first query -> targets."""
    key = entry_key(env_id, env_kwargs)
    entry = next(e for suite in suites().values() if suite.published for e in suite.entries if e.key == key)
    env = gym.make(env_id, **env_kwargs)
    memory = {}
    for seed in entry.seeds:
        for i in range(entry.episodes):
            obs, _ = env.reset(seed=seed + i)
            first_query = obs["query"].tobytes()
            targets, over = [], False
            while not over:
                obs, _, terminated, truncated, info = env.step(np.zeros(1, dtype=np.float32))
                targets.append(info["target"])
                over = terminated or truncated
            memory[first_query] = np.array(targets)
    env.close()
    return memory


class MemorisingAgent(Ridge):
    """Answers the dev tasks it replayed with their recorded targets, others by ridge regression (honestly)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._memories: dict[str, dict[bytes, np.ndarray]] = {}
        self.memory: dict[bytes, np.ndarray] = {}
        self._recalled: list[np.ndarray | None] = []

    def reset(self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> None:
        super().reset(env_id, env_kwargs)
        key = entry_key(env_id, dict(env_kwargs or {}))
        if key not in self._memories:
            self._memories[key] = replay_dev_tasks(env_id, dict(env_kwargs or {}))
        self.memory = self._memories[key]

    def act_batch(self, obs_batch: Mapping[str, Any]) -> np.ndarray:
        honest = super().act_batch(obs_batch)
        lengths = np.asarray(obs_batch["length"])
        if not self._recalled or len(self._recalled) != len(lengths):
            self._recalled = [None] * len(lengths)
        for i in np.flatnonzero(lengths == 0):  # a new task: is it one of the replayed ones?
            self._recalled[i] = self.memory.get(np.asarray(obs_batch["query"][i]).tobytes())
        for i, targets in enumerate(self._recalled):
            if targets is not None and lengths[i] < len(targets):
                honest[i, 0] = targets[lengths[i]]
        return honest
