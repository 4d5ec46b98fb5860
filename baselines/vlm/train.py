"""Training a small VLM on a card game: supervised warm start, then PPO as in RL4VLM.

CleanRL-style: one dataclass config, one ``train(config)``. The run folder holds ``config.json``,
``tokenizer.json`` (byte-level BPE trained on the game's prompts and answers), ``model.safetensors``,
``optimizer.pt``, ``state.json`` (the phase and step reached: a stopped run resumes there),
``metrics.jsonl`` and ``agent.json`` (so ``--agent run:DIR`` plays it).

1. **SFT**: episodes played by the exact solver (with some random actions, so that states off the
   optimal path are seen too); each state's target answer is the answer fields, a templated thought
   and the solver's action (:class:`baselines.vlm.tasks.Expert`). Cross-entropy on the answer tokens.
2. **PPO** (Zhai et al. 2024): the model answers each env of a vector env (sampled, temperature 1);
   the env's text protocol plays the answer (an unreadable one as a random legal action, counted);
   the action's log-probability is ``λ·Σ log p(thought) + Σ log p(action)``; a value head on the
   prompt's last token; GAE (γ 0.9, λ 0.95) and the clipped objective (0.1).

bf16 autocast and ``torch.compile`` apply on CUDA only. Under ``torchrun`` each process plays its own
envs (seeds apart) and the gradients are averaged across processes before each step; process 0
writes the run folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from baselines.configs import check_choice, fail, from_dict, values_by_path
from baselines.training import resolve_device
from baselines.vlm.agent import Policy, VLMAgent, downsample
from baselines.vlm.generate import collate, right_pad, score
from baselines.vlm.hf import HFVLM, HFConfig, check_hf_config, load_llava
from baselines.vlm.model import VLM, ModelConfig
from baselines.vlm.ppo import gae, ppo_loss, token_weights
from baselines.vlm.read_check import WELL_READ, read_check
from baselines.vlm.tasks import (
    GAMES,
    Expert,
    answer_fields,
    answer_text,
    game_env,
    prompt,
    reading_labels,
    reading_slots,
)
from baselines.vlm.tokenizer import TextCodec, train_tokenizer
from baselines.vlm.tokens import check_model
from icl_envs.cards.text_protocol import TextActions, parse_action

AGENT_LOADER = "baselines.vlm.train:load_run"


@dataclass
class SFTConfig:
    """The supervised warm start."""

    episodes: int = 2000
    """Expert episodes collected (their states are the training set)."""
    explore: float = 0.3
    """Probability that the behaviour takes a random legal action (the target stays the expert's)."""
    steps: int = 1500
    """Optimizer steps."""
    batch_size: int = 64
    """Answers per step."""
    lr: float = 1e-3
    """AdamW learning rate (cosine decay to a tenth)."""
    align_steps: int = 0
    """Steps of the reading stage before SFT (0: none): the image encoder learns to tell the answer
    fields (the visible state) from the frame through a linear probe, as LLaVA's first stage aligns
    the image features before the instruction tuning. Runs without the state in the prompt need it:
    a decoder trained from scratch learns the answers' text long before it finds the image tokens,
    then answers every frame alike."""
    text_steps: int = 0
    """Steps of the text stage, before any other (0: none): the decoder learns the thoughts and the
    action from the answer fields written out, the image tokens zero, on ``sft.text_episodes``
    expert episodes of fresh deals played on the text env (no frame is drawn, so tens of thousands
    of states cost seconds). A decoder trained from scratch knows no arithmetic: Points24's thought
    recalls a formula for the four cards, and the SFT episodes give most of the 715 hands of numbers
    a few examples or none, while the text stage gives each many. Only the tokens from the thoughts
    on are scored: the answer fields say what the frame shows, which a zero image cannot tell."""
    text_episodes: int = 20000
    """Expert episodes of the text stage (exploring as ``sft.explore`` says)."""
    align_frames: int = 0
    """Frames of the reading stage. 0: the SFT episodes' frames, one probe per answer field (its
    whole value is a class). More: that many fresh frames of new deals (the expert's episodes on
    seeds apart from SFT's), one probe per thing the frame shows (each card's rank in the frame's
    order, each formula slot's token, the printed totals: :func:`baselines.vlm.tasks.reading_slots`),
    so that every class has many examples; a tenth is held out and the probes' accuracy logged."""
    read_check_episodes: int = 20
    """Expert episodes of fresh deals whose frames the model answers when SFT ends (0: none): each
    answer field's accuracy is logged (phase ``read_check``) and a field written right on fewer
    than 90% of the frames is named in a warning (:mod:`baselines.vlm.read_check`)."""


@dataclass
class PPOConfig:
    """RL4VLM's PPO."""

    iterations: int = 0
    """Rollout-and-update iterations (0: SFT only)."""
    num_envs: int = 32
    """Envs of the vector env (each answers once per rollout step)."""
    rollout_steps: int = 8
    """Steps per env per iteration."""
    epochs: int = 2
    """Passes over each rollout."""
    minibatch_size: int = 64
    """Samples per gradient step."""
    lr: float = 1e-5
    """Learning rate."""
    clip: float = 0.1
    """PPO clip range."""
    gamma: float = 0.9
    """Discount."""
    gae_lambda: float = 0.95
    """GAE λ."""
    thought_weight: float = 0.5
    """λ of RL4VLM: weight of the thought tokens' log-probability in the action's."""
    value_coef: float = 0.5
    """Weight of the value loss."""


@dataclass
class TrainConfig:
    """Everything a VLM run depends on; saved as ``config.json`` in the run folder."""

    env: str = "icl/NumberLine-v0"
    """The game: icl/NumberLine-v0, icl/EZPoints-v0, icl/Points24-v0 or icl/Blackjack-v0."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The network."""
    sft: SFTConfig = field(default_factory=SFTConfig)
    """Supervised warm start."""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """Reinforcement learning."""
    hf: HFConfig = field(default_factory=HFConfig)
    """A local Hugging Face LLaVA checkpoint to fine-tune with LoRA instead of the small VLM (``hf.path``)."""
    vocab_size: int = 1024
    """Tokenizer vocabulary (byte-level BPE trained on the game's prompts and answers)."""
    thoughts: bool = True
    """Answers carry a templated chain of thought (false: the answer fields and the action only)."""
    freeze_encoder: bool = False
    """Freeze the image encoder once the reading stage has trained it (``sft.align_steps``), for SFT
    and PPO, as LLaVA keeps its vision tower frozen after aligning it. Trained in SFT, the encoder
    keeps moving the image tokens while the decoder learns to read them, and on some seeds the
    decoder never reads them right though they still tell the frames apart (NumberLine, EZPoints:
    ``docs/baselines/vlm.md``)."""
    state_in_prompt: bool = True
    """Put the state's text in the prompt (the multimodal observation has it); false: the model
    must read the state from the frame, as RL4VLM's."""
    short_prompt: bool = False
    """Prompts of the state and the legal actions only (false: the env's full text-protocol prompt,
    with the task description and the answer format, as RL4VLM's)."""
    max_new_tokens: int = 64
    """Longest answer generated."""
    seed: int = 0
    """Seeds weights, data, envs and sampling."""
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu`` or ``cuda``."""
    bf16: bool = True
    """bf16 autocast on CUDA (ignored on CPU)."""
    compile: bool = False
    """``torch.compile`` the model on CUDA (ignored on CPU)."""
    out: str = "runs/vlm"
    """The run folder."""
    resume: bool = True
    """Continue from the run folder's checkpoint when there is one."""
    progress: bool = True
    """Show a progress bar."""

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TrainConfig:
        return from_dict(cls, data, {}, source)


def validate(config: TrainConfig) -> None:
    check_choice("env", config.env, GAMES)
    check_choice("device", config.device, ("auto", "cpu", "cuda"))
    check_hf_config(config.hf)
    for name, value, low in (
        ("sft.episodes", config.sft.episodes, 1),
        ("sft.steps", config.sft.steps, 0),
        ("sft.batch_size", config.sft.batch_size, 1),
        ("sft.align_steps", config.sft.align_steps, 0),
        ("sft.align_frames", config.sft.align_frames, 0),
        ("sft.text_steps", config.sft.text_steps, 0),
        ("sft.text_episodes", config.sft.text_episodes, 1),
        ("sft.read_check_episodes", config.sft.read_check_episodes, 0),
        ("ppo.iterations", config.ppo.iterations, 0),
        ("ppo.num_envs", config.ppo.num_envs, 1),
        ("ppo.rollout_steps", config.ppo.rollout_steps, 1),
        ("ppo.epochs", config.ppo.epochs, 1),
        ("ppo.minibatch_size", config.ppo.minibatch_size, 1),
        ("max_new_tokens", config.max_new_tokens, 8),
        ("vocab_size", config.vocab_size, 258),
    ):
        if value < low:
            fail(name, f"must be >= {low}; got {value}")
    if not 0.0 <= config.sft.explore <= 1.0:
        fail("sft.explore", f"must lie in [0, 1]; got {config.sft.explore}")
    if not 0.0 < config.ppo.clip < 1.0:
        fail("ppo.clip", f"must lie in (0, 1); got {config.ppo.clip}")
    if not 0.0 <= config.ppo.thought_weight <= 1.0:
        fail("ppo.thought_weight", f"must lie in [0, 1]; got {config.ppo.thought_weight}")
    if config.freeze_encoder and not config.sft.align_steps:
        fail(
            "freeze_encoder",
            "freezes the encoder that the reading stage trained; with sft.align_steps=0 it would "
            "freeze a random one (a Hugging Face LLaVA's vision tower is frozen already): set "
            "sft.align_steps > 0 or freeze_encoder=False",
        )
    if config.hf.path and config.sft.text_steps:
        fail(
            "sft.text_steps",
            "trains the small VLM's decoder from scratch on the games' text; a Hugging Face LLaVA "
            "(hf.path) brings its own language model: set it to 0",
        )
    if config.hf.path and config.sft.align_steps:
        fail(
            "sft.align_steps",
            "trains the small VLM's image encoder; a Hugging Face LLaVA (hf.path) brings its own "
            "aligned vision tower: set it to 0",
        )


# ---- distributed (torchrun) -------------------------------------------------------------------


def _distributed() -> tuple[int, int]:
    """(rank, world size); starts the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    return int(os.environ.get("RANK", "0")), world


def _average_gradients(model: torch.nn.Module, world: int) -> None:
    if world == 1:
        return
    for p in model.parameters():
        if not p.requires_grad:  # a frozen part: a LoRA-wrapped model's base, a frozen encoder
            continue
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        torch.distributed.all_reduce(p.grad)
        p.grad /= world


def _weights_fingerprint(model: torch.nn.Module) -> torch.Tensor:
    """Three float64 numbers that differ between two models unless their weights are equal: the
    sum, the sum of squares and a position-weighted sum of every weight (an all-gather of these
    is cheap; of the weights, not)."""
    flat = torch.cat([w.detach().double().flatten() for w in checkpoint_weights(model).values()])
    positions = torch.arange(1, len(flat) + 1, dtype=torch.float64, device=flat.device) / len(flat)
    return torch.stack([flat.sum(), (flat * flat).sum(), (flat * positions).sum()])


def _check_in_step(model: torch.nn.Module, world: int) -> None:
    """Under torchrun every process must hold the same weights (same start, averaged gradients,
    same optimizer): only process 0 saves, so a drift would be lost without a word. Raises when the
    processes' weights differ."""
    if world == 1:
        return
    mine = _weights_fingerprint(model)
    every = [torch.empty_like(mine) for _ in range(world)]
    torch.distributed.all_gather(every, mine)
    apart = [rank for rank, theirs in enumerate(every) if not torch.equal(theirs, every[0])]
    if apart:
        raise RuntimeError(
            f"processes {apart} hold other weights than process 0: the processes of this run are out of step"
        )


def _start_in_step(model: torch.nn.Module, world: int) -> None:
    """Every process starts from process 0's weights (as DistributedDataParallel does): the
    processes build their models after collecting different data, which need not leave the random
    generator where process 0's left it."""
    if world == 1:
        return
    for weight in checkpoint_weights(model).values():
        torch.distributed.broadcast(weight.data, src=0)


# ---- data -------------------------------------------------------------------------------------


@dataclass
class SFTData:
    images: torch.Tensor
    prompts: list[str]
    answers: list[str]


def play_expert(
    config: TrainConfig, seed: int, episodes: int, obs_mode: str = "multimodal"
) -> Iterator[tuple[Any, Any, dict, tuple]]:
    """Every state of ``episodes`` episodes the expert plays (a random legal action with probability
    ``sft.explore``): ``(unwrapped env, observation, info, (action, answer fields, thought))``;
    ``obs_mode="text"`` draws no frames."""
    env = game_env(config.env, obs_mode=obs_mode)
    expert = Expert(config.env)
    rng = np.random.default_rng([seed, 1])
    try:
        for episode in range(episodes):
            obs, info = env.reset(seed=seed * 1_000_003 + episode)
            done = False
            while not done:
                game = env.unwrapped
                answer = expert.act(game)
                yield game, obs, info, answer
                action = answer[0]
                if rng.random() < config.sft.explore:
                    action = int(rng.choice(np.flatnonzero(game.action_mask())))
                obs, _, terminated, truncated, info = env.step(action)
                done = terminated or truncated
    finally:
        env.close()


def _stored_frame(frame: np.ndarray, size: int) -> torch.Tensor:
    """One frame downsampled for the data set, in an allocation of its own: kept as the view
    ``downsample(...)[0]``, each stored frame pinned ~0.8 MB of freed scratch memory in the heap
    (measured: 1,000 Points24 frames at 128 px grew the process by 0.71 GB; with the copy, 0.13 GB)."""
    return downsample(frame[None], size)[0].clone()


def collect_sft(config: TrainConfig, seed: int) -> SFTData:
    """States of ``sft.episodes`` episodes played by the expert (exploring), with the expert's answers."""
    images, prompts, answers = [], [], []
    for game, obs, _, (action, fields, thought) in play_expert(config, seed, config.sft.episodes):
        prompts.append(
            prompt(game, obs["text"], obs["action_mask"], config.state_in_prompt, config.short_prompt)
        )
        answers.append(answer_text(fields, thought if config.thoughts else None, game.action_strings[action]))
        images.append(_stored_frame(obs["image"], config.model.image_size))
    return SFTData(torch.stack(images), prompts, answers)


#: Seeds of the text stage's deals start this far from SFT's (``seed * 1_000_003 + episode``).
TEXT_SEED_OFFSET = 900_000


def collect_text(config: TrainConfig, seed: int) -> tuple[list[str], list[str], list[int]]:
    """The text stage's states (:attr:`SFTConfig.text_steps`): ``(prompts, answers, where each
    answer's scored part starts)``, the scored part being the thoughts and the action."""
    prompts, answers, starts = [], [], []
    episodes = config.sft.text_episodes
    for game, _, _, (action, fields, thought) in play_expert(
        config, seed + TEXT_SEED_OFFSET, episodes, "text"
    ):
        prompts.append(
            prompt(game, game.state_text(), game.action_mask(), config.state_in_prompt, config.short_prompt)
        )
        answer = answer_text(fields, thought if config.thoughts else None, game.action_strings[action])
        answers.append(answer)
        starts.append(answer.index('"thoughts"' if config.thoughts else '"action"'))
    return prompts, answers, starts


def scored_tokens(codec: TextCodec, ids: list[int], start: int) -> list[int]:
    """1 for each token of ``ids`` that starts at or after character ``start`` of their text, else 0."""
    return (codec.offsets(ids)[:-1] >= start).astype(int).tolist()


def train_text(run: Run) -> None:
    """The text stage: cross-entropy of the answers' thoughts and action (the tokens that start at
    or after the scored part), the image tokens zero; the answer fields are read, not scored."""
    config, model, codec = run.config, run.model, run.codec
    prompts, answers, starts = collect_text(config, config.seed + 7919 * run.rank)
    generator = torch.Generator().manual_seed(config.seed + 5)
    zeros = torch.zeros(config.sft.batch_size, model.image_tokens, model.config.width, device=run.device)
    start = time.perf_counter()
    model.train()
    for step in range(config.sft.text_steps):
        rows = torch.randint(len(answers), (config.sft.batch_size,), generator=generator).tolist()
        answer_ids = [codec.encode(answers[r]) + [codec.eos_id] for r in rows]
        scored = [scored_tokens(codec, ids, starts[r]) for ids, r in zip(answer_ids, rows)]
        tokens, mask = right_pad(answer_ids, codec.pad_id, run.device)
        weights, _ = right_pad(scored, 0, run.device)
        batch = collate(model, codec, zeros, [codec.encode(prompts[r]) for r in rows])
        with _autocast(run):
            logprobs, _ = score(model, batch, tokens, mask, image_embeddings=zeros)
        weights = weights.bool() & mask
        loss = -(logprobs * weights).sum() / weights.sum()
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        _average_gradients(model, run.world)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        run.optimizer.step()
        if (step + 1) % 50 == 0 or step + 1 == config.sft.text_steps:
            run.log({"phase": "text", "step": step + 1, "loss": loss.item()})
    model.eval()
    run.state["elapsed_s"] += time.perf_counter() - start


#: Seeds of the reading stage's deals start this far from SFT's (``seed * 1_000_003 + episode``).
READING_SEED_OFFSET = 500_000


def collect_reading(config: TrainConfig, seed: int) -> tuple[torch.Tensor, dict[str, int], torch.Tensor]:
    """``sft.align_frames`` fresh frames of new deals with their per-slot labels:
    ``(images, {slot: classes}, labels (frames, slots))``."""
    images, labels, slots = [], [], None
    for game, obs, info, _ in play_expert(config, seed + READING_SEED_OFFSET, config.sft.align_frames):
        slots = slots or reading_slots(game)
        labels.append(list(reading_labels(game, info).values()))
        images.append(_stored_frame(obs["image"], config.model.image_size))
        if len(images) == config.sft.align_frames:
            break
    return torch.stack(images), slots, torch.tensor(labels)


# ---- run folder -------------------------------------------------------------------------------


@dataclass
class Run:
    folder: Path
    config: TrainConfig
    device: torch.device
    model: VLM
    codec: TextCodec
    optimizer: torch.optim.Optimizer
    state: dict[str, Any]
    rank: int
    world: int

    def save(self) -> None:
        _check_in_step(self.model, self.world)
        if self.rank:
            return
        from safetensors.torch import save_file

        weights = {
            k: v.detach().float().cpu().contiguous() for k, v in checkpoint_weights(self.model).items()
        }
        save_file(weights, str(self.folder / "model.safetensors.tmp"))
        (self.folder / "model.safetensors.tmp").replace(self.folder / "model.safetensors")
        torch.save(self.optimizer.state_dict(), self.folder / "optimizer.pt")
        (self.folder / "state.json").write_text(json.dumps(self.state))

    def log(self, record: dict[str, Any]) -> None:
        if self.rank == 0:
            with (self.folder / "metrics.jsonl").open("a") as f:
                f.write(json.dumps(record) + "\n")


def load_config(run_dir: str | Path) -> TrainConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: it has no config.json")
    return TrainConfig.from_dict(json.loads(path.read_text()), source=str(path))


def checkpoint_weights(model: VLM | HFVLM) -> dict[str, torch.Tensor]:
    """What the run folder's ``model.safetensors`` keeps: every weight of the small VLM; only the
    trained ones of a LoRA-wrapped LLaVA (the base stays at ``hf.path``)."""
    return model.trainable_state_dict() if isinstance(model, HFVLM) else model.state_dict()


def load_checkpoint_weights(model: VLM | HFVLM, path: Path) -> None:
    from safetensors.torch import load_file

    weights = load_file(str(path))
    if isinstance(model, HFVLM):
        model.load_trainable_state_dict(weights)
    else:
        model.load_state_dict(weights)


def build_model(config: TrainConfig, codec: TextCodec | None) -> tuple[VLM | HFVLM, TextCodec]:
    """The small VLM for ``codec``'s vocabulary, or the LLaVA at ``hf.path`` with its own tokenizer."""
    if config.hf.path:
        return load_llava(config.hf, config.model)
    return VLM(config.model, codec.vocab_size), codec


def load_model(
    run_dir: str | Path, device: str | torch.device = "cpu"
) -> tuple[VLM | HFVLM, TextCodec, TrainConfig]:
    config = load_config(run_dir)
    weights = Path(run_dir) / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{run_dir} has no checkpoint (model.safetensors); train it first")
    model, codec = build_model(config, None if config.hf.path else TextCodec.load(run_dir))
    load_checkpoint_weights(model, weights)
    return model.to(device).eval(), codec, config


def load_policy(run_dir: str | Path, device: str | torch.device = "cpu") -> Policy:
    model, codec, config = load_model(run_dir, device)
    return Policy(
        model, codec, config.env, config.state_in_prompt, config.max_new_tokens, config.short_prompt
    )


def load_run(
    run_dir: str | Path, temperature: float = 0.0, constrain: bool = False, seed: int = 0
) -> VLMAgent:
    """The agent of a VLM run folder (the loader its ``agent.json`` names)."""
    return VLMAgent(load_policy(run_dir), temperature=temperature, constrain=constrain, seed=seed)


def open_run(config: TrainConfig) -> tuple[Run, SFTData | None]:
    validate(config)
    rank, world = _distributed()
    folder = Path(config.out)
    state = {"sft_steps": 0, "ppo_iterations": 0, "elapsed_s": 0.0}
    resuming = config.resume and (folder / "state.json").is_file()
    if resuming:
        saved = values_by_path(load_config(folder))
        state = json.loads((folder / "state.json").read_text())
        # Before its first PPO iteration a run may still choose its PPO settings (an SFT run continued with PPO).
        free = RESUMABLE | (
            {p for p in saved if p.startswith("ppo.")} if state["ppo_iterations"] == 0 else set()
        )
        differing = [p for p, v in values_by_path(config).items() if p not in free and saved[p] != v]
        if differing:
            raise ValueError(
                f"cannot resume {folder}: its config differs in {', '.join(differing)}; use another --out"
            )
    elif folder.is_dir() and any(folder.iterdir()) and not (folder / "config.json").is_file():
        raise ValueError(f"out={str(folder)!r} exists and is not a run folder; choose an empty or new folder")
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    data = None
    if state["sft_steps"] < config.sft.steps or not resuming:
        data = collect_sft(config, config.seed + 7919 * rank)
    codec = None
    if config.hf.path:
        pass  # the checkpoint's own tokenizer
    elif resuming:
        codec = TextCodec.load(folder)
    else:
        # Every process trains the tokenizer on process 0's data (same seed): same vocabulary.
        corpus = data if rank == 0 else collect_sft(config, config.seed)
        codec = TextCodec(train_tokenizer(corpus.prompts + corpus.answers, config.vocab_size))
    model, codec = build_model(config, codec)
    model = model.to(device)
    _start_in_step(model, world)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.sft.lr)
    if resuming:
        load_checkpoint_weights(model, folder / "model.safetensors")
        optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
    run = Run(folder, config, device, model, codec, optimizer, state, rank, world)
    if rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))
        (folder / "agent.json").write_text(json.dumps({"loader": AGENT_LOADER}))
        codec.save(folder)
        if not resuming and (folder / "metrics.jsonl").exists():
            (folder / "metrics.jsonl").unlink()
    return run, data


