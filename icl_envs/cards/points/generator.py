"""The deals of EZPoints and Points24: a deal's cards and numbers, and the generators that draw them."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from icl_envs.cards.deck import RANK_VALUES, TEN_VALUED_RANKS, card_name, card_rank_suit, rank_value
from icl_envs.cards.points.formula import is_solvable
from icl_envs.cards.points.rules import PointsRules
from icl_envs.checks import check_bool, describe


@dataclass(frozen=True)
class PointsDeal:
    """The cards of one episode, by name ("H2", "S10", "DK") and by the number each counts for."""

    cards: tuple[str, ...]
    numbers: tuple[int, ...]

    @classmethod
    def from_cards(cls, cards: Sequence[str]) -> PointsDeal:
        ranks = []
        for card in cards:
            try:
                ranks.append(card_rank_suit(card)[0])
            except ValueError:  # the deck names the card; this names the argument too
                raise ValueError(
                    f"cards must be names like 'H2', 'S10', 'DK' (suit S/H/D/C, rank A/2..10/J/Q/K); got {describe(card)}"
                ) from None
        return cls(tuple(cards), tuple(rank_value(rank) for rank in ranks))


def check_deal(deal: Any, rules: PointsRules) -> None:
    """A generator's deal must be a ``PointsDeal`` of ``rules.num_cards`` cards worth 1..10."""
    if (
        not isinstance(deal, PointsDeal)
        or len(deal.numbers) != rules.num_cards
        or len(deal.cards) != rules.num_cards
        or any(not 1 <= n <= 10 for n in deal.numbers)
    ):
        raise ValueError(
            f"the generator must return a PointsDeal of {rules.num_cards} cards worth 1..10, got {describe(deal)}"
        )


class DrawnDeals:
    """A generator whose deal consumes one row of draws ``np_random.integers(0, bounds)``.

    ``decode(rows) -> (ranks, suits, accepted)`` turns rows into rank and suit indices; a deal that
    is not accepted is redrawn from the next row. The vector env fetches rows in blocks (see
    ``PrefetchedDraws``) and decodes them for many envs at once.
    """

    bounds: tuple[int, ...]

    def decode(self, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def sample(self, np_random: np.random.Generator) -> PointsDeal:
        while True:
            ranks, suits, accepted = self.decode(np_random.integers(0, self.bounds)[None])
            if accepted[0]:
                return PointsDeal(
                    tuple(card_name(r, s) for r, s in zip(ranks[0], suits[0])),
                    tuple(rank_value(r) for r in ranks[0]),
                )


@functools.cache
def _solvable_table() -> np.ndarray:
    """solvable[a, b, c, d] for numbers 1..10: does some formula of them make 24?"""
    table = np.zeros((11,) * 4, dtype=bool)
    for numbers in itertools.combinations_with_replacement(range(1, 11), 4):
        if is_solvable(numbers, 24):
            for order in set(itertools.permutations(numbers)):
                table[order] = True
    return table


def check_solvable_only(solvable_only: Any, generator: Any = None) -> bool:
    """``solvable_only`` of Points24: a bool, which only the default generator can honour."""
    solvable_only = check_bool("solvable_only", solvable_only)
    if solvable_only and generator is not None:
        raise ValueError(
            "solvable_only applies to the default generator; pass either solvable_only or generator"
        )
    return solvable_only


class Points24Generator(DrawnDeals):
    """Four cards, each rank uniform A..K and suit uniform (an infinite deck, as in gym-cards).

    With ``solvable_only=True`` deals are redrawn until some formula makes 24 (about 73% of the
    original deals are solvable: exactly 20876/28561).
    """

    num_cards = 4
    target = 24
    bounds = (13,) * 4 + (4,) * 4  # four ranks, then four suits

    def __init__(self, solvable_only: bool = False):
        self.solvable_only = check_solvable_only(solvable_only)

    def decode(self, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ranks, suits = draws[:, :4], draws[:, 4:]
        if not self.solvable_only:
            return ranks, suits, np.ones(len(draws), dtype=bool)
        numbers = RANK_VALUES[ranks]
        return ranks, suits, _solvable_table()[numbers[:, 0], numbers[:, 1], numbers[:, 2], numbers[:, 3]]


class EZPointsGenerator(DrawnDeals):
    """Two cards that always make 12 with + or *, drawn as gym-cards draws them.

    The first card's rank is uniform over 2..K (faces count 10). When its number divides 12 (2, 3,
    4, 6) a fair coin picks a partner that multiplies to 12, otherwise the partner adds to 12; then
    a fair coin swaps the two. A partner worth 10 is shown as a 10, J, Q or K at random (gym-cards
    always showed a 10); suits are uniform.
    """

    num_cards = 2
    target = 12
    # first rank - 1 (2..K), multiply coin, which ten-valued rank, two suits, swap coin
    bounds = (12, 2, 4, 4, 4, 2)

    def decode(self, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        first_rank = draws[:, 0] + 1
        first = RANK_VALUES[first_rank]
        multiply = (12 % first == 0) & (draws[:, 1] == 0)
        second = np.where(multiply, 12 // first, 12 - first)
        # A number card's rank index is its number - 1; a 10 may be any ten-valued rank.
        second_rank = np.where(second == 10, np.array(TEN_VALUED_RANKS)[draws[:, 2]], second - 1)
        ranks = np.stack([first_rank, second_rank], axis=1)
        suits = draws[:, 3:5].copy()
        swap = draws[:, 5] == 1
        ranks[swap], suits[swap] = ranks[swap, ::-1], suits[swap, ::-1]
        return ranks, suits, np.ones(len(draws), dtype=bool)
