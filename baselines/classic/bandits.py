"""Classic bandit algorithms for ``icl/Bandit-v0``, the exact Bayes-optimal policy, and the references.

- :class:`UCB1` (Auer et al. 2002), :class:`ThompsonSampling` (Beta posteriors for Bernoulli arms,
  conjugate normal posteriors for Gaussian ones), :class:`EpsilonGreedy`: batched agents that keep
  per-arm counts for each trial of the batch (:class:`~baselines.classic.trial_agent.TrialAgent`).
- :func:`bayes_optimal_value` and :class:`BayesOptimalBernoulli`: the exact Bayes-optimal policy of
  a Bernoulli bandit with uniform priors, by dynamic programming over the arms' (successes,
  failures) counts, for small ``arms`` and ``horizon``; it defines the 100 of the normalized score
  where it can be computed. :func:`policy_value` is the brute-force check: the value of any policy
  by enumerating every reward sequence, with the prior integrated exactly (Beta functions).
- :func:`random_return` and :func:`oracle_return`: the exact expected returns of the uniformly
  random arm and of the oracle that always pulls the best arm (the references of the suite).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import integrate, stats

from baselines.classic.trial_agent import TrialAgent, argmax_random_ties
from icl_envs.checks import check_float, check_int

#: The most (successes, failures) states the exact DP will visit (arms exchangeable): about 1 GB.
MAX_DP_STATES = 3_000_000


class BanditAgent(TrialAgent):
    """Per-arm pull counts and reward sums for each trial of the batch."""

    def _configure(self) -> None:
        self.arms = self.env.arms
        self.gaussian = self.env.reward == "gaussian"
        self.noise_std = self.env.noise_std

    def _allocate(self, size: int) -> None:
        self.counts = np.zeros((size, self.arms))
        self.sums = np.zeros((size, self.arms))

    def _new_trials(self, envs: np.ndarray) -> None:
        self.counts[envs] = 0.0
        self.sums[envs] = 0.0

    def _observe(self, envs, states, actions, rewards, next_states, ended) -> None:
        self.counts[envs, actions] += 1
        self.sums[envs, actions] += rewards

    def means(self) -> np.ndarray:
        return self.sums / np.maximum(self.counts, 1)


class UCB1(BanditAgent):
    """Pull every arm once, then the arm maximizing ``mean + c * scale * sqrt(2 ln t / n)`` (scale:
    1 for Bernoulli arms, ``noise_std`` for Gaussian ones)."""

    def __init__(self, c: float = 1.0, seed: int = 0):
        super().__init__(seed)
        self.c = check_float("c", c, minimum=0.0, maximum=1e6)

    def _choose(self, state, step, episode) -> np.ndarray:
        t = np.maximum(self.counts.sum(axis=1, keepdims=True), 1)
        scale = self.noise_std if self.gaussian else 1.0
        bonus = self.c * scale * np.sqrt(2 * np.log(t) / np.maximum(self.counts, 1))
        values = np.where(self.counts == 0, np.inf, self.means() + bonus)
        return argmax_random_ties(values, self.rng)


class ThompsonSampling(BanditAgent):
    """Pull the arm whose sampled mean is largest: Beta(1 + successes, 1 + failures) for Bernoulli
    arms (the uniform prior); for Gaussian arms the posterior of a N(0, 1) prior with known noise."""

    def _choose(self, state, step, episode) -> np.ndarray:
        if self.gaussian:
            precision = 1.0 + self.counts / self.noise_std**2 if self.noise_std > 0 else None
            if precision is None:  # noiseless: one pull tells an arm's mean exactly
                samples = np.where(self.counts > 0, self.means(), self.rng.standard_normal(self.counts.shape))
            else:
                mean = self.sums / self.noise_std**2 / precision
                samples = mean + self.rng.standard_normal(mean.shape) / np.sqrt(precision)
        else:
            samples = self.rng.beta(1.0 + self.sums, 1.0 + self.counts - self.sums)
        return np.argmax(samples, axis=1)


class EpsilonGreedy(BanditAgent):
    """With probability ``epsilon`` a uniformly random arm, else the best empirical mean (an arm not
    pulled yet counts 0; ties at random)."""

    def __init__(self, epsilon: float = 0.1, seed: int = 0):
        super().__init__(seed)
        self.epsilon = check_float("epsilon", epsilon, minimum=0.0, maximum=1.0)

    def _choose(self, state, step, episode) -> np.ndarray:
        greedy = argmax_random_ties(self.means(), self.rng)
        explore = self.rng.random(len(greedy)) < self.epsilon
        return np.where(explore, self.rng.integers(self.arms, size=len(greedy)), greedy)


# ----------------------------------------------------------------------------------------------
# The exact Bayes-optimal Bernoulli bandit (uniform priors)


def dp_states(arms: int, horizon: int) -> int:
    """How many count states with at most ``horizon`` pulls there are, arms unordered (about)."""
    return math.comb(horizon + 2 * arms, 2 * arms) // math.factorial(arms)


def check_dp_size(arms: Any, horizon: Any) -> tuple[int, int]:
    arms = check_int("arms", arms, minimum=1, maximum=64)
    horizon = check_int("horizon", horizon, minimum=0, maximum=10_000)
    if dp_states(arms, horizon) > MAX_DP_STATES:
        raise ValueError(
            f"arms={arms}, horizon={horizon}: the exact DP would visit about {dp_states(arms, horizon):,} "
            f"states, more than {MAX_DP_STATES:,}; use smaller arms or horizon (e.g. arms=2, horizon=100)"
        )
    return arms, horizon


@functools.lru_cache(maxsize=8)
def _value_function(horizon: int) -> Callable[[tuple[tuple[int, int], ...]], float]:
    """V(counts): the optimal expected reward of the pulls left, counts sorted (arms exchangeable)."""

    @functools.cache
    def value(counts: tuple[tuple[int, int], ...]) -> float:
        if sum(s + f for s, f in counts) >= horizon:
            return 0.0
        return max(_arm_values(counts, value))

    return value


def _arm_values(counts: tuple[tuple[int, int], ...], value: Callable) -> list[float]:
    """Q of pulling each arm: the posterior predictive success (s + 1) / (s + f + 2) pays 1 and moves
    the arm to (s + 1, f), else to (s, f + 1)."""
    q = []
    for k, (s, f) in enumerate(counts):
        p = (s + 1) / (s + f + 2)
        win = tuple(sorted(counts[:k] + ((s + 1, f),) + counts[k + 1 :]))
        lose = tuple(sorted(counts[:k] + ((s, f + 1),) + counts[k + 1 :]))
        q.append(p * (1.0 + value(win)) + (1 - p) * value(lose))
    return q


def bayes_optimal_value(arms: int = 2, horizon: int = 10, **_: Any) -> float:
    """The Bayes-optimal expected return of a Bernoulli bandit with uniform priors (exact DP)."""
    arms, horizon = check_dp_size(arms, horizon)
    return _value_function(horizon)(((0, 0),) * arms)


class BayesOptimalBernoulli(BanditAgent):
    """The exact Bayes-optimal policy of a Bernoulli bandit with uniform priors (small arms, horizon):
    pull the arm of largest Q by the DP of :func:`bayes_optimal_value` (ties at random)."""

    def _configure(self) -> None:
        super()._configure()
        if self.gaussian:
            raise ValueError("BayesOptimalBernoulli plays reward='bernoulli' bandits only")
        check_dp_size(self.arms, self.env.horizon)
        self.value = _value_function(self.env.horizon)

    def _choose(self, state, step, episode) -> np.ndarray:
        successes = self.sums.astype(np.int64)
        failures = self.counts.astype(np.int64) - successes
        q = np.array(
            [
                _arm_values(tuple(zip(s.tolist(), f.tolist())), self._sorted_value)
                for s, f in zip(successes, failures)
            ]
        )
        return argmax_random_ties(q, self.rng)

    def _sorted_value(self, counts: tuple[tuple[int, int], ...]) -> float:
        return self.value(tuple(sorted(counts)))


def policy_value(policy: Callable[[tuple[tuple[int, int], ...]], int], arms: int, horizon: int) -> float:
    """The expected return of a deterministic ``policy`` (history -> arm) under uniform priors, by
    brute force: every sequence of rewards is enumerated and weighted by its exact probability
    ∫ p^s (1 - p)^f dp = s! f! / (s + f + 1)! per arm. The policy sees the whole history, a tuple of
    (arm, reward) pairs, so no count state is assumed."""

    def walk(history: tuple[tuple[int, int], ...]) -> float:
        if len(history) == horizon:
            weight = 1.0
            for k in range(arms):
                s = sum(r for a, r in history if a == k)
                f = sum(1 - r for a, r in history if a == k)
                weight *= math.factorial(s) * math.factorial(f) / math.factorial(s + f + 1)
            return weight * sum(r for _, r in history)
        arm = policy(history)
        return walk(history + ((arm, 1),)) + walk(history + ((arm, 0),))

    return walk(())


# ----------------------------------------------------------------------------------------------
# Exact references


def random_return(arms: int = 5, horizon: int = 100, reward: str = "bernoulli", **_: Any) -> float:
    """Uniformly random arms: ``horizon`` times a mean's expectation (1/2 for U[0, 1], 0 for N(0, 1))."""
    return horizon * (0.5 if reward == "bernoulli" else 0.0)


def oracle_return(arms: int = 5, horizon: int = 100, reward: str = "bernoulli", **_: Any) -> float:
    """Always the best arm: ``horizon * E[max of the means]``: K / (K + 1) for K uniform means; for
    K standard normal means E[max] = ∫ x K φ(x) Φ(x)^(K-1) dx, integrated numerically to 1e-12."""
    if reward == "bernoulli":
        return horizon * arms / (arms + 1)
    density = lambda x: x * arms * stats.norm.pdf(x) * stats.norm.cdf(x) ** (arms - 1)  # noqa: E731
    expected_max, _ = integrate.quad(density, -np.inf, np.inf, epsabs=1e-13)
    return horizon * expected_max