#: Fields a resumed run may change: more steps or iterations, bookkeeping.
RESUMABLE = {
    "sft.steps",
    "sft.read_check_episodes",
    "ppo.iterations",
    "out",
    "resume",
    "progress",
    "device",
    "compile",
}


def _autocast(run: Run):
    return torch.autocast(
        run.device.type, dtype=torch.bfloat16, enabled=run.device.type == "cuda" and run.config.bf16
    )


def _progress(enabled: bool, total: int, done: int, label: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
        disable=not enabled,
    )
    return bar, bar.add_task(label, total=total, completed=done, info="")


# ---- SFT --------------------------------------------------------------------------------------


def sft_loss(model: VLM, codec: TextCodec, images, prompt_ids, answer_ids, device) -> torch.Tensor:
    """Mean negative log-likelihood of the answer tokens (end token included)."""
    batch = collate(model, codec, images.to(device), prompt_ids)
    answers, mask = right_pad([ids + [codec.eos_id] for ids in answer_ids], codec.pad_id, device)
    logprobs, _ = score(model, batch, answers, mask)
    return -logprobs.sum() / mask.sum()


def field_labels(data: SFTData) -> tuple[torch.Tensor, dict[str, int], torch.Tensor]:
    """The SFT frames, labelled per answer field with the field's whole value as a class."""
    fields = [answer_fields(a) for a in data.answers]
    names = sorted(fields[0])
    values = {n: sorted({f[n] for f in fields}) for n in names}
    labels = torch.tensor([[values[n].index(f[n]) for n in names] for f in fields])
    return data.images, {n: len(values[n]) for n in names}, labels


