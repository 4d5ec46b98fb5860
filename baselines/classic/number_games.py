"""Exact references and agents for NumberLine, EZPoints and Points24.

Everything here is exact (``fractions.Fraction``) except where stated:

- NumberLine: the optimal policy (step towards the target) earns exactly 1 in every episode; its
  expected episode length is (max_position + 2) / 3. The random policy's return comes from dynamic
  programming over (position, target, steps taken).
- EZPoints / Points24: :func:`solve_deal` returns a token sequence reaching the target or proves the
  deal unsolvable (exhaustive search over exact rational arithmetic, memoised per multiset, in
  :mod:`icl_envs.cards.points.formula`). The deal distributions are enumerated exactly, which gives the
  share of solvable Points24 deals (20876/28561, about 73.1%) and the optimal returns.
- The uniformly random policy: exact for EZPoints (dynamic programming over the written formula);
  for Points24 the part of the return that does not depend on the formula is exact and the small
  win term is estimated by Monte Carlo with its standard error.

Agents (``leaderboard.agent.Agent``) play the optimal policies from the symbolic observation:
``baselines.classic.number_games:NumberLineOptimalAgent`` and ``...:PointsOptimalAgent``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping
from fractions import Fraction
from functools import cache
from math import factorial
from typing import Any

import numpy as np

from icl_envs.cards.points import (
    EZPOINTS_RULES,
    POINTS24_RULES,
    Points24VectorEnv,
    PointsRules,
    rank_value,
    score_formula,
)
from icl_envs.cards.points.formula import NUMBER_TOKENS, solve
from icl_envs.checks import check_int
from leaderboard.agent import Agent

LEFT, RIGHT = 0, 1

# Probability of each card number under a uniform rank A..K with faces counting 10.
NUMBER_PROBABILITIES: dict[int, Fraction] = {v: Fraction(1, 13) for v in range(1, 10)} | {10: Fraction(4, 13)}


# --- NumberLine ------------------------------------------------------------------------------------
def numberline_optimal_action(current: int, target: int) -> int:
    """Step towards the target (each step then reduces the distance: reward 0, then +1 on arrival)."""
    return RIGHT if target > current else LEFT


def numberline_optimal_return(max_position: int = 5) -> Fraction:
    """Closed form: 1. The distance is at most max_position < 2 * max_position steps, so the optimal
    policy always arrives before truncation, earning 0 per step and +1 on arrival."""
    check_int("max_position", max_position, minimum=1)
    return Fraction(1)


def numberline_optimal_episode_length(max_position: int = 5) -> Fraction:
    """E|start - target| over distinct pairs of 0..M: sum 2d(M+1-d) / (M(M+1)) = (M + 2) / 3."""
    check_int("max_position", max_position, minimum=1)
    return Fraction(max_position + 2, 3)


def _numberline_dp(max_position: int, policy: str) -> Fraction:
    """Expected return by backward induction over (position, target, steps taken)."""
    m = max_position
    horizon = 2 * m

    @cache
    def value(position: int, target: int, steps: int) -> Fraction:
        outcomes = []
        for action in (LEFT, RIGHT):
            moved = min(max(position + (1 if action == RIGHT else -1), 0), m)
            if moved == target:
                outcomes.append(Fraction(1))
                continue
            reward = Fraction(0 if abs(moved - target) < abs(position - target) else -1)
            future = value(moved, target, steps + 1) if steps + 1 < horizon else Fraction(0)
            outcomes.append(reward + future)
        return max(outcomes) if policy == "optimal" else sum(outcomes) / 2

    pairs = [(s, t) for s in range(m + 1) for t in range(m + 1) if s != t]
    return sum((value(s, t, 0) for s, t in pairs), Fraction(0)) / len(pairs)


def numberline_random_return(max_position: int = 5) -> Fraction:
    """Exact expected return of the policy choosing "-" or "+" with probability 1/2 each step."""
    return _numberline_dp(check_int("max_position", max_position, minimum=1), "random")


def numberline_dp_optimal_return(max_position: int = 5) -> Fraction:
    """The optimal return by dynamic programming (checks the closed form)."""
    return _numberline_dp(check_int("max_position", max_position, minimum=1), "optimal")


# --- Points: solver and deal distributions ---------------------------------------------------------
def _rules_for(game: str) -> PointsRules:
    if game == "EZPoints":
        return EZPOINTS_RULES
    if game == "Points24":
        return POINTS24_RULES
    raise ValueError(f"game must be 'EZPoints' or 'Points24', got {game!r}")


def solve_deal(numbers: Any, game: str = "Points24") -> tuple[str, ...] | None:
    """Tokens (without the final "=") of a formula that wins the deal, or None if none exists."""
    rules = _rules_for(game)
    operators = tuple(s for s in rules.action_strings if s in ("+", "-", "*", "/"))
    return solve(
        tuple(int(n) for n in numbers), rules.target, operators, parentheses="(" in rules.action_strings
    )


def points24_deal_distribution() -> dict[tuple[int, ...], Fraction]:
    """Exact probability of each sorted multiset of four numbers under the original Points24 deal."""
    distribution = {}
    for combo in itertools.combinations_with_replacement(range(1, 11), 4):
        weight = Fraction(factorial(4))
        for number, count in Counter(combo).items():
            weight *= NUMBER_PROBABILITIES[number] ** count / factorial(count)
        distribution[combo] = weight
    return distribution


def ezpoints_deal_distribution() -> dict[tuple[int, int], Fraction]:
    """Exact probability of each sorted pair of numbers dealt by ``EZPointsGenerator``."""
    distribution: Counter[tuple[int, int]] = Counter()
    for first_rank in range(1, 13):  # 2..K uniformly
        first = rank_value(first_rank)
        partners = [12 // first, 12 - first] if 12 % first == 0 else [12 - first]
        for second in partners:
            distribution[tuple(sorted((first, second)))] += Fraction(1, 12 * len(partners))
    return dict(distribution)


def points24_solvable_share() -> Fraction:
    """The probability that an original Points24 deal is solvable: 20876/28561 (about 0.7309)."""
    return sum((p for deal, p in points24_deal_distribution().items() if solve_deal(deal)), Fraction(0))


def ezpoints_optimal_return() -> Fraction:
    """10: every deal of the generator's support is solvable (checked by the solver here)."""
    unsolved = [deal for deal in ezpoints_deal_distribution() if solve_deal(deal, "EZPoints") is None]
    if unsolved:
        raise AssertionError(f"EZPoints deals without a solution: {unsolved}")
    return Fraction(int(EZPOINTS_RULES.win_reward))


