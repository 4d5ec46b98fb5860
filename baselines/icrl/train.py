"""Train Algorithm Distillation or a Decision-Pretrained Transformer; a run folder holds everything.

- **Algorithm Distillation** (Laskin et al. 2022): learning histories of a source algorithm
  (Thompson sampling on bandits, the in-trial Q-learner in the rooms) across many tasks; a causal
  transformer over a whole trial's history (state, previous action, previous reward, step) learns
  to predict the source's next action. Deployed with frozen weights, it acts by sampling.
- **Decision-Pretrained Transformer** (Lee et al. 2023): contexts of a random policy on many tasks;
  the transformer sees a query state and then the context's transitions, and learns the optimal
  action of the query state after every prefix of the context. Deployed online, its context is its
  own transitions in the trial so far, and it samples its actions.

The training data is a Minari dataset (``TrainConfig.dataset``, by default named after the env,
the source, the number of tasks and the seed: :func:`baselines.icrl.data.histories_id`), collected
once and read back checked, so a resumed run, or another run with the same data, trains on the
same trials. A run folder (``TrainConfig.out``) holds ``config.json``, ``model.safetensors`` and
``optimizer.safetensors``, ``state.json``, ``metrics.jsonl`` and ``agent.json`` (the harness loads
the folder as the agent ``run:DIR`` through :func:`baselines.icrl.agent.load_run_agent`). Batches of
step s come from a generator seeded with (seed, s), so a resumed run is the unbroken run.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import distributed as dist

from baselines import training
from baselines.classic.bandits import UCB1, ThompsonSampling
from baselines.classic.random_agent import RandomAgent
from baselines.classic.rooms import QLearner, SweepExplorer
from baselines.classic.trial_agent import TrialAgent
from baselines.configs import check_choice, check_types, fail, from_dict, values_by_path
from baselines.icrl.data import (
    TrialSpec,
    check_dpt_env,
    histories,
    histories_id,
    optimal_actions,
    trial_spec,
)
from baselines.icrl.model import ModelConfig, Tokens, TrialTransformer, action_loss
from baselines.offline.datasets import check_dataset_id

METHODS = ("ad", "dpt")
RESUMABLE_CHANGES = ("steps", "progress", "resume", "log_every", "checkpoint_every", "max_seconds", "out")
RUN_AGENT_LOADER = "baselines.icrl.agent:load_run_agent"
#: The agents whose trials can make the data, by name (``TrainConfig.source``).
SOURCES: dict[str, type] = {
    "thompson": ThompsonSampling,
    "ucb1": UCB1,
    "qlearner": QLearner,
    "sweep": SweepExplorer,
    "random": RandomAgent,
}
BANDIT_SOURCES = ("thompson", "ucb1", "random")
ROOM_SOURCES = ("qlearner", "sweep", "random")


@dataclass
class TrainConfig:
    """Everything a run depends on; saved as ``config.json`` in the run folder."""

    method: str = "ad"
    """``ad`` (Algorithm Distillation) or ``dpt`` (Decision-Pretrained Transformer)."""
    env: str = "icl/Bandit-v0"
    """The trial env trained for (and scored on): icl/Bandit-v0, icl/DarkRoom-v0 or icl/KeyToDoor-v0 (AD)."""
    env_kwargs: str = "{}"
    """The env's keyword arguments as a JSON object, e.g. '{"arms": 2, "horizon": 20}'."""
    tasks: int = 2000
    """Training tasks: one source learning history (AD) or one random-policy context (DPT) each."""
    source: str = "auto"
    """Whose trials the model learns from: ``auto`` (AD: thompson on the bandit, qlearner in the
    rooms; DPT: random), or thompson, ucb1, random (bandit), qlearner, sweep, random (rooms)."""
    dataset: str = ""
    """The Minari dataset of those trials, collected into it when missing; empty: the default id
    icl/icrl-<env>[-<kwargs digest>]/<source>-<tasks>-s<seed>-v0."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The network."""
    steps: int = 2000
    """Optimizer steps (the total: a resumed run continues up to this)."""
    batch_size: int = 64
    """Trials per step."""
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
    """Seeds the data, the initial weights and, with the step number, each step's batch."""
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu`` or ``cuda``."""
    bf16: bool = True
    """bf16 autocast on CUDA (ignored on CPU, where training is float32)."""
    compile: bool = False
    """``torch.compile`` the model on CUDA."""
    out: str = "runs/icrl"
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
    """Stop (with a checkpoint) once training has run this long in total; 0: no limit."""

    @property
    def kwargs(self) -> dict[str, Any]:
        return json.loads(self.env_kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TrainConfig:
        return from_dict(cls, data, {}, source)


def validate(config: TrainConfig) -> TrialSpec:
    """Raise a ``ValueError`` naming the first bad field; return the env's trial spec."""
    check_types(config)
    config.model.validate()
    check_choice("method", config.method, METHODS)
    check_choice("device", config.device, ("auto", "cpu", "cuda"))
    try:
        kwargs = json.loads(config.env_kwargs)
    except json.JSONDecodeError as error:
        fail("env_kwargs", f"must be a JSON object, got {config.env_kwargs!r} ({error})")
    if not isinstance(kwargs, dict):
        fail("env_kwargs", f"must be a JSON object, got {config.env_kwargs!r}")
    for name in ("tasks", "batch_size", "log_every", "checkpoint_every"):
        if getattr(config, name) < 1:
            fail(name, f"must be >= 1, got {getattr(config, name)!r}")
    for name in ("steps", "warmup_steps", "seed"):
        if getattr(config, name) < 0:
            fail(name, f"must be >= 0, got {getattr(config, name)!r}")
    if not math.isfinite(config.lr) or config.lr <= 0:
        fail("lr", f"must be a finite number > 0, got {config.lr!r}")
    for name in ("weight_decay", "grad_clip", "lr_final", "max_seconds"):
        value = getattr(config, name)
        if not math.isfinite(value) or value < 0:
            fail(name, f"must be a finite number >= 0, got {value!r}")
    if config.device == "cuda" and not torch.cuda.is_available():
        fail("device", "is 'cuda' but no CUDA device is available; use --device cpu")
    if config.dataset:
        check_dataset_id(config.dataset)
    if config.method == "dpt":
        check_dpt_env(config.env)
    spec = trial_spec(config.env, kwargs)
    check_choice("source", config.source, ("auto", *SOURCES))
    fits = BANDIT_SOURCES if spec.room is None else ROOM_SOURCES
    if config.source not in ("auto", *fits):
        fail("source", f"{config.source!r} does not play {config.env}; choose one of auto, {', '.join(fits)}")
    return spec


