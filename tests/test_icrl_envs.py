"""The in-context RL trials (icl_envs/icrl): sub-episodes, observations, info, rewards, bad arguments.

What every env promises (check_env, vector == sync, seeding, bounds) is in test_env_contract.py and
test_bounds.py; this file holds the trial's own rules."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import icl_envs  # noqa: F401  (registers the ids)
from icl_envs.icrl.bandit import BanditEnv, BanditTask
from icl_envs.icrl.darkroom import DarkRoomEnv, DarkRoomTask
from icl_envs.icrl.keytodoor import KeyToDoorEnv, KeyToDoorTask
from icl_envs.icrl.room import move, start_cell


class Fixed:
    """A generator that always draws the same task."""

    def __init__(self, task):
        self.task = task

    def sample(self, np_random):
        return self.task


def play(env, actions):
    """Step ``env`` (reset with seed 0) through ``actions``: (observations, rewards, infos, ends)."""
    obs, info = env.reset(seed=0)
    assert info == {}
    observations, rewards, infos, ends = [obs], [], [], []
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        assert not truncated
        observations.append(obs)
        rewards.append(reward)
        infos.append(info)
        ends.append(terminated)
    return observations, rewards, infos, ends


def test_darkroom_trial_walks_sub_episodes_on_one_goal():
    # 3 x 3 room, start in the centre (cell 4), goal at cell 1 (one step up).
    env = DarkRoomEnv(size=3, horizon=3, episodes_per_trial=2, generator=Fixed(DarkRoomTask(1)))
    up, stay, down = 0, 4, 1
    observations, rewards, infos, ends = play(env, [up, stay, down, stay, up, stay])
    assert [o["state"] for o in observations] == [4, 1, 1, 4, 4, 1, 1]  # back on the start after 3 steps
    assert [o["step"] for o in observations] == [0, 1, 2, 0, 1, 2, 2]  # the terminal one stays in the space
    assert [o["episode"] for o in observations] == [0, 0, 0, 1, 1, 1, 1]
    assert rewards == [1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    assert [float(o["last_reward"][0]) for o in observations] == [0.0, *rewards]
    assert [i["sub_episode_end"] for i in infos] == [False, False, True, False, False, True]
    assert [i["sub_episode_return"] for i in infos] == [1.0, 2.0, 2.0, 0.0, 1.0, 2.0]
    assert ends == [False] * 5 + [True]
    assert all(set(i) == {"sub_episode_end", "sub_episode_return"} for i in infos)  # never the goal


def test_keytodoor_pays_the_key_then_the_door_which_ends_the_sub_episode():
    # 3 x 3 room, start 4; the key at 3 (left), the door at 5 (right).
    env = KeyToDoorEnv(size=3, horizon=5, episodes_per_trial=2, generator=Fixed(KeyToDoorTask(3, 5)))
    left, right, stay = 2, 3, 4
    # Sub-episode 0: the door first pays nothing, then the key, the key again (nothing), the door.
    _, rewards, infos, ends = play(env, [right, left, left, stay, right])
    assert rewards == [0.0, 0.0, 1.0, 0.0, 0.0]
    # Key, back, door (ends the sub-episode); then key, a wall (the key pays once), back, door.
    _, rewards, infos, ends = play(env, [left, right, right, left, left, right, right])
    assert rewards == [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]
    assert [i["sub_episode_end"] for i in infos] == [False, False, True, False, False, False, True]
    assert ends == [False] * 6 + [True]


def test_bandit_pulls_pay_each_arm_its_distribution():
    env = BanditEnv(arms=3, horizon=4000)
    obs, _ = env.reset(seed=1)
    means = env.task.means
    pulls = np.zeros(3)
    wins = np.zeros(3)
    for t in range(4000):
        arm = t % 3
        obs, reward, terminated, _, info = env.step(arm)
        assert obs["state"] == 0 and obs["episode"] == 0
        pulls[arm] += 1
        wins[arm] += reward
    assert terminated and info["sub_episode_end"]
    assert np.all(np.abs(wins / pulls - means) < 4 * np.sqrt(0.25 / pulls))  # 4 standard errors
    gaussian = BanditEnv(arms=2, horizon=3, reward="gaussian", noise_std=0.0)
    gaussian.reset(seed=2)
    assert gaussian.step(1)[1] == pytest.approx(gaussian.task.means[1])  # noiseless: the mean itself


def test_tasks_are_drawn_uniformly():
    env = gym.make("icl/KeyToDoor-v0", size=2).unwrapped
    pairs = set()
    for seed in range(200):
        env.reset(seed=seed)
        pairs.add((env.task.key, env.task.door))
    assert pairs == {(k, d) for k in range(4) for d in range(4) if k != d}
    room = gym.make("icl/DarkRoom-v0", size=2).unwrapped
    assert {room.reset(seed=s) and room.task.goal for s in range(100)} == {0, 1, 2, 3}


def test_room_moves_stop_at_walls_and_starts():
    assert start_cell(9, "center") == 40 and start_cell(10, "corner") == 0 and start_cell(10, "center") == 55
    cells = np.array([0, 0, 0, 0, 0, 8, 8])
    np.testing.assert_array_equal(move(cells, np.array([0, 1, 2, 3, 4, 1, 3]), 3), [0, 3, 0, 1, 0, 8, 8])


@pytest.mark.parametrize(
    ("env_id", "kwargs", "message"),
    [
        ("icl/Bandit-v0", {"arms": 1}, "arms must be >= 2"),
        ("icl/Bandit-v0", {"reward": "poisson"}, "reward must be one of 'bernoulli', 'gaussian'"),
        ("icl/Bandit-v0", {"noise_std": -1.0}, "noise_std must be >= 0"),
        ("icl/Bandit-v0", {"horizon": 0}, "horizon must be >= 1"),
        ("icl/DarkRoom-v0", {"size": 1}, "size must be >= 2"),
        ("icl/DarkRoom-v0", {"start": "middle"}, "start must be one of 'center', 'corner'"),
        ("icl/DarkRoom-v0", {"horizon": 200, "episodes_per_trial": 100}, r"horizon \* episodes_per_trial"),
        ("icl/KeyToDoor-v0", {"episodes_per_trial": 0}, "episodes_per_trial must be >= 1"),
        ("icl/KeyToDoor-v0", {"render_mode": "human"}, "render_mode must be None"),
        ("icl/KeyToDoor-v0", {"generator": object()}, "generator must have a sample"),
        ("icl/DarkRoom-v0", {"obs_mode": "pixels"}, "obs_mode must be one of 'symbolic', 'image'"),
        (
            "icl/DarkRoom-v0",
            {"obs_mode": "image", "image_size": 30},
            r"image_size must be >= 4 pixels per cell \(36",
        ),
        ("icl/KeyToDoor-v0", {"obs_mode": "image", "image_size": 2000}, "image_size must be <= 1024"),
    ],
)
def test_bad_arguments_are_refused_by_name(env_id, kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make(env_id, **kwargs)


@pytest.mark.parametrize(
    ("env", "task"),
    [
        (lambda g: DarkRoomEnv(size=3, generator=g), DarkRoomTask(9)),
        (lambda g: KeyToDoorEnv(size=3, generator=g), KeyToDoorTask(2, 2)),
        (lambda g: BanditEnv(arms=2, horizon=3, generator=g), BanditTask(np.array([0.5, 1.5]), np.zeros(3))),
        (lambda g: BanditEnv(arms=2, horizon=3, generator=g), BanditTask(np.array([0.5, 0.5]), np.zeros(2))),
    ],
)
def test_a_generator_s_bad_task_is_refused(env, task):
    with pytest.raises(ValueError, match="generator produced an invalid task"):
        env(Fixed(task)).reset(seed=0)


def test_room_frames_show_the_agent_s_cell_and_nothing_hidden():
    """A frame is the empty room with the agent's disc on its cell: drawn the same for the same
    cell whatever the goal (or key and door), and different for another cell."""
    from icl_envs.icrl.room_view import room_frames, room_pictures

    size, image_size = 4, 40
    env = DarkRoomEnv(size=size, horizon=3, start="corner", obs_mode="image", image_size=image_size)
    assert "state" not in env.observation_space.spaces
    frames = {}
    for goal in (5, 15):
        env.generator = Fixed(DarkRoomTask(goal=goal))
        observations, _, _, _ = play(env, [3, 1])  # right, then down: cells 0, 1, 5
        frames[goal] = np.stack([obs["image"] for obs in observations])
        assert observations[1]["step"] == 1 and observations[0]["last_reward"][0] == 0.0
    np.testing.assert_array_equal(frames[5], frames[15])
    np.testing.assert_array_equal(frames[5], room_frames(np.array([0, 1, 5]), size, image_size))
    empty, agent, cell, margin = room_pictures(size, image_size)
    assert cell == 10 and margin == 0 and not (agent == empty[:cell, :cell]).all()
    # only the agent's cell differs from the empty room
    changed = np.argwhere((frames[5][2] != empty).any(axis=-1))
    assert changed.min(axis=0).tolist() >= [10, 10] and changed.max(axis=0).tolist() <= [19, 19]
    key_room = KeyToDoorEnv(size=size, start="corner", obs_mode="image", image_size=image_size)
    key_room.generator = Fixed(KeyToDoorTask(key=1, door=2))
    np.testing.assert_array_equal(key_room.reset(seed=0)[0]["image"], frames[5][0])
