"""Collect offline datasets of the games with the native vector envs and write them with Minari.

Behaviour policies (``--policy``), all built on the exact solvers of ``baselines/classic``:

- ``random``: uniform over the actions (the 0 of the normalized score);
- ``optimal``: the exact solver's policy (the 100);
- ``eps-optimal:EPS``: at each step a uniform action with probability EPS, else the optimal one;
- ``mixed``: half the episodes random, half optimal (episode ``j`` is optimal when ``j`` is odd).

Episode ``j`` of a dataset collected with seed ``S`` starts with ``reset(seed=S + j)``: the vector
env resets each finished sub-env with the next episode's seed (a masked reset), so every episode
can be replayed on its own from its stored seed, and exactly episodes ``0..N-1`` are kept (no bias
towards short episodes). The policies' own draws come from one generator seeded with ``S``, so a
dataset is a function of (env, kwargs, policy, N, S, num_envs): the same arguments give the same
content hash.

Episodes go into Minari ``EpisodeBuffer``s written by ``minari.create_dataset_from_buffers``
(Minari's ``DataCollector`` steps one env at a time and needs jax). Image datasets run the
symbolic vector env, which the policies read, and store each step's frame state
(:mod:`baselines.offline.frames`) instead of the frame.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from baselines.classic import blackjack as blackjack_solver
from baselines.classic import number_games
from baselines.classic.blackjack import OptimalBlackjackAgent
from baselines.classic.number_games import NumberLineOptimalAgent, PointsOptimalAgent
from baselines.offline.datasets import (
    DatasetError,
    MinariDataset,
    check_obs_mode,
    dataset_path,
    game_env_id,
    game_name,
    require_minari,
    resolved_kwargs,
    write_checked_dataset,
)
from baselines.offline.datasets import (
    dataset_id as default_dataset_id,
)
from baselines.offline.frames import frame_state
from icl_envs.checks import check_int
from leaderboard.agent import Agent
from leaderboard.protocol import entry_key
from leaderboard.references import published_references

#: Sub-envs stepped together (recorded with the dataset: the policies' draws depend on it).
DEFAULT_NUM_ENVS = 256
POLICY_KINDS = ("random", "optimal", "eps-optimal", "mixed")
POLICY_HELP = "random | optimal | eps-optimal:EPS (0 < EPS < 1) | mixed"


# ----------------------------------------------------------------------------------------------
# Behaviour policies


@dataclass(frozen=True)
class Behaviour:
    """A behaviour policy: its kind and, for eps-optimal, the probability of a random action."""

    kind: str
    epsilon: float = 0.0

    @property
    def name(self) -> str:
        return f"eps-optimal:{self.epsilon:g}" if self.kind == "eps-optimal" else self.kind

    @property
    def description(self) -> str:
        return {
            "random": "the uniformly random policy",
            "optimal": "the exact solver's optimal policy (baselines/classic)",
            "eps-optimal": f"the optimal policy with a uniformly random action at each step with probability {self.epsilon:g}",
            "mixed": "half random episodes and half optimal ones (episode j optimal when j is odd)",
        }[self.kind]


def parse_policy(text: Any) -> Behaviour:
    """``random``, ``optimal``, ``eps-optimal:EPS`` or ``mixed``; a clear error otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"policy must be {POLICY_HELP}; got {text!r}")
    kind, _, value = text.partition(":")
    if kind == "eps-optimal":
        try:
            epsilon = float(value)
        except ValueError:
            epsilon = float("nan")
        if not 0.0 < epsilon < 1.0:
            raise ValueError(
                f"policy eps-optimal needs EPS with 0 < EPS < 1 (e.g. eps-optimal:0.3); got {text!r}"
            )
        return Behaviour("eps-optimal", epsilon)
    if kind in POLICY_KINDS and not value:
        return Behaviour(kind)
    raise ValueError(f"policy must be {POLICY_HELP}; got {text!r}")


def optimal_agent(env_id: str, env_kwargs: Mapping[str, Any]) -> Agent:
    """The exact solver's agent of a game, reset for symbolic observations."""
    game = game_name(env_id)
    agent = {
        "NumberLine": NumberLineOptimalAgent,
        "EZPoints": lambda: PointsOptimalAgent("EZPoints"),
        "Points24": lambda: PointsOptimalAgent("Points24"),
        "Blackjack": OptimalBlackjackAgent,
    }[game]()
    agent.reset(env_id, {**env_kwargs, "obs_mode": "symbolic"})
    return agent


