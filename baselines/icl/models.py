"""In-context models with one API, on CPU and CUDA.

Every model reads a batch of episodes in the env's layout (see ``samplers``) and offers

- ``forward(context, length, query) -> (B,)``: the prediction for ``query`` from the first
  ``length[b]`` rows of ``context[b]`` (rows past ``length`` are ignored) — what an agent needs;
- ``forward_all(context, queries) -> (B, n)``: the prediction at every step t from
  ``context[:, :t]`` and ``queries[:, t]`` — what training on every prefix needs.

Models:

- ``LinearTransformer``: the linear self-attention of the in-context regression analyses
  (Ahn et al. 2023, "Transformers learn to implement preconditioned gradient descent for in-context
  learning") and of in-context TD (Wang et al. 2024, "Transformers can learn temporal difference
  methods for in-context reinforcement learning"). Tokens are columns ``z_i`` (the context rows,
  ``[x; y]`` or ``[φ; γφ'; r]``) and the query ``[q; 0]``; layer l maps every token
  ``z_j <- z_j + (1/m) Σ_{i<m} P_l z_i σ(z_iᵀ Q_l z_j)`` over the m context tokens and the
  prediction is minus the query token's last coordinate.
- ``SequenceModel(mixer="softmax")``: a small GPT over interleaved query and example tokens with a
  prediction at every query; ``mixer="rebased"`` (Aksenov et al. 2024, "Linear transformers with
  learnable kernel functions are better in-context models") or ``"based"`` swaps the softmax for
  kernel linear attention, run by ``fla`` on CUDA when it is importable and by the torch reference
  everywhere else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from baselines.configs import check_choice, fail

ACTIVATIONS = (None, "softmax", "relu")
MIXERS = ("softmax", "rebased", "based")
MODELS = ("linear", *MIXERS)
BACKENDS = ("auto", "torch", "fla")
NORMALIZERS = ("n", "length")


@dataclass
class ModelConfig:
    """The network ``build_model`` builds; the prompts' sizes come with them (``build_model``'s other
    arguments). The linear model reads the first group of options, the sequence models the second."""

    kind: str = "linear"
    """``linear`` (P, Q linear self-attention), ``softmax`` (GPT), ``rebased`` or ``based``; named
    ``model`` on the command line and in messages."""
    layers: int = 1
    """Number of attention layers."""
    tied: bool = False
    """Linear model: one (P, Q) shared by all layers."""
    activation: str | None = None
    """Linear model: ``None``, ``softmax`` or ``relu`` on the attention scores."""
    init_std: float = 0.02
    """Linear model: standard deviation of the initial P and Q entries."""
    normalize_by: str = "n"
    """Linear model: the attention sum's 1/m uses m = ``n`` (fixed; shorter contexts count as
    zero-padded) or m = ``length`` (the number of examples present)."""
    width: int = 64
    """Sequence models: residual width."""
    heads: int = 4
    """Sequence models: attention heads."""
    feature_dim: int = 16
    """ReBased/Based: q and k feature size per head."""
    backend: str = "auto"
    """ReBased/Based: ``auto`` (fla on CUDA when importable), ``torch`` or ``fla``."""

    def validate(self) -> None:
        """Raise a ``ValueError`` naming the first bad field (the types are checked already)."""
        check_choice("model", self.kind, MODELS)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("backend", self.backend, BACKENDS)
        check_choice("normalize_by", self.normalize_by, NORMALIZERS)
        for name in ("layers", "width", "heads", "feature_dim"):
            if getattr(self, name) < 1:
                fail(name, f"must be a positive integer, got {getattr(self, name)!r}")
        if not math.isfinite(self.init_std) or self.init_std <= 0:
            fail("init_std", f"must be a finite number > 0, got {self.init_std!r}")
        if self.kind != "linear":
            if self.activation is not None:
                fail("activation", f"applies to the linear model only, not model={self.kind!r}")
            if self.tied:
                fail("tied", f"applies to the linear model only, not model={self.kind!r}")
            if self.width % self.heads:
                fail("width", f"({self.width}) must be divisible by heads ({self.heads})")
        if self.backend == "fla" and self.kind not in ("rebased", "based"):
            fail("backend", f"'fla' applies to rebased/based models, not model={self.kind!r}")


def _queries_with(context: torch.Tensor, length: torch.Tensor, query: torch.Tensor, query_dim: int):
    """Past queries are the context rows' first ``query_dim`` entries; put ``query`` at ``length``."""
    needed = int(length.max()) + 1
    if context.shape[1] < needed:
        context = F.pad(context, (0, 0, 0, needed - context.shape[1]))
    context = context[:, :needed]
    queries = context[..., :query_dim].clone()
    queries[torch.arange(context.shape[0], device=context.device), length] = query.to(queries.dtype)
    return context, queries


