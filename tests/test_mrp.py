"""icl/MRPValue-v0: generator facts, env contract, vector env, classic baselines."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import InvalidAction, ResetNeeded
from gymnasium.utils.env_checker import check_env

import icl_envs  # noqa: F401
from baselines.classic import mrp as classic
from icl_envs.mrp import MRPTasks, MRPValueEnv, MRPValueVectorEnv, episode_arrays, stack_tasks
from leaderboard.agent import unbatch

ENV_ID = "icl/MRPValue-v0"
CONFIGS = [
    {},
    {"mrp": "loop", "rewards": "representable"},
    {"objective": "average_reward"},
    {"mrp": "loop", "rewards": "representable", "objective": "average_reward", "gamma": 0.5},
    {"num_states": 2, "d": 1, "n": 1},
]


# ------------------------------------------------------------------------------------ generator
@pytest.mark.parametrize("kwargs", CONFIGS)
def test_exact_values_satisfy_bellman_equations(kwargs):
    kwargs = {k: v for k, v in kwargs.items() if k != "n"}
    tasks = MRPTasks(**kwargs).sample_batch(np.random.default_rng(0), 64, 5)
    P, r, mu = tasks.transitions, tasks.rewards, tasks.stationary
    # Round-off only: the systems are 10x10 and well conditioned, so 1e-10 is ample.
    np.testing.assert_allclose(P.sum(axis=2), 1.0, atol=1e-12)
    assert np.all(P >= 0)
    np.testing.assert_allclose(
        tasks.value, r + tasks.gamma * np.einsum("bst,bt->bs", P, tasks.value), atol=1e-10
    )
    np.testing.assert_allclose(np.einsum("bs,bst->bt", mu, P), mu, atol=1e-10)
    np.testing.assert_allclose(mu.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(mu > 0)
    h, rho = tasks.differential_value, tasks.average_reward
    np.testing.assert_allclose(h, r - rho[:, None] + np.einsum("bst,bt->bs", P, h), atol=1e-10)
    np.testing.assert_allclose(np.einsum("bs,bs->b", mu, h), 0.0, atol=1e-10)
    np.testing.assert_allclose(rho, np.einsum("bs,bs->b", mu, r), atol=1e-12)


def test_representable_values_are_linear_in_the_features():
    for objective in ("discounted", "average_reward"):
        tasks = MRPTasks(rewards="representable", objective=objective).sample_batch(
            np.random.default_rng(1), 32, 5
        )
        targets, phi = tasks.targets, tasks.features
        # Least squares of the targets on [phi, 1] (the 1 absorbs the centring under average reward).
        design = np.concatenate([phi, np.ones(phi.shape[:2] + (1,))], axis=2)
        for i in range(len(tasks)):
            fit, *_ = np.linalg.lstsq(design[i], targets[i], rcond=None)
            np.testing.assert_allclose(design[i] @ fit, targets[i], atol=1e-9)


def test_boyan_and_loop_structure():
    boyan = MRPTasks(num_states=6).sample_batch(np.random.default_rng(2), 50, 3)
    P = boyan.transitions
    for i in range(4):  # i -> i+1 or i+2 only, with probabilities in [0.01, 0.99]
        np.testing.assert_allclose(P[:, i, i + 1] + P[:, i, i + 2], 1.0)
        assert np.all((P[:, i, i + 1] >= 0.01) & (P[:, i, i + 1] <= 0.99))
    np.testing.assert_allclose(P[:, 4, 5], 1.0)
    assert np.all(P[:, 5] > 0)  # the random last row reaches every state
    loop = MRPTasks(num_states=6, mrp="loop").sample_batch(np.random.default_rng(2), 50, 3).transitions
    i = np.arange(6)
    np.testing.assert_allclose(loop[:, i, (i + 1) % 6] + loop[:, i, (i + 2) % 6], 1.0)
    assert np.count_nonzero(loop[0]) == 12


def test_trajectories_follow_the_chain_from_the_stationary_distribution():
    """E[1{s_i = j} - mu_j] = 0 at every i (stationary start) and E[1{s_{i+1} = k} - P[s_i, k]] = 0."""
    tasks = MRPTasks(mrp="loop").sample_batch(np.random.default_rng(3), 4000, 8)
    rows = np.arange(len(tasks))[:, None]
    occupancy = np.eye(10)[tasks.states]  # (B, n + 1, S)
    gap = (occupancy - tasks.stationary[:, None, :]).mean(axis=0)
    # Each entry is a mean of 4000 terms with sd <= 0.5, so sd of the mean <= 0.008: 0.04 is 5 sd.
    assert np.abs(gap).max() < 0.04
    predicted = tasks.transitions[rows, tasks.states[:, :-1]]  # (B, n, S)
    assert np.abs((occupancy[:, 1:] - predicted).mean(axis=0)).max() < 0.04


def test_sample_batch_and_sample_each_equal_one_at_a_time():
    generator = MRPTasks(rewards="representable", objective="average_reward")
    rng = np.random.default_rng(4)
    singles = [generator.sample(rng, 7) for _ in range(5)]
    batch = generator.sample_batch(np.random.default_rng(4), 5, 7)
    each = generator.sample_each([np.random.default_rng(s) for s in range(5)], 7)
    for i, task in enumerate(singles):
        assert np.array_equal(task.states, batch.states[i])
        assert np.array_equal(task.transitions, batch.transitions[i])
        np.testing.assert_allclose(task.targets, batch.targets[i], rtol=1e-12)
        alone = generator.sample(np.random.default_rng(i), 7)
        assert np.array_equal(alone.states, each.states[i]) and np.array_equal(
            alone.features, each.features[i]
        )


# ------------------------------------------------------------------------------------------ env
@pytest.mark.parametrize("kwargs", CONFIGS)
def test_check_env(kwargs):
    check_env(gym.make(ENV_ID, **kwargs).unwrapped, skip_render_check=True)


def test_episode_shows_transitions_after_scoring_them():
    env = gym.make(ENV_ID, n=6, gamma=0.8)
    obs, info = env.reset(seed=5)
    task = env.unwrapped.task
    assert "target" not in info and obs["length"] == 0 and not obs["context"].any()
    for t in range(6):
        s = task.states[t]
        np.testing.assert_allclose(obs["query"], task.features[s], rtol=1e-6)  # float32 rows
        obs, reward, terminated, truncated, info = env.step(np.array([0.25], dtype=np.float32))
        assert info["target"] == pytest.approx(task.value[s])
        assert reward == pytest.approx(-((0.25 - task.value[s]) ** 2))
        row = np.concatenate([task.features[s], 0.8 * task.features[task.states[t + 1]], [task.rewards[s]]])
        np.testing.assert_allclose(obs["context"][t], row, rtol=1e-6, atol=1e-7)
        assert obs["length"] == t + 1 and not obs["context"][t + 1 :].any()
        assert terminated == (t == 5) and not truncated
    with pytest.raises(ResetNeeded):
        env.step(np.array([0.0], dtype=np.float32))


def test_average_reward_rows_use_discount_one_and_differential_targets():
    env = gym.make(ENV_ID, objective="average_reward", n=3)
    obs, _ = env.reset(seed=6)
    task = env.unwrapped.task
    obs, _, _, _, info = env.step(np.zeros(1, dtype=np.float32))
    np.testing.assert_allclose(obs["context"][0, 4:8], task.features[task.states[1]], rtol=1e-6)
    assert info["target"] == pytest.approx(task.differential_value[task.states[0]])


def test_same_seed_same_episode_and_different_seed_different_task():
    def run(seed):
        env = gym.make(ENV_ID, n=10)
        obs, _ = env.reset(seed=seed)
        out = [obs["query"]]
        for t in range(10):
            obs, reward, *_ = env.step(np.array([0.1 * t], dtype=np.float32))
            out += [obs["context"].ravel(), obs["query"], [reward]]
        return np.concatenate(out)

    assert np.array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"gamma": 1.0}, "gamma"),
        ({"gamma": -0.1}, "gamma"),
        ({"gamma": "high"}, "gamma"),
        ({"num_states": 1}, "num_states"),
        ({"num_states": 2.5}, "num_states"),
        ({"d": 0}, "d"),
        ({"n": 0}, "n"),
        ({"mrp": "ring"}, "mrp"),
        ({"rewards": "sparse"}, "rewards"),
        ({"objective": "total"}, "objective"),
        ({"action_bound": 0.0}, "action_bound"),
        ({"action_bound": float("inf")}, "action_bound"),
        ({"generator": object()}, "generator"),
        ({"generator": MRPTasks(d=3)}, "d"),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        MRPValueEnv(**kwargs)
    with pytest.raises(ValueError, match=argument if argument != "render_mode" else "render"):
        MRPValueVectorEnv(2, **kwargs)


@pytest.mark.parametrize(
    "action", [np.zeros(2), np.zeros((1, 2)), np.array([np.nan]), np.array([np.inf]), np.array([2e3]), "1.0"]
)
def test_bad_actions_are_rejected(action):
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    with pytest.raises(InvalidAction, match="action"):
        env.step(action)
    vector = gym.make_vec(ENV_ID, 2)
    vector.reset(seed=0)
    with pytest.raises(InvalidAction, match="action"):
        vector.step(
            np.stack([np.asarray(action, dtype=object)] * 2)
            if isinstance(action, str)
            else np.stack([action] * 2)
        )


# ----------------------------------------------------------------------------------- vector env
def _assert_same_step(native, sync):
    for a, b in zip(native[:4], sync[:4]):
        if isinstance(a, dict):
            assert a.keys() == b.keys()
            for key in a:
                assert np.array_equal(a[key], b[key]), key
        else:
            assert np.array_equal(a, b)
    assert native[4].keys() == sync[4].keys()
    for key in native[4]:
        assert np.array_equal(native[4][key], sync[4][key]), key


class _PlainGenerator:
    """A user's generator with only sample(): the vector env must fall back to it."""

    def __init__(self):
        self.inner = MRPTasks(mrp="loop", num_states=5)
        self.d = 4

    def sample(self, rng, n):
        return self.inner.sample(rng, n)


