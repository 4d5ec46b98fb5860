"""The evaluation harness: load an agent by reference and play a suite's episodes on vector envs.

For each entry and each of its seeds the harness builds ``gym.make_vec(env_id, episodes, **kwargs)``
(the env's native vector env), resets it with that seed, calls ``agent.reset(env_id, kwargs)`` and then
``agent.act_batch(obs)`` until every sub-env has finished its first episode; later (auto-reset)
episodes are ignored. It records each episode's return and length and, for the in-context envs (a
``Dict`` observation with ``context`` and ``query``), the squared error at each context length, which is
minus the step's reward.

Every action is checked before the env sees it. A bad one (wrong shape or type, NaN, outside the
action space) or an exception raised by the agent stops the evaluation with an :class:`AgentError`
that names the agent, the env, the seed and step and what was wrong; nothing is returned, so nothing
can be stored (``keep_going``: the other entries make a partial file, see :class:`PartialEvaluation`).

Each seed is played by :func:`play_seed`, and an entry's seeds are merged by :func:`merge_seed_runs`.
With ``workers`` or ``scheduler``, :func:`evaluate` plays every (entry, seed) as a shard on a Dask
cluster (:func:`play_on_pool`, ``leaderboard.distributed``): each worker builds the agent from its
reference, and the shards are merged in the local order of play, so the results file is the same.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import icl_envs  # noqa: F401  (registers the icl/ ids)
from icl_envs.cards.text_protocol import TextActions

# AgentError lives with the agent interface, so that leaderboard.isolation raises it too; it, load_config
# and load_object are still importable from here, where they lived first.
from leaderboard.agent import AgentError
from leaderboard.distributed import (
    ShardError,
    ShardFailure,
    open_pool,
    pool_options,
    run_shards,
    worker_address,
)
from leaderboard.isolation import DEFAULT_ENTRY_TIMEOUT_S, DEFAULT_STEP_TIMEOUT_S, IsolatedAgent, time_limits
from leaderboard.loading import load_agent, load_config, load_object  # noqa: F401
from leaderboard.protocol import Suite, SuiteEntry, get_suite
from leaderboard.provenance import hardware, package_versions
from leaderboard.references import reference_for
from leaderboard.results import build_results, check_free_form
from leaderboard.seed_sets import test_set_id, with_seed_set
from leaderboard.untrusted import visible

#: A batch that has not finished after this many steps is an env (or agent) that never ends.
MAX_STEPS = 10_000


# ----------------------------------------------------------------------------------------------
# Playing one entry


@dataclass
class EntryRun:
    """What one entry's episodes produced. Arrays are indexed (seed, episode)."""

    entry: SuiteEntry
    returns: np.ndarray
    lengths: np.ndarray
    #: Mean squared error at each context length 0..n-1 over all episodes (in-context envs only).
    errors_by_context: np.ndarray | None
    #: Text actions that could not be parsed (text suite only).
    parse_failures: int | None
    wall_time_s: float
    #: Mean return of each sub-episode of a trial (the in-context RL envs): the learning curve.
    returns_by_episode: np.ndarray | None = None


def is_in_context(space: gym.Space) -> bool:
    """The in-context envs observe ``Dict(context, length, query)`` and score a squared error."""
    return isinstance(space, gym.spaces.Dict) and {"context", "query"} <= set(space.spaces)


def is_trial(space: gym.Space) -> bool:
    """The in-context RL envs observe ``Dict(state, step, episode, last_reward)``: each episode is a
    trial of sub-episodes, and ``episode`` says which one a step belongs to."""
    return isinstance(space, gym.spaces.Dict) and {"episode", "last_reward"} <= set(space.spaces)


def make_vector_env(entry: SuiteEntry, text_actions: bool) -> gym.vector.VectorEnv:
    """The entry's vector env: the native one, or text-action sub-envs for the text suite."""
    try:
        if not text_actions:
            return gym.make_vec(entry.env_id, num_envs=entry.episodes, **entry.kwargs)
        return gym.make_vec(
            entry.env_id,
            num_envs=entry.episodes,
            vectorization_mode="sync",
            wrappers=[TextActions],
            **entry.kwargs,
        )
    except gym.error.Error as error:
        raise ValueError(f"env {entry.env_id} {dict(entry.kwargs)} cannot be built: {error}") from error


