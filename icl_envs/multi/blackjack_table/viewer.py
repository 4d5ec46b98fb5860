"""The table drawn for ``render()``: the dealer's hand on top, the seats along the bottom."""

from __future__ import annotations

import functools

from icl_envs.cards.blackjack import rules
from icl_envs.multi.blackjack_table.game import BUST, STOOD, BlackjackTable

RENDER_FPS = 2

FELT = (28, 105, 62)
FELT_EDGE = (20, 80, 46)
LABEL = (240, 240, 230)
HIGHLIGHT = (250, 210, 60)
FELT_PRINT = (120, 180, 130)


class TableRenderer:
    """Draws the table: the dealer's hand on top, the seats along the bottom.

    Up to four seats sit in one row; five to seven sit in two rows, so cards stay large enough to
    read. Card sizes follow from the frame size and the seat width, long hands overlap (each card's
    index stays visible), and every card and label lies inside the table's rim: nothing is clipped.
    """

    def __init__(self, num_players: int, image_size: int, rules_line: str):
        from icl_envs.cards import sprites  # lazy: pygame is only imported when a frame is drawn

        self.sprites = sprites
        self.rules_line = rules_line
        self.size = size = image_size
        self.num_players = num_players
        self.margin = m = max(4, size // 40)
        self.text_px = max(10, round(0.05 * size))
        self.line_height = self._text("P0: 21", size).get_height()

        self.rows = 1 if num_players <= 4 else 2
        self.seats_per_row = -(-num_players // self.rows)
        self.seat_width = (size - 2 * m) // self.seats_per_row
        self.dealer_card_width = max(sprites.MIN_CARD_WIDTH, round(0.15 * size))
        widest = 0.17 if self.rows == 1 else 0.12
        self.player_card_width = max(
            sprites.MIN_CARD_WIDTH, min(round(widest * size), round(0.42 * (self.seat_width - m)))
        )
        card_height = sprites.card_height(self.player_card_width)
        # A seat: its cards, then two lines of text ("P0: 19", its status); rows stack upwards.
        self.seat_height = m // 2 + card_height + m // 2 + 2 * self.line_height
        bottom = size - m
        self.seat_tops = [
            bottom - (self.rows - row) * (self.seat_height + m // 2) + m // 2 for row in range(self.rows)
        ]
        self.dealer_top = m + self.line_height + m // 2
        self.dealer_bottom = (
            self.dealer_top + sprites.card_height(self.dealer_card_width) + m // 2 + self.line_height
        )
        self.window = None  # a sprites.HumanWindow once render_mode="human" shows a frame

    @functools.cached_property
    def background(self):
        pygame = self.sprites.pygame
        surface = pygame.Surface((self.size, self.size))
        surface.fill(FELT_EDGE)
        rim = self.margin // 2
        pygame.draw.rect(
            surface, FELT, surface.get_rect().inflate(-2 * rim, -2 * rim), border_radius=self.size // 12
        )
        # The table's printed rules, in the free felt between the dealer and the seats (if it fits).
        lines = [
            self._text(line, self.size - 4 * self.margin, FELT_PRINT)
            for line in ("BLACKJACK", self.rules_line)
        ]
        free_top, free_bottom = self.dealer_bottom + self.margin, self.seat_tops[0] - self.margin
        needed = sum(line.get_height() for line in lines)
        if free_bottom - free_top >= needed:
            y = (free_top + free_bottom - needed) // 2
            for line in lines:
                surface.blit(line, ((self.size - line.get_width()) // 2, y))
                y += line.get_height()
        return surface

    @functools.lru_cache(maxsize=512)  # noqa: B019 (one renderer per env; the cache dies with it)
    def _text(self, text: str, max_width: int, color: tuple[int, int, int] = LABEL):
        """``text`` at the label size, shrunk until it is at most ``max_width`` pixels wide."""
        size = self.text_px
        surface = self.sprites.text_surface(text, size, color)
        while surface.get_width() > max_width and size > 6:
            size -= 1
            surface = self.sprites.text_surface(text, size, color)
        return surface

    def _blit_hand(self, frame, cards: list[str | None], width: int, left: int, right: int, top: int) -> None:
        for x, name in zip(self.sprites.hand_positions(len(cards), width, left, right), cards):
            sprite = (
                self.sprites.card_back_surface(width)
                if name is None
                else self.sprites.card_surface(name, width)
            )
            frame.blit(sprite, (x, top))

    def _blit_centred(self, frame, text: str, left: int, width: int, top: int) -> None:
        surface = self._text(text, width)
        frame.blit(surface, (left + (width - surface.get_width()) // 2, top))

    def draw(self, table: BlackjackTable, current_seat: int | None):
        pygame = self.sprites.pygame
        frame = self.background.copy()
        m, size = self.margin, self.size
        # Dealer: label, hand (hole card face down until the round is settled), total once shown.
        self._blit_centred(frame, "Dealer", 2 * m, size - 4 * m, m)
        cards: list[str | None] = table.dealer_cards()
        if not table.settled:
            cards = [cards[0], None]
        self._blit_hand(frame, cards, self.dealer_card_width, 2 * m, size - 2 * m, self.dealer_top)
        if table.settled:
            total = rules.sum_hand(table.dealer_values())
            self._blit_centred(
                frame,
                f"{total} bust" if rules.is_bust_total(total) else f"{total}",
                2 * m,
                size - 4 * m,
                self.dealer_bottom - self.line_height,
            )
        # Seats: hand, then "P<seat>: total" and the seat's status or result.
        card_height = self.sprites.card_height(self.player_card_width)
        for seat in range(self.num_players):
            row, column = divmod(seat, self.seats_per_row)
            # A shorter last row is centred under the full one.
            in_row = min(self.seats_per_row, self.num_players - row * self.seats_per_row)
            left = m + column * self.seat_width + (self.seats_per_row - in_row) * self.seat_width // 2
            top = self.seat_tops[row]
            if seat == current_seat:
                box = pygame.Rect(left, top, self.seat_width, self.seat_height)
                pygame.draw.rect(frame, HIGHLIGHT, box, width=max(2, m // 3), border_radius=m)
            inner_left, inner_right = left + m // 2, left + self.seat_width - m // 2
            cards_top = top + m // 2
            self._blit_hand(
                frame, table.player_cards(seat), self.player_card_width, inner_left, inner_right, cards_top
            )
            y = cards_top + card_height + m // 4
            for line in (
                f"P{seat}: {rules.sum_hand(table.player_values(seat))}",
                self._status_text(table, seat),
            ):
                self._blit_centred(frame, line, inner_left, inner_right - inner_left, y)
                y += self.line_height
        return frame

    @staticmethod
    def _status_text(table: BlackjackTable, seat: int) -> str:
        status = table.status[seat]
        if status == BUST:
            return "bust -1"
        if table.settled:
            reward = table.final_rewards[seat]
            return {1.5: "win +1.5", 1.0: "win +1", 0.0: "push 0", -1.0: "lose -1"}[reward]
        return "stands" if status == STOOD else "playing"

    def render(self, table: BlackjackTable, current_seat: int | None, render_mode: str):
        frame = self.draw(table, current_seat)
        if render_mode == "rgb_array":
            return self.sprites.surface_to_array(frame)
        if self.window is None:
            self.window = self.sprites.HumanWindow("icl-envs: Blackjack table")
        self.window.show(frame, RENDER_FPS)
        return None

    def close(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window = None


def rules_line(natural: bool, sab: bool) -> str:
    """The house rules printed on the felt."""
    if sab:
        return "Dealer stands on 17 - a natural wins"
    if natural:
        return "Dealer stands on 17 - a winning natural pays 3 to 2"
    return "Dealer stands on 17"