@pytest.mark.parametrize("kwargs", CONFIGS + [{"generator": "plain"}])
def test_vector_env_matches_sync_vector_env(kwargs):
    kwargs = dict(kwargs)
    if kwargs.get("generator") == "plain":
        kwargs["generator"] = _PlainGenerator()
    kwargs.setdefault("n", 4)
    native = gym.make_vec(ENV_ID, 5, **kwargs)
    sync = gym.make_vec(ENV_ID, 5, vectorization_mode="sync", **kwargs)
    assert isinstance(native.unwrapped, MRPValueVectorEnv)
    assert native.observation_space == sync.observation_space and native.action_space == sync.action_space
    rng = np.random.default_rng(0)
    for seed in (11, None, [3, 1, 4, 1, 5]):  # None continues each env's Generator
        _assert_same_step(
            native.reset(seed=seed) + (None, None, {}), sync.reset(seed=seed) + (None, None, {})
        )
        for _ in range(3 * (kwargs["n"] + 1)):  # three episodes with their autoreset steps
            actions = rng.normal(size=(5, 1)).astype(np.float32)
            _assert_same_step(native.step(actions), sync.step(actions))
    # A partial reset with a mask, mid-episode, then more steps.
    mask = np.array([True, False, True, False, False])
    _assert_same_step(
        native.reset(seed=2, options={"reset_mask": mask.copy()}) + (None, None, {}),
        sync.reset(seed=2, options={"reset_mask": mask.copy()}) + (None, None, {}),
    )
    for _ in range(2 * (kwargs["n"] + 1)):
        actions = rng.normal(size=(5, 1)).astype(np.float32)
        _assert_same_step(native.step(actions), sync.step(actions))


