"""The error of an agent at each context length of an in-context prediction env, with its standard
error: what docs/scripts/plot_regression.py and plot_mrp.py measure and write to docs/data/, and the
command line both run."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np

from benchmarks import data_record


def errors_by_length(env_id: str, env_kwargs: dict, agent, episodes: int, seed: int = 0) -> dict:
    """Squared error at each step t = 0..n-1 of ``episodes`` episodes (one per copy of the native
    vector env, reset with ``seed``): the mean over episodes and its standard error at each t, and
    the same for the mean over an episode's steps (minus its return divided by n)."""
    env = gym.make_vec(env_id, episodes, **env_kwargs)
    agent.reset(env_id, env_kwargs)
    obs, _ = env.reset(seed=seed)
    errors = []
    for _ in range(env.unwrapped.n):
        obs, reward, _, _, _ = env.step(agent.act_batch(obs))
        errors.append(-np.asarray(reward, dtype=np.float64))
    env.close()
    errors = np.stack(errors)  # (n, episodes)
    per_episode = errors.mean(axis=0)
    root = np.sqrt(episodes)
    return {
        "mean": errors.mean(axis=1).tolist(),
        "stderr": (errors.std(axis=1, ddof=1) / root).tolist(),
        "episode_mean": float(per_episode.mean()),
        "episode_stderr": float(per_episode.std(ddof=1) / root),
    }


def main(
    script: str,
    default_episodes: int,
    measure: Callable[[int], dict],
    table: Callable[[dict], str],
    plot: Callable[[dict], Path],
    data_path: Path,
) -> None:
    """Measure with ``--episodes``, write ``data_path`` (naming ``script``), plot, print the table."""
    parser = argparse.ArgumentParser(description=f"python {script} [--episodes N]")
    parser.add_argument(
        "--episodes", type=int, default=default_episodes, help="episodes per baseline and env"
    )
    args = parser.parse_args()
    started, start = data_record.provenance(script), time.perf_counter()
    data = measure(args.episodes)
    data_record.write(data_path, started, data)
    image = plot(data)
    print(table(data))
    print(
        f"\nwrote {data_path.name} and {image.name} in {time.perf_counter() - start:.1f} s ({args.episodes} episodes per curve)"
    )
