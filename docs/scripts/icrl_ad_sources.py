"""Can Algorithm Distillation learn the Dark Room in context at CPU size? AD trained on the
histories of two sources, the in-trial Q-learner (the page's default) and the sweep explorer (an
in-context learner that finds the goal, then walks back to it), in a small room and in the 9 × 9
room of icrl-v0, against the sources themselves and the random policy.

Reuses the curves of docs/scripts/icrl_curves.py (same seed of test tasks, same measurement).
Writes docs/data/icrl_ad_sources.json and docs/img/icrl_ad_sources.png, and prints the table
docs/envs/icrl.md quotes (``table``; tests/test_docs_figures.py checks the page against the file).

    python docs/scripts/icrl_ad_sources.py [--trials 200] [--runs /tmp/icrl-ad-sources]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# As a plain script, with or without the package installed; icrl_curves is this folder's script.
sys.path[:0] = [str(ROOT), str(ROOT / "docs" / "scripts")]
os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from icrl_curves import curves  # noqa: E402

from baselines.classic.random_agent import RandomAgent  # noqa: E402
from baselines.classic.rooms import QLearner, SweepExplorer, oracle_return  # noqa: E402
from baselines.icrl.agent import load_run_agent  # noqa: E402
from baselines.icrl.model import ModelConfig  # noqa: E402
from baselines.icrl.train import TrainConfig, train  # noqa: E402
from benchmarks import data_record  # noqa: E402

DATA = ROOT / "docs" / "data" / "icrl_ad_sources.json"
PLOT = ROOT / "docs" / "img" / "icrl_ad_sources.png"
ROOMS = {
    "5 × 5, 10 steps, 6 sub-episodes": {"size": 5, "horizon": 10, "episodes_per_trial": 6},
    "9 × 9, 20 steps, 10 sub-episodes (icrl-v0)": {"size": 9, "horizon": 20, "episodes_per_trial": 10},
}
SOURCES = {"Q-learner": ("qlearner", QLearner), "sweep explorer": ("sweep", SweepExplorer)}
#: The training of every AD run (CPU size: a few minutes each on a shared 2-core machine).
TRAINING = {"tasks": 2000, "steps": 600, "batch_size": 16, "layers": 2, "heads": 2, "width": 64}


def train_ad(source: str, kwargs: dict, runs: Path) -> Path:
    config = TrainConfig(
        method="ad",
        env="icl/DarkRoom-v0",
        env_kwargs=json.dumps(kwargs),
        source=source,
        tasks=TRAINING["tasks"],
        model=ModelConfig(layers=TRAINING["layers"], heads=TRAINING["heads"], width=TRAINING["width"]),
        steps=TRAINING["steps"],
        batch_size=TRAINING["batch_size"],
        lr=1e-3,
        lr_final=1e-4,
        out=str(runs / f"ad-{source}-{kwargs['size']}"),
        progress=False,
    )
    return train(config)


def measure(trials: int, runs: Path) -> dict:
    rooms = {}
    for label, kwargs in ROOMS.items():
        methods = {"random": curves(RandomAgent(), "icl/DarkRoom-v0", kwargs, trials)}
        for name, (_, agent) in SOURCES.items():
            methods[name] = curves(agent(), "icl/DarkRoom-v0", kwargs, trials)
        for name, (source, _) in SOURCES.items():
            print(f"training AD on {label} from the {name}", flush=True)
            run_dir = train_ad(source, kwargs, runs)
            curve = curves(load_run_agent(run_dir), "icl/DarkRoom-v0", kwargs, trials)
            metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
            curve["final_loss"] = metrics[-1]["loss"]
            curve["training_s"] = metrics[-1]["elapsed_s"]
            methods[f"AD ({name} source)"] = curve
        oracle = oracle_return("icl/DarkRoom-v0", **kwargs) / kwargs["episodes_per_trial"]
        rooms[label] = {"kwargs": kwargs, "oracle_per_episode": oracle, "methods": methods}
    return {"trials": trials, "training": TRAINING, "rooms": rooms}


def table(data: dict) -> str:
    """The page's table, from the data file."""
    lines = [
        "| room | method | sub-episode 1 | sub-episode 2 | last sub-episode | trial return ± SE |",
        "|---|---|---|---|---|---|",
    ]
    for label, room in data["rooms"].items():
        for name, curve in room["methods"].items():
            by = curve["by_episode"]
            lines.append(
                f"| {label} | {name} | {by[0]:.2f} | {by[1]:.2f} | {by[-1]:.2f} | "
                f"{curve['mean']:.2f} ± {curve['stderr']:.2f} |"
            )
        oracle = room["oracle_per_episode"]
        lines.append(f"| {label} | oracle (exact) | {oracle:.2f} | {oracle:.2f} | {oracle:.2f} | |")
    return "\n".join(lines)


def plot(data: dict) -> None:
    fig, axes = plt.subplots(1, len(data["rooms"]), figsize=(5 * len(data["rooms"]), 3.8))
    for ax, (label, room) in zip(axes, data["rooms"].items()):
        for name, curve in room["methods"].items():
            by = curve["by_episode"]
            ax.plot(
                np.arange(1, len(by) + 1),
                by,
                marker=".",
                ls="--" if name.startswith("AD") else "-",
                label=name,
            )
        ax.axhline(room["oracle_per_episode"], color="black", ls=":", lw=1, label="oracle")
        ax.set_xlabel("sub-episode of the trial")
        ax.set_ylabel("mean return")
        ax.set_title(f"Dark Room {label} ({data['trials']} trials)", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--runs", default="/tmp/icrl-ad-sources", help="where the AD run folders go")
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny tensors on a shared CPU: see tests/conftest.py
    started = data_record.provenance("docs/scripts/icrl_ad_sources.py")
    data = measure(args.trials, Path(args.runs))
    data_record.write(DATA, started, data)
    plot(data)
    print(table(data))


if __name__ == "__main__":
    main()
