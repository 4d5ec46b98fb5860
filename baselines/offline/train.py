"""What the offline algorithms share around the common loop: data, DDP, optimizer, run folders.

Each algorithm is one module (``dt.py``, ``reinformer.py``, ``bc.py``, registered in
``runs.ALGORITHMS``) that provides its dataclass ``Config`` (an ``OfflineConfig``: the groups
``model``, ``optim`` and ``run`` and fields of its own), ``build_model(config, info)`` and
``loss(model, windows, config, normalizer)``; :func:`train` does the rest, its steps through
:func:`baselines.training.train_steps` (the loop every trainer shares). A run folder
holds

- ``config.json``: the config, nested as ``dataclasses.asdict`` writes it, plus ``"algorithm"``;
- ``dataset.json``: what the model's shape and the agent need from the dataset (:class:`DatasetInfo`),
  so a run folder plays without the dataset;
- ``model.safetensors``, ``optimizer.safetensors`` and ``state.json``: the latest checkpoint;
- ``metrics.jsonl``: one JSON line per logged step (loss, learning rate, tokens/s, evaluations);
- ``agent.json``: ``{"loader": "baselines.offline.agent:load_run_agent"}``, so it is agent ``run:DIR``.

Every step draws its batch from a generator seeded with (seed, step) and seeds dropout the same way,
so a resumed run continues exactly as an unbroken one. Under ``torchrun --nproc-per-node N`` each
process takes its slice of the same global batch (gloo on CPU, NCCL on CUDA), and the loss is a sum
divided by the global batch's number of predicted steps, so N processes take the same step as one.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from baselines.configs import fail, values_by_path
from baselines.offline.agent import evaluation_returns
from baselines.offline.observations import dataset_episodes
from baselines.offline.optim import learning_rate, make_optimizer
from baselines.offline.runs import DatasetInfo, algorithm_module, read_run
from baselines.offline.sequences import Episode, EpisodeTable
from baselines.training import (
    Loop,
    Processes,
    StepLoss,
    bf16_autocast,
    check_new_run_folder,
    distribute,
    finish_processes,
    process_device,
    restore_checkpoint,
    resume_point,
    start_processes,
    step_seed,
    train_steps,
)
from leaderboard.loading import RUN_AGENT_FILE

#: Fields a resumed run may change: they do not change what is learned.
RESUMABLE_CHANGES = (
    "run.steps",
    "run.progress",
    "run.resume",
    "run.log_every",
    "run.checkpoint_every",
    "run.out",
)
AGENT_LOADER = "baselines.offline.agent:load_run_agent"


# ---- the dataset ------------------------------------------------------------------------------


def load_dataset(dataset_id: str):
    """The local dataset ``dataset_id``, opened by the dataset module's loader (never downloads);
    its content hash is checked when its episodes are read (:func:`dataset_episodes`). A missing,
    unreadable or foreign dataset raises a ``DatasetError`` (a ``ValueError``) naming it."""
    from baselines.offline.datasets import load_offline_dataset  # lazy: a played run needs no Minari

    return load_offline_dataset(dataset_id, verify=False)


# The last dataset read, by the stat of its files: a sweep training many runs on one dataset
# reads its file once (reading a 1,000-episode dataset takes seconds, mostly in h5py).
_last_read: tuple[Any, tuple[DatasetInfo, list[Episode]]] | None = None


def read_episodes(dataset_id: str) -> tuple[DatasetInfo, list[Episode]]:
    """What a run keeps of the dataset and its episodes (:func:`dataset_episodes`). The last dataset
    read stays in memory; a dataset written again since (another size or time) is read again."""
    global _last_read
    from baselines.offline.datasets import dataset_path  # lazy, as in load_dataset

    folder = dataset_path(dataset_id) / "data"
    files = sorted(folder.iterdir()) if folder.is_dir() else []
    key = (dataset_id, [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files])
    if _last_read is None or _last_read[0] != key:
        _last_read = None  # free the previous dataset before reading the next
        dataset = load_dataset(dataset_id)
        episodes = dataset_episodes(dataset)
        _last_read = (key, (DatasetInfo.of(dataset, episodes), episodes))
    return _last_read[1]


# ---- run folders ------------------------------------------------------------------------------


def default_out(algorithm: str, config: Any) -> str:
    return f"runs/offline/{algorithm}-{config.dataset.replace('/', '_')}-s{config.run.seed}"


# ---- training ---------------------------------------------------------------------------------


@dataclass
class Run:
    """A run opened for training: data, model and optimizer at the step it reached."""

    folder: Path
    algorithm: str
    config: Any
    info: DatasetInfo
    table: EpisodeTable
    device: torch.device
    processes: Processes
    model: nn.Module
    optimizer: torch.optim.Optimizer
    step: int
    elapsed: float


def open_run(algorithm: str, config: Any) -> Run:
    """Check ``config``, read the dataset, open the run folder (resuming its checkpoint when the config
    agrees), build the model and optimizer."""
    module = algorithm_module(algorithm)
    if not config.run.out:
        config = dataclasses.replace(
            config, run=dataclasses.replace(config.run, out=default_out(algorithm, config))
        )
    config.validate()
    device = process_device(config.run.device)
    processes = start_processes(device)
    if config.run.batch_size % processes.world:
        fail(
            "batch_size", f"must be divisible by the {processes.world} processes, got {config.run.batch_size}"
        )
    info, episodes = read_episodes(config.dataset)
    table = EpisodeTable(config.select_episodes(episodes), device)

    run_dir = Path(config.run.out)
    start_step, elapsed = 0, 0.0
    if (run_dir / "state.json").is_file() and config.run.resume:
        saved_algorithm, saved, _ = read_run(run_dir)
        saved_values, wanted = values_by_path(saved), values_by_path(config)
        differing = [p for p in wanted if p not in RESUMABLE_CHANGES and saved_values.get(p) != wanted[p]]
        if saved_algorithm != algorithm:
            differing.insert(0, "algorithm")
        start_step, elapsed = resume_point(run_dir, differing, "--set resume=false")
    else:
        check_new_run_folder(run_dir)
    if processes.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(
            json.dumps({"algorithm": algorithm, **dataclasses.asdict(config)}, indent=2)
        )
        (run_dir / "dataset.json").write_text(json.dumps(dataclasses.asdict(info), indent=2))
        (run_dir / RUN_AGENT_FILE).write_text(json.dumps({"loader": AGENT_LOADER}))

    torch.manual_seed(config.run.seed)
    model = module.build_model(config, info).to(device)
    optimizer = make_optimizer(config.optim, model.parameters())
    restore_checkpoint(run_dir, model, optimizer, start_step, processes.main)
    return Run(
        run_dir, algorithm, config, info, table, device, processes, model, optimizer, start_step, elapsed
    )


def train_loop(run: Run) -> None:
    """Train ``run`` up to ``run.steps``: log metrics, save checkpoints, evaluate if asked."""
    config, device, module = run.config, run.device, algorithm_module(run.algorithm)
    settings, processes = config.run, run.processes
    model = distribute(run.model, device, processes, settings.compile)
    context = config.context
    share = settings.batch_size // processes.world
    mine = slice(processes.rank * share, (processes.rank + 1) * share)

    def step_loss(step: int) -> StepLoss:
        ends = run.table.sample_ends(settings.batch_size, step_seed(settings.seed, step)).to(device)
        windows = run.table.windows(ends, context, run.info.return_scale)
        # Every process divides by the same global count, so DDP's mean of the processes'
        # gradients equals one process's gradient of the whole batch.
        normalizer = windows.mask.sum().clamp(min=1) / processes.world
        local = windows.part(mine)
        if getattr(config.model, "mask_padding", False):  # BC has no transformer, nor padding
            local = local.trimmed()
        torch.manual_seed(step_seed(settings.seed, step) + processes.rank)  # dropout
        with bf16_autocast(device, settings.bf16):
            loss, parts = module.loss(model, local, config, normalizer)
        return StepLoss(loss, share * context * module.TOKENS_PER_STEP, parts)

    def evaluate(step: int) -> dict[str, Any]:
        if not settings.eval_episodes:
            return {}
        return evaluation_returns(run.folder, settings.eval_episodes)

    train_steps(
        Loop(
            run.folder,
            run.model,
            run.optimizer,
            run.step,
            run.elapsed,
            settings.steps,
            step_loss,
            lambda step, elapsed: learning_rate(config.optim, step),
            config.optim.grad_clip,
            settings.log_every,
            settings.checkpoint_every,
            settings.progress,
            processes=processes,
            after_checkpoint=evaluate,
        )
    )


def train(algorithm: str, config: Any) -> Path:
    """Train (or resume) the run of ``config``; returns the run folder."""
    run = open_run(algorithm, config)
    try:
        train_loop(run)
    finally:
        finish_processes(run.processes)
    return run.folder


__all__ = [
    "Run",
    "load_dataset",
    "open_run",
    "read_episodes",
    "train",
    "train_loop",
]
