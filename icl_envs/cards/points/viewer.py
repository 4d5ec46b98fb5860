"""The Points frame: the target, the cards in a row, and the formula written so far.

pygame is imported inside the drawing functions, not at the top: an env in symbolic or text mode
imports this module but never draws, and must not load pygame (tests/test_env_contract.py).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

TABLE_GREEN = (53, 101, 77)
WHITE = (250, 250, 246)
GOLD = (240, 200, 80)


@functools.lru_cache(maxsize=256)
def _table_with_cards(cards: tuple[str, ...], target: int, size: int) -> Any:
    """The static part of a frame: green table, the target, the cards in a row."""
    import pygame  # lazily: see the module docstring

    from icl_envs.cards.sprites import card_height, card_surface, hand_positions, text_surface

    surface = pygame.Surface((size, size))
    surface.fill(TABLE_GREEN)
    title = text_surface(f"Target: {target}", round(0.09 * size), GOLD, True)
    surface.blit(title, title.get_rect(midtop=(size // 2, round(0.04 * size))))
    margin = round(0.04 * size)
    width = min(
        round((0.3 if len(cards) <= 2 else 0.21) * size), (size - 2 * margin) * 10 // (11 * len(cards))
    )
    top = round(0.16 * size)
    width = min(width, round(0.5 * size * 0.7))  # keep the cards within half the frame's height
    for card, x in zip(cards, hand_positions(len(cards), width, margin, size - margin)):
        surface.blit(card_surface(card, width), (x, top))
    return surface, top + card_height(width)


def _formula_lines(tokens: Sequence[str], font_px: int, max_width: int) -> list[Any]:
    """The formula's tokens as text surfaces, wrapped into lines that fit ``max_width``."""
    from icl_envs.cards.sprites import text_surface

    lines, current = [], ""
    for token in tokens:
        candidate = f"{current} {token}".strip()
        if current and text_surface(candidate, font_px, WHITE, True).get_width() > max_width:
            lines.append(current)
            candidate = token
        current = candidate
    lines.append(current)
    return [text_surface(line, font_px, WHITE, True) for line in lines if line]


def draw_points_frame(cards: tuple[str, ...], formula: Sequence[str], target: int, size: int) -> np.ndarray:
    """A ``(size, size, 3)`` frame: the target, the cards, and the formula written so far."""
    from icl_envs.cards.sprites import surface_to_array, text_surface

    static, cards_bottom = _table_with_cards(tuple(cards), target, size)
    surface = static.copy()
    label_px = round(0.075 * size)
    y = cards_bottom + round(0.04 * size)
    surface.blit(text_surface("Formula:", label_px, WHITE), (round(0.05 * size), y))
    y += label_px
    font_px = round(0.085 * size)
    lines = _formula_lines(formula, font_px, round(0.9 * size))
    if y + len(lines) * font_px > size:  # a long formula: shrink it to fit rather than clip it
        font_px = max(8, (size - y) // len(lines))
        lines = _formula_lines(formula, font_px, round(0.9 * size))
    for line in lines:
        surface.blit(line, (round(0.05 * size), y))
        y += font_px
    return surface_to_array(surface)
