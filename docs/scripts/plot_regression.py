"""Error against context length for the classic regression baselines, on every regression env.

Runs each baseline of ``baselines.classic.regression.BASELINES_BY_ENV`` through whole episodes of the
native vector env (seed 0, one episode per env copy), writes docs/img/regression_error_vs_context.png
and prints the Markdown table of reference errors that docs/envs/regression.md quotes.

    python docs/scripts/plot_regression.py [--episodes 1000]
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
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib.pyplot as plt  # noqa: E402

import baselines.classic.regression as classic  # noqa: E402

OUTPUT = ROOT / "docs" / "img" / "regression_error_vs_context.png"


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


def errors_by_length(env_id: str, env_kwargs: dict, agent_name: str, episodes: int) -> np.ndarray:
    """Mean squared error at each step of an episode (context length t = 0..n-1)."""
    env = gym.make_vec(env_id, episodes, **env_kwargs)
    agent = getattr(classic, agent_name)()
    agent.reset(env_id, env_kwargs)
    obs, _ = env.reset(seed=0)
    errors = []
    for _ in range(env.unwrapped.n):
        obs, reward, _, _, _ = env.step(agent.act_batch(obs))
        errors.append(-reward.mean())
    env.close()
    return np.array(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=4000, help="episodes per baseline and env")
    args = parser.parse_args()
    start = time.perf_counter()
    figure, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    axes = axes.ravel()
    table = [
        "| env | baseline | t = 1 | t = d | t = min(2d, n-1) | t = n-1 | mean over the episode |",
        "|---|---|---|---|---|---|---|",
    ]
    for ax, (env_id, env_kwargs, names) in zip(axes, PANELS):
        spec_env = gym.make(env_id, **env_kwargs).unwrapped
        n, d = spec_env.n, spec_env.d
        ceiling = 0.0
        label = env_id + "".join(f", {key}={value}" for key, value in env_kwargs.items())
        for name in names:
            errors = errors_by_length(env_id, env_kwargs, name, args.episodes)
            ax.plot(np.arange(n), errors, label=name, ls="--" if name == "Ridge" else "-")
            if name == "ZeroPredictor":
                ceiling = errors.mean()
            row = [errors[1], errors[d], errors[min(2 * d, n - 1)], errors[n - 1], errors.mean()]
            table.append(f"| `{label}` | {name} | " + " | ".join(f"{value:.3f}" for value in row) + " |")
        ax.set_ylim(0, 1.4 * ceiling)  # averaging at t = 1 and least squares near t = d go far above
        ax.axvline(d, color="grey", lw=0.5, ls=":")
        ax.set_title(label.removeprefix("icl/") + f" (d={d}, n={n})", fontsize=9)
        ax.set_xlabel("context length t")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    for ax in axes[len(PANELS) :]:
        ax.set_visible(False)
    axes[0].set_ylabel("mean squared error")
    axes[3].set_ylabel("mean squared error")
    figure.tight_layout()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(OUTPUT, dpi=110)
    print("\n".join(table))
    print(
        f"\nwrote {OUTPUT.relative_to(ROOT)} in {time.perf_counter() - start:.1f} s ({args.episodes} episodes per curve)"
    )


if __name__ == "__main__":
    main()
