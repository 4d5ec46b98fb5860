"""Train the offline baselines on the standard datasets, score them with the harness, write the table data.

    python docs/scripts/offline_results.py [--datasets symbolic|image|standard|ID,...] \\
        [--algorithms dt,reinformer,bc,bc10] [--seeds 5] [--steps 500] [--set KEY=VALUE ...] \\
        [--image-seeds 3] [--image-steps 300] [--image-set KEY=VALUE ...] [--work runs/offline-results]

For each dataset × algorithm × training seed: ``icl-bench train`` (``train_from_cli``) into a run
folder under ``--work``, then the harness plays the run folder on the suite entry of the dataset's
game (``core-v0`` for symbolic datasets, ``pixels-v0`` for images) on the suite's dev seeds, and keeps
its normalized score (the exact optimum is 100, the uniformly random policy 0). Decision Transformer
is scored at both target returns (the dataset's best return, and half of it). Per dataset ×
algorithm the file holds every seed's score and their IQM with a 95% stratified-bootstrap interval
(``leaderboard.scoring``), beside them the behaviour policy's own score (the dataset's mean episode
return, normalized by the same references), the learning curve (the training loss at each logged
step, the mean over the seeds), and the config the runs trained with, defaults included (``config``:
e.g. ``model.mask_padding``, which changed default once). :func:`reproduce_command` renders the
command that makes every row again from the file's settings; :func:`masking_table` sets the
transformers' rows beside those of a file of the same runs with the padding seen
(``docs/data/offline_results_unmasked.json``, the same command with ``--set mask_padding=false``),
and :func:`scale_table` the rows of the datasets whose return scale changed beside the file made
before the change (``docs/data/offline_results_largest_return_scale.json``).

**Resumable, in pieces**: a run whose ``scores.json`` exists with the same settings is not trained or
played again, and an interrupted training resumes from its checkpoint; the data file is rewritten
after every finished dataset × algorithm from every run in ``--work`` with the current settings (so
``--datasets icl/a,icl/b`` then ``--datasets icl/c`` give the table of all three). Rows with fewer
seeds than asked say so (``seeds`` per row).

The datasets must exist locally (``icl-bench collect --standard``; ``MINARI_DATASETS_PATH`` is
honoured). ``docs/baselines/offline.md`` renders its table from the file with :func:`results_table`;
``docs/scripts/offline_curves.py`` plots the curves. Options after ``--set`` (repeatable) reach every
run whose config has the field, e.g. ``--set embed_dim=64 --set context=10`` (BC has no context);
``--image-set`` adds options for the image datasets only (later options win).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from baselines.offline.cli import OPTIONS, train_from_cli  # noqa: E402
from baselines.offline.runs import read_run  # noqa: E402
from baselines.offline.standard import STANDARD_DATASETS  # noqa: E402
from baselines.offline.train import read_episodes  # noqa: E402
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


def returns_score(mean_return: float, suite: str, env_id: str) -> float:
    """A return normalized by the references of the game's entry in ``suite``."""
    (entry,) = get_suite(suite).select([env_id])
    reference = reference_for(entry)
    return float(normalized_score(mean_return, reference.r_random, reference.r_reference))


def behaviour_score(run_dir: Path, suite: str) -> float:
    """The dataset's mean episode return, normalized by the references of its game's entry."""
    _, _, info = read_run(run_dir)
    return returns_score(info.mean_return, suite, info.env_id)


def applicable(algorithm: str, options: list[str]) -> list[str]:
    """The ``KEY=VALUE`` options whose field the algorithm's config has (BC has no ``context``)."""
    names = OPTIONS[algorithm].names
    return [option for option in options if option.partition("=")[0].replace("-", "_") in names]


def interval(scores: list[float]) -> dict[str, float]:
    iqm = aggregate_intervals(np.asarray(scores)[:, None])["iqm"]
    return {"iqm": iqm.value, "low": iqm.low, "high": iqm.high}


