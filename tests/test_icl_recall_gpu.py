"""CUDA: the MQAR RecallModel through fla's kernels against the same weights on the torch path.

Skipped without CUDA (CI); pending a GPU run. ``python -m benchmarks.mqar_gpu`` trains the paper's grid.
"""

from __future__ import annotations

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("mixer", ["rebased", "based"])
def test_recall_model_fla_path_matches_the_torch_reference(mixer):
    from baselines.icl.models import RecallModel, fla_available
    from baselines.icl.samplers import RecallSampler

    if not fla_available():
        pytest.skip("fla-core is not installed here")
    torch.manual_seed(0)
    fused = RecallModel(8192, 256, 2, mixer=mixer, width=64, heads=4, feature_dim=16, backend="fla").cuda()
    reference = RecallModel(
        8192, 256, 2, mixer=mixer, width=64, heads=4, feature_dim=16, backend="torch"
    ).cuda()
    reference.load_state_dict(fused.state_dict())
    prompts = RecallSampler(seq_len=256, num_pairs=16).sample(
        8, torch.Generator(device="cuda").manual_seed(0), device="cuda"
    )
    ours = fused.forward_all(prompts.context, prompts.queries)
    expected = reference.forward_all(prompts.context, prompts.queries)
    # fla's dot products run in tf32 on Hopper (about 1e-3 relative per score, two layers deep).
    torch.testing.assert_close(ours, expected, rtol=3e-2, atol=3e-2)
    assert (ours.argmax(-1) == expected.argmax(-1)).float().mean() > 0.95
