"""The Blackjack table, version 0: the name users import, as PettingZoo's ``tictactoe_v3``.

The table's manual and code are in :mod:`icl_envs.multi.blackjack_table`; this module pins the
version and re-exports the environments and the pieces the tests and docs use.
"""

from icl_envs.cards.deck import card_name
from icl_envs.multi.blackjack_table.aec import env, raw_env
from icl_envs.multi.blackjack_table.base import METADATA, RENDER_MODES, TableEnvBase
from icl_envs.multi.blackjack_table.game import (
    BUST,
    HIT,
    MAX_HAND_CARDS,
    MAX_PLAYERS,
    PLAYING,
    STAND,
    STOOD,
    BlackjackTable,
    TableDeal,
)
from icl_envs.multi.blackjack_table.parallel import BlackjackTableParallelEnv, parallel_env
from icl_envs.multi.blackjack_table.viewer import FELT, FELT_EDGE, FELT_PRINT, HIGHLIGHT, LABEL, TableRenderer

__all__ = [
    "BUST",
    "FELT",
    "FELT_EDGE",
    "FELT_PRINT",
    "HIT",
    "HIGHLIGHT",
    "LABEL",
    "MAX_HAND_CARDS",
    "MAX_PLAYERS",
    "METADATA",
    "PLAYING",
    "RENDER_MODES",
    "STAND",
    "STOOD",
    "BlackjackTable",
    "BlackjackTableParallelEnv",
    "TableDeal",
    "TableEnvBase",
    "TableRenderer",
    "card_name",
    "env",
    "parallel_env",
    "raw_env",
]
