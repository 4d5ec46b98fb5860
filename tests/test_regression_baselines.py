"""Classic in-context regression baselines and the reference facts they reproduce (issue 2)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import baselines.classic.regression as classic
from baselines.classic.regression import all_prefixes
from icl_envs.regression import LinearRegressionTasks, SparseLinearTasks


def _errors_by_length(agent, env_id, num_tasks=400, seed=123, **env_kwargs):
    """Mean squared error per context length, over whole episodes of num_tasks sampled tasks."""
    env = gym.make(env_id, **env_kwargs).unwrapped
    agent.reset(env_id, env_kwargs)
    tasks = env.generator.sample_batch(np.random.default_rng(seed), num_tasks, env.n)
    obs, answers = all_prefixes(tasks.inputs, tasks.targets)
    predictions = agent.act_batch(obs)[:, 0].astype(np.float64)
    return ((predictions - answers) ** 2).reshape(num_tasks, env.n).mean(axis=0)


def _last_query_observation(tasks):
    """Observations whose context holds every example but the last, which is the query."""
    inputs, targets = tasks.inputs, tasks.targets
    n = inputs.shape[1]
    context = np.concatenate([inputs, targets[..., None]], axis=-1).astype(np.float32)
    context[:, -1] = 0.0
    obs = {
        "context": context,
        "length": np.full(len(inputs), n - 1),
        "query": inputs[:, -1].astype(np.float32),
    }
    return obs, targets[:, -1]


@pytest.mark.parametrize(
    ("env_id", "name"),
    [(env_id, name) for env_id, names in classic.BASELINES_BY_ENV.items() for name in names],
)
def test_act_batch_equals_act(env_id, name):
    agent = getattr(classic, name)(tuning_tasks=32)
    agent.reset(env_id, {"n": 8})
    tasks = gym.make(env_id, n=8).unwrapped.generator.sample_batch(np.random.default_rng(0), 2, 8)
    obs, _ = all_prefixes(tasks.inputs, tasks.targets)  # every context length 0..7
    batch = agent.act_batch(obs)
    assert batch.shape == (16, 1) and batch.dtype == np.float32
    for i in range(16):
        single = agent.act({key: value[i] for key, value in obs.items()})
        assert single.shape == (1,)
        # A batched LAPACK/einsum call may round differently from a batch of one: float32 ulps.
        np.testing.assert_allclose(single, batch[i], rtol=1e-5, atol=1e-6)


def test_agents_run_on_the_vector_env():
    env = gym.make_vec("icl/LinearRegression-v0", 16)
    agent = classic.Ridge()
    agent.reset("icl/LinearRegression-v0", {})
    obs, _ = env.reset(seed=0)
    for _ in range(env.unwrapped.n):
        obs, reward, terminated, _, _ = env.step(agent.act_batch(obs))
    assert terminated.all() and np.all(reward > -1e-8)


def test_least_squares_exact_once_context_holds_d_examples():
    errors = _errors_by_length(classic.LeastSquares(), "icl/LinearRegression-v0", d=5, n=12)
    # Exact up to float32 rounding of the observation (squared errors ~1e-13).
    assert np.all(errors[5:] < 1e-8)
    assert np.all(errors[:5] > 0.5)  # before d examples the query has an unseen component
    rotated = _errors_by_length(
        classic.LeastSquares(), "icl/LinearRegression-v0", d=5, n=8, covariance="rotated"
    )
    assert np.all(rotated[5:] < 1e-6)  # eigenvalue 1/16 makes the fit less well conditioned


def test_best_one_step_preconditioned_gd_error():
    """The best single preconditioned GD step after n = 20 isotropic examples (d = 5) has error
    d(d+1)/(n+d+1) = 30/26 = 1.154 (Ahn et al. 2023; Mahankali et al. 2023)."""
    d, n = 5, 20
    expected = d * (d + 1) / (n + d + 1)
    tasks = LinearRegressionTasks(d=d).sample_batch(np.random.default_rng(2024), 40000, n + 1)
    obs, answers = _last_query_observation(tasks)  # length n, query x_{n+1}
    errors = {}
    for step_size in (0.8, 1.0, 1.25):
        agent = classic.PreconditionedGD(steps=1, step_size=step_size)
        agent.reset("icl/LinearRegression-v0", {"d": d, "n": n + 1})
        squared = (agent.act_batch(obs)[:, 0] - answers) ** 2
        errors[step_size] = (squared.mean(), squared.std() / np.sqrt(len(squared)))
    mean, standard_error = errors[1.0]
    assert standard_error < 0.03  # enough tasks for the check to have power
    assert abs(mean - expected) < 4 * standard_error, (mean, expected, standard_error)
    # It is the best step: scaling it either way costs d·n/(n+d+1)·(s-1)² ≈ 0.15 here (same tasks).
    assert errors[0.8][0] > mean + 0.08 and errors[1.25][0] > mean + 0.08
    # And the agent's own tuning (on its own sampled tasks) finds a step size near 1.
    tuned = classic.PreconditionedGD(steps=1, tuning_tasks=1024)
    tuned.reset("icl/LinearRegression-v0", {"d": d, "n": n + 1})
    assert 0.75 < tuned.step_sizes[n] < 1.35


def test_ridge_at_least_as_good_as_least_squares_under_noise():
    kwargs = {"d": 5, "n": 15, "noise_std": 0.5}
    ridge = _errors_by_length(classic.Ridge(), "icl/LinearRegression-v0", num_tasks=2000, **kwargs)
    least_squares = _errors_by_length(
        classic.LeastSquares(), "icl/LinearRegression-v0", num_tasks=2000, **kwargs
    )
    # Ridge is the posterior mean, so Bayes-optimal here: never worse beyond Monte Carlo noise (about
    # 3% of the error with 2000 tasks; same tasks for both), and far better near t = d where
    # min-norm least squares interpolates the noise.
    assert np.all(ridge <= least_squares * 1.03 + 1e-9)
    assert ridge[5] < 0.5 * least_squares[5]
    assert ridge.mean() < least_squares.mean()


def test_ridge_reads_prior_and_noise():
    agent = classic.Ridge()
    agent.reset("icl/LinearRegression-v0", {"noise_std": 0.5})
    assert agent.regularization == pytest.approx(0.25)
    agent.reset("icl/SparseRegression-v0", {"noise_std": 0.5})
    assert agent.regularization == pytest.approx(0.25 / (3 / 10))  # prior variance k/d
    agent.reset("icl/LinearRegression-v0", {"generator": LinearRegressionTasks(noise_std=0.1)})
    assert agent.regularization == pytest.approx(0.01)


def test_lasso_beats_least_squares_on_sparse_weights():
    lasso = _errors_by_length(classic.Lasso(), "icl/SparseRegression-v0", num_tasks=300)
    least_squares = _errors_by_length(classic.LeastSquares(), "icl/SparseRegression-v0", num_tasks=300)
    # With 3 of 10 weights nonzero, 6..9 examples are too few for least squares but enough for the
    # l1 fit (compressed sensing); the gap is large (about 1.0 vs 0.1 at t = 9), noise is not an issue.
    assert np.all(lasso[6:10] < 0.6 * least_squares[6:10])


def test_lasso_with_zero_alpha_is_least_squares():
    generator = SparseLinearTasks(d=4, k=2)
    tasks = generator.sample_batch(np.random.default_rng(0), 20, 10)
    obs, answers = all_prefixes(tasks.inputs, tasks.targets)
    lasso = classic.Lasso(alpha=0.0, sweeps=200)
    lasso.reset("icl/SparseRegression-v0", {"d": 4, "k": 2, "n": 10})
    late = obs["length"] >= 6  # well-determined contexts: the unique least-squares fit
    np.testing.assert_allclose(lasso.act_batch(obs)[late, 0], answers[late], atol=1e-3)


def test_gd_plus_plus_beats_gd():
    gd = _errors_by_length(classic.GD(steps=2), "icl/LinearRegression-v0")
    gd_plus_plus = _errors_by_length(classic.GDPlusPlus(steps=2), "icl/LinearRegression-v0")
    # The curvature corrections matter once the context is larger than d (0.2 vs 1.1 at t = 19).
    assert gd_plus_plus[10:].mean() < 0.7 * gd[10:].mean()


def test_knn_and_simple_predictors():
    obs = {
        "context": np.array([[[0.0, 1.0], [5.0, 2.0], [1.0, 3.0], [0.0, 0.0]]], dtype=np.float32),
        "length": np.array([3]),
        "query": np.array([[0.9]], dtype=np.float32),
    }
    for agent, expected in [
        (classic.KNN(k=1), 3.0),  # the nearest example, x = 1
        (classic.KNN(k=2), 2.0),  # x = 1 and x = 0
        (classic.KNN(k=10), 2.0),  # fewer examples than k: all of them
        (classic.MeanPredictor(), 2.0),
        (classic.ZeroPredictor(), 0.0),
        (classic.Averaging(), 0.9 * (0 * 1 + 5 * 2 + 1 * 3) / 3),
    ]:
        agent.reset("icl/LinearRegression-v0", {"d": 1, "n": 4})
        assert agent.act_batch(obs)[0, 0] == pytest.approx(expected, rel=1e-6)
    empty = {key: value.copy() for key, value in obs.items()}
    empty["length"] = np.array([0])
    empty["context"][:] = 0.0
    for name in ("KNN", "MeanPredictor", "Averaging", "LeastSquares", "GD", "Lasso"):
        agent = getattr(classic, name)(tuning_tasks=16)
        agent.reset("icl/LinearRegression-v0", {"d": 1, "n": 4})
        assert agent.act_batch(empty)[0, 0] == 0.0


def test_predictions_stay_inside_the_action_space():
    agent = classic.LeastSquares()
    agent.reset("icl/LinearRegression-v0", {"d": 1, "n": 2, "action_bound": 10.0})
    obs = {
        "context": np.array([[[1e-3, 100.0], [0.0, 0.0]]], dtype=np.float32),
        "length": np.array([1]),
        "query": np.array([[1.0]], dtype=np.float32),
    }
    assert agent.act_batch(obs)[0, 0] == 10.0


def test_bad_agent_arguments():
    with pytest.raises(ValueError, match="steps"):
        classic.GD(steps=0)
    with pytest.raises(ValueError, match="k"):
        classic.KNN(k=0)
    with pytest.raises(ValueError, match="alpha"):
        classic.Lasso(alpha=-1.0)
    with pytest.raises(ValueError, match="regularization"):
        classic.Ridge(regularization=float("nan"))
