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

import importlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from leaderboard.agent import Agent
from leaderboard.protocol import Suite, SuiteEntry, get_suite

#: A batch that has not finished after this many steps is an env (or agent) that never ends.
MAX_STEPS = 10_000
#: Where the text suite's action wrapper lives (another part of the package; imported on use).
TEXT_ACTIONS = "icl_envs.cards.text_protocol:TextActions"
#: Where a trained run folder becomes an agent (``run:DIR``).
RUN_AGENT_LOADER = "baselines.icl.agent:load_run_agent"


class AgentError(RuntimeError):
    """The agent failed or returned a bad action; the message says who, where and what."""


# ----------------------------------------------------------------------------------------------
# Loading agents


def load_object(reference: str) -> Any:
    """Import ``module:Name`` (``Name`` may be dotted) and return the object."""
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(
            f"agent reference must look like 'package.module:Name' or 'run:DIR', got {reference!r}"
        )
    # The `icl-bench` script's sys.path holds its own folder, not the working directory, so a
    # user's `my_agent.py` beside them would not be found. Like `python -m`, look there too; last,
    # so that a local file never shadows an installed package.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"agent reference {reference!r}: cannot import module {module_name!r}: {error}"
        ) from error
    except Exception as error:
        # A user's module can fail while it runs (a SyntaxError, a missing file read at import):
        # say which module and why instead of a traceback from deep inside it.
        raise ValueError(
            f"agent reference {reference!r}: importing module {module_name!r} raised "
            f"{type(error).__name__}: {error}"
        ) from error
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(
                f"agent reference {reference!r}: module {module_name!r} has no {attribute!r}"
            ) from None
    return obj


def load_config(path: str | os.PathLike | None) -> dict[str, Any]:
    """Read an agent config file (JSON or TOML) into the kwargs the agent is built with."""
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config: no such file {str(path)!r}")
    text = path.read_text()
    if path.suffix == ".json":
        try:
            config = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"config {path}: invalid JSON: {error}") from None
    elif path.suffix == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            raise ValueError("config: TOML files need Python 3.11+; use a .json file") from None
        try:
            config = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"config {path}: invalid TOML: {error}") from None
    else:
        raise ValueError(f"config must be a .json or .toml file, got {str(path)!r}")
    if not isinstance(config, dict):
        raise ValueError(f"config {path} must hold a table/object of keyword arguments")
    return config


def load_agent(reference: str, config: Mapping[str, Any] | None = None) -> Agent:
    """Build the agent named by ``reference``: ``module:Name`` (class or factory) or ``run:DIR``."""
    config = dict(config or {})
    if reference.startswith("run:"):
        loader = load_object(RUN_AGENT_LOADER)
        try:
            agent = loader(reference[len("run:") :], **config)
        except Exception as error:  # a missing folder or checkpoint: name the run, not a traceback
            raise ValueError(
                f"agent {reference!r}: the run folder cannot be loaded: {type(error).__name__}: {error}"
            ) from error
    else:
        target = load_object(reference)
        if callable(target):
            try:
                agent = target(**config)
            except TypeError as error:
                raise ValueError(
                    f"agent {reference!r} cannot be built with config {config}: {error}"
                ) from error
            except Exception as error:  # e.g. weights the constructor reads are missing
                raise ValueError(
                    f"agent {reference!r}: building it raised {type(error).__name__}: {error}"
                ) from error
        elif config:
            raise ValueError(f"agent {reference!r} is an object, not a class or factory; it takes no config")
        else:
            agent = target
    if not callable(getattr(agent, "act_batch", None)) and not callable(getattr(agent, "act", None)):
        raise ValueError(f"agent {reference!r} has neither act_batch(obs_batch) nor act(obs)")
    if isinstance(agent, Agent) and type(agent).act is Agent.act and type(agent).act_batch is Agent.act_batch:
        # The base class's act_batch only loops over act, which it does not implement: fail at
        # load time rather than at the first step of the first env.
        raise ValueError(f"agent {reference!r} subclasses Agent but implements neither act nor act_batch")
    if not callable(getattr(agent, "act_batch", None)):
        agent = _BatchedAgent(agent)
    return agent


