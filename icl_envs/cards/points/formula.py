"""The formula grammar of the Points games, evaluated exactly with ``fractions.Fraction``.

A formula is a sequence of tokens, each one action string: a number ``"1"``..``"10"`` or one of
``+ - * / ( )``. The grammar is the usual one with precedence and no unary operators::

    expr   := term   (("+" | "-") term)*
    term   := factor (("*" | "/") factor)*
    factor := NUMBER | "(" expr ")"

Because tokens are never joined into a string, two numbers in a row ("2", "4") are a syntax
error rather than 24, and "*", "*" is never a power nor "/", "/" a floor division (defects of
evaluating the joined string with Python's ``eval``, as the original gym-cards envs did).
Exact arithmetic makes 8 / (3 - 8 / 3) equal 24 (floating point gives 23.999999999999996).
"""

from __future__ import annotations

import functools
import itertools
import numbers as numbers_module
from collections.abc import Sequence
from fractions import Fraction

from icl_envs.checks import check_bool, check_int, describe

OPERATORS = ("+", "-", "*", "/")
PARENTHESES = ("(", ")")
NUMBER_TOKENS = tuple(str(n) for n in range(1, 11))


class FormulaError(ValueError):
    """The tokens do not form a formula of the grammar (or divide by zero)."""


def is_number_token(token: str) -> bool:
    """A run of ASCII digits. ``str.isdigit`` alone also accepts "²" or "٣", which ``int`` then
    rejects or reads as another digit, so a malformed token would escape as a bare ValueError."""
    return token.isascii() and token.isdigit()


#: The longest token list the formula functions read, and the most digits of a number token. The
#: games write at most 20 tokens of at most 2 digits; exact arithmetic over longer lists or numbers
#: could grow without bound (a product of a million 9s has a million digits).
MAX_FORMULA_TOKENS = 1000
MAX_NUMBER_DIGITS = 20
#: The most numbers ``solve`` searches over: 6 take about 2 s, 7 would take minutes.
MAX_SOLVE_NUMBERS = 6


class _Level:
    """One level of parentheses being evaluated: the sum so far and its pending "+" or "-", the
    product so far and its pending "*" or "/" (None before the first term or factor)."""

    __slots__ = ("sum", "sum_operator", "product", "product_operator")

    def __init__(self) -> None:
        self.sum: Fraction | None = None
        self.sum_operator: str | None = None
        self.product: Fraction | None = None
        self.product_operator: str | None = None


class _Parser:
    """The grammar's recursive descent, run with an explicit stack of parenthesis levels instead of
    Python's call stack, so that deep nesting can never raise ``RecursionError``.

    It makes the same moves in the same order as ``expr``/``term``/``factor`` calling each other
    would: a factor is finished when its number or its ")" is read, a term when no "*" or "/"
    follows, an expression when no "+" or "-" follows; so it finds the same value and the same
    first error.
    """

    def __init__(self, tokens: Sequence[str]):
        self.tokens = list(tokens)
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise FormulaError("the formula ends too early")
        self.position += 1
        return token

    def expr(self) -> Fraction:
        """Read one expression from the current position and return its value."""
        enclosing: list[_Level] = []  # the levels whose "(" is still open, innermost last
        level = _Level()
        while True:
            token = self.take()  # a factor starts here
            if token == "(":
                enclosing.append(level)
                level = _Level()
                continue
            if not is_number_token(token):
                raise FormulaError(f"expected a number or '(' at token {self.position}, got {token!r}")
            value = Fraction(_number(token))
            while True:  # a factor of value is finished: fold it in, and close what it closes
                if level.product_operator is None:
                    level.product = value
                elif level.product_operator == "*":
                    level.product *= value
                elif value == 0:
                    raise FormulaError("division by zero")
                else:
                    level.product /= value
                if self.peek() in ("*", "/"):
                    level.product_operator = self.take()
                    break  # the next factor follows
                # The term is finished.
                if level.sum_operator is None:
                    level.sum = level.product
                elif level.sum_operator == "+":
                    level.sum += level.product
                else:
                    level.sum -= level.product
                level.product = level.product_operator = None
                if self.peek() in ("+", "-"):
                    level.sum_operator = self.take()
                    break  # the next term follows
                # The expression is finished: the whole formula, or a parenthesised factor.
                if not enclosing:
                    return level.sum
                if self.take() != ")":
                    raise FormulaError("a '(' is not closed")
                value, level = level.sum, enclosing.pop()


