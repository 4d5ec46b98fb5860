"""Card faces, card backs and text drawn with pygame-ce, cached so a frame only blits.

Every card game of the package draws its frames from these sprites. Nothing is loaded from disk:
the card is a rounded white rectangle with the rank and a suit glyph in two corners and a large
glyph (or, for J/Q/K, a framed letter) in the middle; suit glyphs are drawn from circles and
polygons, so no font needs suit symbols. Shapes are drawn at ``_SUPERSAMPLE`` times the size and
smoothly scaled down, which anti-aliases their edges.

Card names are those of :mod:`icl_envs.cards.deck`: a suit letter (S, H, D, C) followed by a
rank (A, 2..10, J, Q, K): ``"H2"``, ``"S10"``, ``"DK"``, ``"CA"``. Each sprite is built once per
(name, width) by an ``functools.lru_cache``; callers must treat the returned surfaces as read-only.

Works headless (``SDL_VIDEODRIVER=dummy``): only ``pygame.font`` is initialised, no window is opened
(except by :class:`HumanWindow`, the window of ``render_mode="human"``, when it shows a frame).
"""

from __future__ import annotations

import functools
import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np  # noqa: E402
import pygame  # noqa: E402

# The deck's vocabulary; RANK_NAMES and SUIT_LETTERS (this module's name for SUITS) are re-exported
# for the callers that lay out cards by name.
from icl_envs.cards.deck import RANK_NAMES, parse_card_name  # noqa: E402, F401
from icl_envs.cards.deck import SUITS as SUIT_LETTERS  # noqa: E402, F401
from icl_envs.checks import describe  # noqa: E402

# Width / height of a card; real playing cards are 63 x 88 mm (0.716).
CARD_ASPECT = 0.7
RED = (200, 30, 45)
BLACK = (25, 25, 30)
CARD_WHITE = (252, 252, 248)
CARD_EDGE = (120, 120, 120)
BACK_COLOR = (35, 70, 160)
BACK_PATTERN = (90, 130, 215)
FACE_FRAME = (205, 170, 60)
_SUPERSAMPLE = 4
# Widths outside this range are either unreadable or a mistake (a card wider than any frame we make).
MIN_CARD_WIDTH = 8
MAX_CARD_WIDTH = 2000


def card_height(width: int) -> int:
    """Height in pixels of a card ``width`` pixels wide."""
    return round(width / CARD_ASPECT)


def suit_color(suit: str) -> tuple[int, int, int]:
    return RED if suit in ("H", "D") else BLACK


def _check_width(width: int) -> int:
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)):
        raise ValueError(f"width must be an integer number of pixels, got {describe(width)}")
    if not MIN_CARD_WIDTH <= width <= MAX_CARD_WIDTH:
        raise ValueError(
            f"width must be between {MIN_CARD_WIDTH} and {MAX_CARD_WIDTH} pixels, got {describe(width)}"
        )
    return int(width)


def _font(size_px: int, bold: bool) -> pygame.font.Font:
    """pygame's bundled font at ``size_px``, created once per size while the font module lives.

    Another library in the same process may call ``pygame.quit()`` (Gymnasium's Blackjack-v1 does
    in ``close()``), which kills every font created so far: then start the module again and forget
    the dead fonts. Rendered text, card sprites and surfaces survive it and stay cached.
    """
    if not pygame.font.get_init():
        pygame.font.init()
        _open_font.cache_clear()
    return _open_font(size_px, bold)


@functools.lru_cache(maxsize=256)
def _open_font(size_px: int, bold: bool) -> pygame.font.Font:
    font = pygame.font.Font(None, max(1, size_px))  # pygame's bundled sans font: same pixels everywhere
    font.set_bold(bold)
    return font


