"""Exact Blackjack references (baselines/classic/blackjack.py) and the random agent.

The DP values are checked against Monte Carlo runs of the same policies through the environments:
``icl/Blackjack-v0``'s native vector env (large samples, cheap) and Gymnasium's own Blackjack-v1
(the rules we promise to match). A value passes when it lies in the Monte Carlo 99% confidence
interval, mean +- 2.576 standard errors, the standard error estimated from the sample; with ~256k
episodes the half-width is about 0.005, four times smaller than the effect of the ``natural``
bonus (0.021), which a test below shows the check detects.
"""

from __future__ import annotations

import json
from fractions import Fraction

import gymnasium as gym
import numpy as np
import pytest

import icl_envs  # noqa: F401  (registers icl/ ids)
from baselines.classic.blackjack import (
    CARD_PROBABILITIES,
    DEALER_OUTCOMES,
    HIT,
    STAND,
    TABLE_SHAPE,
    OptimalBlackjackAgent,
    blackjack_dp,
    dealer_final_distribution,
    policy_expected_return,
    policy_outcome_probabilities,
    random_policy_return,
)
from baselines.classic.random_agent import RandomAgent
from icl_envs.cards import blackjack_rules as rules

Z_99 = 2.576  # two-sided 99% normal quantile
RULE_SETS = [(False, False), (True, False), (False, True), (True, True)]


# ----------------------------------------------------------------------------------------------
# Monte Carlo through the environments
# ----------------------------------------------------------------------------------------------


def monte_carlo(agent, env_kwargs, *, episodes_per_env, num_envs=1024, seed=0, env_id="icl/Blackjack-v0"):
    """Mean return and its standard error over ``num_envs * episodes_per_env`` episodes.

    Each sub-env contributes exactly its first ``episodes_per_env`` episodes, so the sample is
    i.i.d. (stopping at a fixed step count would over-represent short hands).
    """
    if env_id.startswith("icl/"):
        kwargs = {"obs_mode": "symbolic", **env_kwargs}
        env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    else:
        kwargs = dict(env_kwargs)
        env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **kwargs)
    agent.reset(env_id, kwargs)
    obs, _ = env.reset(seed=seed)
    finished = np.zeros(num_envs, dtype=np.int64)
    returns = []
    while (finished < episodes_per_env).any():
        obs, reward, terminated, truncated, _ = env.step(agent.act_batch(obs))
        ended = terminated | truncated  # rewards come only at the end; the autoreset step pays 0
        returns.append(reward[ended & (finished < episodes_per_env)])
        finished += ended
    env.close()
    returns = np.concatenate(returns)
    assert len(returns) == num_envs * episodes_per_env
    return returns.mean(), returns.std(ddof=1) / np.sqrt(len(returns))


def assert_in_ci(exact: Fraction, mean: float, stderr: float) -> None:
    assert abs(float(exact) - mean) <= Z_99 * stderr, (
        f"exact {float(exact):.5f} outside the 99% CI {mean:.5f} +- {Z_99 * stderr:.5f}"
    )


@pytest.mark.parametrize(("natural", "sab"), RULE_SETS)
def test_optimal_value_matches_monte_carlo_through_our_env(natural, sab):
    mean, stderr = monte_carlo(
        OptimalBlackjackAgent(), {"natural": natural, "sab": sab}, episodes_per_env=250
    )
    assert_in_ci(blackjack_dp(natural, sab).expected_return, mean, stderr)


def test_monte_carlo_check_can_fail():
    # The same check, fed the value of the wrong rule set, rejects it: the natural bonus is visible.
    mean, stderr = monte_carlo(OptimalBlackjackAgent(), {"natural": True}, episodes_per_env=250, seed=1)
    with pytest.raises(AssertionError):
        assert_in_ci(blackjack_dp(natural=False).expected_return, mean, stderr)


