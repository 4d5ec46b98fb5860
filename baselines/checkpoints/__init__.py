"""Small trained checkpoints shipped inside the package, so every learned baseline family plays
without training.

Each subfolder is a run folder (``config.json``, ``model.safetensors``, ``agent.json``, its
``metrics.jsonl`` and ``COMMAND``, the commands that made it), made by
``docs/scripts/train_checkpoints.py``:

- ``dt-<game>``, ``reinformer-<game>``, ``bc-<game>``: Decision Transformer, Reinformer and BC on the
  ``mixed`` standard dataset of each symbolic game (``numberline``, ``ezpoints``, ``points24``,
  ``blackjack``); they play the game's ``core-v0`` entry;
- ``icl-linear-1``, ``-2``, ``-3``, ``icl-softmax``: in-context transformers of
  ``icl/LinearRegression-v0``; ``icl-mrp-td``: the linear transformer pretrained by multi-task TD on
  ``icl/MRPValue-v0``.

The folders are package data (``pyproject.toml``), so an installed wheel has them wherever it is
installed. An agent reference names a checkpoint by name, not by path:
``baselines.checkpoints:load_checkpoint`` with the config ``{"name": "dt-numberline"}`` (what
``icl-bench run`` plays); ``checkpoint_dir(name)`` gives the folder for ``run:DIR``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leaderboard.agent import Agent
from leaderboard.loading import load_agent

CHECKPOINTS_DIR = Path(__file__).resolve().parent


def shipped_checkpoints() -> tuple[str, ...]:
    """The names of the shipped checkpoints (the subfolders that hold a model), sorted."""
    return tuple(sorted(path.parent.name for path in CHECKPOINTS_DIR.glob("*/model.safetensors")))


def checkpoint_dir(name: str) -> Path:
    """The run folder of the shipped checkpoint ``name``, or a ``ValueError`` naming the shipped ones."""
    names = shipped_checkpoints()
    if name not in names:
        raise ValueError(f"name must be a shipped checkpoint, one of {', '.join(names)}; got {name!r}")
    return CHECKPOINTS_DIR / name


def load_checkpoint(name: str, **config: Any) -> Agent:
    """The agent of the shipped checkpoint ``name`` (``config``: the run agent's own options, e.g.
    ``target_fraction`` for Decision Transformer)."""
    return load_agent(f"run:{checkpoint_dir(name)}", config)


__all__ = ["CHECKPOINTS_DIR", "checkpoint_dir", "load_checkpoint", "shipped_checkpoints"]
