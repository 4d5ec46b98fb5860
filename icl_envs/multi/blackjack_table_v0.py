"""A Blackjack table for several players against one dealer, as a PettingZoo environment.

## Description
``num_players`` agents (``"player_0"``, ``"player_1"``, ...) each play their own hand against one
shared dealer with Gymnasium's Blackjack-v1 rules (infinite deck: every card is drawn uniformly from
the 13 ranks, J/Q/K count 10; the dealer stands on 17 and more, soft 17 included). Players act in
seat order in the AEC version (``env()``): a player hits until they stand or bust, then the next
player acts. In the parallel version (``parallel_env()``) every player with a live hand acts at
each step. Once every hand has stood or busted, the dealer turns the hole card and draws (only if
some player stood, as at a casino table; it changes no reward) and the round is settled.

Every random draw happens at ``reset``: each seat and the dealer get their own pre-dealt stream of
cards (22 cards, more than any hand can hold), so a seat's cards do not depend on what the other
players do, and the AEC and parallel versions deal the same cards for the same seed.

## Action Space
``Discrete(2)`` per agent: 0 stand, 1 hit.

## Observation Space
``Dict(observation=Box(0, [31, 10, 1], (3,), int64), action_mask=Box(0, 1, (2,), int8))``.
``observation`` is Gymnasium's Blackjack triple ``(player_sum, dealer_card, usable_ace)`` for the
agent's own hand and the dealer's up card (1 is an ace), so single-player agents play the table
unchanged; with an infinite deck the other hands carry no information about the next card.
``action_mask`` is ``[1, 1]`` while the agent's hand is live and ``[1, 0]`` once it stood or
busted: standing is then a no-op while the agent waits for the dealer. In the parallel version the
actions of finished hands are ignored.

## Rewards
As single-player Blackjack: -1 at the step a hand busts; when the round is settled, +1 for beating
the dealer, 0 for a push, -1 for losing; with ``natural=True`` a winning natural pays +1.5; with
``sab=True`` a natural beats any dealer hand but a natural.

## Starting State
Each player and the dealer hold two cards; the dealer's second (hole) card is face down.

## Episode End
All agents terminate together when the round is settled. There is no truncation: a hand holds at
most 22 cards.

## Arguments
``num_players=3`` (1..7, the seats of a casino table), ``natural=False``, ``sab=False``,
``render_mode=None | "rgb_array" | "human"``, ``image_size=400`` (the square frame's side in pixels,
150..2000; every card and label fits for any number of players).

## Version History
v0: initial version.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import functools  # noqa: E402

import gymnasium  # noqa: E402
import numpy as np  # noqa: E402
from gymnasium import spaces  # noqa: E402
from gymnasium.utils import seeding  # noqa: E402
from pettingzoo import AECEnv, ParallelEnv  # noqa: E402
from pettingzoo.utils import wrappers  # noqa: E402

from icl_envs.cards import blackjack_rules as rules  # noqa: E402
from icl_envs.checks import check_choice, check_discrete_action, check_int  # noqa: E402

STAND, HIT = 0, 1
MAX_PLAYERS = 7
# A live hand totals at most 21, so it holds at most 21 cards (21 aces); one more card busts it.
MAX_HAND_CARDS = 22
RENDER_MODES = ("human", "rgb_array")
METADATA = {
    "name": "blackjack_table_v0",
    "render_modes": list(RENDER_MODES),
    "render_fps": 2,
    "is_parallelizable": False,
}

PLAYING, STOOD, BUST = "playing", "stood", "bust"


def env(**kwargs) -> AECEnv:
    """The AEC table, wrapped as PettingZoo recommends.

    Only ``OrderEnforcingWrapper`` is used: the raw env validates actions itself and raises
    ``gymnasium.error.InvalidAction`` naming the allowed values, where ``AssertOutOfBoundsWrapper``
    would raise a bare ``AssertionError`` (and vanish under ``python -O``).
    """
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


def parallel_env(**kwargs) -> ParallelEnv:
    """The table with simultaneous actions of every live hand."""
    return BlackjackTableParallelEnv(**kwargs)


# ---------------------------------------------------------------------------------------------
# The deal (the task) and the game, shared by both APIs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableDeal:
    """Every card a round can use: rank indices 0..12 (A..K) and suit indices 0..3 per stream.

    Row i of ``player_ranks`` is seat i's cards in the order it receives them; the dealer's first
    card is the up card and the second the hole card.
    """

    player_ranks: np.ndarray  # (num_players, MAX_HAND_CARDS)
    player_suits: np.ndarray
    dealer_ranks: np.ndarray  # (MAX_HAND_CARDS,)
    dealer_suits: np.ndarray

    @classmethod
    def sample(cls, np_random: np.random.Generator, num_players: int) -> TableDeal:
        ranks = np_random.integers(13, size=(num_players + 1, MAX_HAND_CARDS))
        suits = np_random.integers(len(rules.SUITS), size=(num_players + 1, MAX_HAND_CARDS))
        return cls(ranks[:num_players], suits[:num_players], ranks[num_players], suits[num_players])


def card_name(rank: int, suit: int) -> str:
    """Sprite name of a card, e.g. ``"S10"`` or ``"HK"``."""
    return f"{rules.SUITS[suit]}{rules.RANK_NAMES[rank]}"


class BlackjackTable:
    """The state of one round: how many cards each hand holds, who stood or busted, the result."""

    def __init__(self, deal: TableDeal, *, natural: bool, sab: bool):
        self.deal = deal
        self.natural, self.sab = natural, sab
        self.num_players = len(deal.player_ranks)
        self.card_counts = np.full(self.num_players, 2)
        self.status = [PLAYING] * self.num_players
        self.dealer_count = 2
        self.settled = False
        self.final_rewards: list[float] | None = None

    def player_values(self, seat: int) -> list[int]:
        return [rules.card_value(r) for r in self.deal.player_ranks[seat, : self.card_counts[seat]]]

    def dealer_values(self) -> list[int]:
        return [rules.card_value(r) for r in self.deal.dealer_ranks[: self.dealer_count]]

    def player_cards(self, seat: int) -> list[str]:
        count = self.card_counts[seat]
        return [
            card_name(r, s)
            for r, s in zip(self.deal.player_ranks[seat, :count], self.deal.player_suits[seat, :count])
        ]

    def dealer_cards(self) -> list[str]:
        count = self.dealer_count
        return [
            card_name(r, s) for r, s in zip(self.deal.dealer_ranks[:count], self.deal.dealer_suits[:count])
        ]

    def is_live(self, seat: int) -> bool:
        return self.status[seat] == PLAYING

    def observation(self, seat: int) -> dict[str, np.ndarray]:
        values = self.player_values(seat)
        triple = [
            rules.sum_hand(values),
            rules.card_value(self.deal.dealer_ranks[0]),
            int(rules.usable_ace(values)),
        ]
        return {
            "observation": np.array(triple, dtype=np.int64),
            "action_mask": np.array([1, int(self.is_live(seat))], dtype=np.int8),
        }

    def info(self, seat: int) -> dict:
        """Visible facts only: the hole card appears (as ``dealer_cards``) once the round is settled."""
        info = {
            "player_cards": self.player_cards(seat),
            "dealer_up_card": card_name(self.deal.dealer_ranks[0], self.deal.dealer_suits[0]),
        }
        if self.settled:
            info["dealer_cards"] = self.dealer_cards()
        return info

    def act(self, seat: int, action: int) -> float:
        """Apply a live hand's action; return the immediate reward (-1 for a bust, else 0)."""
        if action == HIT:
            self.card_counts[seat] += 1
            if rules.is_bust(self.player_values(seat)):
                self.status[seat] = BUST
                return -1.0
            return 0.0
        self.status[seat] = STOOD
        return 0.0

    @property
    def all_done(self) -> bool:
        return PLAYING not in self.status

    def settle(self) -> list[float]:
        """Play the dealer's hand and return each seat's final reward (0 for a seat that busted,
        whose -1 was given when it busted)."""
        if STOOD in self.status:
            while rules.dealer_draws(self.dealer_values()):
                self.dealer_count += 1
        dealer = self.dealer_values()
        self.final_rewards = [
            rules.settle(self.player_values(seat), dealer, natural=self.natural, sab=self.sab)
            if status == STOOD
            else 0.0
            for seat, status in enumerate(self.status)
        ]
        self.settled = True
        return self.final_rewards


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

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
        from icl_envs.cards import sprites  # pygame is only imported when a frame is drawn

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
        import pygame

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
        import pygame

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
                f"{total}" if total <= 21 else f"{total} bust",
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
        self.window.show(frame, METADATA["render_fps"])
        return None

    def close(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window = None


# ---------------------------------------------------------------------------------------------
# The two PettingZoo APIs
# ---------------------------------------------------------------------------------------------


class _TableBase:
    """Arguments, spaces, seeding and rendering shared by the AEC and the parallel table."""

    metadata = METADATA

    def _setup(self, num_players, natural, sab, render_mode, image_size) -> None:
        self.num_players = check_int("num_players", num_players, minimum=1, maximum=MAX_PLAYERS)
        self.natural = bool(check_choice("natural", natural, (False, True)))
        self.sab = bool(check_choice("sab", sab, (False, True)))
        self.render_mode = check_choice("render_mode", render_mode, (None, *RENDER_MODES))
        self.image_size = check_int("image_size", image_size, minimum=150, maximum=2000)
        self.possible_agents = [f"player_{i}" for i in range(self.num_players)]
        self.seats = {agent: i for i, agent in enumerate(self.possible_agents)}
        # One space object per agent, created once: PettingZoo requires the same object on every call.
        self.observation_spaces = {agent: _observation_space() for agent in self.possible_agents}
        self.action_spaces = {agent: spaces.Discrete(2) for agent in self.possible_agents}
        self.np_random, _ = seeding.np_random(None)
        self.table: BlackjackTable | None = None
        self.renderer: TableRenderer | None = None

    def observation_space(self, agent):
        return self.observation_spaces[agent]

    def action_space(self, agent):
        return self.action_spaces[agent]

    def _deal(self, seed: int | None) -> None:
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
        self.table = BlackjackTable(
            TableDeal.sample(self.np_random, self.num_players), natural=self.natural, sab=self.sab
        )

    def _current_seat(self) -> int | None:
        return None

    def _rules_line(self) -> str:
        if self.sab:
            return "Dealer stands on 17 - a natural wins"
        if self.natural:
            return "Dealer stands on 17 - a winning natural pays 3 to 2"
        return "Dealer stands on 17"

    def render(self):
        if self.render_mode is None:
            gymnasium.logger.warn(
                "render() was called without a render_mode; pass render_mode='rgb_array' or 'human'."
            )
            return None
        if self.table is None:
            raise gymnasium.error.ResetNeeded("call reset() before render()")
        if self.renderer is None:
            self.renderer = TableRenderer(self.num_players, self.image_size, self._rules_line())
        return self.renderer.render(self.table, self._current_seat(), self.render_mode)

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.close()


def _observation_space() -> spaces.Dict:
    return spaces.Dict(
        {
            # A Box rather than MultiDiscrete([32, 11, 2]): PettingZoo's API test expects Box/Discrete.
            "observation": spaces.Box(low=0, high=np.array([31, 10, 1]), shape=(3,), dtype=np.int64),
            "action_mask": spaces.Box(0, 1, shape=(2,), dtype=np.int8),
        }
    )


class raw_env(_TableBase, AECEnv):  # noqa: N801 (PettingZoo's naming for the unwrapped AEC env)
    """Turn-based table: seats act in order, each until it stands or busts. See the module docstring."""

    def __init__(
        self,
        num_players: int = 3,
        natural: bool = False,
        sab: bool = False,
        render_mode: str | None = None,
        image_size: int = 400,
    ):
        AECEnv.__init__(self)
        self._setup(num_players, natural, sab, render_mode, image_size)

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        self._deal(seed)
        self.agents = self.possible_agents[:]
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {agent: self.table.info(self.seats[agent]) for agent in self.agents}
        self.agent_selection = self.agents[0]
        if self.render_mode == "human":
            self.render()

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        return self.table.observation(self.seats[agent])

    def _current_seat(self) -> int | None:
        if self.table is None or self.table.settled:
            return None
        return self.seats[self.agent_selection]

    def step(self, action) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        action = check_discrete_action(action, 2)
        seat = self.seats[agent]
        self._cumulative_rewards[agent] = 0.0
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self.rewards[agent] = self.table.act(seat, action)
        if self.table.is_live(seat):
            pass  # the same seat acts again
        elif (next_seat := self._next_live_seat(seat)) is not None:
            self.agent_selection = self.possible_agents[next_seat]
        else:
            for other, reward in zip(self.possible_agents, self.table.settle()):
                self.rewards[other] += reward
            self.terminations = dict.fromkeys(self.agents, True)
            self.agent_selection = self.agents[0]
        self.infos = {other: self.table.info(self.seats[other]) for other in self.agents}
        self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()

    def _next_live_seat(self, seat: int) -> int | None:
        return next((s for s in range(seat + 1, self.num_players) if self.table.is_live(s)), None)


class BlackjackTableParallelEnv(_TableBase, ParallelEnv):
    """Simultaneous table: every live hand acts at each step. See the module docstring."""

    def __init__(
        self,
        num_players: int = 3,
        natural: bool = False,
        sab: bool = False,
        render_mode: str | None = None,
        image_size: int = 400,
    ):
        self._setup(num_players, natural, sab, render_mode, image_size)
        self.agents: list[str] = []

    def reset(self, seed: int | None = None, options: dict | None = None):
        self._deal(seed)
        self.agents = self.possible_agents[:]
        if self.render_mode == "human":
            self.render()
        return self._observations(), self._infos()

    def _observations(self):
        return {
            agent: self.table.observation(self.seats[agent])
            for agent in self.possible_agents
            if agent in self.agents
        }

    def _infos(self):
        return {agent: self.table.info(self.seats[agent]) for agent in self.agents}

    def step(self, actions: dict):
        if self.table is None or not self.agents:
            raise gymnasium.error.ResetNeeded(
                "the round is over (or never started): call reset() before step()"
            )
        if not isinstance(actions, dict):
            raise gymnasium.error.InvalidAction(
                f"actions must be a dict from agent name to action, got {type(actions).__name__}"
            )
        unknown = set(actions) - set(self.agents)
        if unknown:
            raise gymnasium.error.InvalidAction(
                f"actions name agents not at the table: {sorted(unknown)}; agents are {self.agents}"
            )
        rewards = dict.fromkeys(self.agents, 0.0)
        # Validate every live hand's action before applying any, so a bad dict changes nothing.
        live = [agent for agent in self.agents if self.table.is_live(self.seats[agent])]
        missing = [agent for agent in live if agent not in actions]
        if missing:
            raise gymnasium.error.InvalidAction(f"every live hand must act; no action for {missing}")
        chosen = {agent: check_discrete_action(actions[agent], 2) for agent in live}
        for agent, action in chosen.items():
            rewards[agent] = self.table.act(self.seats[agent], action)
        done = self.table.all_done
        if done:
            for agent, reward in zip(self.possible_agents, self.table.settle()):
                rewards[agent] += reward
        observations = self._observations()
        infos = self._infos()
        terminations = dict.fromkeys(self.agents, done)
        truncations = dict.fromkeys(self.agents, False)
        if done:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos
