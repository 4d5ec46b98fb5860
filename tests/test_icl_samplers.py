"""The torch samplers draw the env generators' task distributions.

Each check draws a few thousand tasks from both and compares a statistic by a z-test: the two means
must agree within 4.5 standard errors (a false alarm rate of ~1e-5 per check), while a wrong
distribution (another eigenvalue, a missing rotation, a stay-in-place chain...) moves them by many.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.icl.constructions import batch_td
from baselines.icl.samplers import MRPSampler, RegressionSampler
from icl_envs.mrp.generators import MRPTasks
from icl_envs.regression.generators import LinearRegressionTasks

# One torch thread for these tiny tensors (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


TASKS = 4000
Z = 4.5


def assert_same_mean(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    # Values of one task are correlated (one trajectory, one w): average them into one sample per task.
    ours = np.asarray(ours, dtype=np.float64).reshape(len(ours), -1).mean(1)
    theirs = np.asarray(theirs, dtype=np.float64).reshape(len(theirs), -1).mean(1)
    se = np.sqrt(ours.var() / ours.size + theirs.var() / theirs.size)
    assert abs(ours.mean() - theirs.mean()) <= Z * se + 1e-12, (
        f"{what}: torch {ours.mean():.4f} vs numpy {theirs.mean():.4f} (se {se:.4f})"
    )


def min_norm_least_squares_error(inputs: np.ndarray, targets: np.ndarray, t: int) -> np.ndarray:
    """Squared error of the minimum-norm least-squares fit of the first t examples on example t."""
    x, y = inputs[:, :t], targets[:, :t]
    w = np.einsum("bij,bj->bi", np.linalg.pinv(x), y)
    return (np.einsum("bd,bd->b", inputs[:, t], w) - targets[:, t]) ** 2


def ridge_error(inputs: np.ndarray, targets: np.ndarray, t: int, penalty: float) -> np.ndarray:
    x, y = inputs[:, :t], targets[:, :t]
    d = inputs.shape[-1]
    gram = np.einsum("bti,btj->bij", x, x) + penalty * np.eye(d)
    w = np.linalg.solve(gram, np.einsum("bti,bt->bi", x, y)[..., None])[..., 0]
    return (np.einsum("bd,bd->b", inputs[:, t], w) - targets[:, t]) ** 2


REGRESSION_CASES = [
    dict(covariance="identity", weight_prior="identity", noise_std=0.0),
    dict(covariance="rotated", weight_prior="identity", noise_std=0.5),
    dict(covariance="rotated", weight_prior="inverse_covariance", noise_std=0.0),
]


@pytest.mark.parametrize("case", REGRESSION_CASES, ids=lambda c: f"{c['covariance']}-{c['weight_prior']}")
def test_regression_sampler_matches_generator(case):
    n = 12
    prompts = RegressionSampler(d=5, n=n, **case).sample(
        TASKS, torch.Generator().manual_seed(0), dtype=torch.float64
    )
    ours_x, ours_y = prompts.queries.numpy(), prompts.targets.numpy()
    task = LinearRegressionTasks(d=5, **case).sample_batch(np.random.default_rng(0), TASKS, n)
    theirs_x, theirs_y = task.inputs, task.targets
    # The context rows are [x, y], as in the env.
    assert np.array_equal(prompts.context[..., :5].numpy(), ours_x)
    assert np.array_equal(prompts.context[..., 5].numpy(), ours_y)
    # Moments: E|x|² = tr Σ, E y², E x_1⁴ (sensitive to the spectrum beyond its trace), E x_1 x_2 y².
    assert_same_mean((ours_x**2).sum(-1), (theirs_x**2).sum(-1), "E|x|^2")
    assert_same_mean(ours_y**2, theirs_y**2, "E y^2")
    assert_same_mean(ours_x[..., 0] ** 4, theirs_x[..., 0] ** 4, "E x1^4")
    assert_same_mean(
        ours_x[..., 0] * ours_x[..., 1] * ours_y**2,
        theirs_x[..., 0] * theirs_x[..., 1] * theirs_y**2,
        "E x1 x2 y^2",
    )
    if case["covariance"] == "rotated":
        # Same spectrum exactly, and the same law of the rotation (seen through Σ's entries).
        ours_cov, theirs_cov = prompts.extras["covariance"].numpy(), task.covariance
        assert np.allclose(np.linalg.eigvalsh(ours_cov), np.linalg.eigvalsh(theirs_cov), atol=1e-9)
        assert_same_mean(ours_cov[:, 0, 0] ** 2, theirs_cov[:, 0, 0] ** 2, "E Σ_11^2")
        assert_same_mean(ours_cov[:, 0, 1] ** 2, theirs_cov[:, 0, 1] ** 2, "E Σ_12^2")
    # Errors of the same predictors: least squares below and above d examples, and ridge.
    for t in (3, 8):
        assert_same_mean(
            min_norm_least_squares_error(ours_x, ours_y, t),
            min_norm_least_squares_error(theirs_x, theirs_y, t),
            f"least squares at t={t}",
        )
    assert_same_mean(
        ridge_error(ours_x, ours_y, 6, 0.25), ridge_error(theirs_x, theirs_y, 6, 0.25), "ridge at t=6"
    )


def test_regression_facts():
    """DESIGN.md's reference facts hold for the torch sampler too."""
    sampler = RegressionSampler(d=5, n=8)
    prompts = sampler.sample(TASKS, torch.Generator().manual_seed(1), dtype=torch.float64)
    x, y = prompts.queries.numpy(), prompts.targets.numpy()
    assert abs((y**2).mean() - 5.0) < Z * (y**2).std() / np.sqrt(y.size)  # E y² = tr Σ = d
    assert min_norm_least_squares_error(x, y, 6).max() < 1e-16  # exact once t >= d (noise 0)
    rotated = RegressionSampler(d=5, covariance="rotated", weight_prior="inverse_covariance")
    covariance = rotated.sample(3, torch.Generator().manual_seed(2)).extras["covariance"].double()
    eigenvalues = torch.linalg.eigvalsh(covariance)
    assert torch.allclose(eigenvalues, torch.tensor([0.0625, 0.25, 1, 1, 1]).double().expand(3, 5), atol=1e-5)


