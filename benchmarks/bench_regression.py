"""Speed of the native regression vector env against SyncVectorEnv over the single env (issue 2).

Both run whole episodes with 1024 envs, resets included (every 21st step is an autoreset), so
the ratio counts the per-env task draws that the vector env cannot batch (each env draws from its
own generator to match SyncVectorEnv exactly).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import icl_envs  # noqa: F401  (registers the ids)
from benchmarks.ratio import speed_ratio

NUM_ENVS = 1024
MIN_RATIO = 50.0  # issue 2: make_vec must be at least 50x faster than SyncVectorEnv


def _episodes(env: gym.vector.VectorEnv, num_steps: int):
    actions = np.zeros((NUM_ENVS, 1), dtype=np.float32)

    def run() -> None:
        for _ in range(num_steps):
            env.step(actions)

    return run


def test_linear_regression_vector_env_speed(benchmark):
    env_id = "icl/LinearRegression-v0"
    native = gym.make_vec(env_id, NUM_ENVS)
    sync = gym.make_vec(env_id, NUM_ENVS, vectorization_mode="sync")
    assert not isinstance(native, gym.vector.SyncVectorEnv)
    native.reset(seed=0)
    sync.reset(seed=0)
    episode_steps = native.unwrapped.n + 1  # n predictions and the autoreset step
    ours_steps, anchor_steps = 5 * episode_steps, episode_steps
    ratio = speed_ratio(
        benchmark,
        _episodes(native, ours_steps),
        _episodes(sync, anchor_steps),
        ours_work=ours_steps * NUM_ENVS,
        anchor_work=anchor_steps * NUM_ENVS,
        rounds=5,
        label="LinearRegression make_vec / SyncVectorEnv (env-steps/s)",
    )
    assert ratio >= MIN_RATIO, (
        f"native vector env only {ratio:.1f}x faster than SyncVectorEnv (need {MIN_RATIO}x)"
    )
