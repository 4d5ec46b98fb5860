"""icl/EZPoints-v0 and icl/Points24-v0: rules, modes, seeding, frames, errors, vector envs, references, agent."""

from __future__ import annotations

from fractions import Fraction

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import InvalidAction
from gymnasium.utils.env_checker import check_env

import icl_envs  # noqa: F401  (registers the ids)
from baselines.classic.number_games import (
    PointsOptimalAgent,
    ezpoints_deal_distribution,
    ezpoints_optimal_return,
    ezpoints_random_return,
    points24_deal_distribution,
    points24_optimal_return,
    points24_random_loss_return,
    points24_random_return,
    points24_solvable_share,
    solve_deal,
)
from icl_envs.cards.points import EZPointsEnv, Points24Env, Points24VectorEnv, PointsDeal
from icl_envs.cards.text_protocol import TextActions

IDS = ("icl/EZPoints-v0", "icl/Points24-v0")
P24 = Points24Env.action_strings


def act(text: str) -> int:
    return P24.index(text)


def play(env, formula: str) -> list[tuple]:
    return [env.step(act(token))[1:] for token in formula.split()]


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("obs_mode", ["image", "symbolic", "text", "multimodal"])
def test_check_env_every_mode(env_id, obs_mode):
    env = gym.make(env_id, obs_mode=obs_mode)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert info["action_mask"].dtype == np.int8
    assert set(info) >= {"cards", "numbers", "formula"}


def test_action_ids_and_strings_match_gym_cards():
    assert EZPointsEnv.action_strings == (*map(str, range(1, 11)), "+", "*", "=")
    assert P24 == (*map(str, range(1, 11)), "+", "-", "*", "/", "(", ")", "=")


def test_exact_fraction_solution_wins():
    env = Points24Env(obs_mode="symbolic")
    _, info = env.reset(options={"cards": ["H8", "S3", "D8", "C3"]})
    assert info["numbers"] == [8, 3, 8, 3] and info["cards"] == ["H8", "S3", "D8", "C3"]
    steps = play(env, "8 / ( 3 - 8 / 3 ) =")
    assert [s[0] for s in steps] == [0.0] * 9 + [10.0]
    assert steps[-1][1:3] == (True, False)
    assert steps[-1][3]["formula"] == ["8", "/", "(", "3", "-", "8", "/", "3", ")"]


def test_adjacent_numbers_never_make_24():
    env = Points24Env(obs_mode="symbolic")
    env.reset(options={"cards": ["H2", "S4", "DA", "CA"]})
    assert play(env, "2 4 =")[-1][:2] == (-1.0, True)


def test_faces_count_ten_and_each_card_is_used_as_often_as_held():
    env = Points24Env(obs_mode="symbolic")
    _, info = env.reset(options={"cards": ["HK", "SQ", "D2", "C2"]})
    assert info["numbers"] == [10, 10, 2, 2]
    steps = play(env, "10 + 10 + 2 + 2 =")
    assert [s[0] for s in steps] == [0.0] * 7 + [10.0]
    env.reset(options={"cards": ["HK", "SQ", "D2", "C2"]})
    steps = play(env, "2 + 2 + 2")  # a third 2 is not held
    assert steps[-1][0] == -1.0 and steps[-1][3]["formula"] == ["2", "+", "2", "+"]
    assert steps[-1][3]["action_mask"][act("2")] == 0 and steps[-1][3]["action_mask"][act("10")] == 1


def test_wrong_incomplete_and_unheld_cards_cost_one():
    env = Points24Env(obs_mode="symbolic")
    env.reset(options={"cards": ["H6", "S4", "DA", "CA"]})
    assert play(env, "6 * 4 =")[-1][:2] == (-1.0, True)  # 24, but two cards unused
    env.reset(options={"cards": ["H6", "S4", "DA", "CA"]})
    assert play(env, "7")[-1][0] == -1.0  # not in hand
    env.reset(options={"cards": ["H6", "S4", "DA", "CA"]})
    assert play(env, "6 * 4 * 1 + 1 =")[-1][:2] == (-1.0, True)  # 25
    env.reset(options={"cards": ["H6", "S4", "DA", "CA"]})
    assert play(env, "6 * 4 * 1 * 1 =")[-1][:2] == (10.0, True)