def align_encoder(run: Run, data: SFTData) -> None:
    """The reading stage (``sft.align_steps``): linear probes on the flattened image tokens classify
    what the frame shows, and the encoder and projector learn with them. With ``sft.align_frames``
    the probes read each card, formula slot and printed total of fresh frames (the SFT episodes'
    few deals give most of a whole field's values a handful of examples: the probes then teach the
    encoder nothing); without, each answer field of the SFT frames. The probes are thrown away; SFT
    then starts from image tokens that tell frames apart."""
    config, model = run.config, run.model
    if config.sft.align_frames:
        images, slots, labels = collect_reading(config, config.seed + 7919 * run.rank)
        held_out = max(1, len(images) // 10)
    else:
        (images, slots, labels), held_out = field_labels(data), 0
    train_rows = len(images) - held_out
    sizes = list(slots.values())
    features = model.image_tokens * model.config.width
    probes = torch.nn.ModuleList(torch.nn.Linear(features, n) for n in sizes).to(run.device)
    parts = list(model.encoder.parameters()) + list(model.projector.parameters())
    optimizer = torch.optim.AdamW(parts + list(probes.parameters()), lr=config.sft.lr)
    generator = torch.Generator().manual_seed(config.seed + 4)
    start = time.perf_counter()

    def slot_logits(rows: torch.Tensor) -> list[torch.Tensor]:
        with _autocast(run):
            tokens = model.image_embeddings(images[rows].to(run.device)).flatten(1).float()
        return [probe(tokens) for probe in probes]

    model.train()
    for step in range(config.sft.align_steps):
        rows = torch.randint(train_rows, (config.sft.batch_size,), generator=generator)
        target = labels[rows].to(run.device)
        loss = sum(
            torch.nn.functional.cross_entropy(logits, target[:, i])
            for i, logits in enumerate(slot_logits(rows))
        ) / len(sizes)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        _average_gradients(model, run.world)
        optimizer.step()
        if (step + 1) % 50 == 0 or step + 1 == config.sft.align_steps:
            record = {"phase": "align", "step": step + 1, "loss": loss.item()}
            if held_out:
                record["accuracy"] = probe_accuracy(slot_logits, labels, slots, train_rows)
            run.log(record)
    model.eval()
    run.state["elapsed_s"] += time.perf_counter() - start


@torch.no_grad()
def probe_accuracy(slot_logits, labels: torch.Tensor, slots: dict[str, int], first: int) -> dict[str, float]:
    """Each probe's accuracy on the held-out frames (rows ``first`` on), and the worst probe's as ``"min"``."""
    correct = torch.zeros(len(slots))
    for start in range(first, len(labels), 256):
        rows = torch.arange(start, min(start + 256, len(labels)))
        predicted = torch.stack([logits.argmax(1).cpu() for logits in slot_logits(rows)], dim=1)
        correct += (predicted == labels[rows]).sum(0)
    accuracy = dict(zip(slots, (correct / (len(labels) - first)).tolist()))
    return accuracy | {"min": min(accuracy.values())}


def train_sft(run: Run, data: SFTData) -> None:
    config, model, codec = run.config, run.model, run.codec
    prompt_ids = [codec.encode(p) for p in data.prompts]
    answer_ids = [codec.encode(a) for a in data.answers]
    generator = torch.Generator().manual_seed(config.seed + 1)
    start = time.perf_counter() - run.state["elapsed_s"]
    bar, task = _progress(config.progress and run.rank == 0, config.sft.steps, run.state["sft_steps"], "SFT")
    with bar:
        for step in range(run.state["sft_steps"], config.sft.steps):
            generator.manual_seed(config.seed * 1_000_003 + step)
            rows = torch.randint(len(prompt_ids), (config.sft.batch_size,), generator=generator).tolist()
            lr = float(
                config.sft.lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * step / max(config.sft.steps, 1))))
            )
            for group in run.optimizer.param_groups:
                group["lr"] = lr
            model.train()
            with _autocast(run):
                loss = sft_loss(
                    model,
                    codec,
                    data.images[rows],
                    [prompt_ids[r] for r in rows],
                    [answer_ids[r] for r in rows],
                    run.device,
                )
            run.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            _average_gradients(model, run.world)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            run.optimizer.step()
            done = step + 1
            run.state["sft_steps"] = done
            if done % 50 == 0 or done == config.sft.steps:
                run.state["elapsed_s"] = time.perf_counter() - start
                run.log(
                    {"phase": "sft", "step": done, "loss": loss.item(), "elapsed_s": run.state["elapsed_s"]}
                )
                bar.update(task, completed=done, info=f"loss {loss.item():.3f}")
            if done % 500 == 0 or done == config.sft.steps:
                run.save()
    model.eval()


