"""Train an in-context model over a task distribution; a run folder holds everything.

CleanRL-style: one dataclass config, one ``train(config)``; as nanoGPT's ``GPT(GPTConfig)``, the config
nests the parts' own: ``PromptConfig`` (the task, ``samplers.make_sampler``) and ``ModelConfig``
(``models.build_model``). ``train`` opens the run (``open_run``) and runs the loop (``train_loop``).
A run folder contains

- ``config.json``: the ``TrainConfig``, nested as ``dataclasses.asdict`` writes it (folders written
  before the nesting hold it flat; ``TrainConfig.from_dict`` reads both);
- ``model.safetensors`` and ``optimizer.safetensors``: the latest checkpoint;
- ``state.json``: the step reached and the wall time spent;
- ``metrics.jsonl``: one JSON line per logged step (loss, learning rate, prompts/s).

Running ``train`` again on a folder with a checkpoint resumes it (``resume=True``): the data of step s
come from a generator seeded with (seed, s), so a resumed run sees exactly the prompts an unbroken run
would. Only torch (and optionally rich) is needed, so the GPU machine runs this without gymnasium.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from baselines.configs import check_choice, check_types, fail, from_dict, values_by_path
from baselines.icl.models import (
    MODELS,
    InContextModel,
    ModelConfig,
    RecallModel,
    build_model,
    build_recall_model,
)
from baselines.icl.samplers import (
    TASKS,
    MRPSampler,
    PromptConfig,
    Prompts,
    RecallSampler,
    RegressionSampler,
    make_sampler,
)
from baselines.training import (
    StepLoss,
    check_new_run_folder,
    cosine_loop,
    resolve_device,
    restore_checkpoint,
    resume_point,
    step_seed,
    train_steps,
)

#: Fields a resumed run may change: they do not affect what is learned (``out`` may be spelled
#: differently, e.g. with a trailing slash).
RESUMABLE_CHANGES = ("steps", "progress", "resume", "log_every", "checkpoint_every", "max_seconds", "out")
#: The env each task's prompts follow (and a trained run is scored on).
TASK_ENV_IDS = {
    "icl-regression": "icl/LinearRegression-v0",
    "icl-mrp": "icl/MRPValue-v0",
    "icl-mqar": "icl/AssociativeRecall-v0",
}
#: The token task: a classifier over the vocabulary (cross-entropy), not a regression.
RECALL_TASK = "icl-mqar"
#: The flat config's names that are not a field's own (config.json of runs written before the
#: nesting; the command line's ``--model``).
FLAT_NAMES = {"task": "prompts.task", "model": "model.kind"}


@dataclass
class TrainConfig:
    """Everything a run depends on; saved as ``config.json`` in the run folder."""

    prompts: PromptConfig = field(default_factory=PromptConfig)
    """The task and its prompts."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The network."""
    steps: int = 2000
    """Optimizer steps (the total: a resumed run continues up to this)."""
    batch_size: int = 1024
    """Prompts per step."""
    lr: float = 1e-3
    """AdamW learning rate (linear warm-up over ``warmup_steps``, then cosine decay to ``lr_final``)."""
    lr_final: float = 1e-4
    """Learning rate at the last step."""
    warmup_steps: int = 50
    """Steps of linear learning-rate warm-up."""
    weight_decay: float = 0.0
    """AdamW decoupled weight decay."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this (0 disables clipping)."""
    seed: int = 0
    """Seeds the initial weights and, with the step number, each step's prompts."""
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu`` or ``cuda``."""
    bf16: bool = True
    """bf16 autocast on CUDA (ignored on CPU, where training is float32)."""
    compile: bool = False
    """``torch.compile`` the loss on CUDA."""
    loss_on: str = "auto"
    """``last``: the loss of the query after ``n`` examples (the analyses' setting); ``all``: every
    prefix, 0..n examples (what an agent needs at every context length); ``auto``: ``last`` for the
    linear model, ``all`` for the others."""
    target: str = "value"
    """What the query's prediction is regressed on. ``value``: the true value (regression label or
    v(s)). ``td`` (``icl-mrp``, discounted, ``loss_on="last"``): multi-task semi-gradient TD, the
    pretraining of Wang et al. 2024: the prediction for φ(s_n) chases r(s_n) + γ·(the model's own
    prediction for φ(s_{n+1}) from the same context), with no gradient through the bootstrap."""
    # --- bookkeeping ---
    out: str = "runs/icl"
    """The run folder."""
    log_every: int = 50
    """Write a metrics line every this many steps."""
    checkpoint_every: int = 1000
    """Save a checkpoint every this many steps (and always at the end)."""
    resume: bool = True
    """Continue from the run folder's checkpoint when there is one."""
    progress: bool = True
    """Show a progress bar."""
    max_seconds: float = 0.0
    """Stop (with a checkpoint) once training has run this long in total; 0: no limit. The cosine
    decay then follows whichever runs out first, steps or time, so a run cut by the clock still ends
    at ``lr_final`` (and is no longer bit-reproducible on resume)."""

    @property
    def resolved_loss_on(self) -> str:
        if self.loss_on != "auto":
            return self.loss_on
        return "last" if self.model.kind == "linear" else "all"

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TrainConfig:
        """The config of a JSON object: nested, or flat as run folders written before the nesting
        hold it (``{"task": ..., "model": "softmax", "layers": 3, ...}``)."""
        return from_dict(cls, data, FLAT_NAMES, source)


