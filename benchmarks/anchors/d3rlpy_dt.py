"""Peer cross-check: d3rlpy's discrete Decision Transformer against ours, same data, size and steps.

Run by hand, not in CI. d3rlpy 2.8.1 pins gymnasium 1.0.0, older than ours, so it lives in a venv of
its own (``d3rlpy-requirements.txt`` beside this file says how to make it) and this script, run in
the project's venv, drives it through ``d3rlpy_worker.py``::

    icl-bench collect --standard numberline-symbolic-mixed
    unshare --net bash -c 'ip link set lo up; python benchmarks/anchors/d3rlpy_dt.py \\
        --anchor-python /work/venvs/d3rlpy/bin/python --dataset icl/numberline-symbolic/mixed-v0 \\
        --steps 2000 --seeds 2'

(``unshare --net``: nothing can reach the network, so neither side can download anything.)

For each training seed, one after the other so that both see the same load: our Decision
Transformer trains (``baselines/offline/dt.py``, its default size: context 20, 3 layers of width
128, one head, dropout 0.1, batch 64, AdamW 1e-4 with weight decay 1e-4, 1,000 warm-up steps,
gradient norm clipped to 0.25) and then d3rlpy's ``DiscreteDecisionTransformer`` trains at the same
size, batch, steps and optimizer settings (its warm-up counted in real steps: ours converted; its
cosine decay pushed out of reach, so the rate stays constant as ours). Both train on one CPU thread;
tokens/s = steps × batch × context × 3 tokens / the training loop's wall time. Then the harness plays
both policies on the suite entry of the dataset's game (``core-v0``, its dev seeds), both conditioned
on the dataset's best return: ours as agent ``run:DIR``, d3rlpy's through :class:`D3rlpyAgent`,
which forwards the observations (one-hot components, d3rlpy's vector input) and the rewards to the
worker. The normalized scores are the harness's (100 the exact optimum, 0 the random policy).

Writes ``docs/data/d3rlpy_crosscheck.json`` (with the machine's load before and after each
training); ``docs/baselines/offline.md`` renders it with :func:`crosscheck_table`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Client, Listener
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from baselines.offline.cli import OPTIONS, config_from_values  # noqa: E402
from baselines.offline.dt import TOKENS_PER_STEP  # noqa: E402
from baselines.offline.observations import dataset_episodes, flatten_symbolic, observation_shape  # noqa: E402
from baselines.offline.runs import DatasetInfo  # noqa: E402
from baselines.offline.sequences import EpisodeTable  # noqa: E402
from baselines.offline.train import load_dataset, open_run, train_loop  # noqa: E402
from benchmarks import data_record  # noqa: E402
from leaderboard.agent import Agent  # noqa: E402
from leaderboard.harness import evaluate  # noqa: E402

OUTPUT = ROOT / "docs" / "data" / "d3rlpy_crosscheck.json"
WORKER = Path(__file__).with_name("d3rlpy_worker.py")
SUITE = "core-v0"


def one_hot(components: np.ndarray, sizes: list[int]) -> np.ndarray:
    """(N, C) component values counted from 0 -> (N, sum(sizes)) float32 one-hot rows."""
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    rows = np.zeros((len(components), int(sum(sizes))), dtype=np.float32)
    rows[np.arange(len(components))[:, None], components + offsets] = 1.0
    return rows


def our_config(dataset_id: str, steps: int, seed: int, out: Path, options: list[str]):
    """Our Decision Transformer's config (its defaults, less the ``--set KEY=VALUE`` ``options``):
    what both sides train with."""
    return config_from_values(
        "dt",
        {
            **OPTIONS["dt"].assignments(options),
            "dataset": dataset_id,
            "run.steps": steps,
            "run.seed": seed,
            "run.out": str(out),
            "run.device": "cpu",
            "run.progress": False,
            "run.log_every": steps,
            "run.checkpoint_every": steps,
        },
    )


def export(dataset_id: str, steps: int, options: list[str], path: Path) -> tuple[DatasetInfo, dict[str, Any]]:
    """Write the dataset as the arrays d3rlpy's ``MDPDataset`` takes, with the settings the worker
    trains at; return the dataset's info and those settings."""
    dataset = load_dataset(dataset_id)
    sizes, frames = observation_shape(dataset.observation_space)
    if frames is not None:
        raise ValueError(f"dataset {dataset_id!r} has frames; the cross-check takes symbolic datasets")
    episodes = dataset_episodes(dataset)
    table = EpisodeTable(episodes)
    info = DatasetInfo.of(dataset, episodes)
    config = our_config(dataset_id, steps, 0, path.parent, options)
    model, optim = config.model, config.optim
    # d3rlpy counts warm-up in real (unpadded) steps; a window ending at timestep t holds min(t+1, K).
    real_steps_per_window = float((table.timesteps + 1).clamp(max=model.context).float().mean())
    settings = {
        "steps": steps,
        "batch_size": config.run.batch_size,
        "context": model.context,
        "embed_dim": model.embed_dim,
        "layers": model.layers,
        "heads": model.heads,
        "dropout": model.dropout,
        "lr": optim.lr,
        "weight_decay": optim.weight_decay,
        "grad_clip": optim.grad_clip,
        "warmup_steps": optim.warmup_steps,
        "warmup_tokens": round(optim.warmup_steps * config.run.batch_size * real_steps_per_window),
        "n_actions": info.n_actions,
        "max_length": info.max_timestep,
        "return_scale": info.return_scale,
        "target_return": info.best_return,
    }
    np.savez(
        path,
        observations=np.concatenate([one_hot(e.observations, sizes) for e in episodes]),
        actions=np.concatenate([e.actions for e in episodes]).astype(np.int64),
        rewards=np.concatenate([e.rewards for e in episodes]).astype(np.float32),
        terminals=np.concatenate([np.arange(len(e.actions)) == len(e.actions) - 1 for e in episodes]),
        **{f"setting_{key}": np.asarray(value) for key, value in settings.items()},
    )
    return info, settings


