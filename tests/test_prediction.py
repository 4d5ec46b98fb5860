"""The in-context prediction envs (regression, MRP) share one episode and one vector-env base:
the rules of ``icl_envs.prediction`` and ``icl_envs.vector_base`` hold for every one of them alike."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded

import icl_envs  # noqa: F401  (registers the ids)
from icl_envs.prediction import PredictionEnv, PredictionVectorEnv

PREDICTION_IDS = [
    "icl/LinearRegression-v0",
    "icl/SparseRegression-v0",
    "icl/ReLUNetRegression-v0",
    "icl/DecisionTreeRegression-v0",
    "icl/MRPValue-v0",
]


@pytest.mark.parametrize("env_id", PREDICTION_IDS)
def test_every_prediction_env_is_built_on_the_shared_bases(env_id):
    assert isinstance(gym.make(env_id, n=3).unwrapped, PredictionEnv)
    assert isinstance(gym.make_vec(env_id, 2, n=3), PredictionVectorEnv)


@pytest.mark.parametrize("env_id", PREDICTION_IDS)
def test_vector_reset_rules_are_the_same_for_every_prediction_env(env_id):
    envs = gym.make_vec(env_id, 3, n=3)
    with pytest.raises(ResetNeeded, match="first reset"):
        envs.reset(seed=0, options={"reset_mask": np.array([True, False, True])})
    with pytest.raises(ValueError, match="unknown keys"):
        envs.reset(seed=0, options={"task": None})
    envs.reset(seed=0)
    envs.reset(options={"reset_mask": np.array([True, False, True])})  # after the first: allowed


@pytest.mark.parametrize("env_id", PREDICTION_IDS)
@pytest.mark.parametrize("render_mode", ["ansi", "human", "rgb_array"])
def test_vector_envs_refuse_rendering(env_id, render_mode):
    with pytest.raises(ValueError, match="render_mode must be None for the vector env"):
        gym.make_vec(env_id, 2, render_mode=render_mode)


@pytest.mark.parametrize("env_id", PREDICTION_IDS)
def test_a_bad_env_argument_is_named_by_the_vector_env_as_by_the_single_env(env_id):
    with pytest.raises(ValueError, match="n must be >= 1") as single:
        gym.make(env_id, n=0)
    with pytest.raises(ValueError, match="n must be >= 1") as vector:
        gym.make_vec(env_id, 2, n=0)
    assert str(single.value) == str(vector.value)
    with pytest.raises(ValueError, match="num_envs"):
        gym.make_vec(env_id, 0, n=0)  # the count is named first
