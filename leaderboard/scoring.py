"""Normalized scores and the aggregate statistics of a leaderboard entry.

Everything here is a pure function of arrays, so the harness, the results validator and a server
compute the very same numbers.

- The normalized score of a mean return ``R`` on a suite entry is
  ``100 · (R − R_random) / (R_reference − R_random)``: 0 is the random (or zero) predictor, 100 the
  exact optimum the project computed for that entry (``leaderboard/data/references-v0.json``).
- A run of an agent on a suite gives a *score matrix* of shape ``(num_seeds, num_entries)``: the
  normalized score of each entry's mean return over the episodes of each evaluation seed.
- Aggregates over that matrix follow Agarwal et al., "Deep Reinforcement Learning at the Edge of the
  Statistical Precipice" (NeurIPS 2021): the interquartile mean (IQM, the headline), the mean, the
  median and the optimality gap, each with a 95% percentile interval from a *stratified* bootstrap
  that resamples seeds independently within each entry (task), so every bootstrap replicate keeps
  every entry. The bootstrap is seeded: the same matrix gives the same interval on every machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Score that counts as "solved" for the optimality gap (the normalized score of the optimum).
OPTIMALITY_THRESHOLD = 100.0
#: Bootstrap replicates and seed used for every published interval.
BOOTSTRAP_REPS = 2000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95


def normalized_score(mean_return: float | np.ndarray, r_random: float, r_reference: float) -> np.ndarray:
    """``100 · (R − R_random) / (R_reference − R_random)``; rejects a degenerate reference."""
    if not np.isfinite(r_random) or not np.isfinite(r_reference) or r_reference == r_random:
        raise ValueError(
            f"r_reference ({r_reference}) and r_random ({r_random}) must be finite and differ "
            "for a normalized score"
        )
    return 100.0 * (np.asarray(mean_return, dtype=np.float64) - r_random) / (r_reference - r_random)


# Each aggregate maps scores of shape (..., num_seeds, num_entries) to shape (...), so the same
# function serves the point estimate (2-D input) and all bootstrap replicates at once (3-D input).


def iqm(scores: np.ndarray) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50% of all runs (25% trimmed from each end)."""
    flat = scores.reshape(*scores.shape[:-2], -1)
    return stats.trim_mean(flat, proportiontocut=0.25, axis=-1)


def mean(scores: np.ndarray) -> np.ndarray:
    """Mean over entries of each entry's mean over seeds."""
    return scores.mean(axis=(-2, -1))


def median(scores: np.ndarray) -> np.ndarray:
    """Median over entries of each entry's mean over seeds (Agarwal et al.'s definition)."""
    return np.median(scores.mean(axis=-2), axis=-1)


def optimality_gap(scores: np.ndarray, threshold: float = OPTIMALITY_THRESHOLD) -> np.ndarray:
    """How far runs fall short of ``threshold`` on average; scores above it count as ``threshold``."""
    return threshold - np.minimum(scores, threshold).mean(axis=(-2, -1))


AGGREGATES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "iqm": iqm,
    "mean": mean,
    "median": median,
    "optimality_gap": optimality_gap,
}


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap confidence interval."""

    value: float
    low: float
    high: float


def check_score_matrix(scores: np.ndarray) -> np.ndarray:
    """Return ``scores`` as a finite float64 ``(num_seeds, num_entries)`` matrix, or raise naming it."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] < 1 or scores.shape[1] < 1:
        raise ValueError(f"scores must be a (num_seeds, num_entries) matrix, got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite")
    return scores


def stratified_bootstrap(
    scores: np.ndarray, *, reps: int = BOOTSTRAP_REPS, seed: int = BOOTSTRAP_SEED
) -> np.ndarray:
    """``reps`` resamples of the score matrix, shape ``(reps, num_seeds, num_entries)``.

    Each entry (column) draws its seeds with replacement independently of the other entries:
    the strata are the entries, as in Agarwal et al.
    """
    scores = check_score_matrix(scores)
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    num_seeds, num_entries = scores.shape
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, num_seeds, size=(reps, num_seeds, num_entries))
    return scores[rows, np.arange(num_entries)]


def aggregate_intervals(
    scores: np.ndarray,
    *,
    reps: int = BOOTSTRAP_REPS,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> dict[str, Interval]:
    """Every aggregate of ``scores`` with its percentile interval from one stratified bootstrap."""
    scores = check_score_matrix(scores)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    replicates = stratified_bootstrap(scores, reps=reps, seed=seed)
    tail = 100.0 * (1.0 - confidence) / 2.0
    intervals = {}
    for name, aggregate in AGGREGATES.items():
        low, high = np.percentile(aggregate(replicates), [tail, 100.0 - tail])
        intervals[name] = Interval(float(aggregate(scores)), float(low), float(high))
    return intervals


def mean_interval(
    values: np.ndarray,
    *,
    reps: int = BOOTSTRAP_REPS,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> Interval:
    """The mean of a 1-D sample with a percentile bootstrap interval (used per entry, over episodes)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError("values must be a non-empty array of finite numbers")
    rng = np.random.default_rng(seed)
    # Resample in chunks so that a large entry (thousands of episodes) never holds reps x size indices.
    chunk = max(1, 2_000_000 // values.size)
    means = np.concatenate(
        [
            values[rng.integers(0, values.size, size=(min(chunk, reps - start), values.size))].mean(axis=1)
            for start in range(0, reps, chunk)
        ]
    )
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return Interval(float(values.mean()), float(low), float(high))
