"""Training-step speed of the offline Decision Transformer on CPU, as a ratio to an anchor.

One step of ours = draw the batch's window ends, gather the K-step windows from the episode table
(``EpisodeTable.windows``), forward, cross-entropy, backward, clipping, AdamW (``optimizer_step``,
as ``train_loop`` runs it). The anchor is the same model shape and optimizer stepping on one fixed,
already gathered batch: the ratio is the share of the step left to the model once our data path is
added (1.0: the data path is free). One torch thread, as in ``bench_icl.py``: on a shared 2-core
machine two OpenMP threads spin against the other jobs.
"""

from __future__ import annotations

import torch

from baselines.offline import dt
from baselines.offline.optim import make_optimizer, optimizer_step
from benchmarks.offline_workload import dt_workload
from benchmarks.ratio import speed_ratio

#: CORL's context and depth at half its width and a small batch: a step takes tens of milliseconds.
BATCH, CONTEXT, WIDTH = 8, 20, 64
#: The data path must cost well under the model: a gather that fell back to Python loops per window
#: costs several times the step and fails this.
MINIMUM_RATIO = 0.7


def test_decision_transformer_training_step(benchmark, one_torch_thread):
    device = torch.device("cpu")
    config, table, info = dt_workload(device, batch=BATCH, context=CONTEXT, embed_dim=WIDTH)
    torch.manual_seed(0)
    ours_model, anchor_model = dt.build_model(config, info), dt.build_model(config, info)
    ours_optimizer = make_optimizer(config.optim, ours_model.parameters())
    anchor_optimizer = make_optimizer(config.optim, anchor_model.parameters())
    fixed = table.windows(table.sample_ends(BATCH, 0), CONTEXT, info.return_scale)
    fixed_normalizer = fixed.mask.sum().float()
    step = iter(range(10**9))

    def ours():
        windows = table.windows(table.sample_ends(BATCH, next(step)), CONTEXT, info.return_scale)
        optimizer_step(ours_model, ours_optimizer, dt, config, windows, windows.mask.sum().float(), False)

    def anchor():
        optimizer_step(anchor_model, anchor_optimizer, dt, config, fixed, fixed_normalizer, False)

    tokens = BATCH * CONTEXT * dt.TOKENS_PER_STEP
    ratio = speed_ratio(
        benchmark,
        ours,
        anchor,
        ours_work=tokens,
        anchor_work=tokens,
        label="DT tokens/s vs fixed batch",
        rounds=3,
    )
    assert ratio >= MINIMUM_RATIO
