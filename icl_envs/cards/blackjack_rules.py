"""Blackjack's rules under their old name: they live in :mod:`icl_envs.cards.blackjack.rules`.

Kept because tests, the DP baseline and users import ``from icl_envs.cards import blackjack_rules``.
"""

from icl_envs.cards.blackjack.rules import *  # noqa: F403 (a re-export: exactly the rules' __all__)
from icl_envs.cards.blackjack.rules import __all__  # noqa: F401