def numpy_mrp_prompts(generator: MRPTasks, tasks: int, n: int):
    """The env's rows from the numpy generator: [φ(s_t), discount·φ(s_{t+1}), r(s_t)], φ(s_t), target."""
    batch = generator.sample_batch(np.random.default_rng(0), tasks, n)
    index = np.arange(tasks)[:, None]
    phi = batch.features[index, batch.states]
    rewards = batch.rewards[index, batch.states[:, :n]]
    discount = 1.0 if generator.objective == "average_reward" else generator.gamma
    context = np.concatenate([phi[:, :n], discount * phi[:, 1:], rewards[..., None]], -1)
    targets = batch.targets[index, batch.states[:, :n]]
    return context, phi[:, :n], targets, batch.states


MRP_CASES = [
    dict(mrp="boyan", rewards="random", objective="discounted"),
    dict(mrp="loop", rewards="representable", objective="discounted"),
    dict(mrp="boyan", rewards="representable", objective="average_reward"),
]


@pytest.mark.parametrize("case", MRP_CASES, ids=lambda c: "-".join(c.values()))
def test_mrp_sampler_matches_generator(case):
    n = 30
    prompts = MRPSampler(d=4, n=n, num_states=10, gamma=0.9, **case).sample(
        TASKS, torch.Generator().manual_seed(0), dtype=torch.float64
    )
    context, queries, targets, states = numpy_mrp_prompts(MRPTasks(10, 4, 0.9, **case), TASKS, n)
    ours_states = prompts.extras["states"].numpy()
    # The start state follows μ and the chain's moves: compare the visit frequency of every state.
    for state in range(10):
        assert_same_mean(ours_states[:, 0] == state, states[:, 0] == state, f"P(s_0 = {state})")
        assert_same_mean((ours_states == state).mean(1), (states == state).mean(1), f"visits to {state}")
    assert_same_mean(prompts.targets.numpy(), targets, "E v")
    assert_same_mean(prompts.targets.numpy() ** 2, targets**2, "E v^2")
    assert_same_mean(prompts.context[..., -1].numpy(), context[..., -1], "E r")
    assert_same_mean(prompts.context[..., -1].numpy() ** 2, context[..., -1] ** 2, "E r^2")
    # The error of one predictor, three steps of batch TD(0), on both.
    ours_td = batch_td(prompts.context[:, : n - 1], prompts.queries[:, n - 1], 3, 0.5, gamma=0.9)
    theirs_td = batch_td(
        torch.from_numpy(context[:, : n - 1]), torch.from_numpy(queries[:, n - 1]), 3, 0.5, gamma=0.9
    )
    assert_same_mean(
        (ours_td.numpy() - prompts.targets[:, n - 1].numpy()) ** 2,
        (theirs_td.numpy() - targets[:, n - 1]) ** 2,
        "batch TD(0) error",
    )


def test_mrp_rows_are_consistent():
    """The query of step t is φ(s_t), and the next row's φ is the discounted next-state feature / γ."""
    prompts = MRPSampler().sample(64, torch.Generator().manual_seed(3), dtype=torch.float64)
    assert torch.equal(prompts.queries, prompts.context[..., :4])
    assert torch.allclose(prompts.context[:, :-1, 4:8], 0.9 * prompts.context[:, 1:, :4])


def test_sampler_arguments_are_checked():
    with pytest.raises(ValueError, match="covariance"):
        RegressionSampler(covariance="diagonal")
    with pytest.raises(ValueError, match="eigenvalues"):
        RegressionSampler(d=3, covariance="rotated", eigenvalues=(1.0, 2.0))
    with pytest.raises(ValueError, match="gamma"):
        MRPSampler(gamma=1.0)
    with pytest.raises(ValueError, match="mrp"):
        MRPSampler(mrp="grid")


def test_haar_rotations_are_the_sign_fixed_q_of_qr():
    """Gram-Schmidt gives exactly the numpy generator's construction: Q of G = QR with diag(R) > 0."""
    from baselines.icl.samplers import haar_orthogonal

    u = haar_orthogonal(500, 5, torch.Generator().manual_seed(4), "cpu", torch.float64)
    g = torch.randn(500, 5, 5, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    q, r = np.linalg.qr(g.numpy())
    expected = q * np.where(np.diagonal(r, axis1=-2, axis2=-1) < 0, -1.0, 1.0)[:, None, :]
    # Modified Gram-Schmidt on 5x5 Gaussian matrices loses ~cond(G)·1e-16; 1e-8 is far from any
    # sign or column-order mistake (which changes entries by O(1)).
    np.testing.assert_allclose(u.numpy(), expected, atol=1e-8)
