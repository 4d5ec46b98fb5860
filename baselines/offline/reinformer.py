"""Reinformer (Zhuang et al. 2024, "Reinformer: Max-Return Sequence Modeling for Offline RL"),
CleanRL-style in one file, with a categorical policy for the suite's discrete actions.

Each step t is three tokens in the order (s_t, R_t, a_t). From s_t's output a return head predicts
R_t, trained with the expectile loss at τ (default 0.99): a high expectile of the returns-to-go seen
after s_t, i.e. close to the maximal return the data shows from there. From R_t's output the action
head predicts a_t (cross-entropy). In play (:mod:`baselines.offline.agent`) no target return is
given: the predicted return is written back into the R_t slot and the action is read from that
token; later steps keep the returns predicted at their time.

The paper's policy is a Gaussian over continuous actions (with an entropy term); ours is categorical,
as the suite's actions are discrete. ``icl-bench train reinformer --dataset ID [--tau 0.99]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from baselines.configs import fail
from baselines.offline.dt import action_loss
from baselines.offline.nets import CausalTransformer, StepEmbeddings, TransformerConfig, split_tokens
from baselines.offline.optim import OptimConfig
from baselines.offline.runs import DatasetInfo, RunConfig
from baselines.offline.sequences import Episode, Windows

#: Tokens per step: s, R, a.
TOKENS_PER_STEP = 3


@dataclass
class Config:
    """A Reinformer run; saved as the run folder's ``config.json``."""

    dataset: str = ""
    """The Minari dataset id to train on (e.g. icl/numberline-symbolic/mixed-v0)."""
    model: TransformerConfig = field(default_factory=TransformerConfig)
    """The causal transformer."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """The optimizer (``--optimizer lamb`` for the paper's LAMB)."""
    run: RunConfig = field(default_factory=RunConfig)
    """Steps, batch, seed, device and the run folder."""
    tau: float = 0.99
    """The expectile of the return head's loss, in (0, 1): 0.5 regresses the mean return, near 1 the
    maximal in-distribution return."""
    return_weight: float = 1.0
    """Weight of the return head's expectile loss beside the action loss."""

    def validate(self) -> None:
        if not 0 < self.tau < 1:
            fail("tau", f"must lie strictly between 0 and 1, got {self.tau!r}")
        if not self.return_weight >= 0:
            fail("return_weight", f"must be a number >= 0, got {self.return_weight!r}")


def expectile_loss(prediction: torch.Tensor, target: torch.Tensor, tau: float) -> torch.Tensor:
    """Elementwise |τ − 1(u < 0)|·u² with u = target − prediction: under-predictions weigh τ,
    over-predictions 1 − τ (τ = 0.5 gives half the squared error)."""
    error = target - prediction
    weight = torch.where(error < 0, 1 - tau, tau)
    return weight * error.square()


class Reinformer(nn.Module):
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
        self.return_head = nn.Linear(config.embed_dim, 1)
        self.action_head = nn.Linear(config.embed_dim, info.n_actions)

    def forward(
        self,
        returns_to_go: torch.Tensor,
        observations: torch.Tensor,
        actions: torch.Tensor,
        timesteps: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(predicted returns (B, K) from the state tokens, action logits (B, K, actions) from the
        return tokens)."""
        r, s, a = self.embed(returns_to_go, observations, actions, timesteps)
        hidden = self.transformer(self.embed.interleave(s, r, a))
        states, returns, _ = split_tokens(hidden, TOKENS_PER_STEP)
        return self.return_head(states).squeeze(-1), self.action_head(returns)

    def play(
        self,
        returns_to_go: torch.Tensor,
        observations: torch.Tensor,
        actions: torch.Tensor,
        timesteps: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(the last step's action logits, its predicted return): the state token sees nothing of the
        last R slot, so one pass predicts the return and a second reads the action with it in place."""
        predicted, _ = self(returns_to_go, observations, actions, timesteps)
        returns_to_go = returns_to_go.clone()
        returns_to_go[:, -1] = predicted[:, -1]
        _, logits = self(returns_to_go, observations, actions, timesteps)
        return logits[:, -1], returns_to_go[:, -1]


def build_model(config: Config, info: DatasetInfo) -> Reinformer:
    return Reinformer(config.model, info)


def context(config: Config) -> int:
    return config.model.context


def select_episodes(config: Config, episodes: list[Episode]) -> list[Episode]:
    return episodes


def loss(
    model: nn.Module, windows: Windows, config: Config, normalizer: torch.Tensor
) -> tuple[torch.Tensor, dict[str, Any]]:
    predicted, logits = model(windows.returns_to_go, windows.observations, windows.actions, windows.timesteps)
    actions = action_loss(logits, windows, normalizer)
    returns = (
        expectile_loss(predicted.float(), windows.returns_to_go, config.tau) * windows.mask
    ).sum() / normalizer
    return actions + config.return_weight * returns, {"action_loss": actions, "return_loss": returns}


__all__ = ["Config", "Reinformer", "build_model", "context", "expectile_loss", "loss", "select_episodes"]
