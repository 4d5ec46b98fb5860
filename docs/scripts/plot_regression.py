"""Error against context length for the classic regression baselines, on every regression env.

Runs each baseline of ``baselines.classic.regression.BASELINES_BY_ENV`` through whole episodes of the
native vector env (seed 0, one episode per env copy), writes the errors with their standard errors
to docs/data/regression_errors.json, the plot docs/img/regression_error_vs_context.png, and prints
the Markdown table of reference errors that docs/envs/regression.md quotes (``table``, from the data
file; tests/test_docs_figures.py checks the page against it).

    python docs/scripts/plot_regression.py [--episodes 4000]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]
os.environ.setdefault("MPLBACKEND", "Agg")

import context_errors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

import baselines.classic.regression as classic  # noqa: E402

OUTPUT = ROOT / "docs" / "img" / "regression_error_vs_context.png"
DATA = ROOT / "docs" / "data" / "regression_errors.json"


#: (env id, kwargs, baselines) per panel: every env at its defaults, plus noisy linear regression
#: where ridge (the posterior mean) and least squares part ways.
PANELS = [(env_id, {}, names) for env_id, names in classic.BASELINES_BY_ENV.items()]
PANELS.insert(
    1,
    (
        "icl/LinearRegression-v0",
        {"noise_std": 0.5},
        ("ZeroPredictor", "GD", "PreconditionedGD", "GDPlusPlus", "LeastSquares", "Ridge"),
    ),
)


def measure(episodes: int) -> dict:
    """Every panel's curves: ``panels[i]`` holds the env, its n and d, and per baseline the output
    of ``errors_by_length``."""
    panels = []
    for env_id, env_kwargs, names in PANELS:
        spec_env = gym.make(env_id, **env_kwargs).unwrapped
        label = env_id + "".join(f", {key}={value}" for key, value in env_kwargs.items())
        curves = {
            name: context_errors.errors_by_length(env_id, env_kwargs, getattr(classic, name)(), episodes)
            for name in names
        }
        panels.append({"label": label, "n": spec_env.n, "d": spec_env.d, "curves": curves})
    return {"episodes": episodes, "seed": 0, "panels": panels}


def table(data: dict) -> str:
    """The page's table of reference errors, from the data file."""
    lines = [
        "| env | baseline | t = 1 | t = d | t = min(2d, n-1) | t = n-1 | mean over the episode ± SE |",
        "|---|---|---|---|---|---|---|",
    ]
    for panel in data["panels"]:
        n, d = panel["n"], panel["d"]
        for name, curve in panel["curves"].items():
            errors = curve["mean"]
            row = [errors[1], errors[d], errors[min(2 * d, n - 1)], errors[n - 1]]
            cells = [f"{value:.3f}" for value in row] + [
                f"{curve['episode_mean']:.3f} ± {curve['episode_stderr']:.3f}"
            ]
            lines.append(f"| `{panel['label']}` | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(data: dict) -> Path:
    figure, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    axes = axes.ravel()
    for ax, panel in zip(axes, data["panels"]):
        n, d = panel["n"], panel["d"]
        ceiling = 0.0
        for name, curve in panel["curves"].items():
            ax.plot(np.arange(n), curve["mean"], label=name, ls="--" if name == "Ridge" else "-")
            if name == "ZeroPredictor":
                ceiling = curve["episode_mean"]
        ax.set_ylim(0, 1.4 * ceiling)  # averaging at t = 1 and least squares near t = d go far above
        ax.axvline(d, color="grey", lw=0.5, ls=":")
        ax.set_title(panel["label"].removeprefix("icl/") + f" (d={d}, n={n})", fontsize=9)
        ax.set_xlabel("context length t")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    for ax in axes[len(data["panels"]) :]:
        ax.set_visible(False)
    axes[0].set_ylabel("mean squared error")
    axes[3].set_ylabel("mean squared error")
    figure.tight_layout()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(OUTPUT, dpi=110)
    return OUTPUT


def main() -> None:
    context_errors.main("docs/scripts/plot_regression.py", 4000, measure, table, plot, DATA)


if __name__ == "__main__":
    main()