class D3rlpyAgent(Agent):
    """The policy the worker serves, as a harness agent of the dataset's env."""

    suites = (SUITE,)

    def __init__(self, connection, info: DatasetInfo) -> None:
        self.connection, self.info = connection, info
        self.space = info.space
        self.envs = (info.env_id,)

    def _call(self, *message: Any) -> Any:
        self.connection.send(message)
        return self.connection.recv()

    def reset(self, env_id: str | None = None, env_kwargs: Any = None) -> None:
        if env_id is not None and env_id.split(":")[-1] != self.info.env_id:
            raise ValueError(f"d3rlpy's policy was trained on {self.info.env_id}, not env_id={env_id!r}")
        self._call("reset")

    def act_batch(self, obs_batch: Any) -> np.ndarray:
        components = flatten_symbolic(self.space, obs_batch)
        return self._call("act", one_hot(components, self.info.observation_sizes))

    def observe(self, rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray) -> None:
        self._call("observe", np.asarray(rewards), np.asarray(terminated) | np.asarray(truncated))


def load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def entry_score(results) -> dict[str, float]:
    (entry,) = results.entries
    return {"score": entry.normalized_score.value, "mean_return": entry.mean_return}


def train_ours(dataset_id: str, steps: int, seed: int, out: Path, options: list[str]) -> float:
    """Train our DT; the training loop's wall seconds (the dataset read and the model built before)."""
    run = open_run("dt", our_config(dataset_id, steps, seed, out, options))
    start = time.perf_counter()
    train_loop(run)
    return time.perf_counter() - start


def _wake_if_failed(worker: subprocess.Popen, address: str) -> None:
    """A worker that dies before it connects would leave ``accept()`` waiting: connect in its place
    (the parent then reads end-of-file and reports the exit code)."""
    if worker.wait() != 0:
        try:
            Client(address, family="AF_UNIX").close()
        except OSError:  # the parent is no longer listening
            pass


def train_and_score_d3rlpy(anchor_python: str, data: Path, seed: int, info: DatasetInfo) -> dict[str, Any]:
    """Start the worker (it connects back, then trains), then play its policy with the harness."""
    address = str(data.with_name(f"worker-{seed}.sock"))
    with Listener(address, family="AF_UNIX") as listener:
        worker = subprocess.Popen(
            [anchor_python, str(WORKER), str(data), str(seed), address],
            env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""},
        )
        threading.Thread(target=_wake_if_failed, args=(worker, address), daemon=True).start()
        try:
            with listener.accept() as connection:
                try:
                    trained = connection.recv()
                except EOFError:
                    raise RuntimeError(f"the d3rlpy worker failed (exit code {worker.wait()})") from None
                results = evaluate(
                    "d3rlpy:DiscreteDecisionTransformer",
                    SUITE,
                    agent=D3rlpyAgent(connection, info),
                    config={"target_return": info.best_return},
                    progress=False,
                )
                connection.send(("close",))
            worker.wait(60)
        finally:
            if worker.poll() is None:
                worker.kill()
    return {**trained, **entry_score(results)}


