"""Train the offline baselines on offline datasets, score them with the harness, write the table data.

    python docs/scripts/offline_results.py --datasets icl/numberline-symbolic/mixed-v0 \\
        [--algorithms dt,reinformer,bc,bc10] [--seeds 5] [--steps 2000] [--out docs/data/offline_results.json]

For each dataset × algorithm × training seed: ``icl-bench train`` (``train_from_cli``) into a work
folder, then the harness plays the run folder on the suite entry of the dataset's game (``core-v0``
for symbolic datasets, ``pixels-v0`` for images) on the suite's dev seeds, and keeps its normalized
score (the exact optimum is 100, the uniformly random policy 0). Decision Transformer is scored at
both target returns (the dataset's best return, and half of it). Per dataset × algorithm the file
holds every seed's score and their IQM with a 95% stratified-bootstrap interval
(``leaderboard.scoring``), and beside them the behaviour policy's own score (the dataset's mean
episode return, normalized by the same references).

The datasets must exist locally (``icl-bench collect --standard``; ``MINARI_DATASETS_PATH`` is
honoured). ``docs/baselines/offline.md`` renders its table from the file with :func:`results_table`.
Options after ``--set`` (repeatable) reach every run whose config has the field, e.g.
``--set embed_dim=64 --set context=10`` (BC has no context).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from baselines.offline.cli import OPTIONS, train_from_cli  # noqa: E402
from baselines.offline.runs import read_run  # noqa: E402
from benchmarks import data_record  # noqa: E402
from leaderboard.harness import evaluate  # noqa: E402
from leaderboard.protocol import get_suite  # noqa: E402
from leaderboard.references import reference_for  # noqa: E402
from leaderboard.scoring import aggregate_intervals, normalized_score  # noqa: E402

OUTPUT = ROOT / "docs" / "data" / "offline_results.json"
#: Name -> (algorithm, extra ``--set`` options, agent configs scored: label -> agent keyword args).
VARIANTS = {
    "dt": ("dt", [], {"DT (best return)": {}, "DT (half of it)": {"target_fraction": 0.5}}),
    "reinformer": ("reinformer", [], {"Reinformer": {}}),
    "bc": ("bc", [], {"BC": {}}),
    "bc10": ("bc", ["top_fraction=0.1"], {"10%BC": {}}),
}


def score_run(run_dir: Path, agent_config: dict) -> tuple[float, str, float]:
    """(normalized score, suite, wall seconds) of a run folder on its game's suite entry."""
    _, _, info = read_run(run_dir)
    suite = "pixels-v0" if info.frames else "core-v0"
    start = time.perf_counter()
    results = evaluate(f"run:{run_dir}", suite, config=agent_config, progress=False)
    (entry,) = results.entries
    return entry.normalized_score.value, suite, time.perf_counter() - start


def behaviour_score(run_dir: Path, suite: str) -> float:
    """The dataset's mean episode return, normalized by the references of its game's entry."""
    _, _, info = read_run(run_dir)
    (entry,) = get_suite(suite).select([info.env_id])
    reference = reference_for(entry)
    return float(normalized_score(info.mean_return, reference.r_random, reference.r_reference))


def applicable(algorithm: str, options: list[str]) -> list[str]:
    """The ``KEY=VALUE`` options whose field the algorithm's config has (BC has no ``context``)."""
    names = OPTIONS[algorithm].names
    return [option for option in options if option.partition("=")[0].replace("-", "_") in names]


def interval(scores: list[float]) -> dict[str, float]:
    iqm = aggregate_intervals(np.asarray(scores)[:, None])["iqm"]
    return {"iqm": iqm.value, "low": iqm.low, "high": iqm.high}


def measure(
    datasets: list[str], variants: list[str], seeds: int, steps: int, options: list[str], work: Path
) -> dict:
    rows = []
    for dataset in datasets:
        for variant in variants:
            algorithm, extra, agents = VARIANTS[variant]
            scores: dict[str, list[float]] = {label: [] for label in agents}
            behaviour, train_s, play_s = None, 0.0, 0.0
            for seed in range(seeds):
                out = work / f"{variant}-{dataset.replace('/', '_')}-s{seed}"
                start = time.perf_counter()
                run_dir = train_from_cli(
                    algorithm,
                    [
                        "progress=false",
                        f"seed={seed}",
                        f"steps={steps}",
                        *extra,
                        *applicable(algorithm, options),
                    ],
                    dataset=dataset,
                    out=str(out),
                )
                train_s += time.perf_counter() - start
                for label, agent_config in agents.items():
                    score, suite, seconds = score_run(run_dir, agent_config)
                    scores[label].append(score)
                    play_s += seconds
                    print(f"{dataset} {label} seed {seed}: {score:.1f}", flush=True)
                behaviour = behaviour_score(run_dir, suite)
            for label, values in scores.items():
                rows.append(
                    {
                        "dataset": dataset,
                        "algorithm": label,
                        "seed_scores": values,
                        **interval(values),
                        "behaviour_score": behaviour,
                        "train_seconds": train_s,
                        "play_seconds": play_s,
                    }
                )
    return {
        "seeds": seeds,
        "steps": steps,
        "options": options,
        "threads": torch.get_num_threads(),
        "rows": rows,
    }


def results_table(data: dict) -> str:
    """The docs table: per dataset × algorithm, IQM [95% interval] over the training seeds."""
    lines = [
        f"| dataset | algorithm | normalized score, IQM [95% interval] over {data['seeds']} seeds | behaviour policy |",
        "|---|---|---|---|",
    ]
    for row in data["rows"]:
        lines.append(
            f"| `{row['dataset']}` | {row['algorithm']} | {row['iqm']:.1f} [{row['low']:.1f}, {row['high']:.1f}] "
            f"| {row['behaviour_score']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", required=True, help="comma-separated Minari dataset ids")
    parser.add_argument(
        "--algorithms", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}"
    )
    parser.add_argument("--seeds", type=int, default=5, help="training seeds per dataset and algorithm")
    parser.add_argument("--steps", type=int, default=2000, help="training steps of every run")
    parser.add_argument("--set", dest="options", action="append", default=[], help="KEY=VALUE for every run")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: on a shared CPU more threads ran slower)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    variants = args.algorithms.split(",")
    unknown = [name for name in variants if name not in VARIANTS]
    if unknown:
        parser.error(f"--algorithms: unknown {unknown}; choose from {', '.join(VARIANTS)}")
    started = data_record.provenance("docs/scripts/offline_results.py", ["python", *sys.argv])
    with tempfile.TemporaryDirectory(prefix="offline-results-") as work:
        data = measure(args.datasets.split(","), variants, args.seeds, args.steps, args.options, Path(work))
    data_record.write(args.out, started, data)
    print(results_table(data))


if __name__ == "__main__":
    main()
