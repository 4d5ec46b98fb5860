"""Classic references of associative recall (``icl/AssociativeRecall-v0``): the exact lookup table
(every query right: the 100 of the normalized score) and chance over the value tokens (the 0).

The pairs open every MQAR sequence (``k_1 v_1 ... k_D v_D`` from position 0), so the first time the
query key stands at an even position of the context it is the key of its pair and the next token is
its value: a filler or an earlier query can repeat the key only later. ``LookupTableAgent`` reads
exactly that, for a whole vector env at once, and needs no argument of the env.

Load them by reference: ``baselines.classic.recall:LookupTableAgent`` and ``...:ChanceAgent``.
"""

from __future__ import annotations

import inspect
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from icl_envs.recall.env import AssociativeRecallEnv
from leaderboard.agent import Agent

#: The env's default vocabulary, for a reset without kwargs.
DEFAULT_VOCAB_SIZE = inspect.signature(AssociativeRecallEnv).parameters["vocab_size"].default


def value_range(vocab_size: int) -> tuple[int, int]:
    """The value tokens of a vocabulary: ``vocab_size // 2 .. vocab_size - 1`` (Zoology's split)."""
    return vocab_size // 2, vocab_size


def recall_lookup_return(num_pairs: int = 8, **_: Any) -> tuple[float, float]:
    """Exact: the lookup table answers all ``num_pairs`` queries of an episode."""
    return float(num_pairs), 0.0


def recall_chance_return(vocab_size: int = 8192, num_pairs: int = 8, **_: Any) -> tuple[float, float]:
    """Exact: a uniform guess among the value tokens is right with probability 1/|values| per query."""
    low, high = value_range(vocab_size)
    return num_pairs / (high - low), 0.0


def lookup_answers(tokens: np.ndarray, length: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The value after the first even-position occurrence of each query key in ``tokens[:length]``,
    batched: tokens (N, L), length (N,), query (N,) -> (N,) int64. A key not found (which no MQAR
    sequence produces) gets token 0."""
    tokens = np.asarray(tokens, dtype=np.int64).reshape(len(query), -1)
    length, query = np.asarray(length).reshape(-1), np.asarray(query).reshape(-1)
    keys, values = tokens[:, 0:-1:2], tokens[:, 1::2]
    pair_end = 2 * np.arange(keys.shape[1]) + 1  # the position of each pair's value
    found = (keys == query[:, None]) & (pair_end[None, :] < length[:, None])
    first = np.argmax(found, axis=1)
    answers = values[np.arange(len(query)), first]
    return np.where(found.any(axis=1), answers, 0)


class LookupTableAgent(Agent):
    """Answers each query with the value paired with its key in context: every answer right."""

    def act(self, obs: Mapping[str, Any]) -> np.int64:
        return np.int64(
            lookup_answers(
                obs["tokens"][None], np.asarray(obs["length"])[None], np.asarray(obs["query"])[None]
            )[0]
        )

    def act_batch(self, obs_batch: Mapping[str, Any]) -> np.ndarray:
        return lookup_answers(obs_batch["tokens"], obs_batch["length"], obs_batch["query"])


class ChanceAgent(Agent):
    """Guesses a value token uniformly: right with probability 1/|values| (chance).

    Its generator is seeded at each ``reset`` by ``(seed, env_id, k)``, ``k`` counting its resets on
    that env, as ``RandomAgent``'s is: reproducible runs, independent streams across seeds."""

    def __init__(self, seed: int = 0):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self.values = value_range(DEFAULT_VOCAB_SIZE)
        self.rng = np.random.default_rng(self.seed)
        self._resets: dict[str, int] = {}

    def reset(self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> None:
        key = env_id or ""
        count = self._resets.get(key, 0)
        self._resets[key] = count + 1
        self.rng = np.random.default_rng([self.seed, zlib.crc32(key.encode()), count])
        self.values = value_range(int(dict(env_kwargs or {}).get("vocab_size", DEFAULT_VOCAB_SIZE)))

    def act(self, obs: Mapping[str, Any]) -> np.int64:
        return np.int64(self.rng.integers(*self.values))

    def act_batch(self, obs_batch: Mapping[str, Any]) -> np.ndarray:
        return self.rng.integers(*self.values, size=len(obs_batch["query"]))
