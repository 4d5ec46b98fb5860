"""Every env declares what an episode can pay (``episode_bounds()``, icl_envs/bounds.py): random
play never leaves the bounds (they are not too tight), and the longest episodes reach them."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import icl_envs
from icl_envs.bounds import EpisodeBounds
from leaderboard.harness import is_in_context

IDS = [env_id for env_id, *_ in icl_envs.ENVIRONMENTS]

#: Arguments each env is played with: the defaults and the variants the bounds depend on.
VARIANTS = {
    "icl/LinearRegression-v0": [{"n": 4}, {"n": 3, "noise_std": 0.5}],
    "icl/SparseRegression-v0": [{"n": 4}],
    "icl/ReLUNetRegression-v0": [{"n": 4, "hidden": 8}],
    "icl/DecisionTreeRegression-v0": [{"n": 4}],
    "icl/MRPValue-v0": [{"n": 4}, {"n": 3, "objective": "average_reward"}],
    "icl/NumberLine-v0": [{"max_position": m} for m in (1, 2, 5, 20)],
    "icl/EZPoints-v0": [{}],
    "icl/Points24-v0": [{}, {"solvable_only": True}],
    "icl/Blackjack-v0": [{}, {"natural": True}, {"sab": True}, {"natural": True, "sab": True}],
    "icl/AssociativeRecall-v0": [{"vocab_size": 8, "num_pairs": 3, "seq_len": 12}],
    "icl/Bandit-v0": [{}, {"arms": 2, "horizon": 3}],
    "icl/DarkRoom-v0": [{"size": 2, "horizon": 3, "episodes_per_trial": 3}, {"size": 3, "start": "corner"}],
    "icl/KeyToDoor-v0": [{"size": 2, "horizon": 3, "episodes_per_trial": 3}, {"size": 3, "horizon": 2}],
}
CASES = [(env_id, kwargs) for env_id in IDS for kwargs in VARIANTS[env_id]]


CARD_IDS = ("icl/NumberLine-v0", "icl/EZPoints-v0", "icl/Points24-v0", "icl/Blackjack-v0")


def make(env_id: str, **kwargs) -> gym.Env:
    """The env, the card games with symbolic observations (the bounds do not depend on the mode)."""
    return gym.make(env_id, **({"obs_mode": "symbolic"} if env_id in CARD_IDS else {}), **kwargs)


def test_every_env_declares_its_bounds():
    assert set(VARIANTS) == set(IDS)
    for env_id in IDS:
        env = make(env_id)
        bounds = env.unwrapped.episode_bounds()
        assert isinstance(bounds, EpisodeBounds)
        # The harness records an error curve exactly for the envs whose steps pay squared errors.
        assert bounds.squared_error == is_in_context(env.observation_space), env_id


@pytest.mark.parametrize("env_id, kwargs", CASES, ids=[f"{e}{k}" for e, k in CASES])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1), weights=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=16))
def test_random_play_stays_within_the_bounds(env_id, kwargs, seed, weights):
    """Episodes of random actions, drawn with random preferences (some always hit, never submit or
    walk away from the target), each within its env's declared bounds, step by step."""
    env = make(env_id, **kwargs)
    bounds = env.unwrapped.episode_bounds()
    rng = np.random.default_rng(seed)
    space = env.action_space
    for episode in range(16):
        env.reset(seed=seed + episode)
        total, length, over = 0.0, 0, False
        while not over:
            if isinstance(space, gym.spaces.Discrete):
                p = np.resize(np.asarray(weights) + 1e-3, space.n)
                action = int(rng.choice(space.n, p=p / p.sum()))
            else:
                action = rng.normal(0.0, 1.0 + 10 * weights[0], size=space.shape).astype(space.dtype)
            _, reward, terminated, truncated, _ = env.step(action)
            if bounds.step_rewards is not None:
                assert reward in bounds.step_rewards
            if bounds.squared_error:
                assert reward <= 0.0
            total += reward
            length += 1
            over = terminated or truncated
        assert bounds.problem(total, length) is None, (env_id, kwargs, total, length)


def _longest_episode(env: gym.Env, action: int) -> tuple[float, int]:
    total, length, over = 0.0, 0, False
    while not over:
        _, reward, terminated, truncated, _ = env.step(action)
        total, length, over = total + reward, length + 1, terminated or truncated
    return total, length


