"""The rules of EZPoints and Points24: their action strings, limits and rewards, and scoring a formula."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

from icl_envs.cards.points.formula import NUMBER_TOKENS, try_evaluate


@dataclass(frozen=True)
class PointsRules:
    """What differs between EZPoints and Points24."""

    action_strings: tuple[str, ...]
    num_cards: int
    target: int
    max_formula_length: int
    win_reward: float = 10.0
    penalty: float = -1.0

    @property
    def equals_action(self) -> int:
        return len(self.action_strings) - 1


EZPOINTS_RULES = PointsRules((*NUMBER_TOKENS, "+", "*", "="), num_cards=2, target=12, max_formula_length=5)
POINTS24_RULES = PointsRules(
    (*NUMBER_TOKENS, "+", "-", "*", "/", "(", ")", "="), num_cards=4, target=24, max_formula_length=20
)


@functools.lru_cache(maxsize=65536)
def _formula_value(tokens: tuple[str, ...]) -> Fraction | None:
    return try_evaluate(tokens)


def score_formula(rules: PointsRules, tokens: tuple[str, ...]) -> float:
    """The reward for submitting ``tokens``: a formula equal to the target that uses every card.

    Cards can only be written while one of that number is left in hand, so using every card is
    the same as writing ``num_cards`` numbers.
    """
    uses_every_card = sum(token.isdigit() for token in tokens) == rules.num_cards
    return rules.win_reward if uses_every_card and _formula_value(tokens) == rules.target else rules.penalty
