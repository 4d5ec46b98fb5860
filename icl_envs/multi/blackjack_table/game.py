"""The table's game, shared by the AEC and the parallel envs: the deal (every card of a round) and
the round's state (who holds how many cards, who stood or busted, the settlement).

Hands are read with the one statement of the rules, :mod:`icl_envs.cards.blackjack.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from icl_envs.cards.blackjack import rules
from icl_envs.cards.deck import NUM_RANKS, SUITS, card_name

STAND, HIT = 0, 1
MAX_PLAYERS = 7
# A live hand totals at most 21, so it holds at most 21 cards (21 aces); one more card busts it.
MAX_HAND_CARDS = 22
PLAYING, STOOD, BUST = "playing", "stood", "bust"


@dataclass(frozen=True)
class TableDeal:
    """Every card a round can use: rank indices 0..12 (A..K) and suit indices 0..3 per stream.

    Row i of ``player_ranks`` is seat i's cards in the order it receives them; the dealer's first
    card is the up card and the second the hole card.
    """

    player_ranks: np.ndarray  # (num_players, MAX_HAND_CARDS)
    player_suits: np.ndarray
    dealer_ranks: np.ndarray  # (MAX_HAND_CARDS,)
    dealer_suits: np.ndarray

    @classmethod
    def sample(cls, np_random: np.random.Generator, num_players: int) -> TableDeal:
        ranks = np_random.integers(NUM_RANKS, size=(num_players + 1, MAX_HAND_CARDS))
        suits = np_random.integers(len(SUITS), size=(num_players + 1, MAX_HAND_CARDS))
        return cls(ranks[:num_players], suits[:num_players], ranks[num_players], suits[num_players])


class BlackjackTable:
    """The state of one round: how many cards each hand holds, who stood or busted, the result."""

    def __init__(self, deal: TableDeal, *, natural: bool, sab: bool):
        self.deal = deal
        self.natural, self.sab = natural, sab
        self.num_players = len(deal.player_ranks)
        self.card_counts = np.full(self.num_players, 2)
        self.status = [PLAYING] * self.num_players
        self.dealer_count = 2
        self.settled = False
        self.final_rewards: list[float] | None = None

    def player_values(self, seat: int) -> list[int]:
        return [rules.card_value(r) for r in self.deal.player_ranks[seat, : self.card_counts[seat]]]

    def dealer_values(self) -> list[int]:
        return [rules.card_value(r) for r in self.deal.dealer_ranks[: self.dealer_count]]

    def player_cards(self, seat: int) -> list[str]:
        count = self.card_counts[seat]
        return [
            card_name(r, s)
            for r, s in zip(self.deal.player_ranks[seat, :count], self.deal.player_suits[seat, :count])
        ]

    def dealer_cards(self) -> list[str]:
        count = self.dealer_count
        return [
            card_name(r, s) for r, s in zip(self.deal.dealer_ranks[:count], self.deal.dealer_suits[:count])
        ]

    def is_live(self, seat: int) -> bool:
        return self.status[seat] == PLAYING

    def observation(self, seat: int) -> dict[str, np.ndarray]:
        total, soft = rules.hand_total(self.player_values(seat))
        triple = [total, rules.card_value(self.deal.dealer_ranks[0]), int(soft)]
        return {
            "observation": np.array(triple, dtype=np.int64),
            "action_mask": np.array([1, int(self.is_live(seat))], dtype=np.int8),
        }

    def info(self, seat: int) -> dict:
        """Visible facts only: the hole card appears (as ``dealer_cards``) once the round is settled."""
        info = {
            "player_cards": self.player_cards(seat),
            "dealer_up_card": card_name(self.deal.dealer_ranks[0], self.deal.dealer_suits[0]),
        }
        if self.settled:
            info["dealer_cards"] = self.dealer_cards()
        return info

    def act(self, seat: int, action: int) -> float:
        """Apply a live hand's action; return the immediate reward (-1 for a bust, else 0)."""
        if action == HIT:
            self.card_counts[seat] += 1
            if rules.is_bust(self.player_values(seat)):
                self.status[seat] = BUST
                return -1.0
            return 0.0
        self.status[seat] = STOOD
        return 0.0

    @property
    def all_done(self) -> bool:
        return PLAYING not in self.status

    def settle(self) -> list[float]:
        """Play the dealer's hand and return each seat's final reward (0 for a seat that busted,
        whose -1 was given when it busted)."""
        if STOOD in self.status:
            while rules.dealer_draws(self.dealer_values()):
                self.dealer_count += 1
        dealer = self.dealer_values()
        self.final_rewards = [
            rules.settle(self.player_values(seat), dealer, natural=self.natural, sab=self.sab)
            if status == STOOD
            else 0.0
            for seat, status in enumerate(self.status)
        ]
        self.settled = True
        return self.final_rewards
