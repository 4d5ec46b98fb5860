"""The training loop every gradient trainer of ``baselines`` shares, and its run-folder plumbing.

The in-context transformers (``baselines/icl/train.py``), the offline algorithms
(``baselines/offline/train.py``) and the in-context RL baselines (``baselines/icrl/train.py``) each
build their model, data and loss, open their run folder with the helpers here, and hand one
:class:`Loop` to :func:`train_steps`, which does what they have in common:

- each step: the learning rate of the step, the trainer's loss of the step (``Loop.step_loss``,
  whose batch comes from a generator seeded with (seed, step), so a resumed run is the unbroken
  run), a clear error on a non-finite loss, backward, gradient clipping, the optimizer's update;
- a metrics line every ``log_every`` steps (loss and its parts, learning rate, throughput, time);
- a checkpoint (``model.safetensors``, ``optimizer.safetensors``, ``state.json``) every
  ``checkpoint_every`` steps, at the end and when ``max_seconds`` is spent;
- a progress bar; under ``torchrun`` (:func:`start_processes`) process 0 alone writes, every
  process logs the global mean loss, and one clock decides when time is up.

Only torch (and, lazily, safetensors and rich) is imported: the GPU machine runs the in-context
transformers' trainer without gymnasium.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

# ---- devices and processes --------------------------------------------------------------------


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when present), ``cpu`` or ``cuda``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class Processes:
    """This process's place under torchrun (rank 0 of 1 without it)."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def process_device(name: str) -> torch.device:
    """The device of this process: under torchrun on CUDA, the GPU of its ``LOCAL_RANK``."""
    device = resolve_device(name)
    if device.type == "cuda" and "LOCAL_RANK" in os.environ:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    return device


def start_processes(device: torch.device) -> Processes:
    """Join torchrun's process group when launched by it (``WORLD_SIZE`` > 1): NCCL on CUDA, gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Processes()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Processes(dist.get_rank(), dist.get_world_size())


def finish_processes(processes: Processes) -> None:
    """Wait until every process is done (process 0's checkpoint is written), then leave the group."""
    if processes.world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()


def distribute(model: nn.Module, device: torch.device, processes: Processes, compile: bool) -> nn.Module:
    """What the steps call: ``model`` under DDP with several processes, ``torch.compile``d on CUDA
    when asked (the checkpoints keep saving ``model`` itself)."""
    if processes.world > 1:
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if compile and device.type == "cuda":
        model = torch.compile(model)
    return model


def bf16_autocast(device: torch.device, enabled: bool):
    """bf16 autocast on CUDA when ``enabled`` (training on CPU stays float32)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled and device.type == "cuda")


# ---- schedules and seeds ----------------------------------------------------------------------


def step_seed(seed: int, step: int) -> int:
    """The data seed of one step, so a resumed run draws exactly the same batches."""
    return (seed * 1_000_003 + step) % (2**63 - 1)


def warmup_cosine(config: Any, step: int, elapsed: float = 0.0) -> float:
    """Linear warm-up over ``config.warmup_steps``, then cosine decay from ``config.lr`` to
    ``config.lr_final`` over the steps left, or over the time left (``config.max_seconds``) when that
    runs out sooner; ``elapsed`` is the training time spent so far."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(config.steps - config.warmup_steps, 1)
    progress = min((step - config.warmup_steps) / span, 1.0)
    if config.max_seconds:
        progress = max(progress, min(elapsed / config.max_seconds, 1.0))
    return config.lr_final + 0.5 * (config.lr - config.lr_final) * (1 + math.cos(math.pi * progress))


# ---- run folders and checkpoints --------------------------------------------------------------


def check_new_run_folder(run_dir: Path) -> None:
    """Refuse to train into a folder that holds something other than a run."""
    if run_dir.is_dir() and any(run_dir.iterdir()) and not (run_dir / "config.json").is_file():
        raise ValueError(
            f"out={str(run_dir)!r} exists and is not a run folder; choose an empty or new folder"
        )


def resume_point(run_dir: Path, differing: list[str], how_not: str) -> tuple[int, float]:
    """(steps done, training seconds spent) of the checkpoint in ``run_dir``; a ``ValueError`` if the
    config differs from the run's in the fields ``differing`` (``how_not``: how to start afresh)."""
    if differing:
        raise ValueError(
            f"cannot resume {run_dir}: its config differs in {', '.join(differing)}; "
            f"use another --out or {how_not}"
        )
    state = json.loads((run_dir / "state.json").read_text())
    return int(state["step"]), float(state["elapsed_s"])


def drop_metrics_after(path: Path, step: int) -> None:
    """Keep the metrics lines up to the checkpoint's step: a run stopped between a log line and the
    next checkpoint logged steps it will now train again."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept))


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    tensors = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    return tensors


def _load_optimizer_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    state_dict = optimizer.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    state_dict["state"] = state
    optimizer.load_state_dict(state_dict)


def save_checkpoint(run_dir: Path, model: nn.Module, optimizer, step: int, elapsed: float) -> None:
    """The weights (float32), the optimizer's state and (step, seconds) into ``run_dir``; each file
    is written beside and then moved into place, so a crash leaves the previous checkpoint whole."""
    from safetensors.torch import save_file  # lazy: only writing a checkpoint needs it

    weights = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    for name, tensors in (("model", weights), ("optimizer", _optimizer_tensors(optimizer))):
        tmp = run_dir / f"{name}.safetensors.tmp"
        save_file(tensors, str(tmp))
        tmp.replace(run_dir / f"{name}.safetensors")
    (run_dir / "state.json").write_text(json.dumps({"step": step, "elapsed_s": elapsed}))


def load_checkpoint(run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Put the checkpoint of ``run_dir`` back into ``model`` and ``optimizer``."""
    from safetensors.torch import load_file  # lazy: only resuming needs it

    model.load_state_dict(load_file(str(run_dir / "model.safetensors")))
    _load_optimizer_tensors(optimizer, load_file(str(run_dir / "optimizer.safetensors")))


def progress_bar(enabled: bool):
    """A rich progress bar (a no-op when disabled or rich is missing)."""
    try:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    except ImportError:
        enabled = False
    if not enabled:
        return _SilentBar()
    return Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeRemainingColumn(),
    )


