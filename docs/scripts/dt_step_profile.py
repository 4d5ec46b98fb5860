"""Where one training step of our Decision Transformer spends its time on one CPU thread.

    icl-bench collect --standard numberline-symbolic-mixed
    python docs/scripts/dt_step_profile.py [--steps 50] [--rounds 5] [--set KEY=VALUE ...]

The step is the cross-check's (``benchmarks/anchors/d3rlpy_dt.py``; default options: its table's
size, embed 64, 2 layers, context 10, batch 64), as ``train_loop`` takes it: draw and gather the
windows, cut the padding, forward, cross-entropy, backward, clipping, AdamW. After 20 steps of
warm-up, ``torch.profiler`` records ``--steps`` steps; each operator's own CPU time (its children's
not counted) goes to one of :data:`KINDS`, and the file keeps each kind's share of the recorded
time and the wall time per step (the profiler's own cost included, so it is slower than training).
Before that, the step is timed against itself as it was before ``nets.dropout`` and fused AdamW
(:func:`torch_dropout_and_attention`, AdamW's per-tensor loop; a model of its own from the same
seed), ``--rounds`` rounds of ``--steps`` steps in alternation, so that both see the same load.
Writes ``docs/data/dt_step_profile.json``; ``docs/baselines/offline.md`` quotes :func:`quotes`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from torch.profiler import ProfilerActivity, profile

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from baselines.offline import dt, nets  # noqa: E402
from baselines.offline.cli import OPTIONS, config_from_values  # noqa: E402
from baselines.offline.optim import learning_rate, make_optimizer  # noqa: E402
from baselines.offline.sequences import EpisodeTable  # noqa: E402
from baselines.offline.train import read_episodes  # noqa: E402
from baselines.training import optimizer_update, step_seed  # noqa: E402
from benchmarks import data_record  # noqa: E402

OUTPUT = ROOT / "docs" / "data" / "dt_step_profile.json"
DATASET = "icl/numberline-symbolic/mixed-v0"
#: The cross-check table's size and optimizer settings (docs/baselines/offline.md).
TABLE_OPTIONS = ["embed_dim=64", "layers=2", "context=10", "warmup_steps=50", "lr=1e-3"]
WARMUP_STEPS = 20
#: Each kind of work and the operators (their own time) that do it; the rest is "other".
KINDS = {
    "matrix products (linear layers, attention)": ("aten::mm", "aten::addmm", "aten::bmm"),
    "GELU (forward and backward)": ("aten::gelu", "aten::gelu_backward"),
    "LayerNorm (forward and backward)": ("aten::native_layer_norm", "aten::native_layer_norm_backward"),
    "softmax (forward and backward)": ("aten::_softmax", "aten::_softmax_backward_data"),
    "dropout masks (random bits, keep test)": ("aten::random_", "aten::ge", "aten::bernoulli_"),
    "AdamW": ("aten::_fused_adamw_", "Optimizer.step#AdamW.step", "Optimizer.zero_grad#AdamW.zero_grad"),
}
OTHER = "other (element-wise products and sums, copies, embeddings, the data path, clipping)"


def kind_of(operator: str) -> str:
    return next((kind for kind, names in KINDS.items() if operator in names), OTHER)


@contextmanager
def torch_dropout_and_attention():
    """The step as it was before ``nets.dropout``: ``F.dropout`` (``bernoulli_``) and attention all
    through ``scaled_dot_product_attention`` (module attributes swapped while inside)."""
    saved = nets.dropout, nets.attention
    nets.dropout = lambda x, p, training: F.dropout(x, p, training)
    nets.attention = lambda q, k, v, allowed, p: F.scaled_dot_product_attention(
        q, k, v, attn_mask=allowed, dropout_p=p, is_causal=allowed is None
    )
    try:
        yield
    finally:
        nets.dropout, nets.attention = saved


def measure(steps: int, options: list[str], rounds: int) -> dict[str, Any]:
    torch.set_num_threads(1)
    values = {**OPTIONS["dt"].assignments(options), "dataset": DATASET, "run.steps": WARMUP_STEPS + steps}
    config = config_from_values("dt", values)
    info, episodes = read_episodes(DATASET)
    table = EpisodeTable(config.select_episodes(episodes), "cpu")
    batch, context = config.run.batch_size, config.context

    def stepper(optimizer_kind: str):
        """train_loop's step on one process, for a model of its own and AdamW ``optimizer_kind``."""
        torch.manual_seed(0)
        model = dt.build_model(config, info)
        if optimizer_kind == "fused":
            optimizer = make_optimizer(config.optim, model.parameters())
        else:  # torch's default for CPU tensors: a loop over them
            optimizer = torch.optim.AdamW(
                model.parameters(), lr=config.optim.lr, weight_decay=config.optim.weight_decay, foreach=False
            )

        def step(index: int) -> None:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config.optim, index)
            windows = table.windows(table.sample_ends(batch, step_seed(0, index)), context, info.return_scale)
            normalizer = windows.mask.sum().clamp(min=1)
            if config.model.mask_padding:
                windows = windows.trimmed()
            torch.manual_seed(step_seed(0, index))
            loss, _ = dt.loss(model, windows, config, normalizer)
            optimizer_update(model, optimizer, loss, config.optim.grad_clip)

        return step

    ours, before = stepper("fused"), stepper("per-tensor")
    for index in range(WARMUP_STEPS):
        ours(index)
        with torch_dropout_and_attention():
            before(index)
    load_before = [round(value, 2) for value in os.getloadavg()]

    def timed(step, first: int) -> float:
        start = time.perf_counter()
        for index in range(first, first + steps):
            step(index)
        return (time.perf_counter() - start) / steps

    ours_s, before_s = [], []
    for round_index in range(rounds):  # in alternation, so both see the same load
        first = WARMUP_STEPS + round_index * steps
        ours_s.append(timed(ours, first))
        with torch_dropout_and_attention():
            before_s.append(timed(before, first))
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        start = time.perf_counter()
        for index in range(WARMUP_STEPS, WARMUP_STEPS + steps):
            ours(index)
        seconds = time.perf_counter() - start
    own: dict[str, float] = {}
    for event in profiler.key_averages():
        own[kind_of(event.key)] = own.get(kind_of(event.key), 0.0) + event.self_cpu_time_total
    total = sum(own.values())
    return {
        "dataset": DATASET,
        "options": options,
        "settings": {
            "batch_size": batch,
            "context": context,
            "embed_dim": config.model.embed_dim,
            "layers": config.model.layers,
            "mask_padding": config.model.mask_padding,
        },
        "steps_per_round": steps,
        "ms_per_step": {"ours": [1000 * s for s in ours_s], "before": [1000 * s for s in before_s]},
        "speedup_median": float(np.median(np.asarray(before_s) / np.asarray(ours_s))),
        "steps_profiled": steps,
        "ms_per_step_profiled": 1000 * seconds / steps,
        "load_average_1min": {"before": load_before[0], "after": round(os.getloadavg()[0], 2)},
        "shares_percent": {kind: 100 * own.get(kind, 0.0) / total for kind in [*KINDS, OTHER]},
    }


