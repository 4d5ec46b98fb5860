"""icl/NumberLine-v0: rules, modes, seeding, frames, errors, vector env, exact references and agent."""

from __future__ import annotations

from fractions import Fraction

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import InvalidAction
from gymnasium.utils.env_checker import check_env

import icl_envs  # noqa: F401  (registers the ids)
from baselines.classic.number_games import (
    NumberLineOptimalAgent,
    numberline_dp_optimal_return,
    numberline_optimal_episode_length,
    numberline_optimal_return,
    numberline_random_return,
)
from icl_envs.cards.numberline import NumberLineEnv, NumberLineTask, NumberLineVectorEnv
from icl_envs.cards.text_protocol import TextActions

ENV_ID = "icl/NumberLine-v0"


@pytest.mark.parametrize("obs_mode", ["image", "symbolic", "text", "multimodal"])
def test_check_env_every_mode(obs_mode):
    env = gym.make(ENV_ID, obs_mode=obs_mode)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert info["action_mask"].dtype == np.int8


def test_rules_of_a_scripted_episode():
    env = NumberLineEnv(obs_mode="symbolic")
    obs, info = env.reset(options={"start": 1, "target": 3})
    assert (int(obs["current"]), int(obs["target"])) == (1, 3) and (info["current"], info["target"]) == (1, 3)
    assert env.step(0)[1:4] == (-1.0, False, False)  # away from the target
    assert env.step(0)[1:4] == (-1.0, False, False)  # into the wall at 0: the distance does not shrink
    assert env.step(1)[1:4] == (0.0, False, False)  # closer
    assert env.step(1)[1:4] == (0.0, False, False)
    obs, reward, terminated, truncated, info = env.step(1)
    assert (reward, terminated, truncated, info["current"]) == (1.0, True, False, 3)


def test_truncation_after_twice_max_position_steps():
    env = NumberLineEnv(max_position=5, obs_mode="symbolic")
    env.reset(options={"start": 5, "target": 0})
    results = [env.step(1) for _ in range(10)]  # always "+" into the wall at 5
    assert [r[3] for r in results] == [False] * 9 + [True]
    assert all(r[1] == -1.0 and not r[2] for r in results)


def test_start_never_equals_target_and_pairs_are_uniform():
    env = NumberLineEnv(obs_mode="symbolic")
    env.reset(seed=0)
    counts = {}
    for _ in range(3000):
        _, info = env.reset()
        key = (info["current"], info["target"])
        counts[key] = counts.get(key, 0) + 1
    assert all(s != t for s, t in counts)
    assert len(counts) == 30  # every distinct ordered pair of 0..5 appears
    # 100 expected per pair; 5 standard deviations (sqrt(100) = 10) either side.
    assert 50 < min(counts.values()) and max(counts.values()) < 150


def test_seeding_reproduces_tasks_and_trajectories():
    def run(seed):
        env = NumberLineEnv(obs_mode="symbolic")
        out = [env.reset(seed=seed)[1]["current"]]
        for a in [0, 1, 1, 0, 1, 1, 1]:
            obs, r, term, trunc, info = env.step(a)
            out.append((info["current"], info["target"], r))
            if term or trunc:
                out.append(env.reset()[1]["target"])
        return out

    assert run(3) == run(3)
    assert any(run(3) != run(s) for s in (4, 5, 6))


def test_frames_shape_dtype_and_change_with_state():
    env = NumberLineEnv(render_mode="rgb_array")
    obs, _ = env.reset(options={"start": 1, "target": 4})
    assert obs.shape == (300, 300, 3) and obs.dtype == np.uint8
    assert np.array_equal(obs, env.render())
    moved, *_ = env.step(1)
    assert not np.array_equal(obs, moved)
    env_big = NumberLineEnv(image_size=480)
    assert env_big.reset(options={"start": 1, "target": 4})[0].shape == (480, 480, 3)
    # Same state, same frame (the frame is a function of the state only).
    assert np.array_equal(NumberLineEnv().reset(options={"start": 1, "target": 4})[0], obs)


