"""In-context learning curves of every in-context RL baseline against the references, and the room.

Plays each classic agent of baselines/classic (bandits.py, rooms.py) and the uniformly random one on
the icrl-v0 settings (the default Bandit, Dark Room and Key-to-Door), trains Algorithm Distillation
and DPT at CPU size (baselines/icrl) and plays them too, all on tasks of one fresh seed; writes the
mean reward of every step and the mean return of every sub-episode to docs/data/icrl_curves.json,
the plot docs/img/icrl_curves.png and the room picture docs/img/icrl_room.png, and prints the
Markdown table docs/envs/icrl.md quotes (``table``, from the data file; tests/test_docs_figures.py
checks the page against it).

    python docs/scripts/icrl_curves.py [--trials 200] [--steps 600] [--runs /tmp/icrl-runs]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]  # run as a plain script, with or without the package installed
os.environ.setdefault("MPLBACKEND", "Agg")

import gymnasium as gym  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import icl_envs  # noqa: E402, F401
from baselines.classic.bandits import UCB1, EpsilonGreedy, ThompsonSampling  # noqa: E402
from baselines.classic.random_agent import RandomAgent  # noqa: E402
from baselines.classic.rooms import QLearner, SweepExplorer  # noqa: E402
from baselines.icrl.agent import load_run_agent  # noqa: E402
from baselines.icrl.model import ModelConfig  # noqa: E402
from baselines.icrl.train import TrainConfig, train  # noqa: E402
from benchmarks import data_record  # noqa: E402
from icl_envs.icrl.darkroom import DarkRoomEnv, DarkRoomTask  # noqa: E402
from icl_envs.icrl.room import move  # noqa: E402
from leaderboard.protocol import get_suite  # noqa: E402
from leaderboard.references import reference_for  # noqa: E402

DATA = ROOT / "docs" / "data" / "icrl_curves.json"
CURVES = ROOT / "docs" / "img" / "icrl_curves.png"
ROOM = ROOT / "docs" / "img" / "icrl_room.png"
SEED = 777_000  # far from the suite's seeds and from the training tasks (seeds 0..tasks-1)
#: The suite's label -> classic agents and learned methods played there.
CLASSIC = {
    "Bandit": {"UCB1": UCB1, "Thompson": ThompsonSampling, "ε-greedy": EpsilonGreedy},
    "DarkRoom": {"sweep explorer": SweepExplorer, "Q-learner": QLearner},
    "KeyToDoor": {"sweep explorer": SweepExplorer, "Q-learner": QLearner},
}
LEARNED = {"Bandit": ("ad", "dpt"), "DarkRoom": ("ad", "dpt"), "KeyToDoor": ("ad",)}
NAMES = {"ad": "AD", "dpt": "DPT"}


def curves(agent, env_id: str, kwargs: dict, trials: int) -> dict:
    """Mean reward of each step of the trial, mean return of each sub-episode, the trial's mean
    return and its standard error, over ``trials`` tasks of seed SEED."""
    env = gym.make_vec(env_id, trials, **kwargs)
    agent.reset(env_id, kwargs)
    obs, _ = env.reset(seed=SEED)
    episodes = env.single_observation_space["episode"].n
    by_step, by_episode = [], np.zeros((trials, episodes))
    done = np.zeros(trials, dtype=bool)
    while not done.all():
        sub_episode = obs["episode"]
        obs, reward, terminated, _, _ = env.step(agent.act_batch(obs))
        live = np.flatnonzero(~done)
        by_step.append(float(reward[live].mean()))
        np.add.at(by_episode, (live, sub_episode[live]), reward[live])
        done |= terminated
    totals = by_episode.sum(axis=1)
    return {
        "by_step": by_step,
        "by_episode": by_episode.mean(axis=0).tolist(),
        "mean": float(totals.mean()),
        "stderr": float(totals.std(ddof=1) / np.sqrt(trials)),
    }


def train_learned(method: str, env_id: str, steps: int, runs: Path) -> Path:
    config = TrainConfig(
        method=method,
        env=env_id,
        tasks=2000,
        model=ModelConfig(layers=2, heads=2, width=64),
        steps=steps,
        batch_size=32 if "Bandit" in env_id else 16,
        lr=1e-3,
        lr_final=1e-4,
        out=str(runs / f"{method}-{env_id.split('/')[-1]}"),
        progress=False,
    )
    return train(config)


def measure(trials: int, steps: int, runs: Path) -> dict:
    settings = []
    for entry in get_suite("icrl-v0").entries:
        if entry.label not in CLASSIC:
            continue  # the K=2 bandit's curves are those of the default one, shorter
        env_id, kwargs = entry.env_id, dict(entry.kwargs)
        reference = reference_for(entry)
        methods = {"random": curves(RandomAgent(), env_id, kwargs, trials)}
        for name, agent in CLASSIC[entry.label].items():
            methods[name] = curves(agent(), env_id, kwargs, trials)
        for method in LEARNED[entry.label]:
            print(f"training {method} on {env_id}", flush=True)
            run_dir = train_learned(method, env_id, steps, runs)
            methods[NAMES[method]] = curves(load_run_agent(run_dir), env_id, kwargs, trials)
            metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
            methods[NAMES[method]]["final_loss"] = metrics[-1]["loss"]
        settings.append(
            {
                "label": entry.label,
                "env_id": env_id,
                "kwargs": kwargs,
                "r_random": reference.r_random,
                "r_reference": reference.r_reference,
                "reference_method": reference.reference_method,
                "methods": methods,
            }
        )
    return {"trials": trials, "seed": SEED, "training_steps": steps, "settings": settings}


def normalized(setting: dict, value: float) -> float:
    return 100 * (value - setting["r_random"]) / (setting["r_reference"] - setting["r_random"])


def table(data: dict) -> str:
    """The page's table, from the data file."""
    lines = [
        "| env | method | trial return ± SE | normalized | first sub-episode | last sub-episode |",
        "|---|---|---|---|---|---|",
    ]
    for setting in data["settings"]:
        for name, curve in setting["methods"].items():
            first, last = curve["by_episode"][0], curve["by_episode"][-1]
            lines.append(
                f"| {setting['label']} | {name} | {curve['mean']:.2f} ± {curve['stderr']:.2f} | "
                f"{normalized(setting, curve['mean']):.1f} | {first:.2f} | {last:.2f} |"
            )
        lines.append(
            f"| {setting['label']} | reference ({setting['reference_method']}) | {setting['r_reference']:.2f} | 100.0 | | |"
        )
    return "\n".join(lines)