def test_optimal_value_matches_monte_carlo_through_gymnasium_blackjack_v1():
    # Gymnasium's own env (Python, one env per step): a smaller sample (25.6k), CI half-width ~0.015.
    mean, stderr = monte_carlo(
        OptimalBlackjackAgent(), {}, episodes_per_env=400, num_envs=64, seed=3, env_id="Blackjack-v1"
    )
    assert_in_ci(blackjack_dp().expected_return, mean, stderr)


def test_random_policy_value_matches_monte_carlo():
    mean, stderr = monte_carlo(RandomAgent(seed=5), {}, episodes_per_env=150, seed=2)
    assert_in_ci(random_policy_return(), mean, stderr)


def test_win_probability_matches_monte_carlo():
    # P(win) of the win-maximising policy, estimated by the frequency of a positive reward.
    agent = OptimalBlackjackAgent(objective="win")
    env = gym.make_vec(
        "icl/Blackjack-v0", num_envs=1024, vectorization_mode="vector_entry_point", obs_mode="symbolic"
    )
    agent.reset("icl/Blackjack-v0", {"obs_mode": "symbolic"})
    obs, _ = env.reset(seed=4)
    finished = np.zeros(1024, dtype=np.int64)
    wins = []
    while (finished < 150).any():
        obs, reward, terminated, truncated, _ = env.step(agent.act_batch(obs))
        ended = terminated | truncated
        wins.append(reward[ended & (finished < 150)] > 0)
        finished += ended
    wins = np.concatenate(wins)
    assert_in_ci(
        blackjack_dp(objective="win").win_probability, wins.mean(), wins.std(ddof=1) / np.sqrt(len(wins))
    )


# ----------------------------------------------------------------------------------------------
# Exact facts
# ----------------------------------------------------------------------------------------------


def _dealer_by_enumeration(up_card: int) -> dict:
    """Dealer outcomes by walking every card sequence with the shared rules on explicit hands."""
    distribution = dict.fromkeys(DEALER_OUTCOMES, Fraction(0))

    def walk(hand: list[int], p: Fraction) -> None:
        if len(hand) >= 2 and not rules.dealer_draws(hand):
            if rules.is_natural(hand):
                outcome = "natural"
            elif rules.is_bust(hand):
                outcome = "bust"
            else:
                outcome = rules.sum_hand(hand)
            distribution[outcome] += p
            return
        for card, q in CARD_PROBABILITIES.items():
            walk([*hand, card], p * q)

    walk([up_card], Fraction(1))
    return distribution


@pytest.mark.parametrize("up_card", [1, 2, 6, 10])
def test_dealer_distribution_equals_enumeration(up_card):
    distribution = dealer_final_distribution(up_card)
    assert distribution == _dealer_by_enumeration(up_card)
    assert sum(distribution.values()) == 1


def test_dealer_natural_probability():
    # An ace shows: a natural needs a ten-card hole (4/13); a ten shows: it needs an ace (1/13).
    assert dealer_final_distribution(1)["natural"] == Fraction(4, 13)
    assert dealer_final_distribution(10)["natural"] == Fraction(1, 13)
    assert dealer_final_distribution(5)["natural"] == 0


# Sutton & Barto (2018), Figure 5.2: the optimal Blackjack policy (stick S / hit H) found by Monte
# Carlo ES, rows player sum 21..12, columns dealer card A, 2, ..., 10. The infinite-deck DP agrees.
SUTTON_BARTO_USABLE_ACE = {21: "SSSSSSSSSS", 20: "SSSSSSSSSS", 19: "SSSSSSSSSS", 18: "HSSSSSSSHH"}
SUTTON_BARTO_NO_USABLE_ACE = (
    {s: "SSSSSSSSSS" for s in range(17, 22)}
    | {s: "HSSSSSHHHH" for s in (13, 14, 15, 16)}
    | {12: "HHHSSSHHHH"}
)


