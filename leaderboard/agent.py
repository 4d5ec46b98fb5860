"""The one agent interface the harness knows.

Every agent, from least squares to a vision-language model, is an object with

- ``reset(env_id=None, env_kwargs=None)``: called before a batch of episodes on one env. The id and
  kwargs let an agent read task facts it is entitled to (the noise level, gamma, the action strings);
  agents that need nothing ignore them.
- ``act(obs) -> action`` for one env's observation;
- ``act_batch(obs_batch) -> actions`` for a vector env's batched observation. The default splits the
  batch and calls ``act`` per env, so a simple agent only writes ``act``; fast agents override it.

- ``observe(rewards, terminated, truncated)`` (optional): called after each step with the vector
  env's rewards and episode ends, for agents that condition on rewards (a Decision Transformer
  decrements its return-to-go). Agents without it never see rewards.

Agents for the ``text-v0`` suite return strings; agents for ``pixels-v0`` receive frames. ``suites``
optionally declares which suites an agent supports (``None``: any); ``envs`` optionally the entries
it plays when the user names none (env ids, short names or labels, as ``--envs``; ``None``: all),
e.g. a model trained on one game's dataset. Users subclass ``Agent`` or just
write a class with the same methods: the harness loads either by ``module:Name``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


class AgentError(RuntimeError):
    """The agent failed or returned a bad action; the message says who, where and what."""


class Agent:
    """Base class with a batched default; subclasses implement ``act`` (and optionally ``act_batch``)."""

    #: Suites this agent can be scored on, or ``None`` for any.
    suites: Sequence[str] | None = None
    #: Entries played when the user names none (as ``--envs``), or ``None`` for all.
    envs: Sequence[str] | None = None
    #: True when ``reset(env_id, env_kwargs)`` alone sets the agent up, whatever resets came before.
    #: A distributed evaluation then skips replaying, before each (entry, seed) shard, the resets
    #: that a local run makes before it (``leaderboard.harness.play_shard``): the default replays
    #: them, so that an agent counting its resets (the random agent) plays as it does locally.
    independent_resets: bool = False

    def reset(self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> None:
        """Prepare for episodes on ``env_id`` built with ``env_kwargs``."""

    def act(self, obs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement act(obs)")

    def act_batch(self, obs_batch: Any) -> Any:
        """Act on every env of a vector env; returns an array (or a list of strings for text)."""
        actions = [self.act(obs) for obs in unbatch(obs_batch)]
        if actions and isinstance(actions[0], str):
            return actions
        return np.stack([np.asarray(a) for a in actions])


def batch_size(obs_batch: Any) -> int:
    """The number of envs in a batched observation (array, dict, tuple or list of strings)."""
    if isinstance(obs_batch, Mapping):
        return batch_size(next(iter(obs_batch.values())))
    if _is_tuple_space_batch(obs_batch):
        return batch_size(obs_batch[0])
    return len(obs_batch)


def _is_tuple_space_batch(obs_batch: Any) -> bool:
    """A batched ``Tuple`` space (one array per element), not a tuple of per-env strings."""
    return isinstance(obs_batch, tuple) and not isinstance(obs_batch[0], str)


def unbatch(obs_batch: Any) -> list[Any]:
    """Split a vector env's observation into one observation per env.

    Dicts split key by key, tuples element by element (Gymnasium's batching of ``Dict`` and
    ``Tuple`` spaces), arrays along their first axis, lists of strings item by item.
    """
    n = batch_size(obs_batch)
    if isinstance(obs_batch, Mapping):
        parts = {key: unbatch(value) for key, value in obs_batch.items()}
        return [{key: parts[key][i] for key in parts} for i in range(n)]
    if _is_tuple_space_batch(obs_batch):
        parts = [unbatch(value) for value in obs_batch]
        return [tuple(part[i] for part in parts) for i in range(n)]
    return [obs_batch[i] for i in range(n)]
