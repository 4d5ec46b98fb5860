"""Hand-set (P, Q) weights under which a linear transformer runs a known algorithm, and the algorithms.

One layer ``z_j <- z_j + (1/m) Σ_i P z_i (z_iᵀ Q z_j)`` with ``P = e_D e_Dᵀ`` only writes the last
coordinate of each token. If that coordinate holds a residual that is affine in a weight vector w,
and ``z_iᵀ Q z_j = η g_iᵀ h_j`` for an update direction g_i and the residual's slope h_j, the layer
is one batch step on w for every token at once (the argument of Ahn et al. 2023 for regression and
Wang et al. 2024 for TD). The prediction is minus the query's last coordinate. Concretely:

- preconditioned GD on least squares: tokens ``[x; y]`` (residual y - wᵀx), ``Q_xx = -η Γᵀ``:
  ``w <- w + (η/m) Γ Σ (y_i - wᵀx_i) x_i``;
- batch TD(0): tokens ``[φ; γφ'; r]`` (residual = TD error δ = r + wᵀγφ' - wᵀφ),
  ``Q_φφ = -α I, Q_φψ = α I``: ``w <- w + (α/m) Σ δ_i φ_i``;
- residual gradient: ``w <- w + (α/m) Σ δ_i (φ_i - γφ'_i)``;
- batch TD(λ): ``w <- w + (α/m) Σ δ_i e_i`` with eligibility traces ``e_i = Σ_{k<=i} (γλ)^{i-k} φ_k``.
  The trace of a token is not a function of that token alone, so the tokens carry it:
  ``[φ; γφ'; e; r]`` (``tokens_with_traces``), and ``Q_eφ = -α I, Q_eψ = α I``.
"""

from __future__ import annotations

import torch

from baselines.icl.models import LinearTransformer


def _last_row_writer(dim: int, dtype=torch.float64) -> torch.Tensor:
    P = torch.zeros(dim, dim, dtype=dtype)
    P[-1, -1] = 1.0
    return P


@torch.no_grad()
def set_weights(model: LinearTransformer, P: torch.Tensor, Q: torch.Tensor) -> LinearTransformer:
    """Give every layer of ``model`` the same (P, Q)."""
    model.P.copy_(P.to(model.P).expand_as(model.P))
    model.Q.copy_(Q.to(model.Q).expand_as(model.Q))
    return model


def gd_weights(d: int, step_size: float, preconditioner: torch.Tensor | None = None):
    """(P, Q) of one preconditioned GD step on tokens [x; y] (Γ = I when ``preconditioner`` is None)."""
    gamma = torch.eye(d, dtype=torch.float64) if preconditioner is None else preconditioner.double()
    Q = torch.zeros(d + 1, d + 1, dtype=torch.float64)
    Q[:d, :d] = -step_size * gamma.T
    return _last_row_writer(d + 1), Q


def td_weights(d: int, step_size: float, method: str = "td0"):
    """(P, Q) of one batch step of ``td0``, ``residual_gradient`` (tokens [φ; γφ'; r]) or ``td_lambda``
    (tokens [φ; γφ'; e; r], see ``tokens_with_traces``)."""
    eye = torch.eye(d, dtype=torch.float64)
    phi, psi = slice(0, d), slice(d, 2 * d)
    if method == "td_lambda":
        Q = torch.zeros(3 * d + 1, 3 * d + 1, dtype=torch.float64)
        trace = slice(2 * d, 3 * d)
        Q[trace, phi], Q[trace, psi] = -step_size * eye, step_size * eye
        return _last_row_writer(3 * d + 1), Q
    Q = torch.zeros(2 * d + 1, 2 * d + 1, dtype=torch.float64)
    Q[phi, phi], Q[phi, psi] = -step_size * eye, step_size * eye
    if method == "residual_gradient":
        Q[psi, phi], Q[psi, psi] = step_size * eye, -step_size * eye
    elif method != "td0":
        raise ValueError(f"method must be 'td0', 'td_lambda' or 'residual_gradient'; got {method!r}")
    return _last_row_writer(2 * d + 1), Q


