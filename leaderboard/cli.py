"""The ``icl-bench`` command line.

Each command is a thin shell: it parses arguments and calls into the module that owns the work,
imported lazily (inside the command) so that ``icl-bench list`` starts fast and needs no torch.
These lazy imports point down like any other (``tests/test_layering.py`` checks it).
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="icl-envs: environments, baselines and a leaderboard for in-context learning.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


def _signature_arguments(entry_point: str) -> str:
    """Render an env class's keyword arguments and defaults, e.g. ``d=5, n=20``."""
    from gymnasium.envs.registration import load_env_creator

    creator = load_env_creator(entry_point)
    parts = []
    for name, parameter in inspect.signature(creator).parameters.items():
        if name in ("self", "render_mode") or parameter.kind in (
            parameter.VAR_KEYWORD,
            parameter.VAR_POSITIONAL,
        ):
            continue
        default = "" if parameter.default is inspect.Parameter.empty else f"={parameter.default!r}"
        parts.append(f"{name}{default}")
    return ", ".join(parts)


@app.command("list")
def list_envs() -> None:
    """Print every registered environment id with a description and its arguments."""
    from icl_envs import ENVIRONMENTS

    table = Table(title="icl-envs environments")
    table.add_column("id", style="bold cyan", no_wrap=True)
    table.add_column("description")
    table.add_column("arguments", style="green", overflow="fold")
    for env_id, entry_point, _, description in ENVIRONMENTS:
        try:
            arguments = _signature_arguments(entry_point)
        except (ImportError, AttributeError) as error:  # a module of an unfinished env
            arguments = f"(unavailable: {error})"
        table.add_row(env_id, description, arguments)
    console.print(table)


#: The ``train`` command's typer app, with the baselines: imported when the command runs, by
#: reference as agents are (``module:name``), so that ``leaderboard`` imports no ``baselines`` module.
TRAIN_APP = "baselines.icl.cli:app"


