"""Classic in-context RL baselines and references (baselines/classic/bandits.py, rooms.py)."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest

import icl_envs  # noqa: F401  (registers the ids)
from baselines.classic.bandits import (
    UCB1,
    BayesOptimalBernoulli,
    EpsilonGreedy,
    ThompsonSampling,
    bayes_optimal_value,
    policy_value,
)
from baselines.classic.bandits import (
    oracle_return as bandit_oracle,
)
from baselines.classic.bandits import (
    random_return as bandit_random,
)
from baselines.classic.rooms import (
    QLearner,
    SweepExplorer,
    best_open_loop_value,
    explorer_value,
    oracle_return,
    random_return,
)


def trial_returns(agent, env_id: str, trials: int, seed: int = 0, **kwargs) -> np.ndarray:
    """Each trial's return and each sub-episode's: shape (trials, episodes_per_trial + 1)."""
    env = gym.make_vec(env_id, trials, **kwargs)
    agent.reset(env_id, kwargs)
    obs, _ = env.reset(seed=seed)
    episodes = env.single_observation_space["episode"].n
    returns = np.zeros((trials, episodes))
    done = np.zeros(trials, dtype=bool)
    while not done.all():
        sub_episode = obs["episode"]
        obs, reward, terminated, _, _ = env.step(agent.act_batch(obs))
        active = np.flatnonzero(~done)
        returns[active, sub_episode[active]] += reward[active]
        done |= terminated
    return returns


# ---------------------------------------------------------------------------------- bandits
def _all_policies(arms: int, horizon: int):
    """Every deterministic policy (history of (arm, reward) pairs -> arm) of a tiny bandit."""
    histories = [()]
    for _ in range(horizon - 1):
        histories += [
            h + ((a, r),)
            for h in histories
            if len(h) == len(histories[-1])
            for a in range(arms)
            for r in (0, 1)
        ]
    histories = sorted(set(histories), key=len)
    for choice in itertools.product(range(arms), repeat=len(histories)):
        table = dict(zip(histories, choice))
        yield table.__getitem__


# (2, 3) has 2^21 policies: minutes; the agent test below checks longer horizons against policy_value.
@pytest.mark.parametrize(("arms", "horizon"), [(2, 1), (2, 2), (3, 2)])
def test_bayes_optimal_dp_equals_the_best_of_every_policy(arms, horizon):
    best = max(policy_value(policy, arms, horizon) for policy in _all_policies(arms, horizon))
    assert bayes_optimal_value(arms, horizon) == pytest.approx(best, abs=1e-12)


def test_bayes_optimal_agent_plays_the_dp_value():
    # The agent's greedy Q choice, replayed as a history policy, is worth exactly V(root).
    for arms, horizon in ((2, 4), (3, 3)):
        agent = BayesOptimalBernoulli().configure(gym.make("icl/Bandit-v0", arms=arms, horizon=horizon))

        def policy(history, agent=agent, arms=arms):
            counts = np.zeros((1, arms))
            sums = np.zeros((1, arms))
            for arm, reward in history:
                counts[0, arm] += 1
                sums[0, arm] += reward
            agent.counts, agent.sums = counts, sums
            return int(agent._choose(None, None, None)[0])

        assert policy_value(policy, arms, horizon) == pytest.approx(
            bayes_optimal_value(arms, horizon), abs=1e-12
        )
    # Closed forms: one pull is worth 1/2; the optimum lies between random and the oracle.
    assert bayes_optimal_value(2, 1) == 0.5
    assert bandit_random(2, 30) < bayes_optimal_value(2, 30) < bandit_oracle(2, 30)


def test_the_dp_refuses_sizes_it_cannot_finish():
    with pytest.raises(ValueError, match="arms=5, horizon=100"):
        bayes_optimal_value(5, 100)


def test_thompson_regret_is_below_epsilon_greedy_and_ucb_beats_random():
    kwargs = {"arms": 5, "horizon": 100}
    trials = 400
    env = gym.make_vec("icl/Bandit-v0", trials, **kwargs)
    env.reset(seed=0)
    oracle = 100 * env.unwrapped.batch.means.max(axis=1)  # the same tasks for every agent (seed 0)
    regret = {
        type(agent).__name__: (oracle - trial_returns(agent, "icl/Bandit-v0", trials, **kwargs)[:, 0])
        for agent in (ThompsonSampling(), EpsilonGreedy(), UCB1())
    }
    difference = regret["EpsilonGreedy"] - regret["ThompsonSampling"]
    assert difference.mean() > 3 * difference.std() / np.sqrt(trials), difference.mean()
    assert regret["UCB1"].mean() < 100 * (5 / 6 - 1 / 2)  # random play's expected regret


def test_gaussian_references_and_thompson():
    # E[max of 2 standard normals] = 1/sqrt(pi).
    assert bandit_oracle(2, 10, "gaussian") == pytest.approx(10 / np.sqrt(np.pi), rel=1e-9)
    returns = trial_returns(ThompsonSampling(), "icl/Bandit-v0", 200, arms=2, horizon=50, reward="gaussian")
    assert returns.mean() > 0.7 * bandit_oracle(2, 50, "gaussian")


# ------------------------------------------------------------------------------------ rooms
@pytest.mark.parametrize(
    ("size", "horizon", "episodes"), [(2, 2, 2), (2, 3, 2), (3, 2, 3), (3, 3, 2), (3, 4, 2)]
)
def test_sweep_explorer_against_the_brute_force_optimum(size, horizon, episodes):
    """Measured, not proven: the explorer is never above the brute-force optimum (a bug in either
    would show), equals it on the 2 x 2 rooms and on 3 x 3 with two-step sub-episodes, and stays
    within 6% of it elsewhere (3 x 3, horizon 3: 2.22 against 2.33)."""
    explorer = explorer_value(size, horizon, episodes)
    best = best_open_loop_value(size, horizon, episodes)
    assert explorer <= best + 1e-12
    if size == 2 or horizon == 2:
        assert explorer == pytest.approx(best)
    assert explorer >= 0.94 * best


def test_room_references_are_exact():
    # Dark Room: the oracle from the centre of a 3 x 3 room, horizon 2: the centre and its 4
    # neighbours pay 2 per sub-episode, the 4 corners (2 steps away) 1.
    assert oracle_return("icl/DarkRoom-v0", size=3, horizon=2, episodes_per_trial=1) == pytest.approx(14 / 9)
    assert random_return("icl/DarkRoom-v0", size=3, horizon=2, episodes_per_trial=4) == pytest.approx(8 / 9)
    # Key-to-Door's random return against a Monte Carlo run of random actions.
    kwargs = {"size": 3, "horizon": 6, "episodes_per_trial": 2}
    env = gym.make_vec("icl/KeyToDoor-v0", 4000, **kwargs)
    env.reset(seed=0)
    total, done = np.zeros(4000), np.zeros(4000, dtype=bool)
    rng = np.random.default_rng(0)
    while not done.all():
        _, reward, terminated, _, _ = env.step(rng.integers(5, size=4000))
        total[~done] += reward[~done]
        done |= terminated
    exact = random_return("icl/KeyToDoor-v0", **kwargs)
    assert abs(total.mean() - exact) < 4 * total.std() / np.sqrt(4000)
    assert oracle_return("icl/KeyToDoor-v0", size=2, horizon=50, episodes_per_trial=3) == 6.0


def test_explorer_and_q_learner_learn_across_sub_episodes():
    explorer = trial_returns(SweepExplorer(), "icl/DarkRoom-v0", 100).mean(axis=0)
    assert explorer[-1] == pytest.approx(oracle_return() / 10, rel=0.05)  # back on the goal each time
    assert explorer[0] < explorer[-1] / 3
    learner = trial_returns(QLearner(), "icl/DarkRoom-v0", 100).mean(axis=0)
    assert learner[-3:].mean() > 2 * learner[:3].mean()
    keys = trial_returns(SweepExplorer(), "icl/KeyToDoor-v0", 50).mean(axis=0)
    assert keys[-1] == 2.0 and keys[0] < 1.5


def test_agents_refuse_envs_they_cannot_play():
    with pytest.raises(ValueError, match="DarkRoom"):
        SweepExplorer().reset("icl/Bandit-v0", {})
    with pytest.raises(ValueError, match="bernoulli"):
        BayesOptimalBernoulli().reset("icl/Bandit-v0", {"arms": 2, "horizon": 5, "reward": "gaussian"})
    with pytest.raises(ValueError, match="epsilon"):
        EpsilonGreedy(epsilon=2.0)
    with pytest.raises(ValueError, match="reset"):
        UCB1().act_batch({"state": np.zeros(1)})


def test_agents_that_read_the_state_refuse_frames():
    from baselines.classic.rooms import QLearner

    with pytest.raises(ValueError, match="QLearner reads the state's number: obs_mode='image'"):
        QLearner().reset("icl/DarkRoom-v0", {"obs_mode": "image"})
