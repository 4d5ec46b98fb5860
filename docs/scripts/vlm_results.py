"""Train the small VLM on each card game at CPU size, score each run on ``vl-v0``, write the data.

    nice -n 10 python docs/scripts/vlm_results.py --runs numberline-sft,numberline-ppo \\
        [--work /tmp/vlm-runs] [--out docs/data/vlm_cpu_results.json] [--ship numberline-ppo] [--render]

Every run reads the state from the frame alone (``state_in_prompt=False``: the prompt lists every
action of the game and says nothing of the state). A ``*-ppo`` run starts from a copy of its
``*-sft`` run folder and adds PPO iterations (the trainer resumes there), so SFT only and SFT + PPO
share their warm start. Each run is played by the harness on its game's ``vl-v0`` entry (dev seeds);
the file keeps, per run: success rate (return > 0), normalized score, parse failures, parameters,
training wall time, the training curves (``metrics.jsonl``), the config changes from the
trainer's defaults, the command that reproduces it, and the provenance (machine and load) of the
moment it ran. Runs already in the file are kept, so the runs can be made one at a time.
``--ship RUNS`` copies each named run's model, tokenizer and config into the shipped checkpoint
``baselines/checkpoints/vlm-<game>`` (package data: ``load_checkpoint("vlm-numberline")``, or
``--agent run:DIR`` with ``checkpoint_dir("vlm-numberline")``, plays it without training).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from baselines.checkpoints import CHECKPOINTS_DIR  # noqa: E402
from baselines.classic.blackjack import OptimalBlackjackAgent, blackjack_dp  # noqa: E402
from baselines.classic.number_games import (  # noqa: E402
    NumberLineOptimalAgent,
    PointsOptimalAgent,
    points24_solvable_share,
)
from baselines.configs import replace_paths  # noqa: E402
from baselines.vlm.read_check import WELL_READ  # noqa: E402
from baselines.vlm.train import TrainConfig, load_model, reading_accuracy, train  # noqa: E402
from benchmarks import data_record  # noqa: E402
from leaderboard.harness import evaluate  # noqa: E402

OUTPUT = ROOT / "docs" / "data" / "vlm_cpu_results.json"
CURVES_PLOT = ROOT / "docs" / "img" / "vlm_curves.png"
READ_CHECK_PLOT = ROOT / "docs" / "img" / "vlm_read_check.png"
GAME_NAMES = ("NumberLine", "EZPoints", "Points24", "Blackjack")
#: RL4VLM's success rates (%) with a 7B LLaVA after SFT + PPO (Zhai et al. 2024, gym-cards).
RL4VLM_SUCCESS = {"NumberLine": 89.4, "EZPoints": 50.0, "Points24": 2.3, "Blackjack": 40.2}
#: The shipped checkpoint's check: greedy play of this many episodes of the first dev seed, fast
#: enough for a test to replay and compare (tests/test_vlm_results.py).
CHECK_EPISODES = 8
#: What every CPU run shares: the frame is the only source of the state; the short prompt (the
#: task description and answer format are the same at every step, and a CPU run cannot afford
#: reading them); a ~0.8M-parameter model; the reading stage before SFT (``sft.align_steps``).
CPU_BASE: dict[str, Any] = {
    "state_in_prompt": False,
    "short_prompt": True,
    "vocab_size": 384,
    "max_new_tokens": 48,
    "model.image_size": 64,
    "model.channels": 16,
    "model.image_tokens_side": 4,
    "model.width": 128,
    "model.layers": 3,
    "model.heads": 4,
    "model.max_tokens": 128,
    "sft.batch_size": 16,
    "sft.lr": 3e-3,
    "sft.align_steps": 150,
    "ppo.num_envs": 16,
    "ppo.rollout_steps": 4,
    "ppo.minibatch_size": 32,
    "ppo.lr": 1e-4,
}
#: The card games' frames: more pixels (the ranks are small) and more channels.
CARDS = {"model.image_size": 96, "model.channels": 24, "max_new_tokens": 64, "model.max_tokens": 160}
#: The reading stage of the card games: 128 px frames in 8 × 8 image tokens (a card's corner index
#: is ~7 px tall there), probes per card, formula slot and printed total on fresh frames of new
#: deals (``sft.align_frames``), at a learning rate the probes leave their plateau with (at 3e-3
#: they stayed at the majority class for 300 steps; at 1e-3 they read both EZPoints cards after 300).
READING = {
    **CARDS,
    "model.image_size": 128,
    "model.image_tokens_side": 8,
    "model.max_tokens": 192,
    "sft.lr": 1e-3,
    "sft.align_steps": 500,
    "sft.align_frames": 3000,
}
#: ``--size gpu`` (pending a GPU run): on top of each run's changes, a ~25M-parameter model that
#: reads the env's full prompt (task description and answer format, as RL4VLM's) on one GPU.
GPU_SIZE: dict[str, Any] = {
    "short_prompt": False,
    "vocab_size": 1024,
    "model.image_size": 128,
    "model.channels": 48,
    "model.image_tokens_side": 8,
    "model.width": 512,
    "model.layers": 8,
    "model.heads": 8,
    "model.max_tokens": 400,
    "sft.batch_size": 64,
    # A quarter of the CPU model's width: Adam's step on a hidden matrix wants a learning rate about
    # inversely proportional to width (Yang et al. 2022, muP), so the CPU runs' 3e-3 comes down.
    "sft.lr": 1e-3,
    "sft.steps": 2000,
    "ppo.num_envs": 64,
    "device": "cuda",
}
SIZES = {"cpu": {}, "gpu": GPU_SIZE}
#: Points24 with the text stage first: the decoder recalls a formula for each hand from many
#: fresh deals' text before it reads a frame.
POINTS24_TEXT = {
    **READING,
    "sft.text_steps": 4000,
    "sft.text_episodes": 20000,
    "sft.align_steps": 1500,
    "sft.align_frames": 5000,
    "sft.episodes": 2000,
    "sft.explore": 0.1,
    "sft.steps": 1000,
}
#: NumberLine's reading stage of 400 steps (it leaves its plateau with thoughts and without).
NUMBERLINE_READ400 = {"sft.episodes": 300, "sft.steps": 400, "sft.align_steps": 400}
FROZEN = {"freeze_encoder": True}
#: Name -> (env id, run it starts from or None, config changes on top of CPU_BASE).
RUNS: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "numberline-sft": ("icl/NumberLine-v0", None, {"sft.episodes": 300, "sft.steps": 400}),
    "numberline-ppo": ("icl/NumberLine-v0", "numberline-sft", {"ppo.iterations": 10}),
    "numberline-ppo-lr1e-5": (
        "icl/NumberLine-v0",
        "numberline-sft",
        {"ppo.iterations": 10, "ppo.lr": 1e-5},
    ),
    "numberline-sft-frozen": ("icl/NumberLine-v0", None, {"sft.episodes": 300, "sft.steps": 400, **FROZEN}),
    "numberline-ppo-frozen": (
        "icl/NumberLine-v0",
        "numberline-sft-frozen",
        {"ppo.iterations": 10, "ppo.lr": 1e-5},
    ),
    "numberline-sft-no-thoughts": (
        "icl/NumberLine-v0",
        None,
        {"sft.episodes": 300, "sft.steps": 400, "thoughts": False},
    ),
    "numberline-sft-hyper": (
        "icl/NumberLine-v0",
        None,
        {"sft.episodes": 300, "sft.steps": 400, "model.projector": "hyper"},
    ),
    # Thoughts or none, each after a reading stage long enough to leave its plateau in both.
    "numberline-sft-read400": ("icl/NumberLine-v0", None, NUMBERLINE_READ400),
    "numberline-sft-read400-no-thoughts": (
        "icl/NumberLine-v0",
        None,
        {**NUMBERLINE_READ400, "thoughts": False},
    ),
    "numberline-sft-read400-hyper": (
        "icl/NumberLine-v0",
        None,
        {**NUMBERLINE_READ400, "model.projector": "hyper"},
    ),
    # The same two with twice the SFT steps: the thought's misses were misread frames.
    "numberline-sft-read400-sft800": ("icl/NumberLine-v0", None, {**NUMBERLINE_READ400, "sft.steps": 800}),
    "numberline-sft-read400-no-thoughts-sft800": (
        "icl/NumberLine-v0",
        None,
        {**NUMBERLINE_READ400, "sft.steps": 800, "thoughts": False},
    ),
    # The encoder frozen after the reading stage, as LLaVA's vision tower (the runs above train it in SFT).
    "numberline-sft-read400-frozen": ("icl/NumberLine-v0", None, {**NUMBERLINE_READ400, **FROZEN}),
    "numberline-sft-read400-no-thoughts-frozen": (
        "icl/NumberLine-v0",
        None,
        {**NUMBERLINE_READ400, "thoughts": False, **FROZEN},
    ),
    "blackjack-sft": ("icl/Blackjack-v0", None, {**CARDS, "sft.episodes": 1500, "sft.steps": 300}),
    "blackjack-ppo": ("icl/Blackjack-v0", "blackjack-sft", {**CARDS, "ppo.iterations": 10}),
    "blackjack-sft-128px": (
        "icl/Blackjack-v0",
        None,
        {
            **CARDS,
            "model.image_size": 128,
            "model.image_tokens_side": 8,
            "model.max_tokens": 192,
            "sft.episodes": 1500,
            "sft.align_steps": 400,
            "sft.lr": 1e-3,
            "sft.steps": 400,
        },
    ),
    "blackjack-read-sft": (
        "icl/Blackjack-v0",
        None,
        {**READING, "sft.episodes": 2500, "sft.steps": 600},
    ),
    "blackjack-read-sft-frozen": (
        "icl/Blackjack-v0",
        None,
        {**READING, "sft.episodes": 2500, "sft.steps": 600, **FROZEN},
    ),
    "blackjack-read-ppo": ("icl/Blackjack-v0", "blackjack-read-sft", {"ppo.iterations": 10, "ppo.lr": 1e-5}),
    "ezpoints-sft": ("icl/EZPoints-v0", None, {**READING, "sft.episodes": 1000, "sft.steps": 600}),
    "ezpoints-sft-hyper": (
        "icl/EZPoints-v0",
        None,
        {**READING, "sft.episodes": 1000, "sft.steps": 600, "model.projector": "hyper"},
    ),
    "ezpoints-sft-frozen": (
        "icl/EZPoints-v0",
        None,
        {**READING, "sft.episodes": 1000, "sft.steps": 600, **FROZEN},
    ),
    # READING at twice its learning rate (reading stage and SFT): at 1e-3 a seed of five never read the formula.
    "ezpoints-sft-lr2e-3": (
        "icl/EZPoints-v0",
        None,
        {**READING, "sft.episodes": 1000, "sft.steps": 600, "sft.lr": 2e-3},
    ),
    # Seed 2, which never reads the formula, resumed to 1,500 SFT steps.
    "ezpoints-sft-seed2-1500": (
        "icl/EZPoints-v0",
        "ezpoints-sft-seed2",
        {**READING, "sft.episodes": 1000, "sft.steps": 1500, "seed": 2},
    ),
    # PPO at the trainer's default learning rate: at 1e-4 it lowered NumberLine's optimal SFT policy.
    "ezpoints-ppo": ("icl/EZPoints-v0", "ezpoints-sft", {**READING, "ppo.iterations": 10, "ppo.lr": 1e-5}),
    "points24-sft": (
        "icl/Points24-v0",
        None,
        # Less exploration: a random token derails a 4-card formula for good (the expert then gives up).
        {**READING, "sft.episodes": 2000, "sft.explore": 0.1, "sft.steps": 800},
    ),
    "points24-ppo": ("icl/Points24-v0", "points24-sft-long", {"ppo.iterations": 10, "ppo.lr": 1e-5}),
    "points24-text-sft": ("icl/Points24-v0", None, POINTS24_TEXT),
    "points24-text-sft-no-thoughts": ("icl/Points24-v0", None, {**POINTS24_TEXT, "thoughts": False}),
    "points24-text-sft-hyper": ("icl/Points24-v0", None, {**POINTS24_TEXT, "model.projector": "hyper"}),
    "points24-text-sft-frozen": ("icl/Points24-v0", None, {**POINTS24_TEXT, **FROZEN}),
    "points24-text-ppo": ("icl/Points24-v0", "points24-text-sft", {"ppo.iterations": 10, "ppo.lr": 1e-5}),
    "points24-sft-long": (
        "icl/Points24-v0",
        None,
        {
            **READING,
            "sft.align_steps": 1500,
            "sft.align_frames": 5000,
            "sft.episodes": 2000,
            "sft.explore": 0.1,
            "sft.steps": 1000,
        },
    ),
}

#: Runs repeated over training seeds (seed 0 is the run itself), each pair a table on the page:
#: thoughts or none (NumberLine at 400 and 800 SFT steps, where one seed each left the question
#: open; Points24), static or hyper projector (NumberLine, Points24 after the text stage, EZPoints),
#: EZPoints' learning rate, and PPO on top of SFT (EZPoints).
#: Sweep -> (its seeds, its (label, run) pairs).
SEED_SWEEPS = {
    "NumberLine thoughts": (
        (0, 1, 2, 3, 4),
        (("yes", "numberline-sft-read400"), ("no", "numberline-sft-read400-no-thoughts")),
    ),
    "NumberLine thoughts, 800 SFT steps": (
        (0, 1, 2, 3, 4),
        (("yes", "numberline-sft-read400-sft800"), ("no", "numberline-sft-read400-no-thoughts-sft800")),
    ),
    "NumberLine projector": (
        (0, 1, 2, 3, 4),
        (("mlp", "numberline-sft-read400"), ("hyper", "numberline-sft-read400-hyper")),
    ),
    "Points24 projector": (
        (0, 1, 2),
        (("mlp", "points24-text-sft"), ("hyper", "points24-text-sft-hyper")),
    ),
    "Points24 thoughts": (
        (0, 1, 2),
        (("yes", "points24-text-sft"), ("no", "points24-text-sft-no-thoughts")),
    ),
    "EZPoints projector": ((0, 1, 2, 3, 4), (("mlp", "ezpoints-sft"), ("hyper", "ezpoints-sft-hyper"))),
    "EZPoints learning rate": (
        (0, 1, 2, 3, 4),
        (("1e-3", "ezpoints-sft"), ("2e-3", "ezpoints-sft-lr2e-3")),
    ),
    "NumberLine encoder": (
        (0, 1, 2, 3, 4),
        (("trained", "numberline-sft-read400"), ("frozen", "numberline-sft-read400-frozen")),
    ),
    "NumberLine encoder, no thoughts": (
        (0, 1, 2, 3, 4),
        (
            ("trained", "numberline-sft-read400-no-thoughts"),
            ("frozen", "numberline-sft-read400-no-thoughts-frozen"),
        ),
    ),
    "EZPoints encoder": ((0, 1, 2, 3, 4), (("trained", "ezpoints-sft"), ("frozen", "ezpoints-sft-frozen"))),
    "Points24 encoder": (
        (0, 1, 2),
        (("trained", "points24-text-sft"), ("frozen", "points24-text-sft-frozen")),
    ),
    "EZPoints PPO": ((0, 1, 2, 3, 4), (("SFT", "ezpoints-sft"), ("SFT + PPO", "ezpoints-ppo"))),
}


def seeded(name: str, seed: int) -> str:
    """The name of run ``name`` at training seed ``seed`` (seed 0: the run itself)."""
    return f"{name}-seed{seed}" if seed else name


def add_seeded_run(name: str, seed: int) -> str:
    """Define run ``name`` at training seed ``seed`` in :data:`RUNS`; a run that starts from
    another starts from that one at the same seed (PPO on its own seed's SFT)."""
    env_id, base, changes = RUNS[name]
    if seed and seeded(name, seed) not in RUNS:
        start = add_seeded_run(base, seed) if base else None
        RUNS[seeded(name, seed)] = (env_id, start, {**changes, "seed": seed})
    return seeded(name, seed)


for _seeds, _pairs in SEED_SWEEPS.values():
    for _seed in _seeds:
        for _, _name in _pairs:
            add_seeded_run(_name, _seed)


def changed_fields(name: str, size: str = "cpu") -> dict[str, Any]:
    """The run's config changes from the trainer's defaults (its command line)."""
    env_id, base, changes = RUNS[name]
    return {**CPU_BASE, "env": env_id, **(RUNS[base][2] if base else {}), **changes, **SIZES[size]}


def run_config(name: str, work: Path, size: str = "cpu") -> TrainConfig:
    values = {**changed_fields(name, size), "out": str(work / name), "progress": False}
    return replace_paths(TrainConfig(), values)


def command(name: str, size: str = "cpu") -> str:
    changes = changed_fields(name, size)
    options = " ".join(f"--set {key}={value}" for key, value in changes.items() if key != "env")
    env_id, base, _ = RUNS[name]
    start = f"cp -r runs/{base} runs/{name} && " if base else ""
    return f"{start}icl-bench train vlm --env {env_id} --out runs/{name} {options}"


def train_run(name: str, work: Path, size: str = "cpu") -> Path:
    config = run_config(name, work, size)
    folder = Path(config.out)
    base = RUNS[name][1]
    if base is not None and not (folder / "state.json").is_file():
        if not (work / base / "state.json").is_file():
            raise SystemExit(f"run {name} starts from {base}: make that run first (--runs {base},{name})")
        shutil.copytree(work / base, folder, dirs_exist_ok=True)
    return train(config)


def curves(folder: Path) -> dict[str, list]:
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    align = [r for r in records if r["phase"] == "align"]
    sft = [r for r in records if r["phase"] == "sft"]
    ppo = [r for r in records if r["phase"] == "ppo"]
    return {
        "align_step": [r["step"] for r in align],
        "align_loss": [r["loss"] for r in align],
        # Each probe's held-out accuracy (runs with sft.align_frames; None for the others).
        "align_accuracy": [r.get("accuracy") for r in align],
        "sft_step": [r["step"] for r in sft],
        "sft_loss": [r["loss"] for r in sft],
        "ppo_iteration": [r["iteration"] for r in ppo],
        "ppo_success_rate": [r["success_rate"] for r in ppo],
        "ppo_parse_failure_rate": [r["parse_failure_rate"] for r in ppo],
        "ppo_clip_fraction": [r["clip_fraction"] for r in ppo],
    }


def score(name: str, folder: Path) -> dict[str, Any]:
    env_id = RUNS[name][0]
    start = time.perf_counter()
    results = evaluate(f"run:{folder}", "vl-v0", envs=[env_id], progress=False)
    (entry,) = results.entries
    return {
        "success_rate": 100.0 * entry.success_rate,
        "normalized_score": entry.normalized_score.value,
        "mean_return": float(np.mean(entry.returns)),
        "episodes": int(np.size(entry.returns)),
        "parse_failures": entry.parse_failures,
        "decisions": int(np.sum(entry.episode_lengths)),
        "eval_wall_s": time.perf_counter() - start,
    }


def read_check_of(folder: Path) -> dict[str, Any]:
    """The trainer's read check of a run folder (:func:`baselines.vlm.train.reading_accuracy`): the
    one a run logs when its SFT ends, made again on a finished run (those trained before the check
    existed)."""
    model, codec, config = load_model(folder)
    accuracy, frames = reading_accuracy(model, codec, config)
    return {"field_accuracy": accuracy, "frames": frames}


def logged_read_check(folder: Path) -> dict[str, Any]:
    """``{"read_check": ...}`` as the run's ``metrics.jsonl`` logged it, or nothing."""
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    checks = [r for r in records if r["phase"] == "read_check"]
    return {"read_check": {k: checks[-1][k] for k in ("field_accuracy", "frames")}} if checks else {}


def read_checked(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The recorded SFT runs with a read check, in the file's order."""
    return [(n, r) for n, r in data["runs"].items() if "read_check" in r and not r["starts_from"]]


def read_check_table(data: dict[str, Any]) -> str:
    """The page's read-check table: per game, the runs the check flags (a field written right on
    fewer than ``WELL_READ`` of its frames) and the success of those it does and does not flag."""
    lines = [
        "| game | runs checked | flagged | success of the flagged % | success of the others % |",
        "|---|--:|--:|---|---|",
    ]

    def spread(rates: list[float]) -> str:
        return f"{min(rates):.1f} to {max(rates):.1f} (mean {np.mean(rates):.1f})" if rates else "none"

    for game in GAME_NAMES:
        runs = [r for _, r in read_checked(data) if game_of(r["env"]) == game]
        if not runs:
            continue
        flagged = [
            r["success_rate"] for r in runs if min(r["read_check"]["field_accuracy"].values()) < WELL_READ
        ]
        others = [
            r["success_rate"] for r in runs if min(r["read_check"]["field_accuracy"].values()) >= WELL_READ
        ]
        lines.append(f"| {game} | {len(runs)} | {len(flagged)} | {spread(flagged)} | {spread(others)} |")
    return "\n".join(lines)


def save_figure(fig, out: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def plot_read_check(data: dict[str, Any], out: Path = READ_CHECK_PLOT) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for game, marker in zip(GAME_NAMES, "osD^"):
        runs = [r for _, r in read_checked(data) if game_of(r["env"]) == game]
        if runs:
            lowest = [100 * min(r["read_check"]["field_accuracy"].values()) for r in runs]
            ax.scatter(lowest, [r["success_rate"] for r in runs], marker=marker, label=game, alpha=0.75)
    ax.axvline(100 * WELL_READ, color="grey", linestyle="--", linewidth=1)
    ax.set(
        xlabel="read check: the worst-read answer field, % of frames right",
        ylabel="success on vl-v0 %",
        title="After SFT: reading the frame and winning",
    )
    ax.legend(fontsize=8)
    return save_figure(fig, out)


def game_of(env_id: str) -> str:
    return env_id.split("/")[1].rsplit("-v", 1)[0]


def best_success_rates() -> dict[str, float]:
    """The exact optimum's success rate (%) per game on vl-v0's deals: NumberLine and EZPoints are
    always won by the solver; a Points24 deal is won only when solvable (20876/28561 of the original
    deals); Blackjack's best is the win-probability-maximising policy's P(win) (dynamic programming)."""
    return {
        "NumberLine": 100.0,
        "EZPoints": 100.0,
        "Points24": 100.0 * float(points24_solvable_share()),
        "Blackjack": 100.0 * float(blackjack_dp(objective="win").win_probability),
    }


#: The exact solvers of each game: Blackjack's maximises the probability of winning the hand.
SOLVERS = {
    "NumberLine": lambda: NumberLineOptimalAgent(),
    "EZPoints": lambda: PointsOptimalAgent("EZPoints"),
    "Points24": lambda: PointsOptimalAgent("Points24"),
    "Blackjack": lambda: OptimalBlackjackAgent(objective="win"),
}


def solver_returns(entry: Any) -> Any:
    """The returns of the game's exact solver on ``entry``'s episodes and seeds, with numbers for
    observations (the deals depend on the seeds, not on ``obs_mode``)."""
    from leaderboard.harness import play_entry
    from leaderboard.protocol import SuiteEntry

    symbolic = SuiteEntry(entry.env_id, {**entry.kwargs, "obs_mode": "symbolic"}, entry.episodes, entry.seeds)
    return play_entry(SOLVERS[game_of(entry.env_id)](), symbolic, agent_name="solver").returns


def optimum_on_suite_deals() -> dict[str, float]:
    """The exact solvers' success rate (%) on ``vl-v0``'s own deals: each game's entry replayed with
    its seeds and episodes but numbers for observations (the deals depend on the seeds, not on
    ``obs_mode``). Where it is below RL4VLM's cell, no policy that plays by the visible state beats
    that cell on these deals but by luck."""
    from leaderboard.protocol import get_suite

    rates = {}
    for entry in get_suite("vl-v0").entries:
        won = np.asarray(solver_returns(entry)) > 0
        rates[game_of(entry.env_id)] = 100.0 * float(np.mean(won))
    return rates


#: Seeds of the wider sample, WIDER_FIRST_SEED + k · SEED_STRIDE: the vector env seeds its env i with
#: seed + i, so seeds closer than the episodes per seed would replay the same deals; the stride is
#: vl-v0's own, whose seeds (10000, ..., 50000) lie below the first.
WIDER_FIRST_SEED, SEED_STRIDE = 1_000_000, 10_000


def success_interval(wins: int, count: int) -> tuple[float, float]:
    """Wilson's 95% interval of a success rate (%), from ``wins`` of ``count`` episodes (the normal
    interval misbehaves near 0 and 100, where some of our games' rates sit)."""
    z, rate = 1.96, wins / count
    centre = (rate + z * z / (2 * count)) / (1 + z * z / count)
    half = z * np.sqrt(rate * (1 - rate) / count + z * z / (4 * count * count)) / (1 + z * z / count)
    return 100.0 * float(centre - half), 100.0 * float(centre + half)


def wider_sample(name: str, folder: Path, episodes: int) -> dict[str, Any]:
    """Run ``name`` and its game's exact solver on the same ``episodes`` fresh episodes (seeds from
    :data:`WIDER_FIRST_SEED`, vl-v0's episodes per seed): where vl-v0's own deals are too few, or too
    lucky or unlucky, to compare a run with RL4VLM's cell, this estimates its expected success."""
    from leaderboard.harness import play_entry
    from leaderboard.loading import load_agent
    from leaderboard.protocol import SuiteEntry, get_suite

    (entry,) = get_suite("vl-v0").select([RUNS[name][0]])
    count = -(-episodes // entry.episodes)
    assert entry.episodes <= SEED_STRIDE, "seeds would share deals"
    seeds = tuple(WIDER_FIRST_SEED + k * SEED_STRIDE for k in range(count))
    wide = SuiteEntry(entry.env_id, dict(entry.kwargs), entry.episodes, seeds)
    returns = {
        name: play_entry(load_agent(f"run:{folder}"), wide, agent_name="vlm", text_actions=True).returns,
        "optimum": solver_returns(wide),
    }
    record: dict[str, Any] = {
        "run": name,
        "seeds": [seeds[0], seeds[-1]],
        "episodes": len(seeds) * entry.episodes,
    }
    for who, played in returns.items():
        wins = int(np.sum(np.asarray(played) > 0))
        low, high = success_interval(wins, record["episodes"])
        record["optimum" if who == "optimum" else "agent"] = {
            "success_rate": 100.0 * wins / record["episodes"],
            "low": low,
            "high": high,
        }
    return record


def wider_sentence(data: dict[str, Any]) -> str:
    """The page's sentence on the wider sample (empty when the file has none)."""
    wide = data.get("wider_sample")
    if not wide:
        return ""
    agent, optimum = wide["agent"], wide["optimum"]
    game = game_of(data["runs"][wide["run"]]["env"])
    return (
        f"On {wide['episodes']:,} fresh {game} episodes (seeds {wide['seeds'][0]:,} to {wide['seeds'][1]:,} "
        f"in steps of {SEED_STRIDE:,}, none of `vl-v0`'s), "
        f"`{wide['run']}` wins {agent['success_rate']:.1f}% "
        f"[{agent['low']:.1f}, {agent['high']:.1f}] and the exact policy {optimum['success_rate']:.1f}% "
        f"[{optimum['low']:.1f}, {optimum['high']:.1f}] (Wilson 95% intervals), against RL4VLM's "
        f"{RL4VLM_SUCCESS[game]:.1f}%."
    )


def check_play(folder: Path, env_id: str) -> dict[str, Any]:
    """The check the shipped-checkpoint test replays: a few greedy episodes of the first dev seed."""
    from leaderboard.harness import play_entry
    from leaderboard.loading import load_agent
    from leaderboard.protocol import SuiteEntry, get_suite

    (entry,) = get_suite("vl-v0").select([env_id])
    small = SuiteEntry(entry.env_id, dict(entry.kwargs), CHECK_EPISODES, entry.seeds[:1])
    played = play_entry(load_agent(f"run:{folder}"), small, agent_name="vlm", text_actions=True)
    return {
        "seed": entry.seeds[0],
        "episodes": CHECK_EPISODES,
        "returns": np.asarray(played.returns, dtype=float).ravel().tolist(),
    }


def encoder_after_reading(run: dict[str, Any]) -> str:
    """What SFT and PPO did with the encoder the reading stage trained ("-": no reading stage)."""
    changes = run["config_changes"]
    if not changes.get("sft.align_steps"):
        return "-"
    return "frozen" if changes.get("freeze_encoder") else "trained"


def results_table(data: dict[str, Any]) -> str:
    """The page's table: every run beside RL4VLM's success rate and the exact optimum's."""
    best = best_success_rates()
    on_deals = data["optimum_on_deals"]
    lines = [
        "| game | run | parameters | thoughts | projector | encoder after reading | SFT steps "
        "| PPO iterations | success % "
        "| normalized score | parse failures | train wall s | RL4VLM 7B success % | optimum success % "
        "| optimum on these deals % |",
        "|---|---|--:|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for game in GAME_NAMES:
        for name, run in data["runs"].items():
            if game_of(run["env"]) != game:
                continue
            lines.append(
                f"| {game} | {name} | {run['parameters']:,} | {'yes' if run['thoughts'] else 'no'} "
                f"| {run['projector']} | {encoder_after_reading(run)} | {run['sft_steps']} | {run['ppo_iterations']} "
                f"| {run['success_rate']:.1f} | {run['normalized_score']:.1f} "
                f"| {run['parse_failures']} of {run['decisions']} | {run['train_wall_s']:.0f} "
                f"| {RL4VLM_SUCCESS[game]} | {best[game]:.1f} | {on_deals[game]:.1f} |"
            )
    load = sorted(
        {run["provenance"]["machine"]["load_average_1_5_15_min"][0] for run in data["runs"].values()}
    )
    note = (
        f"CPU runs, one thread each, on a shared 2-core machine (load average {load[0]}-{load[-1]} when "
        f"they started): wall times are those of a loaded machine."
    )
    return "\n".join(lines) + "\n\n" + note


def sweep_table(data: dict[str, Any], sweep: str) -> str:
    """The page's table of a seed sweep (:data:`SEED_SWEEPS`): each run's success on ``vl-v0`` per
    training seed (seed 0 is the run without a seed suffix)."""
    seeds, pairs = SEED_SWEEPS[sweep]
    lines = [
        f"| {sweep} | " + " | ".join(f"seed {s} success %" for s in seeds) + " | mean | lowest |",
        "|---|" + "--:|" * (len(seeds) + 2),
    ]
    for label, base in pairs:
        rates = [data["runs"][seeded(base, s)]["success_rate"] for s in seeds]
        lines.append(
            f"| {label} | "
            + " | ".join(f"{r:.1f}" for r in rates)
            + f" | {np.mean(rates):.1f} | {min(rates):.1f} |"
        )
    return "\n".join(lines)


def swept(data: dict[str, Any]) -> list[str]:
    """The sweeps whose every run the file holds."""
    return [
        sweep
        for sweep, (seeds, pairs) in SEED_SWEEPS.items()
        if all(seeded(name, s) in data["runs"] for _, name in pairs for s in seeds)
    ]


def reading_table(data: dict[str, Any]) -> str:
    """The page's reading-stage table: at the end of each per-card reading stage, the held-out
    accuracy of the worst probe of each kind (the cards' ranks, the rest: formula slots or totals)."""
    lines = [
        "| run | frames | reading steps | worst card probe % | worst other probe % |",
        "|---|--:|--:|--:|--:|",
    ]
    for name, run in data["runs"].items():
        accuracy = (run["curves"].get("align_accuracy") or [None])[-1]
        if not accuracy or run["starts_from"]:
            continue
        cards = [v for slot, v in accuracy.items() if "card" in slot]  # "card 0", "dealer card", ...
        others = [v for slot, v in accuracy.items() if "card" not in slot and slot != "min"]
        lines.append(
            f"| {name} | {run['config_changes']['sft.align_frames']:,} | {run['curves']['align_step'][-1]} "
            f"| {100 * min(cards):.1f} | {100 * min(others):.1f} |"
        )
    return "\n".join(lines)


def commands_block(data: dict[str, Any]) -> str:
    """The page's commands: each run's, as the file records it."""
    return "```bash\n" + "\n".join(run["command"] for run in data["runs"].values()) + "\n```"


def plot_curves(data: dict[str, Any], out: Path = CURVES_PLOT) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # One SFT panel per game and one PPO panel, legends beside them: one panel held 30 curves.
    fig, axes = plt.subplots(3, 2, figsize=(13, 11))
    sft = dict(zip(GAME_NAMES, axes.flat))
    ppo = axes.flat[len(GAME_NAMES)]
    axes.flat[len(GAME_NAMES) + 1].set_axis_off()
    for ax in axes.flat:  # more runs than the default ten colours
        ax.set_prop_cycle(color=plt.cm.tab20.colors)
    for name, run in data["runs"].items():
        if "-seed" in name:  # the seed sweeps have their own tables; their curves would hide the rest
            continue
        curves_ = run["curves"]
        if curves_["sft_step"] and not run["starts_from"]:
            sft[game_of(run["env"])].plot(curves_["sft_step"], curves_["sft_loss"], label=name)
        if curves_["ppo_iteration"]:
            rates = [np.nan if r is None else 100 * r for r in curves_["ppo_success_rate"]]
            ppo.plot(curves_["ppo_iteration"], rates, marker="o", label=name)
    for game, ax in sft.items():
        ax.set(
            xlabel="SFT step",
            ylabel="answer-token loss",
            yscale="log",
            title=f"{game}: supervised warm start",
        )
    ppo.set(xlabel="PPO iteration", ylabel="success % (rollout episodes)", title="PPO (every game)")
    for ax in axes.flat:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return save_figure(fig, out)


def checkpoint_name(env_id: str) -> str:
    """The shipped checkpoint of a game's best run: ``vlm-<game>`` (``vlm-numberline``)."""
    return f"vlm-{game_of(env_id).lower()}"


def ship(name: str, folder: Path) -> Path:
    target = CHECKPOINTS_DIR / checkpoint_name(RUNS[name][0])
    target.mkdir(parents=True, exist_ok=True)
    for file in ("config.json", "tokenizer.json", "model.safetensors", "agent.json"):
        shutil.copy2(folder / file, target / file)
    config = json.loads((target / "config.json").read_text())
    config["out"] = str(target.relative_to(ROOT))
    (target / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (target / "state.json").write_text((folder / "state.json").read_text())
    (target / "COMMAND").write_text(command(name) + "\n")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default="", help=f"comma-separated, of: {', '.join(RUNS)}")
    parser.add_argument("--work", type=Path, default=Path("/tmp/vlm-runs"), help="where run folders go")
    parser.add_argument("--out", type=Path, default=None, help=f"default {OUTPUT.relative_to(ROOT)} (cpu)")
    parser.add_argument("--size", choices=sorted(SIZES), default="cpu", help="gpu: GPU_SIZE on top (pending)")
    parser.add_argument(
        "--ship",
        default="",
        help="comma-separated runs already made: copy each into baselines/checkpoints/vlm-<game>",
    )
    parser.add_argument(
        "--wider",
        default="",
        help="RUN[:EPISODES]: that run and the exact solver on EPISODES (default 5000) fresh episodes",
    )
    parser.add_argument(
        "--read-check",
        default="",
        help="comma-separated recorded SFT runs, or 'all' that --work holds: the trainer's read check of each",
    )
    parser.add_argument("--render", action="store_true", help="print the page's table, redraw the plot")
    parser.add_argument(
        "--refresh-curves",
        action="store_true",
        help="re-read the metrics.jsonl of every recorded run that --work holds",
    )
    args = parser.parse_args()
    if args.out is None:
        args.out = OUTPUT if args.size == "cpu" else OUTPUT.with_name("vlm_gpu_results.json")
    names = [n for n in args.runs.split(",") if n]
    shipped = [n for n in args.ship.split(",") if n]
    unknown = [n for n in names + shipped if n not in RUNS]
    if unknown:
        parser.error(f"--runs: unknown {', '.join(unknown)}; known: {', '.join(RUNS)}")
    torch.set_num_threads(1)
    data = data_record.read(args.out) if args.out.is_file() else {"runs": {}}
    top = data.pop("provenance", None)
    for name in names:
        started = data_record.provenance("docs/scripts/vlm_results.py")
        folder = train_run(name, args.work, args.size)
        model, _, config = load_model(folder)
        state = json.loads((folder / "state.json").read_text())
        record = {
            "env": config.env,
            "starts_from": RUNS[name][1],
            "parameters": model.parameter_count(),
            "train_wall_s": state["elapsed_s"],
            "sft_steps": state["sft_steps"],
            "ppo_iterations": state["ppo_iterations"],
            "thoughts": config.thoughts,
            "projector": config.model.projector,
            "config_changes": changed_fields(name, args.size),
            "command": command(name, args.size),
            **score(name, folder),
            "curves": curves(folder),
            **logged_read_check(folder),
            "provenance": started,
        }
        data["runs"][name] = record
        print(
            name, {k: record[k] for k in ("success_rate", "normalized_score", "parameters", "train_wall_s")}
        )
        data_record.write(args.out, copy.deepcopy(started), data)
        top = started
    if "optimum_on_deals" not in data:
        data["optimum_on_deals"] = optimum_on_suite_deals()
        data_record.write(args.out, top, data)
    if args.wider:
        name, _, count = args.wider.partition(":")
        if name not in data["runs"] or not (args.work / name / "model.safetensors").is_file():
            raise SystemExit(f"--wider {name}: make the run first (--runs {name}) with the same --work")
        data["wider_sample"] = wider_sample(name, args.work / name, int(count or 5000))
        data_record.write(args.out, data_record.provenance("docs/scripts/vlm_results.py"), data)
        print(wider_sentence(data))
    if args.refresh_curves:
        for name, record in data["runs"].items():
            if (args.work / name / "metrics.jsonl").is_file():
                record["curves"] = curves(args.work / name)
        data_record.write(args.out, top, data)
    if args.read_check:
        checked = [n for n in args.read_check.split(",") if n]
        if checked == ["all"]:
            checked = [
                n
                for n, r in data["runs"].items()
                if not r["starts_from"] and (args.work / n / "config.json").is_file()
            ]
        for name in checked:
            if name not in data["runs"] or not (args.work / name / "model.safetensors").is_file():
                raise SystemExit(
                    f"--read-check {name}: make the run first (--runs {name}) with the same --work"
                )
            data["runs"][name]["read_check"] = read_check_of(args.work / name)
            print(name, data["runs"][name]["read_check"])
        data_record.write(args.out, data_record.provenance("docs/scripts/vlm_results.py"), data)
    for name in shipped:
        folder = args.work / name
        if name not in data["runs"] or not (folder / "model.safetensors").is_file():
            raise SystemExit(f"--ship {name}: make the run first (--runs {name}) with the same --work")
        for other in data["runs"].values():  # the game's checkpoint was another run's until now
            if other["env"] == RUNS[name][0]:
                other.pop("check", None)
        data["runs"][name]["check"] = check_play(folder, RUNS[name][0])
        data_record.write(args.out, data["runs"][name]["provenance"], data)
        print("shipped", ship(name, folder))
    if args.render or names or shipped or args.refresh_curves or args.read_check:
        data = data_record.read(args.out)
        tables = [
            results_table(data),
            reading_table(data),
            read_check_table(data),
            *(sweep_table(data, s) for s in swept(data)),
        ]
        print(*tables, commands_block(data), sep="\n\n")
        print("wrote", plot_curves(data), plot_read_check(data))


if __name__ == "__main__":
    main()
