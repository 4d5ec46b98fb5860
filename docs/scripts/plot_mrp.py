"""Error against context length for the classic policy-evaluation baselines on icl/MRPValue-v0.

Runs every agent of ``baselines.classic.mrp.AGENTS`` through whole episodes of the native vector
env (seed 0, one episode per env copy) for four task distributions, writes the errors with their
standard errors to docs/data/mrp_errors.json, the plot docs/img/mrp_error_vs_context.png, and prints
the Markdown table that docs/envs/mrp.md quotes (``table``, from the data file;
tests/test_docs_figures.py checks the page against it).

    python docs/scripts/plot_mrp.py [--episodes 2000]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
# Run as a plain script, with or without the package installed; context_errors sits beside it.
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]
os.environ.setdefault("MPLBACKEND", "Agg")

import context_errors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

import baselines.classic.mrp as classic  # noqa: E402

ENV_ID = "icl/MRPValue-v0"
OUTPUT = ROOT / "docs" / "img" / "mrp_error_vs_context.png"
DATA = ROOT / "docs" / "data" / "mrp_errors.json"
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


def measure(episodes: int) -> dict:
    """Every panel's curves: per agent the output of ``errors_by_length``."""
    panels = []
    for title, env_kwargs in PANELS:
        curves = {}
        for name in classic.AGENTS:
            if name == "average_reward_td" and env_kwargs.get("objective") != "average_reward":
                continue  # it answers the average-reward question; off the scale elsewhere
            curves[name] = context_errors.errors_by_length(
                ENV_ID, env_kwargs, classic.AGENTS[name](), episodes
            )
        panels.append({"title": title, "kwargs": env_kwargs, "curves": curves})
    return {"episodes": episodes, "seed": 0, "panels": panels}


def table(data: dict) -> str:
    """The page's table, from the data file."""
    lines = [
        "| tasks | baseline | t = 1 | t = 5 | t = 15 | t = 29 | mean over the episode ± SE |",
        "|---|---|---|---|---|---|---|",
    ]
    for panel in data["panels"]:
        for name, curve in panel["curves"].items():
            errors = curve["mean"]
            cells = [f"{errors[t]:.3f}" for t in (1, 5, 15, 29)]
            cells.append(f"{curve['episode_mean']:.3f} ± {curve['episode_stderr']:.3f}")
            lines.append(f"| {panel['title']} | {LABELS[name]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(data: dict) -> Path:
    figure, axes = plt.subplots(2, 2, figsize=(11, 8), sharex=True)
    for ax, panel in zip(axes.ravel(), data["panels"]):
        for name, curve in panel["curves"].items():
            style = {"color": COLORS[name], "ls": ":" if name == "zero" else "-"}
            ax.plot(np.arange(len(curve["mean"])), curve["mean"], label=LABELS[name], **style)
        ax.set_yscale("log")
        ax.set_title(panel["title"], fontsize=10)
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
    return OUTPUT


def main() -> None:
    context_errors.main("docs/scripts/plot_mrp.py", 2000, measure, table, plot, DATA)


if __name__ == "__main__":
    main()