def source_name(config: TrainConfig, spec: TrialSpec) -> str:
    """The source's name with ``auto`` resolved: Thompson sampling (bandit) or the Q-learner (rooms)
    for AD, the uniformly random policy for DPT."""
    if config.source != "auto":
        return config.source
    if config.method == "dpt":
        return "random"
    return "thompson" if spec.room is None else "qlearner"


def source_agent(config: TrainConfig, spec: TrialSpec) -> tuple[str, TrialAgent]:
    """Whose trials make the data, by name: AD's source algorithm, or DPT's context policy."""
    name = source_name(config, spec)
    return name, SOURCES[name](seed=config.seed)


def training_data(config: TrainConfig, spec: TrialSpec) -> dict[str, np.ndarray]:
    """The run's trials as arrays, from its dataset (collected first when missing)."""
    source, agent = source_agent(config, spec)
    dataset_id = config.dataset or histories_id(spec, source, config.tasks, config.seed)
    return histories(dataset_id, spec, agent, source, config.tasks, config.seed)


def build_model(config: TrainConfig, spec: TrialSpec) -> TrialTransformer:
    # DPT's sequences are the query token and then up to a whole trial of transitions.
    return TrialTransformer(config.model, spec.num_states, spec.num_actions, spec.horizon, spec.length + 1)


# ---- tokens -----------------------------------------------------------------------------------


def ad_tokens(spec: TrialSpec, state, previous_action, previous_reward, step) -> Tokens:
    """AD's token of step t: the state now, the previous action and reward (none at a trial's start,
    which ``previous_action == num_actions`` marks), the step within the sub-episode."""
    return Tokens(
        torch.as_tensor(state),
        torch.as_tensor(previous_action),
        torch.as_tensor(previous_reward, dtype=torch.float32),
        torch.full(np.shape(state), spec.num_states),
        torch.as_tensor(step),
    )


def dpt_tokens(spec: TrialSpec, query, state, action, reward, reached, step) -> Tokens:
    """DPT's sequence: the query state (time ``horizon`` marks it), then the context's transitions
    (state, action, reward, reached state, step); arrays (B,) for the query and (B, n) for the rest."""
    query = np.asarray(query)[:, None]
    none = np.zeros_like(query)
    return Tokens(
        torch.as_tensor(np.concatenate([query, state], axis=1)),
        torch.as_tensor(np.concatenate([none + spec.num_actions, action], axis=1)),
        torch.as_tensor(np.concatenate([none, reward], axis=1), dtype=torch.float32),
        torch.as_tensor(np.concatenate([none + spec.num_states, reached], axis=1)),
        torch.as_tensor(np.concatenate([none + spec.horizon, step], axis=1)),
    )


def previous(values: np.ndarray, first: Any) -> np.ndarray:
    """``values`` shifted one step right along the trial, ``first`` at step 0."""
    shifted = np.roll(values, 1, axis=-1)
    shifted[..., 0] = first
    return shifted


