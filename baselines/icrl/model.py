"""The causal transformer both learned baselines use, nanoGPT style, over tokens of a trial.

A token is the sum of embeddings of five fields, so that one network serves both methods:

- ``state`` (the current state, or a transition's state), ``action`` (the previous action for
  Algorithm Distillation, a transition's action for DPT; ``num_actions`` means none), ``reward``
  (a number, through a linear map), ``next_state`` (a DPT transition's next state; ``num_states``
  means none) and ``time`` (the step within the sub-episode; ``horizon`` marks DPT's query token);
- plus a learned position embedding.

The output at every position is a distribution over actions: AD predicts its source's next action
from the history so far, DPT the optimal action for its query state from the transitions so far.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from baselines.configs import fail


@dataclass
class ModelConfig:
    """The network's size."""

    layers: int = 2
    """Transformer blocks."""
    heads: int = 2
    """Attention heads per block (``width`` must be a multiple)."""
    width: int = 64
    """Embedding width."""
    dropout: float = 0.0
    """Dropout on attention and MLP outputs during training."""

    def validate(self) -> None:
        for name in ("layers", "heads", "width"):
            if getattr(self, name) < 1:
                fail(name, f"must be >= 1, got {getattr(self, name)!r}")
        if self.width % self.heads:
            fail("width", f"must be a multiple of heads={self.heads}, got {self.width}")
        if not 0.0 <= self.dropout < 1.0:
            fail("dropout", f"must be in [0, 1), got {self.dropout!r}")


@dataclass(frozen=True)
class Tokens:
    """A batch of token fields, each (batch, length)."""

    state: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_state: torch.Tensor
    time: torch.Tensor

    def to(self, device: torch.device) -> Tokens:
        return Tokens(
            *(getattr(self, f).to(device) for f in ("state", "action", "reward", "next_state", "time"))
        )


class Block(nn.Module):
    """Pre-norm causal self-attention and MLP (nanoGPT's block)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.heads, self.dropout = config.heads, config.dropout
        self.norm1, self.norm2 = nn.LayerNorm(config.width), nn.LayerNorm(config.width)
        self.qkv = nn.Linear(config.width, 3 * config.width)
        self.proj = nn.Linear(config.width, config.width)
        self.mlp = nn.Sequential(
            nn.Linear(config.width, 4 * config.width),
            nn.GELU(),
            nn.Linear(4 * config.width, config.width),
            nn.Dropout(config.dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(width, dim=-1)
        q, k, v = (t.view(batch, length, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        dropout = self.dropout if self.training else 0.0
        attended = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
        x = x + self.proj(attended.transpose(1, 2).reshape(batch, length, width))
        return x + self.mlp(self.norm2(x))


class TrialTransformer(nn.Module):
    """Causal transformer: ``Tokens`` of shape (B, T) -> action logits (B, T, num_actions)."""

    def __init__(self, config: ModelConfig, num_states: int, num_actions: int, horizon: int, max_length: int):
        super().__init__()
        self.num_states, self.num_actions, self.horizon, self.max_length = (
            num_states,
            num_actions,
            horizon,
            max_length,
        )
        width = config.width
        self.state = nn.Embedding(num_states, width)
        self.action = nn.Embedding(num_actions + 1, width)
        self.next_state = nn.Embedding(num_states + 1, width)
        self.time = nn.Embedding(horizon + 1, width)
        self.reward = nn.Linear(1, width)
        self.position = nn.Embedding(max_length, width)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_actions)

    def forward(self, tokens: Tokens) -> torch.Tensor:
        length = tokens.state.shape[1]
        if length > self.max_length:
            raise ValueError(f"a sequence of {length} tokens is longer than the model's {self.max_length}")
        positions = torch.arange(length, device=tokens.state.device)
        x = (
            self.state(tokens.state)
            + self.action(tokens.action)
            + self.next_state(tokens.next_state)
            + self.time(tokens.time)
            + self.reward(tokens.reward.unsqueeze(-1).to(self.reward.weight.dtype))
            + self.position(positions)
        )
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def action_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the action targets (B, T), averaged with ``weights`` (0 where padded)."""
    losses = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="none")
    return (losses * weights.flatten()).sum() / weights.sum().clamp(min=1)