#: Seeds of the read check's deals start this far from SFT's (``seed * 1_000_003 + episode``).
READ_CHECK_SEED_OFFSET = 700_000


def reading_accuracy(model: VLM | HFVLM, codec, config: TrainConfig) -> tuple[dict[str, float], int]:
    """Each answer field's accuracy on the frames of ``sft.read_check_episodes`` fresh expert
    episodes, and how many frames. The expert plays them without SFT's exploration: they are the
    states a policy that plays well meets (a random action's odd formulas are misread even by runs
    that win every deal)."""
    episodes = config.sft.read_check_episodes
    sample = dataclasses.replace(config, sft=dataclasses.replace(config.sft, episodes=episodes, explore=0.0))
    data = collect_sft(sample, config.seed + READ_CHECK_SEED_OFFSET)
    accuracy = read_check(model, codec, data.images, data.prompts, data.answers, config.max_new_tokens)
    return accuracy, len(data.prompts)


def check_reading(run: Run) -> None:
    """The read check when SFT ends (``sft.read_check_episodes``): logged, and a warning names each
    answer field the model writes right on fewer than :data:`WELL_READ` of the fresh frames."""
    if not run.config.sft.read_check_episodes or run.rank:
        return
    accuracy, frames = reading_accuracy(run.model, run.codec, run.config)
    run.log(
        {
            "phase": "read_check",
            "sft_step": run.state["sft_steps"],
            "frames": frames,
            "field_accuracy": accuracy,
        }
    )
    poor = [f"{name!r} on {100 * share:.0f}%" for name, share in accuracy.items() if share < WELL_READ]
    if poor:
        warnings.warn(
            f"read check of {run.folder}: after SFT the model writes {', '.join(poor)} of "
            f"{frames} fresh frames right (below {100 * WELL_READ:.0f}%): it reads that part of the "
            "frame poorly. Some training seeds never learn to; another --set seed=N may",
            stacklevel=2,
        )