@pytest.mark.parametrize(("natural", "sab"), RULE_SETS)
def test_optimal_policy_is_sutton_barto_figure_5_2(natural, sab):
    policy = blackjack_dp(natural, sab).policy
    for usable, rows in ((1, SUTTON_BARTO_USABLE_ACE), (0, SUTTON_BARTO_NO_USABLE_ACE)):
        for total in range(12, 22):
            expected = rows.get(total, "HHHHHHHHHH")
            got = "".join("H" if policy[total, d, usable] == HIT else "S" for d in range(1, 11))
            assert got == expected, f"sum {total}, usable ace {usable}"
    # Below 12 hitting can never bust, so hitting is always optimal.
    assert (policy[4:12, 1:11, 0] == HIT).all()


@pytest.mark.parametrize(("natural", "sab"), RULE_SETS)
def test_solution_tables_and_identities(natural, sab):
    solution = blackjack_dp(natural, sab)
    assert solution.policy.shape == solution.value.shape == TABLE_SHAPE
    assert solution.policy.dtype == np.int8
    # Observable states have values; impossible ones (dealer card 0, soft totals below 12) are NaN.
    assert np.isfinite(solution.value[4:22, 1:11, 0]).all()
    assert np.isfinite(solution.value[12:22, 1:11, 1]).all()
    assert np.isnan(solution.value[:, 0]).all() and np.isnan(solution.value[4:12, :, 1]).all()
    np.testing.assert_array_equal(
        solution.value[4:22, 1:11], np.maximum(solution.q_stand, solution.q_hit)[4:22, 1:11]
    )
    # Acting from the observation alone loses nothing: a natural is played like any soft 21.
    np.testing.assert_array_equal(solution.natural_policy[1:], solution.policy[21, 1:, 1])
    assert solution.win_probability + solution.draw_probability + solution.loss_probability == 1
    assert policy_expected_return(solution.policy, natural=natural, sab=sab) == solution.expected_return
    if not natural or sab:  # rewards are exactly +1/0/-1, so E[R] = P(win) - P(loss)
        assert solution.expected_return == solution.win_probability - solution.loss_probability


def test_known_values_and_orderings():
    default = blackjack_dp()
    # Hit/stand-only Blackjack against an S17 dealer costs the player about 4-5% per hand.
    assert -0.05 < default.expected_return < -0.04
    # The natural bonus only helps; sab's natural auto-win also helps; sab overrides natural.
    assert blackjack_dp(natural=True).expected_return > default.expected_return
    assert blackjack_dp(sab=True).expected_return > default.expected_return
    assert blackjack_dp(True, True).expected_return == blackjack_dp(False, True).expected_return
    for natural, sab in RULE_SETS:
        best_return = blackjack_dp(natural, sab)
        best_win = blackjack_dp(natural, sab, "win")
        assert best_win.win_probability > best_return.win_probability
        assert best_win.expected_return < best_return.expected_return
        assert random_policy_return(natural, sab) < best_return.expected_return
    always_stand = np.zeros(TABLE_SHAPE, dtype=np.int8)
    assert policy_expected_return(always_stand) < default.expected_return
    win, draw, loss = policy_outcome_probabilities(always_stand)
    assert win + draw + loss == 1


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="natural"):
        blackjack_dp(natural="yes")
    with pytest.raises(ValueError, match="objective"):
        blackjack_dp(objective="profit")
    with pytest.raises(ValueError, match="dealer_card"):
        dealer_final_distribution(11)
    with pytest.raises(ValueError, match="policy"):
        policy_expected_return(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="obs_mode"):
        OptimalBlackjackAgent().reset("icl/Blackjack-v0", {"obs_mode": "image"})


