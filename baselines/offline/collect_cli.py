"""``icl-bench collect``: write an offline dataset of a game, or the standard datasets.

``leaderboard/cli.py`` runs ``app`` by reference (``baselines.offline.collect_cli:app``), so the
leaderboard imports no baselines module.

    icl-bench collect NumberLine --policy mixed --episodes 1000 [--obs-mode image] [--seed 0]
    icl-bench collect --standard [NAME ...]     # all standard datasets, or the named ones
    icl-bench collect ... --workers 4           # seed blocks on a local Dask cluster (same dataset)
    icl-bench collect ... --scheduler tcp://HOST:PORT   # or on an existing one ($ICL_BENCH_SCHEDULER)
    icl-bench collect --list                    # the standard datasets and whether they exist
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from baselines.offline.collect import DEFAULT_BLOCK_EPISODES, DEFAULT_NUM_ENVS, POLICY_HELP, collect
from baselines.offline.datasets import GAMES, OBS_MODES, dataset_info, dataset_path, datasets_root
from baselines.offline.standard import STANDARD_DATASETS, build_standard
from leaderboard.distributed import SCHEDULER_ENV, pool_options
from leaderboard.untrusted import plain

console = Console()
app = typer.Typer(add_completion=False, rich_markup_mode=None)


def _fail(message: object) -> None:
    console.print("[red]error:[/red]", plain(message))
    raise typer.Exit(2)


def _env_kwargs(text: str | None) -> dict:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"--env-kwargs must be a JSON object, e.g. '{{\"max_position\": 10}}' ({error})"
        ) from None
    if not isinstance(value, dict):
        raise ValueError(f"--env-kwargs must be a JSON object, got {text!r}")
    return value


def _unset(help: str) -> typer.models.OptionInfo:
    """An option whose absence (None) means something else than any value: no default shown."""
    return typer.Option(help=help, show_default=False)


def _list_standard() -> None:
    table = Table(title=f"standard offline datasets (under {datasets_root()})")
    for column in ("name", "dataset id", "episodes", "seed", "built"):
        table.add_column(column, no_wrap=True)
    for standard in STANDARD_DATASETS:
        built = "yes" if dataset_path(standard.dataset_id).exists() else "no"
        table.add_row(standard.name, standard.dataset_id, str(standard.episodes), str(standard.seed), built)
    console.print(table)


@app.command()
def collect_command(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            help=f"the game ({', '.join(GAMES)}); with --standard, standard dataset names (none: all)",
            show_default=False,
        ),
    ] = None,
    policy: Annotated[str | None, typer.Option(help=POLICY_HELP)] = None,
    episodes: Annotated[int | None, typer.Option(help="episodes to collect")] = None,
    obs_mode: Annotated[str, typer.Option(help=" or ".join(OBS_MODES))] = "symbolic",
    env_kwargs: Annotated[str | None, typer.Option(help="more env arguments as a JSON object")] = None,
    seed: Annotated[int, typer.Option(help="episode j starts from reset(seed=SEED + j)")] = 0,
    num_envs: Annotated[int, typer.Option(help="sub-envs of the vector env")] = DEFAULT_NUM_ENVS,
    dataset_id: Annotated[
        str | None, typer.Option(help="the id (default: icl/<game>-<obs>/<policy>-v0)")
    ] = None,
    block_episodes: Annotated[
        int | None,
        _unset(
            f"episodes per seed block: one vector env, one Dask shard [default: {DEFAULT_BLOCK_EPISODES}]"
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing dataset")] = False,
    workers: Annotated[
        int | None, _unset("play the seed blocks on a local Dask cluster of this many processes")
    ] = None,
    scheduler: Annotated[
        str | None,
        _unset(
            f"play the seed blocks on the Dask cluster of this scheduler, tcp://HOST:PORT (or ${SCHEDULER_ENV})"
        ),
    ] = None,
    standard: Annotated[bool, typer.Option(help="build the standard datasets (those not built yet)")] = False,
    list_: Annotated[bool, typer.Option("--list", help="list the standard datasets")] = False,
) -> None:
    """Write a Minari dataset of a game played by a behaviour policy (or the standard datasets)."""
    targets = list(targets or [])
    try:
        workers, scheduler = pool_options(workers, scheduler)  # $ICL_BENCH_SCHEDULER when neither
        if list_:
            _list_standard()
        elif standard:
            given = [
                name
                for name, value in (
                    ("--policy", policy),
                    ("--episodes", episodes),
                    ("--block-episodes", block_episodes),
                )
                if value is not None
            ]
            if given:
                raise ValueError(f"--standard datasets are fixed; {', '.join(given)} cannot be given with it")
            build_standard(
                targets, overwrite=overwrite, progress=_report_standard, workers=workers, scheduler=scheduler
            )
        else:
            if len(targets) != 1 or policy is None or episodes is None:
                raise ValueError(
                    "give one game, --policy and --episodes (icl-bench collect NumberLine --policy mixed "
                    "--episodes 1000), or --standard"
                )
            dataset = collect(
                targets[0],
                policy,
                episodes,
                obs_mode=obs_mode,
                env_kwargs=_env_kwargs(env_kwargs),
                seed=seed,
                num_envs=num_envs,
                block_episodes=DEFAULT_BLOCK_EPISODES if block_episodes is None else block_episodes,
                dataset_id=dataset_id,
                overwrite=overwrite,
                workers=workers,
                scheduler=scheduler,
            )
            _report(dataset)
    except (ValueError, ImportError) as error:
        _fail(error)


def _report(dataset) -> None:
    info = dataset_info(dataset)
    console.print(
        plain(
            f"{dataset.id}: {dataset.total_episodes} episodes, {dataset.total_steps} steps, "
            f"content hash {info['content_hash'][:16]}, at {dataset_path(dataset.id)}"
        )
    )


def _report_standard(standard, dataset, seconds: float) -> None:
    if dataset is None:
        console.print(plain(f"{standard.dataset_id}: exists, kept (--overwrite rebuilds it)"))
    else:
        _report(dataset)
        console.print(plain(f"  {seconds:.1f} s"))
