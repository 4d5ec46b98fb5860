"""The causal transformer and token embeddings that Decision Transformer and Reinformer share.

:class:`CausalTransformer` is GPT-2's pre-LayerNorm block stack over a sequence of token vectors,
attention through ``scaled_dot_product_attention(is_causal=True)`` (the fused kernels on CUDA).
:class:`StepEmbeddings` embeds each step's return-to-go, observation and action into one token
each, with one table or layer per modality, plus a learned embedding of the step's timestep added to
all three (Chen et al. 2021). The algorithms differ only in the order they interleave the tokens and
which token each head reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from baselines.configs import check_positive, fail
from baselines.offline.sequences import Windows


@dataclass
class TransformerConfig:
    """The sequence model's size (CORL's gym Decision Transformer: context 20, 3 layers of 128)."""

    context: int = 20
    """K: steps per window (each step is 3 tokens)."""
    embed_dim: int = 128
    """Width of every token."""
    layers: int = 3
    """Transformer blocks."""
    heads: int = 1
    """Attention heads per block (must divide ``embed_dim``)."""
    dropout: float = 0.1
    """Dropout on embeddings, attention and residual branches while training."""
    mask_padding: bool = True
    """Mask the left padding out of attention (every token still attends to itself), so that no real
    step sees it and training cuts each batch to its longest real history (d3rlpy's DT masks it
    too). Off: the model sees the padding, as run folders written before this option existed did
    (their config has no such field and is read as off)."""

    def validate(self) -> None:
        check_positive(self, ("context", "embed_dim", "layers", "heads"))
        if self.embed_dim % self.heads:
            fail("heads", f"must divide embed_dim={self.embed_dim}, got {self.heads}")
        if not 0 <= self.dropout < 1:
            fail("dropout", f"must lie in [0, 1), got {self.dropout!r}")


class Block(nn.Module):
    """Pre-LayerNorm causal self-attention and MLP, each on a residual branch."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), nn.Dropout(dropout)
        )
        self.residual_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
        """``allowed``: (B, 1, L, L) which keys each query may attend to; None: causal."""
        batch, length, dim = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(batch, length, 3, self.heads, dim // self.heads).unbind(2)
        attended = F.scaled_dot_product_attention(
            q.transpose(1, 2),
            k.transpose(1, 2),
            v.transpose(1, 2),
            attn_mask=allowed,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=allowed is None,
        )
        x = x + self.residual_dropout(self.proj(attended.transpose(1, 2).reshape(batch, length, dim)))
        return x + self.mlp(self.norm2(x))


class CausalTransformer(nn.Module):
    """``layers`` blocks and a final LayerNorm; (B, L, dim) -> (B, L, dim)."""

    def __init__(self, dim: int, layers: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.apply(_init_weights)
        for name, parameter in self.named_parameters():  # GPT-2's scaled init of residual outputs
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(parameter, std=0.02 / math.sqrt(2 * layers))

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """``valid``: (B, L) the tokens the others may attend to (None: all, causally)."""
        allowed = None
        if valid is not None:
            length = x.shape[1]
            causal = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
            itself = torch.eye(length, dtype=torch.bool, device=x.device)  # no query is left without keys
            allowed = ((causal & valid[:, None, :]) | itself)[:, None]
        for block in self.blocks:
            x = block(x, allowed)
        return self.norm(x)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)


class StepEmbeddings(nn.Module):
    """(return-to-go, observation, action, timestep) of each step -> three (B, K, dim) tokens."""

    def __init__(
        self, encoder: nn.Module, n_actions: int, max_timestep: int, dim: int, dropout: float
    ) -> None:
        super().__init__()
        self.max_timestep = max_timestep
        self.observation = encoder
        self.action = nn.Embedding(n_actions, dim)
        self.return_to_go = nn.Linear(1, dim)
        self.timestep = nn.Embedding(max_timestep, dim)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, windows: Windows) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The (return-to-go, observation, action) tokens of every step of the windows."""
        time = self.timestep(windows.timesteps.clamp(max=self.max_timestep - 1))
        return (
            self.return_to_go(windows.returns_to_go.unsqueeze(-1)) + time,
            self.observation(windows.observations) + time,
            self.action(windows.actions) + time,
        )

    def interleave(self, *tokens: torch.Tensor) -> torch.Tensor:
        """Tokens (each (B, K, dim)) in step order, t0's first: (B, len(tokens)·K, dim), normed."""
        stacked = torch.stack(tokens, dim=2)
        return self.dropout(self.norm(stacked.reshape(stacked.shape[0], -1, stacked.shape[-1])))


class SequenceModel(nn.Module):
    """Step embeddings and a causal transformer; an algorithm adds its heads and token order."""

    def __init__(self, config: TransformerConfig, info) -> None:
        """``info``: the run's ``DatasetInfo`` (its observation encoder, actions and longest episode)."""
        super().__init__()
        dim = config.embed_dim
        self.embed = StepEmbeddings(info.encoder(dim), info.n_actions, info.max_timestep, dim, config.dropout)
        self.transformer = CausalTransformer(dim, config.layers, config.heads, config.dropout)
        self.mask_padding = config.mask_padding

    def attend(self, tokens: torch.Tensor, windows: Windows) -> torch.Tensor:
        """The transformer over the interleaved tokens of ``windows`` (the padding masked out when the
        config says so)."""
        if not self.mask_padding:
            return self.transformer(tokens)
        per_step = tokens.shape[1] // windows.mask.shape[1]
        return self.transformer(tokens, windows.mask.repeat_interleave(per_step, dim=1))


def split_tokens(hidden: torch.Tensor, count: int) -> list[torch.Tensor]:
    """The transformer's output (B, count·K, dim) as ``count`` (B, K, dim) streams, in token order."""
    return list(hidden.reshape(hidden.shape[0], -1, count, hidden.shape[-1]).unbind(2))


__all__ = [
    "Block",
    "CausalTransformer",
    "SequenceModel",
    "StepEmbeddings",
    "TransformerConfig",
    "split_tokens",
]
