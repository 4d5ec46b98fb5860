"""Training data of the learned baselines: learning histories (AD) and random-policy contexts (DPT).

Both are collected by playing a classic agent on the env's native vector env, one trial per task,
and stored as a Minari dataset, the offline baselines' format, written and read through
:mod:`baselines.offline` (checked on load: env id and kwargs, content hash). One trial is one Minari
episode: the env's own observations, actions, rewards and the trial's end; trial ``i`` of a dataset
collected with seed ``S`` starts from ``reset(seed=S + i)``, so its task (the bandit's means, the
room's goal) is drawn again from that seed for DPT's labels instead of being stored. The default
id is ``icl/icrl-<env>[-<kwargs digest>]/<source>-<tasks>-s<seed>-v0`` (:func:`histories_id`).

For training, a dataset is read into arrays (tasks, longest trial): the states, actions, rewards,
the step within the sub-episode and the cell each step reached, zero past a trial's end, with each
trial's ``length`` and its task.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

import icl_envs  # noqa: F401  (registers the ids)
from baselines.classic.rooms import step_towards
from baselines.classic.trial_agent import TrialAgent
from baselines.offline.datasets import (
    DatasetError,
    check_dataset_id,
    dataset_info,
    dataset_path,
    load_episode_arrays,
    require_minari,
    write_checked_dataset,
)
from icl_envs.icrl.bandit import BanditEnv
from icl_envs.icrl.darkroom import DarkRoomEnv
from icl_envs.icrl.room import move
from icl_envs.icrl.trial import TrialEnv

#: The longest trial a model is built for: attention over the whole trial costs length².
MAX_TRIAL_LENGTH = 1000
FIELDS = ("state", "action", "reward", "step", "reached")
#: The tasks a trial env's batch holds (what DPT's labels need), by env.
TASK_FIELDS = ("means", "goal", "key", "door")


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
    if "state" not in env.observation_space.spaces:
        raise ValueError(
            f"env_kwargs: AD and DPT read the state's number; obs_mode={getattr(env, 'obs_mode', None)!r} "
            "is not supported (use the default obs_mode='symbolic')"
        )
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
    of every field in ``FIELDS`` (zero past a trial's end), ``length`` (tasks,), the tasks, and the
    observations as the env gave them (``obs/<key>``, (tasks, length + 1): the last one ends the trial)."""
    env = gym.make_vec(spec.env_id, tasks, vectorization_mode="vector_entry_point", **spec.kwargs)
    agent.reset(spec.env_id, spec.kwargs)
    obs, _ = env.reset(seed=seed)
    task = trial_tasks(env)
    data = {
        name: np.zeros((tasks, spec.length), dtype=np.float32 if name == "reward" else np.int64)
        for name in FIELDS
    }
    observations = {
        key: np.zeros((tasks, spec.length + 1, *np.shape(value)[1:]), dtype=value.dtype)
        for key, value in obs.items()
    }
    length = np.zeros(tasks, dtype=np.int64)
    done = np.zeros(tasks, dtype=bool)
    rows = np.arange(tasks)
    for key, value in obs.items():
        observations[key][:, 0] = value
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
        for key, value in obs.items():
            observations[key][live, t + 1] = value[live]
        done |= terminated
    env.close()
    return {**data, "length": length, **task, **{f"obs/{key}": value for key, value in observations.items()}}


def trial_tasks(env: gym.vector.VectorEnv) -> dict[str, np.ndarray]:
    """The tasks a trial vector env has just drawn (copies of its batch's task arrays)."""
    batch = env.unwrapped.batch
    return {name: getattr(batch, name).copy() for name in TASK_FIELDS if hasattr(batch, name)}


def tasks_of_seeds(spec: TrialSpec, seeds: np.ndarray) -> dict[str, np.ndarray]:
    """The tasks ``reset(seed=s)`` draws for each of ``seeds``: the env contract (all randomness from
    the seeded generator) makes a stored seed as good as the stored task."""
    env = gym.make_vec(spec.env_id, len(seeds), vectorization_mode="vector_entry_point", **spec.kwargs)
    env.reset(seed=[int(seed) for seed in seeds])
    tasks = trial_tasks(env)
    env.close()
    return tasks


# ---- Minari datasets --------------------------------------------------------------------------


