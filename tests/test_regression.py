"""In-context regression envs, generators and vector envs (issue 2)."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import InvalidAction, ResetNeeded
from gymnasium.utils.env_checker import check_env

import icl_envs  # noqa: F401
from icl_envs.regression import (
    DecisionTreeTasks,
    LinearRegressionEnv,
    LinearRegressionTasks,
    ReLUNetTasks,
    SparseLinearTasks,
)
from icl_envs.regression.generators import default_eigenvalues

REGRESSION_IDS = (
    "icl/LinearRegression-v0",
    "icl/SparseRegression-v0",
    "icl/ReLUNetRegression-v0",
    "icl/DecisionTreeRegression-v0",
)
GENERATORS = (
    LinearRegressionTasks(),
    LinearRegressionTasks(d=4, noise_std=0.3, covariance="rotated", weight_prior="inverse_covariance"),
    SparseLinearTasks(),
    ReLUNetTasks(d=3, hidden=20),
    DecisionTreeTasks(),
)


def _run_episode(env: gym.Env, seed: int, actions: np.ndarray) -> tuple[list, list, list]:
    obs, _ = env.reset(seed=seed)
    observations, rewards, targets = [obs], [], []
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(np.array([action], dtype=np.float32))
        observations.append(obs)
        rewards.append(reward)
        targets.append(info["target"])
        if terminated:
            break
    return observations, rewards, targets


# ------------------------------------------------------------------------------------- env contract
@pytest.mark.parametrize("env_id", REGRESSION_IDS)
def test_check_env(env_id):
    with warnings.catch_warnings():
        # check_env warns about the unbounded observation boxes and the unnormalised action box;
        # both are deliberate (targets are unbounded; the action is a raw prediction).
        warnings.simplefilter("ignore", UserWarning)
        check_env(gym.make(env_id).unwrapped, skip_render_check=True)


@pytest.mark.parametrize("env_id", REGRESSION_IDS)
def test_same_seed_same_task_and_rewards(env_id):
    env = gym.make(env_id)
    actions = np.random.default_rng(0).normal(size=env.unwrapped.n)
    first, second, other = (_run_episode(env, seed, actions) for seed in (7, 7, 8))
    for a, b in zip(first[0], second[0]):
        np.testing.assert_array_equal(a["context"], b["context"])
        np.testing.assert_array_equal(a["query"], b["query"])
    assert first[1] == second[1] and first[2] == second[2]
    assert first[2] != other[2]
    assert len(first[1]) == env.unwrapped.n  # terminates after exactly n predictions


def test_episode_structure_and_info_timing():
    env = LinearRegressionEnv(d=3, n=4)
    obs, info = env.reset(seed=1)
    assert info == {} and obs["length"] == 0 and not obs["context"].any()
    inputs, targets = env.task.inputs, env.task.targets
    for t in range(4):
        np.testing.assert_array_equal(obs["query"], inputs[t].astype(np.float32))
        obs, reward, terminated, truncated, info = env.step(np.array([0.5], dtype=np.float32))
        assert info == {"target": targets[t]}  # the target of the step just scored, nothing else
        assert reward == pytest.approx(-((0.5 - targets[t]) ** 2))
        assert obs["length"] == t + 1 and terminated == (t == 3) and not truncated
        np.testing.assert_array_equal(obs["context"][t], np.append(inputs[t], targets[t]).astype(np.float32))
        assert not obs["context"][t + 1 :].any()  # rows past length are zero
        assert obs in env.observation_space
    assert not obs["query"].any()
    with pytest.raises(ResetNeeded):
        env.step(np.zeros(1, dtype=np.float32))


def test_plugged_in_generator_via_make():
    class ConstantTasks:  # a user's generator: only d and sample(rng, n)
        d = 2

        def sample(self, rng, n):
            return SimpleNamespace(inputs=rng.normal(size=(n, 2)), targets=np.full(n, 3.0))

    env = gym.make("icl/LinearRegression-v0", n=5, generator=ConstantTasks())
    env.reset(seed=0)
    assert env.step(np.array([3.0], dtype=np.float32))[1] == 0.0
    vector = gym.make_vec("icl/LinearRegression-v0", 3, n=5, generator=ConstantTasks())
    vector.reset(seed=0)
    np.testing.assert_array_equal(vector.step(np.full((3, 1), 3.0))[1], np.zeros(3))
    sparse = gym.make("icl/SparseRegression-v0", generator=SparseLinearTasks(d=6, k=2))
    assert sparse.observation_space["query"].shape == (6,)


# ------------------------------------------------------------------------------------- vector envs
@pytest.mark.parametrize(
    ("env_id", "n", "num_steps"),
    [(env_id, 6, 20) for env_id in REGRESSION_IDS]
    # n = 1: 2-step episodes, so that each env uses up its block of tasks and draws the next
    # (block_size is at most 16), before and after the partial reset desynchronises the blocks.
    + [("icl/LinearRegression-v0", 1, 80), ("icl/DecisionTreeRegression-v0", 1, 80)],
)
def test_vector_env_matches_sync_vector_env(env_id, n, num_steps):
    kwargs = {"n": n, "noise_std": 0.1}
    native = gym.make_vec(env_id, 5, **kwargs)
    sync = gym.make_vec(env_id, 5, vectorization_mode="sync", **kwargs)
    assert not isinstance(native, gym.vector.SyncVectorEnv)
    assert native.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    assert native.observation_space == sync.observation_space and native.action_space == sync.action_space
    rng = np.random.default_rng(0)

    def same(a, b):
        for x, y in zip(a[:-1], b[:-1]):
            if isinstance(x, dict):
                assert x.keys() == y.keys()
                for key in x:
                    np.testing.assert_array_equal(x[key], y[key])
                    assert x[key].dtype == y[key].dtype
            else:
                np.testing.assert_array_equal(x, y)
        assert a[-1].keys() == b[-1].keys()
        for key in a[-1]:
            np.testing.assert_array_equal(a[-1][key], b[-1][key])

    same(native.reset(seed=11), sync.reset(seed=11))
    for step in range(num_steps):  # several episodes, autoresets included
        actions = rng.normal(size=(5, 1)).astype(np.float32)
        same(native.step(actions), sync.step(actions))
        if step == 9:  # a partial reset puts the envs out of step with each other
            mask = np.array([True, False, True, False, False])
            options = {"reset_mask": mask}
            same(
                native.reset(seed=[1, 2, 3, 4, 5], options=dict(options)),
                sync.reset(seed=[1, 2, 3, 4, 5], options=dict(options)),
            )
    # Unseeded resets continue each env's own generator.
    same(native.reset(), sync.reset())
    same(native.step(np.zeros((5, 1))), sync.step(np.zeros((5, 1))))


@pytest.mark.parametrize("generator", GENERATORS, ids=repr)
def test_generator_batches_are_exact(generator):
    each = generator.sample_each([np.random.default_rng(s) for s in range(6)], 7)
    for s in range(6):
        single = generator.sample(np.random.default_rng(s), 7)
        for name in type(single).__dataclass_fields__:
            np.testing.assert_array_equal(getattr(each, name)[s], getattr(single, name))
    batch = generator.sample_batch(np.random.default_rng(0), 4, 7)
    assert batch.inputs.shape == (4, 7, generator.d) and batch.targets.shape == (4, 7)
    blocks = generator.sample_each([np.random.default_rng(s) for s in range(3)], 7, block=4)
    assert blocks.targets.shape == (12, 7)
    for s in range(3):
        own = generator.sample_batch(np.random.default_rng(s), 4, 7)
        np.testing.assert_array_equal(blocks.targets[4 * s : 4 * s + 4], own.targets)
        np.testing.assert_array_equal(blocks.inputs[4 * s : 4 * s + 4], own.inputs)


def test_env_draws_tasks_in_blocks_and_a_seed_restarts_them():
    generator = LinearRegressionTasks(d=3)
    env = LinearRegressionEnv(n=4, generator=generator)
    block = generator.block_size(4)
    assert 1 < block <= 16
    expected = generator.sample_batch(np.random.default_rng(5), block, 4)
    env.reset(seed=5)
    seen = [env.task.targets]
    for _ in range(block - 1):
        env.reset()
        seen.append(env.task.targets)
    np.testing.assert_array_equal(np.stack(seen), expected.targets)
    env.reset()  # the next block, still from the same generator
    assert not np.array_equal(env.task.targets, expected.targets[0])
    env.reset(seed=5)
    np.testing.assert_array_equal(env.task.targets, expected.targets[0])


# ---------------------------------------------------------------------------- distribution facts
# Tolerances: y² averaged over 20000 tasks x 10 examples has a standard error of about 0.5% of its
# mean for these sizes (the per-task mean of y² varies like ||w||², variance 2d); 3% is > 5 SE.
@pytest.mark.parametrize(
    ("generator", "expected"),
    [
        (LinearRegressionTasks(d=5), 5.0),  # tr(I)
        (LinearRegressionTasks(d=5, covariance="rotated"), float(default_eigenvalues(5).sum())),  # tr(Σ)
        (
            LinearRegressionTasks(d=5, covariance="rotated", weight_prior="inverse_covariance"),
            5.0,
        ),  # tr(Σ⁻¹Σ)
        (LinearRegressionTasks(d=5, noise_std=0.5), 5.25),
        (SparseLinearTasks(d=10, k=3), 3.0),
        (ReLUNetTasks(d=5, hidden=100), 5.0),  # the 2/h output scaling
        (DecisionTreeTasks(d=5), 1.0),  # leaves ~ N(0, 1)
    ],
    ids=lambda value: repr(value) if not isinstance(value, float) else f"{value:.4f}",
)
def test_mean_square_target(generator, expected):
    tasks = generator.sample_batch(np.random.default_rng(0), 20000, 10)
    assert np.mean(tasks.targets**2) == pytest.approx(expected, rel=0.03)


def test_rotated_covariance_structure():
    tasks = LinearRegressionTasks(d=5, covariance="rotated").sample_batch(np.random.default_rng(1), 50, 3)
    for cov, root in zip(tasks.covariance, tasks.covariance_sqrt):
        np.testing.assert_allclose(root @ root, cov, atol=1e-12)
        np.testing.assert_allclose(np.linalg.eigvalsh(cov), np.sort(default_eigenvalues(5)), atol=1e-12)
    # Haar rotations: the average covariance is the mean eigenvalue times I (50 tasks: loose bound).
    np.testing.assert_allclose(
        tasks.covariance.mean(axis=0), default_eigenvalues(5).mean() * np.eye(5), atol=0.15
    )
    assert not np.allclose(tasks.covariance[0], tasks.covariance[1])


def test_function_class_structure():
    sparse = SparseLinearTasks(d=10, k=3).sample_batch(np.random.default_rng(0), 200, 5)
    assert np.all(np.count_nonzero(sparse.weights, axis=1) == 3) and np.all(sparse.support.sum(axis=1) == 3)
    assert np.all(sparse.support.mean(axis=0) > 0.15)  # every coordinate is used (expected 0.3)
    tree = DecisionTreeTasks(d=5, depth=4).sample_batch(np.random.default_rng(0), 50, 30)
    assert tree.leaf_values.shape == (50, 16) and tree.node_coordinates.shape == (50, 15)
    assert all(np.isin(t, leaves).all() for t, leaves in zip(tree.targets, tree.leaf_values))
    relu = ReLUNetTasks(d=3, hidden=7).sample(np.random.default_rng(0), 4)
    expected = np.maximum(relu.inputs @ relu.hidden_weights.T, 0) @ relu.output_weights
    np.testing.assert_allclose(relu.targets, expected, atol=1e-12)


# ------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"covariance": "diagonal"}, "covariance"),
        ({"weight_prior": "laplace"}, "weight_prior"),
        ({"d": 0}, "d"),
        ({"d": -3}, "d"),
        ({"d": 2.5}, "d"),
        ({"n": 0}, "n"),
        ({"noise_std": -1.0}, "noise_std"),
        ({"noise_std": float("nan")}, "noise_std"),
        ({"action_bound": float("inf")}, "action_bound"),
        ({"action_bound": 0.0}, "action_bound"),
        ({"covariance": "rotated", "eigenvalues": [1, 2]}, "eigenvalues"),
        ({"covariance": "rotated", "eigenvalues": [1, 1, 1, 1, -1]}, "eigenvalues"),
        ({"eigenvalues": [1, 1, 1, 1, 1]}, "eigenvalues"),
        ({"generator": object()}, "generator"),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        gym.make("icl/LinearRegression-v0", **kwargs)


@pytest.mark.parametrize(
    ("env_id", "kwargs", "argument"),
    [
        ("icl/SparseRegression-v0", {"k": 11}, "k"),
        ("icl/ReLUNetRegression-v0", {"hidden": 0}, "hidden"),
        ("icl/DecisionTreeRegression-v0", {"depth": 0}, "depth"),
    ],
)
def test_bad_function_class_arguments(env_id, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        gym.make(env_id, **kwargs)


@pytest.mark.parametrize(
    "action",
    [np.array([np.nan]), np.array([np.inf]), np.zeros(2), np.zeros((1, 1, 1)), "1.0", np.array([2e3])],
)
def test_bad_actions(action):
    env = gym.make("icl/LinearRegression-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(InvalidAction, match="action"):
        env.step(action)


def test_bad_vector_actions_and_calls():
    env = gym.make_vec("icl/LinearRegression-v0", 3)
    with pytest.raises(ResetNeeded):
        env.step(np.zeros((3, 1)))
    env.reset(seed=0)
    for actions in (np.zeros((2, 1)), np.full((3, 1), np.nan), np.zeros((3, 2))):
        with pytest.raises(InvalidAction, match="actions"):
            env.step(actions)
    with pytest.raises(ValueError, match="num_envs"):
        gym.make_vec("icl/LinearRegression-v0", 0)
    with pytest.raises(ValueError, match="seed"):
        env.reset(seed=[1, 2])


class _ShapedTasks:
    """A user's generator whose tasks have the given input and target shapes (n = 4, d = 3)."""

    d = 3

    def __init__(self, inputs_shape, targets_shape, fill=0.0):
        self.inputs_shape, self.targets_shape, self.fill = inputs_shape, targets_shape, fill

    def sample(self, rng, n):
        return SimpleNamespace(
            inputs=np.full(self.inputs_shape, self.fill), targets=np.full(self.targets_shape, self.fill)
        )


@pytest.mark.parametrize(
    ("generator", "name"),
    [
        (_ShapedTasks((4, 4), (4,)), "inputs"),  # d + 1 columns
        (_ShapedTasks((9, 3), (9,)), "inputs"),  # more rows than n
        (_ShapedTasks((4, 3), (3,)), "targets"),  # a target short
        (_ShapedTasks((4, 3), (4,), fill=np.nan), "inputs"),
    ],
)
def test_a_plugged_in_generator_with_bad_tasks_is_named(generator, name):
    # Without the check these were numpy broadcasting or index errors deep inside step(), or, in
    # the vector env, extra rows silently kept.
    with pytest.raises(ValueError, match=f"generator: .*{name}"):
        gym.make("icl/LinearRegression-v0", n=4, generator=generator).reset(seed=0)
    with pytest.raises(ValueError, match=f"generator: .*{name}"):
        gym.make_vec("icl/LinearRegression-v0", 2, n=4, generator=generator).reset(seed=0)
