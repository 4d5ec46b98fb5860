"""Agents for the distributed tests (tests/test_distributed.py), loaded by reference on Dask workers.

- :class:`SlowRandomAgent` is the random agent (whose actions depend on how many resets it made),
  pausing at the first action of each seed and logging it, so that a test can kill a worker while a
  shard is under way and count how many shards were started.
- :class:`FailingRandomAgent` is the random agent raising at the first action on one env.
- :func:`held_collect_block` plays a seed block of a dataset as ``collect`` does, logging its start
  and holding one block until a test kills its worker.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from baselines.classic.random_agent import RandomAgent

if TYPE_CHECKING:
    from baselines.offline.collect import SeedBlock


class SlowRandomAgent(RandomAgent):
    """Writes ``PID ENV_ID`` to ``log`` and sleeps ``delay`` seconds at the first action after each
    reset (resets a worker replays without playing are not logged). The shard whose line is line
    ``hold_at`` of the log waits there (up to a minute) for a test to kill its worker."""

    def __init__(self, log: str, delay: float = 0.1, hold_at: int = 0, seed: int = 0):
        super().__init__(seed)
        self.log, self.delay, self.hold_at = Path(log), float(delay), int(hold_at)
        self._env_id = None

    def reset(self, env_id=None, env_kwargs=None) -> None:
        super().reset(env_id, env_kwargs)
        self._env_id = env_id

    def act_batch(self, obs_batch):
        if self._env_id is not None:
            with self.log.open("a+") as log:
                # Locked from the write to the count: two workers starting shards together must not
                # both count the line of the later one (both would hold, one for a whole minute).
                fcntl.flock(log, fcntl.LOCK_EX)
                log.write(f"{os.getpid()} {self._env_id}\n")
                log.flush()
                log.seek(0)
                held = len(log.read().splitlines()) == self.hold_at
            self._env_id = None
            time.sleep(60 if held else self.delay)
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


def held_collect_block(task: tuple[SeedBlock, str, int]):
    """``collect_block(block)`` for ``(block, log, hold_first)``, after writing ``PID FIRST`` to
    ``log``; the block starting at episode ``hold_first`` waits (up to a minute) the first time it
    is played, for a test to kill its worker."""
    from baselines.offline.collect import (
        collect_block,  # lazy: minari, which the agents' workers need not import
    )

    block, log, hold_first = task
    log = Path(log)
    first_time = not log.exists() or f" {block.first}\n" not in log.read_text()
    with log.open("a") as file:
        file.write(f"{os.getpid()} {block.first}\n")
    if block.first == hold_first and first_time:
        time.sleep(60)
    return collect_block(block)
