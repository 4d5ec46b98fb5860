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

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from baselines.offline.nets import SequenceModel, TransformerConfig
from baselines.offline.runs import DatasetInfo, SequenceConfig
from baselines.offline.sequences import Windows

#: Tokens per step: R̂, s, a.
TOKENS_PER_STEP = 3


@dataclass
class Config(SequenceConfig):
    """A Decision Transformer run; saved as the run folder's ``config.json``."""


class DecisionTransformer(SequenceModel):
    def __init__(self, config: TransformerConfig, info: DatasetInfo) -> None:
        super().__init__(config, info)
        self.action_head = nn.Linear(config.embed_dim, info.n_actions)

    def forward(self, windows: Windows) -> torch.Tensor:
        """Action logits (B, K, actions) of every step, read from its state token."""
        r, s, a = self.embed(windows)
        (states,) = self.attend(self.embed.interleave(r, s, a), windows, read=(1,))
        return self.action_head(states)

    def play(self, windows: Windows) -> tuple[torch.Tensor, torch.Tensor]:
        """(the last step's action logits, the R̂ it was conditioned on)."""
        return self(windows)[:, -1], windows.returns_to_go[:, -1]


def build_model(config: Config, info: DatasetInfo) -> DecisionTransformer:
    return DecisionTransformer(config.model, info)


def action_loss(logits: torch.Tensor, windows: Windows, normalizer: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the dataset's actions, summed over the real steps, over ``normalizer``."""
    losses = F.cross_entropy(logits.flatten(0, 1).float(), windows.actions.flatten(), reduction="none")
    return (losses * windows.mask.flatten()).sum() / normalizer


def loss(
    model: nn.Module, windows: Windows, config: Config, normalizer: torch.Tensor
) -> tuple[torch.Tensor, dict[str, Any]]:
    return action_loss(model(windows), windows, normalizer), {}


__all__ = ["Config", "DecisionTransformer", "action_loss", "build_model", "loss"]
