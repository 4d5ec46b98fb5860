"""Collect offline datasets of the games with the native vector envs and write them with Minari.

Behaviour policies (``--policy``), all built on the exact solvers of ``baselines/classic``:

- ``random``: uniform over the actions (the 0 of the normalized score);
- ``optimal``: the exact solver's policy (the 100);
- ``eps-optimal:EPS``: at each step a uniform action with probability EPS, else the optimal one;
- ``mixed``: half the episodes random, half optimal (episode ``j`` is optimal when ``j`` is odd).

Episode ``j`` of a dataset collected with seed ``S`` starts with ``reset(seed=S + j)``. Episodes
are played in seed blocks of ``block_episodes`` (default 4,096): block ``k`` holds episodes
``k·B .. min((k+1)·B, N) - 1`` and is played by one native vector env, which resets each finished
sub-env with the block's next episode seed (a masked reset), so every episode can be replayed on
its own from its stored seed, and exactly the block's episodes are kept (no bias towards short
episodes). The policies' own draws in a block come from a generator seeded with the block's first
episode seed ``S + k·B``. A block is thus a function of its own arguments only: blocks can be
played in any order, in any process (``--workers``/``--scheduler``: one Dask shard per block,
:mod:`leaderboard.distributed`), and concatenated in block order they give the same dataset and
the same content hash. A dataset is a function of (env, kwargs, policy, N, S, num_envs,
block_episodes). A dataset of at most one block (every standard dataset) is what the collector
gave before blocks existed: one vector env, draws seeded with ``S``.

Episodes go into Minari ``EpisodeBuffer``s written by ``minari.create_dataset_from_buffers``
(Minari's ``DataCollector`` steps one env at a time and needs jax). Image datasets run the
symbolic vector env, which the policies read, and store each step's frame state
(:mod:`baselines.offline.frames`) instead of the frame.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable, Mapping, Sequence
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
from leaderboard.distributed import ShardError, open_pool, pool_options, run_shards
from leaderboard.protocol import entry_key
from leaderboard.references import published_references

#: Sub-envs stepped together (recorded with the dataset: the policies' draws depend on it).
DEFAULT_NUM_ENVS = 256
#: Episodes per seed block (recorded with the dataset: each block seeds its own draws). Large
#: enough that every standard dataset is one block, small enough that a big collection splits
#: into shards of a few seconds each.
DEFAULT_BLOCK_EPISODES = 4096
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


@dataclass(frozen=True)
class SeedBlock:
    """One seed block of a dataset: episodes ``first .. first + episodes - 1`` (episode ``j`` from
    ``reset(seed=seed + j)``), played by one vector env of ``min(num_envs, episodes)`` sub-envs with
    the policy's draws seeded by ``seed + first``. Picklable: a Dask shard."""

    env_id: str
    env_kwargs: Mapping[str, Any]
    behaviour: Behaviour
    seed: int
    first: int
    episodes: int
    num_envs: int

    @property
    def label(self) -> str:
        return f"{game_name(self.env_id)} episodes {self.first}..{self.first + self.episodes - 1}"