def points24_optimal_return(solvable_only: bool = False) -> Fraction:
    """10 on a solvable deal, -1 otherwise (any episode ends in "=" or truncation, both -1 at best)."""
    share = Fraction(1) if solvable_only else points24_solvable_share()
    return share * int(POINTS24_RULES.win_reward) + (1 - share) * int(POINTS24_RULES.penalty)


# --- Points: the uniformly random policy -----------------------------------------------------------
def _random_policy_value(rules: PointsRules, numbers: tuple[int, ...]) -> Fraction:
    """Exact expected return of uniform actions on one deal, by recursion over the written formula."""
    num_actions = len(rules.action_strings)
    penalty = Fraction(int(rules.penalty))

    @cache
    def value(formula: tuple[str, ...], slots: int, remaining: tuple[int, ...]) -> Fraction:
        total = Fraction(int(score_formula(rules, formula)))  # the "=" action
        for token in rules.action_strings[:-1]:
            if slots >= rules.max_formula_length:
                total += penalty  # truncated
            elif token.isdigit() and remaining[int(token)] == 0:
                total += penalty + value(formula, slots + 1, remaining)
            elif token.isdigit():
                left = list(remaining)
                left[int(token)] -= 1
                total += value((*formula, token), slots + 1, tuple(left))
            else:
                total += value((*formula, token), slots + 1, remaining)
        return total / num_actions

    counts = np.bincount(numbers, minlength=11)
    return value((), 0, tuple(int(c) for c in counts))


def ezpoints_random_return() -> Fraction:
    """Exact expected return of the uniformly random policy on EZPoints."""
    return sum(
        (p * _random_policy_value(EZPOINTS_RULES, deal) for deal, p in ezpoints_deal_distribution().items()),
        Fraction(0),
    )


@cache
def _points24_loss_value(slots: int, remaining: tuple[int, ...]) -> Fraction:
    """Expected return of uniform actions if "=" never wins, from ``slots`` used and the count of
    each number 0..10 left in hand: nothing else about the state matters then, so one table serves
    every deal."""
    rules = POINTS24_RULES
    penalty = Fraction(int(rules.penalty))
    total = penalty  # "=" scored as a loss
    for token in rules.action_strings[:-1]:
        if slots >= rules.max_formula_length:
            total += penalty
        elif token.isdigit() and remaining[int(token)] == 0:
            total += penalty + _points24_loss_value(slots + 1, remaining)
        elif token.isdigit():
            left = list(remaining)
            left[int(token)] -= 1
            total += _points24_loss_value(slots + 1, tuple(left))
        else:
            total += _points24_loss_value(slots + 1, remaining)
    return total / len(rules.action_strings)


