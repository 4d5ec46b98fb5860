"""Behaviour cloning and %BC (the top x% of episodes by return), CleanRL-style in one file.

The non-conditioned anchors of Decision Transformer's paper (Chen et al. 2021): an MLP maps the
current observation (the same encoders as the sequence models: one embedding per symbolic component,
or a small CNN for frames) to action logits, trained by cross-entropy on every step of the kept
episodes. ``top_fraction=1`` is BC; ``top_fraction=0.1`` is 10%BC. The suite's games are Markov in
their observation, so BC sees no history.

``icl-bench train bc --dataset ID [--top-fraction 0.1]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from baselines.configs import check_positive, fail
from baselines.offline.dt import action_loss
from baselines.offline.optim import OptimConfig
from baselines.offline.runs import DatasetInfo, OfflineConfig, RunConfig
from baselines.offline.sequences import Episode, Windows, top_episodes

#: Tokens per step: the observation.
TOKENS_PER_STEP = 1


@dataclass
class MLPConfig:
    """The policy network."""

    embed_dim: int = 128
    """Width of the observation's encoding."""
    hidden: int = 256
    """Width of the hidden layers."""
    layers: int = 2
    """Hidden layers."""
    dropout: float = 0.1
    """Dropout after each hidden layer while training."""

    def validate(self) -> None:
        check_positive(self, ("embed_dim", "hidden", "layers"))
        if not 0 <= self.dropout < 1:
            fail("dropout", f"must lie in [0, 1), got {self.dropout!r}")


@dataclass
class Config(OfflineConfig):
    """A BC or %BC run; saved as the run folder's ``config.json``."""

    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-3, warmup_steps=100))
    """The optimizer."""
    run: RunConfig = field(default_factory=lambda: RunConfig(steps=2000, batch_size=256))
    """Steps, batch, seed, device and the run folder."""
    model: MLPConfig = field(default_factory=MLPConfig)
    """The policy network."""
    top_fraction: float = 1.0
    """Train on this best fraction of the episodes by return, in (0, 1]: 1 is BC, 0.1 is 10%BC."""

    @property
    def context(self) -> int:
        """BC sees the current observation only."""
        return 1

    def select_episodes(self, episodes: list[Episode]) -> list[Episode]:
        return top_episodes(episodes, self.top_fraction)

    def validate(self) -> None:
        super().validate()
        if not 0 < self.top_fraction <= 1:
            fail("top_fraction", f"must lie in (0, 1], got {self.top_fraction!r}")


class BCPolicy(nn.Module):
    def __init__(self, config: MLPConfig, info: DatasetInfo) -> None:
        super().__init__()
        layers: list[nn.Module] = [info.encoder(config.embed_dim)]
        width = config.embed_dim
        for _ in range(config.layers):
            layers += [nn.Linear(width, config.hidden), nn.ReLU(), nn.Dropout(config.dropout)]
            width = config.hidden
        layers.append(nn.Linear(width, info.n_actions))
        self.net = nn.Sequential(*layers)

    def forward(self, windows: Windows) -> torch.Tensor:
        """Action logits (B, K, actions) of each step's observation."""
        return self.net(windows.observations)

    def play(self, windows: Windows) -> tuple[torch.Tensor, torch.Tensor]:
        """(the last observation's action logits, R̂ unchanged: BC is not conditioned on it)."""
        return self(windows)[:, -1], windows.returns_to_go[:, -1]


def build_model(config: Config, info: DatasetInfo) -> BCPolicy:
    return BCPolicy(config.model, info)


def loss(
    model: nn.Module, windows: Windows, config: Config, normalizer: torch.Tensor
) -> tuple[torch.Tensor, dict[str, Any]]:
    return action_loss(model(windows), windows, normalizer), {}


__all__ = ["BCPolicy", "Config", "MLPConfig", "build_model", "loss"]