class Settings(NamedTuple):
    """What a group of datasets (symbolic or image) is trained with."""

    seeds: int
    steps: int
    options: tuple[str, ...]

    def run_options(self, algorithm: str, extra: list[str], seed: int) -> list[str]:
        return [
            "progress=false",
            f"seed={seed}",
            f"steps={self.steps}",
            *extra,
            *applicable(algorithm, list(self.options)),
        ]


def select_datasets(text: str) -> list[str]:
    """``symbolic``, ``image``, ``standard`` (both) or comma-separated dataset ids."""
    groups = {
        "standard": [d.dataset_id for d in STANDARD_DATASETS],
        "symbolic": [d.dataset_id for d in STANDARD_DATASETS if d.obs_mode == "symbolic"],
        "image": [d.dataset_id for d in STANDARD_DATASETS if d.obs_mode == "image"],
    }
    return [dataset for part in text.split(",") for dataset in groups.get(part, [part])]


def is_image(dataset: str) -> bool:
    return "-image" in dataset.split("/")[1]


def run_folder(work: Path, variant: str, dataset: str, seed: int) -> Path:
    return work / f"{variant}-{dataset.replace('/', '_')}-s{seed}"


def scored_run(dataset: str, variant: str, seed: int, settings: Settings, work: Path) -> dict:
    """The run's ``scores.json``: trained and played now unless a run with the same settings was."""
    algorithm, extra, agents = VARIANTS[variant]
    out = run_folder(work, variant, dataset, seed)
    options = settings.run_options(algorithm, extra, seed)
    done = out / "scores.json"
    if done.is_file():
        record = json.loads(done.read_text())
        if record["options"] == options:
            return record
    start = time.perf_counter()
    run_dir = train_from_cli(algorithm, options, dataset=dataset, out=str(out))
    record = {"options": options, "train_seconds": time.perf_counter() - start, "scores": {}}
    for label, agent_config in agents.items():
        score, suite, seconds = score_run(run_dir, agent_config)
        record["scores"][label] = score
        record["suite"] = suite
        record["play_seconds"] = record.get("play_seconds", 0.0) + seconds
        print(f"{dataset} {label} seed {seed}: {score:.1f}", flush=True)
    record["behaviour_score"] = behaviour_score(run_dir, suite)
    record["load_average"] = os.getloadavg()
    done.write_text(json.dumps(record, indent=1))
    return record


def run_config(run_dir: Path) -> dict:
    """What a run trained with, defaults included (its ``config.json`` as ``read_run`` reads it,
    without what differs between the seeds of a row: seed, output folder, progress bar)."""
    _, config, _ = read_run(run_dir)
    record = dataclasses.asdict(config)
    for name in ("seed", "out", "progress", "resume"):
        record["run"].pop(name, None)
    return record


def learning_curve(run_dirs: list[Path]) -> dict[str, list[float]]:
    """The mean over the runs of the loss (and, where logged, the action loss) at each logged step."""
    lines = [
        [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()] for run in run_dirs
    ]
    lines = [[line for line in run if "loss" in line] for run in lines]
    steps = [line["step"] for line in lines[0]]
    curve = {
        "step": steps,
        "loss": [float(np.mean([run[i]["loss"] for run in lines])) for i in range(len(steps))],
    }
    if "action_loss" in lines[0][0]:
        curve["action_loss"] = [
            float(np.mean([run[i]["action_loss"] for run in lines])) for i in range(len(steps))
        ]
    return curve


def rows_of(dataset: str, variant: str, settings: Settings, work: Path) -> list[dict]:
    """The table rows of one dataset × algorithm from the finished runs in ``work`` (none if none)."""
    algorithm, extra, agents = VARIANTS[variant]
    records, run_dirs = [], []
    for seed in range(settings.seeds):
        out = run_folder(work, variant, dataset, seed)
        done = out / "scores.json"
        if done.is_file() and json.loads(done.read_text())["options"] == settings.run_options(
            algorithm, extra, seed
        ):
            records.append(json.loads(done.read_text()))
            run_dirs.append(out)
    if not records:
        return []
    curve = learning_curve(run_dirs)
    _, _, info = read_run(run_dirs[0])
    config = run_config(run_dirs[0])
    return [
        {
            "dataset": dataset,
            "algorithm": label,
            "seeds": len(records),
            "seed_scores": [record["scores"][label] for record in records],
            **interval([record["scores"][label] for record in records]),
            "behaviour_score": records[0]["behaviour_score"],
            "best_return": info.best_return,
            "best_return_score": returns_score(info.best_return, records[0]["suite"], info.env_id),
            "suite": records[0]["suite"],
            "steps": settings.steps,
            "options": list(settings.options),
            "config": config,
            "train_seconds": sum(record["train_seconds"] for record in records),
            "play_seconds": sum(record["play_seconds"] for record in records),
            "curve": curve,
        }
        for label in agents
    ]