@functools.lru_cache(maxsize=4096)
def text_surface(
    text: str, size_px: int, color: tuple[int, int, int] = BLACK, bold: bool = False
) -> pygame.Surface:
    """``text`` rendered anti-aliased in pygame's bundled font, ``size_px`` pixels tall, transparent background."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if isinstance(size_px, bool) or not isinstance(size_px, (int, np.integer)) or not 1 <= size_px <= 1000:
        raise ValueError(f"size_px must be an integer between 1 and 1000, got {describe(size_px)}")
    return _font(int(size_px), bold).render(text, True, tuple(color))


def _draw_suit(surface: pygame.Surface, suit: str, center: tuple[float, float], size: float) -> None:
    """Draw a suit glyph about ``size`` pixels tall centred on ``center`` (shapes, not a font glyph)."""
    cx, cy = center
    color = suit_color(suit)
    r = size / 2
    if suit == "D":
        pygame.draw.polygon(
            surface, color, [(cx, cy - r), (cx + 0.75 * r, cy), (cx, cy + r), (cx - 0.75 * r, cy)]
        )
    elif suit in ("H", "S"):
        # A heart is two lobes over a point; a spade is an upside-down heart on a stem.
        flip = -1 if suit == "S" else 1
        lobe = 0.5 * r
        lobe_y = cy - flip * 0.35 * r
        for side in (-1, 1):
            pygame.draw.circle(surface, color, (round(cx + side * 0.48 * r), round(lobe_y)), round(lobe))
        pygame.draw.polygon(
            surface,
            color,
            [
                (cx - 0.97 * r, lobe_y + flip * 0.12 * r),
                (cx + 0.97 * r, lobe_y + flip * 0.12 * r),
                (cx, cy + flip * 0.95 * r),
            ],
        )
        if suit == "S":
            pygame.draw.polygon(
                surface, color, [(cx, cy + 0.2 * r), (cx + 0.35 * r, cy + r), (cx - 0.35 * r, cy + r)]
            )
    elif suit == "C":
        lobe = round(0.3 * r)
        for dx, dy in ((0.0, -0.45), (-0.45, 0.1), (0.45, 0.1)):
            pygame.draw.circle(surface, color, (round(cx + dx * r), round(cy + dy * r)), lobe)
        pygame.draw.circle(surface, color, (round(cx), round(cy)), round(0.18 * r))
        pygame.draw.polygon(surface, color, [(cx, cy), (cx + 0.35 * r, cy + r), (cx - 0.35 * r, cy + r)])


def _blank_card(width: int, height: int, fill: tuple[int, int, int]) -> pygame.Surface:
    """A rounded card shape with a grey edge, transparent outside the corners."""
    surface = pygame.Surface((width, height), pygame.SRCALPHA)
    radius = max(2, width // 10)
    pygame.draw.rect(surface, CARD_EDGE, surface.get_rect(), border_radius=radius)
    edge = max(1, width // 40)
    pygame.draw.rect(
        surface, fill, surface.get_rect().inflate(-2 * edge, -2 * edge), border_radius=radius - edge
    )
    return surface


@functools.lru_cache(maxsize=1024)
def card_surface(name: str, width: int) -> pygame.Surface:
    """The face of card ``name`` (e.g. ``"H2"``, ``"S10"``), ``width`` pixels wide, aspect 0.7.

    Cached per (name, width): the first call draws it, later calls return the same surface.
    """
    suit, rank = parse_card_name(name)
    width = _check_width(width)
    big_w, big_h = width * _SUPERSAMPLE, card_height(width) * _SUPERSAMPLE
    card = _blank_card(big_w, big_h, CARD_WHITE)
    color = suit_color(suit)

    # Corner index: rank over a small suit, top-left and (rotated) bottom-right, so a card
    # overlapped from the right still shows what it is.
    index_h = round(0.22 * big_h)
    rank_text = _font(index_h, True).render(rank, True, color)
    if rank_text.get_width() > 0.34 * big_w:  # "10" is wide: keep it inside the corner
        scale = 0.34 * big_w / rank_text.get_width()
        rank_text = pygame.transform.smoothscale(
            rank_text, (round(rank_text.get_width() * scale), round(rank_text.get_height() * scale))
        )
    pip = 0.5 * index_h
    corner = pygame.Surface(
        (max(rank_text.get_width(), round(pip * 1.1)), round(rank_text.get_height() + 1.05 * pip)),
        pygame.SRCALPHA,
    )
    corner.blit(rank_text, ((corner.get_width() - rank_text.get_width()) // 2, 0))
    _draw_suit(corner, suit, (corner.get_width() / 2, rank_text.get_height() + 0.5 * pip), pip)
    margin = round(0.07 * big_w)
    card.blit(corner, (margin, margin))
    card.blit(
        pygame.transform.rotate(corner, 180),
        (big_w - margin - corner.get_width(), big_h - margin - corner.get_height()),
    )

    centre = (big_w / 2, big_h / 2)
    if rank in ("J", "Q", "K"):
        frame = pygame.Rect(0, 0, round(0.5 * big_w), round(0.5 * big_h))
        frame.center = (round(centre[0]), round(centre[1]))
        pygame.draw.rect(card, FACE_FRAME, frame, width=max(2, big_w // 30), border_radius=big_w // 20)
        letter = _font(round(0.3 * big_h), True).render(rank, True, color)
        card.blit(letter, letter.get_rect(center=(frame.centerx, frame.centery - 0.06 * big_h)))
        _draw_suit(card, suit, (frame.centerx, frame.bottom - 0.09 * big_h), 0.1 * big_h)
    else:
        _draw_suit(card, suit, centre, (0.42 if rank == "A" else 0.32) * big_w)
    return pygame.transform.smoothscale(card, (width, card_height(width)))


@functools.lru_cache(maxsize=64)
def card_back_surface(width: int) -> pygame.Surface:
    """The back of a card (blue with a diamond lattice and a white border), ``width`` pixels wide."""
    width = _check_width(width)
    big_w, big_h = width * _SUPERSAMPLE, card_height(width) * _SUPERSAMPLE
    card = _blank_card(big_w, big_h, CARD_WHITE)
    inner = card.get_rect().inflate(-round(0.16 * big_w), -round(0.16 * big_w))
    pattern = pygame.Surface(inner.size, pygame.SRCALPHA)
    pygame.draw.rect(pattern, BACK_COLOR, pattern.get_rect(), border_radius=big_w // 20)
    step = max(4, big_w // 6)
    line = max(1, big_w // 60)
    for offset in range(-inner.height, inner.width + inner.height, step):
        pygame.draw.line(pattern, BACK_PATTERN, (offset, 0), (offset + inner.height, inner.height), line)
        pygame.draw.line(pattern, BACK_PATTERN, (offset, inner.height), (offset + inner.height, 0), line)
    card.blit(pattern, inner.topleft)
    return pygame.transform.smoothscale(card, (width, card_height(width)))


# Byte masks that put R, G, B in memory order, so a 24-bit surface's buffer is already an RGB array.
_RGB_MASKS = (0x0000FF, 0x00FF00, 0xFF0000, 0)


@functools.lru_cache(maxsize=16)
def _rgb_scratch(size: tuple[int, int]) -> pygame.Surface:
    return rgb_surface(size)


def rgb_surface(size: tuple[int, int]) -> pygame.Surface:
    """A 24-bit surface whose bytes are in RGB order: opaque blits onto it are memory copies and
    ``surface_to_array`` reads it with a single buffer copy. Draw frames on one of these."""
    return pygame.Surface(size, 0, 24, _RGB_MASKS)


@functools.lru_cache(maxsize=4096)
def flatten_sprite(sprite: pygame.Surface, background: tuple[int, int, int]) -> pygame.Surface:
    """``sprite`` (with per-pixel alpha) composited over a plain ``background`` colour, as a 24-bit
    RGB surface in which that colour is a transparent colour key.

    Blitting the result onto an ``rgb_surface`` is several times faster than an alpha blit, and the
    picture is the same wherever the sprite lands on ``background`` (cards on the felt). Where it
    lands on another sprite, only the few anti-aliased pixels of its rounded corners differ.
    Cached per (sprite, background); ``sprite`` must itself be a cached, unchanging surface.
    """
    flat = rgb_surface(sprite.get_size())
    flat.fill(background)
    flat.blit(sprite, (0, 0))
    flat.set_colorkey(background, pygame.RLEACCEL)
    return flat


def surface_to_array(surface: pygame.Surface) -> np.ndarray:
    """Copy a surface's pixels into a new writable ``(H, W, 3)`` uint8 RGB array.

    Drawing is fastest on 32-bit surfaces (alpha blits), reading is fastest from a 24-bit surface
    whose bytes are in RGB order: one opaque blit into such a scratch surface and one buffer copy
    (about 30 us at 300x300, ten times faster than ``surfarray`` plus a transpose).
    """
    width, height = surface.get_size()
    if surface.get_bitsize() == 24 and surface.get_masks() == _RGB_MASKS:
        rgb = surface
    else:
        rgb = _rgb_scratch((width, height))  # one opaque blit converts any format to RGB bytes
        if surface.get_flags() & pygame.SRCALPHA:
            rgb.fill((0, 0, 0))  # transparent pixels read as black, not as the previous frame
        rgb.blit(surface, (0, 0))
    buffer = rgb.get_buffer()
    rows = np.frombuffer(buffer, dtype=np.uint8).reshape(height, rgb.get_pitch())
    pixels = rows[:, : 3 * width].reshape(height, width, 3).copy()
    del rows, buffer  # the buffer proxy locks the surface until it is released
    return pixels


class HumanWindow:
    """The on-screen window of ``render_mode="human"``, opened at the size of the first frame shown.

    Every env with a human mode shows its frames through one of these, so opening, pacing and
    closing the display happen in one place.
    """

    def __init__(self, caption: str):
        self.caption = caption
        self._display: pygame.Surface | None = None
        self._clock: pygame.time.Clock | None = None

    def show(self, frame: pygame.Surface, fps: float) -> None:
        """Show ``frame``, handle the window's events, and wait so that at most ``fps`` frames a
        second are shown."""
        if self._display is None:
            pygame.display.init()
            pygame.display.set_caption(self.caption)
            self._display = pygame.display.set_mode(frame.get_size())
            self._clock = pygame.time.Clock()
        self._display.blit(frame, (0, 0))
        pygame.event.pump()
        pygame.display.flip()
        self._clock.tick(fps)

    def close(self) -> None:
        if self._display is not None:
            pygame.display.quit()
            self._display = None


def hand_positions(count: int, card_width: int, left: int, right: int) -> list[int]:
    """Left x of each of ``count`` cards laid out in a row between ``left`` and ``right``, centred.

    Cards sit side by side with a small gap while they fit; beyond that they overlap evenly, so
    a hand of any length stays inside ``[left, right]`` and every card's left strip (its index) shows.
    """
    if count <= 0:
        return []
    available = right - left
    gap = max(1, card_width // 8)
    step = card_width + gap
    if count > 1 and (count - 1) * step + card_width > available:
        step = max(1, (available - card_width) // (count - 1))
    used = (count - 1) * step + card_width
    start = left + max(0, (available - used) // 2)
    return [start + i * step for i in range(count)]
