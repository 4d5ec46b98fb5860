"""ReBased against Based on MQAR at CPU size: accuracy against model width per sequence length, the
shape of Aksenov et al. 2024's Figure 1, with softmax attention and plain linear attention beside.

    python docs/scripts/mqar_reproduce.py            # train the grid (resumes), then plot
    python docs/scripts/mqar_reproduce.py --plot     # plot docs/data/mqar_cpu.json only

Every run trains a 2-layer ``RecallModel`` (baselines/icl/models.py) with ``baselines/icl/train.py``
on ``icl-mqar`` prompts and measures its accuracy on 1024 fresh sequences. Each finished run is
appended to docs/data/mqar_cpu.json at once (with this script, the commit and the machine), so an
interrupted sweep resumes where it stopped. The plot goes to docs/img/mqar_accuracy_vs_width.png.
The paper's grid (lengths 128-2048, widths 64-512, vocabulary 8192) needs a GPU:
``python -m benchmarks.mqar_gpu``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from baselines.icl.models import ModelConfig  # noqa: E402
from baselines.icl.samplers import PromptConfig  # noqa: E402
from baselines.icl.train import TrainConfig, load_model, make_sampler, recall_accuracy, train  # noqa: E402
from benchmarks import data_record  # noqa: E402

DATA = ROOT / "docs" / "data" / "mqar_cpu.json"
IMAGE = ROOT / "docs" / "img" / "mqar_accuracy_vs_width.png"
MODELS = ("rebased", "based", "softmax", "linear")
#: The CPU grid: what two shared cores (loaded by other jobs) trained in about 90 minutes (the paper: 128..2048, 64..512).
SEQ_LENS = (32, 64, 128)
WIDTHS = (16, 32, 64)
SEEDS = (0, 1, 2)
TASK = {"vocab_size": 64, "num_pairs": 4}
TRAINING = {"steps": 200, "batch_size": 64, "lr": 3e-3, "lr_final": 3e-4, "warmup_steps": 20}
MODEL = {"layers": 2, "heads": 2, "feature_dim": 8}


def config(kind: str, seq_len: int, width: int, seed: int, out: str) -> TrainConfig:
    return TrainConfig(
        prompts=PromptConfig(task="icl-mqar", seq_len=seq_len, **TASK),
        model=ModelConfig(kind=kind, width=width, **MODEL),
        seed=seed,
        out=out,
        resume=False,
        progress=False,
        log_every=TRAINING["steps"],
        **TRAINING,
    )


def sweep() -> None:
    torch.set_num_threads(1)  # reproducible, and no spinning against other jobs on a shared CPU
    done = data_record.read(DATA) if DATA.exists() else None
    started = done["provenance"] if done else data_record.provenance("docs/scripts/mqar_reproduce.py")
    runs = done["runs"] if done else []
    finished = {(r["model"], r["seq_len"], r["width"], r["seed"]) for r in runs}
    work = Path(tempfile.mkdtemp(prefix="mqar_"))
    for seq_len in SEQ_LENS:
        for width in WIDTHS:
            for seed in SEEDS:
                for kind in MODELS:
                    if (kind, seq_len, width, seed) in finished:
                        continue
                    start = time.perf_counter()
                    folder = train(
                        config(kind, seq_len, width, seed, str(work / f"{kind}-{seq_len}-{width}-{seed}"))
                    )
                    model, saved = load_model(folder)
                    accuracy = recall_accuracy(model, make_sampler(saved.prompts), batch_size=1024)
                    runs.append(
                        {
                            "model": kind,
                            "seq_len": seq_len,
                            "width": width,
                            "seed": seed,
                            "accuracy": accuracy,
                            "seconds": round(time.perf_counter() - start, 1),
                            "parameters": sum(p.numel() for p in model.parameters()),
                        }
                    )
                    print(runs[-1], flush=True)
                    settings = {"task": TASK, "training": TRAINING, "model": MODEL}
                    data_record.write(DATA, started, {"settings": settings, "runs": runs})


def summary(runs: list[dict]) -> dict[tuple[str, int, int], tuple[float, float, int]]:
    """(model, seq_len, width) -> (mean accuracy, standard error over seeds, seeds)."""
    groups: dict[tuple[str, int, int], list[float]] = {}
    for run in runs:
        groups.setdefault((run["model"], run["seq_len"], run["width"]), []).append(run["accuracy"])
    table = {}
    for key, values in groups.items():
        mean = sum(values) / len(values)
        spread = (sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)) ** 0.5
        table[key] = (mean, spread / len(values) ** 0.5, len(values))
    return table


def markdown_table(runs: list[dict]) -> str:
    """The page's table: mean accuracy ± standard error (seeds) per model, length and width."""
    table = summary(runs)
    cells = sorted({(key[1], key[2]) for key in table})
    lines = ["| length | width | " + " | ".join(MODELS) + " |", "|---|---|" + "---|" * len(MODELS)]
    for seq_len, width in cells:
        values = []
        for kind in MODELS:
            mean, error, seeds = table.get((kind, seq_len, width), (float("nan"), 0.0, 0))
            values.append(f"{100 * mean:.1f} ± {100 * error:.1f} ({seeds})" if seeds else "–")
        lines.append(f"| {seq_len} | {width} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = summary(data_record.read(DATA)["runs"])
    lengths = sorted({key[1] for key in table})
    figure, axes = plt.subplots(
        1, len(lengths), figsize=(4.2 * len(lengths), 3.4), sharey=True, squeeze=False
    )
    for axis, seq_len in zip(axes[0], lengths):
        for kind in MODELS:
            points = sorted(
                (key[2], value) for key, value in table.items() if key[0] == kind and key[1] == seq_len
            )
            if not points:
                continue
            widths = [w for w, _ in points]
            means = [v[0] for _, v in points]
            errors = [v[1] for _, v in points]
            axis.errorbar(widths, means, yerr=errors, marker="o", capsize=3, label=kind)
        axis.set_xscale("log", base=2)
        axis.set_title(f"sequence length {seq_len}")
        axis.set_xlabel("model width")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("MQAR accuracy")
    axes[0][-1].legend()
    figure.tight_layout()
    IMAGE.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(IMAGE, dpi=110)
    print(f"wrote {IMAGE}")


if __name__ == "__main__":
    if "--plot" not in sys.argv:
        sweep()
    plot()
    print(markdown_table(data_record.read(DATA)["runs"]))
