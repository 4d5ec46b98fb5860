"""Train the checkpoints shipped in ``baselines/checkpoints/`` (issue 12), reproducibly.

    python docs/scripts/train_checkpoints.py [--only NAME,...] [--threads 1]

Each checkpoint is an ``icl-bench train`` run with fixed seeds, written straight into the package
folder ``baselines/checkpoints/<name>/`` (an existing folder is replaced). The offline ones (Decision
Transformer, Reinformer, BC on each symbolic game) first build the standard dataset they train on
with the standard registry (``icl-bench collect --standard``; ``MINARI_DATASETS_PATH`` is honoured,
an existing dataset is reused: the same seed gives the same content hash). Each folder keeps what the
agent needs (``config.json``, ``model.safetensors``, ``agent.json``, ``dataset.json`` for the offline
runs), the training curve (``metrics.jsonl``) and ``COMMAND``: the commands that made it. The
optimizer state and resume marker are dropped (a shipped checkpoint is played, not resumed), which
halves the size.

Why these choices:

- **Datasets: the ``mixed`` one of every game** (half uniformly random episodes, half the exact
  solver's). It holds both the best returns and poor ones, so a return-conditioned model (DT,
  Reinformer) sees what separates them, and the solver's action is the most frequent action of
  every state it visits (the random half splits evenly), so BC recovers it.
- **Small models.** ``icl-bench run`` plays every shipped checkpoint on the full dev seeds of its
  entries (5,000 episodes of NumberLine, EZPoints and Points24, 25,000 of Blackjack), one forward
  pass per step over all of them: a 1-layer, width-32, context-5 transformer keeps that to seconds
  on two CPU cores. The games are Markov in their observation, so a short context loses little.
- **In-context transformers** as in ``docs/baselines/icl_transformers.md``: the linear ones
  (L = 1, 2, 3) trained on every prefix (``loss_on=all``: the harness scores every context length),
  the softmax GPT at width 32, and the 3-layer linear model pretrained by multi-task TD on MRPValue
  (Wang et al. 2024) with the settings of ``tests/test_icl_train.py``.

Scores: ``docs/scripts/score_checkpoints.py`` (``docs/data/checkpoints.json``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from baselines.checkpoints import CHECKPOINTS_DIR  # noqa: E402
from baselines.icl.cli import train_from_cli as train_icl  # noqa: E402
from baselines.offline.cli import train_from_cli as train_offline  # noqa: E402
from baselines.offline.standard import build_standard, select_standard  # noqa: E402

#: The files of a run folder a shipped checkpoint does not need (kept by the trainers to resume).
DROPPED = ("optimizer.safetensors", "state.json")
#: What every shipped offline transformer (DT, Reinformer) is trained with.
SEQUENCE_OPTIONS = (
    "embed_dim=32",
    "layers=1",
    "context=5",
    "lr=1e-3",
    "warmup_steps=50",
    "steps=1000",
    "seed=0",
)
BC_OPTIONS = ("steps=1000", "seed=0")
LINEAR_OPTIONS = ("model=linear", "steps=1000", "batch_size=512", "loss_on=all", "seed=0")


@dataclass(frozen=True)
class Recipe:
    """One shipped checkpoint: ``icl-bench train KIND`` with ``options`` (``--set KEY=VALUE``), on the
    standard dataset ``dataset`` (offline kinds) or the in-context task ``task``."""

    name: str
    kind: str
    options: tuple[str, ...]
    dataset: str = ""
    task: str = ""

    @property
    def standard(self):
        """The standard dataset definition (offline kinds)."""
        (standard,) = select_standard([self.dataset])
        return standard

    def commands(self) -> list[str]:
        """The shell commands that make this checkpoint (from the repository root)."""
        out = f"baselines/checkpoints/{self.name}"
        sets = " ".join(f"--set {shlex.quote(option)}" for option in self.options)
        if self.task:
            return [f"icl-bench train {self.task} {sets} --out {out}"]
        return [
            f"icl-bench collect --standard {self.standard.name}",
            f"icl-bench train {self.kind} --dataset {self.dataset} {sets} --out {out}",
        ]


def _offline(game: str) -> list[Recipe]:
    dataset = f"icl/{game.lower()}-symbolic/mixed-v0"
    return [
        Recipe(f"dt-{game.lower()}", "dt", SEQUENCE_OPTIONS, dataset=dataset),
        Recipe(f"reinformer-{game.lower()}", "reinformer", SEQUENCE_OPTIONS, dataset=dataset),
        Recipe(f"bc-{game.lower()}", "bc", BC_OPTIONS, dataset=dataset),
    ]


RECIPES: tuple[Recipe, ...] = (
    *(recipe for game in ("NumberLine", "EZPoints", "Points24", "Blackjack") for recipe in _offline(game)),
    *(
        Recipe(f"icl-linear-{layers}", "icl", (*LINEAR_OPTIONS, f"layers={layers}"), task="icl-regression")
        for layers in (1, 2, 3)
    ),
    Recipe(
        "icl-softmax",
        "icl",
        ("model=softmax", "layers=2", "width=32", "steps=300", "batch_size=64", "lr=1e-3", "seed=0"),
        task="icl-regression",
    ),
    Recipe(
        "icl-mrp-td",
        "icl",
        ("model=linear", "layers=3", "target=td", "lr=3e-3", "steps=1000", "batch_size=512", "seed=0"),
        task="icl-mrp",
    ),
)


def train_one(recipe: Recipe) -> Path:
    """Train ``recipe`` into its package folder (replacing it) and leave only what is shipped."""
    out = CHECKPOINTS_DIR / recipe.name
    if out.exists():
        shutil.rmtree(out)
    # Relative to the repository root, so the config a checkpoint records names no machine's path.
    relative = str(out.relative_to(ROOT))
    options = [*recipe.options, "progress=false", f"out={relative}"]
    if recipe.task:
        train_icl(recipe.task, options=options)
    else:
        build_standard([recipe.dataset])
        train_offline(recipe.kind, options, dataset=recipe.dataset)
    for name in DROPPED:
        (out / name).unlink(missing_ok=True)
    if recipe.task:  # the in-context runs predate agent.json; say which loader plays them
        (out / "agent.json").write_text('{"loader": "baselines.icl.agent:load_run_agent"}\n')
    (out / "COMMAND").write_text(
        "# Made by docs/scripts/train_checkpoints.py (one torch thread), from the repository root:\n"
        + "\n".join(recipe.commands())
        + "\n"
    )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="", help="comma-separated checkpoint names (default: all)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (the recorded checkpoints used 1)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = [name for name in args.only.split(",") if name]
    known = {recipe.name: recipe for recipe in RECIPES}
    unknown = [name for name in names if name not in known]
    if unknown:
        parser.error(f"--only: unknown {unknown}; choose from {', '.join(known)}")
    os.chdir(ROOT)
    for recipe in [known[name] for name in names] if names else RECIPES:
        start = time.perf_counter()
        out = train_one(recipe)
        size = sum(path.stat().st_size for path in out.iterdir())
        print(f"{recipe.name}: {size / 1024:.0f} KiB in {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
