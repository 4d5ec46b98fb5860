"""Exact Blackjack references by dynamic programming over the infinite deck.

The game is Gymnasium's Blackjack-v1 (and ``icl/Blackjack-v0``): each card is drawn uniformly from
the 13 ranks (J, Q, K count 10), the player sees ``(player_sum, dealer_card, usable_ace)``, may hit
or stand, and the dealer then draws to 17 or more (standing on a soft 17). Because the deck is
infinite, a hand's future depends only on its total, whether it holds a usable ace and, for the
payout, whether it is a natural; the state space is tiny and every hand ends after finitely many
cards, so the Bellman equations are solved exactly by recursion, here in ``fractions.Fraction``.

What this module gives (all exact; floats are conversions of the fractions):

- :func:`dealer_final_distribution`: the dealer's final total given the up card;
- :func:`blackjack_dp`: the policy maximising the expected return (``objective="return"``) or the
  probability of winning (``objective="win"``), its value table and its value at the deal;
- :func:`random_policy_return`: the expected return of the uniformly random policy;
- :func:`policy_outcome_probabilities`: P(win), P(draw), P(loss) of any policy table;
- :class:`OptimalBlackjackAgent`: the harness agent acting from the symbolic observation.

The rules are not re-derived here: totals, the dealer's draws and the payouts are those of
``icl_envs.cards.blackjack.rules``, so the DP and the environments share one definition of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np

from icl_envs.cards.blackjack import rules
from icl_envs.cards.deck import RANK_VALUES
from icl_envs.checks import check_bool
from leaderboard.agent import Agent

STAND, HIT = 0, 1
# Shape of the observation space Tuple(Discrete(32), Discrete(11), Discrete(2)); tables are indexed
# exactly like an observation: table[player_sum, dealer_card, usable_ace].
TABLE_SHAPE = (32, 11, 2)
DEALER_CARDS = tuple(range(1, 11))  # 1 is the ace
# Probability of each card value: 1/13 for A..9, 4/13 for a ten-card (10, J, Q, K).
CARD_PROBABILITIES: dict[int, Fraction] = {
    value: Fraction(int(np.sum(RANK_VALUES == value)), len(RANK_VALUES)) for value in range(1, 11)
}
# The dealer's final hand: a total 17..21 (21 reached with three or more cards), a natural, or a bust.
DEALER_OUTCOMES: tuple[int | str, ...] = (17, 18, 19, 20, 21, "natural", "bust")
OBJECTIVES = ("return", "win")


# ---------------------------------------------------------------------------------------------
# Hands as (total, usable_ace), read with the rules module
# ---------------------------------------------------------------------------------------------


def _add_card(total: int, usable: bool, card: int) -> tuple[int, bool]:
    """The (total, usable_ace) after drawing ``card``; a total above 21 is a bust.

    A hand with a non-usable ace behaves like a hand without one from then on (its ace can never
    become usable again as the hard total only grows), which is why (total, usable) is Markov: the
    hand's hard total is ``total`` less the 10 of a usable ace, and only a usable ace matters.
    """
    hard = total - rules.ACE_BONUS * usable + card
    has_ace = usable or card == 1
    return rules.total(hard, has_ace), rules.soft(hard, has_ace)


def _stand_reward(total: int, is_natural: bool, outcome: int | str, *, natural: bool, sab: bool) -> float:
    """The reward of standing on ``total`` (a natural or not) against the dealer's final ``outcome``."""
    dealer_total = {"natural": rules.BLACKJACK, "bust": rules.BLACKJACK + 1}.get(
        outcome, outcome
    )  # 22: any bust
    return rules.settle_totals(
        total, dealer_total, is_natural, outcome == "natural", natural=natural, sab=sab
    )


# ---------------------------------------------------------------------------------------------
# The dealer
# ---------------------------------------------------------------------------------------------


@cache
def _dealer_play(total: int, usable: bool) -> dict[int | str, Fraction]:
    """Outcome distribution of a dealer hand of at least two cards (not a natural) from here on."""
    if rules.is_bust_total(total):
        return {"bust": Fraction(1)}
    if not rules.dealer_hits(total):
        return {total: Fraction(1)}
    distribution: dict[int | str, Fraction] = {}
    for card, p in CARD_PROBABILITIES.items():
        for outcome, q in _dealer_play(*_add_card(total, usable, card)).items():
            distribution[outcome] = distribution.get(outcome, Fraction(0)) + p * q
    return distribution


