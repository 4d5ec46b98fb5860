"""The NumberLine frame: the target and current numbers in words, the line, a flag and a marker.

pygame is imported inside the drawing functions, not at the top: an env in symbolic or text mode
imports this module but never draws, and must not load pygame (tests/test_env_contract.py).

The game has only ``(max_position + 1)**2`` states, so :func:`numberline_frame` draws each state's
frame once and keeps it (in a cache bounded in bytes, since a 2048-pixel frame is 12 MB): an
image-mode step then costs a copy, not a drawing.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from typing import Any

import numpy as np

BACKGROUND = (250, 250, 246)
INK = (25, 25, 30)
TARGET_COLOR = (30, 140, 70)
MARKER_COLOR = (200, 30, 45)


@functools.lru_cache(maxsize=32)
def _line_layout(max_position: int, size: int) -> tuple[Any, list[int], int]:
    """The static part of the frame (line, ticks, numbers) and the x of each tick."""
    import pygame  # lazily: see the module docstring

    from icl_envs.cards.sprites import text_surface

    surface = pygame.Surface((size, size))
    surface.fill(BACKGROUND)
    margin = round(0.1 * size)
    line_y = round(0.68 * size)
    xs = [round(margin + i * (size - 2 * margin) / max_position) for i in range(max_position + 1)]
    thick = max(2, size // 100)
    pygame.draw.line(surface, INK, (xs[0] - margin // 2, line_y), (xs[-1] + margin // 2, line_y), thick)
    digit_px = max(12, min(round(0.08 * size), round(1.1 * (xs[1] - xs[0]))))
    for i, x in enumerate(xs):
        pygame.draw.line(surface, INK, (x, line_y - 2 * thick), (x, line_y + 2 * thick), thick)
        label = text_surface(str(i), digit_px, INK)
        surface.blit(label, label.get_rect(midtop=(x, line_y + 3 * thick)))
    return surface, xs, line_y


def draw_numberline_frame(current: int, target: int, max_position: int, size: int) -> np.ndarray:
    """A ``(size, size, 3)`` frame: the target and current numbers in words, the line, a flag and a marker."""
    import pygame  # lazily: see the module docstring

    from icl_envs.cards.sprites import surface_to_array, text_surface

    static, xs, line_y = _line_layout(max_position, size)
    surface = static.copy()
    text_px = round(0.11 * size)
    surface.blit(
        text_surface(f"Target: {target}", text_px, TARGET_COLOR, True),
        (round(0.08 * size), round(0.07 * size)),
    )
    surface.blit(
        text_surface(f"Current: {current}", text_px, MARKER_COLOR, True),
        (round(0.08 * size), round(0.22 * size)),
    )
    spacing = xs[1] - xs[0]
    # Target: a flag on a pole standing on the line.
    pole = max(2, size // 120)
    top = line_y - round(0.2 * size)
    pygame.draw.line(surface, TARGET_COLOR, (xs[target], line_y), (xs[target], top), pole)
    flag = min(round(0.07 * size), spacing // 2)
    pygame.draw.polygon(
        surface,
        TARGET_COLOR,
        [(xs[target], top), (xs[target] + flag, top + flag // 2), (xs[target], top + flag)],
    )
    # Current position: a filled triangle pointing at the line.
    half = max(4, min(round(0.035 * size), spacing // 3))
    tip = line_y - max(3, size // 60)
    pygame.draw.polygon(
        surface,
        MARKER_COLOR,
        [(xs[current] - half, tip - 2 * half), (xs[current] + half, tip - 2 * half), (xs[current], tip)],
    )
    return surface_to_array(surface)


class _FrameCache:
    """Frames by state, least recently used dropped first once they hold more than ``max_bytes``."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.frames: OrderedDict[tuple[int, int, int, int], np.ndarray] = OrderedDict()
        self.bytes = 0

    def get(self, current: int, target: int, max_position: int, size: int) -> np.ndarray:
        key = (current, target, max_position, size)
        frame = self.frames.get(key)
        if frame is not None:
            self.frames.move_to_end(key)
            return frame
        frame = draw_numberline_frame(current, target, max_position, size)
        frame.flags.writeable = False  # shared by every caller: a caller that needs to write copies it
        self.frames[key] = frame
        self.bytes += frame.nbytes
        while self.bytes > self.max_bytes and len(self.frames) > 1:
            self.bytes -= self.frames.popitem(last=False)[1].nbytes
        return frame


_FRAMES = _FrameCache(max_bytes=64 * 2**20)


def numberline_frame(current: int, target: int, max_position: int, size: int) -> np.ndarray:
    """The frame of a state, drawn once and then served from the cache (read-only: copy to write)."""
    return _FRAMES.get(int(current), int(target), int(max_position), int(size))
