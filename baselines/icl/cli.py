"""``icl-bench train``: the command line of ``TrainConfig``, generated from its fields.

``leaderboard/cli.py`` runs ``app`` by reference (``baselines.icl.cli:app``), so the leaderboard
imports no baselines module. Every field is an option (``baselines.config_cli``): by path
(``--model.layers 3``), by its own name (``--layers 3``), ``--model`` for ``model.kind``, or
``--set KEY=VALUE``; the task is the one argument, and ``d`` and ``n`` default to its env's.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from baselines.config_cli import ConfigOptions
from baselines.configs import check_choice, replace_paths
from baselines.icl.samplers import TASK_SAMPLERS, TASKS
from baselines.icl.train import FLAT_NAMES, TrainConfig, train

OPTIONS = ConfigOptions(
    TrainConfig,
    aliases=FLAT_NAMES,
    exclude=("prompts.task",),  # the TASK argument
    shown_defaults={"prompts.d": "the task's env's, 5 or 4", "prompts.n": "the task's env's, 20 or 30"},
)
TASK = inspect.Parameter(
    "task",
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    annotation=str,
    default=typer.Argument(..., help=" or ".join(TASKS), metavar="TASK", show_default=False),
)
console = Console()
app = typer.Typer(add_completion=False, rich_markup_mode=None)  # plain help: field docstrings hold [brackets]


def config_from_command_line(task: str, values: Mapping[str, Any]) -> TrainConfig:
    """The config of ``icl-bench train TASK``: ``d`` and ``n`` of the task's env (the samplers'
    defaults), then ``values`` (field path -> value)."""
    check_choice("task", task, TASKS)
    sampler = TASK_SAMPLERS[task]
    sizes = {f"prompts.{name}": getattr(sampler, name) for name in ("d", "n") if hasattr(sampler, name)}
    env_sizes = {"prompts.task": task, **sizes}
    return replace_paths(TrainConfig(), {**env_sizes, **values})


def train_from_cli(
    task: str, *, d: int | None = None, n: int | None = None, options: Sequence[str] = (), **fields: Any
) -> Path:
    """``icl-bench train`` from Python: ``fields`` by option name (``layers=3``, ``model="softmax"``),
    ``options`` the ``--set KEY=VALUE`` texts."""
    given = {name: value for name, value in {"d": d, "n": n, **fields}.items() if value is not None}
    values = {OPTIONS.field(name).path: value for name, value in given.items()}
    values.update(OPTIONS.assignments(options))
    return train(config_from_command_line(task, values))


def train_command(task: str, **given: Any) -> None:
    """Train an in-context transformer (baselines/icl) into a run folder usable as agent run:DIR."""
    try:
        run_dir = train(config_from_command_line(task, OPTIONS.values(given)))
    except (ValueError, FileNotFoundError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    console.print(f"run folder: [bold]{run_dir}[/bold]")


app.command("train")(OPTIONS.command(train_command, TASK))

__all__ = ["OPTIONS", "app", "config_from_command_line", "train_command", "train_from_cli"]