def test_vector_env_step_before_reset():
    with pytest.raises(ResetNeeded):
        MRPValueVectorEnv(2).step(np.zeros((2, 1)))


# ------------------------------------------------------------------------------------ baselines
def _full_contexts(tasks, t):
    """Observations with the first t transitions of each task's trajectory (t < n)."""
    rows, queries, targets = episode_arrays(tasks)
    context = rows.copy()
    context[:, t:] = 0.0
    obs = {"context": context, "length": np.full(len(tasks), t), "query": queries[:, t]}
    return obs, targets[:, t]


@pytest.mark.parametrize("normalize", [False, True])
def test_td0_approaches_lstd_as_steps_grow(normalize):
    tasks = MRPTasks().sample_batch(np.random.default_rng(8), 200, 101)
    obs, _ = _full_contexts(tasks, 100)
    transitions = classic.Transitions.from_observation(obs)
    lstd = classic.LSTD(ridge=0.0)
    lstd.reset(ENV_ID, {"n": 101})
    reference = lstd.predict(transitions)
    gaps = []
    for steps in (1, 10, 100, 1000):
        td = classic.BatchTD0(steps=steps, step_size=0.5, normalize=normalize)
        td.reset(ENV_ID, {"n": 101})
        gaps.append(np.median(np.abs(td.predict(transitions) - reference)))
    assert all(a > b for a, b in zip(gaps, gaps[1:])), gaps
    # After 1000 steps with alpha = 0.5 the iteration has converged on the typical task
    # (median gap ~1e-15 when measured, either step rule; 1e-6 leaves slack for platforms).
    assert gaps[-1] < 1e-6 and gaps[0] > 0.1, gaps


