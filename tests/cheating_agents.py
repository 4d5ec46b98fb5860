"""Agents that break the rules, for the isolation tests (loaded by ``cheating_agents:Name``).

``GcCheater`` is the attack of issue 10: it walks the garbage collector's objects for the vector env
it is being scored on and answers with that env's hidden targets. ``Sleeper``, ``Crasher`` and
``Exiter`` misbehave in time, by raising and by dying; ``ForgedAnswer`` writes its own bytes to the
isolation's socket, as an agent that attacks the parent would.
"""

from __future__ import annotations

import gc
import os
import pickle
import struct
import time

import numpy as np

from icl_envs.prediction import PredictionVectorEnv
from leaderboard.agent import Agent


class GcCheater(Agent):
    """Predicts the target the env is about to score, read from the env object itself; zero when no
    env of its batch size is in its interpreter (then it is a zero predictor)."""

    def reset(self, env_id=None, env_kwargs=None):
        self.env = None

    def act_batch(self, obs_batch):
        n = len(obs_batch["query"])
        if self.env is None:  # one walk per batch of episodes: the harness keeps its env that long
            found = (o for o in gc.get_objects() if isinstance(o, PredictionVectorEnv) and o.num_envs == n)
            self.env = next(found, None)
        if self.env is None:
            return np.zeros((n, 1), dtype=np.float32)
        return self.env._targets[np.arange(n), np.minimum(self.env._t, self.env.n - 1)][:, None]


class Sleeper(Agent):
    """Predicts zero, after sleeping ``seconds`` at every step (and ``build_seconds`` to be built)."""

    def __init__(self, seconds: float = 3600.0, build_seconds: float = 0.0):
        self.seconds = seconds
        time.sleep(build_seconds)

    def act_batch(self, obs_batch):
        time.sleep(self.seconds)
        return np.zeros((len(obs_batch["query"]), 1), dtype=np.float32)


class Crasher(Agent):
    def act_batch(self, obs_batch):
        return 1 / 0


class Exiter(Agent):
    """Its process dies in the middle of a step, as a segfaulting extension would."""

    def act_batch(self, obs_batch):
        os._exit(3)


class _RunsCode:
    """Unpickling this runs code: ``exec(source)``."""

    def __init__(self, source: str):
        self.source = source

    def __reduce__(self):
        return exec, (self.source,)


class ForgedAnswer(Agent):
    """Writes a forged answer of ``kind`` to the parent, then answers as the worker would.

    ``pickle``: a pickle that writes the file ``marker`` when loaded (the parent must never load
    one); ``object-array``: an array header with the object dtype; ``huge``: a message announcing
    1 TB; ``extra-parts``: an answer of three parts.
    """

    def __init__(self, kind: str, marker: str = ""):
        self.kind, self.marker = kind, marker

    def act_batch(self, obs_batch):
        from leaderboard.isolation import _Channel  # the child's own end of the socket

        channel = next(o for o in gc.get_objects() if isinstance(o, _Channel))
        n = len(obs_batch["query"])
        if self.kind == "pickle":
            channel.send([pickle.dumps(_RunsCode(f"open({self.marker!r}, 'w').write('ran')"))])
        elif self.kind == "object-array":
            channel.send([b'{"kind": "array", "dtype": "|O", "shape": [%d, 1]}' % n, bytes(8 * n)])
        elif self.kind == "huge":
            channel.sock.sendall(struct.pack("<IQ", 1, 10**12))
        elif self.kind == "extra-parts":
            channel.send([b'{"kind": "done"}', b"", b""])
        return np.zeros((n, 1), dtype=np.float32)


class SecretSeeker(Agent):
    """Predicts the length of ``$ICL_BENCH_SECRET_FILES`` (where a server's secrets are): a zero
    predictor unless that variable reaches it."""

    def act_batch(self, obs_batch):
        seen = len(os.environ.get("ICL_BENCH_SECRET_FILES", ""))
        return np.full((len(obs_batch["query"]), 1), seen, dtype=np.float32)


class Hoarder(Agent):
    """Keeps every observation it was given and checks, at each step, that none has changed since
    (an agent may keep its history; the isolation must not reuse memory under it). Predicts zero."""

    def reset(self, env_id=None, env_kwargs=None):
        self.kept = []

    def act_batch(self, obs_batch):
        for obs, snapshot in self.kept:
            if not np.array_equal(obs["context"], snapshot):
                raise AssertionError("an observation kept from an earlier step has changed")
        self.kept.append((obs_batch, obs_batch["context"].copy()))
        return np.zeros((len(obs_batch["query"]), 1), dtype=np.float32)
