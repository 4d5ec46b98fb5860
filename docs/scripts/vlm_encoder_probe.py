"""How well a trained VLM's image tokens still tell frames apart: linear probes on a run's frozen
image tokens (encoder, then projector: what the decoder reads), fitted after training.

    python docs/scripts/vlm_encoder_probe.py --work /work/vc-runs \\
        --runs numberline-sft-read400,numberline-sft-read400-frozen

For each run folder: ``--frames`` fresh frames of new deals (the reading stage's kind of data:
:func:`baselines.vlm.train.collect_reading`, on seeds apart from training's), labelled with what
each shows (:func:`baselines.vlm.tasks.reading_slots`), the run's image tokens of each computed and
held fixed, and one linear probe per slot fitted on four fifths of them; the file keeps each
probe's accuracy on the last fifth. A run whose decoder misreads frames that its image tokens still
tell apart has a decoder problem; one whose tokens no longer tell them apart lost the reading in its
encoder or projector. Writes ``docs/data/vlm_encoder_probe.json``; the results page quotes it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from baselines.vlm.train import collect_reading, load_model  # noqa: E402
from benchmarks import data_record  # noqa: E402

OUTPUT = ROOT / "docs" / "data" / "vlm_encoder_probe.json"
#: Seed of the probes' deals: far from every training seed's (``seed * 1_000_003 + episode``).
PROBE_SEED = 900_000
PROBE_STEPS = 500


@torch.no_grad()
def image_tokens(model, images: torch.Tensor) -> torch.Tensor:
    return torch.cat(
        [model.image_embeddings(images[i : i + 256]).flatten(1) for i in range(0, len(images), 256)]
    )


def fit_probe(features: torch.Tensor, labels: torch.Tensor, classes: int, train_rows: int) -> float:
    """Held-out accuracy of a linear probe fitted (Adam, full batch) on the first ``train_rows``."""
    mean, std = features[:train_rows].mean(0), features[:train_rows].std(0) + 1e-6
    x = (features - mean) / std
    probe = torch.nn.Linear(x.shape[1], classes)
    optimizer = torch.optim.Adam(probe.parameters(), lr=1e-2)
    for _ in range(PROBE_STEPS):
        loss = torch.nn.functional.cross_entropy(probe(x[:train_rows]), labels[:train_rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return (probe(x[train_rows:]).argmax(1) == labels[train_rows:]).float().mean().item()


def probe_run(folder: Path, frames: int) -> dict:
    model, _, config = load_model(folder)
    config = dataclasses.replace(config, sft=dataclasses.replace(config.sft, align_frames=frames))
    images, slots, labels = collect_reading(config, PROBE_SEED)
    features = image_tokens(model, images)
    train_rows = len(images) * 4 // 5
    torch.manual_seed(0)
    accuracy = {
        slot: fit_probe(features, labels[:, i], classes, train_rows)
        for i, (slot, classes) in enumerate(slots.items())
    }
    return {"frames": len(images), "held_out": len(images) - train_rows, "accuracy": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="the folder holding the run folders")
    parser.add_argument("--runs", required=True, help="comma-separated run folder names")
    parser.add_argument("--frames", type=int, default=2000, help="frames per run (a fifth held out)")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data_record.record_runs(
        args.out,
        "docs/scripts/vlm_encoder_probe.py",
        args.work,
        args.runs,
        lambda folder: probe_run(folder, args.frames),
    )


if __name__ == "__main__":
    main()
