"""The deck's vocabulary, once for every card game: suits, ranks, what each rank counts, card names.

A rank is an index 0..12 (A, 2..10, J, Q, K), a suit an index 0..3 (S, H, D, C). A card id is
``suit * 13 + rank`` (0..51); its name is the suit letter followed by the rank (``"H2"``,
``"S10"``, ``"DK"``, ``"CA"``), which is also the name the sprites draw. Every game counts a rank
the same way: an ace 1, a number card its number, J, Q and K 10 (Blackjack's ace may also count
11: that rule lives in ``blackjack_rules``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from icl_envs.checks import describe

SUITS = ("S", "H", "D", "C")
RANK_NAMES = ("A", "2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K")
NUM_RANKS = len(RANK_NAMES)
NUM_CARDS = len(SUITS) * NUM_RANKS
#: What each rank index counts for.
RANK_VALUES = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10], dtype=np.int64)
#: Rank indices of the ten-valued cards 10, J, Q, K.
TEN_VALUED_RANKS = (9, 10, 11, 12)
#: Name and value of each card id 0..51.
CARD_NAMES: tuple[str, ...] = tuple(suit + rank for suit in SUITS for rank in RANK_NAMES)
CARD_VALUES = np.tile(RANK_VALUES, len(SUITS))


def rank_value(rank: int) -> int:
    """The number a rank index (0 = ace .. 12 = king) counts for: faces count 10."""
    return int(RANK_VALUES[rank])


def card_name(rank: int, suit: int) -> str:
    """The name of the card of rank index ``rank`` and suit index ``suit``, e.g. ``"S10"``."""
    return SUITS[suit] + RANK_NAMES[rank]


def parse_card_name(name: Any) -> tuple[str, str]:
    """Split ``"S10"`` into ``("S", "10")``; raise ``ValueError`` naming the card for a bad name."""
    if not isinstance(name, str) or len(name) < 2 or name[0] not in SUITS or name[1:] not in RANK_NAMES:
        raise ValueError(
            f"card name must be a suit letter {'/'.join(SUITS)} followed by a rank "
            f"{'/'.join(RANK_NAMES)} (e.g. 'H2', 'S10', 'DK'); got {describe(name)}"
        )
    return name[0], name[1:]


def card_rank_suit(name: Any) -> tuple[int, int]:
    """(rank index, suit index) of a card name such as ``"DK"``."""
    suit, rank = parse_card_name(name)
    return RANK_NAMES.index(rank), SUITS.index(suit)