def validate(config: TrainConfig) -> None:
    """Raise a ``ValueError`` naming the first bad field (its type first, then its range)."""
    check_types(config)  # so below, integer fields hold ints and number fields ints or floats
    config.prompts.validate()
    config.model.validate()
    choices = {
        "device": ("auto", "cpu", "cuda"),
        "loss_on": ("auto", "last", "all"),
        "target": ("value", "td"),
    }
    for name, allowed in choices.items():
        check_choice(name, getattr(config, name), allowed)
    if config.batch_size < 1:
        fail("batch_size", f"must be a positive integer, got {config.batch_size!r}")
    for name in ("steps", "warmup_steps", "seed"):
        value = getattr(config, name)
        if value < 0:
            fail(name, f"must be a non-negative integer, got {value!r}")
    for name in ("log_every", "checkpoint_every"):
        if getattr(config, name) < 1:
            fail(name, f"must be >= 1, got {getattr(config, name)!r}")
    if not math.isfinite(config.lr) or config.lr <= 0:
        fail("lr", f"must be a finite number > 0, got {config.lr!r}")
    for name in ("weight_decay", "grad_clip", "lr_final", "max_seconds"):
        value = getattr(config, name)
        if not math.isfinite(value) or value < 0:
            fail(name, f"must be a finite number >= 0, got {value!r}")
    if config.device == "cuda" and not torch.cuda.is_available():
        fail("device", "is 'cuda' but no CUDA device is available; use --device cpu")
    if config.target == "td":
        if config.prompts.task != "icl-mrp":
            fail("target", f"'td' applies to task 'icl-mrp' only, not {config.prompts.task!r}")
        if config.prompts.objective != "discounted":
            fail("target", "'td' bootstraps with the discount γ: it needs objective='discounted'")
        if config.resolved_loss_on != "last":
            fail("target", "'td' bootstraps the query after n examples: it needs loss_on='last'")


def make_model(config: TrainConfig) -> InContextModel | RecallModel:
    sampler = make_sampler(config.prompts)
    if isinstance(sampler, RecallSampler):
        return build_recall_model(config.model, sampler.vocab_size, sampler.seq_len)
    return build_model(config.model, sampler.context_dim, sampler.query_dim, max_steps=config.prompts.n + 1)


def prompt_loss(model: InContextModel, prompts: Prompts, loss_on: str) -> torch.Tensor:
    """Mean squared error on the last query (after n examples) or on every prefix."""
    if loss_on == "last":
        n = prompts.num_steps - 1
        length = torch.full((prompts.batch_size,), n, device=prompts.context.device)
        prediction = model(prompts.context[:, :n], length, prompts.queries[:, n])
        return (prediction.float() - prompts.targets[:, n]).square().mean()
    prediction = model.forward_all(prompts.context, prompts.queries)
    return (prediction.float() - prompts.targets).square().mean()


def td_loss(model: InContextModel, prompts: Prompts, gamma: float) -> torch.Tensor:
    """Semi-gradient TD on prompts of n + 2 steps: the context is the first n transitions, the query
    φ(s_n), and the target r(s_n) + γ·model(context, φ(s_{n+1})), with the gradient stopped there."""
    n = prompts.num_steps - 2
    reward_column = prompts.context.shape[-1] - 1
    context = prompts.context[:, :n]
    length = torch.full((prompts.batch_size,), n, device=context.device)
    prediction = model(context, length, prompts.queries[:, n]).float()
    with torch.no_grad():
        following = model(context, length, prompts.queries[:, n + 1]).float()
        bootstrap = prompts.context[:, n, reward_column] + gamma * following
    return (prediction - bootstrap).square().mean()


def recall_loss(model: RecallModel, prompts: Prompts) -> torch.Tensor:
    """Cross-entropy of the value at every query position of MQAR sequences."""
    logits = model.forward_all(prompts.context, prompts.queries)
    return torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), prompts.targets.flatten())


@torch.no_grad()
def recall_accuracy(
    model: RecallModel, sampler: RecallSampler, *, batch_size: int = 1024, seed: int = 12345, device="cpu"
) -> float:
    """Share of the queries of ``batch_size`` fresh sequences whose value is the model's argmax."""
    generator = torch.Generator(device=device).manual_seed(seed)
    prompts = sampler.sample(batch_size, generator, device=device)
    logits = model.forward_all(prompts.context, prompts.queries)
    return float((logits.argmax(-1) == prompts.targets).double().mean())


def make_loss(config: TrainConfig, compile: bool = False):
    """``loss(model, prompts)`` (its function ``torch.compile``d when ``compile``) and the number of
    steps its prompts hold."""
    n = config.prompts.n
    if config.prompts.task == RECALL_TASK:
        return (torch.compile(recall_loss) if compile else recall_loss), config.prompts.seq_len
    if config.target == "td":
        function, keywords, num_steps = td_loss, {"gamma": config.prompts.gamma}, n + 2
    else:
        function, keywords, num_steps = prompt_loss, {"loss_on": config.resolved_loss_on}, n + 1
    return functools.partial(torch.compile(function) if compile else function, **keywords), num_steps


