"""The token check (after Magikarp, Land & Bartolo 2024): can the model write the answers it must write?

An agent of the text protocol must produce a JSON answer (``{"field": "...", "thoughts": "...",
"action": "..."}``) whose action is one of the game's action strings, then the end token. This module
lists those tokens (the tokenization of the answer skeleton, its values empty, once per action
string) and flags two kinds of trouble:

- **round trip**: the token's text does not encode back to the token (``encode(decode(t)) != [t]``,
  also tried after a newline, which separates pre-tokenizer words): the tokenizer never produces it,
  so the model never learns to write it.
- **under-trained** (the paper's unembedding indicator): the rows of the language-model head of
  tokens that never occur as a training target receive the same gradient (pushed away from every
  hidden state) and drift into one direction. The reference rows known to be unused are the byte
  tokens that no valid UTF-8 text contains (0xC0, 0xC1, 0xF5-0xFF; byte-level BPE and SentencePiece's
  byte fallback both have them). A token whose row has cosine similarity >= ``threshold`` with the
  mean reference row looks under-trained. The paper first removes the head's first principal
  component (a component large pretrained models share across rows): ``remove_first_component``,
  the default for Hugging Face checkpoints. The small VLM's head is different: most of its rows are
  never a target (prompt-only merges, unused bytes), so their shared direction *is* the first
  component, and removing it hides them; there the plain cosine is used (measured on a tiny
  NumberLine model: unused rows >= 0.96, the answer's rows <= -0.15 after 100 steps).
  The indicator is only read when the reference rows agree with each other (median leave-one-out
  similarity >= ``threshold``): in an untrained or random model they do not, and the report says the
  indicator is uninformative instead of flagging.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from baselines.vlm.hf import HFVLM
from baselines.vlm.model import VLM
from baselines.vlm.tasks import action_span, answer_text, game_env
from baselines.vlm.tokenizer import TextCodec

#: Bytes that never occur in valid UTF-8: their tokens are never seen in training text.
INVALID_UTF8 = (0xC0, 0xC1, *range(0xF5, 0x100))
THRESHOLD = 0.5


@dataclass
class RequiredToken:
    """A token the agent must produce, where it comes from and what the check found."""

    id: int
    text: str
    sources: list[str] = field(default_factory=list)
    round_trip: bool = True
    similarity: float | None = None
    """Cosine similarity of its head row with the mean unused row (None: the end token, or no reference)."""
    under_trained: bool = False

    @property
    def flagged(self) -> bool:
        return not self.round_trip or self.under_trained


@dataclass
class TokenReport:
    """The required tokens of ``env_ids``, and how far the indicator can be trusted."""

    env_ids: list[str]
    tokens: list[RequiredToken]
    reference_ids: list[int]
    reference_agreement: float | None
    """Median leave-one-out cosine similarity among the reference rows (None: fewer than 2)."""
    threshold: float

    @property
    def indicator_informative(self) -> bool:
        return self.reference_agreement is not None and self.reference_agreement >= self.threshold

    @property
    def flagged(self) -> list[RequiredToken]:
        return [t for t in self.tokens if t.flagged]

    def to_dict(self) -> dict:
        return asdict(self) | {"indicator_informative": self.indicator_informative}

    def summary(self) -> str:
        """One line per flagged token, or that none is."""
        if not self.flagged:
            return f"all {len(self.tokens)} required tokens pass the token check"
        lines = [f"{len(self.flagged)} of {len(self.tokens)} required tokens fail the token check:"]
        for t in self.flagged:
            why = ", ".join(
                reason
                for reason, failed in (
                    ("fails the decode/encode round trip", not t.round_trip),
                    (f"looks under-trained (similarity {t.similarity:.2f})", t.under_trained),
                )
                if failed
            )
            lines.append(f"  {t.id} {t.text!r} ({'; '.join(t.sources)}): {why}")
        return "\n".join(lines)


def answer_skeletons(env_id: str, thoughts: bool = True) -> list[tuple[str, str]]:
    """``(action string, answer with every value empty and that action)`` for each action of the game."""
    env = game_env(env_id)
    game = env.unwrapped
    fields = {name: "" for name in game.answer_fields}
    skeletons = [(a, answer_text(fields, "" if thoughts else None, a)) for a in game.action_strings]
    env.close()
    return skeletons


def required_tokens(codec: TextCodec, env_ids: Sequence[str], thoughts: bool = True) -> list[RequiredToken]:
    """The tokens of every answer skeleton of ``env_ids``, labelled skeleton or action, and the end token."""
    found: dict[int, RequiredToken] = {}
    for env_id in env_ids:
        game = env_id.split("/")[-1]
        for action, text in answer_skeletons(env_id, thoughts):
            ids = codec.encode(text)
            offsets = codec.offsets(ids)
            start, end = action_span(text)
            value_start = end - len(action) - 1  # the pair's value, between its quotes
            for i, token in enumerate(ids):
                is_action = offsets[i] < end - 1 and offsets[i + 1] > value_start
                source = f"{game} action {action!r}" if is_action else f"{game} skeleton"
                entry = found.setdefault(token, RequiredToken(token, codec.token_text[token]))
                if source not in entry.sources:
                    entry.sources.append(source)
    found.setdefault(codec.eos_id, RequiredToken(codec.eos_id, "", ["end token"]))
    return sorted(found.values(), key=lambda t: t.id)


def round_trips(codec: TextCodec, token: int) -> bool:
    """Whether the token's text encodes back to it (alone, or after a newline)."""
    text = codec.token_text[token]
    if not text:
        return True  # special tokens (end, padding) are written by id, not from text
    if codec.encode(text) == [token]:
        return True
    anchor = codec.encode("\n")
    return codec.encode("\n" + text) == anchor + [token]


