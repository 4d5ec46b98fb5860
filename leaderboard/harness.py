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
can be stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
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
from leaderboard.isolation import DEFAULT_ENTRY_TIMEOUT_S, DEFAULT_STEP_TIMEOUT_S, IsolatedAgent
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


def play_entry(
    agent: Any,
    entry: SuiteEntry,
    *,
    agent_name: str,
    text_actions: bool = False,
    on_seed_done: Callable[[], None] | None = None,
) -> EntryRun:
    """Play ``entry.episodes`` episodes for each seed of the entry; raise :class:`AgentError` on a bad agent."""
    start = time.perf_counter()
    returns = np.zeros((len(entry.seeds), entry.episodes))
    lengths = np.zeros((len(entry.seeds), entry.episodes), dtype=np.int64)
    error_sums: np.ndarray | None = None
    error_counts: np.ndarray | None = None
    parse_failures = 0
    env = make_vector_env(entry, text_actions)
    try:
        in_context = is_in_context(env.single_observation_space)
        if in_context:
            steps = env.single_observation_space["context"].shape[0]
            error_sums, error_counts = np.zeros(steps), np.zeros(steps, dtype=np.int64)
        trial = is_trial(env.single_observation_space)
        sub_episode_sums = np.zeros(env.single_observation_space["episode"].n) if trial else None
        for row, seed in enumerate(entry.seeds):
            where = f"agent {agent_name} on {entry.env_id} {dict(entry.kwargs)} (seed {seed}"
            obs, _ = env.reset(seed=seed)
            try:
                if callable(getattr(agent, "reset", None)):  # duck-typed agents may have no reset
                    agent.reset(entry.env_id, dict(entry.kwargs))
            except Exception as error:
                raise AgentError(f"{where}): reset raised {type(error).__name__}: {error}") from error
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
                    raise AgentError(
                        f"{where}, step {step}): the env rejected the action: {error}"
                    ) from error
                active = ~done
                returns[row, active] += reward[active]
                lengths[row, active] += 1
                if in_context and step < len(error_sums):
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
            if on_seed_done is not None:
                on_seed_done()
    finally:
        env.close()
    errors_by_context = None
    if in_context:
        seen = error_counts > 0
        errors_by_context = error_sums[seen] / error_counts[seen]
    return EntryRun(
        entry=entry,
        returns=returns,
        lengths=lengths,
        errors_by_context=errors_by_context,
        parse_failures=parse_failures if text_actions else None,
        wall_time_s=time.perf_counter() - start,
        returns_by_episode=None if sub_episode_sums is None else sub_episode_sums / returns.size,
    )


# ----------------------------------------------------------------------------------------------
# Evaluating a suite


def play_suite(
    agent: Any,
    suite: Suite,
    entries: Sequence[SuiteEntry],
    *,
    agent_name: str,
    progress: bool = True,
) -> list[EntryRun]:
    """Play every entry; a rich progress bar counts (entry, seed) batches."""
    supported = getattr(agent, "suites", None)
    if supported is not None and suite.name not in supported:
        raise AgentError(f"agent {agent_name} declares suites {list(supported)}, not {suite.name}")
    text_actions = suite.actions == "text"
    if not progress or not Console(stderr=True).is_terminal:  # no bar (nor blank lines) in logs
        return [play_entry(agent, e, agent_name=agent_name, text_actions=text_actions) for e in entries]
    runs = []
    # The description is plain text: an agent reference is no rich markup, and shows no control character.
    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        # The class name only: a full `package.module:Name` squeezed the bar and its counts to
        # a few characters on an 80-column terminal.
        name = visible(agent_name if agent_name.startswith("run:") else agent_name.rsplit(":", 1)[-1])
        task = bar.add_task(name, total=sum(len(e.seeds) for e in entries))
        for entry in entries:
            bar.update(task, description=f"{name} · {suite.name} · {entry.label}")
            runs.append(
                play_entry(
                    agent,
                    entry,
                    agent_name=agent_name,
                    text_actions=text_actions,
                    on_seed_done=lambda: bar.advance(task),
                )
            )
    return runs


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
):
    """Evaluate the agent ``reference`` (built with ``config``) on ``suite``; return a results file.

    ``agent`` may pass an already built agent (then ``reference`` only names it in the results).
    ``secret`` plays the seeds of its test set instead of the public dev seeds (seed_sets.py).
    ``isolate=True`` builds and plays the agent in a process of its own, which sees only the
    observations and ``reset(env_id, env_kwargs)``, within ``step_timeout`` seconds per call and
    ``entry_timeout`` seconds per entry (:class:`~leaderboard.isolation.IsolatedAgent`).
    Raises :class:`AgentError` if the agent misbehaves, ``ValueError`` for a bad reference, suite or env.
    """
    suite = get_suite(suite) if isinstance(suite, str) else suite
    entries = with_seed_set(suite, suite.select(envs), secret)
    _check_references(suite, entries)
    config = dict(config or {})
    # Refused now, not after playing: the results file could not hold them.
    check_free_form("agent.reference", reference)
    check_free_form("agent.config", config)
    if isolate:
        if agent is not None:
            raise ValueError("isolate: an agent built in this process cannot be isolated; pass its reference")
        agent = IsolatedAgent(reference, config, step_timeout=step_timeout, entry_timeout=entry_timeout)
    elif agent is None:
        agent = load_agent(reference, config)
    try:
        start = time.perf_counter()
        runs = play_suite(agent, suite, entries, agent_name=reference, progress=progress)
        wall_time_s = time.perf_counter() - start
        # Probed after playing, so that a framework the agent loaded (torch) and its GPU are seen.
        if isolate:
            versions, machine = agent.provenance(reference)
        else:
            versions, machine = package_versions(reference), hardware()
    finally:
        if isolate:
            agent.close()
    return build_results(
        suite=suite,
        runs=runs,
        agent_reference=reference,
        agent_config=config,
        wall_time_s=wall_time_s,
        versions=versions,
        hardware=machine,
        test_set=None if secret is None else test_set_id(secret),
    )


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