@cache
def dealer_final_distribution(dealer_card: int) -> dict[int | str, Fraction]:
    """Exact distribution of the dealer's final hand given the up card (1 = ace, 10 = ten-card).

    Keys are ``DEALER_OUTCOMES``: totals 17..21 (21 not a natural), ``"natural"`` (ace and ten as the
    first two cards) and ``"bust"``. The hole card is unknown to the player, so it is drawn from the
    deck like every later card (no peeking for a natural, as in Gymnasium).
    """
    if dealer_card not in DEALER_CARDS:
        raise ValueError(f"dealer_card must be one of 1..10 (1 is the ace), got {dealer_card!r}")
    distribution = dict.fromkeys(DEALER_OUTCOMES, Fraction(0))
    for hole, p in CARD_PROBABILITIES.items():
        if rules.is_natural([dealer_card, hole]):
            distribution["natural"] += p
            continue
        for outcome, q in _dealer_play(*_add_card(*_add_card(0, False, dealer_card), hole)).items():
            distribution[outcome] += p * q
    return distribution


# ---------------------------------------------------------------------------------------------
# The player: Bellman recursion over (total, usable_ace, natural) for a fixed dealer up card
# ---------------------------------------------------------------------------------------------

# Decides the value of a state from the values of standing and hitting; returns (value, action).
# ``action`` is STAND/HIT for a deterministic choice and None for a mixture (the random policy).
Decision = Callable[[int, int, bool, Fraction, Fraction], tuple[Fraction, int | None]]


def _stand_values(natural: bool, sab: bool, payoff: Callable[[float], Fraction]) -> dict:
    """Expected payoff of standing, for each (total, is_natural, dealer_card)."""
    values = {}
    for dealer_card in DEALER_CARDS:
        dealer = dealer_final_distribution(dealer_card)
        for total in range(4, 22):
            for is_nat in (False, True) if total == 21 else (False,):
                values[total, is_nat, dealer_card] = sum(
                    (
                        p * payoff(_stand_reward(total, is_nat, outcome, natural=natural, sab=sab))
                        for outcome, p in dealer.items()
                    ),
                    Fraction(0),
                )
    return values


def _solve(natural: bool, sab: bool, payoff: Callable[[float], Fraction], decide: Decision):
    """Values and actions of every reachable state, and the value at the deal.

    Returns ``(values, actions, deal_value)`` with ``values[(total, usable, is_natural, dealer)]``
    and ``actions`` keyed the same way.
    """
    bust_payoff = payoff(-1.0)
    stand = _stand_values(natural, sab, payoff)
    values: dict[tuple[int, bool, bool, int], Fraction] = {}
    actions: dict[tuple[int, bool, bool, int], int | None] = {}

    def value(total: int, usable: bool, is_nat: bool, dealer_card: int) -> Fraction:
        if total > 21:
            return bust_payoff
        key = (total, usable, is_nat, dealer_card)
        if key not in values:
            hit = sum(
                (
                    p * value(*_add_card(total, usable, card), False, dealer_card)
                    for card, p in CARD_PROBABILITIES.items()
                ),
                Fraction(0),
            )
            values[key], actions[key] = decide(
                total, dealer_card, usable, stand[total, is_nat, dealer_card], hit
            )
        return values[key]

    deal_value = Fraction(0)
    for first, p1 in CARD_PROBABILITIES.items():
        for second, p2 in CARD_PROBABILITIES.items():
            total, usable = _add_card(*_add_card(0, False, first), second)
            is_nat = rules.is_natural([first, second])
            for dealer_card, p3 in CARD_PROBABILITIES.items():
                deal_value += p1 * p2 * p3 * value(total, usable, is_nat, dealer_card)
    # States reachable only by hitting (e.g. a three-card soft 13) are filled in by the recursion;
    # also visit every observable state so the tables have no holes.
    for dealer_card in DEALER_CARDS:
        for total in range(4, 22):
            value(total, False, False, dealer_card)
        for total in range(12, 22):
            value(total, True, False, dealer_card)
    return values, actions, deal_value


def _expected_reward(reward: float) -> Fraction:
    return Fraction(reward)


def _win_indicator(reward: float) -> Fraction:
    return Fraction(int(reward > 0))


def _maximise(total, dealer_card, usable, stand: Fraction, hit: Fraction) -> tuple[Fraction, int]:
    # Ties go to standing: the episode ends sooner for the same value.
    return (stand, STAND) if stand >= hit else (hit, HIT)


def _uniform(total, dealer_card, usable, stand: Fraction, hit: Fraction) -> tuple[Fraction, None]:
    return (stand + hit) / 2, None


def _follow(policy: np.ndarray) -> Decision:
    def decide(total, dealer_card, usable, stand: Fraction, hit: Fraction) -> tuple[Fraction, int]:
        action = int(policy[total, dealer_card, int(usable)])
        return (hit if action == HIT else stand), action

    return decide