def mixed_outcomes(dataset: str) -> dict[str, float]:
    """Of a ``mixed`` dataset (episode j optimal when j is odd): the dataset's best return and the
    share of each half's episodes that reach it, what tells luck from skill (in Blackjack the
    random half wins too)."""
    _, episodes = read_episodes(dataset)
    returns = np.asarray([episode.rewards.sum() for episode in episodes])
    best = returns.max()
    return {
        "best_return": float(best),
        "random_best": float((returns[0::2] == best).mean()),
        "optimal_best": float((returns[1::2] == best).mean()),
    }


def table_data(variants: list[str], groups: dict[str, Settings], work: Path) -> dict:
    """Every standard dataset (in the registry's order) × variant that has finished runs."""
    rows = []
    for dataset in [d.dataset_id for d in STANDARD_DATASETS]:
        settings = groups["image" if is_image(dataset) else "symbolic"]
        for variant in variants:
            rows += rows_of(dataset, variant, settings, work)
    return {
        "settings": {name: settings._asdict() for name, settings in groups.items()},
        "threads": torch.get_num_threads(),
        "rows": rows,
    }


def results_table(data: dict) -> str:
    """The docs table: a row per dataset, per algorithm the IQM [95% interval] over the training
    seeds, the behaviour policy's own score beside them."""
    labels = list(dict.fromkeys(row["algorithm"] for row in data["rows"]))
    by_dataset: dict[str, dict[str, dict]] = {}
    for row in data["rows"]:
        by_dataset.setdefault(row["dataset"], {})[row["algorithm"]] = row
    lines = [
        f"| dataset | behaviour policy | {' | '.join(labels)} | seeds |",
        "|---|" + "---|" * (len(labels) + 2),
    ]
    for dataset, rows in by_dataset.items():
        cells = [
            f"{rows[label]['iqm']:.1f} [{rows[label]['low']:.1f}, {rows[label]['high']:.1f}]"
            if label in rows
            else "-"
            for label in labels
        ]
        seeds = "/".join(sorted({str(row["seeds"]) for row in rows.values()}))
        behaviour = next(iter(rows.values()))["behaviour_score"]
        lines.append(f"| `{dataset}` | {behaviour:.1f} | {' | '.join(cells)} | {seeds} |")
    return "\n".join(lines)


def mixed_outcome_sentence(data: dict, game: str) -> str:
    """The page's sentence on how often each half of a game's mixed dataset reaches its best return."""
    outcome = data["mixed_outcomes"][f"icl/{game.lower()}-symbolic/mixed-v0"]
    return (
        f"the random half reaches the best return ({outcome['best_return']:g}) in "
        f"{outcome['random_best']:.0%} of its episodes, the solver's half in {outcome['optimal_best']:.0%}"
    )


def dataset_summary(data: dict, dataset: str) -> str:
    """The page's summary of a dataset's row: each algorithm's IQM and the behaviour's score."""
    rows = [row for row in data["rows"] if row["dataset"] == dataset]
    if not rows:
        raise ValueError(f"no rows of {dataset} in the data file")
    scores = ", ".join(f"{row['algorithm']} {row['iqm']:.1f}" for row in rows)
    return f"{scores}, against the behaviour policy's {rows[0]['behaviour_score']:.1f}"


def best_return_summary(data: dict, dataset: str) -> str:
    """The page's sentence on a dataset's best episode: its return and that return's score."""
    row = next((row for row in data["rows"] if row["dataset"] == dataset), None)
    if row is None:
        raise ValueError(f"no rows of {dataset} in the data file")
    return f"its best episode returns {row['best_return']:g}, a score of {row['best_return_score']:.1f}"