# ---- PPO --------------------------------------------------------------------------------------


def make_vector_env(config: TrainConfig, seed: int) -> gym.vector.VectorEnv:
    """Text-action multimodal envs that reset in the step that ends an episode (every step is a transition)."""
    env = gym.make_vec(
        config.env,
        num_envs=config.ppo.num_envs,
        vectorization_mode="sync",
        wrappers=[TextActions],
        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
        obs_mode="multimodal",
    )
    env.reset(seed=seed)
    return env


def rollout(run: Run, policy: Policy, env, obs, generator):
    """``rollout_steps`` steps of every env; returns the samples, the arrays for GAE and the next obs."""
    config = run.config
    game = policy.game
    check_rng = np.random.default_rng(0)  # parse_action's fallback draw, unused: only `ok` is read
    samples, rewards, dones, values, failures, episode_returns = [], [], [], [], 0, []
    running = getattr(run, "_returns", np.zeros(config.ppo.num_envs))
    for _ in range(config.ppo.rollout_steps):
        with _autocast(run):
            batch, out, texts = policy.answer(obs, temperature=1.0, generator=generator)
        weights = token_weights(run.codec, out.tokens, out.mask, config.ppo.thought_weight)
        old_logp = (out.logprobs * weights).sum(1)
        masks = np.asarray(obs["action_mask"])
        failures += sum(
            not parse_action(t, game.action_strings, check_rng, m)[1] for t, m in zip(texts, masks)
        )
        real = batch.mask[:, run.model.image_tokens :]
        for row in range(len(texts)):
            samples.append(
                {
                    "image": batch.images[row].cpu(),
                    "prompt": batch.tokens[row, real[row]].tolist(),
                    "answer": out.tokens[row, out.mask[row]].tolist(),
                    "weights": weights[row, out.mask[row]].cpu(),
                    "old_logp": float(old_logp[row]),
                }
            )
        obs, reward, terminated, truncated, _ = env.step(texts)
        done = np.asarray(terminated) | np.asarray(truncated)
        running += reward
        episode_returns += running[done].tolist()
        running[done] = 0.0
        rewards.append(reward)
        dones.append(done)
        values.append(out.values.float().cpu().numpy())
    run._returns = running
    return (
        samples,
        np.array(rewards),
        np.array(dones, dtype=np.float64),
        np.array(values),
        failures,
        episode_returns,
        obs,
    )


