"""Blackjack with rendered cards: ``icl/Blackjack-v0`` and its native numpy vector env.

The rules and the symbolic observation are Gymnasium's ``Blackjack-v1``; on top of them each card
has a suit and a rank so that the table can be drawn, described in text and reported in ``info``.

Cards come from a *card stream*: ``reset(seed=...)`` seeds ``np_random``, and the env draws card
ids (0..51, suit ``id // 13``, rank ``id % 13``) from it in blocks of ``CARD_BLOCK``. A reset or a
step first draws a fresh block if fewer than ``MAX_CARDS_PER_CALL`` cards are left, then takes cards
in order. Every card is uniform over the 52 and independent of the others, so this is exactly the
infinite deck of Gymnasium; drawing in blocks lets the vector env hold one stream per sub-env and
reproduce ``SyncVectorEnv`` number for number while it draws for all sub-envs at once.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import InvalidAction, ResetNeeded
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from icl_envs.cards.blackjack_rules import RANK_NAMES, RANK_VALUES, SUITS
from icl_envs.cards.text_protocol import MAX_TEXT_LENGTH, TEXT_CHARSET, TextProtocolMixin
from icl_envs.checks import check_choice, check_discrete_action, check_int, vector_reset_mask, vector_seeds

# Card id c is suit SUITS[c // 13] and rank RANK_NAMES[c % 13]; names like "H10", "SK".
CARD_NAMES: tuple[str, ...] = tuple(suit + rank for suit in SUITS for rank in RANK_NAMES)
CARD_VALUES = np.tile(RANK_VALUES, len(SUITS))  # value of each card id, 1 (ace) .. 10
_CARD_VALUES_LIST: tuple[int, ...] = tuple(int(v) for v in CARD_VALUES)
CARD_BLOCK = 2048
# A reset deals 4 cards; a stand makes the dealer draw at most 15 (the dealer's hard total starts
# at 2 or more, rises by 1 or more per card and the dealer stops by hard 17); a hit draws 1.
# Between two top-ups at most one reset or step runs, so a block never runs dry.
MAX_CARDS_PER_CALL = 16
# The longest hand: 21 aces without busting, then one more card (player); the dealer stops sooner.
MAX_HAND = 22
ACTION_STRINGS = ("stand", "hit")
OBS_MODES = ("image", "symbolic", "text", "multimodal")
MIN_IMAGE_SIZE = 128  # below this the card indices are no longer legible
MAX_IMAGE_SIZE = 2048

TASK_DESCRIPTION = (
    "You are playing Blackjack against a dealer. Cards come from an infinite deck: every card is "
    "equally likely to be any of A, 2-10, J, Q, K. Number cards count their number, J, Q and K count "
    "10, an ace counts 11 unless that would take the hand over 21, then 1. You see your cards and one "
    'of the dealer\'s two cards; the other is face down. "hit" takes another card; going over 21 '
    '(bust) loses at once. "stand" ends your turn: the dealer turns the hidden card over and draws '
    "until the dealer's total is 17 or more. You win (+1) if the dealer busts or your total is closer "
    "to 21, draw (0) on equal totals, and lose (-1) otherwise."
)
NATURAL_RULE = {
    "natural": " A natural (an ace and a ten-valued card as your first two cards) that wins pays +1.5.",
    "sab": " A natural (an ace and a ten-valued card as your first two cards) wins +1 unless the dealer "
    "also has one, which is a draw.",
}
ANSWER_FIELDS = {
    "player total": "your current total",
    "dealer card": "the value of the dealer's face-up card",
}


def hand_total(values: Sequence[int]) -> tuple[int, bool]:
    """(total, usable ace) of a hand of card values, one ace counting 11 when that does not bust."""
    hard = sum(values)
    if 1 in values and hard + 10 <= 21:
        return hard + 10, True
    return hard, False


def settle_totals(
    player_total: int,
    dealer_total: int,
    player_natural: bool,
    dealer_natural: bool,
    *,
    natural: bool,
    sab: bool,
) -> float:
    """Reward when the player stands on ``player_total`` (<= 21) and the dealer ends on ``dealer_total``.

    The same rule as ``blackjack_rules.settle`` and Gymnasium's Blackjack-v1, on totals instead of hands.
    """
    dealer_score = 0 if dealer_total > 21 else dealer_total
    reward = float((player_total > dealer_score) - (player_total < dealer_score))
    if sab and player_natural and not dealer_natural:
        return 1.0
    if not sab and natural and player_natural and reward == 1.0:
        return 1.5
    return reward


def outcome_words(reward: float, player_bust: bool) -> str:
    if player_bust:
        return "Bust"
    return {1.5: "Natural, win", 1.0: "Win", 0.0: "Draw", -1.0: "Lose"}[reward]


def _check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _check_render_mode(render_mode: str | None, allowed: Sequence[str]) -> str | None:
    return check_choice("render_mode", render_mode, (None, *allowed))


def _check_image_size(image_size: Any) -> int:
    return check_int("image_size", image_size, minimum=MIN_IMAGE_SIZE, maximum=MAX_IMAGE_SIZE)


def _text_space() -> spaces.Text:
    return spaces.Text(MAX_TEXT_LENGTH, min_length=1, charset=TEXT_CHARSET)


def _mask_space() -> spaces.Box:
    return spaces.Box(0, 1, (len(ACTION_STRINGS),), np.int8)


def single_observation_space(obs_mode: str, image_size: int) -> spaces.Space:
    symbolic = spaces.Tuple((spaces.Discrete(32), spaces.Discrete(11), spaces.Discrete(2)))
    image = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
    if obs_mode == "symbolic":
        return symbolic
    if obs_mode == "image":
        return image
    if obs_mode == "text":
        return _text_space()
    return spaces.Dict({"image": image, "text": _text_space(), "action_mask": _mask_space()})


# ----------------------------------------------------------------------------------------------
# Drawing the table


def _sprites():
    """The sprite module, imported on first use so that symbolic and text envs never load pygame."""
    from icl_envs.cards import sprites

    return sprites


# ----------------------------------------------------------------------------------------------
FELT = (22, 110, 62)
FELT_LINE = (60, 150, 95)
LABEL = (240, 240, 230)
HIGHLIGHT = (255, 215, 70)


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
        import pygame

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
    player_values = [_CARD_VALUES_LIST[c] for c in player_ids]
    player_total, soft = hand_total(player_values)
    if hand_over:
        dealer_total, _ = hand_total([_CARD_VALUES_LIST[c] for c in dealer_ids])
        dealer_text = (
            "not played"
            if player_bust
            else (f"bust {dealer_total}" if dealer_total > 21 else str(dealer_total))
        )
        sign = "+" if reward > 0 else ""
        result = f"{outcome_words(reward, player_bust)} {sign}{reward:g}"
    else:
        dealer_text = f"shows {RANK_NAMES[dealer_ids[0] % 13]}"
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


def describe_table(
    player_ids: Sequence[int], dealer_ids: Sequence[int], *, hand_over: bool, reward: float, player_bust: bool
) -> str:
    """The table in words, for language agents: only what a player at the table can see."""
    player_total, soft = hand_total([_CARD_VALUES_LIST[c] for c in player_ids])
    ace = "an ace counted as 11" if soft else "no ace counted as 11"
    mine = f"Your cards: {', '.join(CARD_NAMES[c] for c in player_ids)} (total {player_total}, {ace})."
    up = dealer_ids[0]
    if not hand_over:
        return (
            f"{mine} Dealer's face-up card: {CARD_NAMES[up]} (value {_CARD_VALUES_LIST[up]}, an ace is 1 or 11); "
            "the dealer's other card is face down."
        )
    dealer_total, _ = hand_total([_CARD_VALUES_LIST[c] for c in dealer_ids])
    dealer = f"Dealer's cards: {', '.join(CARD_NAMES[c] for c in dealer_ids)} (total {dealer_total})."
    if player_bust:
        return f"{mine} You went over 21: you lose ({reward:g}). {dealer}"
    return f"{mine} {dealer} The hand is over: {outcome_words(reward, False).lower()} ({reward:+g})."


# ----------------------------------------------------------------------------------------------
# The single env
# ----------------------------------------------------------------------------------------------
class BlackjackEnv(TextProtocolMixin, gym.Env):
    """Blackjack against a dealer, with Gymnasium Blackjack-v1 rules and rendered cards.

    ## Description
    The dealer has one card face up and one face down; the player has two face-up cards. Cards come
    from an infinite deck (each card uniform over the 52, J/Q/K count 10, an ace counts 11 unless that
    busts, then 1). The player hits until they stand or go over 21 (bust, an immediate loss); after a
    stand the dealer reveals the hole card and draws until reaching 17 or more (standing on soft 17).
    Higher total wins; a dealer bust loses. This is Example 5.1 of Sutton and Barto (2018) and
    Gymnasium's ``Blackjack-v1``, with each card's suit and rank kept so the table can be drawn.

    ## Action Space
    ``Discrete(2)``: 0 "stand", 1 "hit" (``action_strings``). Both are legal until the hand ends.

    ## Observation Space
    ``obs_mode="symbolic"``: Gymnasium's ``Tuple(Discrete(32), Discrete(11), Discrete(2))``,
    ``(player_total, dealer_up_card_value, usable_ace)``, so agents move between the two unchanged.
    ``"image"`` (default): ``Box(0, 255, (image_size, image_size, 3), uint8)``, the table with the
    dealer's hole card face down until the hand ends. ``"text"``: ``Text``, the table in words.
    ``"multimodal"``: ``Dict(image, text, action_mask)``.

    ## Rewards
    +1 win, 0 draw, -1 loss (a bust is a loss). ``natural=True``: a winning natural (ace and a ten-valued
    card as the first two cards) pays +1.5. ``sab=True`` (overrides ``natural``): a player's natural
    wins +1 unless the dealer has one too (then 0).

    ## Starting State
    Two cards each; the player's total is 4..21, the dealer shows 1..10.

    ## Episode End
    Terminates when the player stands or busts. Stepping a finished hand raises ``ResetNeeded``.

    ## Info
    Every step: ``action_mask`` (int8, shape (2,)), ``player_cards`` (names such as ``"H10"``),
    ``dealer_up_card``. Never the hole card while the hand is on; the step that ends the hand adds
    ``dealer_cards``, the dealer's revealed hand (the dealer does not draw after a player bust).

    ## Arguments
    ``natural=False``, ``sab=False`` as Gymnasium; ``obs_mode="image"``; ``image_size=300`` (128..2048);
    ``render_mode=None | "rgb_array" | "human"``.

    ## Vector env
    ``BlackjackVectorEnv(num_envs, **same kwargs)`` (``gym.make_vec("icl/Blackjack-v0", n,
    vectorization_mode="vector_entry_point")``): numpy over all sub-envs, symbolic and image modes,
    the same numbers as ``SyncVectorEnv`` for the same seeds.

    ## Version History
    * v0: Initial version (Gymnasium Blackjack-v1 rules, drawn cards, text protocol).
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 4}
    action_strings = ACTION_STRINGS
    answer_fields = ANSWER_FIELDS

    def __init__(
        self,
        natural: bool = False,
        sab: bool = False,
        obs_mode: str = "image",
        image_size: int = 300,
        render_mode: str | None = None,
    ):
        self.natural = _check_flag("natural", natural)
        self.sab = _check_flag("sab", sab)
        self.obs_mode = check_choice("obs_mode", obs_mode, OBS_MODES)
        self.image_size = _check_image_size(image_size)
        self.render_mode = _check_render_mode(render_mode, self.metadata["render_modes"])
        self.action_space = spaces.Discrete(2)
        self.observation_space = single_observation_space(self.obs_mode, self.image_size)
        rule = "sab" if self.sab else "natural" if self.natural else None
        self.task_description = TASK_DESCRIPTION + (NATURAL_RULE[rule] if rule else "")
        self._needs_frame = self.obs_mode in ("image", "multimodal")
        self._cards: list[int] = []
        self._next_card = CARD_BLOCK  # empty: the first reset draws a block
        self._player: list[int] = []
        self._dealer: list[int] = []
        self._hand_over = True
        self._reward = 0.0
        self._player_bust = False
        self._window = None  # a sprites.HumanWindow once render_mode="human" shows a frame

    # -- the card stream ---------------------------------------------------------------------
    def _top_up_cards(self) -> None:
        if self._next_card > CARD_BLOCK - MAX_CARDS_PER_CALL:
            self._cards = draw_card_block(self.np_random).tolist()
            self._next_card = 0

    def _draw(self) -> int:
        card = self._cards[self._next_card]
        self._next_card += 1
        return card

    # -- gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._next_card = CARD_BLOCK  # a new seed starts a new stream
        self._top_up_cards()
        draw = self._draw
        self._dealer = [draw(), draw()]
        self._player = [draw(), draw()]
        self._player_hard = _CARD_VALUES_LIST[self._player[0]] + _CARD_VALUES_LIST[self._player[1]]
        self._player_ace = self._player[0] % 13 == 0 or self._player[1] % 13 == 0
        self._hand_over = False
        self._reward = 0.0
        self._player_bust = False
        if self.render_mode == "human":
            self.render()
        return self._observation(), self._info()

    def step(self, action):
        if self._hand_over:
            raise ResetNeeded("the hand is over (or the env was never reset): call reset() before step()")
        if action.__class__ is not int or not 0 <= action <= 1:  # fast path for plain ints
            action = check_discrete_action(action, 2)
        self._top_up_cards()
        if action == 1:
            card = self._draw()
            self._player.append(card)
            self._player_hard += _CARD_VALUES_LIST[card]
            self._player_ace = self._player_ace or card % 13 == 0
            if self._player_hard > 21:
                self._hand_over = True
                self._player_bust = True
                self._reward = -1.0
        else:
            self._play_dealer()
        if self.render_mode == "human":
            self.render()
        info = self._info()
        if self._hand_over:
            info["dealer_cards"] = [CARD_NAMES[c] for c in self._dealer]
        return self._observation(), self._reward, self._hand_over, False, info

    def _play_dealer(self) -> None:
        dealer_values = [_CARD_VALUES_LIST[c] for c in self._dealer]
        total, _ = hand_total(dealer_values)
        while total < 17:
            card = self._draw()
            self._dealer.append(card)
            dealer_values.append(_CARD_VALUES_LIST[card])
            total, _ = hand_total(dealer_values)
        player_total, _ = self._player_total()
        self._reward = settle_totals(
            player_total,
            total,
            len(self._player) == 2 and player_total == 21,
            len(self._dealer) == 2 and total == 21,
            natural=self.natural,
            sab=self.sab,
        )
        self._hand_over = True

    def _player_total(self) -> tuple[int, bool]:
        hard = self._player_hard
        if self._player_ace and hard <= 11:
            return hard + 10, True
        return hard, False

    def _symbolic(self) -> tuple[int, int, int]:
        total, soft = self._player_total()
        return (total, _CARD_VALUES_LIST[self._dealer[0]], int(soft))

    def _observation(self):
        mode = self.obs_mode
        if mode == "symbolic":
            return self._symbolic()
        if mode == "image":
            return self._frame()
        if mode == "text":
            return self._text()
        return {"image": self._frame(), "text": self._text(), "action_mask": self.action_mask()}

    def _info(self) -> dict[str, Any]:
        return {
            "action_mask": np.ones(2, dtype=np.int8),
            "player_cards": [CARD_NAMES[c] for c in self._player],
            "dealer_up_card": CARD_NAMES[self._dealer[0]],
        }

    def action_mask(self) -> np.ndarray:
        """Legal actions now (int8): both, always; a finished hand is reset, not stepped."""
        return np.ones(2, dtype=np.int8)

    # -- frames and text -------------------------------------------------------------------
    def _surface(self):
        return draw_table(
            self.image_size,
            self._player,
            self._dealer,
            hand_over=self._hand_over,
            reward=self._reward,
            player_bust=self._player_bust,
        )

    def _frame(self) -> np.ndarray:
        return _sprites().surface_to_array(self._surface())

    def _text(self) -> str:
        return describe_table(
            self._player,
            self._dealer,
            hand_over=self._hand_over,
            reward=self._reward,
            player_bust=self._player_bust,
        )

    def describe(self, obs: Any = None) -> str | None:
        """Text for the prompt: the observation's own text, the symbolic tuple in words, None for a frame."""
        if isinstance(obs, str):
            return obs
        if isinstance(obs, dict):
            return obs.get("text")
        if isinstance(obs, tuple) and len(obs) == 3:
            total, dealer, soft = (int(x) for x in obs)
            return (
                f"Your total: {total} ({'an ace counted as 11' if soft else 'no ace counted as 11'}). "
                f"Dealer's face-up card value: {dealer} (1 is an ace, which counts 1 or 11)."
            )
        return None

    def render(self):
        if self.render_mode is None:
            gym.logger.warn('render() called without a render_mode; pass render_mode="rgb_array" or "human".')
            return None
        if not self._player:
            raise ResetNeeded("call reset() before render()")
        if self.render_mode == "rgb_array":
            return self._frame()
        self._show(self._surface())
        return None

    def _show(self, surface) -> None:
        if self._window is None:
            self._window = _sprites().HumanWindow("icl/Blackjack-v0")
        self._window.show(surface, self.metadata["render_fps"])

    def close(self):
        if self._window is not None:
            self._window.close()
            self._window = None