def test_lstd_error_on_representable_mrps_falls_with_context():
    tasks = MRPTasks(rewards="representable").sample_batch(np.random.default_rng(9), 400, 150)
    lstd = classic.LSTD(ridge=1e-6)
    lstd.reset(ENV_ID, {"rewards": "representable", "n": 150})
    medians = []
    for t in (10, 20, 50, 149):
        obs, targets = _full_contexts(tasks, t)
        medians.append(np.median((lstd.act_batch(obs)[:, 0] - targets) ** 2))
    # Medians (the mean is dominated by a few nearly singular short contexts) measured
    # 0.048, 0.013, 0.004, 0.0013: each step at least halves the error.
    assert all(a > 2 * b for a, b in zip(medians, medians[1:])), medians
    assert medians[-1] < 0.005, medians


@pytest.mark.parametrize("name", sorted(classic.AGENTS))
@pytest.mark.parametrize("kwargs", [{}, {"objective": "average_reward", "rewards": "representable"}])
def test_act_batch_equals_act_per_env(name, kwargs):
    agent = classic.AGENTS[name](tuning_tasks=32)
    agent.reset(ENV_ID, {**kwargs, "n": 8})
    vector = gym.make_vec(ENV_ID, 6, n=8, **kwargs)
    obs, _ = vector.reset(seed=12)
    for _ in range(8):
        batched = agent.act_batch(obs)
        assert batched.shape == (6, 1) and batched.dtype == np.float32
        single = np.stack([agent.act(o) for o in unbatch(obs)])
        # Batched and single einsums may round differently in the last float32 bit.
        np.testing.assert_allclose(batched, single, rtol=1e-5, atol=1e-6)
        obs, *_ = vector.step(batched)


def test_tuning_is_seeded_and_beats_the_zero_predictor():
    first, second = classic.BatchTD0(tuning_tasks=64), classic.BatchTD0(tuning_tasks=64)
    for agent in (first, second):
        agent.reset(ENV_ID, {"rewards": "representable"})
    assert np.array_equal(first.step_sizes, second.step_sizes)
    tasks = MRPTasks(rewards="representable").sample_batch(np.random.default_rng(10), 300, 30)
    obs, targets = _full_contexts(tasks, 29)
    error = np.mean((first.act_batch(obs)[:, 0] - targets) ** 2)
    # Measured 0.04 against E[v^2] ~ 0.45 for the zero predictor.
    assert error < 0.25 * np.mean(targets**2)