def ppo_update(
    run: Run, samples: list[dict], advantages: np.ndarray, returns: np.ndarray, generator
) -> dict[str, float]:
    config, model, codec = run.config, run.model, run.codec
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    model.train()
    losses, clipped = [], []
    for _ in range(config.ppo.epochs):
        order = torch.randperm(len(samples), generator=generator).tolist()
        for start in range(0, len(order), config.ppo.minibatch_size):
            rows = order[start : start + config.ppo.minibatch_size]
            chosen = [samples[r] for r in rows]
            batch = collate(
                model,
                codec,
                torch.stack([s["image"] for s in chosen]).to(run.device),
                [s["prompt"] for s in chosen],
            )
            answers, mask = right_pad([s["answer"] for s in chosen], codec.pad_id, run.device)
            weights = torch.zeros(mask.shape, device=run.device)
            for i, s in enumerate(chosen):
                weights[i, : len(s["weights"])] = s["weights"].to(run.device)
            with _autocast(run):
                token_logp, new_values = score(model, batch, answers, mask)
            new_logp = (token_logp * weights).sum(1)
            old = torch.tensor([s["old_logp"] for s in chosen], device=run.device)
            loss, clip_fraction = ppo_loss(
                new_logp,
                old,
                torch.as_tensor(advantages[rows], dtype=torch.float32, device=run.device),
                new_values,
                torch.as_tensor(returns[rows], dtype=torch.float32, device=run.device),
                config.ppo.clip,
                config.ppo.value_coef,
            )
            run.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            _average_gradients(model, run.world)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            run.optimizer.step()
            losses.append(loss.item())
            clipped.append(clip_fraction.item())
    model.eval()
    return {"loss": float(np.mean(losses)), "clip_fraction": float(np.mean(clipped))}


