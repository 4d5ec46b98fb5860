"""A trained run folder as an agent: ``RunAgent(run_dir)`` or ``load_run_agent(path)``.

The harness resolves ``run:DIR`` by importing ``baselines.icl.agent:load_run_agent``. The agent
reads the env's observation ``Dict(context, length, query)`` and predicts the target of ``query`` from
the first ``length`` context rows, at every context length, one env (``act``) or a whole vector env
(``act_batch``) per call.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from baselines.icl.train import RECALL_TASK, TASK_ENV_IDS, load_config, load_model
from leaderboard.agent import Agent


class RunAgent(Agent):
    """Predictions of the model trained in ``run_dir`` (its latest checkpoint)."""

    suites = ("core-v0",)

    def __init__(self, run_dir: str | Path, device: str = "cpu") -> None:
        self.run_dir = Path(run_dir)
        self.device = torch.device(device)
        self.model, self.config = load_model(self.run_dir, self.device)
        self.env_id = TASK_ENV_IDS[self.config.prompts.task]

    def reset(self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> None:
        """Refuse envs the model was not trained for (another task, another dimension, longer episodes)."""
        if env_id is not None and env_id.split(":")[-1] != self.env_id:
            raise ValueError(f"run {self.run_dir} was trained for {self.env_id}, not env_id={env_id!r}")
        kwargs = dict(env_kwargs or {})
        d = self.config.prompts.d
        if kwargs.get("d", d) != d:
            raise ValueError(f"run {self.run_dir} was trained with d={d}, env has d={kwargs['d']}")
        max_steps = getattr(self.model, "max_steps", None)
        if max_steps is not None and kwargs.get("n", 0) > max_steps:
            raise ValueError(
                f"run {self.run_dir} predicts up to {max_steps - 1} examples in context; env has n={kwargs['n']}"
            )

    @torch.no_grad()
    def predict(self, context: np.ndarray, length: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Batched predictions: context (N, n, C), length (N,), query (N, q) -> (N,) float32."""
        context_t = torch.as_tensor(np.asarray(context), dtype=torch.float32, device=self.device)
        if context_t.shape[-1] != self.model.context_dim:
            raise ValueError(
                f"context rows have {context_t.shape[-1]} entries, the model expects {self.model.context_dim}"
            )
        length_t = torch.as_tensor(np.asarray(length), dtype=torch.long, device=self.device).reshape(-1)
        query_t = torch.as_tensor(np.asarray(query), dtype=torch.float32, device=self.device)
        return self.model(context_t, length_t, query_t).float().cpu().numpy()

    def act(self, obs: Mapping[str, Any]) -> np.ndarray:
        prediction = self.predict(obs["context"][None], np.asarray(obs["length"])[None], obs["query"][None])
        return prediction.reshape(1).astype(np.float32)

    def act_batch(self, obs_batch: Mapping[str, Any]) -> np.ndarray:
        prediction = self.predict(obs_batch["context"], obs_batch["length"], obs_batch["query"])
        return prediction.reshape(-1, 1).astype(np.float32)


class RecallRunAgent(Agent):
    """The value tokens a model trained on ``icl-mqar`` predicts for ``icl/AssociativeRecall-v0``:
    the argmax of its logits for the query placed after ``tokens[:length]``."""

    suites = ("recall-v0",)

    def __init__(self, run_dir: str | Path, device: str = "cpu") -> None:
        self.run_dir = Path(run_dir)
        self.device = torch.device(device)
        self.model, self.config = load_model(self.run_dir, self.device)

    def reset(self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> None:
        """Refuse envs the model cannot read: another env, another vocabulary, longer sequences."""
        if env_id is not None and env_id.split(":")[-1] != TASK_ENV_IDS[RECALL_TASK]:
            raise ValueError(
                f"run {self.run_dir} was trained for {TASK_ENV_IDS[RECALL_TASK]}, not env_id={env_id!r}"
            )
        kwargs, prompts = dict(env_kwargs or {}), self.config.prompts
        if kwargs.get("vocab_size", prompts.vocab_size) != prompts.vocab_size:
            raise ValueError(
                f"run {self.run_dir} was trained with vocab_size={prompts.vocab_size}, env has {kwargs['vocab_size']}"
            )
        if kwargs.get("seq_len", 0) > self.model.max_len:
            raise ValueError(
                f"run {self.run_dir} reads sequences of up to {self.model.max_len} tokens; env has seq_len={kwargs['seq_len']}"
            )

    @torch.no_grad()
    def act_batch(self, obs_batch: Mapping[str, Any]) -> np.ndarray:
        tokens = torch.as_tensor(np.asarray(obs_batch["tokens"]), dtype=torch.long, device=self.device)
        length = torch.as_tensor(np.asarray(obs_batch["length"]), dtype=torch.long, device=self.device)
        query = torch.as_tensor(np.asarray(obs_batch["query"]), dtype=torch.long, device=self.device)
        return self.model(tokens, length, query).argmax(-1).cpu().numpy()

    def act(self, obs: Mapping[str, Any]) -> np.int64:
        return np.int64(self.act_batch({key: np.asarray(value)[None] for key, value in obs.items()})[0])


def load_run_agent(path: str | Path, device: str = "cpu") -> RunAgent | RecallRunAgent:
    """The agent of a run folder (what ``run:DIR`` resolves to): by the task it was trained on."""
    if load_config(path).prompts.task == RECALL_TASK:
        return RecallRunAgent(path, device=device)
    return RunAgent(path, device=device)