def test_optimal_agent_single_and_batched_agree():
    agent = OptimalBlackjackAgent()
    agent.reset("icl/Blackjack-v0", {"obs_mode": "symbolic"})
    sums, dealers, aces = np.meshgrid(np.arange(12, 22), np.arange(1, 11), [0, 1], indexing="ij")
    batch = (sums.ravel(), dealers.ravel(), aces.ravel())
    actions = agent.act_batch(batch)
    singles = [agent.act((int(s), int(d), int(a))) for s, d, a in zip(*batch)]
    np.testing.assert_array_equal(actions, singles)
    assert agent.act((16, 10, 0)) == HIT and agent.act((16, 6, 0)) == STAND
    # The multi-player table's dict observation works too.
    assert agent.act({"observation": np.array([12, 4, 0]), "action_mask": np.array([1, 1], np.int8)}) == STAND


# ----------------------------------------------------------------------------------------------
# RandomAgent
# ----------------------------------------------------------------------------------------------


def test_random_agent_is_reproducible_and_uniform():
    obs_batch = (np.full(20000, 15), np.full(20000, 10), np.zeros(20000, dtype=np.int64))
    first, second = RandomAgent(seed=3), RandomAgent(seed=3)
    for agent in (first, second):
        agent.reset("icl/Blackjack-v0", {"obs_mode": "symbolic"})
    actions = first.act_batch(obs_batch)
    np.testing.assert_array_equal(actions, second.act_batch(obs_batch))
    assert actions.shape == (20000,) and set(np.unique(actions)) == {0, 1}
    # Binomial(20000, 1/2): the share of hits is within 5 standard deviations (0.018) of 1/2.
    assert abs(actions.mean() - 0.5) < 5 * 0.5 / np.sqrt(20000)
    other = RandomAgent(seed=4)
    other.reset("icl/Blackjack-v0", {"obs_mode": "symbolic"})
    assert not np.array_equal(other.act_batch(obs_batch), actions)


def test_random_agent_successive_resets_draw_independent_streams():
    """The harness resets once per seed: each seed must get its own actions, yet runs replay."""
    obs_batch = (np.full(2000, 15), np.full(2000, 10), np.zeros(2000, dtype=np.int64))

    def two_resets(agent):
        streams = []
        for _ in range(2):
            agent.reset("icl/Blackjack-v0", {"obs_mode": "symbolic"})
            streams.append(agent.act_batch(obs_batch))
        return streams

    first, second = two_resets(RandomAgent(seed=3)), two_resets(RandomAgent(seed=3))
    assert not np.array_equal(first[0], first[1])
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_random_agent_respects_action_mask():
    agent = RandomAgent(seed=0)
    mask = np.tile(np.array([[1, 0, 1, 0], [0, 0, 0, 1]], dtype=np.int8), (500, 1))
    actions = agent.act_batch({"observation": np.zeros((1000, 3)), "action_mask": mask})
    assert set(actions[0::2]) == {0, 2} and set(actions[1::2]) == {3}
    assert agent.act({"action_mask": np.array([0, 1], dtype=np.int8)}) == 1


def test_random_agent_text_mode_answers_parse():
    env = gym.make("icl/Blackjack-v0", obs_mode="text")
    agent = RandomAgent(seed=1)
    agent.reset("icl/Blackjack-v0", {"obs_mode": "text"})
    obs, _ = env.reset(seed=0)
    answers = [agent.act(obs) for _ in range(50)]
    assert all(isinstance(a, str) and json.loads(a)["action"] in ("stand", "hit") for a in answers)
    parsed = {env.unwrapped.parse_action(a) for a in answers}
    assert parsed == {(0, True), (1, True)}
    batch = agent.act_batch((obs, obs, obs))
    assert isinstance(batch, list) and len(batch) == 3
    env.close()


def test_random_agent_bad_arguments():
    with pytest.raises(ValueError, match="seed"):
        RandomAgent(seed=-1)
    with pytest.raises(ValueError, match="env_id"):
        RandomAgent().reset("icl/NoSuchEnv-v0", {})
    with pytest.raises(ValueError, match="reset"):
        RandomAgent().act_batch(np.zeros((4, 3)))