def train_ppo(run: Run) -> None:
    config = run.config
    if run.state["ppo_iterations"] >= config.ppo.iterations:
        return
    policy = Policy(
        run.model, run.codec, config.env, config.state_in_prompt, config.max_new_tokens, config.short_prompt
    )
    env_seed = config.seed * 1_000_003 + 10_000 * run.state["ppo_iterations"] + 1_000 * run.rank
    env = make_vector_env(config, env_seed)
    obs = env.reset(seed=env_seed)[0]
    generator = torch.Generator().manual_seed(config.seed + 2 + run.state["ppo_iterations"])
    device_generator = torch.Generator(device=run.device).manual_seed(
        config.seed + 3 + run.state["ppo_iterations"]
    )
    for group in run.optimizer.param_groups:
        group["lr"] = config.ppo.lr
    start = time.perf_counter() - run.state["elapsed_s"]
    bar, task = _progress(
        config.progress and run.rank == 0, config.ppo.iterations, run.state["ppo_iterations"], "PPO"
    )
    with bar:
        for iteration in range(run.state["ppo_iterations"], config.ppo.iterations):
            samples, rewards, dones, values, failures, finished, obs = rollout(
                run, policy, env, obs, device_generator
            )
            with _autocast(run):
                last = _values(run, policy, obs)
            advantages, returns = gae(rewards, values, dones, last, config.ppo.gamma, config.ppo.gae_lambda)
            # Samples are stored step by step, env by env: the (T, N) arrays flatten in the same order.
            stats = ppo_update(run, samples, advantages.ravel(), returns.ravel(), generator)
            done = iteration + 1
            run.state["ppo_iterations"] = done
            run.state["elapsed_s"] = time.perf_counter() - start
            record = {
                "phase": "ppo",
                "iteration": done,
                "success_rate": float(np.mean(np.asarray(finished) > 0)) if finished else None,
                "episodes": len(finished),
                "parse_failure_rate": failures / len(samples),
                **stats,
                "elapsed_s": run.state["elapsed_s"],
            }
            run.log(record)
            bar.update(task, completed=done, info=f"success {record['success_rate']}")
            run.save()
    env.close()