def eligibility_traces(phi: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """e_i = Σ_{k<=i} (γλ)^{i-k} φ_k along axis 1 of ``phi (B, n, d)``."""
    traces = torch.zeros_like(phi)
    running = torch.zeros_like(phi[:, 0])
    for i in range(phi.shape[1]):
        running = gamma * lam * running + phi[:, i]
        traces[:, i] = running
    return traces


def tokens_with_traces(context: torch.Tensor, d: int, gamma: float, lam: float) -> torch.Tensor:
    """MRP context rows [φ; γφ'; r] -> [φ; γφ'; e; r] for the TD(λ) construction."""
    traces = eligibility_traces(context[..., :d], gamma, lam)
    return torch.cat([context[..., : 2 * d], traces, context[..., 2 * d :]], -1)


# ---- the algorithms themselves ------------------------------------------------------------------


def preconditioned_gd(
    context: torch.Tensor, query: torch.Tensor, steps: int, step_size: float, preconditioner=None
) -> torch.Tensor:
    """x_qᵀ w_L after L steps w <- w + (η/m) Γ Xᵀ(y - Xw) from w = 0, batched over axis 0."""
    d = query.shape[-1]
    x, y = context[..., :d], context[..., d]
    m = context.shape[1]
    if preconditioner is None:
        gamma = torch.eye(d, dtype=context.dtype, device=context.device)
    else:
        gamma = preconditioner.to(context)
    w = torch.zeros_like(query)
    for _ in range(steps):
        residual = y - torch.einsum("bnd,bd->bn", x, w)
        gradient = torch.einsum("bnd,bn->bd", x, residual)
        if gamma.dim() == 3:  # one preconditioner per task, e.g. the oracle Σ⁻¹
            gradient = torch.einsum("bij,bj->bi", gamma, gradient)
        else:
            gradient = gradient @ gamma.transpose(-1, -2)
        w = w + step_size / m * gradient
    return (w * query).sum(-1)


def batch_td(
    context: torch.Tensor,
    query: torch.Tensor,
    steps: int,
    step_size: float,
    method: str = "td0",
    gamma: float = 0.9,
    lam: float = 0.0,
    return_weights: bool = False,
):
    """φ_qᵀ w_L after L batch steps from w = 0 on rows [φ; γφ'; r] (``method`` as ``td_weights``)."""
    d = query.shape[-1]
    phi, psi, r = context[..., :d], context[..., d : 2 * d], context[..., 2 * d]
    if method == "td0":
        direction = phi
    elif method == "residual_gradient":
        direction = phi - psi
    elif method == "td_lambda":
        direction = eligibility_traces(phi, gamma, lam)
    else:
        raise ValueError(f"method must be 'td0', 'td_lambda' or 'residual_gradient'; got {method!r}")
    m = context.shape[1]
    w = torch.zeros_like(query)
    for _ in range(steps):
        delta = r + torch.einsum("bnd,bd->bn", psi - phi, w)
        w = w + step_size / m * torch.einsum("bnd,bn->bd", direction, delta)
    prediction = (w * query).sum(-1)
    return (prediction, w) if return_weights else prediction


def implied_weights(model: LinearTransformer, context: torch.Tensor) -> torch.Tensor:
    """The weight vector w with prediction = wᵀq for every query q (linear attention is linear in q)."""
    batch, _, _ = context.shape
    q = model.query_dim
    eye = torch.eye(q, dtype=context.dtype, device=context.device)
    length = torch.full((batch,), context.shape[1], device=context.device)
    columns = [model(context, length, eye[k].expand(batch, q)) for k in range(q)]
    return torch.stack(columns, -1)


def preconditioner_of(model: LinearTransformer) -> torch.Tensor:
    """The learned Γ of a one-layer regression model, ŷ ≈ x_qᵀ Γ (1/n) Σ y_i x_i.

    With P's last row [p_x; p_y] and Q's first d columns [Q_xx; q_yxᵀ], the prediction
    -(1/n) Σ (pᵀz_i)(z_iᵀ Q[:, :d] x_q) has two terms linear in w, p_y y_i x_iᵀQ_xx x_q and
    (p_xᵀx_i) y_i (q_yxᵀx_q), so Γ = -(p_y Q_xxᵀ + q_yx p_xᵀ). The other terms are even in w: they
    cannot correlate with the target, and at the optimum they vanish.
    """
    d = model.query_dim
    P, Q = model.layer_weights(0)
    p_x, p_y = P[-1, :d], P[-1, -1]
    q_yx = Q[d, :d]
    return (-(p_y * Q[:d, :d].T + torch.outer(q_yx, p_x))).detach()


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of two tensors, flattened."""
    return torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0)
