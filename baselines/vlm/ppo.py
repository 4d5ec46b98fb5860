"""RL4VLM's PPO pieces (Zhai et al. 2024): the action's log-probability, GAE and the clipped loss.

The log-probability of an answer as an action is ``λ · Σ log p(thought tokens) + Σ log p(action
tokens)``: the action tokens are those that overlap the characters of the answer's last
``"action": "..."`` pair, found in the generated text by its own token offsets (no token id is
hard-coded); every other generated token (fields, thoughts, braces, the end token) is a thought
token. An answer without an action pair is all thought.
"""

from __future__ import annotations

import numpy as np
import torch

from baselines.vlm.tasks import action_span
from baselines.vlm.tokenizer import TextCodec


def token_weights(codec: TextCodec, answers: torch.Tensor, mask: torch.Tensor, thought_weight: float):
    """Weight of each answer token: 1 for action tokens, ``thought_weight`` (λ) for the others, 0 for padding."""
    weights = torch.where(mask, thought_weight, 0.0).to(torch.float32)
    for row, ids in enumerate(answers.tolist()):
        ids = ids[: int(mask[row].sum())]
        text = codec.decode(ids)
        span = action_span(text)
        if span is None:
            continue
        offsets = codec.offsets(ids)
        starts, ends = offsets[:-1], offsets[1:]
        overlap = (starts < span[1]) & (ends > span[0])
        weights[row, : len(ids)][torch.from_numpy(overlap)] = 1.0
    return weights.to(answers.device)


def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    dones: np.ndarray,
    last_values: np.ndarray,
    gamma: float,
    lam: float,
):
    """Generalised advantage estimates and returns for ``(T, N)`` rollouts; ``dones[t]``: the episode
    ended at step t (no bootstrap past it)."""
    steps = rewards.shape[0]
    advantages = np.zeros_like(rewards, dtype=np.float64)
    running = np.zeros(rewards.shape[1])
    for t in reversed(range(steps)):
        next_values = last_values if t == steps - 1 else values[t + 1]
        alive = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_values * alive - values[t]
        running = delta + gamma * lam * alive * running
        advantages[t] = running
    return advantages, advantages + values


def ppo_loss(new_logp, old_logp, advantages, new_values, returns, clip: float, value_coef: float):
    """The clipped surrogate plus ``value_coef`` times the squared value error; and the clip fraction."""
    ratio = torch.exp(new_logp - old_logp)
    surrogate = torch.minimum(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages)
    value_loss = 0.5 * (new_values - returns).pow(2).mean()
    clipped = ((ratio - 1).abs() > clip).float().mean()
    return -surrogate.mean() + value_coef * value_loss, clipped