@torch.no_grad()
def _values(run: Run, policy: Policy, obs) -> np.ndarray:
    """The value of each env's next prompt (the bootstrap of GAE's last step)."""
    batch = policy.inputs(obs)
    hidden, _ = run.model(batch.images, batch.tokens, batch.mask)
    return run.model.value(hidden[:, -1]).cpu().numpy()


def warn_about_tokens(run: Run) -> None:
    """The token check (:mod:`baselines.vlm.tokens`) before training: a warning names every token of
    the answers that the tokenizer cannot produce or whose head row looks never trained."""
    report = check_model(run.model, run.codec, [run.config.env], thoughts=run.config.thoughts)
    if report.flagged and run.rank == 0:
        warnings.warn(f"token check of {run.folder}: {report.summary()}", stacklevel=2)


def train(config: TrainConfig) -> Path:
    """Train (or resume) the run in ``config.out``: SFT, then PPO; returns the run folder."""
    run, data = open_run(config)
    warn_about_tokens(run)
    sft_left = data is not None and run.state["sft_steps"] < config.sft.steps
    if sft_left and run.state["sft_steps"] == 0:
        if config.sft.text_steps:
            train_text(run)
        if config.sft.align_steps:
            align_encoder(run, data)
    if config.freeze_encoder:  # also when resumed: the run's encoder stays the reading stage's
        run.model.encoder.requires_grad_(False)
    if sft_left:
        train_sft(run, data)
        check_reading(run)
    run.save()
    train_ppo(run)
    return run.folder
