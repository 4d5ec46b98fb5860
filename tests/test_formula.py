"""The Points formula grammar and the exhaustive solver."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import numpy as np
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


# --- hostile token lists (issue 10) --------------------------------------------------------------
@pytest.mark.parametrize("depth", [1, 330, 497])
def test_deep_nesting_evaluates_without_recursion(depth):
    # The recursive parser raised RecursionError from about 330 levels (3 frames per level);
    # 497 levels make 999 tokens, just under the limit.
    formula = ["("] * depth + ["7", "-", "3"] + [")"] * depth + ["*", "6"]
    assert evaluate_formula(formula) == 24
    assert try_evaluate(["("] * depth + ["7"] + [")"] * (depth - 1)) is None  # one ")" short


def test_nesting_past_the_token_limit_is_a_formula_error():
    for tokens in (["("] * 10_000 + ["1"] + [")"] * 10_000, ["("] * 10**6, ["9", "*"] * 10**6 + ["9"]):
        with pytest.raises(FormulaError, match="at most 1000 tokens"):
            evaluate_formula(tokens)
        assert try_evaluate(tokens) is None


def test_a_huge_number_token_is_a_formula_error_not_a_bare_value_error():
    # int() of more than 4300 digits raises ValueError("Exceeds the limit ..."), which
    # try_evaluate did not catch.
    for token in ("9" * 5000, "1" * 21):
        with pytest.raises(FormulaError, match="digits"):
            evaluate_formula([token])
        assert try_evaluate([token, "+", "1"]) is None
        with pytest.raises(FormulaError, match="digits"):
            numbers_used([token])
    assert evaluate_formula(["9" * 20, "+", "1"]) == 10**20


def test_every_env_token_sequence_up_to_the_limit_is_evaluated_or_refused_cleanly():
    # Sequences the Points24 env can write (length <= 20) over a small alphabet, nested deep.
    rng = random.Random(1)
    alphabet = ["1", "8", "3", "+", "-", "*", "/", "(", ")"]
    for _ in range(3000):
        tokens = [rng.choice(alphabet) for _ in range(rng.randint(0, 20))]
        value = try_evaluate(tokens)
        assert value is None or isinstance(value, Fraction)
    assert evaluate_formula(["("] * 9 + ["8"] + [")"] * 9) == 8  # 19 tokens


def test_solver_refuses_hostile_inputs_cleanly():
    with pytest.raises(ValueError, match="1 to 6 integers"):
        solve(list(range(1, 8)), 24)  # 7 numbers: minutes of search
    with pytest.raises(ValueError, match="1 to 6 integers"):
        solve(list(range(1000)), 24)
    for bad in (["a", 2], [2.5, 3], [None, 1], [10**30, 1]):
        with pytest.raises(ValueError, match="numbers"):
            solve(bad, 24)
    with pytest.raises(ValueError, match="numbers must be a list"):
        solve("1234", 24)
    with pytest.raises(ValueError, match="target"):
        solve([1, 2], "3")
    with pytest.raises(ValueError, match="parentheses"):
        solve([1, 2], 3, parentheses=1)
    assert solve([1, 2], 3, parentheses=np.True_) is not None
