"""A trained AD or DPT run folder as an agent: ``run:DIR`` loads :func:`load_run_agent`.

With frozen weights the agent learns in context only. It keeps each trial's tokens
(:class:`~baselines.classic.trial_agent.TrialAgent` tells it what each action led to): AD's history
of (state, previous action, previous reward, step), or DPT's context of its own transitions; it
samples its action from the model's output at the end of that sequence.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from baselines.classic.trial_agent import TrialAgent
from baselines.icrl.train import ad_tokens, dpt_tokens, load_model


class ICRLRunAgent(TrialAgent):
    """The policy of the AD or DPT model trained in ``run_dir`` (its latest checkpoint)."""

    suites = ("icrl-v0",)

    def __init__(self, run_dir: str | Path, device: str = "cpu", seed: int = 0):
        super().__init__(seed)
        self.run_dir = Path(run_dir)
        self.device = torch.device(device)
        self.model, self.config, self.spec = load_model(self.run_dir, self.device)
        self.torch_generator = torch.Generator(device=self.device)

    def reset(self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> None:
        """Refuse an env other than the one trained for (another id or other arguments)."""
        if env_id is not None and (env_id.split(":")[-1], dict(env_kwargs or {})) != (
            self.spec.env_id,
            self.spec.kwargs,
        ):
            raise ValueError(
                f"run {self.run_dir} was trained for {self.spec.env_id} {self.spec.kwargs}, "
                f"not env_id={env_id!r} {dict(env_kwargs or {})}"
            )
        super().reset(self.spec.env_id, self.spec.kwargs)
        self.torch_generator.manual_seed(int(self.rng.integers(2**62)))

    def _allocate(self, size: int) -> None:
        shape = (size, self.spec.length)
        self.fields = {
            name: np.zeros(shape, dtype=np.int64) for name in ("state", "action", "reached", "step")
        }
        self.fields["reward"] = np.zeros(shape, dtype=np.float32)
        self.length = np.zeros(size, dtype=np.int64)
        self.pending_action = np.full(size, self.spec.num_actions)
        self.pending_reward = np.zeros(size, dtype=np.float32)
        self.prev_step = np.zeros(size, dtype=np.int64)

    def _new_trials(self, envs: np.ndarray) -> None:
        self.length[envs] = 0
        self.pending_action[envs] = self.spec.num_actions
        self.pending_reward[envs] = 0.0

    def _observe(self, envs, states, actions, rewards, next_states, ended) -> None:
        if self.config.method == "ad":
            self.pending_action[envs], self.pending_reward[envs] = actions, rewards
            return
        t = np.minimum(self.length[envs], self.spec.length - 1)
        for name, values in (
            ("state", states),
            ("action", actions),
            ("reward", rewards),
            ("reached", self.spec.reached(states, actions)),
            ("step", self.prev_step[envs]),
        ):
            self.fields[name][envs, t] = values
        self.length[envs] = t + 1

    @torch.no_grad()
    def _choose(self, state, step, episode) -> np.ndarray:
        rows = np.arange(len(state))
        if self.config.method == "ad":
            t = np.minimum(self.length, self.spec.length - 1)
            for name, values in (
                ("state", state),
                ("action", self.pending_action),
                ("reward", self.pending_reward),
                ("step", step),
            ):
                self.fields[name][rows, t] = values
            self.length = t + 1
            end = int(self.length.max())
            f = self.fields
            tokens = ad_tokens(
                self.spec, f["state"][:, :end], f["action"][:, :end], f["reward"][:, :end], f["step"][:, :end]
            )
            last = self.length - 1
        else:
            self.prev_step = step.copy()
            end = int(self.length.max())
            f = self.fields
            tokens = dpt_tokens(
                self.spec,
                state,
                *(f[name][:, :end] for name in ("state", "action", "reward", "reached", "step")),
            )
            last = self.length  # the query is token 0, the context's transitions follow
        logits = self.model(tokens.to(self.device))[torch.as_tensor(rows), torch.as_tensor(last)]
        probabilities = torch.softmax(logits.float(), dim=-1)
        return torch.multinomial(probabilities, 1, generator=self.torch_generator).squeeze(1).cpu().numpy()


def load_run_agent(path: str | Path, device: str = "cpu", seed: int = 0) -> ICRLRunAgent:
    """The agent of an AD or DPT run folder (what ``run:DIR`` resolves to through ``agent.json``)."""
    return ICRLRunAgent(path, device=device, seed=seed)