def load_config(run_dir: str | Path) -> TrainConfig:
    """The config of a run folder (nested, or flat as folders written before the nesting hold it)."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: it has no config.json")
    return TrainConfig.from_dict(json.loads(path.read_text()), source=str(path))


def load_model(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[InContextModel, TrainConfig]:
    """The trained model of a run folder (weights of its latest checkpoint) and its config."""
    from safetensors.torch import load_file

    config = load_config(run_dir)
    weights = Path(run_dir) / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{run_dir} has no checkpoint (model.safetensors); train it first")
    model = make_model(config)
    model.load_state_dict(load_file(str(weights)))
    return model.to(device).eval(), config


@dataclass
class Run:
    """A run folder opened for training: the model and optimizer at the step it reached."""

    folder: Path
    config: TrainConfig
    device: torch.device
    model: InContextModel
    optimizer: torch.optim.Optimizer
    step: int
    """Steps done (0 for a new run)."""
    elapsed: float
    """Training seconds spent in the steps done."""


def open_run(config: TrainConfig) -> Run:
    """Check ``config``, open its folder (resuming the checkpoint there when ``resume`` and the config
    agrees), write ``config.json``, seed torch and build the model and optimizer on the device."""
    validate(config)
    run_dir = Path(config.out)
    start_step, elapsed = 0, 0.0
    if (run_dir / "state.json").is_file() and config.resume:
        saved, wanted = values_by_path(load_config(run_dir)), values_by_path(config)
        differing = [
            path.rpartition(".")[2]
            for path in wanted
            if path not in RESUMABLE_CHANGES and saved[path] != wanted[path]
        ]
        start_step, elapsed = resume_point(run_dir, differing, "resume=False")
    else:
        check_new_run_folder(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))

    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model = make_model(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    restore_checkpoint(run_dir, model, optimizer, start_step)
    return Run(run_dir, config, device, model, optimizer, start_step, elapsed)


def train_loop(run: Run) -> None:
    """Train ``run`` up to ``config.steps`` (or ``max_seconds``): log metrics, save checkpoints."""
    config, device, model = run.config, run.device, run.model
    sampler = make_sampler(config.prompts)
    loss_fn, num_steps = make_loss(config, compile=config.compile and device.type == "cuda")
    autocast = device.type == "cuda" and config.bf16
    generator = torch.Generator(device=device)

    def step_loss(step: int) -> StepLoss:
        generator.manual_seed(step_seed(config.seed, step))
        prompts = sampler.sample(config.batch_size, generator, num_steps=num_steps, device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            return StepLoss(loss_fn(model, prompts), config.batch_size)

    loop = cosine_loop(config, run.folder, model, run.optimizer, run.step, run.elapsed, step_loss)
    train_steps(dataclasses.replace(loop, rate_name="prompts_per_s"))


def train(config: TrainConfig) -> Path:
    """Train (or resume) the run in ``config.out``; returns the run folder."""
    run = open_run(config)
    train_loop(run)
    return run.folder


@torch.no_grad()
def prefix_errors(
    model: InContextModel,
    sampler: RegressionSampler | MRPSampler,
    *,
    batch_size: int = 4096,
    num_steps: int | None = None,
    seed: int = 12345,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Squared error of every prompt at every step (0..num_steps-1 examples in context), float64,
    shape (batch_size, num_steps), on fresh prompts."""
    generator = torch.Generator(device=device).manual_seed(seed)
    steps = (sampler.n + 1) if num_steps is None else num_steps
    return prompt_errors(model, sampler.sample(batch_size, generator, num_steps=steps, device=device))


@torch.no_grad()
def prompt_errors(model: InContextModel, prompts: Prompts) -> torch.Tensor:
    """Squared error of every prompt of ``prompts`` at every step, float64 on the CPU, shape
    (batch, num_steps): score several models and reference algorithms on one prompt set."""
    prediction = model.forward_all(prompts.context, prompts.queries)
    return (prediction.double() - prompts.targets.double()).square().cpu()


def evaluate_prefixes(
    model: InContextModel, sampler: RegressionSampler | MRPSampler, **options
) -> torch.Tensor:
    """Mean squared error at every step (``prefix_errors``' options), float64."""
    return prefix_errors(model, sampler, **options).mean(0)


__all__ = [
    "FLAT_NAMES",
    "MODELS",  # moved to models.py and samplers.py; kept here, where they were
    "RESUMABLE_CHANGES",
    "TASKS",
    "TASK_ENV_IDS",
    "ModelConfig",
    "PromptConfig",
    "Run",
    "TrainConfig",
    "evaluate_prefixes",
    "load_config",
    "load_model",
    "make_loss",
    "make_model",
    "make_sampler",
    "open_run",
    "prefix_errors",
    "prompt_errors",
    "recall_accuracy",
    "recall_loss",
    "train",
    "train_loop",
    "validate",
]