@pytest.mark.parametrize("max_position", [1, 5, 20])
def test_numberline_longest_episode_reaches_the_bounds(max_position):
    env = make("icl/NumberLine-v0", max_position=max_position)
    env.reset(options={"start": 0, "target": max_position})
    bounds = env.unwrapped.episode_bounds()
    # Walking into the wall away from the target: -1 per step until truncation.
    assert (
        _longest_episode(env, 0)
        == (bounds.min_return, bounds.max_length)
        == (-2 * max_position, 2 * max_position)
    )


@pytest.mark.parametrize("env_id", ["icl/EZPoints-v0", "icl/Points24-v0"])
def test_points_longest_episode_reaches_the_bounds(env_id):
    env = make(env_id)
    env.reset(seed=0)
    bounds = env.unwrapped.episode_bounds()
    times = env.unwrapped.action_strings.index("*")  # never ends the episode before the slots run out
    total, length = _longest_episode(env, times)
    assert (total, length) == (-1.0, bounds.max_length)  # every slot filled, then the overflow
    assert bounds.min_return == -bounds.max_length and bounds.max_return == 10.0


@pytest.mark.parametrize("natural, sab, paid", [(False, False, 1.0), (True, False, 1.5), (True, True, 1.0)])
def test_blackjack_best_hand_reaches_the_bound(natural, sab, paid):
    """A natural (ace, king) standing against a dealer's 17 pays the most there is."""
    env = make("icl/Blackjack-v0", natural=natural, sab=sab)
    env.reset(seed=0)
    env.unwrapped._start([9, 6, 0, 12])  # dealer 10 and 7; player ace and king
    assert env.step(0)[1] == paid == env.unwrapped.episode_bounds().max_return


def test_points_win_reaches_the_bound():
    env = make("icl/EZPoints-v0")
    env.reset(options={"cards": ["H2", "S10"]})
    strings = env.unwrapped.action_strings
    rewards = [env.step(strings.index(token))[1] for token in ("2", "+", "10", "=")]
    assert sum(rewards) == 10.0 == env.unwrapped.episode_bounds().max_return


def test_blackjack_longest_hand_reaches_the_bound():
    """Two aces, then aces on every hit: hard 21 after 19 hits, and the 20th hit busts."""
    env = make("icl/Blackjack-v0")
    env.reset(seed=0)
    blackjack = env.unwrapped
    ace = 0  # card id 0: the ace of spades
    blackjack._start([ace] * 4)
    blackjack._cards, blackjack._next_card = [ace] * len(blackjack._cards), 0
    assert _longest_episode(env, 1) == (-1.0, blackjack.episode_bounds().max_length) == (-1.0, 20)


@pytest.mark.parametrize(
    "bounds, episode_return, length, problem",
    [
        (
            EpisodeBounds(-1.0, 1.0, 1, 20, (-1.0, 0.0, 1.0)),
            1.5,
            3,
            "returns 1.5; an episode returns from -1 to 1",
        ),
        (EpisodeBounds(-1.0, 1.0, 1, 20, (-1.0, 0.0, 1.0)), 1.0, 21, "lasts 21 steps"),
        (EpisodeBounds(-10.0, 1.0, 1, 10, (-1.0, 0.0, 1.0)), 0.5, 2, "no sum of 2 step rewards"),
        (EpisodeBounds(-6.0, 10.0, 1, 6, (-1.0, 0.0, 10.0)), 10.0, 1, None),
        (EpisodeBounds(-6.0, 10.0, 1, 6, (-1.0, 0.0, 10.0)), 9.0, 1, "no sum of 1 step rewards"),
        (EpisodeBounds(-math.inf, 0.0, 20, 20, squared_error=True), 0.1, 20, "returns 0.1"),
        (EpisodeBounds(-math.inf, 0.0, 20, 20, squared_error=True), -1e300, 20, None),
        (
            EpisodeBounds(-math.inf, 0.0, 20, 20, squared_error=True),
            -3.0,
            19,
            "lasts 19 steps; an episode lasts exactly 20",
        ),
    ],
)
def test_problem_names_what_is_impossible(bounds, episode_return, length, problem):
    found = bounds.problem(episode_return, length)
    assert found is None if problem is None else problem in found


def test_inconsistent_bounds_are_refused():
    with pytest.raises(ValueError, match="inconsistent"):
        EpisodeBounds(1.0, -1.0, 1, 2)
    with pytest.raises(ValueError, match="inconsistent"):
        EpisodeBounds(-1.0, 1.0, 0, 2)