def check_actions(actions: Any, env: gym.vector.VectorEnv, text_actions: bool) -> Any:
    """Return ``actions`` in the form the vector env takes, or raise ``ValueError`` saying what is wrong."""
    n = env.num_envs
    if text_actions:
        if isinstance(actions, np.ndarray):
            actions = actions.tolist()
        if not isinstance(actions, (list, tuple)) or len(actions) != n:
            raise ValueError(f"expected a list of {n} strings, got {_describe(actions)}")
        bad = [i for i, a in enumerate(actions) if not isinstance(a, str)]
        if bad:
            raise ValueError(f"expected strings, got {type(actions[bad[0]]).__name__} at env index {bad[0]}")
        return tuple(actions)
    space = env.single_action_space
    try:
        array = np.asarray(actions)
    except Exception:
        raise ValueError(f"expected an array, got {_describe(actions)}") from None
    if array.dtype.kind not in "biuf":
        raise ValueError(f"expected numbers, got {_describe(actions)}")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        rows = np.flatnonzero(~np.isfinite(array.reshape(len(array), -1)).all(axis=1)) if array.ndim else []
        raise ValueError(f"actions must be finite; got NaN or infinity at env indices {list(rows)[:5]}")
    if isinstance(space, gym.spaces.Box):
        expected = (n, *space.shape)
        if space.shape == (1,) and array.shape == (n,):  # a plain vector of predictions is accepted
            array = array.reshape(expected)
        if array.shape != expected:
            raise ValueError(f"expected shape {expected}, got {array.shape}")
        array = array.astype(space.dtype, copy=False)
        if np.any(array < space.low) or np.any(array > space.high):
            raise ValueError(f"actions outside the action space [{space.low.min()}, {space.high.max()}]")
        return array
    if isinstance(space, gym.spaces.Discrete):
        if array.shape != (n,):
            raise ValueError(f"expected shape ({n},) of integers, got {array.shape}")
        if array.dtype.kind == "f":
            if not np.all(array == np.round(array)):
                raise ValueError("expected integer actions, got fractions")
        array = array.astype(np.int64)
        if np.any(array < space.start) or np.any(array >= space.start + space.n):
            raise ValueError(
                f"actions must lie in [{space.start}, {space.start + space.n - 1}], got {array.tolist()[:8]}"
            )
        return array
    if not env.action_space.contains(array):
        raise ValueError(f"actions of shape {array.shape} are not in the action space {env.action_space}")
    return array


