"""One fused Triton kernel per training step of the linear transformer on in-context regression.

CUDA only: importing this module imports triton, so nothing on the CPU path imports it.

Each program takes a block of prompts, one prompt per lane, and does everything in registers:

1. draws x_1..x_{n+1} and w ~ N(0, I) with Philox (``tl.randn4x``; counters = prompt index × stride),
2. accumulates the Gram matrix G = Σ_{i<=n} x_i x_iᵀ and forms S = [[G, Gw], [wᵀG, wᵀGw]],
   the query token z = [x_{n+1}; 0] and the target y = <w, x_{n+1}>,
3. runs the L layers on D×D matrices (M = P S Q / n, z <- z + M z, S <- (I+M) S (I+M)ᵀ),
4. back-propagates the squared error by hand:
   with B = I + M, z' = B z, S' = B S Bᵀ and upstream gradients z̄', S̄':
   B̄ = z̄' zᵀ + (S̄' + S̄'ᵀ) B S,  P̄ = B̄ Qᵀ S / n,  Q̄ = S Pᵀ B̄ / n,
   S̄ = Pᵀ B̄ Qᵀ / n + Bᵀ S̄' B,  z̄ = Bᵀ z̄',
5. sums the per-prompt gradients over its block and writes one partial row; torch sums the rows
   (deterministic, no atomics) and a fused AdamW applies them.

The D×D algebra is written out entry by entry: the kernel source is generated for the given
(d, n, L) and loaded from a file (Triton reads a kernel's source). ``FROM_MEMORY`` reads x and w
from tensors instead of drawing them, which is how the tests compare it with autograd.
"""

from __future__ import annotations

import hashlib
import importlib.util
import tempfile
from pathlib import Path

import torch


def _matrix(name: str, size: int) -> list[list[str]]:
    return [[f"{name}_{i}_{j}" for j in range(size)] for i in range(size)]


class _Writer:
    def __init__(self, indent: int = 4) -> None:
        self.lines: list[str] = []
        self.indent = indent

    def __call__(self, line: str) -> None:
        self.lines.append(" " * self.indent + line)

    def matmul(
        self, out: str, a, b, size: int, scale: str | None = None, transpose_a=False, transpose_b=False
    ):
        """out = a @ b (optionally transposed operands, times ``scale``); returns out's entry names."""
        names = _matrix(out, size)
        for i in range(size):
            for j in range(size):
                terms = []
                for k in range(size):
                    left = a[k][i] if transpose_a else a[i][k]
                    right = b[j][k] if transpose_b else b[k][j]
                    if left == "0.0" or right == "0.0":
                        continue
                    terms.append(f"{left} * {right}")
                expression = " + ".join(terms) if terms else "zero"
                if scale is not None:
                    expression = f"({expression}) * {scale}"
                self(f"{names[i][j]} = {expression}")
        return names