class _BatchedAgent(Agent):
    """Gives a duck-typed agent that only has ``act`` (and maybe ``reset``) the batched default."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.suites = getattr(inner, "suites", None)

    def reset(self, env_id=None, env_kwargs=None) -> None:
        if callable(getattr(self.inner, "reset", None)):
            self.inner.reset(env_id, env_kwargs)

    def act(self, obs):
        return self.inner.act(obs)


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


def is_in_context(space: gym.Space) -> bool:
    """The in-context envs observe ``Dict(context, length, query)`` and score a squared error."""
    return isinstance(space, gym.spaces.Dict) and {"context", "query"} <= set(space.spaces)


def make_vector_env(entry: SuiteEntry, text_actions: bool) -> gym.vector.VectorEnv:
    """The entry's vector env: the native one, or text-action sub-envs for the text suite."""
    import icl_envs  # noqa: F401  (registers the icl/ ids)

    try:
        if not text_actions:
            return gym.make_vec(entry.env_id, num_envs=entry.episodes, **entry.kwargs)
        wrapper = load_object(TEXT_ACTIONS)
        return gym.make_vec(
            entry.env_id,
            num_envs=entry.episodes,
            vectorization_mode="sync",
            wrappers=[wrapper],
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
    from rich.console import Console

    if not progress or not Console(stderr=True).is_terminal:  # no bar (nor blank lines) in logs
        return [play_entry(agent, e, agent_name=agent_name, text_actions=text_actions) for e in entries]
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    runs = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        # The class name only: a full `package.module:Name` squeezed the bar and its counts to
        # a few characters on an 80-column terminal.
        name = agent_name if agent_name.startswith("run:") else agent_name.rsplit(":", 1)[-1]
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
):
    """Evaluate the agent ``reference`` (built with ``config``) on ``suite``; return a results file.

    ``agent`` may pass an already built agent (then ``reference`` only names it in the results).
    Raises :class:`AgentError` if the agent misbehaves, ``ValueError`` for a bad reference, suite or env.
    """
    from leaderboard.results import build_results

    suite = get_suite(suite) if isinstance(suite, str) else suite
    entries = suite.select(envs)
    _check_references(suite, entries)
    config = dict(config or {})
    if agent is None:
        agent = load_agent(reference, config)
    start = time.perf_counter()
    runs = play_suite(agent, suite, entries, agent_name=reference, progress=progress)
    return build_results(
        suite=suite,
        runs=runs,
        agent_reference=reference,
        agent_config=config,
        wall_time_s=time.perf_counter() - start,
    )


def _check_references(suite: Suite, entries) -> None:
    """Refuse before playing, not after: a score needs each entry's normalization references."""
    from leaderboard.references import reference_for

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


def package_versions(reference: str) -> dict[str, str]:
    """Versions of what produced the numbers: Python, numpy, gymnasium, icl-envs, the agent's package."""
    from importlib import metadata

    versions = {"python": platform.python_version(), "numpy": np.__version__, "gymnasium": gym.__version__}
    try:
        import icl_envs

        versions["icl-envs"] = icl_envs.__version__
    except ImportError:  # pragma: no cover - the harness runs icl envs
        pass
    top = reference.split(":", 1)[0].split(".", 1)[0]
    if top and top not in ("run", "icl_envs"):
        for name in (top, top.replace("_", "-")):
            try:
                versions[name] = metadata.version(name)
                break
            except metadata.PackageNotFoundError:
                continue
    for name in ("torch",):  # frameworks an agent may use, recorded if it loaded them
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = getattr(module, "__version__", "unknown")
    return versions


def hardware() -> dict[str, Any]:
    """The machine the episodes ran on (CPU, cores, and the GPU if the agent used torch with CUDA)."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count() or 0,
    }
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
