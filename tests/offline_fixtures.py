"""Tiny Minari datasets for the offline models' tests, built through Minari's own API.

Episodes are played one env at a time (a few dozen: fast enough) by a policy mixing the exact
solver's action with uniform random ones, then written with ``minari.create_dataset_from_buffers``
under the caller's ``MINARI_DATASETS_PATH``.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

import icl_envs  # noqa: F401  (registers the icl/ ids)
from baselines.classic.number_games import numberline_optimal_action


def numberline_optimal(obs) -> int:
    return numberline_optimal_action(int(obs["current"]), int(obs["target"]))


def _stack(observations: list):
    first = observations[0]
    if isinstance(first, dict):
        return {key: _stack([o[key] for o in observations]) for key in first}
    if isinstance(first, tuple):
        return tuple(_stack([o[i] for o in observations]) for i in range(len(first)))
    return np.stack([np.asarray(o) for o in observations])


def play_episodes(
    env_id: str, episodes: int, policy: Callable, *, random_share: float = 0.0, seed: int = 0, **kwargs
) -> list:
    """``episodes`` EpisodeBuffers of ``env_id``: each step random with probability ``random_share``."""
    from minari.data_collector import EpisodeBuffer

    env = gym.make(env_id, **kwargs)
    env.action_space.seed(seed)
    rng = np.random.default_rng(seed)
    buffers = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        observations, actions, rewards, terminations, truncations = [obs], [], [], [], []
        done = False
        while not done:
            action = env.action_space.sample() if rng.random() < random_share else policy(obs)
            obs, reward, terminated, truncated, _ = env.step(action)
            observations.append(obs)
            actions.append(action)
            rewards.append(float(reward))
            terminations.append(bool(terminated))
            truncations.append(bool(truncated))
            done = terminated or truncated
        buffers.append(
            EpisodeBuffer(
                id=episode,
                seed=seed + episode,
                observations=_stack(observations),
                actions=np.asarray(actions, dtype=np.int64),
                rewards=rewards,
                terminations=terminations,
                truncations=truncations,
                infos={},
            )
        )
    env.close()
    return buffers


def make_dataset(dataset_id: str, env_id: str, buffers: list, **kwargs):
    """Write ``buffers`` as the Minari dataset ``dataset_id`` (with the env's spec) and return it."""
    import minari

    return minari.create_dataset_from_buffers(
        dataset_id, buffers, env=gym.make(env_id, **kwargs).spec, algorithm_name="test policy"
    )


def numberline_dataset(
    dataset_id: str = "test/numberline/mixed-v0", episodes: int = 40, random_share: float = 0.3, seed: int = 0
):
    buffers = play_episodes(
        "icl/NumberLine-v0",
        episodes,
        numberline_optimal,
        random_share=random_share,
        seed=seed,
        obs_mode="symbolic",
    )
    return make_dataset(dataset_id, "icl/NumberLine-v0", buffers, obs_mode="symbolic")


def torchrun_losses(dataset_id: str, out: str, processes: int, options: list[str]) -> list[float]:
    """The logged losses of ``icl-bench train dt`` under ``torchrun --nproc-per-node processes``
    (a target of ``benchmarks.live.in_loopback_namespace``: the process group binds loopback)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
        "-m", "baselines.offline.cli", "dt", "--dataset", dataset_id, "--out", out,
        *[part for option in options for part in ("--set", option)],
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, timeout=240)
    if finished.returncode != 0:
        raise RuntimeError(
            f"torchrun failed ({finished.returncode}):\n{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}"
        )
    lines = Path(out, "metrics.jsonl").read_text().splitlines()
    return [json.loads(line)["loss"] for line in lines if "loss" in json.loads(line)]


class ObservingAgent:
    """Moves right after an even number of ``observe`` calls, left after an odd one (with
    ``observing=False`` it has no ``observe`` and always moves right): its episodes show whether the
    harness called ``observe``."""

    def __init__(self, observing: bool = True) -> None:
        self.calls = 0
        if observing:
            self.observe = self._observe

    def _observe(self, rewards, terminated, truncated) -> None:
        self.calls += 1

    def act_batch(self, obs):
        return np.full(len(obs["current"]), 1 - self.calls % 2)
