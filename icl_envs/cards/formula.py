"""The old home of the Points formula grammar, now :mod:`icl_envs.cards.points.formula`.

Kept so that ``from icl_envs.cards.formula import solve`` (and the other names) still works.
"""

from icl_envs.cards.points.formula import (
    NUMBER_TOKENS,
    OPERATORS,
    PARENTHESES,
    Expression,
    FormulaError,
    evaluate_formula,
    expression_tokens,
    is_number_token,
    is_solvable,
    numbers_used,
    solve,
    try_evaluate,
)

__all__ = [
    "NUMBER_TOKENS",
    "OPERATORS",
    "PARENTHESES",
    "Expression",
    "FormulaError",
    "evaluate_formula",
    "expression_tokens",
    "is_number_token",
    "is_solvable",
    "numbers_used",
    "solve",
    "try_evaluate",
]
