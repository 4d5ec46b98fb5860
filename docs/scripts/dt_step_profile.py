"""Where one training step of our Decision Transformer spends its time on one CPU thread.

    icl-bench collect --standard numberline-symbolic-mixed
    python docs/scripts/dt_step_profile.py [--steps 50] [--set KEY=VALUE ...]

The step is the cross-check's (``benchmarks/anchors/d3rlpy_dt.py``; default options: its table's
size, embed 64, 2 layers, context 10, batch 64), as ``train_loop`` takes it: draw and gather the
windows, cut the padding, forward, cross-entropy, backward, clipping, AdamW. After 20 steps of
warm-up, ``torch.profiler`` records ``--steps`` steps; each operator's own CPU time (its children's
not counted) goes to one of :data:`KINDS`, and the file keeps each kind's share of the recorded
time and the wall time per step (the profiler's own cost included, so it is slower than training).
Writes ``docs/data/dt_step_profile.json``; ``docs/baselines/offline.md`` quotes :func:`profile_table`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from baselines.offline import dt  # noqa: E402
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


def measure(steps: int, options: list[str]) -> dict[str, Any]:
    torch.set_num_threads(1)
    values = {**OPTIONS["dt"].assignments(options), "dataset": DATASET, "run.steps": WARMUP_STEPS + steps}
    config = config_from_values("dt", values)
    info, episodes = read_episodes(DATASET)
    table = EpisodeTable(config.select_episodes(episodes), "cpu")
    torch.manual_seed(0)
    model = dt.build_model(config, info)
    optimizer = make_optimizer(config.optim, model.parameters())
    batch, context = config.run.batch_size, config.context

    def step(index: int) -> None:  # train_loop's step, on one process
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config.optim, index)
        windows = table.windows(table.sample_ends(batch, step_seed(0, index)), context, info.return_scale)
        normalizer = windows.mask.sum().clamp(min=1)
        if config.model.mask_padding:
            windows = windows.trimmed()
        torch.manual_seed(step_seed(0, index))
        loss, _ = dt.loss(model, windows, config, normalizer)
        optimizer_update(model, optimizer, loss, config.optim.grad_clip)

    for index in range(WARMUP_STEPS):
        step(index)
    load_before = [round(value, 2) for value in os.getloadavg()]
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        start = time.perf_counter()
        for index in range(WARMUP_STEPS, WARMUP_STEPS + steps):
            step(index)
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


def quotes(data: dict[str, Any]) -> list[str]:
    """What ``docs/baselines/offline.md`` quotes of the data file, as it must stand there."""
    return [profile_table(data), profile_note(data)]


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
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be a positive integer, got {args.steps}")
    started = data_record.provenance("docs/scripts/dt_step_profile.py", ["python", *sys.argv])
    data_record.write(args.out, started, measure(args.steps, args.options or TABLE_OPTIONS))
    print("\n\n".join(quotes(data_record.read(args.out))))


if __name__ == "__main__":
    main()