def plot(data: dict) -> None:
    fig, axes = plt.subplots(1, len(data["settings"]), figsize=(5 * len(data["settings"]), 3.8))
    for ax, setting in zip(axes, data["settings"]):
        bandit = len(next(iter(setting["methods"].values()))["by_episode"]) == 1
        for name, curve in setting["methods"].items():
            if bandit:  # one sub-episode: the reward rate along the trial, in windows of 10 pulls
                rate = np.convolve(curve["by_step"], np.ones(10) / 10, mode="valid")
                ax.plot(np.arange(len(rate)) + 10, rate, label=name)
            else:
                ax.plot(
                    np.arange(1, len(curve["by_episode"]) + 1), curve["by_episode"], marker=".", label=name
                )
        if bandit:
            steps = len(next(iter(setting["methods"].values()))["by_step"])
            ax.axhline(setting["r_reference"] / steps, color="black", ls="--", lw=1, label="oracle")
            ax.set_xlabel("pull (mean over the last 10)")
            ax.set_ylabel("mean reward")
        else:
            episodes = len(next(iter(setting["methods"].values()))["by_episode"])
            ax.axhline(setting["r_reference"] / episodes, color="black", ls="--", lw=1, label="oracle")
            ax.set_xlabel("sub-episode of the trial")
            ax.set_ylabel("mean return")
        ax.set_title(f"{setting['label']} ({data['trials']} trials)", fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(CURVES, dpi=110)
    plt.close(fig)


class _Goal:
    def __init__(self, goal: int):
        self.goal = goal

    def sample(self, np_random):
        return DarkRoomTask(self.goal)


def draw_room(goal: int = 11) -> None:
    """The 9 x 9 Dark Room: start, goal, and the sweep explorer's cells in sub-episodes 1 and 6."""
    env = DarkRoomEnv(generator=_Goal(goal))
    agent = SweepExplorer().configure(env)
    obs, _ = env.reset(seed=0)
    paths: list[list[int]] = [[int(obs["state"])]]
    over = False
    while not over:
        action = agent.act(obs)
        paths[-1].append(int(move(int(obs["state"]), action, env.size)))
        obs, _, over, _, info = env.step(action)
        if info["sub_episode_end"] and not over:
            paths.append([int(obs["state"])])
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    size = env.size
    ax.set_xlim(-0.5, size - 0.5)
    ax.set_ylim(size - 0.5, -0.5)
    ax.set_xticks(np.arange(-0.5, size, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, size, 1), minor=True)
    ax.grid(which="minor", color="#999", lw=0.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_facecolor("#222")
    for k, style in ((0, "tab:orange"), (5, "tab:cyan")):
        cells = np.array(paths[k])
        ax.plot(
            cells % size, cells // size, color=style, marker="o", ms=3, lw=2, label=f"sub-episode {k + 1}"
        )
    ax.scatter(
        [env.start_cell % size], [env.start_cell // size], s=180, marker="s", color="white", label="start"
    )
    ax.scatter([goal % size], [goal // size], s=220, marker="*", color="gold", label="goal (hidden)")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Dark Room 9×9: the sweep explorer", fontsize=10)
    fig.tight_layout()
    fig.savefig(ROOM, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--steps", type=int, default=600, help="training steps of AD and DPT")
    parser.add_argument("--runs", default="/tmp/icrl-runs", help="where the AD and DPT run folders go")
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny tensors on a shared CPU: see tests/conftest.py
    started = data_record.provenance("docs/scripts/icrl_curves.py")
    data = measure(args.trials, args.steps, Path(args.runs))
    data_record.write(DATA, started, data)
    plot(data)
    draw_room()
    print(table(data))


if __name__ == "__main__":
    main()
