"""``icl-bench train ad`` and ``icl-bench train dpt``: the command lines of ``TrainConfig``.

``leaderboard/cli.py`` runs ``ad_app`` or ``dpt_app`` by reference (``TRAIN_APPS``), so the leaderboard
imports no baselines module. Every field is an option (``baselines.config_cli``): ``--env
icl/DarkRoom-v0``, ``--env-kwargs '{"size": 5}'``, ``--model.layers 3`` or ``--layers 3``, or
``--set KEY=VALUE``; the method is the command's.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from baselines.config_cli import ConfigOptions
from baselines.configs import replace_paths
from baselines.icrl.train import TrainConfig, train

OPTIONS = ConfigOptions(TrainConfig, exclude=("method",))
console = Console()


def _app(method: str) -> typer.Typer:
    app = typer.Typer(add_completion=False, rich_markup_mode=None)

    def train_command(**given: Any) -> None:
        try:
            run_dir = train(replace_paths(TrainConfig(method=method), OPTIONS.values(given)))
        except (ValueError, FileNotFoundError) as error:
            console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(2) from None
        console.print(f"run folder: [bold]{run_dir}[/bold]")

    name = {"ad": "Algorithm Distillation", "dpt": "a Decision-Pretrained Transformer"}[method]
    train_command.__doc__ = f"Train {name} (baselines/icrl) into a run folder usable as agent run:DIR."
    app.command("train")(OPTIONS.command(train_command))
    return app


ad_app = _app("ad")
dpt_app = _app("dpt")

__all__ = ["OPTIONS", "ad_app", "dpt_app"]
