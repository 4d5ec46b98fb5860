"""Loading by reference: agents (``module:Name`` or ``run:DIR``), their config files, any object.

The harness, the CLI and the computation of references build agents here, so an agent reference
means the same thing everywhere. A reference is a string, never an import of ``baselines``: a
user's agent and a baseline are found the same way, and ``leaderboard`` depends on neither.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from leaderboard.agent import Agent

try:
    import tomllib
except ImportError:  # Python 3.10 has no TOML reader: load_config then refuses .toml files
    tomllib = None

#: Where a trained run folder becomes an agent (``run:DIR``): the loader its ``agent.json`` names
#: (``{"loader": "module:function"}``, written by its trainer), else the in-context transformers'
#: loader (their run folders predate ``agent.json``).
RUN_AGENT_FILE = "agent.json"
RUN_AGENT_LOADER = "baselines.icl.agent:load_run_agent"


def run_agent_loader(run_dir: str | os.PathLike) -> str:
    """The ``module:function`` reference that builds the agent of the run folder ``run_dir``."""
    path = Path(run_dir) / RUN_AGENT_FILE
    if not path.is_file():
        return RUN_AGENT_LOADER
    try:
        loader = json.loads(path.read_text()).get("loader")
    except (json.JSONDecodeError, AttributeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a JSON object with a 'loader' field: {error}") from None
    if not isinstance(loader, str) or ":" not in loader:
        raise ValueError(f"{path}: 'loader' must be a 'module:function' string, got {loader!r}")
    return loader


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
        if tomllib is None:
            raise ValueError("config: TOML files need Python 3.11+; use a .json file")
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
        run_dir = reference[len("run:") :]
        loader = load_object(run_agent_loader(run_dir))
        try:
            agent = loader(run_dir, **config)
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