def test_text_observation_prompt_and_text_actions():
    env = NumberLineEnv(obs_mode="text")
    obs, _ = env.reset(options={"start": 2, "target": 4})
    assert "Current number: 2" in obs and "Target number: 4" in obs
    prompt = env.prompt(obs)
    assert obs in prompt and '"action"' in prompt and '"current number"' in prompt
    wrapped = TextActions(NumberLineEnv(obs_mode="text"))
    wrapped.reset(seed=0, options={"start": 2, "target": 4})
    _, reward, _, _, info = wrapped.step(
        '{"current number": 2, "target number": 4, "thoughts": "right", "action": "+"}'
    )
    assert (reward, info["current"], info["parse_failed"]) == (0.0, 3, 0)
    _, _, _, _, info = wrapped.step("I am not sure")
    assert info["parse_failed"] == 1


def test_image_prompt_does_not_leak_the_state():
    env = NumberLineEnv()
    obs, _ = env.reset(options={"start": 2, "target": 4})
    prompt = env.prompt(obs)
    assert "Current number: 2" not in prompt and "Target number: 4" not in prompt


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"obs_mode": "pixels"}, "obs_mode"),
        ({"image_size": 20}, "image_size"),
        ({"image_size": 300.0}, "image_size"),
        ({"max_position": 0}, "max_position"),
        ({"render_mode": "ansi"}, "render_mode"),
        ({"generator": object()}, "generator"),
    ],
)
def test_bad_kwargs_raise_naming_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NumberLineEnv(**kwargs)


def test_bad_actions_and_options_raise():
    env = NumberLineEnv(obs_mode="symbolic")
    env.reset(seed=0)
    for bad in (2, -1, 0.5, "+", None):
        with pytest.raises(InvalidAction):
            env.step(bad)
    with pytest.raises(ValueError, match="differ"):
        env.reset(options={"start": 2, "target": 2})
    with pytest.raises(ValueError, match="options"):
        env.reset(options={"start": 2})


@pytest.mark.parametrize("obs_mode", ["symbolic", "image"])
def test_vector_env_equals_sync_vector_env(obs_mode):
    num_envs, steps = 6 if obs_mode == "symbolic" else 3, 60 if obs_mode == "symbolic" else 15
    ours = gym.make_vec(
        ENV_ID, num_envs, vectorization_mode="vector_entry_point", obs_mode=obs_mode, image_size=160
    )
    assert isinstance(ours.unwrapped, NumberLineVectorEnv)
    sync = gym.make_vec(ENV_ID, num_envs, vectorization_mode="sync", obs_mode=obs_mode, image_size=160)
    rng = np.random.default_rng(1)
    a, b = ours.reset(seed=11), sync.reset(seed=11)
    ended = 0
    for _ in range(steps):
        _assert_same(a, b)
        actions = rng.integers(2, size=num_envs)
        a, b = ours.step(actions), sync.step(actions)
        ended += int(np.sum(a[2] | a[3]))
    _assert_same(a, b)
    assert ended > 0  # the comparison covered autoresets


def _assert_same(a, b):
    obs_a, obs_b = a[0], b[0]
    if isinstance(obs_a, dict):
        for key in obs_a:
            np.testing.assert_array_equal(obs_a[key], obs_b[key])
    else:
        np.testing.assert_array_equal(obs_a, obs_b)
    for x, y in zip(a[1:-1], b[1:-1]):
        np.testing.assert_array_equal(x, y)
    for key in ("action_mask", "current", "target"):
        np.testing.assert_array_equal(a[-1][key], b[-1][key])


def test_vector_env_errors():
    with pytest.raises(ValueError, match="obs_mode"):
        NumberLineVectorEnv(2, obs_mode="text")
    with pytest.raises(ValueError, match="num_envs"):
        NumberLineVectorEnv(0)
    env = NumberLineVectorEnv(2, obs_mode="symbolic")
    env.reset(seed=0)
    with pytest.raises(InvalidAction):
        env.step(np.array([0, 2]))
    with pytest.raises(InvalidAction):
        env.step(np.array([0]))


def test_exact_references():
    assert numberline_optimal_return(5) == 1 == numberline_dp_optimal_return(5)
    assert numberline_dp_optimal_return(3) == 1
    assert numberline_optimal_episode_length(5) == Fraction(7, 3)
    assert numberline_random_return(5) == Fraction(-13223, 5120)


