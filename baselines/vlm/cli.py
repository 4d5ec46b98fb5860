"""``icl-bench train vlm``: the command line of the VLM trainer's ``TrainConfig``, from its fields.

``leaderboard/cli.py`` runs ``app`` by reference (``TRAIN_APPS["vlm"]``); every field is an option
by path (``--sft.steps 300``), by its own name where unique (``--iterations 20``) or ``--set KEY=VALUE``.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from baselines.config_cli import ConfigOptions
from baselines.configs import replace_paths
from baselines.vlm.train import TrainConfig, train

OPTIONS = ConfigOptions(TrainConfig)
console = Console()
app = typer.Typer(add_completion=False, rich_markup_mode=None)


def train_command(**given: Any) -> None:
    """Train a small VLM on a card game (SFT, then PPO) into a run folder usable as agent run:DIR."""
    try:
        run_dir = train(replace_paths(TrainConfig(), OPTIONS.values(given)))
    except (ValueError, FileNotFoundError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    console.print(f"run folder: [bold]{run_dir}[/bold]")


app.command("train")(OPTIONS.command(train_command))
