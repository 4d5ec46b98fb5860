"""Hand-set linear transformers are exactly GD / TD (float64), and the model API is consistent."""

from __future__ import annotations

import pytest
import torch

from baselines.icl.constructions import (
    batch_td,
    gd_weights,
    implied_weights,
    preconditioned_gd,
    set_weights,
    td_weights,
    tokens_with_traces,
)
from baselines.icl.models import LinearTransformer, ModelConfig, SequenceModel, build_model
from baselines.icl.samplers import MRPSampler, RegressionSampler

# One torch thread for these tiny tensors (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


# float64 round-off over a few layers of 6x6..13x13 products of O(1) numbers is ~1e-15 relative;
# 1e-12 leaves room for the larger values of 4-layer runs yet fails for any wrong entry of P or Q.
EXACT = 1e-12


def regression_prompt(batch=16, n=20, **kwargs):
    generator = torch.Generator().manual_seed(1)
    prompts = RegressionSampler(**kwargs).sample(batch, generator, num_steps=n + 1, dtype=torch.float64)
    return prompts.context[:, :n], prompts.queries[:, n]


def mrp_prompt(batch=16, n=30, **kwargs):
    generator = torch.Generator().manual_seed(2)
    prompts = MRPSampler(**kwargs).sample(batch, generator, num_steps=n + 1, dtype=torch.float64)
    return prompts.context[:, :n], prompts.queries[:, n]


def full_length(context):
    return torch.full((context.shape[0],), context.shape[1])


@pytest.mark.parametrize("layers", [1, 2, 4])
@pytest.mark.parametrize("preconditioned", [False, True])
def test_linear_transformer_is_preconditioned_gd(layers, preconditioned):
    context, query = regression_prompt(covariance="rotated", weight_prior="inverse_covariance")
    gamma = torch.randn(5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    gamma = gamma @ gamma.T / 5 if preconditioned else None
    model = set_weights(LinearTransformer(6, 5, layers, tied=False).double(), *gd_weights(5, 0.4, gamma))
    ours = model(context, full_length(context), query)
    reference = preconditioned_gd(context, query, layers, 0.4, gamma)
    assert torch.allclose(ours, reference, rtol=EXACT, atol=EXACT)
    assert reference.abs().mean() > 0.1  # the comparison is not between two zeros


@pytest.mark.parametrize("method", ["td0", "residual_gradient", "td_lambda"])
@pytest.mark.parametrize("layers", [1, 3])
def test_linear_transformer_is_batch_td(method, layers):
    context, query = mrp_prompt()
    tokens = tokens_with_traces(context, 4, 0.9, 0.6) if method == "td_lambda" else context
    model = LinearTransformer(tokens.shape[-1], 4, layers, tied=True).double()
    set_weights(model, *td_weights(4, 0.7, method))
    ours = model(tokens, full_length(tokens), query)
    reference = batch_td(context, query, layers, 0.7, method, gamma=0.9, lam=0.6)
    assert torch.allclose(ours, reference, rtol=EXACT, atol=EXACT)
    assert reference.abs().mean() > 0.05


def test_the_three_td_methods_differ():
    """Guard against a construction that ignores ``method``: the algorithms give different values."""
    context, query = mrp_prompt()
    values = [
        batch_td(context, query, 2, 0.7, m, gamma=0.9, lam=0.6)
        for m in ("td0", "residual_gradient", "td_lambda")
    ]
    assert (values[0] - values[1]).abs().max() > 1e-3
    assert (values[0] - values[2]).abs().max() > 1e-3


def test_implied_weights_are_the_td_weights():
    context, query = mrp_prompt()
    model = set_weights(LinearTransformer(9, 4, 3, tied=True).double(), *td_weights(4, 0.5))
    _, w_td = batch_td(context, query, 3, 0.5, return_weights=True)
    assert torch.allclose(implied_weights(model, context), w_td, rtol=EXACT, atol=EXACT)


@pytest.mark.parametrize("activation", [None, "relu", "softmax"])
def test_forward_matches_forward_all_at_every_length(activation):
    context, _ = regression_prompt(n=12)
    generator = torch.Generator().manual_seed(4)
    queries = torch.randn(context.shape[0], 12, 5, dtype=torch.float64, generator=generator)
    torch.manual_seed(0)
    model = LinearTransformer(6, 5, 3, activation=activation, init_std=0.2).double()
    every = model.forward_all(context, queries)
    for length in (0, 1, 5, 11):
        lengths = torch.full((context.shape[0],), length)
        single = model(context, lengths, queries[:, length])
        assert torch.allclose(single, every[:, length], rtol=1e-10, atol=1e-12)


def test_summary_path_equals_token_path():
    """The D×D key-value summary computes the same layer as explicit tokens."""
    context, query = regression_prompt()
    torch.manual_seed(0)
    model = LinearTransformer(6, 5, 3, init_std=0.3).double()
    valid = torch.ones(context.shape[:2], dtype=torch.bool)
    tokens = model.run_tokens(context, valid, model.query_token(query))
    summary = model(context, full_length(context), query)
    assert torch.allclose(tokens, summary, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["softmax", "rebased", "based"])
def test_sequence_models_are_causal_and_consistent(kind):
    context, _ = regression_prompt(n=10)
    queries = context[..., :5].clone()
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind=kind, layers=2), 6, 5, max_steps=10).double()
    assert isinstance(model, SequenceModel)
    every = model.forward_all(context, queries)
    changed = context.clone()
    changed[:, 6:] = torch.randn_like(changed[:, 6:])
    # Step t may use context rows < t only: changing rows >= 6 leaves steps 0..6 unchanged.
    assert torch.allclose(model.forward_all(changed, queries)[:, :7], every[:, :7], atol=1e-12)
    assert not torch.allclose(model.forward_all(changed, queries)[:, 7:], every[:, 7:])
    lengths = torch.tensor([0, 3, 9] * 5 + [2])
    single = model(context, lengths, queries[torch.arange(16), lengths])
    assert torch.allclose(single, every[torch.arange(16), lengths], atol=1e-12)