def profile_table(data: dict[str, Any]) -> str:
    """The docs table: each kind of work's share of the step's CPU time."""
    lines = ["| work in one training step | share of its CPU time |", "|---|---|"]
    for kind, share in data["shares_percent"].items():
        lines.append(f"| {kind} | {share:.1f}% |")
    return "\n".join(lines)


def profile_note(data: dict[str, Any]) -> str:
    """The conditions of the table, for the docs."""
    settings, load = data["settings"], data["load_average_1min"]
    return (
        f"Profiled: {data['steps_profiled']} steps of batch {settings['batch_size']}, context "
        f"{settings['context']}, {settings['layers']} layers of width {settings['embed_dim']}, padding "
        f"{'masked' if settings['mask_padding'] else 'seen'}, on `{data['dataset']}`, one torch thread, "
        f"{data['ms_per_step_profiled']:.1f} ms per step under the profiler (1-minute load average "
        f"{load['before']:.1f} before, {load['after']:.1f} after)."
    )


def speedup_note(data: dict[str, Any]) -> str:
    """The step against itself before ``nets.dropout`` and fused AdamW, for the docs."""
    times = data["ms_per_step"]
    return (
        f"Against the same step with `F.dropout`, attention all through `scaled_dot_product_attention` "
        f"and the per-tensor AdamW (what it was before those three changes; the last block computes only the rows read in both), timed in alternation in one process, "
        f"{len(times['ours'])} rounds of {data['steps_per_round']} steps each: {np.median(times['ours']):.1f} "
        f"ms per step against {np.median(times['before']):.1f} (medians), the step "
        f"{data['speedup_median']:.2f}× as fast (median over rounds)."
    )


def quotes(data: dict[str, Any]) -> list[str]:
    """What ``docs/baselines/offline.md`` quotes of the data file, as it must stand there."""
    return [profile_table(data), profile_note(data), speedup_note(data)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=50, help="steps recorded (after 20 of warm-up)")
    parser.add_argument(
        "--set",
        dest="options",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="a field of the DT's config (default: the cross-check table's size)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating timed rounds of --steps steps")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.rounds < 1:
        parser.error(f"--steps and --rounds must be positive integers, got {args.steps} and {args.rounds}")
    started = data_record.provenance("docs/scripts/dt_step_profile.py", ["python", *sys.argv])
    data_record.write(args.out, started, measure(args.steps, args.options or TABLE_OPTIONS, args.rounds))
    print("\n\n".join(quotes(data_record.read(args.out))))


if __name__ == "__main__":
    main()
