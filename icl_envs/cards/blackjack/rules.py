"""Blackjack's rules, stated once for the single env, the vector env, the table and the DP solver.

Infinite deck: each card is drawn uniformly from the 13 ranks with J, Q, K counting 10, exactly as
Gymnasium's Blackjack-v1 (the deck's vocabulary is :mod:`icl_envs.cards.deck`).

A hand is described by its *hard total* (every ace counted 1) and whether it holds an ace; from
these two follow its total, whether an ace counts 11 (a *soft* hand), a bust and a natural. The rules
on totals below are written with operators only (``+``, ``*``, ``&``, comparisons), never a numpy
call, so each works alike on plain ints and bools (the single env's step, the DP's exact fractions)
and on numpy arrays of many hands (the vector env): one statement serves both, and the scalar path
stays as fast as hand-written Python. The functions on hands (lists of card values) further down
are one-line readings of the same rules, for the table and the tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from icl_envs.cards.deck import CARD_VALUES, NUM_RANKS, RANK_NAMES, RANK_VALUES, SUITS, rank_value

BLACKJACK = 21  # the best total; a hand above it is bust
DEALER_STANDS = 17  # the dealer draws below this total and stands on it, soft 17 included
ACE_BONUS = 10  # an ace counting 11 instead of 1
#: ``deck.CARD_VALUES`` as plain ints: the single env adds card values without numpy scalars.
CARD_VALUE_INTS: tuple[int, ...] = tuple(CARD_VALUES.tolist())


# -- the rules on totals: ints and bools, or numpy arrays of them ---------------------------------
def soft(hard: Any, has_ace: Any) -> Any:
    """Does the hand count an ace as 11? Only one ace can, and only when that does not bust."""
    return has_ace & (hard + ACE_BONUS <= BLACKJACK)


def total(hard: Any, has_ace: Any) -> Any:
    """The hand's total: its hard total, plus 10 for an ace that counts 11."""
    return hard + ACE_BONUS * soft(hard, has_ace)


def is_bust_total(total: Any) -> Any:
    """Is a total over 21? Also true of hard totals: a total exceeds 21 only if its hard total does."""
    return total > BLACKJACK


def is_natural_total(total: Any, num_cards: Any) -> Any:
    """Is the hand a natural: 21 with its first two cards (an ace and a ten-valued card)?"""
    return (num_cards == 2) & (total == BLACKJACK)


def dealer_hits(total: Any) -> Any:
    """Does the dealer draw another card? Below 17 (and not on a soft 17), as Gymnasium."""
    return total < DEALER_STANDS


def settle_totals(
    player_total: Any,
    dealer_total: Any,
    player_natural: Any,
    dealer_natural: Any,
    *,
    natural: bool,
    sab: bool,
) -> Any:
    """Reward of a hand the player stood on (``player_total`` <= 21) once the dealer has played.

    A higher total wins +1, an equal one draws 0, a lower one loses -1; a bust dealer scores 0.
    With Gymnasium's ``sab`` (Sutton and Barto) a player's natural wins +1 unless the dealer also
    has one; with ``natural`` a winning natural pays +1.5 (``sab`` overrides ``natural``). A float,
    or a float64 array for arrays of hands.
    """
    dealer_score = dealer_total * (dealer_total <= BLACKJACK)
    reward = 1.0 * (player_total > dealer_score) - 1.0 * (player_total < dealer_score)
    if sab:  # x ^ True is "not x" for a bool and for a bool array alike
        return reward + (1.0 - reward) * (player_natural & (dealer_natural ^ True))
    if natural:
        return reward + 0.5 * (player_natural & (reward == 1.0))
    return reward


# -- the same rules on hands: lists of card values 1..10 ---------------------------------------
card_value = rank_value


def draw_rank(np_random: np.random.Generator) -> int:
    """Draw a rank index 0..12 (A..K) from the infinite deck."""
    return int(np_random.integers(NUM_RANKS))


def hand_total(values: list[int]) -> tuple[int, bool]:
    """(total, usable ace) of a hand of card values."""
    hard, has_ace = sum(values), 1 in values
    return total(hard, has_ace), soft(hard, has_ace)


def sum_hand(values: list[int]) -> int:
    """The hand's total, counting one ace as 11 when that does not bust."""
    return hand_total(values)[0]


def usable_ace(values: list[int]) -> bool:
    """Does the hand hold an ace that can count 11 without busting?"""
    return hand_total(values)[1]


def is_bust(values: list[int]) -> bool:
    return is_bust_total(sum(values))


def score(values: list[int]) -> int:
    """0 for a bust hand, else its total."""
    return 0 if is_bust(values) else sum_hand(values)


def is_natural(values: list[int]) -> bool:
    """An ace and a ten-card as the first two cards."""
    return is_natural_total(sum_hand(values), len(values))


def dealer_draws(values: list[int]) -> bool:
    """The dealer hits below 17 (and stands on a soft 17), as Gymnasium."""
    return dealer_hits(sum_hand(values))


def settle(player: list[int], dealer: list[int], *, natural: bool, sab: bool) -> float:
    """Reward of a finished hand when the player stands: :func:`settle_totals` on two hands.

    ``player`` must not be bust (a bust is -1 without the dealer playing).
    """
    return settle_totals(
        score(player), sum_hand(dealer), is_natural(player), is_natural(dealer), natural=natural, sab=sab
    )


__all__ = [
    "ACE_BONUS",
    "BLACKJACK",
    "CARD_VALUE_INTS",
    "DEALER_STANDS",
    "RANK_NAMES",
    "RANK_VALUES",
    "SUITS",
    "card_value",
    "dealer_draws",
    "dealer_hits",
    "draw_rank",
    "hand_total",
    "is_bust",
    "is_bust_total",
    "is_natural",
    "is_natural_total",
    "settle",
    "settle_totals",
    "score",
    "soft",
    "sum_hand",
    "total",
    "usable_ace",
]