class _SilentBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, *args, **kwargs):
        pass

    def add_task(self, *args, **kwargs):
        return 0


# ---- the loop ---------------------------------------------------------------------------------


@dataclass
class StepLoss:
    """What a trainer's step returns: the loss to minimize (this process's share of the global
    batch's), parts to log beside it, and how many items (prompts, tokens) this process trained on."""

    loss: torch.Tensor
    count: int
    parts: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class Loop:
    """A run opened for training, as :func:`train_steps` takes it."""

    folder: Path
    model: nn.Module
    """The module itself (checkpoints and clipping); the trainer's ``step_loss`` may call a wrapper."""
    optimizer: torch.optim.Optimizer
    step: int
    """Steps done (0 for a new run)."""
    elapsed: float
    """Training seconds spent in the steps done."""
    steps: int
    """Train up to this step."""
    step_loss: Callable[[int], StepLoss]
    """The loss of step ``s``, its batch drawn from a generator seeded with (seed, s)."""
    learning_rate: Callable[[int, float], float]
    """The learning rate of a step, given the training seconds spent."""
    grad_clip: float
    log_every: int
    checkpoint_every: int
    progress: bool
    max_seconds: float = 0.0
    """Stop (with a checkpoint) once training has run this long in total; 0: no limit."""
    rate_name: str = "tokens_per_s"
    """The metrics' name of the throughput (items of ``StepLoss.count`` per second)."""
    processes: Processes = field(default_factory=Processes)
    after_checkpoint: Callable[[int], dict[str, Any]] | None = None
    """Called on process 0 after each checkpoint; a non-empty result is logged as a metrics line."""


def cosine_loop(
    config: Any,
    folder: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    elapsed: float,
    step_loss: Callable[[int], StepLoss],
    **options: Any,
) -> Loop:
    """The :class:`Loop` of a trainer whose config has the fields ``steps``, ``grad_clip``,
    ``log_every``, ``checkpoint_every``, ``progress``, ``max_seconds`` and :func:`warmup_cosine`'s
    (the in-context transformers' and the in-context RL baselines'); ``options``: the other fields."""
    return Loop(
        folder,
        model,
        optimizer,
        step,
        elapsed,
        config.steps,
        step_loss,
        functools.partial(warmup_cosine, config),
        config.grad_clip,
        config.log_every,
        config.checkpoint_every,
        config.progress,
        max_seconds=config.max_seconds,
        **options,
    )


def restore_checkpoint(
    run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer, step: int, main: bool = True
) -> None:
    """Resuming at ``step`` (> 0): the checkpoint back into ``model`` and ``optimizer``, and (by the
    process that writes, ``main``) the metrics lines past it dropped. A new run (0): its stale
    metrics file removed."""
    if step:
        load_checkpoint(run_dir, model, optimizer)
        if main:
            drop_metrics_after(run_dir / "metrics.jsonl", step)
    elif main:
        (run_dir / "metrics.jsonl").unlink(missing_ok=True)