def test_formula_length_limit_truncates():
    env = EZPointsEnv(obs_mode="symbolic")
    env.reset(options={"cards": ["H2", "SK"]})
    ez = EZPointsEnv.action_strings
    results = [env.step(ez.index(t))[1:] for t in ["+", "+", "+", "+", "+"]]
    assert all(r[:3] == (0.0, False, False) for r in results)
    assert results[-1][3]["action_mask"].tolist() == [0] * 12 + [1]  # only "=" is safe now
    reward, terminated, truncated, _ = env.step(ez.index("2"))[1:]
    assert (reward, terminated, truncated) == (-1.0, False, True)


def test_rejected_cards_use_slots_so_episodes_end():
    env = EZPointsEnv(obs_mode="symbolic")
    env.reset(options={"cards": ["H2", "SK"]})
    results = [env.step(6)[1:] for _ in range(6)]  # "7" is never held
    assert [r[0] for r in results] == [-1.0] * 6
    assert [r[2] for r in results] == [False] * 5 + [True]


def test_ezpoints_wins_with_plus_or_times():
    env = EZPointsEnv(obs_mode="symbolic")
    ez = EZPointsEnv.action_strings
    for cards, formula in ((["H2", "SK"], "2 + 10"), (["H3", "S4"], "3 * 4"), (["H6", "C6"], "6 + 6")):
        env.reset(options={"cards": cards})
        rewards = [env.step(ez.index(t))[1] for t in formula.split() + ["="]]
        assert rewards == [0.0, 0.0, 0.0, 10.0], cards


def test_every_ezpoints_deal_is_solvable():
    assert ezpoints_optimal_return() == 10  # checks the generator's whole support with the solver
    env = EZPointsEnv(obs_mode="symbolic")
    env.reset(seed=0)
    seen = set()
    for _ in range(500):
        _, info = env.reset()
        seen.add(tuple(sorted(info["numbers"])))
        assert solve_deal(info["numbers"], "EZPoints") is not None
    assert seen == set(ezpoints_deal_distribution())


def test_points24_solvable_share_exact():
    distribution = points24_deal_distribution()
    assert len(distribution) == 715 and sum(distribution.values()) == 1
    share = points24_solvable_share()
    assert share == Fraction(20876, 28561)  # about 73.1%, as reported for gym-cards' Points24
    assert points24_optimal_return() == 11 * share - 1


def test_points24_deals_follow_the_original_distribution_and_solvable_only():
    env = Points24Env(obs_mode="symbolic")
    env.reset(seed=1)
    numbers = np.array([env.reset()[1]["numbers"] for _ in range(2000)])
    # P(10) = 4/13 per card; 8000 cards give a standard error of 0.0052, allow 4 of them.
    assert abs(np.mean(numbers == 10) - 4 / 13) < 0.021
    solvable = np.mean([solve_deal(row) is not None for row in numbers])
    assert abs(solvable - 20876 / 28561) < 0.04  # sd 0.0099 for 2000 deals, 4 sd
    env = Points24Env(obs_mode="symbolic", solvable_only=True)
    env.reset(seed=1)
    assert all(solve_deal(env.reset()[1]["numbers"]) is not None for _ in range(200))


def test_seeding_reproduces_deals():
    def deals(seed):
        env = Points24Env(obs_mode="symbolic")
        return [env.reset(seed=seed)[1]["cards"]] + [env.reset()[1]["cards"] for _ in range(5)]

    assert deals(7) == deals(7)
    assert deals(7) != deals(8)


def test_frames_shape_dtype_and_change_with_state():
    env = Points24Env(render_mode="rgb_array")
    obs, _ = env.reset(options={"cards": ["H8", "S3", "D8", "C3"]})
    assert obs.shape == (300, 300, 3) and obs.dtype == np.uint8
    assert np.array_equal(obs, env.render())
    written = env.step(act("8"))[0]
    assert not np.array_equal(obs, written)
    other, _ = env.reset(options={"cards": ["H8", "S3", "D8", "C4"]})
    assert not np.array_equal(obs, other)
    long_env = Points24Env(image_size=200)  # the longest formula still fits (it wraps and shrinks)
    long_env.reset(options={"cards": ["H8", "S3", "D8", "C3"]})
    for token in "( ( ( ( ( ( ( ( ( ( 8 ) ) ) ) ) ) ) ) )".split():
        frame = long_env.step(act(token))[0]
    assert frame.shape == (200, 200, 3)


