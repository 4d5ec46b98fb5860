"""Normalized scores and aggregates against hand-checked values and scipy."""

import numpy as np
import pytest
from scipy import stats

from leaderboard import scoring


def test_normalized_score_maps_random_to_0_and_reference_to_100():
    # LinearRegression-v0 defaults: zero predictor -100, Bayes-optimal -15.
    assert scoring.normalized_score(-100.0, -100.0, -15.0) == pytest.approx(0.0)
    assert scoring.normalized_score(-15.0, -100.0, -15.0) == pytest.approx(100.0)
    assert scoring.normalized_score(-57.5, -100.0, -15.0) == pytest.approx(50.0)
    # Better than the reference is allowed (a reference may be a bound that is not reached exactly).
    assert scoring.normalized_score(0.5, 0.0, 0.25) == pytest.approx(200.0)


@pytest.mark.parametrize("r_random, r_reference", [(1.0, 1.0), (np.nan, 1.0), (0.0, np.inf)])
def test_normalized_score_rejects_degenerate_references(r_random, r_reference):
    with pytest.raises(ValueError, match="r_reference"):
        scoring.normalized_score(0.0, r_random, r_reference)


def test_aggregates_on_hand_checked_matrix():
    scores = np.array([[0.0, 10.0, 20.0], [10.0, 30.0, 40.0]])
    # Entry means 5, 20, 30.
    assert scoring.mean(scores) == pytest.approx(55.0 / 3.0)
    assert scoring.median(scores) == pytest.approx(20.0)
    # Six runs sorted 0 10 10 20 30 40; trimming 25% of 6 drops int(1.5) = 1 run at each end.
    assert scoring.iqm(scores) == pytest.approx((10 + 10 + 20 + 30) / 4)
    assert scoring.optimality_gap(np.array([[50.0, 150.0], [100.0, 80.0]])) == pytest.approx(17.5)


def test_iqm_of_eight_runs_is_mean_of_middle_four():
    scores = np.arange(1.0, 9.0).reshape(2, 4)[:, ::-1]
    assert scoring.iqm(scores) == pytest.approx(4.5)


def test_iqm_matches_scipy_trim_mean_also_batched():
    rng = np.random.default_rng(3)
    scores = rng.normal(50.0, 30.0, size=(7, 5))
    assert scoring.iqm(scores) == pytest.approx(stats.trim_mean(scores.ravel(), 0.25))
    batch = rng.normal(size=(4, 7, 5))
    expected = [stats.trim_mean(matrix.ravel(), 0.25) for matrix in batch]
    np.testing.assert_allclose(scoring.iqm(batch), expected)


def test_stratified_bootstrap_resamples_seeds_within_each_entry():
    scores = np.array([[1.0, 100.0], [2.0, 200.0], [3.0, 300.0]])
    replicates = scoring.stratified_bootstrap(scores, reps=50, seed=1)
    assert replicates.shape == (50, 3, 2)
    # Column 0 only ever holds column 0's values: strata are kept apart.
    assert set(np.unique(replicates[:, :, 0])) <= {1.0, 2.0, 3.0}
    assert set(np.unique(replicates[:, :, 1])) <= {100.0, 200.0, 300.0}
    # Columns are drawn independently: their row choices are not all the same.
    assert not np.array_equal(replicates[:, :, 0] * 100.0, replicates[:, :, 1])


def test_intervals_are_reproducible_and_contain_the_point_estimate():
    rng = np.random.default_rng(0)
    scores = rng.normal(60.0, 20.0, size=(5, 6))
    first = scoring.aggregate_intervals(scores, reps=500, seed=7)
    again = scoring.aggregate_intervals(scores, reps=500, seed=7)
    other = scoring.aggregate_intervals(scores, reps=500, seed=8)
    assert first == again
    assert first != other
    assert set(first) == {"iqm", "mean", "median", "optimality_gap"}
    for interval in first.values():
        assert interval.low <= interval.value <= interval.high
        assert interval.low < interval.high


def test_interval_collapses_when_seeds_agree():
    # Every seed gives the same score per entry, so every replicate equals the point estimate.
    scores = np.tile([[10.0, 50.0, 90.0, 120.0]], (4, 1))
    for interval in scoring.aggregate_intervals(scores, reps=200).values():
        assert interval.low == pytest.approx(interval.value)
        assert interval.high == pytest.approx(interval.value)


def test_mean_interval_over_episodes():
    rng = np.random.default_rng(2)
    values = rng.normal(1.0, 1.0, size=400)
    interval = scoring.mean_interval(values, reps=1000, seed=0)
    assert interval.value == pytest.approx(values.mean())
    # The 95% interval of a mean of 400 unit-variance draws is about ±1.96/20 = ±0.098 wide;
    # the bootstrap estimate of it is within 20% of that for 1000 replicates.
    assert (interval.high - interval.low) / 2 == pytest.approx(0.098, rel=0.2)
    assert scoring.mean_interval(values, reps=1000, seed=0) == interval


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((0, 2)), np.array([[1.0, np.nan]])])
def test_bad_score_matrix_is_rejected(bad):
    with pytest.raises(ValueError, match="scores"):
        scoring.aggregate_intervals(bad)