def training_batch(
    config: TrainConfig, spec: TrialSpec, data: dict[str, np.ndarray], rng: np.random.Generator
):
    """(tokens, action targets, weights) of one batch of trials."""
    rows = rng.integers(len(data["length"]), size=config.batch_size)
    valid = np.arange(spec.length)[None] < data["length"][rows, None]
    if config.method == "ad":
        tokens = ad_tokens(
            spec,
            data["state"][rows],
            previous(data["action"][rows], spec.num_actions),
            previous(data["reward"][rows], 0.0),
            data["step"][rows],
        )
        return tokens, torch.as_tensor(data["action"][rows]), torch.as_tensor(valid, dtype=torch.float32)
    query = rng.integers(spec.num_states, size=config.batch_size)
    fields = [data[name][rows] for name in ("state", "action", "reward", "reached", "step")]
    tokens = dpt_tokens(spec, query, *fields)
    best = optimal_actions(spec, data, rows, query)
    targets = np.repeat(best[:, None], spec.length + 1, axis=1)
    weights = np.concatenate([np.ones((config.batch_size, 1)), valid], axis=1)  # the query alone too
    return tokens, torch.as_tensor(targets), torch.as_tensor(weights, dtype=torch.float32)


# ---- the run ----------------------------------------------------------------------------------


def load_config(run_dir: str | Path) -> TrainConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: it has no config.json")
    return TrainConfig.from_dict(json.loads(path.read_text()), source=str(path))


def load_model(
    run_dir: str | Path, device: str | torch.device = "cpu"
) -> tuple[TrialTransformer, TrainConfig, TrialSpec]:
    from safetensors.torch import load_file

    config = load_config(run_dir)
    weights = Path(run_dir) / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{run_dir} has no checkpoint (model.safetensors); train it first")
    spec = trial_spec(config.env, config.kwargs)
    model = build_model(config, spec)
    model.load_state_dict(load_file(str(weights)))
    return model.to(device).eval(), config, spec


def open_run(config: TrainConfig) -> tuple[Path, int, float]:
    """The run folder (checked: a resumed run's config must agree) and the step and time it reached;
    ``config.json`` and ``agent.json`` written."""
    run_dir = Path(config.out)
    start, elapsed = 0, 0.0
    if (run_dir / "state.json").is_file() and config.resume:
        saved, wanted = values_by_path(load_config(run_dir)), values_by_path(config)
        differing = [p for p in wanted if p not in RESUMABLE_CHANGES and saved[p] != wanted[p]]
        start, elapsed = training.resume_point(run_dir, differing, "resume=False")
    else:
        training.check_new_run_folder(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))
    (run_dir / "agent.json").write_text(json.dumps({"loader": RUN_AGENT_LOADER}))
    return run_dir, start, elapsed


def train(config: TrainConfig) -> Path:
    """Train (or resume) the run in ``config.out``; returns the run folder. Under ``torchrun`` every
    process takes its share of each step's batch (the same batch as one process: DDP averages the
    gradients) and process 0 alone writes the run folder and the dataset."""
    spec = validate(config)
    device = training.process_device(config.device)
    processes = training.start_processes(device)
    try:
        if config.batch_size % processes.world:
            fail(
                "batch_size",
                f"must be a multiple of the {processes.world} torchrun processes, got {config.batch_size}",
            )
        return _train(config, spec, device, processes)
    finally:
        training.finish_processes(processes)


def _train(config: TrainConfig, spec: TrialSpec, device: torch.device, processes: training.Processes) -> Path:
    run_dir, start, elapsed = Path(config.out), 0, 0.0
    if processes.main:
        run_dir, start, elapsed = open_run(config)
        data = training_data(config, spec)
    if processes.world > 1:  # the other processes wait for process 0's folder and dataset
        shared = [start, elapsed]
        dist.broadcast_object_list(shared, src=0)
        start, elapsed = shared
    if not processes.main:
        data = training_data(config, spec)

    torch.manual_seed(config.seed)
    model = build_model(config, spec).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    training.restore_checkpoint(run_dir, model, optimizer, start, processes.main)
    forward = training.distribute(model, device, processes, config.compile)
    model.train()

    def step_loss(step: int) -> training.StepLoss:
        seed = training.step_seed(config.seed, step)
        batch = training_batch(config, spec, data, np.random.default_rng(seed))
        tokens, targets, weights = (share(part, processes.rank, processes.world) for part in batch)
        with training.bf16_autocast(device, config.bf16):
            logits = forward(tokens.to(device))
        loss = action_loss(logits, targets.to(device), weights.to(device))
        return training.StepLoss(loss, int(weights.sum()))

    loop = training.cosine_loop(
        config, run_dir, model, optimizer, start, elapsed, step_loss, processes=processes
    )
    training.train_steps(loop)
    return run_dir


def share(part: Any, rank: int, world: int) -> Any:
    """This process's rows of a batch part (Tokens or a tensor): every ``world``-th from ``rank``."""
    if world == 1:
        return part
    if isinstance(part, Tokens):
        return Tokens(
            *(
                getattr(part, name)[rank::world]
                for name in ("state", "action", "reward", "next_state", "time")
            )
        )
    return part[rank::world]