def test_text_mode_prompt_and_text_actions():
    env = Points24Env(obs_mode="text")
    obs, _ = env.reset(options={"cards": ["H8", "S3", "D8", "C3"]})
    assert "H8 (8)" in obs and "Target: 24" in obs
    prompt = env.prompt(obs)
    assert '"cards"' in prompt and '"formula"' in prompt and "Legal actions" in prompt
    assert '"7"' not in prompt.split("Legal actions:")[1]  # only the legal numbers are offered
    wrapped = TextActions(Points24Env(obs_mode="text"))
    wrapped.reset(seed=0, options={"cards": ["H8", "S3", "D8", "C3"]})
    answers = [f'{{"thoughts": "...", "action": "{t}"}}' for t in "8 / ( 3 - 8 / 3 ) =".split()]
    results = [wrapped.step(answer) for answer in answers]
    assert results[-1][1] == 10.0 and results[-1][4]["parse_failed"] == 0


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (Points24Env, {"obs_mode": "rgb"}, "obs_mode"),
        (Points24Env, {"image_size": 10}, "image_size"),
        (Points24Env, {"solvable_only": "yes"}, "solvable_only"),
        (Points24Env, {"render_mode": "ansi"}, "render_mode"),
        (EZPointsEnv, {"generator": 3}, "generator"),
    ],
)
def test_bad_kwargs_raise_naming_the_argument(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_bad_actions_options_and_generators_raise():
    env = Points24Env(obs_mode="symbolic")
    env.reset(seed=0)
    for bad in (17, -1, 1.0, "+"):
        with pytest.raises(InvalidAction):
            env.step(bad)
    with pytest.raises(ValueError, match="cards"):
        env.reset(options={"cards": ["H1", "S3", "D8", "C3"]})
    with pytest.raises(ValueError, match="4 cards"):
        env.reset(options={"cards": ["H2", "S3"]})
    # Not a list of cards at all: a ValueError naming the option, not a TypeError from iterating.
    for bad in (5, None, "H8S3D8C3", [["H8"]], ["H8"] * 10**6):
        with pytest.raises(ValueError, match=r"options\['cards'\] must be a list of 4 cards"):
            env.reset(options={"cards": bad})
    with pytest.raises(ValueError, match="cards must be names"):
        env.reset(options={"cards": [["H8"]] * 4})
    env.reset(options={"cards": np.array(["H8", "S3", "D8", "C3"])})

    class TwoCards:
        def sample(self, np_random):
            return PointsDeal(("H2", "S3"), (2, 3))

    with pytest.raises(ValueError, match="4 cards"):
        Points24Env(generator=TwoCards()).reset(seed=0)


def test_custom_generator_is_used():
    class Fixed:
        def sample(self, np_random):
            return PointsDeal.from_cards(["H4", "S6", "DA", "CA"])

    env = Points24Env(obs_mode="symbolic", generator=Fixed())
    assert env.reset(seed=0)[1]["numbers"] == [4, 6, 1, 1]


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("obs_mode", ["symbolic", "image"])
def test_vector_env_equals_sync_vector_env(env_id, obs_mode):
    num_envs, steps = (8, 120) if obs_mode == "symbolic" else (2, 12)
    kwargs = {"obs_mode": obs_mode, "image_size": 160}
    ours = gym.make_vec(env_id, num_envs, vectorization_mode="vector_entry_point", **kwargs)
    sync = gym.make_vec(env_id, num_envs, vectorization_mode="sync", **kwargs)
    num_actions = ours.single_action_space.n
    rng = np.random.default_rng(2)
    a, b = ours.reset(seed=21), sync.reset(seed=21)
    ended = 0
    for _ in range(steps):
        _assert_same(a, b)
        # Favour "=" and the cards in hand so that episodes end and some are won.
        masks = a[-1]["action_mask"].astype(float) + 0.05
        actions = np.array([rng.choice(num_actions, p=m / m.sum()) for m in masks])
        a, b = ours.step(actions), sync.step(actions)
        ended += int(np.sum(a[2] | a[3]))
    _assert_same(a, b)
    assert ended > 0


def _assert_same(a, b):
    if isinstance(a[0], dict):
        for key in a[0]:
            np.testing.assert_array_equal(a[0][key], b[0][key])
    else:
        np.testing.assert_array_equal(a[0], b[0])
    for x, y in zip(a[1:-1], b[1:-1]):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a[-1]["action_mask"], b[-1]["action_mask"])


def test_vector_env_errors():
    with pytest.raises(ValueError, match="obs_mode"):
        Points24VectorEnv(2, obs_mode="multimodal")
    env = Points24VectorEnv(2, obs_mode="symbolic")
    env.reset(seed=0)
    with pytest.raises(InvalidAction):
        env.step(np.array([0, 17]))


