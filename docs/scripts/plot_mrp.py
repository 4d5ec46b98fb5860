"""Error against context length for the classic policy-evaluation baselines on icl/MRPValue-v0.

Runs every agent of ``baselines.classic.mrp.AGENTS`` through whole episodes of the native vector
env (seed 0, one episode per env copy) for four task distributions, writes
docs/img/mrp_error_vs_context.png and prints the Markdown table that docs/envs/mrp.md quotes.

    python docs/scripts/plot_mrp.py [--episodes 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a plain script, with or without the package installed
os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib.pyplot as plt  # noqa: E402

import baselines.classic.mrp as classic  # noqa: E402

ENV_ID = "icl/MRPValue-v0"
OUTPUT = ROOT / "docs" / "img" / "mrp_error_vs_context.png"
#: (title, env kwargs) per panel.
PANELS = [
    ("boyan, random rewards (defaults)", {}),
    ("boyan, representable rewards", {"rewards": "representable"}),
    ("loop, representable rewards", {"mrp": "loop", "rewards": "representable"}),
    ("boyan, representable, average reward", {"rewards": "representable", "objective": "average_reward"}),
]
LABELS = {
    "zero": "zero",
    "td0": "batch TD(0), 10 steps",
    "td_lambda": "batch TD(0.5), 10 steps",
    "residual_gradient": "residual gradient, 10 steps",
    "average_reward_td": "average-reward TD, 10 steps",
    "lstd": "LSTD",
    "monte_carlo": "Monte Carlo",
}

COLORS = dict(
    zip(LABELS, ["black", "tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"])
)


def errors_by_length(env_kwargs: dict, name: str, episodes: int) -> np.ndarray:
    """Mean squared error at each step of an episode (context length t = 0..n-1)."""
    env = gym.make_vec(ENV_ID, episodes, **env_kwargs)
    agent = classic.AGENTS[name]()
    agent.reset(ENV_ID, env_kwargs)
    obs, _ = env.reset(seed=0)
    errors = []
    for _ in range(env.unwrapped.n):
        obs, reward, _, _, _ = env.step(agent.act_batch(obs))
        errors.append(-reward.mean())
    env.close()
    return np.array(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2000, help="episodes per baseline and panel")
    args = parser.parse_args()
    start = time.perf_counter()
    figure, axes = plt.subplots(2, 2, figsize=(11, 8), sharex=True)
    table = [
        "| tasks | baseline | t = 1 | t = 5 | t = 15 | t = 29 | mean over the episode |",
        "|---|---|---|---|---|---|---|",
    ]
    for ax, (title, env_kwargs) in zip(axes.ravel(), PANELS):
        for name in classic.AGENTS:
            if name == "average_reward_td" and env_kwargs.get("objective") != "average_reward":
                continue  # it answers the average-reward question; off the scale elsewhere
            errors = errors_by_length(env_kwargs, name, args.episodes)
            style = {"color": COLORS[name], "ls": ":" if name == "zero" else "-"}
            ax.plot(np.arange(len(errors)), errors, label=LABELS[name], **style)
            row = [errors[1], errors[5], errors[15], errors[29], errors.mean()]
            table.append(
                f"| {title} | {LABELS[name]} | " + " | ".join(f"{value:.3f}" for value in row) + " |"
            )
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="lower left")
    for ax in axes[1]:
        ax.set_xlabel("context length t (transitions seen)")
    for ax in axes[:, 0]:
        ax.set_ylabel("mean squared error of v(s_t)")
    figure.suptitle("icl/MRPValue-v0 (num_states=10, d=4, gamma=0.9, n=30): classic baselines", fontsize=11)
    figure.tight_layout()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(OUTPUT, dpi=110)
    print("\n".join(table))
    print(
        f"\nwrote {OUTPUT.relative_to(ROOT)} in {time.perf_counter() - start:.1f} s ({args.episodes} episodes per curve)"
    )


if __name__ == "__main__":
    main()
