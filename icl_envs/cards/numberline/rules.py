"""NumberLine's rules, written once for the single env (ints) and the vector env (arrays).

The functions use only operators that Python ints and numpy arrays share (no ``if``, no
``np.where``), so the single env steps at the speed of plain ints and the vector env with one
array operation per line, and the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

ACTION_STRINGS = ("-", "+")
#: The longest line: its numbers are said in words and drawn as ticks on one frame.
MAX_POSITION = 20


def numberline_step(position: Any, target: Any, action: Any, max_position: int) -> tuple[Any, Any, Any]:
    """Move (clamped to the line) and score: +1 on the target, -1 unless the distance shrank, else 0.

    ``action`` is 0 ("-", left) or 1 ("+", right); ints or int64 arrays alike. Returns
    ``(new position, reward, reached the target)``.
    """
    moved = position + 2 * action - 1
    moved = moved + (moved < 0) - (moved > max_position)  # a wall holds the marker where it was
    reached = moved == target
    closer = abs(moved - target) < abs(position - target)
    # 1 when reached; else 0 when closer, -1 when not (the "if" of ints, written as arithmetic).
    reward = reached - (1.0 - reached) * (1.0 - closer)
    return moved, reward, reached


def step_limit(max_position: int) -> int:
    """An episode is truncated after this many steps (twice the longest shortest path)."""
    return 2 * max_position