def generate_kernel_source(d: int, n: int, layers: int) -> str:
    size = d + 1
    w = _Writer()
    w("pid = tl.program_id(0)")
    w("lane = pid * BLOCK + tl.arange(0, BLOCK)")
    w("live = lane < batch")
    w("zero = tl.zeros([BLOCK], dtype=tl.float32)")
    w("base = lane * STRIDE  # int32: fine up to 2^31 / STRIDE prompts per step")
    # Gram matrix over the n context inputs.
    for i in range(d):
        for j in range(i, d):
            w(f"G_{i}_{j} = zero")
    groups = (d + 3) // 4
    w("for row in range(N):")
    w.indent = 8
    w("if FROM_MEMORY:")
    for k in range(d):
        w(f"    x_{k} = tl.load(x_ptr + (lane * (N + 1) + row) * D_IN + {k}, mask=live, other=0.0)")
    w("else:")
    for g in range(groups):
        names = [f"x_{4 * g + t}" if 4 * g + t < d else "_" for t in range(4)]
        w(f"    {', '.join(names)} = tl.randn4x(seed, base + row * {groups} + {g})")
    for i in range(d):
        for j in range(i, d):
            w(f"G_{i}_{j} += x_{i} * x_{j}")
    w.indent = 4
    # Query input and weights: counters after the context rows.
    tail = (2 * d + 3) // 4
    w("if FROM_MEMORY:")
    for k in range(d):
        w(f"    q_{k} = tl.load(x_ptr + (lane * (N + 1) + N) * D_IN + {k}, mask=live, other=0.0)")
        w(f"    w_{k} = tl.load(w_ptr + lane * D_IN + {k}, mask=live, other=0.0)")
    w("else:")
    flat = [f"q_{k}" for k in range(d)] + [f"w_{k}" for k in range(d)]
    for g in range(tail):
        names = [flat[4 * g + t] if 4 * g + t < 2 * d else "_" for t in range(4)]
        w(f"    {', '.join(names)} = tl.randn4x(seed, base + N * {groups} + {g})")
    # S_0 = [[G, Gw], [wᵀG, wᵀGw]].
    S = _matrix("S0", size)
    for i in range(d):
        for j in range(d):
            a, b = min(i, j), max(i, j)
            w(f"{S[i][j]} = G_{a}_{b}")
    for i in range(d):
        w(f"{S[i][d]} = " + " + ".join(f"G_{min(i, k)}_{max(i, k)} * w_{k}" for k in range(d)))
        w(f"{S[d][i]} = {S[i][d]}")
    w(f"{S[d][d]} = " + " + ".join(f"{S[k][d]} * w_{k}" for k in range(d)))
    w("target = " + " + ".join(f"q_{k} * w_{k}" for k in range(d)))
    z = [f"q_{k}" for k in range(d)] + ["zero"]
    # Weights: scalars loaded once per program.
    Ps, Qs = [], []
    for layer in range(layers):
        Pm, Qm = _matrix(f"P{layer}", size), _matrix(f"Q{layer}", size)
        for i in range(size):
            for j in range(size):
                offset = (layer * size + i) * size + j
                w(f"{Pm[i][j]} = tl.load(p_ptr + {offset})")
                w(f"{Qm[i][j]} = tl.load(q_ptr + {offset})")
        Ps.append(Pm)
        Qs.append(Qm)
    # Forward.
    Ss, Ms, zs = [S], [], [z]
    for layer in range(layers):
        T = w.matmul(f"T{layer}", Ps[layer], Ss[layer], size)
        M = w.matmul(f"M{layer}", T, Qs[layer], size, scale="INV_N")
        Ms.append(M)
        new_z = [f"z{layer + 1}_{i}" for i in range(size)]
        for i in range(size):
            w(
                f"{new_z[i]} = {zs[layer][i]} + "
                + " + ".join(f"{M[i][k]} * {zs[layer][k]}" for k in range(size))
            )
        zs.append(new_z)
        if layer + 1 < layers:
            Bm = [[f"({M[i][j]} + 1.0)" if i == j else M[i][j] for j in range(size)] for i in range(size)]
            U = w.matmul(f"U{layer}", Bm, Ss[layer], size)
            nxt = _matrix(f"S{layer + 1}", size)
            for i in range(size):
                for j in range(size):
                    if j < i:
                        w(f"{nxt[i][j]} = {nxt[j][i]}")
                    else:
                        w(f"{nxt[i][j]} = " + " + ".join(f"{U[i][k]} * {Bm[j][k]}" for k in range(size)))
            Ss.append(nxt)
    w(f"error = tl.where(live, -{zs[-1][d]} - target, 0.0)")
    w("loss_part = tl.sum(error * error, axis=0)")
    w("g = error * GRAD_SCALE")
    # Backward.
    zbar = ["0.0"] * d + ["(-g)"]
    Sbar = None
    for layer in reversed(range(layers)):
        size_range = range(size)
        Bm = [
            [f"({Ms[layer][i][j]} + 1.0)" if i == j else Ms[layer][i][j] for j in size_range]
            for i in size_range
        ]
        Bbar = _matrix(f"Bb{layer}", size)
        if Sbar is not None:
            sym = [[f"({Sbar[i][j]} + {Sbar[j][i]})" for j in size_range] for i in size_range]
            V = w.matmul(f"V{layer}", Bm, Ss[layer], size)
            W = w.matmul(f"W{layer}", sym, V, size)
        for i in size_range:
            for j in size_range:
                terms = [] if zbar[i] == "0.0" else [f"{zbar[i]} * {zs[layer][j]}"]
                if Sbar is not None:
                    terms.append(W[i][j])
                w(f"{Bbar[i][j]} = " + (" + ".join(terms) if terms else "zero"))
        # P̄ = B̄ Qᵀ S / n ; Q̄ = S Pᵀ B̄ / n
        BQ = w.matmul(f"BQ{layer}", Bbar, Qs[layer], size, transpose_b=True)
        Pbar = w.matmul(f"Pb{layer}", BQ, Ss[layer], size, scale="INV_N")
        SP = w.matmul(f"SP{layer}", Ss[layer], Ps[layer], size, transpose_b=True)
        Qbar = w.matmul(f"Qb{layer}", SP, Bbar, size, scale="INV_N")
        for i in size_range:
            for j in size_range:
                offset = (layer * size + i) * size + j
                w(f"tl.store(part_ptr + pid * PART + {offset}, tl.sum({Pbar[i][j]}, axis=0))")
                w(
                    f"tl.store(part_ptr + pid * PART + {layers * size * size + offset}, tl.sum({Qbar[i][j]}, axis=0))"
                )
        if layer == 0:
            break
        # S̄ = Pᵀ B̄ Qᵀ / n + Bᵀ S̄' B ; z̄ = Bᵀ z̄'
        PB = w.matmul(f"PB{layer}", Ps[layer], Bbar, size, transpose_a=True)
        first = w.matmul(f"SbA{layer}", PB, Qs[layer], size, scale="INV_N", transpose_b=True)
        if Sbar is not None:
            BtS = w.matmul(f"BtS{layer}", Bm, Sbar, size, transpose_a=True)
            second = w.matmul(f"SbB{layer}", BtS, Bm, size)
        new_Sbar = _matrix(f"Sb{layer}", size)
        for i in size_range:
            for j in size_range:
                extra = f" + {second[i][j]}" if Sbar is not None else ""
                w(f"{new_Sbar[i][j]} = {first[i][j]}{extra}")
        Sbar = new_Sbar
        new_zbar = [f"zb{layer}_{i}" for i in size_range]
        for i in size_range:
            terms = [f"{Bm[k][i]} * {zbar[k]}" for k in size_range if zbar[k] != "0.0"]
            w(f"{new_zbar[i]} = " + (" + ".join(terms) if terms else "zero"))
        zbar = new_zbar
    w("tl.store(part_ptr + pid * PART + 2 * LAYERS * D * D, loss_part)")
    body = "\n".join(w.lines)
    header = f"""# Generated by baselines/icl/triton_step.py for d={d}, n={n}, layers={layers}. Do not edit.
import triton
import triton.language as tl


@triton.jit(do_not_specialize=["seed", "batch"])
def linear_transformer_step(
    p_ptr, q_ptr, part_ptr, x_ptr, w_ptr, seed, batch, INV_N, GRAD_SCALE,
    N: tl.constexpr, D_IN: tl.constexpr, D: tl.constexpr, LAYERS: tl.constexpr, STRIDE: tl.constexpr,
    PART: tl.constexpr, BLOCK: tl.constexpr,
    FROM_MEMORY: tl.constexpr,
):
"""
    return header + body + "\n"


