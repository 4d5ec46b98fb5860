"""Throughput of the native MRPValue vector env against SyncVectorEnv over the single env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import icl_envs  # noqa: F401  (registers the ids)
from benchmarks.ratio import native_against_sync

NUM_ENVS = 1024
N = 30
# One call steps a full cycle: n scored steps plus the autoreset step, so both sides pay for one
# task draw per env per call, as in a long run.
STEPS_PER_CALL = N + 1
MIN_RATIO = 50.0  # the requirement


def _stepper(env: gym.vector.VectorEnv):
    actions = np.zeros((env.num_envs, 1), dtype=np.float32)
    env.reset(seed=0)

    def run() -> None:
        for _ in range(STEPS_PER_CALL):
            env.step(actions)

    return run


def test_mrp_vector_env_speed(benchmark):
    work = NUM_ENVS * STEPS_PER_CALL
    ratio = native_against_sync(benchmark, "icl/MRPValue-v0", NUM_ENVS, _stepper, work, rounds=3, n=N)
    assert ratio >= MIN_RATIO, f"native vector env is only {ratio:.1f}x SyncVectorEnv (need >= {MIN_RATIO}x)"
