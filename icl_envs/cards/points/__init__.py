"""EZPoints and Points24: write a formula with the cards' numbers that equals the target.

Compatible with the gym-cards EZPoints and Points24 tasks (Zhai et al. 2024): same action ids and
strings, rewards and episode ends, with their defects fixed (digit concatenation "2","4" = 24,
"**" and "//" forming from two tokens, floating point division rejecting 8/(3-8/3), the global
``random`` module, a formula slot wasted on a blank).

- :mod:`.formula`: the token grammar, evaluated exactly (never with ``eval``), and the solver;
- :mod:`.rules`: :class:`PointsRules` of each game and :func:`score_formula`;
- :mod:`.generator`: a deal (:class:`PointsDeal`) and the generators that draw the deals;
- :mod:`.viewer`: the frame, drawn with pygame (loaded only when a frame is drawn);
- :mod:`.env`: :class:`EZPointsEnv` and :class:`Points24Env`, one game in every observation mode;
- :mod:`.vector_env`: :class:`EZPointsVectorEnv` and :class:`Points24VectorEnv`, many games stepped with numpy.
"""

from icl_envs.cards.deck import rank_value
from icl_envs.cards.points.env import EZPointsEnv, Points24Env, PointsEnv, points_symbolic_space, points_text
from icl_envs.cards.points.generator import (
    DrawnDeals,
    EZPointsGenerator,
    Points24Generator,
    PointsDeal,
    check_deal,
    check_solvable_only,
)
from icl_envs.cards.points.rules import EZPOINTS_RULES, POINTS24_RULES, PointsRules, score_formula
from icl_envs.cards.points.vector_env import EZPointsVectorEnv, Points24VectorEnv, PointsVectorEnv
from icl_envs.cards.points.viewer import draw_points_frame

__all__ = [
    "EZPOINTS_RULES",
    "POINTS24_RULES",
    "DrawnDeals",
    "EZPointsEnv",
    "EZPointsGenerator",
    "EZPointsVectorEnv",
    "Points24Env",
    "Points24Generator",
    "Points24VectorEnv",
    "PointsDeal",
    "PointsEnv",
    "PointsRules",
    "PointsVectorEnv",
    "check_deal",
    "check_solvable_only",
    "draw_points_frame",
    "points_symbolic_space",
    "points_text",
    "rank_value",
    "score_formula",
]
