"""The paper's MQAR grid on a GPU (pending a GPU run): ReBased, Based, softmax and linear attention
at sequence lengths 128-2048 and widths 64-512, 3 seeds, with fla's kernels for ReBased and Based,
and the tokens/s of the rebased model at the largest setting.

    python -m benchmarks.mqar_gpu [--out DIR] [--steps N]

The grid follows Aksenov et al. 2024's Figure 1 sweep (their Zoology-based code: lengths 128..2048,
widths 64..512, vocabulary 8192, batch 512, learning rates 5e-4..1e-2, best per cell); here one
learning rate per model (3e-3) to fit a budget, 3 seeds. Writes OUT/mqar_gpu.json with the GPU's
name (benchmarks/data_record.py); copy it to docs/data/ and plot with
``python docs/scripts/mqar_reproduce.py --plot`` pointed at it. No figure from it is quoted until
such a run exists.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from baselines.icl.models import ModelConfig
from baselines.icl.samplers import PromptConfig
from baselines.icl.train import (
    TrainConfig,
    load_model,
    make_model,
    make_sampler,
    recall_accuracy,
    recall_loss,
    train,
)
from benchmarks import data_record

SEQ_LENS = (128, 256, 512, 1024, 2048)
WIDTHS = (64, 128, 256, 512)
MODELS = ("rebased", "based", "softmax", "linear")
SEEDS = (0, 1, 2)


def num_pairs(seq_len: int) -> int:
    """Pairs per sequence: a quarter of the room the sequence allows (4 * num_pairs <= seq_len)."""
    return seq_len // 16


def tokens_per_second(width: int = 512, seq_len: int = 2048, batch: int = 64, repeats: int = 10) -> float:
    """Training tokens/s (forward + backward) of the 2-layer rebased model at the largest setting."""
    config = TrainConfig(
        prompts=PromptConfig(task="icl-mqar", seq_len=seq_len, num_pairs=num_pairs(seq_len)),
        model=ModelConfig(kind="rebased", layers=2, width=width, heads=8, feature_dim=16),
    )

    model = make_model(config).cuda()
    prompts = make_sampler(config.prompts).sample(
        batch, torch.Generator(device="cuda").manual_seed(0), device="cuda"
    )
    for _ in range(2):  # warm-up: Triton compiles the kernels
        with torch.autocast("cuda", dtype=torch.bfloat16):
            recall_loss(model, prompts).backward()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            recall_loss(model, prompts).backward()
    torch.cuda.synchronize()
    return batch * seq_len * repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="runs/mqar_gpu")
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("benchmarks.mqar_gpu needs a CUDA device")
    out = Path(args.out)
    started = data_record.provenance("benchmarks/mqar_gpu.py")
    record = {"gpu": torch.cuda.get_device_name(), "rebased_tokens_per_s": tokens_per_second(), "runs": []}
    for seq_len in SEQ_LENS:
        for width in WIDTHS:
            for seed in SEEDS:
                for kind in MODELS:
                    config = TrainConfig(
                        prompts=PromptConfig(task="icl-mqar", seq_len=seq_len, num_pairs=num_pairs(seq_len)),
                        model=ModelConfig(
                            kind=kind, layers=2, width=width, heads=max(width // 64, 1), feature_dim=16
                        ),
                        steps=args.steps,
                        batch_size=512 if seq_len <= 512 else 128,
                        lr=3e-3,
                        lr_final=3e-4,
                        seed=seed,
                        out=str(out / f"{kind}-{seq_len}-{width}-{seed}"),
                        progress=False,
                    )
                    start = time.perf_counter()
                    model, saved = load_model(train(config), "cuda")
                    accuracy = recall_accuracy(model, make_sampler(saved.prompts), device="cuda")
                    record["runs"].append(
                        {
                            "model": kind,
                            "seq_len": seq_len,
                            "width": width,
                            "seed": seed,
                            "accuracy": accuracy,
                            "seconds": time.perf_counter() - start,
                        }
                    )
                    data_record.write(out / "mqar_gpu.json", started, record)


if __name__ == "__main__":
    main()
