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


#: Dropout's keep test on the CPU reads 16 random bits per element, four elements to one 64-bit draw
#: of torch's generator: ``bernoulli_`` draws one 32-bit number per element and converts it, which made
#: dropout a fifth of a training step on one CPU thread. The drop probability is rounded to a multiple
#: of 2^-16 (0.1 becomes 0.100006); the kept values are scaled by 1 / (1 - p), as ``F.dropout`` does.
DROPOUT_BITS = 16


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``F.dropout(x, p, training)``, with the mask drawn as :data:`DROPOUT_BITS` says on the CPU
    (other devices: ``F.dropout``, whose kernels draw fast)."""
    if not training or p == 0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, True)
    count = x.numel()
    words = torch.empty((count + 3) // 4, dtype=torch.int64).random_(-(2**63), None)  # all 64 bits
    bits = words.view(torch.int16)[:count].view(x.shape)  # uniform over [-2^15, 2^15)
    keep = bits >= round(p * 2**DROPOUT_BITS) - 2 ** (DROPOUT_BITS - 1)
    return x * keep.to(x.dtype).mul_(1 / (1 - p))


class Dropout(nn.Dropout):
    """``nn.Dropout`` through :func:`dropout`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)


def causal_mask(length: int, device: torch.device) -> torch.Tensor:
    """(L, L) booleans: query i may attend to keys 0..i."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor | None, p: float
) -> torch.Tensor:
    """``scaled_dot_product_attention`` of (B, heads, L, head_dim) ``q``, ``k``, ``v``; ``allowed``:
    (B, 1, L, L) which keys each query may attend to (None: causal); ``p``: dropout on the weights.
    With dropout on the CPU, torch's kernel is its unfused reference (scores, softmax, ``F.dropout``,
    product), so the same steps are written here with :func:`dropout`; every row allows at least its
    own key, so no softmax row is empty."""
    if not p or q.device.type != "cpu":
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed, dropout_p=p, is_causal=allowed is None
        )
    length = q.shape[-2]
    if allowed is None:
        allowed = causal_mask(length, q.device)
    scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    weights = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
    return dropout(weights, p, True) @ v


class Block(nn.Module):
    """Pre-LayerNorm causal self-attention and MLP, each on a residual branch."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), Dropout(dropout)
        )
        self.residual_dropout = Dropout(dropout)

    def forward(
        self, x: torch.Tensor, allowed: torch.Tensor | None = None, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``allowed``: (B or 1, 1, L, L) which keys each query may attend to; None: causal.
        ``rows``: the positions whose outputs are wanted (None: all); the others still serve as keys
        and values, but get no query, no attention output and no MLP: (B, L, dim) -> (B, len(rows), dim)."""
        batch, length, dim = x.shape
        shape = (batch, -1, self.heads, dim // self.heads)
        normed = self.norm1(x)
        if rows is None:
            q, k, v = self.qkv(normed).view(batch, length, 3, self.heads, dim // self.heads).unbind(2)
        else:
            # The same weights as one qkv product, split so that queries are computed for ``rows`` only.
            weight, bias = self.qkv.weight, self.qkv.bias
            q = F.linear(normed[:, rows], weight[:dim], bias[:dim]).view(shape)
            k, v = F.linear(normed, weight[dim:], bias[dim:]).view(batch, length, 2, *shape[2:]).unbind(2)
            if allowed is None:
                allowed = causal_mask(length, x.device)[None, None]
            allowed, x = allowed[:, :, rows], x[:, rows]
        attended = attention(
            q.transpose(1, 2),
            k.transpose(1, 2),
            v.transpose(1, 2),
            allowed,
            self.dropout if self.training else 0.0,
        )
        x = x + self.residual_dropout(self.proj(attended.transpose(1, 2).reshape(batch, -1, dim)))
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

    def forward(
        self, x: torch.Tensor, valid: torch.Tensor | None = None, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``valid``: (B, L) the tokens the others may attend to (None: all, causally). ``rows``: the
        positions whose outputs are read (None: all): the last block computes only those, since no
        later block reads the others (the earlier blocks compute every position, all are keys)."""
        allowed = None
        if valid is not None:
            length = x.shape[1]
            causal = causal_mask(length, x.device)
            itself = torch.eye(length, dtype=torch.bool, device=x.device)  # no query is left without keys
            allowed = ((causal & valid[:, None, :]) | itself)[:, None]
        for index, block in enumerate(self.blocks):
            x = block(x, allowed, rows if index == len(self.blocks) - 1 else None)
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
        self.dropout = Dropout(dropout)

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

    def attend(self, tokens: torch.Tensor, windows: Windows, read: tuple[int, ...]) -> list[torch.Tensor]:
        """The transformer's outputs over the interleaved tokens of ``windows`` (the padding masked
        out when the config says so) at the tokens of each step whose place in the step is in
        ``read``: one (B, K, dim) stream per entry of ``read``. Only those outputs are computed in the
        last block (the heads read nothing else): for Decision Transformer, which reads one token of
        three, it skips two thirds of that block's queries, attention outputs and MLP."""
        steps = windows.mask.shape[1]
        per_step = tokens.shape[1] // steps
        places = torch.tensor(read, device=tokens.device)
        rows = (torch.arange(steps, device=tokens.device)[:, None] * per_step + places).flatten()
        valid = windows.mask.repeat_interleave(per_step, dim=1) if self.mask_padding else None
        hidden = self.transformer(tokens, valid, rows)
        return list(hidden.reshape(hidden.shape[0], steps, len(read), hidden.shape[-1]).unbind(2))


__all__ = [
    "Block",
    "DROPOUT_BITS",
    "Dropout",
    "attention",
    "dropout",
    "CausalTransformer",
    "SequenceModel",
    "StepEmbeddings",
    "TransformerConfig",
]