def evaluate_formula(tokens: Sequence[str]) -> Fraction:
    """The exact value of a token sequence; raises :class:`FormulaError` if it is not a formula
    (or is longer than ``MAX_FORMULA_TOKENS`` tokens, or has a number of more than
    ``MAX_NUMBER_DIGITS`` digits)."""
    tokens = list(itertools.islice(tokens, MAX_FORMULA_TOKENS + 1))
    if len(tokens) > MAX_FORMULA_TOKENS:
        raise FormulaError(f"a formula may have at most {MAX_FORMULA_TOKENS} tokens")
    for token in tokens:
        if not isinstance(token, str) or not (is_number_token(token) or token in OPERATORS + PARENTHESES):
            raise FormulaError(f"unknown token {describe(token)}")
    parser = _Parser(tokens)
    value = parser.expr()
    if parser.position != len(parser.tokens):
        raise FormulaError(f"unexpected {parser.tokens[parser.position]!r} at token {parser.position}")
    return value


def try_evaluate(tokens: Sequence[str]) -> Fraction | None:
    """The value of the formula, or None if it is not a formula."""
    try:
        return evaluate_formula(tokens)
    except FormulaError:
        return None


def numbers_used(tokens: Sequence[str]) -> list[int]:
    """The numbers a formula uses, in order (each card must be used exactly once)."""
    return [_number(token) for token in tokens if isinstance(token, str) and is_number_token(token)]


def _number(token: str) -> int:
    """A number token's value; :class:`FormulaError` beyond ``MAX_NUMBER_DIGITS`` digits."""
    if len(token) > MAX_NUMBER_DIGITS:
        raise FormulaError(f"a number token may have at most {MAX_NUMBER_DIGITS} digits, got {len(token)}")
    return int(token)


# --- Solver ---------------------------------------------------------------------------------------
# An expression is a leaf (an int) or a tuple (operator, left, right). The solver works over the
# multiset of numbers: every expression tree over a multiset combines one over a sub-multiset with
# one over the rest, so memoising the values reachable from each (sorted) sub-multiset enumerates all
# trees without repeating work. Only the top level looks for the target, by solving for the missing
# operand, so no table for the full multiset is ever built.

Expression = int | tuple  # a leaf number, or (operator, left, right)


def _splits(numbers: tuple[int, ...]):
    """Each split of a sorted multiset into (part, rest), both non-empty, each unordered split once per side."""
    seen = set()
    count = len(numbers)
    for bits in range(1, 2**count - 1):
        part = tuple(numbers[i] for i in range(count) if bits >> i & 1)
        if part in seen:
            continue
        seen.add(part)
        rest = tuple(numbers[i] for i in range(count) if not bits >> i & 1)
        yield part, rest


def _combine(operator: str, a: Fraction, b: Fraction) -> Fraction | None:
    if operator == "+":
        return a + b
    if operator == "-":
        return a - b
    if operator == "*":
        return a * b
    return a / b if b != 0 else None


@functools.cache
def _reachable(numbers: tuple[int, ...], operators: tuple[str, ...]) -> dict[Fraction, Expression]:
    """Every value some expression over exactly these numbers reaches, with one such expression."""
    if len(numbers) == 1:
        return {Fraction(numbers[0]): numbers[0]}
    values: dict[Fraction, Expression] = {}
    for part, rest in _splits(numbers):
        left, right = _reachable(part, operators), _reachable(rest, operators)
        for a, expression_a in left.items():
            for b, expression_b in right.items():
                for operator in operators:
                    value = _combine(operator, a, b)
                    if value is not None and value not in values:
                        values[value] = (operator, expression_a, expression_b)
    return values