def histories_id(spec: TrialSpec, source: str, tasks: int, seed: int) -> str:
    """``icl/icrl-<env>[-<kwargs digest>]/<source>-<tasks>-s<seed>-v0``: the default dataset of a run."""
    name = spec.env_id.removeprefix("icl/").rsplit("-v", 1)[0].lower()
    namespace = f"icl/icrl-{name}"
    if spec.kwargs:
        digest = hashlib.sha256(json.dumps(spec.kwargs, sort_keys=True).encode()).hexdigest()[:8]
        namespace += f"-{digest}"
    return check_dataset_id(f"{namespace}/{source}-{tasks}-s{seed}-v0")


def write_histories(
    dataset_id: str, spec: TrialSpec, data: dict[str, np.ndarray], source: str, seed: int
) -> None:
    """Store collected trials (:func:`collect_histories`) as the Minari dataset ``dataset_id``."""
    from minari.data_collector import EpisodeBuffer  # lazy: minari is the optional `offline` extra

    require_minari()
    space = gym.make(spec.env_id, **spec.kwargs).observation_space
    buffers = []
    for i, length in enumerate(data["length"]):
        terminations = np.zeros(length, dtype=bool)
        terminations[-1] = True  # a trial ends by terminating (after its last sub-episode)
        buffers.append(
            EpisodeBuffer(
                id=i,
                seed=seed + i,
                observations={key: data[f"obs/{key}"][i, : length + 1] for key in space.spaces},
                actions=data["action"][i, :length].copy(),
                rewards=data["reward"][i, :length].astype(np.float64),
                terminations=terminations,
                truncations=np.zeros(length, dtype=bool),
            )
        )
    write_checked_dataset(
        dataset_id,
        buffers,
        space,
        spec.env_id,
        spec.kwargs,
        author="icl-bench train ad|dpt",
        algorithm_name=source,
        description=(
            f"In-context RL training data: one trial of {source} on each of {len(buffers)} tasks of "
            f"{spec.env_id}; trial i starts from reset(seed={seed} + i), which draws its task again."
        ),
        reference=None,
        info={"policy": source, "seed": seed, "observations": "symbolic"},
    )


def load_histories(
    dataset_id: str, spec: TrialSpec, source: str, tasks: int, seed: int
) -> dict[str, np.ndarray]:
    """The arrays of :func:`collect_histories` (without the observations) from a stored dataset,
    checked: a ``DatasetError`` names a missing, altered or unreadable dataset, another env or
    kwargs, or other trials (source, number of tasks, seed) than the run asks for."""
    dataset, episodes = load_episode_arrays(dataset_id, spec.env_id, spec.kwargs)
    info = dataset_info(dataset)
    recorded = {"source": info.get("policy"), "tasks": info.get("episodes"), "seed": info.get("seed")}
    wanted = {"source": source, "tasks": tasks, "seed": seed}
    differing = [name for name in wanted if recorded[name] != wanted[name]]
    if differing:
        raise DatasetError(
            f"dataset {dataset_id!r} holds {recorded}; the run asks for {wanted} (different {', '.join(differing)})"
        )
    keys = list(dataset.observation_space.spaces)
    data = {
        name: np.zeros((tasks, spec.length), dtype=np.float32 if name == "reward" else np.int64)
        for name in FIELDS
    }
    length = np.zeros(tasks, dtype=np.int64)
    for i, episode in enumerate(episodes):
        n = length[i] = len(episode.actions)
        state = episode.observations[:n, keys.index("state")]
        data["state"][i, :n] = state
        data["step"][i, :n] = episode.observations[:n, keys.index("step")]
        data["action"][i, :n] = episode.actions
        data["reward"][i, :n] = episode.rewards
        data["reached"][i, :n] = spec.reached(state, episode.actions)
    seeds = np.array([episode.seed for episode in episodes])
    return {**data, "length": length, **tasks_of_seeds(spec, seeds)}


def histories(
    dataset_id: str, spec: TrialSpec, agent: TrialAgent, source: str, tasks: int, seed: int
) -> dict[str, np.ndarray]:
    """The training data of a run: the stored dataset ``dataset_id``, collected and written first
    when there is none."""
    if not dataset_path(dataset_id).exists():
        write_histories(dataset_id, spec, collect_histories(spec, agent, tasks, seed), source, seed)
    return load_histories(dataset_id, spec, source, tasks, seed)


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
