"""Multi-query associative recall (MQAR) tasks: a fresh key→value map and where its keys are asked.

The distribution is Zoology's MQAR (Arora et al. 2023, "Zoology: Measuring and improving recall in
efficient language models", and the generator of their code base), described here by its facts:

- the vocabulary ``0..V-1`` is split in two: keys are drawn from ``1..V/2-1`` and values from
  ``V/2..V-1`` (``V/2`` is ``vocab_size // 2``), ``num_pairs`` distinct keys and distinct values
  per sequence, each key paired with one value;
- the sequence opens with the pairs ``k_1 v_1 k_2 v_2 ... k_D v_D`` (2D tokens);
- the rest holds ``(seq_len - 2D) // 2`` query slots at the even offsets ``2D + 2g``; every key is
  asked once, in slot ``g`` drawn without replacement, slot ``g`` with weight ``(g + 1)^(a - 1)``
  (``placement="power_law"``, ``a = power_a = 0.01`` by default: queries crowd near the pairs, as
  repeated bigrams do in text) or with equal weights (``placement="uniform"``);
- every other position is filler: a token uniform over the whole vocabulary (``filler="random"``,
  Zoology's default) or 0 (``filler="zero"``, the setting of the ReBased sweep).

The answer to the query at position ``p`` is the value paired with the key ``tokens[p]``; nothing
after it reveals the answer (the token after a query is filler).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from icl_envs.checks import check_choice, check_float, check_int, describe

PLACEMENTS = ("power_law", "uniform")
FILLERS = ("random", "zero")
#: Largest vocabulary and sequence: an episode's arrays stay small (an int64 sequence of 64k tokens).
MAX_VOCAB_SIZE = 2**20
MAX_SEQ_LEN = 2**16
#: Zoology's default exponent of the gap distribution.
DEFAULT_POWER_A = 0.01


@dataclass(frozen=True)
class RecallTask:
    """One MQAR sequence: ``tokens (seq_len,)``; ``query_positions (num_pairs,)`` increasing, where
    the keys are asked; ``answers (num_pairs,)`` the value of each query, in the same order."""

    tokens: np.ndarray
    query_positions: np.ndarray
    answers: np.ndarray


def check_recall_sizes(vocab_size: Any, num_pairs: Any, seq_len: Any) -> tuple[int, int, int]:
    """``vocab_size``, ``num_pairs`` and ``seq_len`` checked together: enough keys (``vocab_size //
    2 - 1``) and values for ``num_pairs`` distinct ones, and room for the pairs and a query slot per
    pair (``seq_len >= 4 * num_pairs``)."""
    vocab_size = check_int("vocab_size", vocab_size, minimum=4, maximum=MAX_VOCAB_SIZE)
    num_pairs = check_int("num_pairs", num_pairs, minimum=1, maximum=MAX_SEQ_LEN // 4)
    seq_len = check_int("seq_len", seq_len, minimum=4, maximum=MAX_SEQ_LEN)
    keys = vocab_size // 2 - 1
    if num_pairs > keys:
        raise ValueError(
            f"num_pairs must be <= vocab_size // 2 - 1 = {keys} (distinct keys from 1..{vocab_size // 2 - 1}), "
            f"got num_pairs={num_pairs} with vocab_size={vocab_size}"
        )
    if seq_len < 4 * num_pairs:
        raise ValueError(
            f"seq_len must be >= 4 * num_pairs = {4 * num_pairs} (the pairs and one query slot per "
            f"pair), got seq_len={seq_len}"
        )
    return vocab_size, num_pairs, seq_len


def gap_weights(slots: int, placement: str, power_a: float) -> np.ndarray | None:
    """Probabilities of the query slots 0..slots-1: ∝ (g + 1)^(a - 1), or None for uniform."""
    if placement == "uniform":
        return None
    weights = np.arange(1, slots + 1, dtype=np.float64) ** (power_a - 1.0)
    return weights / weights.sum()


class RecallGenerator:
    """Draws :class:`RecallTask` sequences with the env's arguments (see the module docstring).

    ``sample(rng)`` draws, in this order: the keys (``rng.choice`` without replacement), the values,
    the query slots, then the filler (``rng.integers``, also drawn with ``filler="zero"`` so that both
    settings consume the same stream).
    """

    def __init__(
        self,
        vocab_size: int = 8192,
        num_pairs: int = 8,
        seq_len: int = 64,
        placement: str = "power_law",
        power_a: float = DEFAULT_POWER_A,
        filler: str = "random",
    ):
        self.vocab_size, self.num_pairs, self.seq_len = check_recall_sizes(vocab_size, num_pairs, seq_len)
        self.placement = check_choice("placement", placement, PLACEMENTS)
        self.power_a = check_float("power_a", power_a, minimum=0.0, maximum=1.0)
        if self.power_a == 0.0:
            raise ValueError("power_a must be > 0 (the gap weights are (g + 1)^(power_a - 1)), got 0.0")
        self.filler = check_choice("filler", filler, FILLERS)
        self.half = self.vocab_size // 2
        self.slots = (self.seq_len - 2 * self.num_pairs) // 2
        self.weights = gap_weights(self.slots, self.placement, self.power_a)

    def sample(self, rng: np.random.Generator) -> RecallTask:
        d, half, vocab = self.num_pairs, self.half, self.vocab_size
        keys = rng.choice(half - 1, size=d, replace=False) + 1
        values = rng.choice(vocab - half, size=d, replace=False) + half
        slots = rng.choice(self.slots, size=d, replace=False, p=self.weights)
        filler = rng.integers(0, vocab, size=self.seq_len)
        tokens = filler if self.filler == "random" else np.zeros(self.seq_len, dtype=np.int64)
        tokens[0 : 2 * d : 2] = keys
        tokens[1 : 2 * d : 2] = values
        order = np.argsort(slots)
        positions = 2 * d + 2 * slots[order]
        tokens[positions] = keys[order]
        return RecallTask(tokens.astype(np.int64), positions.astype(np.int64), values[order].astype(np.int64))


def check_recall_task(task: Any, generator: Any, vocab_size: int, num_pairs: int, seq_len: int) -> None:
    """A plugged-in generator's task must fit the env: tokens ``(seq_len,)`` in the vocabulary,
    ``num_pairs`` increasing query positions inside the sequence and answers in the vocabulary."""
    where = f"generator: {describe(generator)} gave a task"
    shapes = {"tokens": (seq_len,), "query_positions": (num_pairs,), "answers": (num_pairs,)}
    for name, shape in shapes.items():
        value = np.asarray(getattr(task, name, None))
        if value.shape != shape or value.dtype.kind not in "iu":
            raise ValueError(f"{where} whose {name} is not {shape} integers: {describe(value)}")
    positions = np.asarray(task.query_positions)
    for name, values, high in (("tokens", task.tokens, vocab_size), ("answers", task.answers, vocab_size)):
        if np.min(values) < 0 or np.max(values) >= high:
            raise ValueError(f"{where} whose {name} leave the vocabulary 0..{high - 1}")
    if positions.min() < 0 or positions.max() >= seq_len or np.any(np.diff(positions) <= 0):
        raise ValueError(f"{where} whose query_positions are not increasing positions in 0..{seq_len - 1}")