def mixed_summary(data: dict, game: str) -> str:
    """The page's summary of a game's symbolic mixed dataset."""
    return dataset_summary(data, f"icl/{game.lower()}-symbolic/mixed-v0")


def reproduce_command(data: dict) -> str:
    """The command that trains and scores every row of ``data`` again (its settings, as options)."""
    symbolic, image = data["settings"]["symbolic"], data["settings"]["image"]
    common = symbolic["options"]
    if image["options"][: len(common)] != common:
        raise ValueError("the image runs' options do not start with the symbolic runs' (--set)")
    lines = [
        f"python docs/scripts/offline_results.py --datasets standard --seeds {symbolic['seeds']} "
        f"--steps {symbolic['steps']} \\",
        "    " + " ".join(f"--set {option}" for option in common) + " \\",
        f"    --image-seeds {image['seeds']} --image-steps {image['steps']} "
        + " ".join(f"--image-set {option}" for option in image["options"][len(common) :]),
    ]
    return "\n".join(lines)


#: The rows whose model sees the padding unless it is masked (BC reads one step: no padding).
MASKED_LABELS = ("DT (best return)", "DT (half of it)", "Reinformer")


def without_mask_option(options: list[str]) -> list[str]:
    return [option for option in options if option.partition("=")[0] != "mask_padding"]


def masking_pairs(masked: dict, unmasked: dict) -> list[tuple[dict, dict]]:
    """(unmasked row, masked row) of every transformer row both files have with the same steps and
    options but ``mask_padding``."""
    before = {(row["dataset"], row["algorithm"]): row for row in unmasked["rows"]}
    pairs = []
    for row in masked["rows"]:
        old = before.get((row["dataset"], row["algorithm"]))
        if (
            row["algorithm"] in MASKED_LABELS
            and old is not None
            and old["steps"] == row["steps"]
            and without_mask_option(old["options"]) == without_mask_option(row["options"])
        ):
            pairs.append((old, row))
    return pairs


def masking_summary(masked: dict, unmasked: dict) -> str:
    """The page's sentence on the masking table: in how many rows the IQM rose or fell, and by how
    much at most."""
    changes = [row["iqm"] - old["iqm"] for old, row in masking_pairs(masked, unmasked)]
    rose, fell = sum(change > 0 for change in changes), sum(change < 0 for change in changes)
    return (
        f"of the {len(changes)} rows, the IQM rose in {rose} (by up to {max(changes):.1f}) and fell in "
        f"{fell} (by up to {-min(changes):.1f})"
    )


def comparison_table(pairs: list[tuple[dict, dict]], before: str, after: str) -> str:
    """(earlier row, later row) pairs side by side under the headers ``before`` and ``after``;
    "moved" where the two 95% intervals do not overlap."""
    lines = [f"| dataset | algorithm | {before} | {after} | moved |", "|---|---|---|---|---|"]
    for old, row in pairs:
        apart = row["low"] > old["high"] or row["high"] < old["low"]
        moved = ("up" if row["iqm"] > old["iqm"] else "down") if apart else "-"
        cells = [f"{r['iqm']:.1f} [{r['low']:.1f}, {r['high']:.1f}]" for r in (old, row)]
        lines.append(f"| `{row['dataset']}` | {row['algorithm']} | {' | '.join(cells)} | {moved} |")
    return "\n".join(lines)


def masking_table(masked: dict, unmasked: dict) -> str:
    """The rows of ``masked`` (padding masked out of attention) beside the same rows of ``unmasked``
    (the data file of the same runs seeing the padding): every row both files have with the same
    steps and options but ``mask_padding``."""
    return comparison_table(masking_pairs(masked, unmasked), "padding seen", "padding masked")


