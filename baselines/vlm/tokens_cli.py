"""``icl-bench tokens MODEL_DIR``: the token check (:mod:`baselines.vlm.tokens`) of a model on disk.

``leaderboard/cli.py`` runs ``app`` by reference (``baselines.vlm.tokens_cli:app``), so the
leaderboard imports no baselines module. ``MODEL_DIR`` is a VLM run folder (the small VLM or a
LoRA-tuned LLaVA: its game and answer format come from its config) or a LLaVA checkpoint folder
(every game, answers with thoughts). Exit status 1 when a required token is flagged.

    icl-bench tokens runs/vlm-numberline
    icl-bench tokens /models/llava-1.5-7b-hf --env icl/Blackjack-v0 --json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from baselines.vlm.hf import HFConfig, load_llava
from baselines.vlm.model import ModelConfig
from baselines.vlm.tasks import GAMES, check_game
from baselines.vlm.tokens import THRESHOLD, TokenReport, check_model
from baselines.vlm.train import load_model
from leaderboard.untrusted import plain

console = Console()
app = typer.Typer(add_completion=False, rich_markup_mode=None)


def load_for_check(model_dir: str | Path):
    """``(model, codec, games, thoughts)`` of a VLM run folder or a LLaVA checkpoint folder."""
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{model_dir} has no config.json: not a VLM run folder nor a LLaVA checkpoint"
        )
    saved = json.loads(path.read_text())
    if "model_type" in saved:  # a Hugging Face checkpoint
        limit = saved.get("text_config", {}).get("max_position_embeddings", 4096)
        shape = ModelConfig(
            image_size=saved.get("vision_config", {}).get("image_size", 336),
            max_tokens=min(ModelConfig().max_tokens, limit - 1),
        )
        model, codec = load_llava(HFConfig(path=str(model_dir)), shape)
        return model, codec, list(GAMES), True
    if "env" not in saved:
        raise ValueError(f"{path} is neither a VLM run's config nor a Hugging Face model config")
    model, codec, config = load_model(model_dir)
    return model, codec, [config.env], config.thoughts


def print_report(report: TokenReport) -> None:
    agreement = "n/a" if report.reference_agreement is None else f"{report.reference_agreement:.2f}"
    state = "informative" if report.indicator_informative else "uninformative (reference rows disagree)"
    console.print(
        f"games: {', '.join(report.env_ids)}; reference (never-seen byte) tokens: {len(report.reference_ids)}, "
        f"their agreement {agreement} (threshold {report.threshold}): indicator {state}"
    )
    table = Table()
    for column in ("id", "text", "needed for", "round trip", "similarity", "flag"):
        table.add_column(column)
    for t in report.tokens:
        table.add_row(
            str(t.id),
            plain(repr(t.text)),
            plain("; ".join(t.sources)),
            "ok" if t.round_trip else "FAILS",
            "" if t.similarity is None else f"{t.similarity:.2f}",
            "FLAGGED" if t.flagged else "",
        )
    console.print(table)
    console.print(plain(report.summary()))


@app.command()
def tokens_command(
    model_dir: Annotated[str, typer.Argument(help="a VLM run folder or a LLaVA checkpoint folder")],
    env: Annotated[
        list[str] | None,
        typer.Option(help=f"a game to check (repeatable; default: the run's): {', '.join(GAMES)}"),
    ] = None,
    threshold: Annotated[
        float, typer.Option(help="cosine similarity to the unused rows that flags a token")
    ] = THRESHOLD,
    remove_first_component: Annotated[
        bool | None,
        typer.Option(
            help="remove the head's first principal component first (default: for LLaVA checkpoints only)"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """List the tokens an agent must produce and flag those it cannot (round trip) or never learned to."""
    try:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"--threshold must lie in (0, 1); got {threshold}")
        model, codec, games, thoughts = load_for_check(model_dir)
        games = [check_game(e) for e in env] if env else games
        report = check_model(
            model,
            codec,
            games,
            thoughts=thoughts,
            threshold=threshold,
            remove_first_component=remove_first_component,
        )
    except (ValueError, FileNotFoundError) as error:
        console.print("[red]error:[/red]", plain(error))
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print_report(report)
    if report.flagged:
        raise typer.Exit(1)
