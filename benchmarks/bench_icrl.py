"""Throughput of the native in-context RL vector envs against SyncVectorEnv over the single env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import icl_envs  # noqa: F401  (registers the ids)
from benchmarks.ratio import native_against_sync

NUM_ENVS = 512
MIN_RATIO = 50.0  # the requirement
#: Trials of 40 steps: one call of STEPS steps covers a trial end and its autoreset (the task draws)
#: for every env, and sub-episode ends in the rooms.
CASES = {
    "icl/Bandit-v0": {"horizon": 40},
    "icl/DarkRoom-v0": {"horizon": 10, "episodes_per_trial": 4},
    "icl/KeyToDoor-v0": {"horizon": 10, "episodes_per_trial": 4},
}
STEPS = 41


def _stepper(env: gym.vector.VectorEnv):
    actions = np.random.default_rng(0).integers(env.single_action_space.n, size=(STEPS, env.num_envs))
    env.reset(seed=0)

    def run() -> None:
        for step in range(STEPS):
            env.step(actions[step])

    return run


@pytest.mark.parametrize("env_id", list(CASES))
def test_icrl_vector_env_speed(benchmark, env_id):
    ratio = native_against_sync(
        benchmark, env_id, NUM_ENVS, _stepper, NUM_ENVS * STEPS, rounds=2, **CASES[env_id]
    )
    assert ratio >= MIN_RATIO, (
        f"{env_id}: native vector env is only {ratio:.1f}x SyncVectorEnv (need >= {MIN_RATIO}x)"
    )
