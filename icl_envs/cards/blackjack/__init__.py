"""Blackjack with rendered cards: ``icl/Blackjack-v0`` and its native numpy vector env.

One folder for the game: :mod:`.rules` (the rules, once, on ints and arrays alike), :mod:`.stream`
(the card stream both envs deal from), :mod:`.viewer` (the table as a frame and in words),
:mod:`.env` (``BlackjackEnv``) and :mod:`.vector_env` (``BlackjackVectorEnv``). The entry points
``icl_envs.cards.blackjack:BlackjackEnv`` and ``:BlackjackVectorEnv`` load from here.
"""

from icl_envs.cards.blackjack.env import (
    ACTION_STRINGS,
    ANSWER_FIELDS,
    NATURAL_RULE,
    TASK_DESCRIPTION,
    BlackjackEnv,
)
from icl_envs.cards.blackjack.rules import hand_total, settle_totals
from icl_envs.cards.blackjack.stream import CARD_BLOCK, MAX_CARDS_PER_CALL, MAX_HAND, draw_card_block
from icl_envs.cards.blackjack.vector_env import BlackjackVectorEnv
from icl_envs.cards.blackjack.viewer import (
    FELT,
    FELT_LINE,
    HIGHLIGHT,
    LABEL,
    BlackjackTableRenderer,
    describe_table,
    draw_table,
    outcome_words,
    table_renderer,
)
from icl_envs.cards.deck import CARD_NAMES, CARD_VALUES, RANK_NAMES, RANK_VALUES, SUITS

__all__ = [
    "ACTION_STRINGS",
    "ANSWER_FIELDS",
    "CARD_BLOCK",
    "CARD_NAMES",
    "CARD_VALUES",
    "FELT",
    "FELT_LINE",
    "HIGHLIGHT",
    "LABEL",
    "MAX_CARDS_PER_CALL",
    "MAX_HAND",
    "NATURAL_RULE",
    "RANK_NAMES",
    "RANK_VALUES",
    "SUITS",
    "TASK_DESCRIPTION",
    "BlackjackEnv",
    "BlackjackTableRenderer",
    "BlackjackVectorEnv",
    "describe_table",
    "draw_card_block",
    "draw_table",
    "hand_total",
    "outcome_words",
    "settle_totals",
    "table_renderer",
]
