"""Classic agents and exact references for ``icl/DarkRoom-v0`` and ``icl/KeyToDoor-v0``.

- :func:`oracle_return`: the agent that knows the goal (key and door) walks a shortest path and
  stays on the goal: the upper reference, exact (an average over every task).
- :func:`random_return`: the uniformly random policy, exact: Dark Room pays 1/size² per step
  (the goal is uniform and independent of the walk); Key-to-Door by propagating the walk's
  distribution over (cell, holding the key) for every (key, door) pair.
- :class:`SweepExplorer`: checks the nearest cell not ruled out yet (ties in row order), remembers
  what it found, and goes straight to it in later sub-episodes. :func:`explorer_value` is its exact
  expected return; :func:`best_open_loop_value` the brute-force optimum of a small Dark Room, which
  it is measured against (``tests/test_icrl_classic.py``).
- :class:`QLearner`: tabular Q-learning inside the trial (optimistic start, epsilon-greedy),
  the source of Algorithm Distillation's learning histories in the rooms.
"""

from __future__ import annotations

import itertools
from typing import Any

import gymnasium as gym
import numpy as np

from baselines.classic.trial_agent import TrialAgent, argmax_random_ties
from icl_envs.checks import check_float
from icl_envs.icrl.darkroom import DarkRoomEnv, DarkRoomTask
from icl_envs.icrl.keytodoor import KeyToDoorEnv
from icl_envs.icrl.room import distance, move, start_cell


def _cells(size: int) -> np.ndarray:
    return np.arange(size * size)


def _room(env_id: str, kwargs: dict[str, Any]) -> DarkRoomEnv | KeyToDoorEnv:
    """The room env of ``env_id`` built with ``kwargs`` (its defaults and argument checks apply)."""
    env = gym.make(env_id, **kwargs).unwrapped
    if not isinstance(env, (DarkRoomEnv, KeyToDoorEnv)):
        raise ValueError(f"env_id must be icl/DarkRoom-v0 or icl/KeyToDoor-v0, got {env_id!r}")
    return env