def points24_random_loss_return(solvable_only: bool = False) -> Fraction:
    """Exact expected return of the uniformly random policy counting every "=" as a loss."""
    distribution = points24_deal_distribution()
    if solvable_only:
        distribution = {deal: p for deal, p in distribution.items() if solve_deal(deal)}
    total = sum(distribution.values(), Fraction(0))
    values = (
        p * _points24_loss_value(0, tuple(np.bincount(deal, minlength=11).tolist()))
        for deal, p in distribution.items()
    )
    return sum(values, Fraction(0)) / total


def points24_random_return(
    solvable_only: bool = False, episodes: int = 200_000, seed: int = 20_240_524
) -> tuple[float, float]:
    """Expected return of the uniformly random policy on Points24, with its standard error.

    Return = (exact loss-only return) + 11 * P(a submitted formula wins). The win probability needs
    a specific sequence of at least 8 uniform actions (below 17^-8 * #solutions, about 1e-8), so it is
    estimated by Monte Carlo over ``episodes`` episodes of the vector env; the standard error is that
    of the win term (the rule of three bounds it by 3/episodes when no win is seen).
    """
    exact = points24_random_loss_return(solvable_only)
    num_envs = 4096
    env = Points24VectorEnv(num_envs, obs_mode="symbolic", solvable_only=solvable_only)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    finished = wins = 0
    num_actions = len(POINTS24_RULES.action_strings)
    while finished < episodes:
        _, rewards, terminated, truncated, _ = env.step(rng.integers(num_actions, size=num_envs))
        finished += int(np.sum(terminated | truncated))
        wins += int(np.sum(rewards == POINTS24_RULES.win_reward))
    p_win = wins / finished
    stderr = np.sqrt(max(p_win, 3.0 / finished) * (1 - p_win) / finished)
    gain = POINTS24_RULES.win_reward - POINTS24_RULES.penalty
    return float(exact) + gain * p_win, float(gain * stderr)


def reference_returns(env_id: str, **env_kwargs: Any) -> dict[str, float]:
    """The optimal and random-policy expected returns of a number game (floats)."""
    if "NumberLine" in env_id:
        m = env_kwargs.get("max_position", 5)
        return {"optimal": float(numberline_optimal_return(m)), "random": float(numberline_random_return(m))}
    if "EZPoints" in env_id:
        return {"optimal": float(ezpoints_optimal_return()), "random": float(ezpoints_random_return())}
    if "Points24" in env_id:
        solvable_only = env_kwargs.get("solvable_only", False)
        return {
            "optimal": float(points24_optimal_return(solvable_only)),
            "random": points24_random_return(solvable_only)[0],
        }
    raise ValueError(f"env_id must be a NumberLine, EZPoints or Points24 id, got {env_id!r}")


# --- Agents ----------------------------------------------------------------------------------------
def _require_symbolic(env_id: str | None, env_kwargs: Mapping[str, Any] | None, agent: str) -> None:
    obs_mode = dict(env_kwargs or {}).get("obs_mode", "image")
    if env_id is not None and obs_mode != "symbolic":
        raise ValueError(f"{agent} acts from obs_mode='symbolic' observations; got obs_mode={obs_mode!r}")


class NumberLineOptimalAgent(Agent):
    """Steps towards the target: the optimal NumberLine policy (return 1 in every episode)."""

    suites = ("core-v0",)

    def reset(self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> None:
        _require_symbolic(env_id, env_kwargs, type(self).__name__)

    def act(self, obs: Mapping[str, Any]) -> int:
        return numberline_optimal_action(int(obs["current"]), int(obs["target"]))

    def act_batch(self, obs_batch: Mapping[str, Any]) -> np.ndarray:
        return np.where(np.asarray(obs_batch["target"]) > np.asarray(obs_batch["current"]), RIGHT, LEFT)


class PointsOptimalAgent(Agent):
    """Writes the solver's formula token by token and submits it; submits at once on an unsolvable deal.

    ``game`` is "Points24" or "EZPoints"; ``reset(env_id)`` sets it from the env id. The next token
    is the solution's token at the position of the formula's length, so the agent needs no memory.
    """

    suites = ("core-v0",)

    def __init__(self, game: str = "Points24"):
        self.rules = _rules_for(game)
        self.game = game

    def reset(self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> None:
        _require_symbolic(env_id, env_kwargs, type(self).__name__)
        if env_id is not None:
            self.game = "EZPoints" if "EZPoints" in env_id else "Points24"
            self.rules = _rules_for(self.game)

    def act(self, obs: Mapping[str, Any]) -> int:
        solution = solve_deal(np.asarray(obs["numbers"]).tolist(), self.game)
        written = int(np.count_nonzero(obs["formula"]))
        if solution is None or written >= len(solution):
            return self.rules.equals_action
        return self.rules.action_strings.index(solution[written])


# Number tokens are the first ten actions of both games (action id = number - 1).
assert NUMBER_TOKENS == EZPOINTS_RULES.action_strings[:10] == POINTS24_RULES.action_strings[:10]
