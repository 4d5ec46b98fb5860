"""The VLM as a harness agent, and the one place that turns observations into model inputs.

:class:`Policy` reads a batched multimodal observation (frames, state texts, action masks) of one
game, downsamples the frames to the model's size, writes the env's prompts and generates the
answers; the trainer's rollouts and the agent call the very same code. :func:`baselines.vlm.train.load_run`
(the loader a run folder's ``agent.json`` names, ``icl-bench evaluate --agent run:DIR``) builds it: it plays
``vl-v0`` (frames + text), and ``pixels-v0``/``text-v0`` by building what their observations lack
(no frame: a blank one; no text: the frame only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from baselines.vlm.generate import ActionConstraint, Generation, Prompts, batch_prompts, generate
from baselines.vlm.model import VLM
from baselines.vlm.tasks import game_env, prompt
from baselines.vlm.tokenizer import TextCodec
from icl_envs.cards.text_protocol import parse_action
from leaderboard.agent import Agent


def downsample(frames: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``(B, H, W, 3)`` frames to ``(B, size, size, 3)`` by area averaging (no aliasing)."""
    frames = torch.as_tensor(np.asarray(frames))
    if frames.shape[1] == size and frames.shape[2] == size:
        return frames
    x = frames.permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(size, size), mode="area")
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


class Policy:
    """The model, its tokenizer and one game's text: observations in, answers out."""

    def __init__(
        self,
        model: VLM,
        codec: TextCodec,
        env_id: str,
        state_in_prompt: bool,
        max_new_tokens: int,
        short_prompt: bool = False,
    ):
        self.model, self.codec = model, codec
        self.state_in_prompt, self.max_new_tokens, self.short_prompt = (
            state_in_prompt,
            max_new_tokens,
            short_prompt,
        )
        self.set_game(env_id)

    def set_game(self, env_id: str) -> None:
        env = game_env(env_id)
        self.env_id, self.game = env_id, env.unwrapped
        env.close()

    def inputs(self, obs: Mapping[str, Any]) -> Prompts:
        masks = np.asarray(obs["action_mask"])
        texts = [
            prompt(self.game, text, mask, self.state_in_prompt, self.short_prompt)
            for text, mask in zip(obs["text"], masks)
        ]
        images = downsample(obs["image"], self.model.config.image_size)
        return batch_prompts(self.model, self.codec, images, texts)

    def answer(
        self, obs: Mapping[str, Any], *, temperature: float, generator=None, constrain: bool = False
    ) -> tuple[Prompts, Generation, list[str]]:
        batch = self.inputs(obs)
        constraint = None
        if constrain:
            legal = [
                [self.game.action_strings[i] for i in np.flatnonzero(m)]
                for m in np.asarray(obs["action_mask"])
            ]
            constraint = ActionConstraint(self.codec, legal)
        out = generate(
            self.model,
            self.codec,
            batch,
            self.max_new_tokens,
            temperature=temperature,
            generator=generator,
            constraint=constraint,
        )
        return batch, out, [self.codec.decode(row) for row in out.tokens.tolist()]


class VLMAgent(Agent):
    """Answers each observation with the VLM (greedy unless ``temperature > 0``)."""

    suites = ("vl-v0", "pixels-v0", "text-v0")

    def __init__(self, policy: Policy, temperature: float = 0.0, constrain: bool = False, seed: int = 0):
        self.policy, self.temperature, self.constrain = policy, float(temperature), bool(constrain)
        self.generator = torch.Generator().manual_seed(seed)
        self.fallback = np.random.default_rng([seed, 1])  # an unreadable answer's random action (pixels-v0)

    def reset(self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> None:
        if env_id is not None and env_id != self.policy.env_id:
            self.policy.set_game(env_id)

    def act_batch(self, obs_batch: Any) -> list[str]:
        obs = as_multimodal(obs_batch, self.policy)
        _, _, texts = self.policy.answer(
            obs, temperature=self.temperature, generator=self.generator, constrain=self.constrain
        )
        if isinstance(obs_batch, np.ndarray):  # pixels-v0 takes action ids: read them as the env would
            strings = self.policy.game.action_strings
            return np.array([parse_action(t, strings, self.fallback)[0] for t in texts])
        return texts


def as_multimodal(obs_batch: Any, policy: Policy) -> dict[str, Any]:
    """A ``vl-v0`` observation as it is; a frame batch (``pixels-v0``) or a text batch (``text-v0``)
    completed with what it lacks: no state text, or a blank frame; every action legal."""
    if isinstance(obs_batch, Mapping):
        return dict(obs_batch)
    n_actions = len(policy.game.action_strings)
    if isinstance(obs_batch, np.ndarray):  # frames
        return {
            "image": obs_batch,
            "text": [None] * len(obs_batch),
            "action_mask": np.ones((len(obs_batch), n_actions)),
        }
    size = policy.model.config.image_size
    texts = list(obs_batch)
    return {
        "image": np.zeros((len(texts), size, size, 3), np.uint8),
        "text": texts,
        "action_mask": np.ones((len(texts), n_actions)),
    }