def reference_ids(codec: TextCodec) -> list[int]:
    """Ids of the tokens of bytes that valid UTF-8 never contains: SentencePiece's byte fallback
    names them ``<0xNN>``; byte-level BPE by GPT-2's printable stand-ins (only read when there is no
    fallback: in a SentencePiece vocabulary "õ", 0xF5's stand-in, is an ordinary, trained letter)."""
    for names in ([f"<0x{b:02X}>" for b in INVALID_UTF8], [_bytes_to_unicode()[b] for b in INVALID_UTF8]):
        ids = {_token_id(codec, name) for name in names} - {None}
        if ids:
            return sorted(ids)
    return []


def _token_id(codec: TextCodec, name: str) -> int | None:
    tokenizer = codec.tokenizer
    convert = getattr(tokenizer, "token_to_id", None) or tokenizer.convert_tokens_to_ids
    token = convert(name)
    unknown = getattr(tokenizer, "unk_token_id", None)
    return None if token is None or token == unknown or token >= codec.vocab_size else int(token)


def _bytes_to_unicode() -> dict[int, str]:
    """Byte-level BPE's printable stand-in for each byte (GPT-2's table): printable Latin-1 bytes
    stand for themselves, the others for the characters from U+0100 on, in byte order."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def check_tokens(
    unembedding: torch.Tensor,
    codec: TextCodec,
    env_ids: Sequence[str],
    *,
    thoughts: bool = True,
    threshold: float = THRESHOLD,
    remove_first_component: bool = False,
) -> TokenReport:
    """The report for a model whose language-model head has rows ``unembedding`` (vocabulary × width)."""
    tokens = required_tokens(codec, env_ids, thoughts)
    for t in tokens:
        t.round_trip = round_trips(codec, t.id)
    reference = reference_ids(codec)
    agreement = None
    if len(reference) >= 2:
        rows = unembedding.detach().float().cpu().numpy()[: codec.vocab_size]
        if remove_first_component:
            rows = _without_first_component(rows)
        rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        ref = rows[reference]
        mean = ref.mean(axis=0)
        leave_one_out = (ref.sum(axis=0) - ref) / (len(reference) - 1)
        agreement = float(np.median(_cosine(ref, leave_one_out)))
        similarity = _cosine(rows, mean[None])
        for t in tokens:
            if t.id != codec.eos_id:
                t.similarity = float(similarity[t.id])
                t.under_trained = agreement >= threshold and t.similarity >= threshold
    return TokenReport(list(env_ids), tokens, reference, agreement, threshold)


def check_model(
    model: VLM | HFVLM,
    codec: TextCodec,
    env_ids: Sequence[str],
    *,
    thoughts: bool = True,
    threshold: float = THRESHOLD,
    remove_first_component: bool | None = None,
) -> TokenReport:
    """:func:`check_tokens` on a model's head; the paper's first-component removal by default for
    Hugging Face checkpoints only (see the module's docstring)."""
    hf = isinstance(model, HFVLM)
    return check_tokens(
        model.unembedding() if hf else model.lm_head.weight,
        codec,
        env_ids,
        thoughts=thoughts,
        threshold=threshold,
        remove_first_component=hf if remove_first_component is None else remove_first_component,
    )


def _without_first_component(rows: np.ndarray) -> np.ndarray:
    """``rows`` less their projection on the first principal component (power iteration: a 32k × 4k
    head needs two products per step, not a full SVD)."""
    centred = rows - rows.mean(axis=0)
    first = np.ones(rows.shape[1]) / rows.shape[1] ** 0.5
    for _ in range(100):
        first = centred.T @ (centred @ first)
        first /= max(np.linalg.norm(first), 1e-12)
    return rows - np.outer(rows @ first, first)


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
