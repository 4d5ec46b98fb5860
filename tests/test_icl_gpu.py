"""CUDA checks: fla's kernels against the torch reference, the fused Triton step against autograd.

Skipped without CUDA (CI); ``python -m benchmarks.gpu_bench`` runs them on the device machine.
This file imports neither gymnasium nor the envs: the GPU machine has neither.
"""

from __future__ import annotations

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def needs_fla():
    from baselines.icl.models import fla_available

    if not fla_available():
        pytest.skip("fla-core is not installed here (carry its wheel to the device machine)")


@pytest.mark.parametrize("kind", ["rebased", "based"])
def test_fla_kernel_attention_matches_the_torch_reference(kind):
    needs_fla()
    from baselines.icl.models import kernel_attention_fla, kernel_attention_reference

    generator = torch.Generator(device="cuda").manual_seed(0)
    shape = (3, 42, 4, 16)  # batch, time (2 × 21 interleaved tokens), heads, feature dim
    q, k, v = (torch.randn(shape, device="cuda", generator=generator, requires_grad=True) for _ in range(3))
    ours = kernel_attention_fla(q, k, v, kind)
    eps = 1e-5 if kind == "rebased" else 1e-6  # the fla functions' own normaliser epsilons
    reference = kernel_attention_reference(q.double(), k.double(), v.double(), kind, eps=eps)
    # fla runs its dot products in tf32 on Hopper (10-bit mantissa): ~1e-3 relative error per score,
    # squared scores double it; 2e-2 absolute on O(1) outputs fails for any structural difference.
    torch.testing.assert_close(ours.double(), reference, rtol=2e-2, atol=2e-2)
    grad = torch.randn_like(ours)
    ours_grads = torch.autograd.grad(ours, (q, k, v), grad)
    reference_grads = torch.autograd.grad(reference, (q, k, v), grad.double())
    for a, b in zip(ours_grads, reference_grads):
        torch.testing.assert_close(a.double(), b.double(), rtol=5e-2, atol=5e-2)


def test_rebased_model_fla_and_torch_paths_agree():
    needs_fla()
    from baselines.icl.models import SequenceModel

    torch.manual_seed(0)
    model = SequenceModel(6, 5, 2, max_steps=21, mixer="rebased", width=64, feature_dim=16).cuda()
    context, queries = torch.randn(8, 21, 6, device="cuda"), torch.randn(8, 21, 5, device="cuda")
    with torch.no_grad():
        for block in model.blocks:
            block.mix.backend = "fla"
        fla_out = model.forward_all(context, queries)
        for block in model.blocks:
            block.mix.backend = "torch"
        torch_out = model.forward_all(context, queries)
    torch.testing.assert_close(fla_out, torch_out, rtol=2e-2, atol=2e-2)


# Layers 1 and 2 cover every generated piece (the S̄ chain starts at two layers); three layers only
# repeat them and would add another long kernel compilation.
@pytest.mark.parametrize("layers", [1, 2])
def test_fused_triton_step_matches_autograd(layers):
    from baselines.icl.fast import summary_forward, summary_from_gram
    from baselines.icl.triton_step import fused_loss_and_grads

    torch.manual_seed(layers)
    batch, n, d = 1000, 20, 5
    P = 0.2 * torch.randn(layers, d + 1, d + 1, device="cuda")
    Q = 0.2 * torch.randn(layers, d + 1, d + 1, device="cuda")
    x, w = torch.randn(batch, n + 1, d, device="cuda"), torch.randn(batch, d, device="cuda")
    loss, grad_p, grad_q = fused_loss_and_grads(P, Q, batch, n, seed=0, x=x, w=w)
    P64, Q64 = P.double().requires_grad_(), Q.double().requires_grad_()
    x64, w64 = x.double(), w.double()
    gram = x64[:, :n].transpose(1, 2) @ x64[:, :n]
    z = torch.cat([x64[:, n], torch.zeros(batch, 1, device="cuda", dtype=torch.float64)], -1)
    prediction = summary_forward(P64, Q64, summary_from_gram(gram, w64), z, n, fusable=False)
    reference = (prediction - (x64[:, n] * w64).sum(-1)).square().mean()
    reference.backward()
    # float32 sums of ~1e3 products per entry: 1e-4 relative (float32 epsilon is 1.2e-7).
    torch.testing.assert_close(loss.double(), reference.detach(), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(grad_p.double(), P64.grad, rtol=1e-3, atol=1e-4 * P64.grad.abs().max().item())
    torch.testing.assert_close(grad_q.double(), Q64.grad, rtol=1e-3, atol=1e-4 * Q64.grad.abs().max().item())


def test_fused_triton_step_draws_the_right_prompts():
    """In-kernel prompts: the zero model's loss is E y² = d; one GD step with Γ = n/(n+d+1) I has the
    one-layer optimum d(d+1)/(n+d+1) (Ahn et al. 2023)."""
    from baselines.icl.constructions import gd_weights
    from baselines.icl.triton_step import fused_loss_and_grads

    n, d, batch = 20, 5, 1 << 20
    zero = torch.zeros(1, d + 1, d + 1, device="cuda")
    loss, _, _ = fused_loss_and_grads(zero, zero, batch, n, seed=11)
    # y² with y ~ N(0, |x|²)... Var(y²) = E y⁴ - d² ≈ 2d² + 6d; se over 2^20 prompts ≈ 0.0085.
    assert abs(loss.item() - d) < 0.05
    P, Q = gd_weights(d, n / (n + d + 1))
    loss, _, _ = fused_loss_and_grads(P[None].float().cuda(), Q[None].float().cuda(), batch, n, seed=12)
    assert abs(loss.item() - d * (d + 1) / (n + d + 1)) < 0.02


def test_training_on_cuda_with_bf16_and_compile(tmp_path):
    from baselines.icl.models import ModelConfig
    from baselines.icl.samplers import PromptConfig
    from baselines.icl.train import TrainConfig, train

    # compile for the GPT and the TD loss; ReBased runs fla's own kernels (their autotuning is what
    # takes time there).
    runs = {
        "softmax": dict(model=ModelConfig(kind="softmax", layers=2, width=64), compile=True),
        "rebased": dict(model=ModelConfig(kind="rebased", layers=2, width=64), compile=False),
        "td": dict(
            model=ModelConfig(kind="linear", layers=2, width=64),
            compile=True,
            prompts=PromptConfig(task="icl-mrp", d=4, n=30),
            target="td",
        ),
    }
    for name, fields in runs.items():
        config = TrainConfig(
            steps=20,
            batch_size=256,
            device="cuda",
            bf16=True,
            out=str(tmp_path / name),
            progress=False,
            log_every=10,
            **fields,
        )
        run = train(config)
        assert (run / "model.safetensors").is_file()