def _missing_operands(operator: str, a: Fraction, target: Fraction) -> Fraction | None:
    """The b with ``a operator b == target`` (None if there is none or it is not unique)."""
    if operator == "+":
        return target - a
    if operator == "-":
        return a - target
    if operator == "*":
        return target / a if a != 0 else None
    return a / target if target != 0 and a != 0 else None


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def expression_tokens(
    expression: Expression, parent: str | None = None, right_side: bool = False
) -> list[str]:
    """The tokens of an expression tree with only the parentheses its meaning needs."""
    if isinstance(expression, int):
        return [str(expression)]
    operator, left, right = expression
    tokens = expression_tokens(left, operator, False) + [operator] + expression_tokens(right, operator, True)
    needs_parentheses = parent is not None and (
        _PRECEDENCE[operator] < _PRECEDENCE[parent]
        or (right_side and _PRECEDENCE[operator] == _PRECEDENCE[parent] and parent in ("-", "/"))
    )
    return ["(", *tokens, ")"] if needs_parentheses else tokens


def _solve_with_parentheses(numbers: tuple[int, ...], target: Fraction, operators: tuple[str, ...]):
    if len(numbers) == 1:
        return numbers[0] if numbers[0] == target else None
    for part, rest in _splits(numbers):
        right = _reachable(rest, operators)
        for a, expression_a in _reachable(part, operators).items():
            for operator in operators:
                b = _missing_operands(operator, a, target)
                if b is not None and b in right and _combine(operator, a, b) == target:
                    return (operator, expression_a, right[b])
    return None


def _solve_flat(numbers: tuple[int, ...], target: Fraction, operators: tuple[str, ...]):
    """Without parentheses a formula is the numbers in some order joined by operators."""
    for order in sorted(set(itertools.permutations(numbers))):
        for chosen in itertools.product(operators, repeat=len(numbers) - 1):
            tokens = [str(order[0])]
            for operator, number in zip(chosen, order[1:]):
                tokens += [operator, str(number)]
            if try_evaluate(tokens) == target:
                return tokens
    return None


@functools.cache
def _solve(numbers: tuple[int, ...], target: Fraction, operators: tuple[str, ...], parentheses: bool):
    if not parentheses:
        found = _solve_flat(numbers, target, operators)
        return None if found is None else tuple(found)
    expression = _solve_with_parentheses(numbers, target, operators)
    return None if expression is None else tuple(expression_tokens(expression))


def solve(
    numbers: Sequence[int],
    target: int,
    operators: Sequence[str] = OPERATORS,
    parentheses: bool = True,
) -> tuple[str, ...] | None:
    """Tokens of a formula using each number exactly once that equals ``target``, or None if none exists.

    The search is exhaustive over exact rational arithmetic with the given binary ``operators``
    (and parentheses if allowed), so None is a proof that the deal is unsolvable. Results are
    memoised per sorted multiset of numbers. At most ``MAX_SOLVE_NUMBERS`` numbers (integers of at
    most ``MAX_NUMBER_DIGITS`` digits): the search grows faster than exponentially with their count.
    """
    if isinstance(numbers, (str, bytes)) or not hasattr(numbers, "__len__"):
        raise ValueError(f"numbers must be a list of integers, got {describe(numbers)}")
    if not 1 <= len(numbers) <= MAX_SOLVE_NUMBERS:
        raise ValueError(f"numbers must hold 1 to {MAX_SOLVE_NUMBERS} integers, got {len(numbers)}")
    limit = 10**MAX_NUMBER_DIGITS - 1
    numbers = [check_int("numbers", n, minimum=-limit, maximum=limit) for n in numbers]
    if not isinstance(target, numbers_module.Rational) or isinstance(target, bool):
        raise ValueError(f"target must be an integer or a Fraction, got {describe(target)}")
    unknown = set(operators) - set(OPERATORS)
    if unknown:
        raise ValueError(f"operators must be among {OPERATORS}, got {sorted(unknown)}")
    return _solve(
        tuple(sorted(numbers)), Fraction(target), tuple(operators), check_bool("parentheses", parentheses)
    )


def is_solvable(
    numbers: Sequence[int], target: int, operators: Sequence[str] = OPERATORS, parentheses: bool = True
) -> bool:
    return solve(numbers, target, operators, parentheses) is not None
