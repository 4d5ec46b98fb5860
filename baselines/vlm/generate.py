"""Batched generation with a KV cache, JSON-constrained decoding, and the training forward's scores.

One forward pass reads every env's ``[image][prompt]`` at once (left-padded), then each step feeds
one token per row and reuses the cached keys and values: a batch of answers costs about as much as
one. :func:`generate_naive` is the loop it replaces (one env at a time, the whole sequence again at
every token), kept as the benchmark's anchor and as a check that the cache changes nothing.

The log-probability recorded for each generated token is under the model's own distribution
(``log_softmax`` of the logits, temperature 1): PPO's ratio compares it with :func:`score`, the
training forward of the same sequence. With ``constrain=True`` the value of ``"action"`` is
restricted to the legal action strings followed by ``"}`` and the end token; sampling then draws
from the renormalised allowed tokens, while the recorded log-probability stays the unconstrained
one (the constraint is a decoding aid for evaluation; the PPO trainer samples without it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from baselines.vlm.model import VLM
from baselines.vlm.tokenizer import TextCodec

ACTION_KEY = '"action": "'


@dataclass
class Prompts:
    """A left-padded batch: ``tokens`` (B, P) and ``mask`` (B, image tokens + P) over real positions."""

    images: torch.Tensor
    tokens: torch.Tensor
    mask: torch.Tensor


def batch_prompts(model: VLM, codec: TextCodec, images: torch.Tensor, prompts: Sequence[str]) -> Prompts:
    return collate(model, codec, images, [codec.encode(p) for p in prompts])


def collate(model: VLM, codec: TextCodec, images: torch.Tensor, encoded: Sequence[Sequence[int]]) -> Prompts:
    """Left-pad encoded prompts into one batch (a rollout's prompts are re-batched so for the update)."""
    longest = max(map(len, encoded))
    if model.image_tokens + longest >= model.config.max_tokens:
        raise ValueError(
            f"a prompt of {longest} tokens leaves no room for an answer within max_tokens "
            f"({model.config.max_tokens}); raise max_tokens"
        )
    tokens = torch.full((len(encoded), longest), codec.pad_id, dtype=torch.long)
    mask = torch.zeros((len(encoded), model.image_tokens + longest), dtype=torch.bool)
    mask[:, : model.image_tokens] = True
    for row, ids in enumerate(encoded):
        tokens[row, longest - len(ids) :] = torch.tensor(ids)
        mask[row, model.image_tokens + longest - len(ids) :] = True
    device = next(model.parameters()).device
    return Prompts(images.to(device), tokens.to(device), mask.to(device))


@dataclass
class Generation:
    """Answers of a batch: ``tokens`` (B, L) padded after the end token, ``mask`` marking each row's
    tokens up to and including its end token, their log-probabilities, the value of each prompt."""

    tokens: torch.Tensor
    mask: torch.Tensor
    logprobs: torch.Tensor
    values: torch.Tensor


class ActionConstraint:
    """Per row: once the answer ends with ``"action": "``, allow only tokens that keep it spelling
    one of the row's legal action strings, then ``"}``, then the end token."""

    def __init__(self, codec: TextCodec, choices: Sequence[Sequence[str]]):
        self.codec = codec
        self.endings = [[c + '"}' for c in row] for row in choices]

    def allowed(self, row: int, text: str) -> list[int] | None:
        """Token ids allowed after ``text`` in ``row``, or None when the row is free."""
        key = text.rfind(ACTION_KEY)
        if key < 0:
            return None
        written = text[key + len(ACTION_KEY) :]
        allowed = set()
        for ending in self.endings[row]:
            if ending == written:
                return [self.codec.eos_id]
            if ending.startswith(written):
                allowed.update(i for i, _ in self.codec.tokens_spelling(ending[len(written) :]))
        return sorted(allowed) if allowed else [self.codec.eos_id]


@torch.no_grad()
def generate(
    model: VLM,
    codec: TextCodec,
    batch: Prompts,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    constraint: ActionConstraint | None = None,
) -> Generation:
    """Sample (``temperature > 0``) or pick greedily (``temperature == 0``) each row's answer."""
    max_new_tokens = min(max_new_tokens, model.config.max_tokens - batch.mask.shape[1])
    hidden, cache = model(batch.images, batch.tokens, batch.mask)
    values = model.value(hidden[:, -1])
    logits = model.logits(hidden[:, -1])
    rows = batch.tokens.shape[0]
    device = batch.tokens.device
    mask = batch.mask
    finished = torch.zeros(rows, dtype=torch.bool, device=device)
    texts = [""] * rows
    out_tokens, out_mask, out_logprobs = [], [], []
    for _ in range(max_new_tokens):
        logprobs = torch.log_softmax(logits, dim=-1)
        pick_from = logits.clone()
        if constraint is not None:
            for row in range(rows):
                allowed = None if finished[row] else constraint.allowed(row, texts[row])
                if allowed is not None:
                    keep = torch.full_like(pick_from[row], float("-inf"))
                    keep[allowed] = 0.0
                    pick_from[row] += keep
        if temperature > 0:
            probs = torch.softmax(pick_from / temperature, dim=-1)
            token = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        else:
            token = pick_from.argmax(dim=-1)
        live = ~finished
        token = torch.where(live, token, torch.full_like(token, codec.pad_id))
        out_tokens.append(token)
        out_mask.append(live)
        out_logprobs.append(torch.where(live, logprobs.gather(1, token[:, None]).squeeze(1), 0.0))
        if constraint is not None:
            texts = [t + codec.token_text[i] for t, i in zip(texts, token.tolist())]
        finished = finished | (token == codec.eos_id)
        if finished.all():
            break
        mask = torch.cat([mask, live[:, None]], dim=1)
        hidden, cache = model(None, token[:, None], mask, cache=cache)
        logits = model.logits(hidden[:, -1])
    return Generation(
        torch.stack(out_tokens, 1), torch.stack(out_mask, 1), torch.stack(out_logprobs, 1), values
    )


def right_pad(
    answers: Sequence[Sequence[int]], pad_id: int, device=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Answers as ``(tokens, mask)`` tensors, padded on the right."""
    longest = max(1, max(map(len, answers)))
    tokens = torch.full((len(answers), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(answers), longest), dtype=torch.bool)
    for row, ids in enumerate(answers):
        tokens[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        mask[row, : len(ids)] = True
    return tokens.to(device), mask.to(device)


def score(
    model: VLM,
    batch: Prompts,
    answers: torch.Tensor,
    answer_mask: torch.Tensor,
    image_embeddings: torch.Tensor | None = None,
):
    """The training forward: ``(log-probability of each answer token (B, L), value of each prompt (B,))``.
    ``image_embeddings``: the image tokens to use in place of ``batch.images``'s."""
    tokens = torch.cat([batch.tokens, answers], dim=1)
    mask = torch.cat([batch.mask, answer_mask], dim=1)
    hidden, _ = model(batch.images, tokens, mask, image_embeddings=image_embeddings)
    start = batch.mask.shape[1] - 1  # the prompt's last position predicts the first answer token
    predicting = hidden[:, start : start + answers.shape[1]]
    logprobs = torch.log_softmax(model.logits(predicting), dim=-1)
    token_logprobs = logprobs.gather(2, answers[:, :, None]).squeeze(2)
    return torch.where(answer_mask, token_logprobs, 0.0), model.value(hidden[:, start])


@torch.no_grad()
def rollout_score_gap(model: VLM, codec: TextCodec, batch: Prompts, max_new_tokens: int, generator=None):
    """``(largest |log-probability gap|, largest |value gap|)`` between a sampled rollout of ``batch``
    and the training forward (:func:`score`) of the same answers: PPO's first ratio is 1 only when
    both are ~0, so a new backbone (the LLaVA adapter) must pass this."""
    out = generate(model, codec, batch, max_new_tokens, temperature=1.0, generator=generator)
    logprobs, values = score(model, batch, out.tokens, out.mask)
    return float((logprobs - out.logprobs).abs().max()), float((values - out.values).abs().max())


@torch.no_grad()
def generate_naive(model: VLM, codec: TextCodec, batch: Prompts, max_new_tokens: int) -> list[list[int]]:
    """Greedy answers one row at a time, the whole sequence run again for every token (no cache)."""
    answers = []
    for row in range(batch.tokens.shape[0]):
        real = batch.mask[row, model.image_tokens :]
        ids = batch.tokens[row, real][None]
        image = batch.images[row : row + 1]
        answer: list[int] = []
        for _ in range(min(max_new_tokens, model.config.max_tokens - model.image_tokens - ids.shape[1])):
            mask = torch.ones((1, model.image_tokens + ids.shape[1]), dtype=torch.bool, device=ids.device)
            hidden, _ = model(image, ids, mask)
            token = int(model.logits(hidden[:, -1]).argmax())
            answer.append(token)
            if token == codec.eos_id:
                break
            ids = torch.cat([ids, torch.tensor([[token]], device=ids.device)], dim=1)
        answers.append(answer)
    return answers