class BehaviourPolicy:
    """Acts for a whole vector env from its symbolic observations."""

    def __init__(
        self, behaviour: Behaviour, env_id: str, env_kwargs: Mapping[str, Any], num_actions: int, seed: int
    ):
        self.behaviour = behaviour
        self.num_actions = num_actions
        self.rng = np.random.default_rng(seed)
        self.optimal = None if behaviour.kind == "random" else optimal_agent(env_id, env_kwargs)

    def act(self, obs: Any, episodes: np.ndarray) -> np.ndarray:
        """Actions for every sub-env; ``episodes`` holds each sub-env's episode index (mixed reads it)."""
        n = len(episodes)
        uniform = self.rng.integers(self.num_actions, size=n)
        kind = self.behaviour.kind
        if kind == "random":
            return uniform
        best = np.asarray(self.optimal.act_batch(obs), dtype=np.int64)
        if kind == "optimal":
            return best
        if kind == "mixed":
            return np.where(episodes % 2 == 1, best, uniform)
        return np.where(self.rng.random(n) < self.behaviour.epsilon, uniform, best)


# ----------------------------------------------------------------------------------------------
# Collection


def _rows(space: gym.Space, batch: Any) -> list[np.ndarray]:
    """A batched observation's arrays in the space's order (Dict keys as the space lists them)."""
    if isinstance(space, gym.spaces.Dict):
        return [row for key, sub in space.spaces.items() for row in _rows(sub, batch[key])]
    if isinstance(space, gym.spaces.Tuple):
        return [row for sub, part in zip(space.spaces, batch) for row in _rows(sub, part)]
    return [np.asarray(batch)]


def _rebuild(space: gym.Space, leaves: list[np.ndarray]) -> Any:
    """The inverse of ``_rows`` on stacked arrays (consumes ``leaves`` from the front)."""
    if isinstance(space, gym.spaces.Dict):
        return {key: _rebuild(sub, leaves) for key, sub in space.spaces.items()}
    if isinstance(space, gym.spaces.Tuple):
        return tuple(_rebuild(sub, leaves) for sub in space.spaces)
    return leaves.pop(0)


@dataclass
class _Episode:
    """The steps of one running episode of one sub-env."""

    index: int
    observations: list[list[np.ndarray]] = dataclasses.field(default_factory=list)
    actions: list[int] = dataclasses.field(default_factory=list)
    rewards: list[float] = dataclasses.field(default_factory=list)
    terminations: list[bool] = dataclasses.field(default_factory=list)
    truncations: list[bool] = dataclasses.field(default_factory=list)


