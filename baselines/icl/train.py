"""Train an in-context model over a task distribution; a run folder holds everything.

CleanRL-style: one dataclass config, one ``train(config)``. A run folder contains

- ``config.json``: the ``TrainConfig``;
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
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from baselines.icl.models import MIXERS, InContextModel, build_model
from baselines.icl.samplers import (
    MRP_KINDS,
    MRP_OBJECTIVES,
    MRP_REWARDS,
    REGRESSION_COVARIANCES,
    REGRESSION_WEIGHT_PRIORS,
    MRPSampler,
    Prompts,
    RegressionSampler,
)

TASKS = ("icl-regression", "icl-mrp")
#: Fields a resumed run may change: they do not affect what is learned (``out`` may be spelled
#: differently, e.g. with a trailing slash).
RESUMABLE_CHANGES = ("steps", "progress", "resume", "log_every", "checkpoint_every", "max_seconds", "out")
MODELS = ("linear", *MIXERS)
#: The env each task's prompts follow (and a trained run is scored on).
TASK_ENV_IDS = {"icl-regression": "icl/LinearRegression-v0", "icl-mrp": "icl/MRPValue-v0"}


@dataclass
class TrainConfig:
    """Everything a run depends on; saved as ``config.json`` in the run folder."""

    task: str = "icl-regression"
    """``icl-regression`` (icl/LinearRegression-v0's prompts) or ``icl-mrp`` (icl/MRPValue-v0's)."""
    model: str = "linear"
    """``linear`` (P, Q linear self-attention), ``softmax`` (GPT), ``rebased`` or ``based``."""
    layers: int = 1
    """Number of attention layers."""
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
    # --- task (the env's keyword arguments) ---
    d: int = 5
    """Input dimension (regression x) or feature dimension (MRP φ)."""
    n: int = 20
    """Context examples before the last query; prompts hold n + 1 steps."""
    noise_std: float = 0.0
    """Regression label noise."""
    covariance: str = "identity"
    """Regression: ``identity`` or ``rotated``."""
    weight_prior: str = "identity"
    """Regression: ``identity`` (w ~ N(0, I)) or ``inverse_covariance`` (w ~ N(0, Σ⁻¹))."""
    rotation: str = "per_task"
    """Regression with ``rotated``: a new Haar rotation per task (the env) or one ``fixed`` Σ."""
    num_states: int = 10
    """MRP: number of states."""
    gamma: float = 0.9
    """MRP: discount."""
    mrp: str = "boyan"
    """MRP: ``boyan`` or ``loop``."""
    rewards: str = "random"
    """MRP: ``random`` or ``representable``."""
    objective: str = "discounted"
    """MRP: ``discounted`` (target v) or ``average_reward`` (target the differential value)."""
    # --- model ---
    tied: bool = False
    """Linear model: one (P, Q) shared by all layers."""
    activation: str | None = None
    """Linear model: ``None``, ``softmax`` or ``relu`` on the attention scores."""
    width: int = 64
    """Sequence models: residual width."""
    heads: int = 4
    """Sequence models: attention heads."""
    feature_dim: int = 16
    """ReBased/Based: q and k feature size per head."""
    backend: str = "auto"
    """ReBased/Based: ``auto`` (fla on CUDA when importable), ``torch`` or ``fla``."""
    init_std: float = 0.02
    """Linear model: standard deviation of the initial P and Q entries."""
    normalize_by: str = "n"
    """Linear model: the attention sum's 1/m uses m = ``n`` (fixed; shorter contexts count as
    zero-padded) or m = ``length`` (the number of examples present)."""
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
        return "last" if self.model == "linear" else "all"


def _fail(name: str, message: str) -> None:
    raise ValueError(f"{name} {message}")


def _field_types_ok(config: TrainConfig) -> None:
    """Each field has its declared type (``--set``, JSON and callers can pass anything)."""
    for f in dataclasses.fields(TrainConfig):
        value, default = getattr(config, f.name), f.default
        if value is None:
            if "None" not in str(f.type):
                _fail(f.name, "must be set (it cannot be None), got None")
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                _fail(f.name, f"must be true or false, got {value!r}")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                _fail(f.name, f"must be an integer, got {value!r}")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                _fail(f.name, f"must be a number, got {value!r}")
        elif not isinstance(value, str):
            _fail(f.name, f"must be a string, got {value!r}")


def validate(config: TrainConfig) -> None:
    """Raise a ``ValueError`` naming the first bad field (its type first, then its range)."""
    _field_types_ok(config)  # so below, integer fields hold ints and number fields ints or floats
    choices = {
        "task": TASKS,
        "model": MODELS,
        "device": ("auto", "cpu", "cuda"),
        "loss_on": ("auto", "last", "all"),
        "target": ("value", "td"),
        "covariance": REGRESSION_COVARIANCES,
        "weight_prior": REGRESSION_WEIGHT_PRIORS,
        "rotation": ("per_task", "fixed"),
        "mrp": MRP_KINDS,
        "rewards": MRP_REWARDS,
        "objective": MRP_OBJECTIVES,
        "activation": (None, "softmax", "relu"),
        "backend": ("auto", "torch", "fla"),
        "normalize_by": ("n", "length"),
    }
    for name, allowed in choices.items():
        if getattr(config, name) not in allowed:
            _fail(name, f"must be one of {', '.join(map(repr, allowed))}; got {getattr(config, name)!r}")
    for name in ("layers", "batch_size", "d", "n", "num_states", "width", "heads", "feature_dim"):
        value = getattr(config, name)
        if value < 1:
            _fail(name, f"must be a positive integer, got {value!r}")
    for name in ("steps", "warmup_steps", "seed"):
        value = getattr(config, name)
        if value < 0:
            _fail(name, f"must be a non-negative integer, got {value!r}")
    for name in ("log_every", "checkpoint_every"):
        if getattr(config, name) < 1:
            _fail(name, f"must be >= 1, got {getattr(config, name)!r}")
    for name in ("lr", "init_std"):
        value = getattr(config, name)
        if not math.isfinite(value) or value <= 0:
            _fail(name, f"must be a finite number > 0, got {value!r}")
    for name in ("weight_decay", "grad_clip", "noise_std", "lr_final", "max_seconds"):
        value = getattr(config, name)
        if not math.isfinite(value) or value < 0:
            _fail(name, f"must be a finite number >= 0, got {value!r}")
    if not 0 <= config.gamma < 1:
        _fail("gamma", f"must be in [0, 1), got {config.gamma!r}")
    if config.model != "linear":
        if config.activation is not None:
            _fail("activation", f"applies to the linear model only, not model={config.model!r}")
        if config.tied:
            _fail("tied", f"applies to the linear model only, not model={config.model!r}")
        if config.width % config.heads:
            _fail("width", f"({config.width}) must be divisible by heads ({config.heads})")
    if config.device == "cuda" and not torch.cuda.is_available():
        _fail("device", "is 'cuda' but no CUDA device is available; use --device cpu")
    if config.backend == "fla" and config.model not in ("rebased", "based"):
        _fail("backend", f"'fla' applies to rebased/based models, not model={config.model!r}")
    if config.target == "td":
        if config.task != "icl-mrp":
            _fail("target", f"'td' applies to task 'icl-mrp' only, not {config.task!r}")
        if config.objective != "discounted":
            _fail("target", "'td' bootstraps with the discount γ: it needs objective='discounted'")
        if config.resolved_loss_on != "last":
            _fail("target", "'td' bootstraps the query after n examples: it needs loss_on='last'")


def make_sampler(config: TrainConfig) -> RegressionSampler | MRPSampler:
    if config.task == "icl-regression":
        return RegressionSampler(
            d=config.d,
            n=config.n,
            noise_std=config.noise_std,
            covariance=config.covariance,
            weight_prior=config.weight_prior,
            rotation=config.rotation,
        )
    return MRPSampler(
        d=config.d,
        n=config.n,
        num_states=config.num_states,
        gamma=config.gamma,
        mrp=config.mrp,
        rewards=config.rewards,
        objective=config.objective,
    )


def make_model(config: TrainConfig) -> InContextModel:
    sampler = make_sampler(config)
    return build_model(
        config.model,
        sampler.context_dim,
        sampler.query_dim,
        config.layers,
        max_steps=config.n + 1,
        tied=config.tied,
        activation=config.activation,
        width=config.width,
        heads=config.heads,
        feature_dim=config.feature_dim,
        backend=config.backend,
        init_std=config.init_std,
        normalizer=config.n if config.normalize_by == "n" else None,
    )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


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


def make_loss(config: TrainConfig, compile: bool = False):
    """``loss(model, prompts)`` (its function ``torch.compile``d when ``compile``) and the number of
    steps its prompts hold."""
    if config.target == "td":
        function, keywords, num_steps = td_loss, {"gamma": config.gamma}, config.n + 2
    else:
        function, keywords, num_steps = prompt_loss, {"loss_on": config.resolved_loss_on}, config.n + 1
    return functools.partial(torch.compile(function) if compile else function, **keywords), num_steps


def step_seed(seed: int, step: int) -> int:
    """The data seed of one step, so a resumed run draws exactly the same prompts."""
    return (seed * 1_000_003 + step) % (2**63 - 1)


def learning_rate(config: TrainConfig, step: int, elapsed: float = 0.0) -> float:
    """Linear warm-up, then cosine decay over the steps left, or over the time left (``max_seconds``)
    when that runs out sooner; ``elapsed`` is the training time spent so far."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(config.steps - config.warmup_steps, 1)
    progress = min((step - config.warmup_steps) / span, 1.0)
    if config.max_seconds:
        progress = max(progress, min(elapsed / config.max_seconds, 1.0))
    return config.lr_final + 0.5 * (config.lr - config.lr_final) * (1 + math.cos(math.pi * progress))


