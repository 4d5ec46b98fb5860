"""An offline run folder as a harness agent: ``run:DIR`` resolves to :func:`load_run_agent`.

:class:`OfflineAgent` plays one vector env at a time. It keeps, per sub-env, the last K steps
(observations, actions taken, returns-to-go, timesteps), left-padded with zeros as the training
windows are, and asks the model for the last step's logits (greedy action). Rewards reach it through
``observe(rewards, terminated, truncated)``, which the harness calls after each step: the return to
go R̂ starts at the target (``target_return``, else the dataset's best return × ``target_fraction``)
and is decremented by each reward (Decision Transformer). Reinformer predicts its own R̂ and BC
ignores it. The vector envs auto-reset on the step after an episode ends (``NEXT_STEP``): that step's
action is ignored, and the sub-env's history starts again after it.

The agent plays the suite entries of its dataset's env: ``envs`` names that env (the harness plays
only those entries), ``suites`` the suite of its observations (``core-v0`` symbolic, ``pixels-v0``
frames), and ``reset`` refuses an env whose id or keyword arguments differ from the dataset's.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from baselines.offline.observations import observation_array
from baselines.offline.runs import load_model
from baselines.offline.sequences import Windows
from leaderboard.agent import Agent, batch_size


def env_arguments(env_id: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` completed with the defaults of ``env_id``'s registration and constructor, so that
    ``{}`` and ``{"obs_mode": "symbolic"}`` compare equal when symbolic is the default."""
    spec = gym.spec(env_id)
    full = {}
    creator = (
        spec.entry_point
        if callable(spec.entry_point)
        else gym.envs.registration.load_env_creator(spec.entry_point)
    )
    for name, parameter in inspect.signature(creator).parameters.items():
        if parameter.default is not inspect.Parameter.empty:
            full[name] = parameter.default
    full.update(spec.kwargs)
    full.update(kwargs)
    full.pop("render_mode", None)
    return full