class InContextModel(nn.Module):
    """Shared API; subclasses implement ``forward_all`` (and may override ``forward``)."""

    context_dim: int
    query_dim: int

    def forward_all(self, context: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, context: torch.Tensor, length: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        length = torch.as_tensor(length, device=context.device, dtype=torch.long).reshape(-1)
        context, queries = _queries_with(context, length, query, self.query_dim)
        # Rows at or past ``length`` must not leak: causal models never look ahead, but zero them anyway.
        rows = torch.arange(context.shape[1], device=context.device)
        context = context * (rows < length.unsqueeze(1)).unsqueeze(-1).to(context.dtype)
        predictions = self.forward_all(context, queries)
        return predictions.gather(1, length.unsqueeze(1)).squeeze(1)


class LinearTransformer(InContextModel):
    """Linear self-attention with the (P, Q) parameterisation; ``tied`` shares one (P, Q) by all layers.

    ``normalizer``: the m of the 1/m in front of the attention sum: ``None`` divides by the number of
    context tokens (the analyses' 1/n), an int divides by that fixed number — what a model trained at
    n does when fewer rows are filled in and the rest are zero, as in the env's observation; it keeps
    short contexts from being blown up by 1/t through several layers.

    Without an activation the layer maps every token by the same matrix ``B = I + P S Q / m``, with
    ``S = Σ_i z_i z_iᵀ`` the (D×D) key-value summary of the context, so a whole forward pass runs on
    D×D matrices: ``S <- B S Bᵀ``, ``z_q <- B z_q``. ``forward_all`` runs it on every prefix's summary.
    """

    def __init__(
        self,
        context_dim: int,
        query_dim: int,
        num_layers: int,
        *,
        tied: bool = False,
        activation: str | None = None,
        init_std: float = 0.02,
        normalizer: int | None = None,
    ) -> None:
        super().__init__()
        if normalizer is not None and normalizer < 1:
            raise ValueError(
                f"normalizer must be None (divide by the context length) or >= 1, got {normalizer}"
            )
        self.normalizer = normalizer
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if not 0 < query_dim < context_dim:
            raise ValueError(f"query_dim must be in (0, context_dim={context_dim}), got {query_dim}")
        self.context_dim, self.query_dim = context_dim, query_dim
        self.num_layers, self.tied, self.activation = num_layers, tied, activation
        stored = 1 if tied else num_layers
        d = context_dim
        self.P = nn.Parameter(init_std * torch.randn(stored, d, d))
        self.Q = nn.Parameter(init_std * torch.randn(stored, d, d))

    def layer_weights(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = 0 if self.tied else layer
        return self.P[index], self.Q[index]

    def query_token(self, query: torch.Tensor) -> torch.Tensor:
        return F.pad(query, (0, self.context_dim - self.query_dim))

    # ---- linear attention: everything through the D×D summary -------------------------------
    def run_summary(
        self, summary: torch.Tensor, query_token: torch.Tensor, count: torch.Tensor
    ) -> torch.Tensor:
        """Prediction from summaries ``S (..., D, D)``, query tokens ``(..., D)``, context sizes ``(...)``."""
        if self.normalizer is not None:
            count = torch.full_like(count, self.normalizer)
        scale = 1.0 / count.clamp_min(1).to(summary.dtype)[..., None, None]
        eye = torch.eye(self.context_dim, device=summary.device, dtype=summary.dtype)
        z = query_token.unsqueeze(-1)
        for layer in range(self.num_layers):
            P, Q = self.layer_weights(layer)
            B = eye + scale * (P @ summary @ Q)
            z = B @ z
            if layer + 1 < self.num_layers:
                summary = B @ summary @ B.transpose(-1, -2)
        return -z[..., -1, 0]

    # ---- explicit tokens (needed with an activation) ------------------------------------------
    def run_tokens(
        self, context: torch.Tensor, valid: torch.Tensor, query_token: torch.Tensor
    ) -> torch.Tensor:
        """Prediction from context tokens ``(B, n, D)`` with mask ``valid (B, n)`` and query ``(B, D)``."""
        tokens = torch.cat([context * valid.unsqueeze(-1), query_token.unsqueeze(1)], 1)
        key_mask = F.pad(valid, (0, 1), value=False)  # the query is never a key
        count = (
            valid.sum(1)
            if self.normalizer is None
            else torch.full_like(valid[:, 0], self.normalizer, dtype=torch.long)
        )
        count = count.clamp_min(1).to(context.dtype)[:, None, None]
        for layer in range(self.num_layers):
            P, Q = self.layer_weights(layer)
            scores = tokens @ Q.transpose(0, 1) @ tokens.transpose(1, 2)  # [b, j, i] = z_iᵀ Q z_j
            if self.activation == "softmax":
                weights = torch.softmax(scores.masked_fill(~key_mask.unsqueeze(1), -torch.inf), -1)
                weights = torch.nan_to_num(weights)  # an empty context attends to nothing
            else:
                weights = scores if self.activation is None else torch.relu(scores)
                weights = weights * key_mask.unsqueeze(1) / count
            tokens = tokens + weights @ tokens @ P.transpose(0, 1)
        return -tokens[:, -1, -1]

    def forward(self, context: torch.Tensor, length: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        length = torch.as_tensor(length, device=context.device, dtype=torch.long).reshape(-1)
        valid = torch.arange(context.shape[1], device=context.device) < length.unsqueeze(1)
        if self.activation is None:
            masked = context * valid.unsqueeze(-1)
            summary = masked.transpose(1, 2) @ masked
            return self.run_summary(summary, self.query_token(query), length)
        return self.run_tokens(context, valid, self.query_token(query))

    def forward_all(self, context: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        batch, steps, _ = context.shape
        if self.activation is None:
            outer = context.unsqueeze(-1) * context.unsqueeze(-2)
            # Exclusive prefix sums: step t sees rows 0..t-1.
            summary = F.pad(outer.cumsum(1), (0, 0, 0, 0, 1, 0))[:, :steps]
            count = torch.arange(steps, device=context.device).expand(batch, steps)
            return self.run_summary(summary, self.query_token(queries), count)
        out = []
        for t in range(steps):
            valid = torch.zeros(batch, steps, dtype=torch.bool, device=context.device)
            valid[:, :t] = True
            out.append(self.run_tokens(context, valid, self.query_token(queries[:, t])))
        return torch.stack(out, 1)


# ---- sequence models: softmax GPT and kernel linear attention -----------------------------------


def rebased_feature_map(
    x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """ReBased's learnable kernel input: normalise each feature vector, then scale and shift."""
    x = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + eps)
    return gamma * x + beta


def kernel_attention_reference(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kind: str, eps: float = 1e-5
) -> torch.Tensor:
    """Causal normalised kernel attention in torch; q, k ``(B, T, H, K)``, v ``(B, T, H, V)``.

    ``rebased``: weight (s)² with s = q·k/√K (fla's ``parallel_rebased``); ``based``: the
    second-order Taylor weight 1 + s + s²/2 of exp(s) (Arora et al. 2024's Based feature map, whose
    dot products are that polynomial); ``linear``: φ(q)·φ(k) with φ = elu + 1 (Katharopoulos et al.
    2020, plain linear attention). Output = Σ_i w_ti v_i / (Σ_i w_ti + eps).
    """
    if kind == "linear":
        weights = torch.einsum("bthk,bshk->bhts", F.elu(q) + 1, F.elu(k) + 1)
    else:
        scores = torch.einsum("bthk,bshk->bhts", q, k) * q.shape[-1] ** -0.5
        weights = scores.square() if kind == "rebased" else 1 + scores + 0.5 * scores.square()
    steps = q.shape[1]
    causal = torch.ones(steps, steps, dtype=torch.bool, device=q.device).tril()
    weights = weights.masked_fill(~causal, 0)
    out = torch.einsum("bhts,bshv->bthv", weights, v)
    return out / (weights.sum(-1).transpose(1, 2).unsqueeze(-1) + eps)


def fla_available() -> bool:
    """Whether ``fla``'s Triton kernels can run here (a CUDA device and the package)."""
    if not torch.cuda.is_available():
        return False
    try:
        import fla.ops.rebased  # noqa: F401
    except Exception:  # ImportError, or a Triton/driver mismatch raising at import
        return False
    return True


def kernel_attention_fla(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kind: str, eps: float = 1e-5):
    """The same attention through fla's fused kernels (CUDA only)."""
    # Under autocast the normalised q, k come out float32 while v is bf16; fla's dots need one dtype.
    q, k = q.to(v.dtype), k.to(v.dtype)
    if kind == "rebased":
        from fla.ops.rebased import parallel_rebased

        return parallel_rebased(q, k, v, eps=eps, use_scale=True, use_normalize=True)
    from fla.ops.based import parallel_based

    return parallel_based(q, k, v, scale=q.shape[-1] ** -0.5, use_norm=True)


class KernelAttention(nn.Module):
    """ReBased (or Based, or plain ``linear``) causal linear attention; ReBased's kernel is learnable."""

    def __init__(self, width: int, heads: int, feature_dim: int, kind: str, backend: str = "auto") -> None:
        super().__init__()
        check_choice("backend", backend, BACKENDS)
        self.heads, self.feature_dim, self.kind, self.backend = heads, feature_dim, kind, backend
        self.q_proj = nn.Linear(width, heads * feature_dim, bias=False)
        self.k_proj = nn.Linear(width, heads * feature_dim, bias=False)
        self.v_proj = nn.Linear(width, width, bias=False)
        self.out_proj = nn.Linear(width, width, bias=False)
        self.gamma = nn.Parameter(torch.ones(heads, feature_dim))
        self.beta = nn.Parameter(torch.zeros(heads, feature_dim))

    def use_fla(self, x: torch.Tensor) -> bool:
        if self.backend == "fla":
            if not (x.is_cuda and fla_available()):
                raise RuntimeError("backend='fla' needs a CUDA tensor and the fla-core package")
            return True
        return self.backend == "auto" and x.is_cuda and fla_available()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, width = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.feature_dim)
        k = self.k_proj(x).view(b, t, self.heads, self.feature_dim)
        v = self.v_proj(x).view(b, t, self.heads, width // self.heads)
        if self.kind == "rebased":
            q = rebased_feature_map(q, self.gamma, self.beta)
            k = rebased_feature_map(k, self.gamma, self.beta)
        fused = self.kind != "linear" and self.use_fla(x)  # fla's kernels here: rebased and based
        attend = kernel_attention_fla if fused else kernel_attention_reference
        return self.out_proj(attend(q, k, v, self.kind).reshape(b, t, width))


class SoftmaxAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.out_proj = nn.Linear(width, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, width = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out_proj(out.transpose(1, 2).reshape(b, t, width))


class ShortConvolution(nn.Module):
    """A causal depthwise convolution over the last ``kernel`` tokens: what lets one attention layer
    match a token by the token before it (Based's short convolutions, Arora et al. 2024)."""

    def __init__(self, width: int, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel
        self.conv = nn.Conv1d(width, width, kernel, groups=width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x.transpose(1, 2), (self.kernel - 1, 0))  # pad on the left: causal
        return self.conv(padded).transpose(1, 2)


class Block(nn.Module):
    """Pre-norm block: (short convolution, when ``conv_kernel``), the mixer, an MLP."""

    def __init__(
        self, width: int, heads: int, mixer: str, feature_dim: int, backend: str, conv_kernel: int = 0
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.norm2 = nn.LayerNorm(width)
        self.conv = ShortConvolution(width, conv_kernel) if conv_kernel else None
        if mixer == "softmax":
            self.mix = SoftmaxAttention(width, heads)
        else:
            self.mix = KernelAttention(width, heads, feature_dim, mixer, backend)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        if self.conv is not None:
            h = h + self.conv(h)
        x = x + self.mix(h)
        return x + self.mlp(self.norm2(x))


class SequenceModel(InContextModel):
    """A small pre-norm transformer over ``q_0, c_0, q_1, c_1, ...`` reading predictions at each ``q_t``.

    Query tokens are ``[q, 0, 1]`` and example tokens ``[c, 0]`` (the last entry flags a query), read
    in by one linear map with learned positions, as in Garg et al. 2022's in-context regression GPT.
    """

    def __init__(
        self,
        context_dim: int,
        query_dim: int,
        num_layers: int,
        *,
        max_steps: int,
        mixer: str = "softmax",
        width: int = 64,
        heads: int = 4,
        feature_dim: int = 16,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if mixer not in MIXERS:
            raise ValueError(f"mixer must be one of {MIXERS}; got {mixer!r}")
        if width % heads:
            raise ValueError(f"width ({width}) must be divisible by heads ({heads})")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.context_dim, self.query_dim, self.max_steps, self.mixer = (
            context_dim,
            query_dim,
            max_steps,
            mixer,
        )
        self.read_in = nn.Linear(context_dim + 1, width)
        self.position = nn.Parameter(0.02 * torch.randn(2 * max_steps, width))
        self.blocks = nn.ModuleList(
            Block(width, heads, mixer, feature_dim, backend) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(width)
        self.read_out = nn.Linear(width, 1)

    def forward_all(self, context: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        batch, steps, _ = context.shape
        if steps > self.max_steps:
            raise ValueError(f"episodes of {steps} steps exceed this model's max_steps={self.max_steps}")
        query_tokens = F.pad(queries, (0, self.context_dim - self.query_dim + 1))
        query_tokens[..., -1] = 1.0
        example_tokens = F.pad(context, (0, 1))
        tokens = torch.stack([query_tokens, example_tokens], 2).reshape(batch, 2 * steps, -1)
        x = self.read_in(tokens) + self.position[: 2 * steps]
        for block in self.blocks:
            x = block(x)
        return self.read_out(self.norm(x[:, 0::2])).squeeze(-1)


#: The mixer of each model kind in a token model: ``linear`` is plain linear attention there.
RECALL_MIXERS = {"softmax": "softmax", "rebased": "rebased", "based": "based", "linear": "linear"}


class RecallModel(nn.Module):
    """A token language model for associative recall: embeddings and learned positions, blocks of
    short convolution + mixer + MLP (the backbone of Zoology's MQAR models; only the mixer differs
    between ``softmax``, ``rebased``, ``based`` and ``linear``), a head over the vocabulary.

    - ``forward_all(tokens (B, L), positions (B, D)) -> logits (B, D, V)`` at the query positions
      (causal: the logits at p read tokens 0..p), what training needs;
    - ``forward(tokens (B, L), length (B,), query (B,)) -> logits (B, V)``: the env's observation,
      the query placed at position ``length``.
    """

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        num_layers: int,
        *,
        mixer: str = "softmax",
        width: int = 64,
        heads: int = 4,
        feature_dim: int = 16,
        backend: str = "auto",
        conv_kernel: int = 3,
    ) -> None:
        super().__init__()
        if mixer not in RECALL_MIXERS.values():
            raise ValueError(f"mixer must be one of {tuple(RECALL_MIXERS)}; got {mixer!r}")
        if width % heads:
            raise ValueError(f"width ({width}) must be divisible by heads ({heads})")
        self.vocab_size, self.max_len, self.mixer = vocab_size, max_len, mixer
        self.embed = nn.Embedding(vocab_size, width)
        self.position = nn.Parameter(0.02 * torch.randn(max_len, width))
        self.blocks = nn.ModuleList(
            Block(width, heads, mixer, feature_dim, backend, conv_kernel) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab_size, bias=False)

    def hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        steps = tokens.shape[1]
        if steps > self.max_len:
            raise ValueError(f"sequences of {steps} tokens exceed this model's max_len={self.max_len}")
        x = self.embed(tokens) + self.position[:steps]
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward_all(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        hidden = self.hidden(tokens[:, : int(positions.max()) + 1])
        picked = hidden.gather(1, positions.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
        return self.head(picked)

    def forward(self, tokens: torch.Tensor, length: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        length = torch.as_tensor(length, device=tokens.device, dtype=torch.long).reshape(-1)
        needed = int(length.max()) + 1
        tokens = F.pad(tokens, (0, max(needed - tokens.shape[1], 0)))[:, :needed].clone()
        tokens[torch.arange(tokens.shape[0], device=tokens.device), length] = query.to(tokens.dtype)
        return self.forward_all(tokens, length.unsqueeze(1)).squeeze(1)


def build_recall_model(config: ModelConfig, vocab_size: int, max_len: int) -> RecallModel:
    """The token model of ``config`` for MQAR (``config.kind`` picks the mixer, see RECALL_MIXERS)."""
    return RecallModel(
        vocab_size,
        max_len,
        config.layers,
        mixer=RECALL_MIXERS[config.kind],
        width=config.width,
        heads=config.heads,
        feature_dim=config.feature_dim,
        backend=config.backend,
    )


def flops_per_prompt(model: SequenceModel, steps: int) -> float:
    """Forward-pass FLOPs of one episode (matmuls only), the usual 6N-style accounting's basis."""
    tokens = 2 * steps
    width = model.read_in.out_features
    params = sum(p.numel() for n, p in model.named_parameters() if p.dim() == 2 and "position" not in n)
    # 2 FLOPs per weight per token, plus causal attention's QKᵀ and AV (half the T×T square each).
    return 2 * params * tokens + len(model.blocks) * 2 * tokens * tokens * width


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build_model(config: ModelConfig, context_dim: int, query_dim: int, *, max_steps: int) -> InContextModel:
    """The model ``config`` describes, for prompts of ``context_dim``-wide rows and ``query_dim``-wide
    queries, at most ``max_steps`` steps long (so at most ``max_steps - 1`` examples in context: the
    m of ``normalize_by="n"``)."""
    if config.kind == "linear":
        return LinearTransformer(
            context_dim,
            query_dim,
            config.layers,
            tied=config.tied,
            activation=config.activation,
            init_std=config.init_std,
            normalizer=max_steps - 1 if config.normalize_by == "n" else None,
        )
    if config.kind in MIXERS:
        return SequenceModel(
            context_dim,
            query_dim,
            config.layers,
            max_steps=max_steps,
            mixer=config.kind,
            width=config.width,
            heads=config.heads,
            feature_dim=config.feature_dim,
            backend=config.backend,
        )
    raise ValueError(f"model must be one of {', '.join(map(repr, MODELS))}; got {config.kind!r}")


__all__ = [
    "ACTIVATIONS",
    "BACKENDS",
    "MIXERS",
    "MODELS",
    "InContextModel",
    "KernelAttention",
    "LinearTransformer",
    "ModelConfig",
    "RecallModel",
    "SequenceModel",
    "build_model",
    "build_recall_model",
    "count_parameters",
    "flops_per_prompt",
    "kernel_attention_reference",
    "fla_available",
]
