"""A small vision-language model in plain PyTorch: CNN image encoder, projector, causal decoder.

The layout of LLaVA (Liu et al. 2023) at a size that trains in minutes: a frame is encoded into a
grid of feature vectors, a projector maps each into the decoder's embedding space, and the decoder
(nanoGPT-like: pre-norm blocks, causal self-attention, GELU MLP) reads ``[image tokens][prompt][answer]``
and predicts the answer. Two projectors:

- ``mlp``: LLaVA-1.5's static two-layer MLP.
- ``hyper``: after HyperLLaVA (Zhang et al. 2024), a *dynamic visual expert*: a hypernetwork reads
  the pooled image features and generates, per image, the weights of a bottleneck adapter applied
  to the static projector's output. The hypernetwork's last layer for the up-projection starts at
  zero, so at initialisation the adapter adds nothing and ``hyper`` equals ``mlp``.

Sequences are left-padded: every row ends at the same position, so batched generation appends one
column per step. ``mask`` marks real tokens; positions count real tokens only; padded keys are never
attended to. A value head reads the hidden state of the prompt's last token (RL4VLM's critic).
The KV cache holds each layer's keys and values: generating a token costs one position, not the
whole sequence (:mod:`baselines.vlm.generate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from baselines.configs import check_choice, fail

PROJECTORS = ("mlp", "hyper")


@dataclass
class ModelConfig:
    """Sizes of the VLM (about 3M parameters by default at vocab 1024; ~100M at width 768, 12 layers)."""

    image_size: int = 64
    """Side of the frames the encoder reads, in pixels (the agent downsamples the env's frames to it)."""
    channels: int = 32
    """Channels of the CNN encoder's first layer (doubled in the second and third)."""
    image_tokens_side: int = 4
    """The encoder's output grid is this many cells a side: that squared image tokens per frame."""
    width: int = 192
    """Embedding width of the decoder."""
    layers: int = 6
    """Decoder blocks."""
    heads: int = 6
    """Attention heads (must divide width)."""
    max_tokens: int = 320
    """Longest sequence (image tokens + prompt + answer)."""
    projector: str = "mlp"
    """'mlp' (static, LLaVA-1.5) or 'hyper' (HyperLLaVA's dynamic visual expert beside the MLP)."""
    hyper_rank: int = 16
    """Bottleneck width of the hyper projector's generated adapter."""
    dropout: float = 0.0
    """Dropout in the decoder (0: off)."""


def check_model_config(config: ModelConfig) -> None:
    check_choice("projector", config.projector, PROJECTORS)
    for name in ("image_size", "channels", "image_tokens_side", "width", "layers", "heads", "max_tokens"):
        if getattr(config, name) < 1:
            fail(name, f"must be >= 1; got {getattr(config, name)}")
    if config.width % config.heads:
        fail("heads", f"must divide width ({config.width}); got {config.heads}")
    if config.image_size % config.image_tokens_side or config.image_size // config.image_tokens_side < 4:
        fail(
            "image_tokens_side",
            f"must divide image_size ({config.image_size}) into cells of at least 4 px; "
            f"got {config.image_tokens_side}",
        )
    if not 0.0 <= config.dropout < 1.0:
        fail("dropout", f"must lie in [0, 1); got {config.dropout}")


def _groups(channels: int) -> int:
    """Groups of GroupNorm: 8 when they divide the channels, else one per channel's divisor below."""
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


class ImageEncoder(nn.Module):
    """Three strided convolutions (over the pixels and two coordinate channels), each normalised,
    then adaptive pooling to a ``side × side`` grid of features."""

    def __init__(self, channels: int, side: int, out_dim: int):
        super().__init__()
        c = channels
        # GroupNorm after each convolution: a card-game frame is mostly flat background, and the
        # few pixels that tell the state (a marker, a rank) barely move the raw features; normalising
        # each image's channels over its own pixels makes them stand out. Without it a CPU-size run
        # answered every frame alike for 400 SFT steps (its loss stayed at the answers' entropy).
        self.net = nn.Sequential(
            nn.Conv2d(3 + 2, c, 4, stride=2, padding=1),
            nn.GroupNorm(_groups(c), c),
            nn.GELU(),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1),
            nn.GroupNorm(_groups(2 * c), 2 * c),
            nn.GELU(),
            nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1),
            nn.GroupNorm(_groups(4 * c), 4 * c),
            nn.GELU(),
            nn.AdaptiveAvgPool2d(side),
            nn.Conv2d(4 * c, out_dim, 1),
        )
        self.position = nn.Parameter(torch.zeros(side * side, out_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``images``: uint8 ``(B, H, W, 3)`` -> features ``(B, side², out_dim)``."""
        x = images.permute(0, 3, 1, 2).float() / 127.5 - 1.0
        # Two coordinate channels (CoordConv, Liu et al. 2018): the features then say *where* a
        # marker or card is, so even the uniform attention of a fresh decoder, which averages the
        # image tokens, passes on the position (an added position embedding would average away).
        b, _, h, w = x.shape
        ys = torch.linspace(-1.0, 1.0, h, device=x.device).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1.0, 1.0, w, device=x.device).view(1, 1, 1, w).expand(b, 1, h, w)
        x = torch.cat([x, ys, xs], dim=1)
        return self.net(x).flatten(2).transpose(1, 2) + self.position


class MLPProjector(nn.Module):
    def __init__(self, in_dim: int, width: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, width), nn.GELU(), nn.Linear(width, width))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


class HyperProjector(nn.Module):
    """The static MLP plus a bottleneck adapter whose weights a hypernetwork generates per image.

    ``out = h + up(gelu(down(h)))`` with ``h`` the MLP's output; ``down`` (width × rank) and ``up``
    (rank × width) come from the pooled image features. ``up``'s generator starts at zero.
    """

    def __init__(self, in_dim: int, width: int, rank: int):
        super().__init__()
        self.static = MLPProjector(in_dim, width)
        self.rank, self.width = rank, width
        self.context = nn.Sequential(nn.Linear(in_dim, width), nn.GELU())
        self.make_down = nn.Linear(width, width * rank)
        self.make_up = nn.Linear(width, rank * width)
        nn.init.zeros_(self.make_up.weight)
        nn.init.zeros_(self.make_up.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = self.static(features)
        context = self.context(features.mean(dim=1))
        down = self.make_down(context).view(-1, self.width, self.rank) / self.width**0.5
        up = self.make_up(context).view(-1, self.rank, self.width)
        return h + torch.bmm(F.gelu(torch.bmm(h, down)), up)


class Block(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, attend, cache=None):
        """``attend``: bool ``(B, 1, T, S)``, True where a query may read a key. ``cache``: this
        layer's ``(keys, values)`` of earlier positions or None; returns the output and the new cache."""
        b, t, w = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attend)
        x = x + self.dropout(self.out(y.transpose(1, 2).reshape(b, t, w)))
        x = x + self.dropout(self.mlp(self.norm2(x)))
        return x, (k, v)


class VLM(nn.Module):
    """Image encoder + projector + causal decoder with a language-model head and a value head."""

    def __init__(self, config: ModelConfig, vocab_size: int):
        super().__init__()
        check_model_config(config)
        self.config, self.vocab_size = config, vocab_size
        width = config.width
        self.encoder = ImageEncoder(config.channels, config.image_tokens_side, width)
        self.projector = (
            MLPProjector(width, width)
            if config.projector == "mlp"
            else HyperProjector(width, width, config.hyper_rank)
        )
        self.embed = nn.Embedding(vocab_size, width)
        self.position = nn.Embedding(config.max_tokens, width)
        self.blocks = nn.ModuleList(Block(width, config.heads, config.dropout) for _ in range(config.layers))
        self.norm = nn.LayerNorm(width)
        self.lm_head = nn.Linear(width, vocab_size, bias=False)
        self.value_head = nn.Linear(width, 1)
        self.apply(_init)
        if isinstance(self.projector, HyperProjector):  # _init overwrote the zero start
            nn.init.zeros_(self.projector.make_up.weight)

    @property
    def image_tokens(self) -> int:
        return self.config.image_tokens_side**2

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def image_embeddings(self, images: torch.Tensor) -> torch.Tensor:
        return self.projector(self.encoder(images))

    def forward(self, images, tokens, mask, cache=None, image_embeddings=None):
        """Hidden states of ``[image][tokens]`` (or of ``tokens`` alone when ``cache`` holds the earlier
        positions). ``mask``: bool ``(B, S)`` over every position so far (cached ones included).
        Returns ``(hidden (B, T, width), new cache)``."""
        x = self.embed(tokens)
        if cache is None:
            if image_embeddings is None:
                image_embeddings = self.image_embeddings(images)
            x = torch.cat([image_embeddings.to(x.dtype), x], dim=1)
        positions, attend = positions_and_attention(mask, x.shape[1])
        x = x + self.position(positions)
        new_cache = []
        for i, block in enumerate(self.blocks):
            x, layer_cache = block(x, attend, None if cache is None else cache[i])
            new_cache.append(layer_cache)
        return self.norm(x), new_cache

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.lm_head(hidden).float()

    def value(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.value_head(hidden).squeeze(-1).float()


def positions_and_attention(mask: torch.Tensor, queries: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For the last ``queries`` positions of sequences whose real positions ``mask`` (B, S) marks:
    their positions counting real tokens only (B, queries), and a bool ``(B, 1, queries, S)`` mask,
    True where a query may read a key (causal, real keys only)."""
    total = mask.shape[1]
    positions = (mask.long().cumsum(1) - 1).clamp(min=0)[:, total - queries :]
    query_pos = torch.arange(total - queries, total, device=mask.device)
    keys = torch.arange(total, device=mask.device)
    causal = query_pos[:, None] >= keys[None, :]
    # A padded query would read no key at all (NaN): let every query read itself.
    itself = query_pos[:, None] == keys[None, :]
    return positions, ((causal[None] & mask[:, None, :]) | itself[None])[:, None]


def _init(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)