def test_random_return_matches_monte_carlo():
    # One episode per env (taking the first episodes to finish would favour short ones).
    num_envs = 20_000
    env = NumberLineVectorEnv(num_envs, obs_mode="symbolic")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    returns, finished = np.zeros(num_envs), np.zeros(num_envs, dtype=bool)
    for _ in range(10):  # every episode ends within 2 * max_position = 10 steps
        _, rewards, terminated, truncated, _ = env.step(rng.integers(2, size=num_envs))
        returns += np.where(finished, 0.0, rewards)
        finished |= terminated | truncated
    assert finished.all()
    # 4 standard errors: fails by chance with probability below 1e-4.
    assert abs(returns.mean() - float(numberline_random_return(5))) < 4 * returns.std() / np.sqrt(num_envs)


def test_optimal_agent_earns_the_optimal_return():
    agent = NumberLineOptimalAgent()
    agent.reset(ENV_ID, {"obs_mode": "symbolic"})
    env = NumberLineVectorEnv(512, obs_mode="symbolic")
    obs, _ = env.reset(seed=5)
    distance = np.abs(obs["current"] - obs["target"])
    returns, lengths, finished = np.zeros(512), np.zeros(512), np.zeros(512, dtype=bool)
    for _ in range(10):
        obs, rewards, terminated, truncated, _ = env.step(agent.act_batch(obs))
        returns += np.where(finished, 0.0, rewards)
        lengths += ~finished
        finished |= terminated | truncated
    assert finished.all()
    np.testing.assert_array_equal(returns, 1.0)  # the closed-form optimum, in every episode
    np.testing.assert_array_equal(lengths, distance)  # and by the shortest path
    single = NumberLineEnv(obs_mode="symbolic")
    obs, _ = single.reset(options={"start": 4, "target": 1})
    assert agent.act(obs) == 0
    with pytest.raises(ValueError, match="obs_mode"):
        agent.reset(ENV_ID, {"obs_mode": "image"})


def test_render_modes_pass_the_render_check_and_human_mode_runs_headless():
    check_env(gym.make(ENV_ID, render_mode="rgb_array").unwrapped)
    env = NumberLineEnv(render_mode="human")  # SDL_VIDEODRIVER=dummy in conftest: no real window
    env.reset(seed=0)
    env.step(1)
    env.close()
    assert env._window is None


class _FixedTasks:
    """A user's generator that always gives one (start, target) pair."""

    def __init__(self, start, target):
        self.task = NumberLineTask(start, target)

    def sample(self, np_random):
        return self.task


def test_plugged_in_generator_is_used_and_its_bad_tasks_are_named():
    env = gym.make(ENV_ID, obs_mode="symbolic", generator=_FixedTasks(1, 4))
    assert env.reset(seed=0)[1]["current"] == 1
    vector = gym.make_vec(ENV_ID, 2, obs_mode="symbolic", generator=_FixedTasks(1, 4))
    assert vector.reset(seed=0)[0]["target"].tolist() == [4, 4]
    # start == target, off the line, or not an integer: the vector env used to take these silently.
    for bad in (_FixedTasks(2, 2), _FixedTasks(0, 9), _FixedTasks(0.5, 3)):
        with pytest.raises(ValueError, match="generator"):
            gym.make(ENV_ID, obs_mode="symbolic", generator=bad).reset(seed=0)
        with pytest.raises(ValueError, match="generator"):
            gym.make_vec(ENV_ID, 2, obs_mode="symbolic", generator=bad).reset(seed=0)


def test_cached_frames_equal_drawn_frames_and_stay_private():
    from icl_envs.cards.numberline.viewer import draw_numberline_frame, numberline_frame

    env = NumberLineEnv(obs_mode="image", image_size=200)
    obs, _ = env.reset(options={"start": 1, "target": 4})
    assert np.array_equal(obs, draw_numberline_frame(1, 4, 5, 200))
    obs[:] = 0  # an agent writing into its observation must not change the next one
    again, _ = env.reset(options={"start": 1, "target": 4})
    assert np.array_equal(again, draw_numberline_frame(1, 4, 5, 200))
    assert not numberline_frame(1, 4, 5, 200).flags.writeable
