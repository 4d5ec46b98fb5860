"""The training loop the offline algorithms share: data, DDP, optimizer, checkpoints, run folders.

Each algorithm is one module (``dt.py``, ``reinformer.py``, ``bc.py``, registered in
``runs.ALGORITHMS``) that provides its dataclass ``Config`` (an ``OfflineConfig``: the groups
``model``, ``optim`` and ``run`` and fields of its own), ``build_model(config, info)`` and
``loss(model, windows, config, normalizer)``; :func:`train` does the rest. A run folder
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
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from baselines.configs import fail, values_by_path
from baselines.icl.train import (
    _drop_metrics_after,
    _load_optimizer_tensors,
    _progress,
    check_new_run_folder,
    resolve_device,
    resume_point,
    save_checkpoint,
    step_seed,
)
from baselines.offline.agent import evaluation_returns
from baselines.offline.observations import dataset_episodes
from baselines.offline.optim import learning_rate, make_optimizer, optimizer_step
from baselines.offline.runs import DatasetInfo, algorithm_module, read_run
from baselines.offline.sequences import Episode, EpisodeTable
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


# ---- distributed ------------------------------------------------------------------------------


@dataclass
class Processes:
    """This process's place under torchrun (rank 0 of 1 without it)."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def start_processes(device: torch.device) -> Processes:
    """Join torchrun's process group when launched by it (``WORLD_SIZE`` > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Processes()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Processes(dist.get_rank(), dist.get_world_size())


def process_device(name: str) -> torch.device:
    device = resolve_device(name)
    if device.type == "cuda" and "LOCAL_RANK" in os.environ:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    return device


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
    if start_step:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(run_dir / "model.safetensors")))
        _load_optimizer_tensors(optimizer, load_file(str(run_dir / "optimizer.safetensors")))
        if processes.main:
            _drop_metrics_after(run_dir / "metrics.jsonl", start_step)
    elif processes.main and (run_dir / "metrics.jsonl").exists():
        (run_dir / "metrics.jsonl").unlink()
    return Run(
        run_dir, algorithm, config, info, table, device, processes, model, optimizer, start_step, elapsed
    )


def train_loop(run: Run) -> None:
    """Train ``run`` up to ``run.steps``: log metrics, save checkpoints, evaluate if asked."""
    config, device, module = run.config, run.device, algorithm_module(run.algorithm)
    settings, processes = config.run, run.processes
    model: nn.Module = run.model
    if processes.world > 1:
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if settings.compile and device.type == "cuda":
        model = torch.compile(model)
    autocast = device.type == "cuda" and settings.bf16
    context = config.context
    share = settings.batch_size // processes.world
    mine = slice(processes.rank * share, (processes.rank + 1) * share)
    metrics = (run.folder / "metrics.jsonl").open("a") if processes.main else None
    window_start, window_tokens = time.perf_counter(), 0
    run_start = time.perf_counter() - run.elapsed
    loss_value = float("nan")
    with _progress(settings.progress and processes.main, settings.steps, run.step) as bar:
        task = bar.add_task("train", total=settings.steps, completed=run.step, loss="-")
        for step in range(run.step, settings.steps):
            for group in run.optimizer.param_groups:
                group["lr"] = learning_rate(config.optim, step)
            ends = run.table.sample_ends(settings.batch_size, step_seed(settings.seed, step)).to(device)
            windows = run.table.windows(ends, context, run.info.return_scale)
            # Every process divides by the same global count, so DDP's mean of the processes'
            # gradients equals one process's gradient of the whole batch.
            normalizer = windows.mask.sum().clamp(min=1) / processes.world
            local = windows.part(mine)
            torch.manual_seed(step_seed(settings.seed, step) + processes.rank)  # dropout
            loss, parts = optimizer_step(model, run.optimizer, module, config, local, normalizer, autocast)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"loss became {loss.item()} at step {step}; lower lr (now {config.optim.lr})"
                )
            window_tokens += share * context * module.TOKENS_PER_STEP
            done = step + 1
            if done % settings.log_every == 0 or done == settings.steps:
                loss_value = loss.item()  # this process's estimate of the global mean
                now = time.perf_counter()
                record = {
                    "step": done,
                    "loss": _global_mean(loss.detach(), processes),
                    **{name: _global_mean(value.detach(), processes) for name, value in parts.items()},
                    "lr": run.optimizer.param_groups[0]["lr"],
                    "tokens_per_s": window_tokens * processes.world / max(now - window_start, 1e-9),
                    "elapsed_s": now - run_start,
                }
                if metrics is not None:
                    metrics.write(json.dumps(record) + "\n")
                    metrics.flush()
                window_start, window_tokens = now, 0
            if done % settings.checkpoint_every == 0 or done == settings.steps:
                _checkpoint(run, done, time.perf_counter() - run_start, metrics)
            bar.update(task, completed=done, loss=f"{loss_value:.4f}")
    if metrics is not None:
        metrics.close()
    if run.step == settings.steps and processes.main and not (run.folder / "model.safetensors").exists():
        save_checkpoint(run.folder, run.model, run.optimizer, run.step, run.elapsed)


def _global_mean(value: torch.Tensor, processes: Processes) -> float:
    """The mean over the global batch of a loss each process computed as its sum over the global
    count / world size (what DDP's gradient averaging differentiates)."""
    if processes.world > 1:
        import torch.distributed as dist

        value = value.clone()
        dist.all_reduce(value)
        value /= processes.world
    return float(value)


def _checkpoint(run: Run, step: int, elapsed: float, metrics) -> None:
    if not run.processes.main:
        return
    save_checkpoint(run.folder, run.model, run.optimizer, step, elapsed)
    if run.config.run.eval_episodes and metrics is not None:
        record = {"step": step, **evaluation_returns(run.folder, run.config.run.eval_episodes)}
        metrics.write(json.dumps(record) + "\n")
        metrics.flush()


def train(algorithm: str, config: Any) -> Path:
    """Train (or resume) the run of ``config``; returns the run folder."""
    run = open_run(algorithm, config)
    try:
        train_loop(run)
    finally:
        if run.processes.world > 1:
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()
    return run.folder


__all__ = [
    "Processes",
    "Run",
    "load_dataset",
    "open_run",
    "read_episodes",
    "train",
    "train_loop",
]
