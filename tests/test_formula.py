"""The Points formula grammar and the exhaustive solver."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import pytest

from icl_envs.cards.formula import FormulaError, evaluate_formula, numbers_used, solve, try_evaluate


def tokens(text: str) -> list[str]:
    return text.split()


@pytest.mark.parametrize(
    ("formula", "value"),
    [
        ("8 / ( 3 - 8 / 3 )", Fraction(24)),  # exact: floating point gives 23.999999999999996
        ("1 + 2 * 3", Fraction(7)),  # precedence
        ("( 1 + 2 ) * 3", Fraction(9)),
        ("10 - 4 - 3", Fraction(3)),  # left associative
        ("10 / 4 / 5", Fraction(1, 2)),
        ("( ( 5 ) )", Fraction(5)),
        ("6 / 4", Fraction(3, 2)),  # true division, not floor
    ],
)
def test_valid_formulas_evaluate_exactly(formula, value):
    assert evaluate_formula(tokens(formula)) == value


@pytest.mark.parametrize(
    "formula",
    [
        "2 4",  # adjacent numbers never concatenate into 24
        "2 * * 3",  # no power
        "8 / / 3",  # no floor division
        "- 3 + 27",  # no unary minus
        "+ 3",
        "3 +",
        "( 3 + 4",
        "3 + 4 )",
        "( )",
        "",
        "5 / ( 3 - 3 )",  # division by zero
        "4 ( 6 )",  # no implicit multiplication
    ],
)
def test_invalid_formulas_raise(formula):
    with pytest.raises(FormulaError):
        evaluate_formula(tokens(formula))
    assert try_evaluate(tokens(formula)) is None


def test_unknown_tokens_are_rejected():
    # Unicode digits ("²", Arabic-Indic "٣") are not numbers of the grammar either.
    for bad in (["2", "**", "3"], ["2", "//", "3"], ["2", "x"], [2, "+", "3"], ["2", "+", "²"], ["٣"]):
        with pytest.raises(FormulaError, match="token"):
            evaluate_formula(bad)


def test_numbers_used():
    assert numbers_used(tokens("8 / ( 3 - 8 / 3 )")) == [8, 3, 8, 3]


def test_solver_finds_the_fraction_solution():
    solution = solve([3, 3, 8, 8], 24)
    assert solution is not None
    assert evaluate_formula(solution) == 24
    assert sorted(numbers_used(solution)) == [3, 3, 8, 8]


@pytest.mark.parametrize("deal", [(1, 1, 1, 1), (1, 1, 1, 2), (1, 1, 2, 2), (1, 1, 1, 3)])
def test_solver_proves_unsolvable_deals(deal):
    assert solve(deal, 24) is None


def _brute_force_solvable(numbers, target):
    """Independent check: every value over every order and pairing, without memoisation."""

    def values(nums):
        if len(nums) == 1:
            return {Fraction(nums[0])}
        out = set()
        for i, j in itertools.permutations(range(len(nums)), 2):
            rest = [nums[k] for k in range(len(nums)) if k not in (i, j)]
            a, b = nums[i], nums[j]
            for c in {a + b, a - b, a * b} | ({a / b} if b != 0 else set()):
                out |= values([*rest, c])
        return out

    return Fraction(target) in values([Fraction(n) for n in numbers])


def test_solver_agrees_with_brute_force_on_random_deals():
    rng = random.Random(0)
    for _ in range(25):
        deal = [rng.randint(1, 10) for _ in range(4)]
        solution = solve(deal, 24)
        assert (solution is not None) == _brute_force_solvable(deal, 24), deal
        if solution is not None:
            assert evaluate_formula(solution) == 24 and sorted(numbers_used(solution)) == sorted(deal)


def test_solver_without_parentheses_and_restricted_operators():
    assert evaluate_formula(solve([2, 10], 12, ("+", "*"), parentheses=False)) == 12
    assert solve([3, 4], 12, ("+",), parentheses=False) is None
    assert solve([5, 5], 12, ("+", "*"), parentheses=False) is None
    # 1, 2, 3, 4 need no parentheses: 1 * 2 * 3 * 4.
    assert evaluate_formula(solve([1, 2, 3, 4], 24, ("+", "-", "*", "/"), parentheses=False)) == 24


def test_solver_bad_arguments():
    with pytest.raises(ValueError, match="numbers"):
        solve([], 24)
    with pytest.raises(ValueError, match="operators"):
        solve([1, 2], 3, ("+", "**"))
