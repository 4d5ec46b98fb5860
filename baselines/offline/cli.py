"""``icl-bench train dt|reinformer|bc``: the command lines of the offline algorithms' configs.

``leaderboard/cli.py`` runs ``TRAIN_APPS[KIND]`` by reference (``baselines.offline.cli:dt_app``, ...).
Every config field is an option (``baselines.config_cli``): by path (``--run.steps 500``), by its own
name (``--steps 500``) or ``--set KEY=VALUE``. Under ``torchrun --nproc-per-node N -m
baselines.offline.cli dt --dataset ID ...`` the same command trains with DDP.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from baselines.config_cli import ConfigOptions
from baselines.configs import replace_paths
from baselines.offline.runs import ALGORITHMS, algorithm_module
from baselines.offline.train import train

console = Console()
OPTIONS = {name: ConfigOptions(algorithm_module(name).Config) for name in ALGORITHMS}


def config_from_values(algorithm: str, values: Mapping[str, Any]) -> Any:
    """The config of ``algorithm`` with ``values`` (field path -> value) set."""
    return replace_paths(algorithm_module(algorithm).Config(), values)


def train_from_cli(algorithm: str, options: Sequence[str] = (), **fields: Any) -> Path:
    """``icl-bench train ALGORITHM`` from Python: ``fields`` by option name (``steps=100``),
    ``options`` the ``--set KEY=VALUE`` texts."""
    config_options = OPTIONS[algorithm]
    values = {config_options.field(name).path: value for name, value in fields.items()}
    values.update(config_options.assignments(options))
    return train(algorithm, config_from_values(algorithm, values))


def _app(algorithm: str) -> typer.Typer:
    options = OPTIONS[algorithm]

    def train_command(**given: Any) -> None:
        try:
            run_dir = train(algorithm, config_from_values(algorithm, options.values(given)))
        except (ValueError, FileNotFoundError) as error:
            console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(2) from None
        console.print(f"run folder: [bold]{run_dir}[/bold]")

    train_command.__doc__ = (
        f"Train {algorithm_module(algorithm).__doc__.splitlines()[0].split(', CleanRL')[0].rstrip(',.')} "
        "on a Minari dataset "
        "into a run folder usable as agent run:DIR."
    )
    app = typer.Typer(add_completion=False, rich_markup_mode=None)
    app.command("train")(options.command(train_command))
    return app


dt_app, reinformer_app, bc_app = (_app(name) for name in ("dt", "reinformer", "bc"))
APPS = {"dt": dt_app, "reinformer": reinformer_app, "bc": bc_app}


def main(arguments: Sequence[str] | None = None) -> None:
    """``python -m baselines.offline.cli KIND ...`` (what torchrun launches)."""
    arguments = list(sys.argv[1:] if arguments is None else arguments)
    if not arguments or arguments[0] not in APPS:
        console.print(f"usage: python -m baselines.offline.cli {'|'.join(APPS)} [OPTIONS]")
        raise SystemExit(2)
    kind = arguments.pop(0)
    typer.main.get_command(APPS[kind]).main(arguments, prog_name=f"icl-bench train {kind}")


if __name__ == "__main__":
    main()

__all__ = [
    "APPS",
    "OPTIONS",
    "bc_app",
    "config_from_values",
    "dt_app",
    "main",
    "reinformer_app",
    "train_from_cli",
]