def test_random_policy_references():
    assert ezpoints_random_return() == Fraction(-432736097, 115843416)  # about -3.7355
    # Monte Carlo through the vector env agrees with the exact EZPoints value.
    env = gym.make_vec(
        "icl/EZPoints-v0", 20_000, vectorization_mode="vector_entry_point", obs_mode="symbolic"
    )
    env.reset(seed=3)
    rng = np.random.default_rng(3)
    returns, finished = np.zeros(20_000), np.zeros(20_000, dtype=bool)
    for _ in range(7):  # every EZPoints episode ends within 6 steps
        _, rewards, terminated, truncated, _ = env.step(rng.integers(13, size=20_000))
        returns += np.where(finished, 0.0, rewards)
        finished |= terminated | truncated
    assert finished.all()
    # 4 standard errors (about 0.03 here): a chance failure has probability below 1e-4.
    assert abs(returns.mean() - float(ezpoints_random_return())) < 4 * returns.std() / np.sqrt(20_000)
    value, stderr = points24_random_return(episodes=20_000)
    assert abs(value - float(points24_random_loss_return())) <= 11 * 3 / 20_000 + 1e-12  # no win expected
    assert 0 < stderr < 0.01


@pytest.mark.parametrize("env_id", IDS)
def test_optimal_agent_earns_the_optimal_return(env_id):
    agent = PointsOptimalAgent()
    agent.reset(env_id, {"obs_mode": "symbolic"})
    env = gym.make_vec(env_id, 64, vectorization_mode="vector_entry_point", obs_mode="symbolic")
    obs, _ = env.reset(seed=9)
    returns, finished = np.zeros(64), np.zeros(64, dtype=bool)
    numbers = obs["numbers"].copy()
    for _ in range(13):  # a solution has at most 11 tokens, then "="
        obs, rewards, terminated, truncated, _ = env.step(agent.act_batch(obs))
        returns += np.where(finished, 0.0, rewards)
        finished |= terminated | truncated
    assert finished.all()
    expected = np.array([10.0 if solve_deal(n, env_id.split("/")[1][:-3]) else -1.0 for n in numbers])
    np.testing.assert_array_equal(returns, expected)  # the optimum on every deal, not just on average
    if "EZPoints" in env_id:
        assert (returns == 10).all()
    with pytest.raises(ValueError, match="obs_mode"):
        agent.reset(env_id, {"obs_mode": "text"})


@pytest.mark.parametrize(
    "kwargs",
    [{"solvable_only": True}, {"generator": "fixed"}],
    ids=["solvable_only", "custom_generator"],
)
def test_points24_vector_env_equals_sync_with_rejection_and_custom_generators(kwargs):
    class Alternating:
        """A user's generator without the block-draw interface: the vector env calls sample()."""

        def sample(self, np_random):
            cards = ["H8", "S3", "D8", "C3"] if np_random.random() < 0.5 else ["HA", "SA", "DA", "CA"]
            return PointsDeal.from_cards(cards)

    def make(mode):
        extra = {"generator": Alternating()} if "generator" in kwargs else kwargs
        return gym.make_vec("icl/Points24-v0", 6, vectorization_mode=mode, obs_mode="symbolic", **extra)

    ours, sync = make("vector_entry_point"), make("sync")
    rng = np.random.default_rng(4)
    a, b = ours.reset(seed=5), sync.reset(seed=5)
    for _ in range(80):
        _assert_same(a, b)
        actions = np.where(rng.random(6) < 0.3, 16, rng.integers(17, size=6))
        a, b = ours.step(actions), sync.step(actions)
    _assert_same(a, b)


@pytest.mark.parametrize("env_id", IDS)
def test_render_check_and_human_mode(env_id):
    check_env(gym.make(env_id, render_mode="rgb_array").unwrapped)
    env = gym.make(env_id, render_mode="human")
    env.reset(seed=0)
    env.step(0)
    env.close()


def test_points24_random_loss_return_matches_monte_carlo():
    """An independent check of the exact DP: uniform actions, one whole episode per env."""
    num_envs = 20_000
    env = Points24VectorEnv(num_envs, obs_mode="symbolic")
    env.reset(seed=8)
    rng = np.random.default_rng(8)
    returns, finished = np.zeros(num_envs), np.zeros(num_envs, dtype=bool)
    for _ in range(21):  # every episode ends within max_formula_length + 1 = 21 steps
        _, rewards, terminated, truncated, _ = env.step(rng.integers(17, size=num_envs))
        returns += np.where(finished, 0.0, rewards)
        finished |= terminated | truncated
    assert finished.all()
    # 4 standard errors (about 0.09): a chance failure has probability below 1e-4.
    assert abs(returns.mean() - float(points24_random_loss_return())) < 4 * returns.std() / np.sqrt(num_envs)
