"""The multi-player PettingZoo Blackjack table (icl_envs/multi/blackjack_table_v0.py)."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

from baselines.classic.blackjack import OptimalBlackjackAgent, blackjack_dp
from icl_envs.cards import blackjack_rules as rules
from icl_envs.multi import blackjack_table_v0
from icl_envs.multi.blackjack_table_v0 import MAX_HAND_CARDS, BlackjackTable, TableDeal, TableRenderer

# PettingZoo's API test warns about any Dict observation space (its own classic envs with action
# masks are exempted by name); these two warnings are expected, any other one fails the test.
EXPECTED_WARNINGS = (
    "Observation space for each agent probably should be gymnasium.spaces.box or gymnasium.spaces.discrete",
    "Observation is not a NumPy array",
)


def _run_without_unexpected_warnings(check, *args, **kwargs) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check(*args, **kwargs)
    unexpected = [str(w.message) for w in caught if str(w.message) not in EXPECTED_WARNINGS]
    assert not unexpected, unexpected


@pytest.mark.parametrize(
    ("num_players", "natural", "sab"), [(1, False, False), (3, True, False), (7, False, True)]
)
def test_pettingzoo_api_and_seed_tests(num_players, natural, sab):
    kwargs = {"num_players": num_players, "natural": natural, "sab": sab}
    _run_without_unexpected_warnings(api_test, blackjack_table_v0.env(**kwargs), num_cycles=300)
    _run_without_unexpected_warnings(
        parallel_api_test, blackjack_table_v0.parallel_env(**kwargs), num_cycles=300
    )
    seed_test(lambda: blackjack_table_v0.env(**kwargs), num_cycles=100)
    parallel_seed_test(lambda: blackjack_table_v0.parallel_env(**kwargs), num_cycles=100)


def _play_aec(env, choose, seed):
    """Play one round; return each agent's summed reward and last info."""
    env.reset(seed=seed)
    totals, infos = {}, {}
    for agent in env.agent_iter():
        observation, reward, terminated, truncated, info = env.last()
        totals[agent] = totals.get(agent, 0.0) + reward
        infos[agent] = info
        env.step(None if terminated or truncated else choose(agent, observation))
    return totals, infos


def test_aec_and_parallel_deal_the_same_round():
    agent = OptimalBlackjackAgent()
    aec = blackjack_table_v0.env(num_players=4)
    parallel = blackjack_table_v0.parallel_env(num_players=4)
    for seed in range(20):
        aec_returns, aec_infos = _play_aec(aec, lambda _, obs: agent.act(obs), seed)
        observations, _ = parallel.reset(seed=seed)
        parallel_returns = dict.fromkeys(parallel.possible_agents, 0.0)
        while parallel.agents:
            actions = {name: agent.act(obs) for name, obs in observations.items()}
            observations, rewards, _, _, infos = parallel.step(actions)
            for name, reward in rewards.items():
                parallel_returns[name] += reward
        assert aec_returns == parallel_returns
        assert {name: info["player_cards"] for name, info in aec_infos.items()} == {
            name: info["player_cards"] for name, info in infos.items()
        }


def test_a_seats_cards_do_not_depend_on_the_others():
    def cards_of_player_1(first_action):
        env = blackjack_table_v0.env(num_players=2)
        _, infos = _play_aec(env, lambda name, _: first_action if name == "player_0" else 0, seed=11)
        return infos["player_1"]["player_cards"]

    assert cards_of_player_1(0) == cards_of_player_1(1)


def test_same_seed_same_round_and_different_seeds_differ():
    env = blackjack_table_v0.parallel_env(num_players=3)
    first = env.reset(seed=5)[1]
    assert env.reset(seed=5)[1] == first
    assert any(env.reset(seed=s)[1] != first for s in range(6, 10))


def test_observations_masks_and_infos():
    env = blackjack_table_v0.env(num_players=2)
    env.reset(seed=2)
    for name in env.agents:
        observation = env.observe(name)
        info = env.infos[name]
        values = [rules.card_value(rules.RANK_NAMES.index(card[1:])) for card in info["player_cards"]]
        up = rules.card_value(rules.RANK_NAMES.index(info["dealer_up_card"][1:]))
        np.testing.assert_array_equal(
            observation["observation"], [rules.sum_hand(values), up, int(rules.usable_ace(values))]
        )
        assert observation["observation"].dtype == np.int64
        np.testing.assert_array_equal(observation["action_mask"], [1, 1])
        assert "dealer_cards" not in info  # the hole card stays hidden until the round is settled
    env.step(0)  # player_0 stands: only standing (a no-op) remains for it
    np.testing.assert_array_equal(env.observe("player_0")["action_mask"], [1, 0])
    assert env.agent_selection == "player_1"
    env.step(0)
    assert all(env.terminations.values())
    assert all(len(info["dealer_cards"]) >= 2 for info in env.infos.values())