def seed_blocks(
    env_id: str,
    env_kwargs: Mapping[str, Any],
    behaviour: Behaviour,
    episodes: int,
    seed: int,
    num_envs: int = DEFAULT_NUM_ENVS,
    block_episodes: int = DEFAULT_BLOCK_EPISODES,
) -> list[SeedBlock]:
    """The seed blocks of a dataset of ``episodes`` episodes, in episode order."""
    episodes = check_int("episodes", episodes, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    num_envs = check_int("num_envs", num_envs, minimum=1)
    block_episodes = check_int("block_episodes", block_episodes, minimum=1)
    return [
        SeedBlock(
            env_id, dict(env_kwargs), behaviour, seed, first, min(block_episodes, episodes - first), num_envs
        )
        for first in range(0, episodes, block_episodes)
    ]


def collect_block(block: SeedBlock) -> tuple[list[Any], gym.Space]:
    """Play one seed block; returns its Minari ``EpisodeBuffer``s in episode order and the stored
    observation space. Module-level so that a Dask worker can run it by reference."""
    from minari.data_collector import EpisodeBuffer  # lazy: minari is the optional `offline` extra

    env_id, env_kwargs, seed = block.env_id, block.env_kwargs, block.seed
    num_envs = min(block.num_envs, block.episodes)
    end = block.first + block.episodes
    images = check_obs_mode(env_kwargs.get("obs_mode", "symbolic")) == "image"
    frames = frame_state(env_id) if images else None
    vector_kwargs = {**env_kwargs, "obs_mode": "symbolic", **(frames.vector_kwargs if frames else {})}
    env = gym.make_vec(env_id, num_envs, vectorization_mode="vector_entry_point", **vector_kwargs)
    symbolic_space = env.single_observation_space
    stored_space = frames.space(symbolic_space) if frames else symbolic_space
    policy = BehaviourPolicy(
        block.behaviour, env_id, env_kwargs, int(env.single_action_space.n), seed + block.first
    )

    def stored(obs: Any) -> list[np.ndarray]:
        return _rows(stored_space, frames.capture(env, obs) if frames else obs)

    running: list[_Episode | None] = [_Episode(block.first + i) for i in range(num_envs)]
    buffers: list[Any] = [None] * block.episodes
    obs, _ = env.reset(seed=[seed + episode.index for episode in running])
    rows = stored(obs)
    for i, episode in enumerate(running):
        episode.observations.append([row[i] for row in rows])
    next_episode = block.first + num_envs
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
                    buffers[episode.index - block.first] = _buffer(EpisodeBuffer, episode, stored_space, seed)
                    running[i] = None
                    if next_episode < end:
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


def collect_episodes(
    *block_arguments: Any, client: Any = None, **block_options: Any
) -> tuple[list[Any], gym.Space]:
    """Play the seed blocks :func:`seed_blocks` makes of the same arguments (episode ``j`` from
    ``reset(seed=seed + j)``), here or on ``client``'s Dask workers (one shard per block); returns
    Minari ``EpisodeBuffer``s in episode order and the stored observation space: the same whichever
    way the blocks were played."""
    return merge_blocks(play_blocks(seed_blocks(*block_arguments, **block_options), client))


def packed_block(block: SeedBlock) -> bytes:
    """:func:`collect_block`'s outcome as one pickle, what a Dask worker sends back: Dask's own
    serialization would send each episode's every array as a frame of its own (about 28,000 frames
    for a block of 4,096 Points24 episodes), and one bytes object travels as one."""
    return pickle.dumps(collect_block(block), protocol=pickle.HIGHEST_PROTOCOL)


def play_blocks(
    blocks: Sequence[SeedBlock], client: Any = None, on_done: Callable[[int], None] | None = None
) -> list[Any]:
    """Each block's ``(buffers, space)`` in block order, played here (``client`` None) or as one Dask
    shard per block; a block that fails raises ``ValueError`` naming it. ``on_done(i)`` is called
    as block ``i`` finishes."""
    if client is None:
        outcomes = []
        for i, block in enumerate(blocks):
            outcomes.append(collect_block(block))
            if on_done is not None:
                on_done(i)
        return outcomes
    try:
        packed = run_shards(
            client,
            packed_block,
            blocks,
            [block.label for block in blocks],
            stop_on_failure=True,
            on_done=on_done,
        )
    except ShardError as error:
        raise ValueError(f"collecting {error}") from None
    return [pickle.loads(outcome) for outcome in packed]


def merge_blocks(outcomes: list[tuple[list[Any], gym.Space]]) -> tuple[list[Any], gym.Space]:
    """The blocks' episodes concatenated in block order, with the (common) stored space."""
    return [buffer for buffers, _ in outcomes for buffer in buffers], outcomes[0][1]


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


@dataclass(frozen=True)
class Collection:
    """One dataset to collect, checked before any work: where it goes and its seed blocks."""

    dataset_id: str
    env_id: str
    env_kwargs: Mapping[str, Any]
    behaviour: Behaviour
    episodes: int
    seed: int
    num_envs: int
    block_episodes: int
    overwrite: bool = False

    @property
    def blocks(self) -> list[SeedBlock]:
        return seed_blocks(
            self.env_id,
            self.env_kwargs,
            self.behaviour,
            self.episodes,
            self.seed,
            self.num_envs,
            self.block_episodes,
        )


def plan_collection(
    env: str,
    policy: str,
    episodes: int,
    *,
    obs_mode: str = "symbolic",
    env_kwargs: Mapping[str, Any] | None = None,
    seed: int = 0,
    num_envs: int = DEFAULT_NUM_ENVS,
    block_episodes: int = DEFAULT_BLOCK_EPISODES,
    dataset_id: str | None = None,
    overwrite: bool = False,
) -> Collection:
    """Check every argument of a collection (``ValueError``/``DatasetError`` naming the bad one) and
    return its plan; ``dataset_id`` defaults to :func:`baselines.offline.datasets.dataset_id`."""
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
    plan = Collection(
        dataset_id,
        env_id,
        env_kwargs,
        behaviour,
        check_int("episodes", episodes, minimum=1),
        check_int("seed", seed, minimum=0),
        check_int("num_envs", num_envs, minimum=1),
        check_int("block_episodes", block_episodes, minimum=1),
        overwrite,
    )
    return plan


def write_dataset(plan: Collection, buffers: list[Any], stored_space: gym.Space) -> MinariDataset:
    """Write a collection's episodes as a Minari dataset with the env spec, references and the
    suite's metadata."""
    obs_mode = plan.env_kwargs.get("obs_mode", "symbolic")
    return write_checked_dataset(
        plan.dataset_id,
        buffers,
        stored_space,
        plan.env_id,
        plan.env_kwargs,
        author="icl-bench collect",
        algorithm_name=plan.behaviour.name,
        description=(
            f"{game_name(plan.env_id)} with {obs_mode} observations: {len(buffers)} episodes of "
            f"{plan.behaviour.description}; episode j starts from reset(seed={plan.seed} + j). "
            + (
                "Observations are stored as frame states; baselines.offline.datasets.iter_episode_arrays "
                "draws the exact frames."
                if obs_mode == "image"
                else ""
            )
        ),
        reference=reference_scores(plan.env_id, plan.env_kwargs),
        info={
            "policy": plan.behaviour.name,
            "behaviour": plan.behaviour.description,
            "seed": plan.seed,
            "num_envs": min(plan.num_envs, plan.episodes),
            "block_episodes": min(plan.block_episodes, plan.episodes),
            "observations": "frame-state" if obs_mode == "image" else "symbolic",
        },
        overwrite=plan.overwrite,
    )


def collect_all(
    plans: Sequence[Collection],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    on_written: Callable[[Collection, MinariDataset], None] | None = None,
) -> list[MinariDataset]:
    """Collect and write several datasets: their blocks played here, or all in one Dask pool
    (``workers=N``: a local cluster, ``scheduler="tcp://HOST:PORT"``: an existing one), each dataset
    written here from its blocks in block order. ``on_written`` is called after each write."""
    workers, scheduler = pool_options(workers, scheduler, environ={})
    blocks = [plan.blocks for plan in plans]
    if workers is None and scheduler is None:
        played = (play_blocks(plan_blocks) for plan_blocks in blocks)  # one dataset at a time
    else:
        with open_pool(workers, scheduler) as client:
            outcomes = play_blocks([block for plan_blocks in blocks for block in plan_blocks], client)
        sizes = np.cumsum([0] + [len(plan_blocks) for plan_blocks in blocks])
        played = [outcomes[start:end] for start, end in zip(sizes[:-1], sizes[1:])]
    datasets = []
    for plan, outcomes in zip(plans, played):
        dataset = write_dataset(plan, *merge_blocks(outcomes))
        if on_written is not None:
            on_written(plan, dataset)
        datasets.append(dataset)
    return datasets


def collect(
    env: str,
    policy: str,
    episodes: int,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    **options: Any,
) -> MinariDataset:
    """Collect and write one dataset: ``options`` are :func:`plan_collection`'s (obs_mode,
    env_kwargs, seed, num_envs, block_episodes, dataset_id, overwrite), ``workers``/``scheduler``
    :func:`collect_all`'s. The same dataset, to its content hash, whether its blocks were played
    here or on any number of workers. What ``icl-bench collect ENV`` runs."""
    plan = plan_collection(env, policy, episodes, **options)
    (dataset,) = collect_all([plan], workers=workers, scheduler=scheduler)
    return dataset