def collect_episodes(
    env_id: str,
    env_kwargs: Mapping[str, Any],
    behaviour: Behaviour,
    episodes: int,
    seed: int,
    num_envs: int = DEFAULT_NUM_ENVS,
) -> tuple[list[Any], gym.Space]:
    """Play ``episodes`` episodes (episode ``j`` from ``reset(seed=seed + j)``) on the native vector
    env; returns Minari ``EpisodeBuffer``s in episode order and the stored observation space."""
    from minari.data_collector import EpisodeBuffer  # lazy: minari is the optional `offline` extra

    episodes = check_int("episodes", episodes, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    num_envs = min(check_int("num_envs", num_envs, minimum=1), episodes)
    images = check_obs_mode(env_kwargs.get("obs_mode", "symbolic")) == "image"
    frames = frame_state(env_id) if images else None
    vector_kwargs = {**env_kwargs, "obs_mode": "symbolic", **(frames.vector_kwargs if frames else {})}
    env = gym.make_vec(env_id, num_envs, vectorization_mode="vector_entry_point", **vector_kwargs)
    symbolic_space = env.single_observation_space
    stored_space = frames.space(symbolic_space) if frames else symbolic_space
    policy = BehaviourPolicy(behaviour, env_id, env_kwargs, int(env.single_action_space.n), seed)

    def stored(obs: Any) -> list[np.ndarray]:
        return _rows(stored_space, frames.capture(env, obs) if frames else obs)

    running: list[_Episode | None] = [_Episode(i) for i in range(num_envs)]
    buffers: list[Any] = [None] * episodes
    obs, _ = env.reset(seed=[seed + i for i in range(num_envs)])
    rows = stored(obs)
    for i, episode in enumerate(running):
        episode.observations.append([row[i] for row in rows])
    next_episode = num_envs
    try:
        while any(episode is not None for episode in running):
            indices = np.array([-1 if e is None else e.index for e in running])
            actions = policy.act(obs, indices)
            obs, rewards, terminated, truncated, _ = env.step(actions)
            rows = stored(obs)
            restart = np.zeros(num_envs, dtype=bool)
            reset_seeds: list[int | None] = [None] * num_envs
            for i, episode in enumerate(running):
                if episode is None:
                    continue  # idle: every episode is started; its autoreset is ignored
                episode.observations.append([row[i] for row in rows])
                episode.actions.append(int(actions[i]))
                episode.rewards.append(float(rewards[i]))
                episode.terminations.append(bool(terminated[i]))
                episode.truncations.append(bool(truncated[i]))
                if terminated[i] or truncated[i]:
                    buffers[episode.index] = _buffer(EpisodeBuffer, episode, stored_space, seed)
                    running[i] = None
                    if next_episode < episodes:
                        running[i] = _Episode(next_episode)
                        restart[i], reset_seeds[i] = True, seed + next_episode
                        next_episode += 1
            if restart.any():
                obs, _ = env.reset(seed=reset_seeds, options={"reset_mask": restart})
                rows = stored(obs)
                for i in np.flatnonzero(restart):
                    running[i].observations.append([row[i] for row in rows])
    finally:
        env.close()
    return buffers, stored_space


def _buffer(episode_buffer: type, episode: _Episode, space: gym.Space, seed: int) -> Any:
    leaves = [np.stack(column) for column in zip(*episode.observations)]
    return episode_buffer(
        id=episode.index,
        seed=seed + episode.index,
        observations=_rebuild(space, leaves),
        actions=np.asarray(episode.actions, dtype=np.int64),
        rewards=np.asarray(episode.rewards, dtype=np.float64),
        terminations=np.asarray(episode.terminations, dtype=bool),
        truncations=np.asarray(episode.truncations, dtype=bool),
    )


# ----------------------------------------------------------------------------------------------
# Reference scores and writing


def reference_scores(env_id: str, env_kwargs: Mapping[str, Any]) -> tuple[float, float]:
    """(random, optimal) expected returns: the published references of the suite's entry when the
    env has the suite's kwargs, else the exact solvers of ``baselines/classic``."""
    obs_mode = env_kwargs.get("obs_mode", "symbolic")
    defaults = resolved_kwargs(env_id, {"obs_mode": obs_mode})
    given = resolved_kwargs(env_id, env_kwargs)
    rules = {key: value for key, value in given.items() if key not in ("obs_mode", "image_size")}
    if all(defaults[key] == value for key, value in rules.items()):
        reference = published_references()[entry_key(env_id, {"obs_mode": obs_mode})]
        return reference.r_random, reference.r_reference
    if env_id == "icl/Blackjack-v0":
        values = blackjack_solver.reference_returns(bool(rules["natural"]), bool(rules["sab"]))
    else:
        values = number_games.reference_returns(env_id, **rules)
    return values["random"], values["optimal"]


def write_dataset(
    dataset_id: str,
    buffers: list[Any],
    stored_space: gym.Space,
    env_id: str,
    env_kwargs: Mapping[str, Any],
    behaviour: Behaviour,
    seed: int,
    num_envs: int,
    *,
    overwrite: bool = False,
) -> MinariDataset:
    """Write a game's episodes as a Minari dataset with the env spec, references and the suite's metadata."""
    obs_mode = env_kwargs.get("obs_mode", "symbolic")
    return write_checked_dataset(
        dataset_id,
        buffers,
        stored_space,
        env_id,
        env_kwargs,
        author="icl-bench collect",
        algorithm_name=behaviour.name,
        description=(
            f"{game_name(env_id)} with {obs_mode} observations: {len(buffers)} episodes of "
            f"{behaviour.description}; episode j starts from reset(seed={seed} + j). "
            + (
                "Observations are stored as frame states; baselines.offline.datasets.iter_episode_arrays "
                "draws the exact frames."
                if obs_mode == "image"
                else ""
            )
        ),
        reference=reference_scores(env_id, env_kwargs),
        info={
            "policy": behaviour.name,
            "behaviour": behaviour.description,
            "seed": seed,
            "num_envs": num_envs,
            "observations": "frame-state" if obs_mode == "image" else "symbolic",
        },
        overwrite=overwrite,
    )


def collect(
    env: str,
    policy: str,
    episodes: int,
    *,
    obs_mode: str = "symbolic",
    env_kwargs: Mapping[str, Any] | None = None,
    seed: int = 0,
    num_envs: int = DEFAULT_NUM_ENVS,
    dataset_id: str | None = None,
    overwrite: bool = False,
) -> MinariDataset:
    """Collect and write one dataset; ``dataset_id`` defaults to the scheme of
    :func:`baselines.offline.datasets.dataset_id`. What ``icl-bench collect ENV`` runs."""
    require_minari()
    env_id = game_env_id(env)
    behaviour = parse_policy(policy)
    env_kwargs = dict(env_kwargs or {})
    if "obs_mode" in env_kwargs and env_kwargs["obs_mode"] != obs_mode:
        raise ValueError(
            f"obs_mode is given twice: {obs_mode!r} and env_kwargs obs_mode={env_kwargs['obs_mode']!r}"
        )
    env_kwargs["obs_mode"] = check_obs_mode(obs_mode)
    resolved_kwargs(env_id, env_kwargs)  # unknown arguments fail here, before any work
    if obs_mode == "image":
        frame_state(env_id)
    dataset_id = dataset_id or default_dataset_id(env_id, env_kwargs, behaviour.name)
    if dataset_path(dataset_id).exists() and not overwrite:
        raise DatasetError(
            f"dataset {dataset_id!r} already exists at {dataset_path(dataset_id)}; pass overwrite (--overwrite) to replace it"
        )
    buffers, space = collect_episodes(env_id, env_kwargs, behaviour, episodes, seed, num_envs)
    return write_dataset(
        dataset_id,
        buffers,
        space,
        env_id,
        env_kwargs,
        behaviour,
        seed,
        min(num_envs, episodes),
        overwrite=overwrite,
    )