@app.command(
    "train",
    # Every argument, --help included, goes to the baselines' command, which knows the options.
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def train_command(ctx: typer.Context) -> None:
    """Train an in-context transformer (baselines/icl) into a run folder usable as agent run:DIR."""
    module, _, name = TRAIN_APP.partition(":")
    train_app = getattr(importlib.import_module(module), name)
    typer.main.get_command(train_app).main(ctx.args, prog_name="icl-bench train")


# ----------------------------------------------------------------------------------------------
# Leaderboard: evaluate, validate, run, leaderboard (leaderboard/harness.py, results.py, store.py)

_DB_HELP = "results store: a path or SQLAlchemy URL (default: $ICL_BENCH_DB or the user data dir)"


def _open_store(db: str | None):
    """Open the results store, or exit with a message naming it (a bad URL, a missing database
    driver, a folder that cannot be created): checked before an evaluation, not after it."""
    from sqlalchemy.exc import SQLAlchemyError

    from leaderboard.store import ResultsStore

    try:
        return ResultsStore(db)
    except (SQLAlchemyError, ImportError, OSError, ValueError) as error:
        console.print(f"[red]error:[/red] --db {db or '(default)'}: cannot open the results store: {error}")
        raise typer.Exit(2) from None


@app.command("evaluate")
def evaluate_command(
    agent: str = typer.Option(..., help="agent reference: package.module:Name or run:DIR"),
    suite: str = typer.Option("core-v0", help="core-v0 | pixels-v0 | text-v0"),
    envs: Annotated[list[str] | None, typer.Option("--envs", help="only these entries (repeatable)")] = None,
    config: str = typer.Option(None, help="JSON or TOML file of keyword arguments for the agent"),
    out: str = typer.Option(None, help="write the results file here (JSON)"),
    db: str = typer.Option(None, help=_DB_HELP),
    store: bool = typer.Option(True, help="add the results to the store"),
    isolate: bool = typer.Option(
        False, help="run the agent in a process of its own that sees only observations (docs/protocol.md)"
    ),
    step_timeout: float = typer.Option(None, help="with --isolate: seconds per agent call (default 60)"),
    entry_timeout: float = typer.Option(None, help="with --isolate: agent seconds per entry (default 3600)"),
) -> None:
    """Evaluate an agent on a suite; print its scores and write/store the results file."""
    from leaderboard.harness import AgentError, evaluate
    from leaderboard.loading import load_config
    from leaderboard.report import leaderboard_tables, print_tables

    limits = {"step_timeout": step_timeout, "entry_timeout": entry_timeout}
    limits = {name: seconds for name, seconds in limits.items() if seconds is not None}
    if limits and not isolate:
        console.print(
            "[red]error:[/red] --step-timeout and --entry-timeout limit an isolated agent: add --isolate"
        )
        raise typer.Exit(2)
    # Check where the results go before spending the evaluation's time on them.
    results_store = _open_store(db) if store else None
    if out:
        try:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            console.print(f"[red]error:[/red] --out {out}: cannot create its folder: {error}")
            raise typer.Exit(2) from None
    try:
        results = evaluate(agent, suite, envs=envs, config=load_config(config), isolate=isolate, **limits)
    except (AgentError, ValueError) as error:
        console.print(f"[red]error:[/red] {error}")
        console.print("[red]nothing was written or stored[/red]")
        raise typer.Exit(1) from None
    if out:
        results.write(out)
        console.print(f"results file: [bold]{out}[/bold]")
    if results_store is not None:
        outcome = results_store.add(results)
        console.print(f"stored as #{outcome.id}" + ("" if outcome.new else " (already stored: same content)"))
    print_tables(console, leaderboard_tables([results]))


@app.command("validate")
def validate_command(file: str = typer.Argument(..., help="results file (JSON)")) -> None:
    """Check a results file: schema, suite, seeds, and every aggregate recomputed from the returns."""
    from leaderboard.results import ResultsValidationError, read_results

    try:
        results = read_results(file)
    except ResultsValidationError as error:
        console.print(f"[red]invalid:[/red] {error}")
        raise typer.Exit(1) from None
    iqm = results.aggregates.iqm
    console.print(
        f"[green]valid[/green]: {results.agent.reference} on {results.suite}, {len(results.entries)} entries, "
        f"IQM {iqm.value:.2f} [{iqm.low:.2f}, {iqm.high:.2f}]"
    )


@app.command("run")
def run_command(
    out: str = typer.Option("icl-bench-report", help="folder for the HTML report and the results files"),
    db: str = typer.Option(None, help=_DB_HELP),
    isolate: bool = typer.Option(False, help="run each baseline in a process of its own (docs/protocol.md)"),
) -> None:
    """The main job: score every classic and exact baseline, store the results, print and report."""
    from leaderboard.run_all import run_all

    _open_store(db).close()  # a bad --db fails here, before any baseline runs
    summary = run_all(out_dir=out, db=db, console=console, isolate=isolate)
    if summary.failures:
        console.print(f"[red]{len(summary.failures)} baseline(s) failed[/red]")
        raise typer.Exit(1)


@app.command("leaderboard")
def leaderboard_command(
    suite: str = typer.Option(None, help="only this suite"),
    db: str = typer.Option(None, help=_DB_HELP),
) -> None:
    """Print the stored leaderboard: the newest result of each agent, config and set of envs, best IQM first."""
    from leaderboard.report import leaderboard_tables, print_tables

    store = _open_store(db)
    results = store.latest(suite)
    if not results:
        console.print(f"no results in {store.url}" + (f" for suite {suite}" if suite else ""))
        raise typer.Exit(0)
    print_tables(console, leaderboard_tables(results))


@app.command("play")
def play_command(
    env_id: str = typer.Argument(
        "icl/Blackjack-v0", help="a card env: icl/Blackjack-v0, icl/Points24-v0, ..."
    ),
    seed: int = typer.Option(None, help="seed of the first deal"),
    image_size: int = typer.Option(300, help="frame size in pixels"),
    kwargs: str = typer.Option("{}", help="more env arguments as JSON, e.g. '{\"natural\": true}'"),
) -> None:
    """Play a card game with the keyboard in a window (the key map is shown under the table)."""
    import json

    from gymnasium.error import Error as GymError

    from icl_envs.cards.play import play

    try:
        env_kwargs = json.loads(kwargs)
        if not isinstance(env_kwargs, dict):
            raise ValueError(f"--kwargs must be a JSON object, got {kwargs!r}")
        play(env_id, seed=seed, image_size=image_size, **env_kwargs)
    except (ValueError, TypeError, GymError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