def _table(player_hands, dealer_cards, **rule_flags) -> BlackjackTable:
    """A round with chosen cards (rank indices 0..12; later cards are tens)."""
    ranks = np.full((len(player_hands) + 1, MAX_HAND_CARDS), 9)
    for row, hand in enumerate([*player_hands, dealer_cards]):
        ranks[row, : len(hand)] = hand
    suits = np.zeros_like(ranks)
    deal = TableDeal(ranks[:-1], suits[:-1], ranks[-1], suits[-1])
    return BlackjackTable(deal, natural=rule_flags.get("natural", False), sab=rule_flags.get("sab", False))


ACE, FIVE, SIX, SEVEN, NINE, TEN, KING = 0, 4, 5, 6, 8, 9, 12


@pytest.mark.parametrize(
    ("natural", "sab", "expected"),
    [(False, False, [0.0, 0.0, -1.0]), (True, False, [0.0, 0.0, -1.0]), (False, True, [1.0, 0.0, -1.0])],
)
def test_settlement_follows_gymnasium_rules(natural, sab, expected):
    # Seat 0 holds a natural, seat 1 hits 5 + 6 to a three-card 21, seat 2 holds 17.
    # First round: the dealer's K + 5 draws a 7 (bust); seat 2 hits a ten and busts.
    table = _table(
        [[ACE, KING], [FIVE, SIX, TEN], [TEN, SEVEN]], [KING, FIVE, SEVEN], natural=natural, sab=sab
    )
    assert table.act(0, 0) == 0.0
    assert table.act(1, 1) == 0.0 and table.act(1, 0) == 0.0
    assert table.act(2, 1) == -1.0
    assert table.all_done
    final = table.settle()
    busted_dealer = [1.5 if natural and not sab else 1.0, 1.0, 0.0]
    assert final == busted_dealer
    assert table.dealer_values() == [10, 5, 7]
    # Against a dealer natural: a player natural pushes (all rule sets), 21 in three cards pushes.
    table = _table([[ACE, KING], [FIVE, SIX, TEN], [TEN, SEVEN]], [ACE, KING], natural=natural, sab=sab)
    table.act(0, 0), table.act(1, 1), table.act(1, 0), table.act(2, 0)
    assert table.settle() == [0.0, 0.0, -1.0]
    # Against a dealer's three-card 21, a player natural pushes unless sab makes it win.
    table = _table([[ACE, KING], [FIVE, SIX, TEN], [TEN, SEVEN]], [KING, FIVE, SIX], natural=natural, sab=sab)
    table.act(0, 0), table.act(1, 1), table.act(1, 0), table.act(2, 0)
    assert table.settle() == expected


def test_dealer_does_not_draw_when_every_hand_busted():
    table = _table([[TEN, SIX]], [TEN, FIVE])
    assert table.act(0, 1) == -1.0  # 16 + 10
    assert table.settle() == [0.0] and table.dealer_count == 2


def test_table_return_matches_the_dp_value():
    # Every seat plays the DP policy; its mean return is the single-player optimum (99% CI).
    agent = OptimalBlackjackAgent()
    env = blackjack_table_v0.parallel_env(num_players=5)
    returns = []
    observations, _ = env.reset(seed=0)
    for _ in range(6000):
        round_returns = dict.fromkeys(env.possible_agents, 0.0)
        while env.agents:
            observations, rewards, _, _, _ = env.step(
                {name: agent.act(obs) for name, obs in observations.items()}
            )
            for name, reward in rewards.items():
                round_returns[name] += reward
        returns.extend(round_returns.values())
        observations, _ = env.reset()
    returns = np.array(returns)
    stderr = returns.std(ddof=1) / np.sqrt(len(returns))  # 30k hands: 99% half-width ~0.014
    assert abs(returns.mean() - float(blackjack_dp().expected_return)) <= 2.576 * stderr


