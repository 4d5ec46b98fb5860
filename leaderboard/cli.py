"""The ``icl-bench`` command line.

Each command is a thin shell: it parses arguments and calls into the module that owns the work,
imported lazily (inside the command) so that ``icl-bench list`` starts fast and needs no torch.
These lazy imports point down like any other (``tests/test_layering.py`` checks it).

Whatever a command prints that it did not write itself (an agent reference, a path, an error
message quoting a file) goes through :func:`leaderboard.untrusted.plain`: no rich markup, and no
control character reaches the terminal.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from leaderboard.untrusted import plain

app = typer.Typer(
    help="icl-envs: environments, baselines and a leaderboard for in-context learning.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


def _error(label: str, message: object) -> None:
    """Print ``label: message`` with the label in red and the message as plain text, line by line
    (an isolated agent's traceback keeps its lines; any other control character shows escaped)."""
    lines = Text("\n").join(plain(line) for line in str(message).splitlines() or [""])
    console.print(Text.assemble((f"{label}:", "red"), " ", lines))


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


#: The ``train`` command's typer apps, with the baselines: imported when the command runs, by
#: reference as agents are (``module:name``), so that ``leaderboard`` imports no ``baselines`` module.
#: ``icl-bench train KIND ...`` runs ``TRAIN_APPS[KIND]`` on the arguments after KIND; any other first
#: argument is a task of the in-context transformers' trainer, ``TRAIN_APP``.
TRAIN_APP = "baselines.icl.cli:app"
TRAIN_APPS: dict[str, str] = {
    "vlm": "baselines.vlm.cli:app",
    "dt": "baselines.offline.cli:dt_app",
    "reinformer": "baselines.offline.cli:reinformer_app",
    "bc": "baselines.offline.cli:bc_app",
    "ad": "baselines.icrl.cli:ad_app",
    "dpt": "baselines.icrl.cli:dpt_app",
}


@app.command(
    "train",
    # Every argument, --help included, goes to the baselines' command, which knows the options.
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def train_command(ctx: typer.Context) -> None:
    """Train a baseline into a run folder usable as agent run:DIR (icl-bench train TASK|KIND --help)."""
    arguments = list(ctx.args)
    if not arguments or arguments[0] in ("--help", "-h"):
        # The help below is the in-context transformers' trainer's: say first that there are others.
        console.print(
            "icl-bench train TASK trains an in-context transformer (TASK and options below); "
            f"icl-bench train KIND trains another baseline, KIND one of {', '.join(TRAIN_APPS)} "
            "(icl-bench train KIND --help).\n",
            highlight=False,
            soft_wrap=True,
        )
    if arguments and arguments[0] in TRAIN_APPS:
        kind = arguments.pop(0)
        reference, prog_name = TRAIN_APPS[kind], f"icl-bench train {kind}"
    else:
        reference, prog_name = TRAIN_APP, "icl-bench train"
    _run_app(reference, arguments, prog_name)


def _run_app(reference: str, arguments: list[str], prog_name: str) -> None:
    """Run the typer app named by ``reference`` (``module:name``) on ``arguments``."""
    module, _, name = reference.partition(":")
    typer_app = getattr(importlib.import_module(module), name)
    typer.main.get_command(typer_app).main(arguments, prog_name=prog_name)


#: The ``collect`` command's typer app (offline datasets, baselines/offline), by reference as above.
COLLECT_APP = "baselines.offline.collect_cli:app"
#: The ``tokens`` command's typer app (the VLM token check, baselines/vlm), by reference as above.
TOKENS_APP = "baselines.vlm.tokens_cli:app"


def _delegate(name: str, reference: str, summary: str) -> None:
    """Register ``icl-bench NAME``: every argument, --help included, goes to the app ``reference``."""

    @app.command(
        name,
        help=summary,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )
    def command(ctx: typer.Context) -> None:
        _run_app(reference, list(ctx.args), f"icl-bench {name}")


_delegate(
    "collect",
    COLLECT_APP,
    "Write an offline dataset (Minari) of a game, or the standard ones (icl-bench collect --help).",
)
_delegate(
    "tokens",
    TOKENS_APP,
    "List the tokens a VLM must write and flag untrainable or under-trained ones (icl-bench tokens --help).",
)


# ----------------------------------------------------------------------------------------------
# Leaderboard: evaluate, validate, run, leaderboard (leaderboard/harness.py, results.py, store.py)

_DB_HELP = "results store: a path or SQLAlchemy URL (default: $ICL_BENCH_DB or the user data dir)"
_SECRET_HELP = "file whose bytes are the secret of a test seed set (held by the leaderboard's operator)"


def _read_secrets(paths: list[str] | None) -> list[bytes]:
    """The secrets in ``paths``, or exit 2 naming the file that cannot serve."""
    from leaderboard.seed_sets import SecretError, read_secret

    try:
        return [read_secret(path) for path in paths or ()]
    except SecretError as error:
        _error("error", f"--secret-file: {error}")
        raise typer.Exit(2) from None


def _test_secret(seed_set: str, secret_file: str | None) -> bytes | None:
    """The secret whose test seeds ``--seed-set test`` plays (None for dev), or exit 2."""
    if seed_set not in ("dev", "test"):
        _error("error", f"--seed-set must be 'dev' or 'test', got {seed_set!r}")
        raise typer.Exit(2)
    if (seed_set == "test") != (secret_file is not None):
        _error("error", "--seed-set test needs --secret-file, and only it does")
        raise typer.Exit(2)
    return _read_secrets([secret_file])[0] if secret_file is not None else None


def _open_store(db: str | None):
    """Open the results store, or exit with a message naming it (a bad URL, a missing database
    driver, a folder that cannot be created): checked before an evaluation, not after it."""
    from sqlalchemy.exc import SQLAlchemyError

    from leaderboard.store import ResultsStore, SchemaTooNewError

    try:
        return ResultsStore(db)
    except SchemaTooNewError as error:
        _error("error", f"--db {db or '(default)'}: {error}")
        raise typer.Exit(2) from None
    except (SQLAlchemyError, ImportError, OSError, ValueError) as error:
        _error("error", f"--db {db or '(default)'}: cannot open the results store: {error}")
        raise typer.Exit(2) from None


_WORKERS_HELP = (
    "play the (entry, seed) shards on a local Dask cluster of this many processes (docs/distributed.md)"
)
_SCHEDULER_HELP = (
    "play the shards on the Dask cluster of this scheduler, tcp://HOST:PORT (or $ICL_BENCH_SCHEDULER)"
)


def _pool_options(workers: int | None, scheduler: str | None) -> dict:
    """``workers`` and ``scheduler`` for evaluate/run_all ($ICL_BENCH_SCHEDULER standing for an
    absent --scheduler), or exit 2 naming the bad option; Dask is not imported here."""
    from leaderboard.distributed import pool_options

    try:
        workers, scheduler = pool_options(workers, scheduler)
    except ValueError as error:
        _error("error", error)
        raise typer.Exit(2) from None
    return {"workers": workers, "scheduler": scheduler}


@app.command("evaluate")
def evaluate_command(
    agent: str = typer.Option(..., help="agent reference: package.module:Name or run:DIR"),
    suite: str = typer.Option("core-v0", help="core-v0 | pixels-v0 | text-v0"),
    envs: Annotated[list[str] | None, typer.Option("--envs", help="only these entries (repeatable)")] = None,
    config: str = typer.Option(None, help="JSON or TOML file of keyword arguments for the agent"),
    out: str = typer.Option(None, help="write the results file here (JSON)"),
    db: str = typer.Option(None, help=_DB_HELP),
    store: bool = typer.Option(True, help="add the results to the store"),
    seed_set: str = typer.Option("dev", help="dev (the public seeds) | test (held-out seeds: --secret-file)"),
    secret_file: str = typer.Option(None, help=_SECRET_HELP),
    isolate: bool = typer.Option(
        False, help="run the agent in a process of its own that sees only observations (docs/protocol.md)"
    ),
    step_timeout: float = typer.Option(None, help="with --isolate: seconds per agent call (default 60)"),
    entry_timeout: float = typer.Option(None, help="with --isolate: agent seconds per entry (default 3600)"),
    workers: int = typer.Option(None, help=_WORKERS_HELP),
    scheduler: str = typer.Option(None, help=_SCHEDULER_HELP),
    keep_going: bool = typer.Option(
        False, help="an entry whose agent fails is left out: write a partial file (complete: false), exit 1"
    ),
) -> None:
    """Evaluate an agent on a suite; print its scores and write/store the results file."""
    from leaderboard.harness import AgentError, PartialEvaluation, evaluate
    from leaderboard.loading import load_config
    from leaderboard.report import leaderboard_tables, print_tables

    pool = _pool_options(workers, scheduler)
    secret = _test_secret(seed_set, secret_file)
    limits = {"step_timeout": step_timeout, "entry_timeout": entry_timeout}
    limits = {name: seconds for name, seconds in limits.items() if seconds is not None}
    if limits and not isolate:
        _error("error", "--step-timeout and --entry-timeout limit an isolated agent: add --isolate")
        raise typer.Exit(2)
    # Check where the results go before spending the evaluation's time on them.
    results_store = _open_store(db) if store else None
    if out:
        try:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            _error("error", f"--out {out}: cannot create its folder: {error}")
            raise typer.Exit(2) from None
    partial = None
    try:
        results = evaluate(
            agent,
            suite,
            envs=envs,
            config=load_config(config),
            secret=secret,
            isolate=isolate,
            keep_going=keep_going,
            **pool,
            **limits,
        )
    except PartialEvaluation as error:
        results, partial = error.results, error.failures
        for failure in partial:
            _error("failed", failure)
        console.print(
            plain(
                f"{len(partial)} shard(s) failed; the other entries make a partial results file (complete: false)"
            )
        )
    except (AgentError, ValueError) as error:
        _error("error", error)
        console.print("[red]nothing was written or stored[/red]")
        raise typer.Exit(1) from None
    if out:
        results.write(out)
        console.print(Text.assemble("results file: ", plain(out, "bold")))
    if results_store is not None:
        outcome = results_store.add(results, secrets=[secret] if secret else [])
        console.print(f"stored as #{outcome.id}" + ("" if outcome.new else " (already stored: same content)"))
    print_tables(console, leaderboard_tables([results]))
    if partial:
        raise typer.Exit(1)


@app.command("validate")
def validate_command(
    file: str = typer.Argument(..., help="results file (JSON)"),
    secret_file: Annotated[
        list[str] | None,
        typer.Option("--secret-file", help=_SECRET_HELP + "; repeatable, the one the file names is used"),
    ] = None,
) -> None:
    """Check a results file: schema, suite, seeds, and every aggregate recomputed from the returns.

    Exit code 0: valid; 1: a results file that breaks a rule; 2: unreadable or not a results file
    (or an unusable --secret-file); 3: a test-seed file that cannot be verified without its secret.
    """
    from leaderboard.results import (
        ResultsValidationError,
        UnreadableResultsError,
        UnverifiableResultsError,
        read_results,
    )

    secrets = _read_secrets(secret_file)
    try:
        results = read_results(file, secrets=secrets)
    except UnreadableResultsError as error:
        _error("unreadable", error)
        raise typer.Exit(2) from None
    except UnverifiableResultsError as error:
        _error("unverifiable", f"{error} (give it with --secret-file)")
        raise typer.Exit(3) from None
    except ResultsValidationError as error:
        _error("invalid", error)
        raise typer.Exit(1) from None
    iqm = results.aggregates.iqm
    console.print(
        Text.assemble(
            ("valid", "green"),
            ": ",
            plain(f"{results.agent.reference} on {results.suite}, {len(results.entries)} entries, "),
            "" if results.seed_set == "dev" else plain(f"test set {results.seed_set_id}, "),
            f"IQM {iqm.value:.2f} [{iqm.low:.2f}, {iqm.high:.2f}]",
        )
    )


@app.command("run")
def run_command(
    out: str = typer.Option("icl-bench-report", help="folder for the HTML report and the results files"),
    db: str = typer.Option(None, help=_DB_HELP),
    isolate: bool = typer.Option(False, help="run each baseline in a process of its own (docs/protocol.md)"),
    workers: int = typer.Option(None, help=_WORKERS_HELP),
    scheduler: str = typer.Option(None, help=_SCHEDULER_HELP),
) -> None:
    """The main job: score every classic and exact baseline and shipped checkpoint, store the results, print and report."""
    from leaderboard.run_all import run_all

    pool = _pool_options(workers, scheduler)
    _open_store(db).close()  # a bad --db fails here, before any baseline runs
    try:
        summary = run_all(out_dir=out, db=db, console=console, isolate=isolate, **pool)
    except ValueError as error:  # Dask missing, a scheduler that cannot be reached
        _error("error", error)
        raise typer.Exit(2) from None
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
        console.print(plain(f"no results in {store.url}" + (f" for suite {suite}" if suite else "")))
        raise typer.Exit(0)
    print_tables(console, leaderboard_tables(results))


# ----------------------------------------------------------------------------------------------
# The leaderboard server: serve, token, submit (leaderboard/server/)


@app.command("serve")
def serve_command(
    db: str = typer.Option(None, help=_DB_HELP),
    host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0: every interface)"),
    port: int = typer.Option(8000, help="port to listen on"),
    workers: int = typer.Option(1, min=1, help="worker processes (use PostgreSQL for more than a few)"),
    rate_limit: int = typer.Option(60, min=1, help="submissions per token per minute"),
    access_log: bool = typer.Option(True, help="log every request (uvicorn's access log)"),
    secret_file: Annotated[
        list[str] | None,
        typer.Option(
            "--secret-file",
            help=_SECRET_HELP + "; repeatable: test-seed files are accepted only of these test sets",
        ),
    ] = None,
) -> None:
    """Run the leaderboard server: the API under /api/v1, the pages, the API's description at /docs."""
    import os

    import uvicorn

    from leaderboard.migrations import HEAD
    from leaderboard.seed_sets import test_set_id
    from leaderboard.server.settings import Settings

    # exit 2 naming a secret file that cannot serve, before anything listens
    test_sets = [test_set_id(secret) for secret in _read_secrets(secret_file)]
    store = _open_store(db)  # migrates an older schema, refuses a newer one, before anything listens
    if store.migrated_from != HEAD:
        console.print(plain(f"database schema upgraded from {store.migrated_from or '(empty)'} to {HEAD}"))
    settings = Settings(db=store.url, rate_limit=rate_limit, secret_files=tuple(secret_file or ()))
    store.close()
    os.environ.update(settings.environment())  # read by every worker (leaderboard/server/settings.py)
    console.print(plain(f"serving {settings.db} on http://{host}:{port} with {workers} worker(s)"))
    accepted = ", ".join(["dev", *test_sets]) if test_sets else "dev only (no --secret-file for a test set)"
    console.print(plain(f"seed sets accepted: {accepted}"))
    uvicorn.run(
        "leaderboard.server.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
    )


token_app = typer.Typer(help="Submission tokens of a leaderboard server.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    name: str = typer.Argument(..., help="who the token is for (unique, shown beside submissions)"),
    db: str = typer.Option(None, help=_DB_HELP),
) -> None:
    """Create a token and print it: it is stored hashed and shown only this once."""
    from leaderboard.server.tokens import TokenError, create_token

    try:
        token = create_token(_open_store(db), name)
    except TokenError as error:
        _error("error", error)
        raise typer.Exit(1) from None
    console.print(plain(f"token for {name} (shown once; the server keeps only its hash):"))
    print(token)


@token_app.command("revoke")
def token_revoke(
    name: str = typer.Argument(..., help="the token's name"), db: str = typer.Option(None, help=_DB_HELP)
) -> None:
    """Revoke a token: it can submit nothing more (its submissions stay)."""
    from leaderboard.server.tokens import TokenError, revoke_token

    try:
        revoke_token(_open_store(db), name)
    except TokenError as error:
        _error("error", error)
        raise typer.Exit(1) from None
    console.print(plain(f"revoked the token of {name}"))


@token_app.command("list")
def token_list(db: str = typer.Option(None, help=_DB_HELP)) -> None:
    """List the tokens: name, created, revoked, submissions stored."""
    from leaderboard.server.tokens import list_tokens

    table = Table(title="tokens")
    for column in ("name", "created", "revoked", "submissions"):
        table.add_column(column)
    for info in list_tokens(_open_store(db)):
        revoked = "" if info.revoked_at is None else f"{info.revoked_at:%Y-%m-%d %H:%M}"
        table.add_row(plain(info.name), f"{info.created_at:%Y-%m-%d %H:%M}", revoked, str(info.submissions))
    console.print(table)


@app.command("submit")
def submit_command(
    file: str = typer.Argument(..., help="results file (JSON) from icl-bench evaluate --out"),
    server: str = typer.Option(..., help="the leaderboard's URL, e.g. https://leaderboard.example.org"),
    token: str = typer.Option(..., envvar="ICL_BENCH_TOKEN", help="your token (or $ICL_BENCH_TOKEN)"),
    retries: int = typer.Option(5, min=0, help="attempts after the first (a retry never duplicates)"),
    timeout: float = typer.Option(60.0, help="seconds to wait for each answer"),
) -> None:
    """Submit a results file to a leaderboard server; checked here first, as icl-bench validate does.

    Exit code 0: stored (or already there); 1: refused (the field is named); 2: unreadable;
    3: the server could not be reached or kept failing.
    """
    from leaderboard.results import ResultsValidationError, UnreadableResultsError, read_results
    from leaderboard.server.client import SubmitError, submit

    try:
        read_results(file)
    except ResultsValidationError as error:  # the exit codes of icl-bench validate
        unreadable = isinstance(error, UnreadableResultsError)
        _error("unreadable" if unreadable else "invalid", error)
        raise typer.Exit(2 if unreadable else 1) from None
    try:
        outcome = submit(Path(file).read_bytes(), server, token, retries=retries, timeout=timeout)
    except SubmitError as error:
        _error("refused" if error.status else "error", error)
        raise typer.Exit(1 if error.status else 3) from None
    what = "stored as" if outcome.new else "already on the server (same content) as"
    console.print(plain(f"{what} #{outcome.id}: {outcome.url}"))


@app.command("verify")
def verify_command(
    submission_id: int = typer.Argument(..., help="the stored submission's id (#N)"),
    db: str = typer.Option(None, help=_DB_HELP),
    secret_file: str = typer.Option(
        None, help=_SECRET_HELP + " (default: the first of the server's $ICL_BENCH_SECRET_FILES)"
    ),
    step_timeout: float = typer.Option(60.0, help="seconds per agent call"),
    entry_timeout: float = typer.Option(3600.0, help="agent seconds per entry"),
) -> None:
    """Re-evaluate a submission on the held-out test seeds (isolated) and mark it verified or flagged.

    Run it where the agent's code is installed. Exit code 0: verified; 3: flagged; 1: the agent
    failed on the test seeds (nothing stored); 2: it cannot be verified (unknown id, no usable
    secret, an agent that cannot be imported or built here).
    """
    import os

    from leaderboard.harness import AgentError
    from leaderboard.server.settings import SECRET_FILES_ENV
    from leaderboard.verification import FLAGGED, VerificationError, verify

    if secret_file is None:
        configured = [path for path in os.environ.get(SECRET_FILES_ENV, "").split(os.pathsep) if path]
        if not configured:
            _error(
                "error", f"verify needs the test set's secret: give --secret-file or set ${SECRET_FILES_ENV}"
            )
            raise typer.Exit(2)
        secret_file = configured[0]
    secret = _read_secrets([secret_file])[0]
    store = _open_store(db)
    try:
        outcome = verify(store, submission_id, secret, step_timeout=step_timeout, entry_timeout=entry_timeout)
    except AgentError as error:
        _error("error", f"the agent failed on the test seeds: {error}")
        console.print("[red]nothing was stored[/red]")
        raise typer.Exit(1) from None
    except (VerificationError, ValueError) as error:
        _error("error", f"submission {submission_id} cannot be verified here: {error}")
        raise typer.Exit(2) from None
    finally:
        store.close()
    dev, test = outcome.dev_iqm, outcome.test_iqm
    console.print(
        Text.assemble(
            f"submission #{submission_id}: ",
            (outcome.status, "red" if outcome.status == FLAGGED else "green"),
            f" (dev IQM {dev[0]:.2f} [{dev[1]:.2f}, {dev[2]:.2f}], ",
            f"test IQM {test[0]:.2f} [{test[1]:.2f}, {test[2]:.2f}] on test set {outcome.test_set})",
        )
    )
    if outcome.status == FLAGGED:
        raise typer.Exit(3)


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
        _error("error", error)
        raise typer.Exit(1) from None


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