def test_bad_model_arguments_are_named():
    with pytest.raises(ValueError, match="activation"):
        LinearTransformer(6, 5, 1, activation="tanh")
    with pytest.raises(ValueError, match="num_layers"):
        LinearTransformer(6, 5, 0)
    with pytest.raises(ValueError, match="width"):
        build_model(ModelConfig(kind="softmax", layers=1, width=30, heads=4), 6, 5, max_steps=4)
    with pytest.raises(ValueError, match="model must be one of"):
        build_model(ModelConfig(kind="mamba", layers=1), 6, 5, max_steps=4)
    with pytest.raises(ValueError, match="max_steps"):
        build_model(ModelConfig(kind="softmax", layers=1), 6, 5, max_steps=4).forward_all(
            torch.zeros(1, 5, 6), torch.zeros(1, 5, 5)
        )


@pytest.mark.parametrize("fusable", [False, True])
def test_fast_summary_loss_equals_the_models_loss(fusable):
    """fast.regression_loss (Gram matrix -> summary -> D×D layers) is the model's loss on the same prompts."""
    from baselines.icl.fast import regression_loss

    torch.manual_seed(0)
    model = LinearTransformer(6, 5, 3, init_std=0.2).double()
    torch.manual_seed(5)
    fast = regression_loss(model.P, model.Q, 64, 5, 20, fusable=fusable)
    torch.manual_seed(5)  # the same draws, in the same order: x (B, n+1, d), then w (B, d)
    x = torch.randn(64, 21, 5, dtype=torch.float64)
    w = torch.randn(64, 5, dtype=torch.float64)
    y = (x * w.unsqueeze(1)).sum(-1)
    context = torch.cat([x[:, :20], y[:, :20, None]], -1)
    reference = (model(context, torch.full((64,), 20), x[:, 20]) - y[:, 20]).square().mean()
    assert torch.allclose(fast, reference, rtol=1e-10)