#: The standard datasets whose returns-to-go a run divides by a different number since the scale is
#: the best return's magnitude, not the largest |return| (measured on ``icl-bench collect --standard``:
#: NumberLine's random episodes reach -10 against a best of 1, Points24's -18 against 10; Blackjack's
#: returns lie in [-1, 1], EZPoints' eps-optimal and mixed ones reach 10 and no lower than -6).
RESCALED_DATASETS = (
    "icl/numberline-symbolic/random-v0",
    "icl/numberline-symbolic/eps-optimal-0_3-v0",
    "icl/numberline-symbolic/mixed-v0",
    "icl/ezpoints-symbolic/random-v0",
    "icl/points24-symbolic/random-v0",
    "icl/points24-symbolic/eps-optimal-0_3-v0",
    "icl/points24-symbolic/mixed-v0",
    "icl/numberline-image/mixed-v0",
)


def scale_pairs(now: dict, before: dict) -> list[tuple[dict, dict]]:
    """(row of ``before``, row of ``now``) of the transformers on :data:`RESCALED_DATASETS`, both
    files at the same steps and options."""
    earlier = {(row["dataset"], row["algorithm"]): row for row in before["rows"]}
    return [
        (earlier[key], row)
        for row in now["rows"]
        if row["dataset"] in RESCALED_DATASETS
        and row["algorithm"] in MASKED_LABELS
        and (key := (row["dataset"], row["algorithm"])) in earlier
        and earlier[key]["steps"] == row["steps"]
        and earlier[key]["options"] == row["options"]
    ]


def scale_table(now: dict, before: dict) -> str:
    """The transformers' rows on the rescaled datasets: at the largest |return| (``before``) and at
    the best return's magnitude (``now``)."""
    return comparison_table(scale_pairs(now, before), "largest \\|return\\|", "best return")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--datasets",
        default="standard",
        help="symbolic, image, standard (both) or comma-separated dataset ids",
    )
    parser.add_argument(
        "--algorithms", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}"
    )
    parser.add_argument(
        "--seeds", type=int, default=5, help="training seeds per symbolic dataset and algorithm"
    )
    parser.add_argument("--steps", type=int, default=500, help="training steps of every symbolic run")
    parser.add_argument("--set", dest="options", action="append", default=[], help="KEY=VALUE for every run")
    parser.add_argument("--image-seeds", type=int, default=3, help="training seeds per image dataset")
    parser.add_argument("--image-steps", type=int, default=300, help="training steps of every image run")
    parser.add_argument(
        "--image-set", dest="image_options", action="append", default=[], help="KEY=VALUE for image runs"
    )
    parser.add_argument(
        "--work", type=Path, default=ROOT / "runs" / "offline-results", help="the run folders"
    )
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument(
        "--table-only", action="store_true", help="train nothing: rewrite the file from the runs in --work"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: on a shared CPU more threads ran slower)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    variants = args.algorithms.split(",")
    unknown = [name for name in variants if name not in VARIANTS]
    if unknown:
        parser.error(f"--algorithms: unknown {unknown}; choose from {', '.join(VARIANTS)}")
    datasets = select_datasets(args.datasets)
    known = {d.dataset_id for d in STANDARD_DATASETS}
    if not set(datasets) <= known:
        parser.error(
            f"--datasets: not standard datasets {sorted(set(datasets) - known)}; see icl-bench collect --list"
        )
    groups = {
        "symbolic": Settings(args.seeds, args.steps, tuple(args.options)),
        "image": Settings(args.image_seeds, args.image_steps, (*args.options, *args.image_options)),
    }
    started = data_record.provenance("docs/scripts/offline_results.py", ["python", *sys.argv])
    args.work.mkdir(parents=True, exist_ok=True)
    for dataset in [] if args.table_only else datasets:
        settings = groups["image" if is_image(dataset) else "symbolic"]
        for variant in variants:
            for seed in range(settings.seeds):
                scored_run(dataset, variant, seed, settings, args.work)
            data_record.write(args.out, started, table_data(variants, groups, args.work))
    data = table_data(variants, groups, args.work)
    data["mixed_outcomes"] = {
        dataset: mixed_outcomes(dataset)
        for dataset in dict.fromkeys(row["dataset"] for row in data["rows"])
        if dataset.endswith("/mixed-v0") and not is_image(dataset)
    }
    data_record.write(args.out, started, data)
    print(results_table(data))


if __name__ == "__main__":
    main()