def _key_door_pairs(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every Key-to-Door task: (key, door) arrays over the ordered pairs of different cells."""
    cells = _cells(size)
    key, door = np.meshgrid(cells, cells, indexing="ij")
    different = key != door
    return key[different], door[different]


def goal_return(size: int, horizon: int, origin: int, goal: Any) -> Any:
    """A Dark Room sub-episode of the agent that knows the goal: reaching a goal ``d`` steps away
    (d >= 1) pays on steps d..horizon, and staying on a goal under the start pays every step:
    ``horizon + 1 - max(d, 1)`` when that is positive."""
    d = np.maximum(distance(origin, goal, size), 1)
    return np.where(d <= horizon, horizon + 1 - d, 0)


def oracle_return(env_id: str = "icl/DarkRoom-v0", **kwargs: Any) -> float:
    """Exact expected trial return of the agent that knows the task, averaged over all tasks.

    Dark Room: :func:`goal_return` in every sub-episode. Key-to-Door: 1 for the key if it can be
    reached in time (a key under the start takes a step), 1 more for the door after it."""
    env = _room(env_id, kwargs)
    if isinstance(env, DarkRoomEnv):
        per_sub = goal_return(env.size, env.horizon, env.start_cell, _cells(env.size))
    else:
        key, door = _key_door_pairs(env.size)
        to_key = np.maximum(distance(env.start_cell, key, env.size), 1)
        to_door = to_key + distance(key, door, env.size)
        per_sub = (to_key <= env.horizon).astype(float) + (to_door <= env.horizon)
    return float(env.episodes_per_trial * per_sub.mean())


def random_walk_matrix(size: int) -> np.ndarray:
    """P[i, j]: the probability that a uniformly random action moves cell i to cell j."""
    cells = _cells(size)
    matrix = np.zeros((size * size, size * size))
    for action in range(5):
        np.add.at(matrix, (cells, move(cells, action, size)), 0.2)
    return matrix


def random_return(env_id: str = "icl/DarkRoom-v0", **kwargs: Any) -> float:
    """Exact expected trial return of uniformly random actions (sub-episodes are independent)."""
    env = _room(env_id, kwargs)
    if isinstance(env, DarkRoomEnv):
        return env.episodes_per_trial * env.horizon / env.size**2
    walk = random_walk_matrix(env.size)
    key, door = _key_door_pairs(env.size)
    tasks = np.arange(len(key))
    searching = np.zeros((len(key), env.size**2))  # P(on cell, no key yet, sub-episode running)
    searching[:, env.start_cell] = 1.0
    holding = np.zeros_like(searching)  # P(on cell, holding the key, door not reached)
    expected = np.zeros(len(key))
    for _ in range(env.horizon):
        searching, holding = searching @ walk, holding @ walk
        picked, opened = searching[tasks, key].copy(), holding[tasks, door].copy()
        expected += picked + opened
        searching[tasks, key] = 0.0
        holding[tasks, door] = 0.0  # the door ends the sub-episode
        holding[tasks, key] += picked
    return float(env.episodes_per_trial * expected.mean())


class RoomAgent(TrialAgent):
    """Reads the room from the env: its size, the start, and whether there is a key and a door."""

    def _configure(self) -> None:
        if not isinstance(self.env, (DarkRoomEnv, KeyToDoorEnv)):
            raise ValueError(f"{type(self).__name__} plays icl/DarkRoom-v0 and icl/KeyToDoor-v0 only")
        self.room = self.env.size
        self.keys = isinstance(self.env, KeyToDoorEnv)
        self.cells = self.room * self.room


class SweepExplorer(RoomAgent):
    """Explore by checking the nearest cell not ruled out (ties in row order); exploit what is found.

    Dark Room: a step that ends on a cell and pays 0 rules the cell out; the first paid step finds
    the goal, and from then on the agent walks a shortest path to it and stays. Key-to-Door: the
    key's candidates are ruled out the same way; the door's only by steps taken holding the key.
    Deterministic: the same task gives the same trial.
    """

    def _allocate(self, size: int) -> None:
        self.not_key = np.zeros((size, self.cells), dtype=bool)  # the goal, in Dark Room
        self.not_door = np.zeros((size, self.cells), dtype=bool)
        self.key = np.full(size, -1)
        self.door = np.full(size, -1)
        self.holding = np.zeros(size, dtype=bool)

    def _new_trials(self, envs: np.ndarray) -> None:
        self.not_key[envs] = self.not_door[envs] = False
        self.key[envs] = self.door[envs] = -1
        self.holding[envs] = False

    def _observe(self, envs, states, actions, rewards, next_states, ended) -> None:
        reached = move(states, actions, self.room)  # where the step ended (a new sub-episode restarts)
        paid = rewards > 0
        holding = self.holding[envs]
        finds_key = paid & ~holding
        self.key[envs[finds_key]] = reached[finds_key]
        if self.keys:
            finds_door = paid & holding
            self.door[envs[finds_door]] = reached[finds_door]
            self.not_door[envs[holding & ~paid], reached[holding & ~paid]] = True
            self.holding[envs] = (holding | finds_key) & ~ended
        self.not_key[envs[~holding & ~paid], reached[~holding & ~paid]] = True

    def _choose(self, state, step, episode) -> np.ndarray:
        if self.keys:
            self.holding[step == 0] = False  # a sub-episode starts without the key
        seeking_door = self.holding & self.keys
        known = np.where(seeking_door, self.door, self.key)
        ruled_out = np.where(seeking_door[:, None], self.not_door, self.not_key)
        ruled_out[np.flatnonzero(seeking_door), self.key[seeking_door]] = True  # the key is not the door
        cells = _cells(self.room)
        far = distance(state[:, None], cells[None], self.room) + np.where(ruled_out, 10**6, 0)
        target = np.where(known >= 0, known, np.argmin(far * self.cells + cells, axis=1))
        return step_towards(state, target, self.room)


def step_towards(state: np.ndarray, target: np.ndarray, size: int) -> np.ndarray:
    """The action of a shortest path: rows first, then columns; stay on the target."""
    drow, dcol = target // size - state // size, target % size - state % size
    return np.select([drow < 0, drow > 0, dcol < 0, dcol > 0], [0, 1, 2, 3], default=4)


class QLearner(RoomAgent):
    """Tabular Q-learning run inside the trial: Q starts at ``initial_q`` (optimism explores), acts
    epsilon-greedily, learns with rate ``alpha`` and discount ``gamma``; a sub-episode's end is
    terminal. In Key-to-Door the state is (cell, holding the key), read from the rewards."""

    def __init__(
        self,
        alpha: float = 0.5,
        gamma: float = 0.9,
        epsilon: float = 0.05,
        initial_q: float = 1.0,
        seed: int = 0,
    ):
        super().__init__(seed)
        self.alpha = check_float("alpha", alpha, minimum=0.0, maximum=1.0)
        self.gamma = check_float("gamma", gamma, minimum=0.0, maximum=1.0)
        self.epsilon = check_float("epsilon", epsilon, minimum=0.0, maximum=1.0)
        self.initial_q = check_float("initial_q", initial_q, minimum=-1e6, maximum=1e6)

    def _allocate(self, size: int) -> None:
        self.q = np.zeros((size, 2 * self.cells, 5))
        self.holding = np.zeros(size, dtype=bool)

    def _new_trials(self, envs: np.ndarray) -> None:
        self.q[envs] = self.initial_q
        self.holding[envs] = False

    def _observe(self, envs, states, actions, rewards, next_states, ended) -> None:
        holding = self.holding[envs]
        now = holding | (self.keys & (rewards > 0))
        here = states + self.cells * holding
        there = next_states + self.cells * now
        target = rewards + np.where(ended, 0.0, self.gamma * self.q[envs, there].max(axis=1))
        self.q[envs, here, actions] += self.alpha * (target - self.q[envs, here, actions])
        self.holding[envs] = now & ~ended & self.keys

    def _choose(self, state, step, episode) -> np.ndarray:
        rows = np.arange(len(state))
        greedy = argmax_random_ties(self.q[rows, state + self.cells * self.holding], self.rng)
        explore = self.rng.random(len(state)) < self.epsilon
        return np.where(explore, self.rng.integers(5, size=len(state)), greedy)


# ----------------------------------------------------------------------------------------------
# The explorer against the brute-force optimum (Dark Room)


class _FixedGoal:
    def __init__(self, goal: int):
        self.goal = goal

    def sample(self, np_random: np.random.Generator) -> DarkRoomTask:
        return DarkRoomTask(self.goal)


def play_trial(agent: TrialAgent, env: gym.Env) -> list[float]:
    """One trial of ``agent`` on the single trial env ``env``: the return of each sub-episode."""
    agent.configure(env)
    obs, _ = env.reset(seed=0)
    returns, over = [], False
    while not over:
        obs, _, over, _, info = env.step(agent.act(obs))
        if info["sub_episode_end"]:
            returns.append(info["sub_episode_return"])
    return returns


def explorer_value(size: int, horizon: int, episodes_per_trial: int, start: str = "center") -> float:
    """The sweep explorer's exact expected Dark Room return: its trial on every goal, averaged."""
    total = 0.0
    for goal in range(size * size):
        env = DarkRoomEnv(size, horizon, episodes_per_trial, start, generator=_FixedGoal(goal))
        total += sum(play_trial(SweepExplorer(), env))
    return total / size**2


def best_open_loop_value(size: int, horizon: int, episodes_per_trial: int, start: str = "center") -> float:
    """The Bayes-optimal expected Dark Room return for a uniform goal, by brute force.

    Until the goal is found every observation is the same (0 rewards, positions the agent's own
    actions determine), so a policy is an open-loop action sequence until then; once the goal is
    found, staying on it and walking straight back to it later is optimal. This tries every one of
    the 5^(horizon * episodes_per_trial) sequences and returns the best average over goals."""
    origin = start_cell(size, start)
    cells = _cells(size)
    back = goal_return(size, horizon, origin, cells)
    steps = horizon * episodes_per_trial
    sequences = np.array(list(itertools.product(range(5), repeat=steps)), dtype=np.int64)
    value = np.zeros(len(sequences))
    found = np.zeros((len(sequences), size * size), dtype=bool)
    position = np.full(len(sequences), origin)
    for t in range(steps):
        episode, step = divmod(t, horizon)
        if step == 0:
            position[:] = origin
        position = move(position, sequences[:, t], size)
        new = ~found[np.arange(len(sequences)), position]
        # Found now: the rest of this sub-episode on the goal, then the oracle's later sub-episodes.
        gain = (horizon - step) + (episodes_per_trial - episode - 1) * back[position]
        value += np.where(new, gain, 0)
        found[np.arange(len(sequences)), position] = True
    return float(value.max() / size**2)
