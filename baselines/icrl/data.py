"""Training data of the learned baselines: learning histories (AD) and random-policy contexts (DPT).

Both are collected by playing a classic agent on the env's native vector env, one trial per task,
and kept as plain arrays (an ``.npz`` file in the run folder, see :func:`save_histories`): each task
row holds the trial's states, actions, rewards, the step within the sub-episode, the cell each step
reached, and how long the trial was, plus what the task was (the bandit's means, the room's goal)
for DPT's labels. Minari datasets (the offline baselines' format) would suit too; arrays keep this
module free of that dependency while those datasets are being built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import icl_envs  # noqa: F401  (registers the ids)
from baselines.classic.rooms import step_towards
from baselines.classic.trial_agent import TrialAgent
from icl_envs.icrl.bandit import BanditEnv
from icl_envs.icrl.darkroom import DarkRoomEnv
from icl_envs.icrl.room import move
from icl_envs.icrl.trial import TrialEnv

#: The longest trial a model is built for: attention over the whole trial costs length².
MAX_TRIAL_LENGTH = 1000
FIELDS = ("state", "action", "reward", "step", "reached")


@dataclass(frozen=True)
class TrialSpec:
    """What a model needs to know of a trial env: its sizes and how a step moves."""

    env_id: str
    kwargs: dict[str, Any]
    num_states: int
    num_actions: int
    horizon: int
    length: int
    """The most steps a trial takes."""
    room: int | None
    """The room's size (Dark Room, Key-to-Door), None for the bandit."""

    def reached(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """The state each step ended in (a sub-episode's last step too, before the restart)."""
        return np.zeros_like(states) if self.room is None else move(states, actions, self.room)


def trial_spec(env_id: str, kwargs: dict[str, Any]) -> TrialSpec:
    """The spec of a registered trial env, or a ``ValueError`` naming ``env``."""
    try:
        env = gym.make(env_id, **kwargs).unwrapped
    except gym.error.Error as error:
        raise ValueError(f"env {env_id!r} cannot be built: {error}") from None
    if not isinstance(env, TrialEnv):
        raise ValueError(f"env must be an in-context RL trial env (icl/Bandit-v0, ...), got {env_id!r}")
    length = env.horizon * env.episodes_per_trial
    if length > MAX_TRIAL_LENGTH:
        raise ValueError(
            f"env {env_id} {kwargs}: trials of {length} steps, more than the {MAX_TRIAL_LENGTH} a model takes"
        )
    return TrialSpec(
        env_id,
        dict(kwargs),
        env.observation_space["state"].n,
        env.action_space.n,
        env.horizon,
        length,
        getattr(env, "size", None),
    )


def collect_histories(spec: TrialSpec, agent: TrialAgent, tasks: int, seed: int) -> dict[str, np.ndarray]:
    """One trial of ``agent`` on each of ``tasks`` tasks (seeds ``seed + i``): arrays (tasks, length)
    of every field in ``FIELDS`` (zero past a trial's end), ``length`` (tasks,) and the tasks."""
    env = gym.make_vec(spec.env_id, tasks, **spec.kwargs)
    agent.reset(spec.env_id, spec.kwargs)
    obs, _ = env.reset(seed=seed)
    batch = env.unwrapped.batch
    task = {
        name: getattr(batch, name).copy() for name in ("means", "goal", "key", "door") if hasattr(batch, name)
    }
    data = {
        name: np.zeros((tasks, spec.length), dtype=np.float32 if name == "reward" else np.int64)
        for name in FIELDS
    }
    length = np.zeros(tasks, dtype=np.int64)
    done = np.zeros(tasks, dtype=bool)
    rows = np.arange(tasks)
    while not done.all():
        actions = agent.act_batch(obs)
        live = rows[~done]
        t = length[live]
        data["state"][live, t] = obs["state"][live]
        data["step"][live, t] = obs["step"][live]
        data["action"][live, t] = actions[live]
        data["reached"][live, t] = spec.reached(obs["state"][live], actions[live])
        obs, reward, terminated, _, _ = env.step(actions)
        data["reward"][live, t] = reward[live]
        length[live] += 1
        done |= terminated
    env.close()
    return {**data, "length": length, **task}


def optimal_actions(
    spec: TrialSpec, data: dict[str, np.ndarray], tasks: np.ndarray, states: np.ndarray
) -> np.ndarray:
    """DPT's labels: the best action in ``states`` for each of ``tasks`` (the best arm; a step of a
    shortest path to the goal, staying on it)."""
    if spec.room is None:
        return np.argmax(data["means"][tasks], axis=1)
    return step_towards(states, data["goal"][tasks], spec.room)


def check_dpt_env(env_id: str) -> None:
    env_class = gym.spec(env_id).entry_point
    if not any(env_class.endswith(name) for name in (BanditEnv.__name__, DarkRoomEnv.__name__)):
        raise ValueError(
            f"env: DPT needs the optimal action of a state, known for icl/Bandit-v0 and icl/DarkRoom-v0; "
            f"not for {env_id!r} (Key-to-Door's depends on the key, which the state does not show)"
        )


def save_histories(path: Path, data: dict[str, np.ndarray]) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **data)
    tmp.replace(path)


def load_histories(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}
