"""The VLM's tokenizer: byte-level BPE (``tokenizers``) trained on the games' prompts and answers.

Byte-level: every printable string has an encoding (the 256 byte symbols are in the vocabulary),
so no prompt is ever out of vocabulary; the merges learned from the games' own text make the task
descriptions and JSON keys short. The tokenizer is saved in the run folder as ``tokenizer.json``.

:class:`TextCodec` wraps it with what generation and PPO need: the text of each token (the games'
text is ASCII, so a token's text is its bytes and a sequence's text is the concatenation), the
character offsets of generated tokens, and the ids of the two special tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

PAD, EOS = "<pad>", "<eos>"
TOKENIZER_FILE = "tokenizer.json"


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    """A byte-level BPE tokenizer with ``vocab_size`` entries (the 256 bytes, ``<pad>``, ``<eos>``, merges)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if vocab_size < 258:
        raise ValueError(f"vocab_size must be >= 258 (256 bytes and 2 special tokens); got {vocab_size}")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


class TextCodec:
    """Encode and decode with a trained tokenizer; token texts and offsets for generated answers."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.vocab_size = tokenizer.get_vocab_size()
        self.pad_id, self.eos_id = tokenizer.token_to_id(PAD), tokenizer.token_to_id(EOS)
        if self.pad_id is None or self.eos_id is None:
            raise ValueError(f"the tokenizer has no {PAD} or {EOS} token: not one trained by train_tokenizer")
        self.token_text = [
            "" if i in (self.pad_id, self.eos_id) else tokenizer.decode([i]) for i in range(self.vocab_size)
        ]
        self._index_token_texts()

    def _index_token_texts(self) -> None:
        """The ids of each token text (for :meth:`tokens_spelling`); after ``token_text`` is set."""
        self._by_text: dict[str, list[int]] = {}
        for i, text in enumerate(self.token_text):
            if text:
                self._by_text.setdefault(text, []).append(i)

    @classmethod
    def load(cls, folder: str | Path) -> TextCodec:
        from tokenizers import Tokenizer

        path = Path(folder) / TOKENIZER_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{folder} has no {TOKENIZER_FILE}")
        return cls(Tokenizer.from_file(str(path)))

    def save(self, folder: str | Path) -> None:
        self.tokenizer.save(str(Path(folder) / TOKENIZER_FILE))

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).ids

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids`` up to the first ``<eos>`` (padding dropped)."""
        out = []
        for i in ids:
            if i == self.eos_id:
                break
            out.append(self.token_text[i])
        return "".join(out)

    def offsets(self, ids: Sequence[int]) -> np.ndarray:
        """Start offset of each token of ``ids`` in ``decode(ids)``, then the text's length."""
        return np.concatenate([[0], np.cumsum([len(self.token_text[i]) for i in ids])])

    def tokens_spelling(self, text: str) -> list[tuple[int, str]]:
        """Every ``(token id, its text)`` whose text is a non-empty prefix of ``text``."""
        return [(i, text[:n]) for n in range(1, len(text) + 1) for i in self._by_text.get(text[:n], ())]
