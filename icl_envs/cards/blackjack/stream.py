"""The card stream: how Blackjack deals from the infinite deck, so that a vector env can replay it.

``reset(seed=...)`` seeds ``np_random``, and the env draws card ids (0..51, suit ``id // 13``,
rank ``id % 13``, names ``deck.CARD_NAMES``) from it in blocks of ``CARD_BLOCK``. A reset or a step
first draws a fresh block if fewer than ``MAX_CARDS_PER_CALL`` cards are left, then takes cards in
order. Every card is uniform over the 52 and independent of the others, so this is exactly the
infinite deck of Gymnasium; drawing in blocks lets the vector env hold one stream per sub-env and
reproduce ``SyncVectorEnv`` number for number while it draws for all sub-envs at once.
"""

from __future__ import annotations

import numpy as np

from icl_envs.cards.deck import NUM_CARDS

CARD_BLOCK = 2048
# A reset deals 4 cards; a stand makes the dealer draw at most 15 (the dealer's hard total starts
# at 2 or more, rises by 1 or more per card and the dealer stops by hard 17); a hit draws 1.
# Between two top-ups at most one reset or step runs, so a block never runs dry.
MAX_CARDS_PER_CALL = 16
#: A stream whose next card lies beyond this position draws a new block first.
REFILL_BEYOND = CARD_BLOCK - MAX_CARDS_PER_CALL
# The longest hand: 21 aces without busting, then one more card (player); the dealer stops sooner.
MAX_HAND = 22


def draw_card_block(np_random: np.random.Generator) -> np.ndarray:
    """The next ``CARD_BLOCK`` card ids (uint8, uniform over 0..51) of a card stream."""
    return np_random.integers(0, NUM_CARDS, size=CARD_BLOCK, dtype=np.uint8)
