"""After SFT: does the model write what the frame shows?

A model that reads the state from the frame writes it first, in its answer's fields (NumberLine's
two numbers, the cards and the formula so far, Blackjack's totals). Some training seeds end SFT
without reading one part of the frame, and nothing in the loss says which (on EZPoints, one seed of
five wrote the formula as if its first number were down on every frame, and won no deal). The
check answers fresh frames greedily and scores each field against the expert's, so a run shows such
a field when its SFT ends rather than at its evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from baselines.vlm.generate import batch_prompts, generate
from baselines.vlm.tasks import answer_fields

#: Fields written right on fewer of the check's frames than this are named in a warning.
WELL_READ = 0.9


def field_accuracy(answers: Sequence[str], expected: Sequence[str]) -> dict[str, float]:
    """Share of the answers whose each field equals the expected answer's (an unreadable answer
    gets every field wrong)."""
    if len(answers) != len(expected) or not expected:
        raise ValueError(
            f"need as many answers as expected ones, at least one; got {len(answers)}, {len(expected)}"
        )
    right: dict[str, int] = {}
    for answer, truth in zip(answers, expected):
        written = answer_fields(answer) or {}
        for name, value in (answer_fields(truth) or {}).items():
            right[name] = right.get(name, 0) + (written.get(name) == value)
    return {name: count / len(expected) for name, count in right.items()}


def read_check(
    model,
    codec,
    images: torch.Tensor,
    prompts: Sequence[str],
    expected: Sequence[str],
    max_new_tokens: int,
    batch_size: int = 64,
) -> dict[str, float]:
    """Each answer field's accuracy on ``images`` (the model's size, uint8) with their ``prompts``,
    greedy answers against the ``expected`` ones."""
    model.eval()
    answers: list[str] = []
    for start in range(0, len(prompts), batch_size):
        rows = slice(start, start + batch_size)
        out = generate(
            model,
            codec,
            batch_prompts(model, codec, images[rows], prompts[rows]),
            max_new_tokens,
            temperature=0.0,
        )
        answers += [codec.decode(row) for row in out.tokens.tolist()]
    return field_accuracy(answers, expected)
