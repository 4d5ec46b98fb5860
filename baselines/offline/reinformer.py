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

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from baselines.configs import fail
from baselines.offline.dt import action_loss
from baselines.offline.nets import SequenceModel, TransformerConfig
from baselines.offline.optim import OptimConfig
from baselines.offline.runs import DatasetInfo, SequenceConfig
from baselines.offline.sequences import Windows

#: Tokens per step: s, R, a.
TOKENS_PER_STEP = 3


@dataclass
class Config(SequenceConfig):
    """A Reinformer run; saved as the run folder's ``config.json``."""

    optim: OptimConfig = field(default_factory=OptimConfig)
    """The optimizer (``--optimizer lamb`` for the paper's LAMB)."""
    tau: float = 0.99
    """The expectile of the return head's loss, in (0, 1): 0.5 regresses the mean return, near 1 the
    maximal in-distribution return."""
    return_weight: float = 1.0
    """Weight of the return head's expectile loss beside the action loss."""

    def validate(self) -> None:
        super().validate()
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


class Reinformer(SequenceModel):
    def __init__(self, config: TransformerConfig, info: DatasetInfo) -> None:
        super().__init__(config, info)
        self.return_head = nn.Linear(config.embed_dim, 1)
        self.action_head = nn.Linear(config.embed_dim, info.n_actions)

    def forward(self, windows: Windows) -> tuple[torch.Tensor, torch.Tensor]:
        """(predicted returns (B, K) from the state tokens, action logits (B, K, actions) from the
        return tokens)."""
        r, s, a = self.embed(windows)
        states, returns = self.attend(self.embed.interleave(s, r, a), windows, read=(0, 1))
        return self.return_head(states).squeeze(-1), self.action_head(returns)

    def play(self, windows: Windows) -> tuple[torch.Tensor, torch.Tensor]:
        """(the last step's action logits, its predicted return): the state token sees nothing of the
        last R slot, so one pass predicts the return and a second reads the action with it in place."""
        predicted, _ = self(windows)
        returns_to_go = windows.returns_to_go.clone()
        returns_to_go[:, -1] = predicted[:, -1]
        _, logits = self(dataclasses.replace(windows, returns_to_go=returns_to_go))
        return logits[:, -1], returns_to_go[:, -1]


def build_model(config: Config, info: DatasetInfo) -> Reinformer:
    return Reinformer(config.model, info)


def loss(
    model: nn.Module, windows: Windows, config: Config, normalizer: torch.Tensor
) -> tuple[torch.Tensor, dict[str, Any]]:
    predicted, logits = model(windows)
    actions = action_loss(logits, windows, normalizer)
    returns = (
        expectile_loss(predicted.float(), windows.returns_to_go, config.tau) * windows.mask
    ).sum() / normalizer
    return actions + config.return_weight * returns, {"action_loss": actions, "return_loss": returns}


__all__ = ["Config", "Reinformer", "build_model", "expectile_loss", "loss"]