def draw_card_block(np_random: np.random.Generator) -> np.ndarray:
    """The next ``CARD_BLOCK`` card ids (uint8, uniform over 0..51) of a card stream."""
    return np_random.integers(0, 52, size=CARD_BLOCK, dtype=np.uint8)


# ----------------------------------------------------------------------------------------------
# The vector env
# ----------------------------------------------------------------------------------------------
class BlackjackVectorEnv(VectorEnv):
    """``num_envs`` Blackjack hands stepped together with numpy; see ``BlackjackEnv``.

    Sub-env ``i`` has its own card stream seeded with ``seed + i`` (as ``SyncVectorEnv`` seeds its
    envs), so observations, rewards and terminations equal ``SyncVectorEnv`` over ``BlackjackEnv``
    for the same seeds. Autoreset is ``NEXT_STEP``: the step after a hand ends resets that sub-env
    (its action is ignored, reward 0). ``obs_mode`` is "symbolic" or "image"; ``info`` holds
    ``action_mask`` (``(num_envs, 2)`` int8) and ``_action_mask``; card names are left out of the
    vector env's ``info`` because building them for every sub-env would cost more than the step.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int,
        natural: bool = False,
        sab: bool = False,
        obs_mode: str = "image",
        image_size: int = 300,
        render_mode: str | None = None,
    ):
        self.num_envs = check_int("num_envs", num_envs, minimum=1)
        self.natural = _check_flag("natural", natural)
        self.sab = _check_flag("sab", sab)
        self.obs_mode = check_choice("obs_mode", obs_mode, ("symbolic", "image"))
        self.image_size = _check_image_size(image_size)
        self.render_mode = _check_render_mode(render_mode, self.metadata["render_modes"])
        self.single_action_space = spaces.Discrete(2)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.single_observation_space = single_observation_space(self.obs_mode, self.image_size)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        n = self.num_envs
        self._rngs: list[np.random.Generator] = [seeding.np_random()[0] for _ in range(n)]
        # Card streams: ids for drawing the cards, values for the arithmetic, one row per sub-env;
        # flat views are indexed by sub_env * CARD_BLOCK + position.
        self._cards = np.zeros((n, CARD_BLOCK), dtype=np.uint8)
        self._values = np.zeros((n, CARD_BLOCK), dtype=np.uint8)
        self._cards_flat = self._cards.reshape(-1)
        self._values_flat = self._values.reshape(-1)
        self._row_start = np.arange(n) * CARD_BLOCK
        self._next_card = np.full(n, CARD_BLOCK, dtype=np.int64)
        # Card ids of each hand, kept only when frames are drawn (first *_count entries valid).
        self._keep_cards = self.obs_mode == "image" or self.render_mode is not None
        self._player = np.zeros((n, MAX_HAND), dtype=np.uint8)
        self._dealer = np.zeros((n, MAX_HAND), dtype=np.uint8)
        self._player_count = np.zeros(n, dtype=np.int64)
        self._dealer_count = np.zeros(n, dtype=np.int64)
        self._player_hard = np.zeros(n, dtype=np.int64)
        self._player_ace = np.zeros(n, dtype=bool)
        self._dealer_up = np.zeros(n, dtype=np.int64)  # value of the face-up card
        self._dealer_hard = np.zeros(n, dtype=np.int64)
        self._dealer_ace = np.zeros(n, dtype=bool)
        self._hand_over = np.zeros(n, dtype=bool)
        self._player_bust = np.zeros(n, dtype=bool)
        self._rewards = np.zeros(n, dtype=np.float64)
        self._needs_reset = np.ones(n, dtype=bool)  # NEXT_STEP autoreset flags
        self._was_reset = False
        self._offsets = np.arange(4)
        self._mask = np.ones((n, 2), dtype=np.int8)
        self._mask_present = np.ones(n, dtype=bool)

    # -- card streams --------------------------------------------------------------------------
    def _top_up_cards(self) -> None:
        """Every sub-env's check of BlackjackEnv._top_up_cards, done once per reset or step."""
        low = self._next_card > CARD_BLOCK - MAX_CARDS_PER_CALL
        if low.any():
            for i in np.flatnonzero(low):
                block = draw_card_block(self._rngs[i])
                self._cards[i] = block
                self._values[i] = CARD_VALUES[block]
                self._next_card[i] = 0

    def _positions(self, idx: np.ndarray, count: int) -> np.ndarray:
        """Flat positions of the next ``count`` cards of each sub-env in ``idx``: shape (len(idx), count)."""
        start = self._row_start[idx] + self._next_card[idx]
        return start[:, None] + self._offsets[:count] if count > 1 else start

    # -- gymnasium API -----------------------------------------------------------------------------
    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None):
        # As SyncVectorEnv: seed s gives env i the seed s + i; options["reset_mask"] deals a new
        # hand only to the envs it marks (the others keep their hand and their pending autoreset).
        n = self.num_envs
        seeds = vector_seeds(seed, n)
        mask = vector_reset_mask(options, n)
        if mask is None:
            mask = np.ones(n, dtype=bool)
        elif not self._was_reset and not mask.all():
            raise ResetNeeded("the first reset must reset every env (no reset_mask)")
        idx = np.flatnonzero(mask)
        for i in idx:
            if seeds[i] is not None:
                self._rngs[i] = seeding.np_random(seeds[i])[0]
                self._next_card[i] = CARD_BLOCK  # a new seed starts a new stream
        if seeds[0] is not None:
            self._np_random, self._np_random_seed = seeding.np_random(seeds[0])
        # Topping up every stream now rather than at its next step is the same: a top-up only
        # depends on the stream's position, which nothing moves in between.
        self._top_up_cards()
        self._deal(idx)
        self._needs_reset[idx] = False
        self._was_reset = True
        return self._observations(), self._infos(present=mask)

    def _deal(self, idx: np.ndarray) -> None:
        """Deal as BlackjackEnv.reset: dealer up, dealer hole, then the player's two cards."""
        positions = self._positions(idx, 4)
        self._next_card[idx] += 4
        values = self._values_flat[positions]
        self._dealer_up[idx] = values[:, 0]
        self._dealer_hard[idx] = values[:, 0] + values[:, 1]
        self._dealer_ace[idx] = (values[:, 0] == 1) | (values[:, 1] == 1)
        self._player_hard[idx] = values[:, 2] + values[:, 3]
        self._player_ace[idx] = (values[:, 2] == 1) | (values[:, 3] == 1)
        self._player_count[idx] = 2
        self._dealer_count[idx] = 2
        self._hand_over[idx] = False
        self._player_bust[idx] = False
        if self._keep_cards:
            cards = self._cards_flat[positions]
            self._dealer[idx, :2] = cards[:, :2]
            self._player[idx, :2] = cards[:, 2:]

    def step(self, actions):
        if not self._was_reset:
            raise ResetNeeded("call reset() before step()")
        actions = self._check_actions(actions)
        resetting = self._needs_reset
        self._top_up_cards()
        self._rewards[:] = 0.0
        if resetting.any():
            self._deal(np.flatnonzero(resetting))
            hits = np.flatnonzero(~resetting & (actions == 1))
            stands = np.flatnonzero(~resetting & (actions == 0))
        else:
            hits = np.flatnonzero(actions == 1)
            stands = np.flatnonzero(actions == 0)
        if hits.size:
            self._hit(hits)
        if stands.size:
            self._stand(stands)
        terminated = self._hand_over & ~resetting
        self._needs_reset = terminated
        truncated = np.zeros(self.num_envs, dtype=bool)
        return self._observations(), self._rewards.copy(), terminated.copy(), truncated, self._infos()

    def _check_actions(self, actions) -> np.ndarray:
        array = np.asarray(actions)
        if array.shape != (self.num_envs,) or array.dtype.kind not in "iu":
            raise InvalidAction(
                f"actions must be {self.num_envs} integers in {{0, 1}} (shape ({self.num_envs},)), "
                f"got shape {array.shape} dtype {array.dtype}"
            )
        bad = (array < 0) | (array > 1)
        if bad.any():
            raise InvalidAction(
                f"actions must be 0 (stand) or 1 (hit); env indices {np.flatnonzero(bad).tolist()} are not"
            )
        return array

    def _hit(self, idx: np.ndarray) -> None:
        position = self._positions(idx, 1)
        self._next_card[idx] += 1
        value = self._values_flat[position]
        hard = self._player_hard[idx] + value
        self._player_hard[idx] = hard
        self._player_ace[idx] |= value == 1
        if self._keep_cards:
            self._player[idx, self._player_count[idx]] = self._cards_flat[position]
        self._player_count[idx] += 1
        bust = idx[hard > 21]
        self._hand_over[bust] = True
        self._player_bust[bust] = True
        self._rewards[bust] = -1.0

    def _stand(self, idx: np.ndarray) -> None:
        player_total = _totals(self._player_hard[idx], self._player_ace[idx])
        player_natural = (player_total == 21) & (self._player_count[idx] == 2)
        dealer_hard, dealer_ace = self._dealer_hard[idx], self._dealer_ace[idx]
        dealer_total = _totals(dealer_hard, dealer_ace)
        dealer_natural = dealer_total == 21  # two cards so far: 21 is a natural
        # The dealer draws one card at a time while below 17, each sub-env from its own stream;
        # a loop over draw rounds (rarely more than 3), each round over the sub-envs still drawing.
        first_position = self._row_start[idx] + self._next_card[idx]  # where the dealer starts drawing
        draws = np.zeros(idx.size, dtype=np.int64)
        drawing = np.flatnonzero(dealer_total < 17)
        while drawing.size:
            position = first_position[drawing] + draws[drawing]
            value = self._values_flat[position]
            if self._keep_cards:
                self._dealer[idx[drawing], 2 + draws[drawing]] = self._cards_flat[position]
            draws[drawing] += 1
            hard = dealer_hard[drawing] + value
            ace = dealer_ace[drawing] | (value == 1)
            dealer_hard[drawing] = hard
            dealer_ace[drawing] = ace
            total = hard + 10 * (ace & (hard <= 11))
            dealer_total[drawing] = total
            drawing = drawing[total < 17]
        self._next_card[idx] += draws
        self._dealer_count[idx] = 2 + draws
        self._dealer_hard[idx] = dealer_hard
        self._dealer_ace[idx] = dealer_ace
        dealer_natural &= draws == 0
        dealer_score = np.where(dealer_total > 21, 0, dealer_total)
        reward = np.sign(player_total - dealer_score).astype(np.float64)
        if self.sab:
            reward[player_natural & ~dealer_natural] = 1.0
        elif self.natural:
            reward[player_natural & (reward == 1.0)] = 1.5
        self._rewards[idx] = reward
        self._hand_over[idx] = True

    def _observations(self):
        if self.obs_mode == "symbolic":
            return (
                _totals(self._player_hard, self._player_ace),
                self._dealer_up.copy(),
                (self._player_ace & (self._player_hard <= 11)).astype(np.int64),
            )
        frames = np.empty((self.num_envs, self.image_size, self.image_size, 3), dtype=np.uint8)
        for i in range(self.num_envs):
            frames[i] = _sprites().surface_to_array(self._surface(i))
        return frames

    def _surface(self, i: int):
        return draw_table(
            self.image_size,
            self._player[i, : self._player_count[i]].tolist(),
            self._dealer[i, : self._dealer_count[i]].tolist(),
            hand_over=bool(self._hand_over[i]),
            reward=float(self._rewards[i]),
            player_bust=bool(self._player_bust[i]),
        )

    def _infos(self, present: np.ndarray | None = None) -> dict[str, Any]:
        """``present`` marks the envs that report an info (all, except after a masked reset)."""
        every = self._mask_present if present is None else present
        return {"action_mask": self._mask.copy(), "_action_mask": every.copy()}

    def render(self):
        if self.render_mode is None:
            gym.logger.warn('render() called without a render_mode; pass render_mode="rgb_array".')
            return None
        if not self._was_reset:
            raise ResetNeeded("call reset() before render()")
        return tuple(_sprites().surface_to_array(self._surface(i)) for i in range(self.num_envs))


def _totals(hard: np.ndarray, ace: np.ndarray) -> np.ndarray:
    """Hand totals from hard totals and has-an-ace flags (one ace counts 11 when that does not bust)."""
    return hard + 10 * (ace & (hard <= 11))