def test_parallel_ignores_finished_hands_and_checks_actions():
    env = blackjack_table_v0.parallel_env(num_players=2)
    env.reset(seed=1)
    env.step({"player_0": 0, "player_1": 1 if env.table.is_live(1) else 0})
    if env.agents and env.table.is_live(1):
        before = env.table.player_cards(0)
        env.step({"player_0": 1, "player_1": 0})  # player_0 already stood: its hit is ignored
        assert env.table.player_cards(0) == before
    env.reset(seed=1)
    with pytest.raises(gymnasium.error.InvalidAction, match="player_1"):
        env.step({"player_0": 0})
    with pytest.raises(gymnasium.error.InvalidAction, match="action"):
        env.step({"player_0": 2, "player_1": 0})
    with pytest.raises(gymnasium.error.InvalidAction, match="player_9"):
        env.step({"player_9": 0})
    env.step({"player_0": 0, "player_1": 0})
    with pytest.raises(gymnasium.error.ResetNeeded):
        env.step({})


def test_aec_rejects_out_of_space_actions():
    env = blackjack_table_v0.env(num_players=2)
    env.reset(seed=0)
    with pytest.raises(gymnasium.error.InvalidAction, match="action"):
        env.step(2)
    with pytest.raises(gymnasium.error.InvalidAction):
        env.step("hit")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"num_players": 0}, "num_players"),
        ({"num_players": 8}, "num_players"),
        ({"num_players": "3"}, "num_players"),
        ({"natural": "yes"}, "natural"),
        ({"sab": 2}, "sab"),
        ({"render_mode": "rgb"}, "render_mode"),
        ({"image_size": 100}, "image_size"),
    ],
)
def test_bad_arguments_are_named(kwargs, name):
    for make in (blackjack_table_v0.env, blackjack_table_v0.parallel_env):
        with pytest.raises(ValueError, match=name):
            make(**kwargs)


# ----------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------


def test_frames_shape_and_change_with_the_state():
    env = blackjack_table_v0.env(num_players=3, render_mode="rgb_array", image_size=320)
    env.reset(seed=3)
    first = env.render()
    assert first.shape == (320, 320, 3) and first.dtype == np.uint8
    env.step(0)
    second = env.render()
    assert not np.array_equal(first, second)  # the highlighted seat and player_0's status changed
    assert env.render() is not second and np.array_equal(env.render(), second)


def test_hole_card_is_not_in_the_frame_until_settled():
    renderer = TableRenderer(2, 300, "Dealer stands on 17")
    hands = [[TEN, SEVEN], [FIVE, SIX]]
    hole_five, hole_king = _table(hands, [NINE, FIVE]), _table(hands, [NINE, KING])
    frame_five = renderer.draw(hole_five, current_seat=0)
    frame_king = renderer.draw(hole_king, current_seat=0)
    from icl_envs.cards.sprites import surface_to_array

    assert np.array_equal(surface_to_array(frame_five), surface_to_array(frame_king))
    for table in (hole_five, hole_king):
        table.act(0, 0), table.act(1, 0), table.settle()
    assert not np.array_equal(
        surface_to_array(renderer.draw(hole_five, None)), surface_to_array(renderer.draw(hole_king, None))
    )


@pytest.mark.parametrize(("num_players", "image_size"), [(1, 150), (5, 300), (7, 150), (7, 600)])
def test_nothing_is_clipped(num_players, image_size):
    # Long hands (eleven aces, a soft 21) in every seat and a long dealer hand (six aces, then tens
    # to a bust): all cards must stay inside the felt, so the frame's outer border keeps the plain
    # edge colour.
    hands = [[ACE] * 11] * num_players
    table = _table(hands, [ACE] * 6)
    for seat in range(num_players):
        for _ in range(9):
            table.act(seat, 1)
        table.act(seat, 0)
    table.settle()
    renderer = TableRenderer(num_players, image_size, "Dealer stands on 17")
    from icl_envs.cards.sprites import surface_to_array

    frame = surface_to_array(renderer.draw(table, None))
    border = max(1, renderer.margin // 2)
    edges = np.concatenate(
        [
            frame[:border].reshape(-1, 3),
            frame[-border:].reshape(-1, 3),
            frame[:, :border].reshape(-1, 3),
            frame[:, -border:].reshape(-1, 3),
        ]
    )
    assert (edges == blackjack_table_v0.FELT_EDGE).all()
    assert all(len(table.player_cards(seat)) == 11 for seat in range(num_players))
    assert len(table.dealer_cards()) == 8


def test_human_render_mode_runs_headless():
    env = blackjack_table_v0.env(num_players=2, render_mode="human", image_size=200)
    env.reset(seed=0)
    assert env.render() is None
    env.close()