_KERNELS: dict[tuple[int, int, int], object] = {}


def load_kernel(d: int, n: int, layers: int):
    """Generate (once) and import the kernel for (d, n, L)."""
    key = (d, n, layers)
    if key not in _KERNELS:
        source = generate_kernel_source(d, n, layers)
        digest = hashlib.sha1(source.encode()).hexdigest()[:12]
        folder = Path(tempfile.gettempdir()) / "icl_triton_kernels"
        folder.mkdir(exist_ok=True)
        path = folder / f"lsa_step_{d}_{n}_{layers}_{digest}.py"
        if not path.exists():
            path.write_text(source)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _KERNELS[key] = module.linear_transformer_step
    return _KERNELS[key]


def random_stride(d: int, n: int) -> int:
    """Philox counters one prompt uses (each ``randn4x`` call consumes one counter)."""
    return n * ((d + 3) // 4) + (2 * d + 3) // 4


def fused_loss_and_grads(
    P: torch.Tensor,
    Q: torch.Tensor,
    batch: int,
    n: int,
    seed: int,
    *,
    block: int = 128,
    num_warps: int = 4,
    x: torch.Tensor | None = None,
    w: torch.Tensor | None = None,
):
    """Mean squared error and its gradients for P, Q (L, D, D) on ``batch`` prompts drawn in-kernel
    from ``seed`` (or read from ``x (B, n+1, d)``, ``w (B, d)``)."""
    layers, size, _ = P.shape
    d = size - 1
    kernel = load_kernel(d, n, layers)
    programs = triton_cdiv(batch, block)
    part_width = 2 * layers * size * size + 1
    parts = torch.empty(programs, part_width, device=P.device, dtype=torch.float32)
    from_memory = x is not None
    if from_memory:
        x, w = x.contiguous().float(), w.contiguous().float()
    else:
        x = w = parts  # unused pointers
    kernel[(programs,)](
        P.detach().contiguous(),
        Q.detach().contiguous(),
        parts,
        x,
        w,
        seed,
        batch,
        1.0 / n,
        2.0 / batch,
        N=n,
        D_IN=d,
        D=size,
        LAYERS=layers,
        STRIDE=random_stride(d, n),
        PART=part_width,
        BLOCK=block,
        FROM_MEMORY=from_memory,
        num_warps=num_warps,
    )
    total = parts.sum(0)
    half = layers * size * size
    loss = total[-1] / batch
    return loss, total[:half].view(layers, size, size), total[half : 2 * half].view(layers, size, size)


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


class TritonStep:
    """One AdamW step of an untied linear transformer with the fused kernel (``step()`` -> loss)."""

    def __init__(
        self, model, *, batch: int, n: int, lr: float = 1e-3, seed: int = 0, block: int = 128
    ) -> None:
        if model.activation is not None or model.tied:
            raise ValueError("the fused step needs an untied linear model without activation")
        self.model, self.batch, self.n, self.block = model, batch, n, block
        self.seed = seed
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0, fused=True)
        self.model.P.grad = torch.zeros_like(model.P)
        self.model.Q.grad = torch.zeros_like(model.Q)

    def step(self) -> torch.Tensor:
        self.seed += 1
        loss, grad_p, grad_q = fused_loss_and_grads(
            self.model.P, self.model.Q, self.batch, self.n, self.seed, block=self.block
        )
        self.model.P.grad.copy_(grad_p)
        self.model.Q.grad.copy_(grad_q)
        self.optimizer.step()
        return loss