def _describe(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return f"{type(value).__name__}" + (f" of shape {shape}" if shape is not None else f" {value!r:.60}")


@dataclass
class SeedRun:
    """What one seed of an entry produced (a shard of a distributed evaluation): arrays by episode,
    and for the in-context envs the squared errors summed at each context length with their counts."""

    returns: np.ndarray
    lengths: np.ndarray
    error_sums: np.ndarray | None
    error_counts: np.ndarray | None
    parse_failures: int
    wall_time_s: float
    #: A trial env's (in-context RL) returns summed per sub-episode index over the seed's episodes.
    sub_episode_sums: np.ndarray | None = None


def play_seed(
    agent: Any,
    env: gym.vector.VectorEnv,
    entry: SuiteEntry,
    seed: int,
    *,
    agent_name: str,
    text_actions: bool = False,
    first_obs: Any = None,
) -> SeedRun:
    """Reset ``env`` with ``seed``, ``agent.reset(env_id, kwargs)``, and play until every sub-env has
    ended its first episode; raise :class:`AgentError` on a bad agent. ``first_obs``: the
    observations of ``env.reset(seed=seed)`` when it was already made (:func:`prepare_while_starting`)."""
    start = time.perf_counter()
    returns = np.zeros(entry.episodes)
    lengths = np.zeros(entry.episodes, dtype=np.int64)
    error_sums = error_counts = None
    if is_in_context(env.single_observation_space):
        steps = env.single_observation_space["context"].shape[0]
        error_sums, error_counts = np.zeros(steps), np.zeros(steps, dtype=np.int64)
    trial = is_trial(env.single_observation_space)
    sub_episode_sums = np.zeros(env.single_observation_space["episode"].n) if trial else None
    parse_failures = 0
    where = f"agent {agent_name} on {entry.env_id} {dict(entry.kwargs)} (seed {seed}"
    obs = env.reset(seed=seed)[0] if first_obs is None else first_obs
    reset_agent(agent, entry.env_id, entry.kwargs, where)
    done = np.zeros(entry.episodes, dtype=bool)
    step = 0
    while not done.all():
        if step >= MAX_STEPS:
            raise AgentError(f"{where}): episodes did not end within {MAX_STEPS} steps")
        try:
            raw = agent.act_batch(obs)
        except Exception as error:
            raise AgentError(
                f"{where}, step {step}): act_batch raised {type(error).__name__}: {error}"
            ) from error
        try:
            actions = check_actions(raw, env, text_actions)
        except ValueError as error:
            raise AgentError(f"{where}, step {step}): bad action: {error}") from None
        sub_episode = np.asarray(obs["episode"]) if trial else None
        try:
            obs, reward, terminated, truncated, info = env.step(actions)
        except (gym.error.Error, ValueError) as error:
            raise AgentError(f"{where}, step {step}): the env rejected the action: {error}") from error
        if callable(getattr(agent, "observe", None)):  # agents that condition on rewards
            try:
                agent.observe(reward, terminated, truncated)
            except Exception as error:
                raise AgentError(
                    f"{where}, step {step}): observe raised {type(error).__name__}: {error}"
                ) from error
        active = ~done
        returns[active] += reward[active]
        lengths[active] += 1
        if error_sums is not None and step < len(error_sums):
            error_sums[step] += -reward[active].sum()
            error_counts[step] += active.sum()
        if trial:
            np.add.at(sub_episode_sums, sub_episode[active], reward[active])
        finished = active & (np.asarray(terminated) | np.asarray(truncated))
        if text_actions and "parse_failed" in info:
            # TextActions counts an episode's failures so far; read it when the episode ends.
            parse_failures += int(np.asarray(info["parse_failed"])[finished].sum())
        done |= finished
        step += 1
    wall_time_s = time.perf_counter() - start
    return SeedRun(returns, lengths, error_sums, error_counts, parse_failures, wall_time_s, sub_episode_sums)


def reset_agent(agent: Any, env_id: str, kwargs: Mapping[str, Any], where: str) -> None:
    """``agent.reset(env_id, kwargs)`` before a seed's episodes (duck-typed agents may have no reset)."""
    try:
        if callable(getattr(agent, "reset", None)):
            agent.reset(env_id, dict(kwargs))
    except Exception as error:
        raise AgentError(f"{where}): reset raised {type(error).__name__}: {error}") from error


def merge_seed_runs(
    entry: SuiteEntry, runs: Sequence[SeedRun], text_actions: bool, wall_time_s: float | None = None
) -> EntryRun:
    """One entry's run from its seeds' runs, in the entry's seed order. The error sums add up seed by
    seed from zero, as one process playing the seeds in turn adds them: the same floats, bit for bit."""
    errors_by_context = None
    if runs[0].error_sums is not None:
        sums, counts = np.zeros_like(runs[0].error_sums), np.zeros_like(runs[0].error_counts)
        for run in runs:
            sums += run.error_sums
            counts += run.error_counts
        seen = counts > 0
        errors_by_context = sums[seen] / counts[seen]
    returns_by_episode = None
    if runs[0].sub_episode_sums is not None:  # the mean return of each sub-episode, over every episode
        returns_by_episode = sum(run.sub_episode_sums for run in runs) / sum(run.returns.size for run in runs)
    return EntryRun(
        entry=entry,
        returns=np.stack([run.returns for run in runs]),
        lengths=np.stack([run.lengths for run in runs]),
        errors_by_context=errors_by_context,
        parse_failures=sum(run.parse_failures for run in runs) if text_actions else None,
        wall_time_s=sum(run.wall_time_s for run in runs) if wall_time_s is None else wall_time_s,
        returns_by_episode=returns_by_episode,
    )


def play_entry(
    agent: Any,
    entry: SuiteEntry,
    *,
    agent_name: str,
    text_actions: bool = False,
    on_seed_done: Callable[[], None] | None = None,
    prepared: tuple[gym.vector.VectorEnv, Any] | None = None,
) -> EntryRun:
    """Play ``entry.episodes`` episodes for each seed of the entry; raise :class:`AgentError` on a bad agent.

    ``prepared``: the entry's vector env already built and reset with its first seed, and that
    reset's observations (see :func:`prepare_while_starting`)."""
    start = time.perf_counter()
    env, first_obs = prepared if prepared is not None else (make_vector_env(entry, text_actions), None)
    runs = []
    try:
        for row, seed in enumerate(entry.seeds):
            runs.append(
                play_seed(
                    agent,
                    env,
                    entry,
                    seed,
                    agent_name=agent_name,
                    text_actions=text_actions,
                    first_obs=first_obs if row == 0 else None,
                )
            )
            if on_seed_done is not None:
                on_seed_done()
    finally:
        env.close()
    return merge_seed_runs(entry, runs, text_actions, wall_time_s=time.perf_counter() - start)


# ----------------------------------------------------------------------------------------------
# Evaluating a suite


def check_suite_supported(agent: Any, suite: Suite, agent_name: str) -> None:
    """Refuse a suite the agent does not declare (``agent.suites``; None: any)."""
    supported = getattr(agent, "suites", None)
    if supported is not None and suite.name not in supported:
        raise AgentError(f"agent {agent_name} declares suites {list(supported)}, not {suite.name}")


def progress_bar() -> Progress | None:
    """A rich bar on stderr when it is a terminal; None in logs (no bar, nor blank lines)."""
    if not Console(stderr=True).is_terminal:
        return None
    # The description is plain text: an agent reference is no rich markup, and shows no control character.
    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    return Progress(*columns, transient=True, console=Console(stderr=True))


def short_name(agent_name: str) -> str:
    """The class name only: a full ``package.module:Name`` squeezed the bar and its counts to a few
    characters on an 80-column terminal."""
    return visible(agent_name if agent_name.startswith("run:") else agent_name.rsplit(":", 1)[-1])


Prepared = dict[str, tuple[gym.vector.VectorEnv, Any]]


def prepare_while_starting(agent: Any, entries: Sequence[SuiteEntry], text_actions: bool) -> Prepared:
    """Build the first entries' vector envs and reset them with their first seed while an isolated
    agent's process starts: its imports and the agent's construction run on another core meanwhile,
    instead of before the first step. Keyed by ``entry.key``; empty for an in-process agent."""
    prepared: Prepared = {}
    if not isinstance(agent, IsolatedAgent):
        return prepared
    try:
        for entry in entries:
            if agent.ready():
                break
            env = make_vector_env(entry, text_actions)
            prepared[entry.key] = (env, None)
            prepared[entry.key] = (env, env.reset(seed=entry.seeds[0])[0])
    except BaseException:
        close_prepared(prepared)
        raise
    return prepared


def close_prepared(prepared: Prepared) -> None:
    """Close the prepared envs not played (an error stopped the suite, or the agent skips them)."""
    for env, _ in prepared.values():
        env.close()
    prepared.clear()


def playable_envs(agent: Any, envs: Iterable[str] | None) -> Iterable[str] | None:
    """The entries to play: ``envs`` when given, else the envs the agent declares (``agent.envs``,
    e.g. a model trained on one game's dataset), else all."""
    if envs is not None:
        return envs
    declared = getattr(agent, "envs", None)
    return None if declared is None else [str(name) for name in declared]


def play_suite(
    agent: Any,
    suite: Suite,
    entries: Sequence[SuiteEntry],
    *,
    agent_name: str,
    progress: bool = True,
    on_failure: Callable[[AgentError], None] | None = None,
    prepared: Prepared | None = None,
) -> list[EntryRun]:
    """Play every entry; a rich progress bar counts (entry, seed) batches. With ``on_failure``, an
    entry whose agent fails is reported to it and left out, and the next entries are played."""
    check_suite_supported(agent, suite, agent_name)
    text_actions = suite.actions == "text"
    bar = progress_bar() if progress else None
    runs = []
    with bar or contextlib.nullcontext():
        name = short_name(agent_name)
        task = bar.add_task(name, total=sum(len(e.seeds) for e in entries)) if bar else None
        for entry in entries:
            if bar:
                bar.update(task, description=f"{name} · {suite.name} · {entry.label}")
            try:
                runs.append(
                    play_entry(
                        agent,
                        entry,
                        agent_name=agent_name,
                        text_actions=text_actions,
                        on_seed_done=(lambda: bar.advance(task)) if bar else None,
                        prepared=(prepared or {}).pop(entry.key, None),
                    )
                )
            except AgentError as error:
                if on_failure is None:
                    raise
                on_failure(error)
    return runs


# ----------------------------------------------------------------------------------------------
# Evaluating on a Dask cluster: one shard per (entry, seed), merged in the suite's order


@dataclass(frozen=True)
class SeedShard:
    """One (entry, seed) of an evaluation as a worker receives it: the agent by reference, the entry
    by value (a worker may not know an unpublished suite), and the evaluation's resets in order."""

    #: Unique per evaluation: a worker keeps one agent per evaluation between its shards.
    evaluation: str
    reference: str
    config: Mapping[str, Any]
    suite: Suite
    entry: SuiteEntry
    seed: int
    #: This shard's place in the local order of play (entries in suite order, seeds in entry order).
    index: int
    #: ``(env_id, kwargs)`` of every shard of the evaluation, in that order: the resets an agent
    #: built on a worker replays before ``index`` so that it is in the state a local run leaves it.
    resets: tuple[tuple[str, Mapping[str, Any]], ...]
    #: ``(step_timeout, entry_timeout)`` to play the agent in a process of its own on the worker
    #: (:class:`~leaderboard.isolation.IsolatedAgent`, ``--isolate``); None builds it in the worker.
    isolation: tuple[float, float] | None = None

    def __reduce__(self):
        # SuiteEntry holds a read-only mapping, which pickle refuses: travel as plain data.
        entry, suite = self.entry.as_dict(), (self.suite.name, self.suite.description, self.suite.actions)
        resets = tuple((env_id, dict(kwargs)) for env_id, kwargs in self.resets)
        fields = (
            self.evaluation,
            self.reference,
            dict(self.config),
            suite,
            entry,
            self.seed,
            self.index,
            resets,
            self.isolation,
        )
        return _rebuild_shard, fields

    @property
    def label(self) -> str:
        return f"{self.suite.name} · {self.entry.label} · seed {self.seed}"


def _rebuild_shard(evaluation, reference, config, suite, entry, seed, index, resets, isolation) -> SeedShard:
    name, description, actions = suite
    entry = SuiteEntry(**{**entry, "seeds": tuple(entry["seeds"])})
    suite = Suite(name, description, (entry,), actions=actions, published=False)
    return SeedShard(evaluation, reference, config, suite, entry, seed, index, resets, isolation)


@dataclass
class ShardRun:
    """A shard's seed run, and what produced it (the worker's versions, hardware and address)."""

    run: SeedRun
    versions: dict[str, str]
    hardware: dict[str, Any]
    worker: str | None


#: In a worker process: the agents of the latest evaluations (by id, newest last), each with the
#: number of resets of its evaluation's order it has made. Two are kept: ``icl-bench run`` moves its
#: workers from one baseline to the next, and a shard rerun after a fault may come from the last one.
_WORKER_AGENTS: OrderedDict[str, tuple[Any, int]] = OrderedDict()
_WORKER_AGENTS_KEPT = 2


def _shard_agent(shard: SeedShard) -> Any:
    """The agent for ``shard``, in the state a local run brings it to before the shard's seed.

    A local run plays one agent through every (entry, seed) in turn; an agent whose actions depend on
    its earlier resets (the random agent counts them per env) would play differently if built anew
    for each shard. So the agent replays, without playing, the resets of the shards before this one
    that it has not made: the worker's agent from an earlier shard of the evaluation replays only
    those in between. An agent declaring ``independent_resets`` (its reset alone sets it up) skips
    the replay. An agent that learns from the episodes it plays cannot be split this way.
    """
    cached = _WORKER_AGENTS.pop(shard.evaluation, None)
    independent = cached is not None and getattr(cached[0], "independent_resets", False) is True
    if cached is None or (cached[1] > shard.index and not independent):
        if cached is not None:
            _discard(cached[0])
        if shard.isolation is None:
            agent = load_agent(shard.reference, shard.config)
        else:
            step_timeout, entry_timeout = shard.isolation
            agent = IsolatedAgent(
                shard.reference, shard.config, step_timeout=step_timeout, entry_timeout=entry_timeout
            )
        try:
            check_suite_supported(agent, shard.suite, shard.reference)
        except BaseException:
            _discard(agent)
            raise
        cached = (agent, 0)
    agent, resets_made = cached
    if getattr(agent, "independent_resets", False) is not True:
        for env_id, kwargs in shard.resets[resets_made : shard.index]:
            where = (
                f"agent {shard.reference} replaying a reset on {env_id} {dict(kwargs)} (before {shard.label}"
            )
            reset_agent(agent, env_id, kwargs, where)
    return agent


def _discard(agent: Any) -> None:
    """Drop a worker's agent: an isolated one's process is ended now, not when it is collected."""
    if isinstance(agent, IsolatedAgent):
        agent.close()


def play_shard(shard: SeedShard) -> ShardRun:
    """Play one (entry, seed) on a worker: build (or reuse) the agent, play the seed, probe provenance."""
    agent = _shard_agent(shard)
    text_actions = shard.suite.actions == "text"
    try:
        env = make_vector_env(shard.entry, text_actions)
        try:
            run = play_seed(
                agent, env, shard.entry, shard.seed, agent_name=shard.reference, text_actions=text_actions
            )
        finally:
            env.close()
        # Probed after playing, as a local run does (an isolated agent's child adds its frameworks).
        if isinstance(agent, IsolatedAgent):
            versions, machine = agent.provenance(shard.reference)
        else:
            versions, machine = package_versions(shard.reference), hardware()
    except BaseException:
        _discard(agent)  # a failed agent is built anew for the next shard
        raise
    _WORKER_AGENTS[shard.evaluation] = (agent, shard.index + 1)
    while len(_WORKER_AGENTS) > _WORKER_AGENTS_KEPT:
        _discard(_WORKER_AGENTS.popitem(last=False)[1][0])
    return ShardRun(run, versions, machine, worker_address())


@dataclass
class Evaluation:
    """An agent and the entries of a suite it is scored on; ``shards()`` splits it for a pool."""

    reference: str
    config: Mapping[str, Any]
    suite: Suite
    entries: Sequence[SuiteEntry]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: ``(step_timeout, entry_timeout)`` for an agent played isolated on the workers, or None.
    isolation: tuple[float, float] | None = None

    def shards(self) -> list[SeedShard]:
        pairs = [(entry, seed) for entry in self.entries for seed in entry.seeds]
        resets = tuple((entry.env_id, entry.kwargs) for entry, _ in pairs)
        return [
            SeedShard(
                self.id, self.reference, self.config, self.suite, entry, seed, index, resets, self.isolation
            )
            for index, (entry, seed) in enumerate(pairs)
        ]


@dataclass
class PlayedEvaluation:
    """An evaluation played, here or merged from its shards: the entries whose every seed played, the
    failures, and the provenance of the process (or workers) that played them."""

    runs: list[EntryRun]
    failures: list[str]
    versions: dict[str, str]
    hardware: dict[str, Any]
    #: The evaluation's wall time: measured by whoever ran it; in a pool shared with other
    #: evaluations (``icl-bench run``), the sum of its shards' times.
    wall_time_s: float = 0.0


def play_on_pool(
    client: Any,
    evaluations: Sequence[Evaluation],
    *,
    progress: bool = True,
    stop_on_failure: bool = True,
    description: str | None = None,
) -> list[PlayedEvaluation]:
    """Play every shard of every evaluation on ``client``'s workers (one pool, a bar over shards) and
    merge each evaluation's shards in its order of play; raise :class:`AgentError` at the first
    failure when ``stop_on_failure``."""
    shards = [shard for evaluation in evaluations for shard in evaluation.shards()]
    bar = progress_bar() if progress else None
    with bar or contextlib.nullcontext():
        task = None
        if bar:
            name = description or " · ".join(dict.fromkeys(short_name(e.reference) for e in evaluations))
            task = bar.add_task(name, total=len(shards))
        try:
            outcomes = run_shards(
                client,
                play_shard,
                shards,
                [shard.label for shard in shards],
                stop_on_failure=stop_on_failure,
                on_done=(lambda _: bar.advance(task)) if bar else None,
            )
        except ShardError as error:
            raise AgentError(str(error.failure)) from None
    merged, position = [], 0
    for evaluation in evaluations:
        count = sum(len(entry.seeds) for entry in evaluation.entries)
        merged.append(_merge_shards(evaluation, outcomes[position : position + count]))
        position += count
    return merged


def _merge_shards(evaluation: Evaluation, outcomes: Sequence[Any]) -> PlayedEvaluation:
    text_actions = evaluation.suite.actions == "text"
    runs, failed, played = [], [], []
    position = 0
    for entry in evaluation.entries:
        seeds = outcomes[position : position + len(entry.seeds)]
        position += len(entry.seeds)
        entry_failures = [str(outcome) for outcome in seeds if isinstance(outcome, ShardFailure)]
        if entry_failures:
            failed += entry_failures
            continue
        runs.append(merge_seed_runs(entry, [outcome.run for outcome in seeds], text_actions))
        played += seeds
    versions: dict[str, str] = {}
    for outcome in played:
        for name, version in outcome.versions.items():
            if versions.setdefault(name, version) != version:
                raise ValueError(
                    f"the workers run different versions of {name} ({versions[name]} and {version}): "
                    "one results file records one version; install the same everywhere"
                )
    machine = dict(played[0].hardware) if played else {}
    if played:
        machine["dask_workers"] = len({outcome.worker for outcome in played})
    return PlayedEvaluation(
        runs, failed, versions, machine, sum(outcome.run.wall_time_s for outcome in played)
    )


def plan_evaluation(
    reference: str,
    suite: str | Suite,
    *,
    envs: Iterable[str] | None = None,
    config: Mapping[str, Any] | None = None,
    secret: bytes | None = None,
) -> Evaluation:
    """What :func:`evaluate` plays, checked before anything is played: the suite, its entries (with
    a test set's seeds for ``secret``), their references, and a reference and config that a results
    file can hold. Raises ``ValueError`` naming the problem."""
    suite = get_suite(suite) if isinstance(suite, str) else suite
    entries = with_seed_set(suite, suite.select(envs), secret)
    _check_references(suite, entries)
    config = dict(config or {})
    # Refused now, not after playing: the results file could not hold them.
    check_free_form("agent.reference", reference)
    check_free_form("agent.config", config)
    return Evaluation(reference, config, suite, entries)


def _play_here(
    evaluation: Evaluation,
    agent: Any,
    progress: bool,
    keep_going: bool,
    isolate: bool,
    envs_given: bool,
    **limits: float,
) -> PlayedEvaluation:
    """Play an evaluation in this process (or, isolated, in one child process), entry after entry.
    Unless the user named the envs (``envs_given``), an agent that declares ``envs`` plays only those."""
    reference, config = evaluation.reference, evaluation.config
    if isolate:
        if agent is not None:
            raise ValueError("isolate: an agent built in this process cannot be isolated; pass its reference")
        agent = IsolatedAgent(reference, config, **limits)
    elif agent is None:
        agent = load_agent(reference, config)
    failures: list[str] = []
    prepared = prepare_while_starting(agent, evaluation.entries, evaluation.suite.actions == "text")
    try:
        entries = evaluation.entries
        declared = None if envs_given else playable_envs(agent, None)
        if declared is not None:
            keys = {entry.key for entry in evaluation.suite.select(declared)}
            entries = [entry for entry in entries if entry.key in keys]
        start = time.perf_counter()
        runs = play_suite(
            agent,
            evaluation.suite,
            entries,
            agent_name=reference,
            progress=progress,
            on_failure=(lambda error: failures.append(str(error))) if keep_going else None,
            prepared=prepared,
        )
        wall_time_s = time.perf_counter() - start
        # Probed after playing, so that a framework the agent loaded (torch) and its GPU are seen.
        if isolate:
            versions, machine = agent.provenance(reference)
        else:
            versions, machine = package_versions(reference), hardware()
    finally:
        close_prepared(prepared)
        if isolate:
            agent.close()
    return PlayedEvaluation(runs, failures, versions, machine, wall_time_s)


def results_of(evaluation: Evaluation, played: PlayedEvaluation, secret: bytes | None = None):
    """The results file of the entries that played (all of them, or a partial file, ``complete:
    false``); raise :class:`AgentError` if none did."""
    if not played.runs:
        raise AgentError("every entry failed: " + "; ".join(played.failures))
    return build_results(
        suite=evaluation.suite,
        runs=played.runs,
        agent_reference=evaluation.reference,
        agent_config=evaluation.config,
        wall_time_s=played.wall_time_s,
        versions=played.versions,
        hardware=played.hardware,
        test_set=None if secret is None else test_set_id(secret),
    )


class PartialEvaluation(AgentError):
    """Some entries failed and ``keep_going`` was set: ``results`` holds the others (a partial file,
    ``complete: false``), ``failures`` says which entry and seed failed and why."""

    def __init__(self, results, failures: Sequence[str]) -> None:
        super().__init__(
            f"{len(failures)} failure(s), a partial results file of the other entries: " + "; ".join(failures)
        )
        self.results = results
        self.failures = list(failures)


def evaluate(
    reference: str,
    suite: str | Suite = "core-v0",
    *,
    envs: Iterable[str] | None = None,
    config: Mapping[str, Any] | None = None,
    agent: Any = None,
    progress: bool = True,
    secret: bytes | None = None,
    isolate: bool = False,
    step_timeout: float = DEFAULT_STEP_TIMEOUT_S,
    entry_timeout: float = DEFAULT_ENTRY_TIMEOUT_S,
    workers: int | None = None,
    scheduler: str | None = None,
    keep_going: bool = False,
):
    """Evaluate the agent ``reference`` (built with ``config``) on ``suite``; return a results file.

    ``agent`` may pass an already built agent (then ``reference`` only names it in the results).
    ``secret`` plays the seeds of its test set instead of the public dev seeds (seed_sets.py).
    ``isolate=True`` builds and plays the agent in a process of its own, which sees only the
    observations and ``reset(env_id, env_kwargs)``, within ``step_timeout`` seconds per call and
    ``entry_timeout`` seconds per entry (:class:`~leaderboard.isolation.IsolatedAgent`).
    ``workers=N`` plays the (entry, seed) shards on a local Dask cluster of N processes,
    ``scheduler="tcp://HOST:PORT"`` on an existing one (``leaderboard.distributed``); the results file
    is the same as a local run's but for wall times and hardware. With ``isolate`` each worker plays
    the agent in a process of its own, kept for the worker's next shards of the evaluation (the
    entry limit then counts the seeds a worker plays, not all the entry's seeds).
    ``keep_going=True``: an entry whose agent fails is left out and the others are played; if any
    failed, :class:`PartialEvaluation` is raised carrying the partial results file.
    Raises :class:`AgentError` if the agent misbehaves, ``ValueError`` for a bad reference, suite or env.
    """
    evaluation = plan_evaluation(reference, suite, envs=envs, config=config, secret=secret)
    workers, scheduler = pool_options(workers, scheduler, environ={})
    if workers is not None or scheduler is not None:
        if isolate:  # each worker plays the agent in a process of its own
            evaluation.isolation = time_limits(step_timeout, entry_timeout)
        if agent is not None:
            raise ValueError("agent: a built agent cannot travel to workers; pass its reference")
        with open_pool(workers, scheduler) as client:
            start = time.perf_counter()
            (played,) = play_on_pool(client, [evaluation], progress=progress, stop_on_failure=not keep_going)
            played.wall_time_s = time.perf_counter() - start
    else:
        played = _play_here(
            evaluation,
            agent,
            progress,
            keep_going,
            isolate,
            envs_given=envs is not None,
            step_timeout=step_timeout,
            entry_timeout=entry_timeout,
        )
    results = results_of(evaluation, played, secret)
    if played.failures:
        raise PartialEvaluation(results, played.failures)
    return results


def _check_references(suite: Suite, entries) -> None:
    """Refuse before playing, not after: a score needs each entry's normalization references."""
    missing = []
    for entry in entries:
        try:
            reference_for(entry)
        except KeyError:
            missing.append(entry.key)
    if missing:
        raise ValueError(
            f"suite {suite.name} has no normalization references for {', '.join(missing)}; "
            "give them with leaderboard.references.register_reference(key, Reference(...)) first"
        )