def measure(
    dataset_id: str, steps: int, seeds: int, options: list[str], anchor_python: str, work: Path
) -> dict[str, Any]:
    torch.set_num_threads(1)  # as the worker: one thread each, on a shared machine
    data = work / "dataset.npz"
    info, settings = export(dataset_id, steps, options, data)
    tokens = steps * settings["batch_size"] * settings["context"] * TOKENS_PER_STEP
    runs = []
    for seed in range(seeds):
        before = load()
        ours_seconds = train_ours(dataset_id, steps, seed, work / f"ours-s{seed}", options)
        between = load()
        theirs = train_and_score_d3rlpy(anchor_python, data, seed, info)
        after = load()
        ours = entry_score(evaluate(f"run:{work / f'ours-s{seed}'}", SUITE, progress=False))
        run = {
            "seed": seed,
            "ours": {**ours, "train_seconds": ours_seconds, "tokens_per_s": tokens / ours_seconds},
            "d3rlpy": {
                "score": theirs["score"],
                "mean_return": theirs["mean_return"],
                "train_seconds": theirs["train_seconds"],
                "tokens_per_s": tokens / theirs["train_seconds"],
            },
            "load_average_1_5_15_min": {"before": before, "between": between, "after": after},
        }
        run["speed_ratio"] = run["ours"]["tokens_per_s"] / run["d3rlpy"]["tokens_per_s"]
        runs.append(run)
        print(
            f"seed {seed}: ours {run['ours']['score']:.1f} at {run['ours']['tokens_per_s']:,.0f} tokens/s, "
            f"d3rlpy {run['d3rlpy']['score']:.1f} at {run['d3rlpy']['tokens_per_s']:,.0f} tokens/s "
            f"({run['speed_ratio']:.2f}×), load {after}",
            flush=True,
        )
    return {
        "dataset": dataset_id,
        "suite": SUITE,
        "env_id": info.env_id,
        "d3rlpy_version": theirs["d3rlpy"],
        "torch_threads": {"ours": torch.get_num_threads(), "d3rlpy": theirs["torch_threads"]},
        "options": options,
        "settings": settings,
        "runs": runs,
        "summary": summary(runs),
    }


def summary(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Means over the training seeds; the speed ratio is the median of the per-seed ratios (each
    pair trained back to back, under the same load)."""
    return {
        "ours_score": float(np.mean([run["ours"]["score"] for run in runs])),
        "d3rlpy_score": float(np.mean([run["d3rlpy"]["score"] for run in runs])),
        "ours_tokens_per_s": float(np.mean([run["ours"]["tokens_per_s"] for run in runs])),
        "d3rlpy_tokens_per_s": float(np.mean([run["d3rlpy"]["tokens_per_s"] for run in runs])),
        "speed_ratio": float(np.median([run["speed_ratio"] for run in runs])),
    }


def crosscheck_table(data: dict[str, Any]) -> str:
    """The docs table: per training seed and on average, both scores and both training speeds."""
    lines = [
        "| training seed | ours: score | d3rlpy: score | ours: tokens/s | d3rlpy: tokens/s | speed ratio |",
        "|---|---|---|---|---|---|",
    ]
    for run in data["runs"]:
        lines.append(
            f"| {run['seed']} | {run['ours']['score']:.1f} | {run['d3rlpy']['score']:.1f} | "
            f"{run['ours']['tokens_per_s']:,.0f} | {run['d3rlpy']['tokens_per_s']:,.0f} | "
            f"{run['speed_ratio']:.2f}× |"
        )
    total = data["summary"]
    lines.append(
        f"| mean (ratio: median) | {total['ours_score']:.1f} | {total['d3rlpy_score']:.1f} | "
        f"{total['ours_tokens_per_s']:,.0f} | {total['d3rlpy_tokens_per_s']:,.0f} | {total['speed_ratio']:.2f}× |"
    )
    return "\n".join(lines)


def crosscheck_note(data: dict[str, Any]) -> str:
    """The conditions of the table, for the docs: size, steps, threads, the machine's load."""
    settings, machine = data["settings"], data["provenance"]["machine"]
    loads = [
        run["load_average_1_5_15_min"][moment][0] for run in data["runs"] for moment in ("before", "after")
    ]
    return (
        f"Measured on `{data['dataset']}`, {settings['steps']} steps of batch {settings['batch_size']}, "
        f"context {settings['context']}, {settings['layers']} layers of width {settings['embed_dim']}, "
        f"{settings['heads']} head(s), d3rlpy {data['d3rlpy_version']}, one torch thread each, on "
        f"{machine['cpu_count']} shared CPU cores (1-minute load average {min(loads):.1f} to {max(loads):.1f}); "
        + (
            f"our DT with `{' '.join('--set ' + option for option in data['options'])}`."
            if data["options"]
            else "our DT at its defaults."
        )
    )


def quotes(data: dict[str, Any]) -> list[str]:
    """What ``docs/baselines/offline.md`` quotes of the data file, as it must stand there."""
    return [crosscheck_table(data), crosscheck_note(data)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--anchor-python", required=True, help="the python of d3rlpy's venv")
    parser.add_argument("--dataset", default="icl/numberline-symbolic/mixed-v0")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument(
        "--set",
        dest="options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a field of our DT's config (repeatable), e.g. embed_dim=64; d3rlpy's run takes the same",
    )
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if not Path(args.anchor_python).is_file():
        parser.error(f"--anchor-python: no file {args.anchor_python}")
    if args.steps < 1 or args.seeds < 1:
        parser.error("--steps and --seeds must be positive integers")
    started = data_record.provenance("benchmarks/anchors/d3rlpy_dt.py", ["python", *sys.argv])
    with tempfile.TemporaryDirectory(prefix="d3rlpy-crosscheck-") as work:
        measured = measure(args.dataset, args.steps, args.seeds, args.options, args.anchor_python, Path(work))
    data_record.write(args.out, started, measured)
    print("\n\n".join(quotes(data_record.read(args.out))))


if __name__ == "__main__":
    main()