# ---------------------------------------------------------------------------------------------
# Public results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlackjackSolution:
    """The optimal policy for one rule set and objective, with its exact values.

    Tables are indexed like the observation, ``table[player_sum, dealer_card, usable_ace]``, shape
    (32, 11, 2); entries of states that never occur (sums below 4, a usable ace below 12, sums above
    21, dealer card 0) are NaN in the value tables and STAND in the policy.
    """

    natural: bool
    sab: bool
    #: "return" (maximise the expected reward) or "win" (maximise the probability of a positive reward).
    objective: str
    #: 0 stand, 1 hit, int8.
    policy: np.ndarray
    #: Value of each state under the optimal policy (expected reward, or win probability), float64.
    value: np.ndarray
    #: Value of standing, then of hitting and playing on optimally, float64.
    q_stand: np.ndarray
    q_hit: np.ndarray
    #: The optimal policy's expected reward per hand, exactly.
    expected_return: Fraction
    #: The optimal policy's probabilities of winning, drawing and losing a hand, exactly.
    win_probability: Fraction
    draw_probability: Fraction
    loss_probability: Fraction
    #: The action at a natural (the observation (21, d, 1) of a two-card ace + ten), per dealer card;
    #: it is equal to policy[21, d, 1] (tested), so acting from the observation alone is optimal.
    natural_policy: np.ndarray

    def act(self, player_sum: int, dealer_card: int, usable_ace: int) -> int:
        return int(self.policy[player_sum, dealer_card, int(usable_ace)])


def _check_rules(natural: Any, sab: Any) -> tuple[bool, bool]:
    return check_bool("natural", natural), check_bool("sab", sab)


def _tables(values, actions, stand, hit_values):
    policy = np.zeros(TABLE_SHAPE, dtype=np.int8)
    value = np.full(TABLE_SHAPE, np.nan)
    q_stand = np.full(TABLE_SHAPE, np.nan)
    q_hit = np.full(TABLE_SHAPE, np.nan)
    for (total, usable, is_nat, dealer_card), v in values.items():
        if is_nat:
            continue
        index = (total, dealer_card, int(usable))
        policy[index] = actions[total, usable, is_nat, dealer_card]
        value[index] = float(v)
        q_stand[index] = float(stand[total, False, dealer_card])
        q_hit[index] = float(hit_values[total, usable, dealer_card])
    for table in (policy, value, q_stand, q_hit):
        table.flags.writeable = False  # solutions are cached and shared: nobody may edit them
    return policy, value, q_stand, q_hit


@cache
def blackjack_dp(natural: bool = False, sab: bool = False, objective: str = "return") -> BlackjackSolution:
    """Solve Blackjack exactly for Gymnasium's ``natural``/``sab`` rules.

    ``objective="return"`` maximises the expected reward per hand (the reference of the normalized
    score); ``objective="win"`` maximises the probability that the hand's reward is positive.
    """
    natural, sab = _check_rules(natural, sab)
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(map(repr, OBJECTIVES))}; got {objective!r}")
    payoff = _expected_reward if objective == "return" else _win_indicator
    hits: dict[tuple[int, bool, int], Fraction] = {}

    def decide(total, dealer_card, usable, stand, hit):
        hits[total, usable, dealer_card] = hit
        return _maximise(total, dealer_card, usable, stand, hit)

    values, actions, _ = _solve(natural, sab, payoff, decide)
    stand = _stand_values(natural, sab, payoff)
    policy, value, q_stand, q_hit = _tables(values, actions, stand, hits)
    natural_policy = np.zeros(11, dtype=np.int8)
    for dealer_card in DEALER_CARDS:
        natural_policy[dealer_card] = actions[21, True, True, dealer_card]
    natural_policy.flags.writeable = False
    win, draw, loss = policy_outcome_probabilities(policy, natural=natural, sab=sab)
    expected = policy_expected_return(policy, natural=natural, sab=sab)
    return BlackjackSolution(
        natural=natural,
        sab=sab,
        objective=objective,
        policy=policy,
        value=value,
        q_stand=q_stand,
        q_hit=q_hit,
        expected_return=expected,
        win_probability=win,
        draw_probability=draw,
        loss_probability=loss,
        natural_policy=natural_policy,
    )


def _check_policy(policy: Any) -> np.ndarray:
    policy = np.asarray(policy)
    if policy.shape != TABLE_SHAPE or not np.isin(policy, (STAND, HIT)).all():
        raise ValueError(f"policy must be an array of shape {TABLE_SHAPE} holding 0 (stand) or 1 (hit)")
    return policy


def policy_expected_return(policy: np.ndarray, *, natural: bool = False, sab: bool = False) -> Fraction:
    """Exact expected reward per hand of a deterministic policy table (acting from the observation)."""
    natural, sab = _check_rules(natural, sab)
    return _solve(natural, sab, _expected_reward, _follow(_check_policy(policy)))[2]