def test_average_reward_td_learns_the_differential_value():
    kwargs = {"objective": "average_reward", "rewards": "representable", "n": 30}
    agent = classic.AverageRewardTD(tuning_tasks=64)
    agent.reset(ENV_ID, kwargs)
    tasks = MRPTasks(rewards="representable", objective="average_reward").sample_batch(
        np.random.default_rng(13), 300, 30
    )
    obs, targets = _full_contexts(tasks, 29)
    error = np.mean((agent.act_batch(obs)[:, 0] - targets) ** 2)
    assert error < 0.5 * np.mean(targets**2), (error, np.mean(targets**2))


def test_agent_arguments_are_checked():
    with pytest.raises(ValueError, match="steps"):
        classic.BatchTD0(steps=0)
    with pytest.raises(ValueError, match="lam"):
        classic.BatchTDLambda(lam=1.5)
    with pytest.raises(ValueError, match="ridge"):
        classic.LSTD(ridge=-1.0)
    with pytest.raises(ValueError, match="step_size"):
        classic.ResidualGradient(step_size=-0.1)


def test_generator_and_vector_arguments_are_checked():
    with pytest.raises(ValueError, match="gamma"):
        MRPTasks(gamma=1.0)
    with pytest.raises(ValueError, match="mrp"):
        MRPTasks(mrp="chain")
    with pytest.raises(ValueError, match="batch"):
        MRPTasks().sample_batch(np.random.default_rng(0), 0, 5)
    with pytest.raises(ValueError, match="num_envs"):
        MRPValueVectorEnv(0)
    with pytest.raises(ResetNeeded, match="reset_mask"):
        MRPValueVectorEnv(2).reset(seed=0, options={"reset_mask": np.array([True, False])})


def test_ansi_render_describes_the_episode():
    env = gym.make(ENV_ID, render_mode="ansi", n=3)
    env.reset(seed=0)
    env.step(np.array([0.5], dtype=np.float32))
    text = env.render()
    assert "1/3 transitions" in text and "last prediction +0.5000" in text


def test_agents_tune_on_a_generator_with_only_sample():
    agent = classic.LSTD(tuning_tasks=16)
    agent.reset(ENV_ID, {"generator": _PlainGenerator(), "n": 5})
    env = gym.make(ENV_ID, generator=_PlainGenerator(), n=5)
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        obs, reward, terminated, _, _ = env.step(agent.act(obs))
    assert terminated and np.isfinite(reward)


@pytest.mark.parametrize("kwargs", CONFIGS[:4])
def test_large_batches_give_bit_identical_episodes(kwargs):
    """A task's numbers must not depend on how many are computed together (vector == sync at 1024)."""
    generator = MRPTasks(**kwargs)
    batch = episode_arrays(generator.sample_each([np.random.default_rng(i) for i in range(512)], 12))
    for i in range(0, 512, 37):
        alone = episode_arrays(stack_tasks([generator.sample(np.random.default_rng(i), 12)]))
        for big, small in zip(batch, alone):
            assert np.array_equal(big[i], small[0])


class _BrokenGenerator:
    """A user's generator whose tasks are changed by ``edit`` (or are not tasks at all)."""

    d = 4

    def __init__(self, edit):
        self.edit = edit

    def sample(self, rng, n):
        return self.edit(MRPTasks(num_states=5).sample(rng, n))


@pytest.mark.parametrize(
    ("edit", "name"),
    [
        (lambda task: {"not": "a task"}, "MRPTask"),
        (lambda task: dataclasses.replace(task, states=task.states[:-1]), "states"),
        (lambda task: dataclasses.replace(task, features=task.features[:, :3]), "features"),
        (lambda task: dataclasses.replace(task, states=task.states + 5), "states"),
    ],
)
def test_a_plugged_in_generator_with_bad_tasks_is_named(edit, name):
    # Without the check: AttributeError or numpy index/broadcast errors inside reset().
    with pytest.raises(ValueError, match=f"generator: .*{name}"):
        gym.make(ENV_ID, n=4, generator=_BrokenGenerator(edit)).reset(seed=0)
    with pytest.raises(ValueError, match=f"generator: .*{name}"):
        gym.make_vec(ENV_ID, 2, n=4, generator=_BrokenGenerator(edit)).reset(seed=0)
