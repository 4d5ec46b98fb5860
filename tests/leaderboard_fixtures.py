"""A tiny, fast suite for the leaderboard tests: two toy envs, their references and a few agents.

It exercises the harness without depending on the speed of the real envs: an in-context regression
env (``Dict(context, length, query)`` observations, squared-error rewards) and a guessing game with
episodes of different lengths (so the harness must stop counting finished sub-envs).
"""

from __future__ import annotations

import functools
import json
import math

import gymnasium as gym
import numpy as np

from icl_envs.bounds import EpisodeBounds
from leaderboard.agent import Agent
from leaderboard.protocol import Suite, SuiteEntry, register_game, register_suite
from leaderboard.references import Reference, register_reference


class TinyRegressionEnv(gym.Env):
    """y = <w, x>, w ~ N(0, I), x ~ N(0, I); predict y_t from the t examples so far."""

    def __init__(self, d: int = 2, n: int = 4):
        self.d, self.n = d, n
        self.observation_space = gym.spaces.Dict(
            context=gym.spaces.Box(-np.inf, np.inf, (n, d + 1)),
            length=gym.spaces.Discrete(n + 1),
            query=gym.spaces.Box(-np.inf, np.inf, (d,)),
        )
        self.action_space = gym.spaces.Box(-1e3, 1e3, (1,))

    def _obs(self):
        context = np.zeros((self.n, self.d + 1), dtype=np.float32)
        context[: self.t, : self.d] = self.x[: self.t]
        context[: self.t, self.d] = self.y[: self.t]
        return {
            "context": context,
            "length": self.t,
            "query": self.x[min(self.t, self.n - 1)].astype(np.float32),
        }

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        w = self.np_random.standard_normal(self.d)
        self.x = self.np_random.standard_normal((self.n, self.d))
        self.y = self.x @ w
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        error = (float(np.asarray(action).reshape(())) - self.y[self.t]) ** 2
        self.t += 1
        return self._obs(), -error, self.t == self.n, False, {}

    def episode_bounds(self) -> EpisodeBounds:
        return EpisodeBounds(-math.inf, 0.0, self.n, self.n, squared_error=True)


class GuessEnv(gym.Env):
    """Guess a hidden number in 0..2: +1 and the end on a hit, else 0; at most 3 guesses."""

    observation_space = gym.spaces.Discrete(4)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.target = int(self.np_random.integers(3))
        self.guesses = 0
        return 0, {}

    def step(self, action):
        self.guesses += 1
        hit = int(action) == self.target
        return self.guesses, float(hit), hit, self.guesses == 3 and not hit, {}

    def episode_bounds(self) -> EpisodeBounds:
        return EpisodeBounds(0.0, 1.0, 1, 3, step_rewards=(0.0, 1.0))


gym.register("icltest/TinyRegression-v0", entry_point=TinyRegressionEnv)
gym.register("icltest/Guess-v0", entry_point=GuessEnv)

SEEDS = (10_000, 20_000, 30_000)
TINY_SUITE = Suite(
    name="tiny-v0",
    description="Toy envs for the leaderboard tests.",
    entries=(
        SuiteEntry("icltest/TinyRegression-v0", {}, 8, SEEDS, label="TinyRegression"),
        SuiteEntry("icltest/Guess-v0", {}, 10, SEEDS, label="Guess"),
    ),
    published=False,
)
register_suite(TINY_SUITE)
# Guess is won or lost like the card games: its entries show a success rate (as the server tests expect).
register_game("icltest/Guess-v0")
# Zero predictor: E[y²] = d per step; Bayes (noise 0): error max(d - t, 0) at step t, so -(2 + 1).
register_reference(TINY_SUITE.entries[0].key, Reference(r_random=-8.0, r_reference=-3.0))
# Guessing in order 0, 1, 2 always hits: return 1. Uniform random guesses hit with 1 - (2/3)^3.
register_reference(TINY_SUITE.entries[1].key, Reference(r_random=1 - (2 / 3) ** 3, r_reference=1.0))


class ZeroAgent(Agent):
    """Predicts 0 in the regression env, guesses 0 in the game."""

    def act(self, obs):
        return np.zeros(1) if isinstance(obs, dict) else 0


class SweepAgent(Agent):
    """Least squares on the context; guesses 0, 1, 2 in turn (optimal in both envs)."""

    def act(self, obs):
        if isinstance(obs, dict):
            t, d = int(obs["length"]), obs["query"].shape[0]
            if t == 0:
                return np.zeros(1)
            x, y = obs["context"][:t, :d], obs["context"][:t, d]
            w = np.linalg.lstsq(x.astype(np.float64), y.astype(np.float64), rcond=None)[0]
            return np.array([obs["query"] @ w])
        return int(obs)


class WrongShapeAgent(Agent):
    def act_batch(self, obs_batch):
        return np.zeros((3, 2))


class NaNAgent(Agent):
    def act_batch(self, obs_batch):
        n = len(obs_batch["query"]) if isinstance(obs_batch, dict) else len(obs_batch)
        return np.full((n, 1), np.nan)


class RaisingAgent(Agent):
    def act(self, obs):
        raise RuntimeError("model weights missing")


class StringAgent(Agent):
    def act(self, obs):
        return "hit"


def tiny_results_json(agent: str = "leaderboard_fixtures:SweepAgent") -> str:
    """A valid results file of ``agent`` on the tiny suite (run once per process per agent)."""
    return _tiny_results_json(agent)


@functools.cache
def _tiny_results_json(agent: str) -> str:
    from leaderboard.harness import evaluate

    return evaluate(agent, TINY_SUITE, progress=False).to_json()


def variant(results_json: str, **config) -> dict:
    """A different, still valid submission: the same returns under another agent config."""
    from leaderboard.protocol import sha256_of

    data = json.loads(results_json)
    data["agent"]["config"] = config
    data["agent"]["config_hash"] = sha256_of(config)
    return data


RUN_FOLDERS_LOADED: list[tuple[str, dict]] = []


def load_run(path: str, **config) -> SweepAgent:
    """Stands in for ``baselines.icl.agent:load_run_agent`` (which needs torch and a trained run)."""
    RUN_FOLDERS_LOADED.append((path, config))
    return SweepAgent()