def policy_outcome_probabilities(
    policy: np.ndarray, *, natural: bool = False, sab: bool = False
) -> tuple[Fraction, Fraction, Fraction]:
    """Exact (P(win), P(draw), P(loss)) of a deterministic policy table."""
    natural, sab = _check_rules(natural, sab)
    decide = _follow(_check_policy(policy))
    win = _solve(natural, sab, _win_indicator, decide)[2]
    loss = _solve(natural, sab, lambda reward: Fraction(int(reward < 0)), decide)[2]
    return win, 1 - win - loss, loss


@cache
def random_policy_return(natural: bool = False, sab: bool = False) -> Fraction:
    """Exact expected reward of the policy that hits or stands with probability 1/2 at every step."""
    natural, sab = _check_rules(natural, sab)
    return _solve(natural, sab, _expected_reward, _uniform)[2]


def reference_returns(natural: bool = False, sab: bool = False) -> dict[str, float]:
    """The two anchors of the normalized score: the random policy's and the optimal policy's return."""
    return {
        "random": float(random_policy_return(natural, sab)),
        "optimal": float(blackjack_dp(natural, sab).expected_return),
    }


# ---------------------------------------------------------------------------------------------
# The agent
# ---------------------------------------------------------------------------------------------


class OptimalBlackjackAgent(Agent):
    """Plays the DP-optimal policy from the symbolic observation ``(player_sum, dealer_card, usable_ace)``.

    ``reset(env_id, env_kwargs)`` reads ``natural``/``sab`` from the env kwargs (the policy for the
    expected return happens to be the same for all four rule sets, but the agent does not rely on
    it). ``objective="win"`` plays the win-probability-maximising policy instead. Works on
    ``icl/Blackjack-v0`` with ``obs_mode="symbolic"``, Gymnasium's Blackjack-v1, and on the
    ``"observation"`` entry of the multi-player table's observations.
    """

    suites = ("core-v0",)

    def __init__(self, objective: str = "return", natural: bool = False, sab: bool = False):
        if objective not in OBJECTIVES:
            raise ValueError(
                f"objective must be one of {', '.join(map(repr, OBJECTIVES))}; got {objective!r}"
            )
        self.objective = objective
        self.solution = blackjack_dp(natural, sab, objective)

    def reset(self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> None:
        env_kwargs = dict(env_kwargs or {})
        # icl/Blackjack-v0 shows images by default; Gymnasium's Blackjack-v1 is always symbolic.
        if env_id is not None and env_id.startswith("icl/Blackjack"):
            obs_mode = env_kwargs.get("obs_mode", "image")
            if obs_mode != "symbolic":
                raise ValueError(
                    f"OptimalBlackjackAgent needs obs_mode='symbolic' observations; got obs_mode={obs_mode!r}"
                )
        self.solution = blackjack_dp(
            bool(env_kwargs.get("natural", False)), bool(env_kwargs.get("sab", False)), self.objective
        )

    def act(self, obs: Any) -> int:
        return int(self.act_batch(_as_batch(obs))[0])

    def act_batch(self, obs_batch: Any) -> np.ndarray:
        player_sum, dealer_card, usable_ace = _symbolic_columns(obs_batch)
        # A bust sum (above 21) is only ever seen in a final observation; standing there is harmless.
        return self.solution.policy[np.minimum(player_sum, 31), dealer_card, usable_ace].astype(np.int64)


def _as_batch(obs: Any) -> Any:
    if isinstance(obs, Mapping):
        return {key: np.asarray(value)[None] for key, value in obs.items()}
    return tuple(np.asarray(part).reshape(1) for part in obs)


def _symbolic_columns(obs_batch: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(player_sum, dealer_card, usable_ace) int arrays from a batched symbolic observation.

    Accepts Gymnasium's batched Tuple (three arrays), an (n, 3) array, or the table's Dict with
    an ``"observation"`` entry of shape (n, 3).
    """
    if isinstance(obs_batch, Mapping):
        if "observation" not in obs_batch:
            raise ValueError("a dict observation must hold the symbolic triple under 'observation'")
        obs_batch = obs_batch["observation"]
    if isinstance(obs_batch, tuple) and len(obs_batch) == 3:
        columns = [np.asarray(part, dtype=np.int64).reshape(-1) for part in obs_batch]
    else:
        array = np.asarray(obs_batch)
        if array.dtype.kind not in "biu" or array.ndim != 2 or array.shape[1] != 3:
            raise ValueError(
                "OptimalBlackjackAgent expects symbolic observations (player_sum, dealer_card, usable_ace), "
                f"got {type(obs_batch).__name__}"
            )
        columns = [array[:, i].astype(np.int64) for i in range(3)]
    return columns[0], columns[1], columns[2]
