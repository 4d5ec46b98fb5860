"""Stable-Baselines3 compatibility (DESIGN.md §1: "works unchanged with the common RL libraries").

SB3's own ``check_env`` runs on every registered id with its default kwargs (the card games'
default is the image observation) and on the card games' symbolic observation; a short PPO run
then trains on one env of each kind. Warnings are recorded and compared with the few that are
inherent to an env (listed below with the reason), so a new warning fails the test.

Not covered on purpose: ``obs_mode="text"`` and ``"multimodal"`` hold a Gymnasium ``Text`` space,
which SB3 does not take (those modes are for language agents); Blackjack's symbolic observation is
Gymnasium's ``Tuple`` triple (kept identical to Blackjack-v1), which SB3 users flatten with
``gymnasium.wrappers.FlattenObservation``, as they do for Gymnasium's own Blackjack-v1.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.wrappers import FlattenObservation
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env
from stable_baselines3.common.vec_env import DummyVecEnv, VecCheckNan

import icl_envs


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # PPO's tiny networks gain nothing from more threads, and CI shares 2 cores. Restored after
    # the module: at import time this would also slow every other torch test in the session.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


IDS = [env_id for env_id, *_ in icl_envs.ENVIRONMENTS]
CARD_IDS = ["icl/NumberLine-v0", "icl/EZPoints-v0", "icl/Points24-v0", "icl/Blackjack-v0"]
PREDICTION_IDS = [env_id for env_id in IDS if env_id not in CARD_IDS]

# Advice SB3 gives, not errors, and inherent to the regression/MRP envs (each a message fragment):
# - the context is a (max examples, features) table, which a sequence model reads as it is;
#   SB3's MultiInputPolicy flattens it, so training works, and SB3 only recommends flattening;
# - the action is a real-valued prediction of y or a value in [-1000, 1000]; rescaling it to
#   [-1, 1] would change every score, so SB3's "symmetric and normalized" advice is not followed.
PREDICTION_WARNINGS = ("unconventional shape", "symmetric and normalized Box action space")


def _make(env_id: str, **kwargs) -> gym.Env:
    env = gym.make(env_id, **kwargs)
    if env_id == "icl/Blackjack-v0" and kwargs.get("obs_mode") == "symbolic":
        # Tuple(Discrete(32), Discrete(11), Discrete(2)) -> one-hot Box of 32 + 11 + 2 entries.
        env = FlattenObservation(env)
    return env


def _sb3_warnings(env: gym.Env) -> list[str]:
    """Run SB3's check_env (errors raise) and return the messages of the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, warn=True)
    return [str(w.message) for w in caught]


def _unexpected(messages: list[str], allowed: tuple[str, ...]) -> list[str]:
    return [m for m in messages if not any(fragment in m for fragment in allowed)]


CHECK_CASES = [(env_id, {}) for env_id in IDS] + [(env_id, {"obs_mode": "symbolic"}) for env_id in CARD_IDS]


@pytest.mark.parametrize(
    ("env_id", "kwargs"), CHECK_CASES, ids=[f"{i}-{k.get('obs_mode', 'default')}" for i, k in CHECK_CASES]
)
def test_sb3_check_env(env_id, kwargs):
    env = _make(env_id, **kwargs)
    messages = _sb3_warnings(env)
    allowed = PREDICTION_WARNINGS if env_id in PREDICTION_IDS else ()
    assert _unexpected(messages, allowed) == []
    env.close()


def test_sb3_check_env_on_the_unwrapped_envs():
    # check_env(MyEnv()) is how SB3's docs call it: without gym.make's PassiveEnvChecker and
    # OrderEnforcing in front, so nothing Gymnasium's wrappers add can hide a problem.
    for env_id, kwargs in CHECK_CASES:
        env = _make(env_id, **kwargs)
        inner = (
            env.unwrapped if not isinstance(env, FlattenObservation) else FlattenObservation(env.unwrapped)
        )
        allowed = PREDICTION_WARNINGS if env_id in PREDICTION_IDS else ()
        assert _unexpected(_sb3_warnings(inner), allowed) == [], env_id
        env.close()


def test_blackjack_symbolic_needs_flattening_for_sb3():
    # Documents the one exception: the raw Tuple observation is Gymnasium's, and SB3 rejects it.
    raw = gym.make("icl/Blackjack-v0", obs_mode="symbolic")
    assert isinstance(raw.observation_space, gym.spaces.Tuple)
    with pytest.raises(NotImplementedError, match="Tuple"):
        PPO("MlpPolicy", raw, device="cpu")
    flat = _make("icl/Blackjack-v0", obs_mode="symbolic")
    assert flat.observation_space.shape == (32 + 11 + 2,)
    obs, _ = flat.reset(seed=0)
    # One-hot of each of the three parts: exactly three ones.
    assert obs.sum() == 3 and set(np.unique(obs)) <= {0, 1}


PPO_CASES = [
    ("icl/LinearRegression-v0", {}),
    ("icl/MRPValue-v0", {}),
    ("icl/NumberLine-v0", {"obs_mode": "symbolic"}),
    ("icl/Points24-v0", {"obs_mode": "symbolic"}),
    ("icl/Blackjack-v0", {"obs_mode": "symbolic"}),
]


@pytest.mark.parametrize(("env_id", "kwargs"), PPO_CASES, ids=[i for i, _ in PPO_CASES])
def test_ppo_learns_a_few_steps(env_id, kwargs):
    # Two rollouts of 64 steps cross several episode ends (regression/MRP episodes have 20-30
    # steps, card episodes a few), so SB3's autoreset, buffers and one update all run.
    # VecCheckNan raises at the first NaN/inf in an observation, reward or action.
    vec_env = VecCheckNan(DummyVecEnv([lambda: _make(env_id, **kwargs)]), raise_exception=True)
    policy = "MultiInputPolicy" if isinstance(vec_env.observation_space, gym.spaces.Dict) else "MlpPolicy"
    model = PPO(policy, vec_env, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(128)
    assert model.num_timesteps == 128
    obs = vec_env.reset()
    action, _ = model.predict(obs, deterministic=True)
    assert vec_env.action_space.contains(action[0])
    vec_env.close()
