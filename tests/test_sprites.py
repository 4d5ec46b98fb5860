"""Card sprites: sizes, caching, colours, bad names, pixel read-back and hand layout."""

from __future__ import annotations

import numpy as np
import pygame
import pytest

from icl_envs.cards import sprites
from icl_envs.cards.sprites import (
    RANK_NAMES,
    SUIT_LETTERS,
    card_back_surface,
    card_height,
    card_surface,
    hand_positions,
    surface_to_array,
    text_surface,
)

ALL_CARDS = [suit + rank for suit in SUIT_LETTERS for rank in RANK_NAMES]


def _pixels(surface: pygame.Surface) -> np.ndarray:
    return surface_to_array(surface).astype(np.int64)


def _red_pixels(array: np.ndarray) -> int:
    """Pixels that are clearly red (the hearts/diamonds ink), not white, grey or black."""
    r, g, b = array[..., 0], array[..., 1], array[..., 2]
    return int(np.sum((r > 150) & (g < 100) & (b < 100)))


@pytest.mark.parametrize("width", [20, 60, 121])
def test_card_size_and_aspect(width):
    surface = card_surface("S10", width)
    assert surface.get_size() == (width, card_height(width))
    assert abs(width / card_height(width) - 0.7) < 0.03  # rounding of a small integer height


def test_cache_returns_the_same_surface():
    assert card_surface("HK", 50) is card_surface("HK", 50)
    assert card_back_surface(50) is card_back_surface(50)
    assert text_surface("Sum 12", 18) is text_surface("Sum 12", 18)
    assert card_surface("HK", 50) is not card_surface("HK", 51)


def test_every_card_is_distinct():
    faces = {name: _pixels(card_surface(name, 48)).tobytes() for name in ALL_CARDS}
    assert len(set(faces.values())) == 52
    assert _pixels(card_back_surface(48)).tobytes() not in set(faces.values())


def test_red_and_black_suits():
    for rank in RANK_NAMES:
        assert _red_pixels(_pixels(card_surface("H" + rank, 60))) > 20
        assert _red_pixels(_pixels(card_surface("D" + rank, 60))) > 20
        assert _red_pixels(_pixels(card_surface("S" + rank, 60))) == 0
        assert _red_pixels(_pixels(card_surface("C" + rank, 60))) == 0


def test_card_is_white_with_transparent_rounded_corners():
    surface = card_surface("C7", 60)
    assert surface.get_at((0, 0)).a == 0  # outside the rounded corner
    centre_left = surface.get_at((8, surface.get_height() // 2))
    assert min(centre_left.r, centre_left.g, centre_left.b) > 230


@pytest.mark.parametrize("name", ["", "H", "X2", "H1", "H11", "h2", "2H", "HJJ", 12, None])
def test_bad_card_name(name):
    with pytest.raises(ValueError, match="card name"):
        card_surface(name, 40)


@pytest.mark.parametrize("width", [0, 3, -5, 10_000, 4.5, True])
def test_bad_width(width):
    with pytest.raises(ValueError, match="width"):
        card_surface("H2", width)
    with pytest.raises(ValueError, match="width"):
        card_back_surface(width)


def test_text_surface():
    surface = text_surface("Dealer", 24, (255, 255, 255))
    assert surface.get_height() >= 15 and surface.get_width() > 30
    with pytest.raises(ValueError, match="size_px"):
        text_surface("x", 0)
    with pytest.raises(ValueError, match="text"):
        text_surface(3, 12)


@pytest.mark.parametrize("width", [300, 301, 57])
def test_surface_to_array_reads_rgb(width):
    surface = pygame.Surface((width, 31), pygame.SRCALPHA)
    surface.fill((10, 20, 30, 255))
    surface.set_at((3, 5), (200, 100, 50, 255))
    array = surface_to_array(surface)
    assert array.shape == (31, width, 3) and array.dtype == np.uint8 and array.flags.writeable
    assert array[0, 0].tolist() == [10, 20, 30]
    assert array[5, 3].tolist() == [200, 100, 50]
    surface.fill((1, 2, 3, 255))
    assert array[0, 0].tolist() == [10, 20, 30]  # a copy, not a view of the surface
    assert surface_to_array(surface)[0, 0].tolist() == [1, 2, 3]


def test_surface_to_array_reads_transparent_as_black():
    surface = pygame.Surface((8, 8), pygame.SRCALPHA)
    surface.fill((255, 255, 255, 255))
    surface_to_array(surface)
    surface.fill((0, 0, 0, 0))
    assert surface_to_array(surface).max() == 0


@pytest.mark.parametrize("count", list(range(1, 31)))
def test_hand_positions_never_clip(count):
    width, left, right = 60, 10, 290
    xs = hand_positions(count, width, left, right)
    assert len(xs) == count
    assert xs[0] >= left and xs[-1] + width <= right
    steps = np.diff(xs)
    assert np.all(steps >= 1)  # every card shows at least a strip of itself
    if count <= 4:  # four 60-pixel cards fit side by side in 280 pixels: no overlap
        assert np.all(steps > width)


def test_sprites_module_needs_no_window():
    # Drawing must not have opened a display (headless CI, and agents that never render).
    card_surface("DQ", 40)
    assert not pygame.display.get_init() or pygame.display.get_surface() is None
    assert sprites.CARD_ASPECT == 0.7


def test_text_still_draws_after_another_library_quits_pygame():
    # Gymnasium's Blackjack-v1 calls pygame.quit() in close(), which kills every open font.
    import pygame

    before = sprites.text_surface("Total 17", 30)
    pygame.quit()
    after = sprites.text_surface("Total 18 after quit", 30)
    assert after.get_width() > before.get_width() > 0