class OfflineAgent(Agent):
    """The greedy policy of a trained DT, Reinformer or BC run (its latest checkpoint)."""

    def __init__(
        self,
        run_dir: str | Path,
        device: str = "cpu",
        target_return: float | None = None,
        target_fraction: float = 1.0,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.device = torch.device(device)
        self.algorithm, config, self.info, self.model = load_model(self.run_dir, self.device)
        self.context = config.context
        self.space = self.info.space
        self.target = (
            self.info.best_return * target_fraction if target_return is None else float(target_return)
        )
        if not np.isfinite(self.target):
            raise ValueError(f"target_return must be a finite number, got {target_return!r}")
        self.suites = ("pixels-v0",) if self.info.frames else ("core-v0",)
        self.envs = None if self.info.env_id is None else (self.info.env_id,)
        self._clear(0)

    def reset(self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> None:
        """Forget every history; refuse an env other than the dataset's."""
        if env_id is not None and self.info.env_id is not None:
            env_id = env_id.split(":")[-1]
            if env_id != self.info.env_id:
                raise ValueError(
                    f"run {self.run_dir} was trained on {self.info.env_id}, not env_id={env_id!r}"
                )
            wanted, given = (
                env_arguments(env_id, self.info.env_kwargs),
                env_arguments(env_id, env_kwargs or {}),
            )
            differing = sorted(k for k in wanted.keys() | given.keys() if wanted.get(k) != given.get(k))
            if differing:
                raise ValueError(
                    f"run {self.run_dir} was trained on {env_id} with "
                    f"{ {k: wanted.get(k) for k in differing} }, the env has { {k: given.get(k) for k in differing} }"
                )
        self._clear(0)

    def _clear(self, n: int) -> None:
        self.n = n
        self.observations: np.ndarray | None = None
        self.actions = np.zeros((n, self.context), dtype=np.int64)
        self.returns_to_go = np.zeros((n, self.context), dtype=np.float32)
        self.timesteps = np.zeros((n, self.context), dtype=np.int64)
        self.steps = np.zeros(n, dtype=np.int64)  # steps taken in the current episode
        self.remaining = np.full(n, self.target, dtype=np.float64)  # R̂ before the rewards to come
        self.skip = np.zeros(n, dtype=bool)  # the auto-reset step after an episode's end

    def _restart(self, envs: np.ndarray) -> None:
        """Empty the histories of ``envs`` (a boolean mask)."""
        self.observations[envs] = 0
        self.actions[envs] = 0
        self.returns_to_go[envs] = 0
        self.timesteps[envs] = 0
        self.steps[envs] = 0
        self.remaining[envs] = self.target

    @torch.no_grad()
    def act_batch(self, obs_batch: Any) -> np.ndarray:
        n = batch_size(obs_batch)
        current = observation_array(self.space, obs_batch)
        if n != self.n or self.observations is None:
            self._clear(n)
            self.observations = np.zeros((n, self.context, *current.shape[1:]), dtype=current.dtype)
        playing = ~self.skip
        for history in (self.observations, self.actions, self.returns_to_go, self.timesteps):
            history[playing] = np.roll(history[playing], -1, axis=1)
        self.observations[playing, -1] = current[playing]
        self.returns_to_go[playing, -1] = self.remaining[playing] / self.info.return_scale
        self.timesteps[playing, -1] = self.steps[playing]
        self.actions[playing, -1] = 0  # not seen by the heads that predict it
        history = Windows(
            *(
                torch.as_tensor(array, device=self.device)
                for array in (self.observations, self.actions, self.returns_to_go, self.timesteps)
            ),
            mask=torch.as_tensor(self._valid(), device=self.device),
        )
        logits, used = self.model.play(history)
        actions = logits.float().argmax(-1).cpu().numpy()
        self.returns_to_go[playing, -1] = used.float().cpu().numpy()[playing]
        self.actions[playing, -1] = actions[playing]
        self.steps[playing] += 1
        return np.where(playing, actions, 0)

    def _valid(self) -> np.ndarray:
        """(N, K): which slots of each history hold this episode's steps (the last ones)."""
        held = np.minimum(self.steps + 1, self.context)
        return np.arange(self.context) >= self.context - held[:, None]

    def observe(self, rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray) -> None:
        """The step's rewards and ends: R̂ falls by the reward; an ended episode restarts after the
        auto-reset step."""
        rewards = np.asarray(rewards, dtype=np.float64)
        if self.observations is None or len(rewards) != self.n:
            return
        resetting = self.skip.copy()
        self.remaining[~resetting] -= rewards[~resetting]
        self._restart(resetting)
        self.skip = ~resetting & (np.asarray(terminated) | np.asarray(truncated))


def load_run_agent(path: str | Path, **config: Any) -> OfflineAgent:
    """The agent of an offline run folder (what ``run:DIR`` resolves to)."""
    return OfflineAgent(path, **config)


def evaluation_returns(run_dir: str | Path, episodes: int, seed: int = 0) -> dict[str, float]:
    """Mean returns of ``episodes`` episodes of the run's dataset env (seed ``seed``) played by its
    agent: for Decision Transformer at the dataset's best return and half of it."""
    from leaderboard.harness import play_entry
    from leaderboard.protocol import SuiteEntry

    agent = OfflineAgent(run_dir)
    if agent.info.env_id is None:
        return {}
    entry = SuiteEntry(agent.info.env_id, agent.info.env_kwargs, episodes, (seed,))
    fractions = (
        {"eval_return": 1.0, "eval_return_half_target": 0.5}
        if agent.algorithm == "dt"
        else {"eval_return": 1.0}
    )
    results = {}
    for name, fraction in fractions.items():
        agent.target = agent.info.best_return * fraction
        results[name] = float(play_entry(agent, entry, agent_name=f"run:{run_dir}").returns.mean())
    return results


__all__ = ["OfflineAgent", "env_arguments", "evaluation_returns", "load_run_agent"]
