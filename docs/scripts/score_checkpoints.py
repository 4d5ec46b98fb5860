"""Score every checkpoint shipped in ``baselines/checkpoints/`` with the harness; write the docs' data.

    python docs/scripts/score_checkpoints.py [--out docs/data/checkpoints.json]

Each checkpoint is played as ``icl-bench run`` plays it (``leaderboard.run_all.SHIPPED_CHECKPOINTS``:
the agent ``baselines.checkpoints:load_checkpoint`` with ``{"name": NAME}`` on its ``core-v0``
entries, every dev seed, one torch thread). The file keeps, per checkpoint, the results file's IQM
with its 95% stratified-bootstrap interval, each entry's normalized score (mean over episodes, its
interval, and each seed's score), the play time, and for the offline runs the behaviour policy's own
score (the dataset's mean return on the same scale). ``docs/baselines/offline.md`` and
``docs/baselines/icl_transformers.md`` quote the tables :func:`offline_table` and :func:`icl_table`
render from it, and ``tests/test_checkpoints.py`` plays every checkpoint again and compares.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from baselines.checkpoints import checkpoint_dir  # noqa: E402
from baselines.offline.runs import read_run  # noqa: E402
from benchmarks import data_record  # noqa: E402
from leaderboard.harness import evaluate  # noqa: E402
from leaderboard.protocol import get_suite  # noqa: E402
from leaderboard.references import reference_for  # noqa: E402
from leaderboard.run_all import CHECKPOINT_LOADER, SHIPPED_CHECKPOINTS  # noqa: E402
from leaderboard.scoring import normalized_score  # noqa: E402

OUTPUT = ROOT / "docs" / "data" / "checkpoints.json"
SUITE = "core-v0"
#: What each name prefix is, for the tables.
FAMILIES = {
    "dt": "Decision Transformer (target: the dataset's best return)",
    "reinformer": "Reinformer",
    "bc": "BC",
    "icl-linear": "linear transformer",
    "icl-softmax": "softmax GPT",
    "icl-mrp-td": "linear transformer, multi-task TD",
}


def family(name: str) -> str:
    return next(label for prefix, label in FAMILIES.items() if name.startswith(prefix))


def interval(value) -> dict[str, float]:
    return {"value": value.value, "low": value.low, "high": value.high}


def behaviour_score(name: str) -> dict[str, float] | None:
    """The offline run's dataset: its id and its own mean return, normalized by its entry's references."""
    if not (checkpoint_dir(name) / "dataset.json").is_file():
        return None
    _, _, info = read_run(checkpoint_dir(name))
    (entry,) = get_suite(SUITE).select([info.env_id])
    reference = reference_for(entry)
    score = float(normalized_score(info.mean_return, reference.r_random, reference.r_reference))
    return {"dataset": info.dataset_id, "score": score}


def score(name: str, entries: tuple[str, ...]) -> dict:
    start = time.perf_counter()
    results = evaluate(CHECKPOINT_LOADER, SUITE, envs=entries, config={"name": name}, progress=False)
    seconds = time.perf_counter() - start
    return {
        "name": name,
        "family": family(name),
        "iqm": interval(results.aggregates.iqm),
        "entries": {
            entry.label: {
                "normalized_score": interval(entry.normalized_score),
                "seed_scores": list(entry.seed_scores),
                "mean_return": entry.mean_return,
            }
            for entry in results.entries
        },
        "behaviour": behaviour_score(name),
        "play_seconds": seconds,
    }


def _cell(value: dict[str, float]) -> str:
    return f"{value['value']:.1f} [{value['low']:.1f}, {value['high']:.1f}]"


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


def offline_table(data: dict) -> str:
    """The shipped DT, Reinformer and BC checkpoints: per game, each one's IQM beside the behaviour policy."""
    header = [
        "checkpoint",
        "algorithm",
        "game",
        "normalized score, IQM [95% interval]",
        "behaviour policy (dataset)",
    ]
    rows = [
        [
            f"`{row['name']}`",
            row["family"],
            *row["entries"],  # its one entry, the game
            _cell(row["iqm"]),
            f"{row['behaviour']['score']:.1f} (`{row['behaviour']['dataset']}`)",
        ]
        for row in data["checkpoints"]
        if row["behaviour"] is not None
    ]
    return _markdown(header, rows)


def icl_table(data: dict) -> str:
    """The shipped in-context transformers: IQM over their entries and seeds, and each entry's score."""
    header = [
        "checkpoint",
        "model",
        "normalized score, IQM [95% interval]",
        "per entry (mean [95% interval])",
    ]
    rows = [
        [
            f"`{row['name']}`",
            row["family"],
            _cell(row["iqm"]),
            "; ".join(
                f"{label}: {_cell(entry['normalized_score'])}" for label, entry in row["entries"].items()
            ),
        ]
        for row in data["checkpoints"]
        if row["behaviour"] is None
    ]
    return _markdown(header, rows)


def timing_note(data: dict) -> str:
    return (
        f"Playing all {len(data['checkpoints'])} checkpoints on their entries' dev seeds took "
        f"{data['play_seconds_total']:.0f} s on {data['provenance']['machine']['cpu_count']} CPU cores "
        f"(one torch thread; load average {data['provenance']['machine']['load_average_1_5_15_min'][0]:.1f} "
        "when the script started)."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = data_record.provenance("docs/scripts/score_checkpoints.py", ["python", *sys.argv])
    rows = []
    for name, entries in SHIPPED_CHECKPOINTS.items():
        rows.append(score(name, entries))
        print(f"{name}: IQM {_cell(rows[-1]['iqm'])} in {rows[-1]['play_seconds']:.1f} s", flush=True)
    data = {
        "suite": SUITE,
        "threads": 1,
        "checkpoints": rows,
        "play_seconds_total": sum(row["play_seconds"] for row in rows),
    }
    data_record.write(args.out, started, data)
    record = data_record.read(args.out)
    print(offline_table(record), icl_table(record), timing_note(record), sep="\n\n")


if __name__ == "__main__":
    main()
