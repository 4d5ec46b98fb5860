"""Decision Transformer (Chen et al. 2021) for discrete actions, CleanRL-style in one file.

Each step t of a K-step window is three tokens, (R̂_t, s_t, a_t): the return-to-go (divided by the
dataset's return scale), the observation (one embedding per symbolic component, or a small CNN for
frames) and the action, each with its own embedding plus a learned timestep embedding. A causal
transformer reads the 3K tokens; the action logits of step t are read from s_t's output, which sees
R̂_t and the steps before but not a_t. Training: cross-entropy of the dataset's actions.
Play (:mod:`baselines.offline.agent`): R̂ starts at a target return fixed before evaluation (the
dataset's best return, or a fraction of it) and is decremented by each reward received.

``icl-bench train dt --dataset ID [--steps ...] [--set key=value]`` (``baselines/offline/cli.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from baselines.offline.nets import CausalTransformer, StepEmbeddings, TransformerConfig, split_tokens
from baselines.offline.optim import OptimConfig
from baselines.offline.runs import DatasetInfo, RunConfig
from baselines.offline.sequences import Episode, Windows

#: Tokens per step: R̂, s, a.
TOKENS_PER_STEP = 3


@dataclass
class Config:
    """A Decision Transformer run; saved as the run folder's ``config.json``."""

    dataset: str = ""
    """The Minari dataset id to train on (e.g. icl/numberline-symbolic/mixed-v0)."""
    model: TransformerConfig = field(default_factory=TransformerConfig)
    """The causal transformer."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """The optimizer (AdamW by default)."""
    run: RunConfig = field(default_factory=RunConfig)
    """Steps, batch, seed, device and the run folder."""


class DecisionTransformer(nn.Module):
    def __init__(self, config: TransformerConfig, info: DatasetInfo) -> None:
        super().__init__()
        self.embed = StepEmbeddings(
            info.encoder(config.embed_dim),
            info.n_actions,
            info.max_timestep,
            config.embed_dim,
            config.dropout,
        )
        self.transformer = CausalTransformer(config.embed_dim, config.layers, config.heads, config.dropout)
        self.action_head = nn.Linear(config.embed_dim, info.n_actions)

    def forward(
        self,
        returns_to_go: torch.Tensor,
        observations: torch.Tensor,
        actions: torch.Tensor,
        timesteps: torch.Tensor,
    ) -> torch.Tensor:
        """Action logits (B, K, actions) of every step, read from its state token."""
        r, s, a = self.embed(returns_to_go, observations, actions, timesteps)
        hidden = self.transformer(self.embed.interleave(r, s, a))
        _, states, _ = split_tokens(hidden, TOKENS_PER_STEP)
        return self.action_head(states)

    def play(
        self,
        returns_to_go: torch.Tensor,
        observations: torch.Tensor,
        actions: torch.Tensor,
        timesteps: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(the last step's action logits, the R̂ it was conditioned on)."""
        return self(returns_to_go, observations, actions, timesteps)[:, -1], returns_to_go[:, -1]


def build_model(config: Config, info: DatasetInfo) -> DecisionTransformer:
    return DecisionTransformer(config.model, info)


def context(config: Config) -> int:
    return config.model.context


def select_episodes(config: Config, episodes: list[Episode]) -> list[Episode]:
    return episodes


def action_loss(logits: torch.Tensor, windows: Windows, normalizer: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the dataset's actions, summed over the real steps, over ``normalizer``."""
    losses = F.cross_entropy(logits.flatten(0, 1).float(), windows.actions.flatten(), reduction="none")
    return (losses * windows.mask.flatten()).sum() / normalizer


def loss(
    model: nn.Module, windows: Windows, config: Config, normalizer: torch.Tensor
) -> tuple[torch.Tensor, dict[str, Any]]:
    logits = model(windows.returns_to_go, windows.observations, windows.actions, windows.timesteps)
    value = action_loss(logits, windows, normalizer)
    return value, {}


__all__ = [
    "Config",
    "DecisionTransformer",
    "action_loss",
    "build_model",
    "context",
    "loss",
    "select_episodes",
]