# ---- checkpoints ------------------------------------------------------------------------------


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


def save_checkpoint(run_dir: Path, model: torch.nn.Module, optimizer, step: int, elapsed: float) -> None:
    from safetensors.torch import save_file

    weights = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    for name, tensors in (("model", weights), ("optimizer", _optimizer_tensors(optimizer))):
        tmp = run_dir / f"{name}.safetensors.tmp"
        save_file(tensors, str(tmp))
        tmp.replace(run_dir / f"{name}.safetensors")
    (run_dir / "state.json").write_text(json.dumps({"step": step, "elapsed_s": elapsed}))


def load_config(run_dir: str | Path) -> TrainConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: it has no config.json")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    data = json.loads(path.read_text())
    unknown = set(data) - fields
    if unknown:
        raise ValueError(f"{path} has unknown fields {sorted(unknown)}")
    return TrainConfig(**data)


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


# ---- the loop ---------------------------------------------------------------------------------


def _drop_metrics_after(path: Path, step: int) -> None:
    """Keep the metrics lines up to the checkpoint's step: a run stopped between a log line and the
    next checkpoint logged steps it will now train again."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept))


def _progress(enabled: bool, total: int, start: int):
    """A rich progress bar (a no-op when disabled or rich is missing)."""
    try:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    except ImportError:
        enabled = False
    if not enabled:

        class _Silent:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def update(self, *args, **kwargs):
                pass

            def add_task(self, *args, **kwargs):
                return 0

        return _Silent()
    return Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeRemainingColumn(),
    )


def train(config: TrainConfig) -> Path:
    """Train (or resume) the run in ``config.out``; returns the run folder."""
    validate(config)
    run_dir = Path(config.out)
    start_step, elapsed = 0, 0.0
    if (run_dir / "state.json").is_file() and config.resume:
        saved = load_config(run_dir)
        differing = [
            f.name
            for f in dataclasses.fields(TrainConfig)
            if f.name not in RESUMABLE_CHANGES and getattr(saved, f.name) != getattr(config, f.name)
        ]
        if differing:
            raise ValueError(
                f"cannot resume {run_dir}: its config differs in {', '.join(differing)}; "
                "use another --out or resume=False"
            )
        state = json.loads((run_dir / "state.json").read_text())
        start_step, elapsed = int(state["step"]), float(state["elapsed_s"])
    elif run_dir.is_dir() and any(run_dir.iterdir()) and not (run_dir / "config.json").is_file():
        raise ValueError(
            f"out={str(run_dir)!r} exists and is not a run folder; choose an empty or new folder"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))

    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    sampler = make_sampler(config)
    model = make_model(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if start_step:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(run_dir / "model.safetensors")))
        _load_optimizer_tensors(optimizer, load_file(str(run_dir / "optimizer.safetensors")))
        _drop_metrics_after(run_dir / "metrics.jsonl", start_step)
    elif (run_dir / "metrics.jsonl").exists():
        (run_dir / "metrics.jsonl").unlink()

    loss_fn, num_steps = make_loss(config, compile=config.compile and device.type == "cuda")
    autocast = device.type == "cuda" and config.bf16
    generator = torch.Generator(device=device)
    metrics = (run_dir / "metrics.jsonl").open("a")
    window_start, window_prompts = time.perf_counter(), 0
    run_start = time.perf_counter() - elapsed
    loss_value = float("nan")
    with _progress(config.progress, config.steps, start_step) as bar:
        task = bar.add_task("train", total=config.steps, completed=start_step, loss="-")
        for step in range(start_step, config.steps):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step, time.perf_counter() - run_start)
            generator.manual_seed(step_seed(config.seed, step))
            prompts = sampler.sample(config.batch_size, generator, num_steps=num_steps, device=device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                loss = loss_fn(model, prompts)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"loss became {loss.item()} at step {step}; lower lr (now {config.lr})"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            window_prompts += config.batch_size
            done = step + 1
            if done % config.log_every == 0 or done == config.steps:
                loss_value = loss.item()
                now = time.perf_counter()
                record = {
                    "step": done,
                    "loss": loss_value,
                    "lr": optimizer.param_groups[0]["lr"],
                    "prompts_per_s": window_prompts / max(now - window_start, 1e-9),
                    "elapsed_s": now - run_start,
                }
                metrics.write(json.dumps(record) + "\n")
                metrics.flush()
                window_start, window_prompts = now, 0
            if done % config.checkpoint_every == 0 or done == config.steps:
                save_checkpoint(run_dir, model, optimizer, done, time.perf_counter() - run_start)
            bar.update(task, completed=done, loss=f"{loss_value:.4f}")
            if config.max_seconds and time.perf_counter() - run_start > config.max_seconds:
                save_checkpoint(run_dir, model, optimizer, done, time.perf_counter() - run_start)
                break
    metrics.close()
    if config.steps == start_step and not (run_dir / "model.safetensors").exists():
        save_checkpoint(run_dir, model, optimizer, start_step, elapsed)
    return run_dir


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
    prompts = sampler.sample(batch_size, generator, num_steps=steps, device=device)
    prediction = model.forward_all(prompts.context, prompts.queries)
    return (prediction.double() - prompts.targets.double()).square().cpu()


def evaluate_prefixes(
    model: InContextModel, sampler: RegressionSampler | MRPSampler, **options
) -> torch.Tensor:
    """Mean squared error at every step (``prefix_errors``' options), float64."""
    return prefix_errors(model, sampler, **options).mean(0)


def train_from_cli(task: str, *, d: int | None, n: int | None, options: list[str], **fields) -> Path:
    """``icl-bench train``: the CLI's options plus ``--set KEY=VALUE`` pairs into a ``TrainConfig``."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(map(repr, TASKS))}; got {task!r}")
    # The samplers' defaults are their env's (d=5, n=20 for regression; d=4, n=30 for MRP).
    defaults = RegressionSampler if task == "icl-regression" else MRPSampler
    fields.update(task=task, d=defaults.d if d is None else d, n=defaults.n if n is None else n)
    known = {f.name: f for f in dataclasses.fields(TrainConfig)}
    for item in options:
        key, sep, text = item.partition("=")
        if not sep or key not in known:
            raise ValueError(f"--set expects KEY=VALUE with KEY a TrainConfig field; got {item!r}")
        fields[key] = _parse_field(known[key], text)
    return train(TrainConfig(**fields))


def _parse_field(field: dataclasses.Field, text: str):
    """The value of ``--set KEY=TEXT`` for a ``TrainConfig`` field, or a ValueError naming it."""
    key, default = field.name, field.default
    if text.lower() in ("none", "null") and "None" in str(field.type):
        return None
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"--set {key} expects true or false; got {text!r}")
        return text.lower() in ("true", "1")
    try:
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        kind = "an integer" if isinstance(default, int) else "a number"
        raise ValueError(f"--set {key} expects {kind}; got {text!r}") from None
    return text
