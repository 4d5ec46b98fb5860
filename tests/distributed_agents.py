"""Agents for the distributed tests (tests/test_distributed.py), loaded by reference on Dask workers.

- :class:`SlowRandomAgent` is the random agent (whose actions depend on how many resets it made),
  pausing at the first action of each seed and logging it, so that a test can kill a worker while a
  shard is under way and count how many shards were started.
- :class:`FailingRandomAgent` is the random agent raising at the first action on one env.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from baselines.classic.random_agent import RandomAgent


class SlowRandomAgent(RandomAgent):
    """Writes ``PID ENV_ID`` to ``log`` and sleeps ``delay`` seconds at the first action after each
    reset (resets a worker replays without playing are not logged)."""

    def __init__(self, log: str, delay: float = 0.3, seed: int = 0):
        super().__init__(seed)
        self.log, self.delay = Path(log), float(delay)
        self._env_id = None

    def reset(self, env_id=None, env_kwargs=None) -> None:
        super().reset(env_id, env_kwargs)
        self._env_id = env_id

    def act_batch(self, obs_batch):
        if self._env_id is not None:
            with self.log.open("a") as log:
                log.write(f"{os.getpid()} {self._env_id}\n")
            self._env_id = None
            time.sleep(self.delay)
        return super().act_batch(obs_batch)


class FailingRandomAgent(RandomAgent):
    """Raises ``RuntimeError`` at the first action on ``fail_on`` (an env id); plays at random elsewhere."""

    def __init__(self, fail_on: str, seed: int = 0):
        super().__init__(seed)
        self.fail_on = fail_on
        self._env_id = None

    def reset(self, env_id=None, env_kwargs=None) -> None:
        super().reset(env_id, env_kwargs)
        self._env_id = env_id

    def act_batch(self, obs_batch):
        if self._env_id == self.fail_on:
            raise RuntimeError(f"deliberate failure on {self.fail_on}")
        return super().act_batch(obs_batch)
