"""Blackjack rules as small pure functions over hands (lists of card values 1..10).

Infinite deck: each card is drawn uniformly from 1..13 with J, Q, K counting 10, exactly as
Gymnasium's Blackjack-v1. Shared by the single env, the vector env, the multi-player table and the
dynamic-programming solver so the rules live in one place.
"""

from __future__ import annotations

import numpy as np

# Value of each of the 13 ranks A, 2..10, J, Q, K; drawing a rank uniformly is the infinite deck.
RANK_VALUES = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10], dtype=np.int64)
RANK_NAMES = ("A", "2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K")
SUITS = ("S", "H", "D", "C")


def draw_rank(np_random: np.random.Generator) -> int:
    """Draw a rank index 0..12 (A..K) from the infinite deck."""
    return int(np_random.integers(13))


def card_value(rank: int) -> int:
    return int(RANK_VALUES[rank])


def usable_ace(values: list[int]) -> bool:
    """Does the hand hold an ace that can count 11 without busting?"""
    return 1 in values and sum(values) + 10 <= 21


def sum_hand(values: list[int]) -> int:
    """The hand's total, counting one ace as 11 when that does not bust."""
    total = sum(values)
    return total + 10 if usable_ace(values) else total


def is_bust(values: list[int]) -> bool:
    return sum_hand(values) > 21


def score(values: list[int]) -> int:
    """0 for a bust hand, else its total."""
    return 0 if is_bust(values) else sum_hand(values)


def is_natural(values: list[int]) -> bool:
    """An ace and a ten-card as the first two cards."""
    return sorted(values) == [1, 10]


def dealer_draws(values: list[int]) -> bool:
    """The dealer hits below 17 (and stands on a soft 17), as Gymnasium."""
    return sum_hand(values) < 17


def settle(player: list[int], dealer: list[int], *, natural: bool, sab: bool) -> float:
    """Reward of a finished hand when the player stands, with Gymnasium's ``natural``/``sab`` rules.

    ``player`` must not be bust (a bust is -1 without the dealer playing). ``sab`` (Sutton and
    Barto): a player's natural wins +1 unless the dealer also has one; ``natural``: a player's
    natural that wins pays +1.5.
    """
    reward = float(np.sign(score(player) - score(dealer)))
    if sab and is_natural(player) and not is_natural(dealer):
        return 1.0
    if not sab and natural and is_natural(player) and reward == 1.0:
        return 1.5
    return reward
