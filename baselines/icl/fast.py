"""Fast training steps for the linear transformer on in-context regression (data generation included).

The linear transformer sees a prompt only through the D×D summary S = Σ_i z_i z_iᵀ of its context
and the query token (see ``LinearTransformer``), and for y = <w, x> the summary is itself a function
of the Gram matrix G = Σ_i x_i x_iᵀ and w:

    S = [[G, G w], [wᵀ G, wᵀ G w]].

So a training step draws x and w, reduces x to G, and runs every layer on (D×D) matrices — O(n d²)
work per prompt for the data, O(L D³) for the model, no n×n attention and no (n, D) activations kept
for the backward pass. Three implementations of the same step (tested against each other):

- ``eager_token_step``: the model's explicit token path in eager mode (the anchor: what one would
  write first);
- ``SummaryStep``: the summary recursion, every tiny matrix product written as a broadcast
  multiply-and-sum so that ``torch.compile`` fuses a whole layer into a few elementwise kernels
  (cuBLAS is poor at millions of 6×6 products); data drawn inside the compiled graph;
- ``baselines.icl.triton_step`` (CUDA only): one Triton kernel per step doing everything for a block
  of prompts — random numbers, Gram matrix, forward, hand-derived backward, gradient reduction.
"""

from __future__ import annotations

import torch

from baselines.icl.models import LinearTransformer


def small_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` for tiny trailing matrices as multiply-and-sum (fusable elementwise work)."""
    return (a.unsqueeze(-1) * b.unsqueeze(-3)).sum(-2)


def summary_from_gram(gram: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """S = [[G, Gw], [wᵀG, wᵀGw]] for noiseless y = <w, x>; gram (B, d, d), w (B, d) -> (B, d+1, d+1)."""
    gw = (gram * w.unsqueeze(-2)).sum(-1)
    wgw = (gw * w).sum(-1)
    top = torch.cat([gram, gw.unsqueeze(-1)], -1)
    bottom = torch.cat([gw, wgw.unsqueeze(-1)], -1).unsqueeze(-2)
    return torch.cat([top, bottom], -2)


def summary_forward(
    P: torch.Tensor, Q: torch.Tensor, summary: torch.Tensor, z: torch.Tensor, count: int, fusable: bool = True
):
    """Prediction of the linear transformer from summaries.

    P, Q: (L, D, D) per-layer weights; summary (B, D, D); z (B, D) query tokens. ``fusable`` writes the
    products as multiply-and-sum (for ``torch.compile`` on GPU); otherwise ``torch.matmul`` (CPU).
    """
    mm = small_matmul if fusable else torch.matmul
    layers = P.shape[0]
    for layer in range(layers):
        pq = mm(mm(P[layer], summary), Q[layer]) / count
        z = z + (pq * z.unsqueeze(-2)).sum(-1)  # B z = z + (P S Q / m) z
        if layer + 1 < layers:
            b = pq + torch.eye(summary.shape[-1], device=summary.device, dtype=summary.dtype)
            summary = mm(mm(b, summary), b.transpose(-1, -2))
    return -z[..., -1]


def regression_loss(
    P: torch.Tensor, Q: torch.Tensor, batch: int, d: int, n: int, fusable: bool = True
) -> torch.Tensor:
    """Loss of one batch of fresh isotropic noiseless prompts (x, w ~ N(0, I)), drawn here."""
    x = torch.randn(batch, n + 1, d, device=P.device, dtype=P.dtype)
    w = torch.randn(batch, d, device=P.device, dtype=P.dtype)
    context = x[:, :n]
    gram = (
        (context.unsqueeze(-1) * context.unsqueeze(-2)).sum(1)
        if fusable
        else context.transpose(1, 2) @ context
    )
    query = x[:, n]
    target = (query * w).sum(-1)
    z = torch.cat([query, torch.zeros_like(query[:, :1])], -1)
    prediction = summary_forward(P, Q, summary_from_gram(gram, w), z, n, fusable)
    return (prediction - target).square().mean()


class SummaryStep:
    """One AdamW step of the linear transformer on fresh prompts, optionally compiled.

    ``step()`` returns the loss tensor (not synchronised). Weights are per layer (``model.P/Q``).
    """

    def __init__(
        self,
        model: LinearTransformer,
        *,
        batch: int,
        n: int,
        lr: float = 1e-3,
        compile: bool = True,
        mode: str | None = "max-autotune-no-cudagraphs",
    ) -> None:
        if model.activation is not None or model.tied:
            raise ValueError("the summary step needs an untied linear model without activation")
        self.model, self.batch, self.n, self.d = model, batch, n, model.query_dim
        fused = fusable = model.P.is_cuda
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0, fused=fused)

        def step() -> torch.Tensor:
            loss = regression_loss(model.P, model.Q, self.batch, self.d, self.n, fusable)
            loss.backward()
            return loss

        self._forward_backward = torch.compile(step, mode=mode) if compile else step

    def step(self) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=False)
        loss = self._forward_backward()
        self.optimizer.step()
        return loss


def eager_token_step(
    model: LinearTransformer, optimizer: torch.optim.Optimizer, batch: int, n: int
) -> torch.Tensor:
    """The anchor: sample explicit prompts and run the model's token path (einsum attention) eagerly."""
    d = model.query_dim
    x = torch.randn(batch, n + 1, d, device=model.P.device)
    w = torch.randn(batch, d, device=model.P.device)
    y = (x * w.unsqueeze(1)).sum(-1)
    context = torch.cat([x[:, :n], y[:, :n, None]], -1)
    valid = torch.ones(batch, n, dtype=torch.bool, device=x.device)
    prediction = model.run_tokens(context, valid, model.query_token(x[:, n]))
    loss = (prediction - y[:, n]).square().mean()
    optimizer.zero_grad(set_to_none=False)
    loss.backward()
    optimizer.step()
    return loss
