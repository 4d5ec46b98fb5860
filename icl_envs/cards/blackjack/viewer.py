"""What a player at the Blackjack table sees: the table drawn as a frame, and the table in words.

Hands are lists of card ids (0..51, ``deck.CARD_NAMES``). The dealer's second card stays face down
(drawn as a card back, left out of the words) until the hand is over.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from icl_envs.cards.blackjack import rules
from icl_envs.cards.deck import CARD_NAMES, NUM_RANKS, RANK_NAMES

FELT = (22, 110, 62)
FELT_LINE = (60, 150, 95)
LABEL = (240, 240, 230)
HIGHLIGHT = (255, 215, 70)


def _sprites():
    """The sprite module, imported on first use so that symbolic and text envs never load pygame."""
    from icl_envs.cards import sprites  # lazy: pygame is heavy and only frames need it

    return sprites


def outcome_words(reward: float, player_bust: bool) -> str:
    if player_bust:
        return "Bust"
    return {1.5: "Natural, win", 1.0: "Win", 0.0: "Draw", -1.0: "Lose"}[reward]


def _hand_total(card_ids: Sequence[int]) -> tuple[int, bool]:
    """(total, usable ace) of a hand of card ids."""
    return rules.hand_total([rules.CARD_VALUE_INTS[c] for c in card_ids])


class BlackjackTableRenderer:
    """Draws the table at one size: the dealer's row on top, the player's row below, totals as text.

    Everything that does not change (felt, labels) is drawn once into ``background``; a frame blits
    it, then the cached card sprites and cached text. One renderer per size is shared by every env
    (``table_renderer(size)``), which is safe because a frame is read back before the next is drawn.
    """

    def __init__(self, size: int):
        self.sprites = _sprites()
        self.size = size
        self.margin = round(0.04 * size)
        self.card_width = round(0.19 * size)
        self.card_height = self.sprites.card_height(self.card_width)
        self.font_px = max(12, round(0.075 * size))
        self.big_font_px = max(14, round(0.09 * size))
        self.label_y = round(0.025 * size)
        self.dealer_y = round(0.12 * size)
        self.player_label_y = self.dealer_y + self.card_height + round(0.04 * size)
        self.player_y = self.player_label_y + round(0.095 * size)
        self.total_y = self.player_y + self.card_height + round(0.025 * size)
        self.canvas = self.sprites.rgb_surface((size, size))
        self.background = self.sprites.rgb_surface((size, size))
        self._draw_background()

    def _draw_background(self) -> None:
        pygame = self.sprites.pygame
        self.background.fill(FELT)
        rule_y = self.player_label_y - round(0.02 * self.size)
        pygame.draw.line(
            self.background, FELT_LINE, (self.margin, rule_y), (self.size - self.margin, rule_y), 2
        )
        self.background.blit(self._text("Dealer", LABEL, self.font_px), (self.margin, self.label_y))
        self.background.blit(self._text("Player", LABEL, self.font_px), (self.margin, self.player_label_y))

    # Sprites flattened onto the felt colour: opaque colour-keyed blits, several times faster
    # than alpha blits (see sprites.flatten_sprite).
    def _card(self, name: str):
        return self.sprites.flatten_sprite(self.sprites.card_surface(name, self.card_width), FELT)

    def _back(self):
        return self.sprites.flatten_sprite(self.sprites.card_back_surface(self.card_width), FELT)

    def _text(self, text: str, color, px: int):
        return self.sprites.flatten_sprite(self.sprites.text_surface(text, px, color, True), FELT)

    def _row(self, surface, names: Sequence[str], y: int, hidden_from: int) -> None:
        xs = self.sprites.hand_positions(len(names), self.card_width, self.margin, self.size - self.margin)
        for i, (x, name) in enumerate(zip(xs, names)):
            surface.blit(self._back() if i >= hidden_from else self._card(name), (x, y))

    def _right_text(self, surface, text: str, y: int, color, px: int) -> None:
        sprite = self._text(text, color, px)
        surface.blit(sprite, (self.size - self.margin - sprite.get_width(), y))

    def draw(
        self,
        player_cards: Sequence[str],
        dealer_cards: Sequence[str],
        *,
        hand_over: bool,
        player_total: int,
        usable_ace: bool,
        dealer_text: str,
        result: str | None,
    ):
        """Draw a frame into ``canvas`` and return it. The dealer's cards after the first are face
        down until ``hand_over``; ``dealer_text`` is what the dealer's label says ("shows 10", "17")."""
        canvas = self.canvas
        canvas.blit(self.background, (0, 0))
        self._row(canvas, dealer_cards, self.dealer_y, len(dealer_cards) if hand_over else 1)
        self._row(canvas, player_cards, self.player_y, len(player_cards))
        self._right_text(canvas, dealer_text, self.label_y, LABEL, self.font_px)
        if result is not None:
            self._right_text(canvas, result, self.player_label_y, HIGHLIGHT, self.font_px)
        total = self._text(
            f"Total {player_total}" + (" (soft)" if usable_ace else ""), LABEL, self.big_font_px
        )
        canvas.blit(total, ((self.size - total.get_width()) // 2, self.total_y))
        return canvas


@functools.lru_cache(maxsize=8)
def table_renderer(size: int) -> BlackjackTableRenderer:
    return BlackjackTableRenderer(size)


def draw_table(
    size: int,
    player_ids: Sequence[int],
    dealer_ids: Sequence[int],
    *,
    hand_over: bool,
    reward: float,
    player_bust: bool,
):
    """Draw a table from card ids and return the (shared) canvas surface."""
    player_total, soft = _hand_total(player_ids)
    if hand_over:
        dealer_total, _ = _hand_total(dealer_ids)
        dealer_text = (
            "not played"
            if player_bust
            else (f"bust {dealer_total}" if rules.is_bust_total(dealer_total) else str(dealer_total))
        )
        sign = "+" if reward > 0 else ""
        result = f"{outcome_words(reward, player_bust)} {sign}{reward:g}"
    else:
        dealer_text = f"shows {RANK_NAMES[dealer_ids[0] % NUM_RANKS]}"
        result = None
    return table_renderer(size).draw(
        [CARD_NAMES[c] for c in player_ids],
        [CARD_NAMES[c] for c in dealer_ids],
        hand_over=hand_over,
        player_total=player_total,
        usable_ace=soft,
        dealer_text=dealer_text,
        result=result,
    )


def table_frame(*args: Any, **kwargs: Any) -> np.ndarray:
    """The frame of :func:`draw_table` (same arguments) as an RGB array, ``size`` x ``size`` x 3 uint8."""
    return _sprites().surface_to_array(draw_table(*args, **kwargs))


def describe_table(
    player_ids: Sequence[int], dealer_ids: Sequence[int], *, hand_over: bool, reward: float, player_bust: bool
) -> str:
    """The table in words, for language agents: only what a player at the table can see."""
    player_total, soft = _hand_total(player_ids)
    ace = "an ace counted as 11" if soft else "no ace counted as 11"
    mine = f"Your cards: {', '.join(CARD_NAMES[c] for c in player_ids)} (total {player_total}, {ace})."
    up = dealer_ids[0]
    if not hand_over:
        return (
            f"{mine} Dealer's face-up card: {CARD_NAMES[up]} (value {rules.CARD_VALUE_INTS[up]}, an ace is 1 "
            "or 11); the dealer's other card is face down."
        )
    dealer_total, _ = _hand_total(dealer_ids)
    dealer = f"Dealer's cards: {', '.join(CARD_NAMES[c] for c in dealer_ids)} (total {dealer_total})."
    if player_bust:
        return f"{mine} You went over 21: you lose ({reward:g}). {dealer}"
    return f"{mine} {dealer} The hand is over: {outcome_words(reward, False).lower()} ({reward:+g})."


def describe_symbolic(obs: tuple[int, int, int]) -> str:
    """Gymnasium's observation ``(player_total, dealer_card, usable_ace)`` in words."""
    total, dealer, soft = (int(x) for x in obs)
    return (
        f"Your total: {total} ({'an ace counted as 11' if soft else 'no ace counted as 11'}). "
        f"Dealer's face-up card value: {dealer} (1 is an ace, which counts 1 or 11)."
    )
