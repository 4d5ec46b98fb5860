"""Blackjack throughput against its anchors, each ratio measured in the same test (issue 3).

- symbolic single env vs Gymnasium's Blackjack-v1 (both through ``gym.make``): >= 1x;
- image observations vs Blackjack-v1 with ``render_mode="rgb_array"`` and ``render()`` every step: >= 3x;
- the native vector env (1024 envs, symbolic) vs ``SyncVectorEnv`` over our single env: >= 50x.

Every stepper plays the same fixed random actions and resets when a hand ends, so both sides pay
for deals as in a long run.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import icl_envs  # noqa: F401  (registers the ids)
from benchmarks.ratio import speed_ratio

MIN_SYMBOLIC_RATIO = 1.0
MIN_IMAGE_RATIO = 3.0
MIN_VECTOR_RATIO = 50.0
NUM_ENVS = 1024


def _single_stepper(env: gym.Env, steps: int, render: bool = False):
    actions = np.random.default_rng(0).integers(0, 2, steps).tolist()
    env.reset(seed=0)

    def run() -> None:
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            if render:
                env.render()
            if terminated or truncated:
                env.reset()

    return run


def _vector_stepper(envs: gym.vector.VectorEnv, steps: int):
    actions = np.random.default_rng(0).integers(0, 2, (steps, envs.num_envs))
    envs.reset(seed=0)

    def run() -> None:
        for step_actions in actions:
            envs.step(step_actions)

    return run


def test_blackjack_symbolic_speed(benchmark):
    ours = gym.make("icl/Blackjack-v0", obs_mode="symbolic")
    theirs = gym.make("Blackjack-v1")
    steps = 10_000
    ratio = speed_ratio(
        benchmark,
        _single_stepper(ours, steps),
        _single_stepper(theirs, steps),
        ours_work=steps,
        anchor_work=steps,
        label="symbolic/Blackjack-v1",
    )
    assert ratio >= MIN_SYMBOLIC_RATIO, (
        f"symbolic Blackjack is {ratio:.2f}x Blackjack-v1 (need >= {MIN_SYMBOLIC_RATIO}x)"
    )


def test_blackjack_image_speed(benchmark):
    ours = gym.make("icl/Blackjack-v0", obs_mode="image")
    theirs = gym.make("Blackjack-v1", render_mode="rgb_array")
    ours_steps, their_steps = 1_000, 200  # theirs is slower; both calls take a similar time
    ratio = speed_ratio(
        benchmark,
        _single_stepper(ours, ours_steps),
        _single_stepper(theirs, their_steps, render=True),
        ours_work=ours_steps,
        anchor_work=their_steps,
        label="image/Blackjack-v1+render",
    )
    ours.close()
    theirs.close()
    assert ratio >= MIN_IMAGE_RATIO, (
        f"image Blackjack is {ratio:.2f}x Blackjack-v1 rendering (need >= {MIN_IMAGE_RATIO}x)"
    )


def test_blackjack_vector_speed(benchmark):
    ours = gym.make_vec(
        "icl/Blackjack-v0", NUM_ENVS, vectorization_mode="vector_entry_point", obs_mode="symbolic"
    )
    sync = gym.make_vec(
        "icl/Blackjack-v0",
        NUM_ENVS,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP},
        obs_mode="symbolic",
    )
    ours_steps, sync_steps = 500, 10
    ratio = speed_ratio(
        benchmark,
        _vector_stepper(ours, ours_steps),
        _vector_stepper(sync, sync_steps),
        ours_work=ours_steps * NUM_ENVS,
        anchor_work=sync_steps * NUM_ENVS,
        label="vector/sync",
    )
    ours.close()
    sync.close()
    assert ratio >= MIN_VECTOR_RATIO, (
        f"vector Blackjack is {ratio:.1f}x SyncVectorEnv (need >= {MIN_VECTOR_RATIO}x)"
    )