def optimizer_update(
    model: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor, grad_clip: float
) -> None:
    """Backward, clip the global gradient norm to ``grad_clip`` (0: no clipping), step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()


def global_mean(value: torch.Tensor, processes: Processes) -> float:
    """The mean over the processes of a value each computed on its share (a collective: every
    process calls it)."""
    value = value.detach()
    if processes.world > 1:
        import torch.distributed as dist

        value = value.clone()
        dist.all_reduce(value)
        value /= processes.world
    return float(value)


def train_steps(loop: Loop) -> None:
    """Train ``loop`` up to ``loop.steps`` (or ``max_seconds``): log metrics, save checkpoints."""
    processes, optimizer = loop.processes, loop.optimizer
    metrics = (loop.folder / "metrics.jsonl").open("a") if processes.main else None
    window_start, window_count = time.perf_counter(), 0
    run_start = time.perf_counter() - loop.elapsed
    loss_value = float("nan")
    with progress_bar(loop.progress and processes.main) as bar:
        task = bar.add_task("train", total=loop.steps, completed=loop.step, loss="-")
        for step in range(loop.step, loop.steps):
            for group in optimizer.param_groups:
                group["lr"] = loop.learning_rate(step, time.perf_counter() - run_start)
            result = loop.step_loss(step)
            if not torch.isfinite(result.loss):
                raise FloatingPointError(
                    f"loss became {result.loss.item()} at step {step}; lower lr (now {optimizer.param_groups[0]['lr']:.3g})"
                )
            optimizer_update(loop.model, optimizer, result.loss, loop.grad_clip)
            window_count += result.count
            done = step + 1
            if done % loop.log_every == 0 or done == loop.steps:
                loss_value = global_mean(result.loss, processes)
                now = time.perf_counter()
                record = {
                    "step": done,
                    "loss": loss_value,
                    **{name: global_mean(value, processes) for name, value in result.parts.items()},
                    "lr": optimizer.param_groups[0]["lr"],
                    loop.rate_name: window_count * processes.world / max(now - window_start, 1e-9),
                    "elapsed_s": now - run_start,
                }
                _write(metrics, record)
                window_start, window_count = now, 0
            stop = _time_is_up(loop, run_start)
            if done % loop.checkpoint_every == 0 or done == loop.steps or stop:
                _checkpoint(loop, metrics, done, time.perf_counter() - run_start)
            bar.update(task, completed=done, loss=f"{loss_value:.4f}")
            if stop:
                break
    if metrics is not None:
        metrics.close()
        if not (loop.folder / "model.safetensors").exists():  # nothing left to train: a checkpoint anyway
            save_checkpoint(loop.folder, loop.model, optimizer, loop.step, loop.elapsed)


def _write(metrics, record: dict[str, Any]) -> None:
    if metrics is not None:
        metrics.write(json.dumps(record) + "\n")
        metrics.flush()


def _time_is_up(loop: Loop, run_start: float) -> bool:
    if not loop.max_seconds:
        return False
    stop = time.perf_counter() - run_start > loop.max_seconds
    if loop.processes.world > 1:  # process 0's clock decides for all, or a process would hang
        import torch.distributed as dist

        flag = torch.tensor(float(stop), device=next(loop.model.parameters()).device)
        dist.broadcast(flag, src=0)
        stop = bool(flag)
    return stop


def _checkpoint(loop: Loop, metrics, step: int, elapsed: float) -> None:
    if not loop.processes.main:
        return
    save_checkpoint(loop.folder, loop.model, loop.optimizer, step, elapsed)
    extra = loop.after_checkpoint(step) if loop.after_checkpoint else None
    if extra:
        _write(metrics, {"step": step, **extra})


__all__ = [
    "Loop",
    "Processes",
    "StepLoss",
    "bf16_autocast",
    "check_new_run_folder",
    "cosine_loop",
    "distribute",
    "drop_metrics_after",
    "finish_processes",
    "global_mean",
    "load_checkpoint",
    "optimizer_update",
    "process_device",
    "progress_bar",
    "resolve_device",
    "restore_checkpoint",
    "resume_point",
    "save_checkpoint",
    "start_processes",
    "step_seed",
    "train_steps",
    "warmup_cosine",
]
