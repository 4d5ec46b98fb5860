"""Multi-agent environments (PettingZoo): ``from icl_envs.multi import blackjack_table_v0``."""

from icl_envs.multi import blackjack_table_v0

__all__ = ["blackjack_table_v0"]
