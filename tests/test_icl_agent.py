"""A trained run folder is an agent that acts on the envs, one env or a vector env at a time."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch

import icl_envs  # noqa: F401  (registers the envs)
from baselines.icl.agent import RunAgent, load_run_agent
from baselines.icl.models import ModelConfig
from baselines.icl.samplers import PromptConfig
from baselines.icl.train import TrainConfig, train

# One torch thread for these tiny tensors (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    made = {}
    for name, config in {
        "linear": TrainConfig(
            prompts=PromptConfig(task="icl-regression"), model=ModelConfig(layers=2), steps=5, batch_size=16
        ),
        "softmax": TrainConfig(
            prompts=PromptConfig(task="icl-regression"),
            model=ModelConfig(kind="softmax", layers=1, width=32),
            steps=5,
            batch_size=16,
        ),
        "mrp-rebased": TrainConfig(
            prompts=PromptConfig(task="icl-mrp", d=4, n=30),
            model=ModelConfig(kind="rebased", layers=1, width=32),
            steps=5,
            batch_size=8,
        ),
        "mrp-linear": TrainConfig(
            prompts=PromptConfig(task="icl-mrp", d=4, n=30),
            model=ModelConfig(layers=3),
            steps=5,
            batch_size=8,
        ),
    }.items():
        made[name] = train(dataclasses.replace(config, out=str(root / name), progress=False))
    return made


def play(env, agent):
    """One episode; returns the actions and the observations they answered."""
    obs, _ = env.reset(seed=7)
    actions, observations, done = [], [], False
    while not done:
        action = agent.act(obs)
        assert action.shape == (1,) and action.dtype == np.float32 and env.action_space.contains(action)
        actions.append(float(action[0]))
        observations.append(obs)
        obs, _, terminated, truncated, _ = env.step(action)
        done = terminated or truncated
    return np.array(actions), observations


@pytest.mark.parametrize(
    ("run", "env_id"),
    [
        ("linear", "icl/LinearRegression-v0"),
        ("softmax", "icl/LinearRegression-v0"),
        ("mrp-rebased", "icl/MRPValue-v0"),
        ("mrp-linear", "icl/MRPValue-v0"),
    ],
)
def test_run_agent_plays_an_episode_with_the_models_predictions(runs, run, env_id):
    agent = load_run_agent(runs[run])
    env = gym.make(env_id)
    agent.reset(env_id, {})
    actions, observations = play(env, agent)
    assert len(actions) == env.unwrapped.n
    # The agent's prediction at step t is the model's prediction from the first t rows (all lengths).
    last = observations[-1]
    steps = len(observations)
    context = torch.as_tensor(last["context"], dtype=torch.float32)[None]
    queries = context[..., : agent.model.query_dim].clone()
    queries[0, steps - 1] = torch.as_tensor(last["query"])
    with torch.no_grad():
        expected = agent.model.forward_all(context, queries)[0].numpy()
    # The last observation's context holds rows 0..n-2; row n-1 is zero and never read at step n-1.
    np.testing.assert_allclose(actions, expected, rtol=1e-4, atol=1e-5)


def test_run_agent_acts_on_a_vector_env(runs):
    agent = RunAgent(runs["mrp-rebased"])
    envs = gym.make_vec("icl/MRPValue-v0", num_envs=3, vectorization_mode="vector_entry_point")
    obs, _ = envs.reset(seed=1)
    for _ in range(4):
        batch_actions = agent.act_batch(obs)
        assert batch_actions.shape == (3, 1) and batch_actions.dtype == np.float32
        single = np.stack([agent.act({k: v[i] for k, v in obs.items()}) for i in range(3)])
        np.testing.assert_allclose(batch_actions, single, rtol=1e-5, atol=1e-6)
        obs, *_ = envs.step(batch_actions)


def test_run_agent_refuses_other_envs(runs, tmp_path):
    agent = RunAgent(runs["linear"])
    with pytest.raises(ValueError, match="trained for icl/LinearRegression-v0"):
        agent.reset("icl/MRPValue-v0", {})
    with pytest.raises(ValueError, match="d=5"):
        agent.reset("icl/LinearRegression-v0", {"d": 8})
    with pytest.raises(ValueError, match="n=50"):
        RunAgent(runs["softmax"]).reset("icl/LinearRegression-v0", {"n": 50})
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        RunAgent(tmp_path)
