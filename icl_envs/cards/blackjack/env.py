"""``icl/Blackjack-v0``: Blackjack against a dealer with rendered cards, on the card-game base.

The rules and the symbolic observation are Gymnasium's ``Blackjack-v1`` (:mod:`.rules`); on top of
them each card has a suit and a rank so that the table can be drawn, described in text and reported
in ``info`` (:mod:`.viewer`). Cards come from a card stream (:mod:`.stream`) that the vector env
(:mod:`.vector_env`) replays number for number.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

from icl_envs.bounds import EpisodeBounds
from icl_envs.cards.base import CardGameEnv
from icl_envs.cards.blackjack import rules
from icl_envs.cards.blackjack.stream import CARD_BLOCK, MAX_HAND, REFILL_BEYOND, draw_card_block
from icl_envs.cards.blackjack.viewer import describe_symbolic, describe_table, table_frame
from icl_envs.cards.deck import CARD_NAMES
from icl_envs.checks import check_bool, check_discrete_action

ACTION_STRINGS = ("stand", "hit")
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
_VALUE = rules.CARD_VALUE_INTS  # card id -> value, looked up once per card on the hot path


class BlackjackEnv(CardGameEnv):
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
    ``natural=False``, ``sab=False`` as Gymnasium (True or False only, not 1 or 0);
    ``obs_mode="image"``; ``image_size=300`` (128..2048); ``render_mode=None | "rgb_array" | "human"``.
    ``reset`` takes no options: a deal cannot be chosen, and any option key is refused (Gymnasium's
    Blackjack-v1 ignores them).

    ## Vector env
    ``BlackjackVectorEnv(num_envs, **same kwargs)`` (``gym.make_vec("icl/Blackjack-v0", n,
    vectorization_mode="vector_entry_point")``): numpy over all sub-envs, symbolic and image modes,
    the same numbers as ``SyncVectorEnv`` for the same seeds. ``num_envs`` <= 65536, and the
    sub-envs' frames together must fit in about 1 GiB (``image_size=300``: about 1,900 envs).

    ## Version History
    * v0: Initial version (Gymnasium Blackjack-v1 rules, drawn cards, text protocol).
    """

    action_strings = ACTION_STRINGS
    answer_fields = ANSWER_FIELDS
    # Gymnasium's Blackjack-v1 ignores reset's options; here any option is refused rather than
    # silently ignored, as in every env of the package.
    reset_hint = "a Blackjack deal cannot be chosen"

    def __init__(
        self,
        natural: bool = False,
        sab: bool = False,
        obs_mode: str = "image",
        image_size: int = 300,
        render_mode: str | None = None,
    ):
        self.natural = check_bool("natural", natural)
        self.sab = check_bool("sab", sab)
        # Gymnasium's (player_total, dealer_up_card_value, usable_ace).
        self.symbolic_space = spaces.Tuple((spaces.Discrete(32), spaces.Discrete(11), spaces.Discrete(2)))
        self._setup_observations(obs_mode, image_size, render_mode)
        rule = "sab" if self.sab else "natural" if self.natural else None
        self.task_description = TASK_DESCRIPTION + (NATURAL_RULE[rule] if rule else "")
        self._cards: list[int] = []
        self._next_card = CARD_BLOCK  # empty: the first reset draws a block
        self._player: list[int] = []
        self._dealer: list[int] = []
        self._player_hard, self._player_ace = 0, False  # the player's hand, as the rules read it
        self._episode_over = True  # no hand until reset
        self._reward = 0.0
        self._player_bust = False

    # -- the card stream ---------------------------------------------------------------------
    def _reseeded(self) -> None:
        self._next_card = CARD_BLOCK  # a new seed starts a new stream

    def _top_up_cards(self) -> None:
        if self._next_card > REFILL_BEYOND:
            self._cards = draw_card_block(self.np_random).tolist()
            self._next_card = 0

    def _draw(self) -> int:
        card = self._cards[self._next_card]
        self._next_card += 1
        return card

    # -- reset (CardGameEnv.reset) -------------------------------------------------------------
    def _new_task(self) -> list[int]:
        """The deal: the dealer's up card and hole card, then the player's two cards."""
        self._top_up_cards()
        draw = self._draw
        return [draw(), draw(), draw(), draw()]

    def _start(self, deal: list[int]) -> None:
        self._dealer, self._player = deal[:2], deal[2:]
        values = _VALUE[deal[2]], _VALUE[deal[3]]
        self._player_hard, self._player_ace = sum(values), 1 in values
        self._reward = 0.0
        self._player_bust = False

    # -- step ----------------------------------------------------------------------------------
    def step(self, action):
        if self._episode_over:
            raise ResetNeeded("the hand is over (or the env was never reset): call reset() before step()")
        if action.__class__ is not int or not 0 <= action <= 1:  # fast path for plain ints
            action = check_discrete_action(action, 2)
        self._top_up_cards()
        if action == 1:
            card = self._draw()
            self._player.append(card)
            value = _VALUE[card]
            self._player_hard += value
            self._player_ace = self._player_ace or value == 1  # the ace is the one card worth 1
            if rules.is_bust_total(self._player_hard):
                self._episode_over = True
                self._player_bust = True
                self._reward = -1.0
        else:
            self._play_dealer()
        if self.render_mode == "human":
            self.render()
        info = self._info()
        if self._episode_over:
            info["dealer_cards"] = [CARD_NAMES[c] for c in self._dealer]
        return self.observation(), self._reward, self._episode_over, False, info

    def episode_bounds(self) -> EpisodeBounds:
        """A hand pays once, when it ends: -1, 0 or +1, and +1.5 for a winning natural with
        ``natural=True`` (not under ``sab``). The longest hand holds ``MAX_HAND`` cards, two dealt
        and one per hit; standing instead of taking the last card is as long."""
        paid = (-1.0, 0.0, 1.0, 1.5) if self.natural and not self.sab else (-1.0, 0.0, 1.0)
        return EpisodeBounds(-1.0, max(paid), 1, MAX_HAND - 2, step_rewards=paid)

    def _play_dealer(self) -> None:
        values = [_VALUE[c] for c in self._dealer]
        hard, has_ace = sum(values), 1 in values
        dealer_total = rules.total(hard, has_ace)
        while rules.dealer_hits(dealer_total):
            card = self._draw()
            self._dealer.append(card)
            value = _VALUE[card]
            hard += value
            has_ace = has_ace or value == 1
            dealer_total = rules.total(hard, has_ace)
        player_total = rules.total(self._player_hard, self._player_ace)
        self._reward = rules.settle_totals(
            player_total,
            dealer_total,
            rules.is_natural_total(player_total, len(self._player)),
            rules.is_natural_total(dealer_total, len(self._dealer)),
            natural=self.natural,
            sab=self.sab,
        )
        self._episode_over = True

    # -- what the player sees (CardGameEnv's observation modes) -------------------------------
    def symbolic_observation(self) -> tuple[int, int, int]:
        hard, has_ace = self._player_hard, self._player_ace
        return (rules.total(hard, has_ace), _VALUE[self._dealer[0]], int(rules.soft(hard, has_ace)))

    def symbolic_text(self, obs: Any) -> str:
        # Gymnasium's triple holds no cards: say only what it holds (the current one without ``obs``).
        return describe_symbolic(self.symbolic_observation() if obs is None else obs)

    def _info(self) -> dict[str, Any]:
        return {
            "action_mask": np.ones(2, dtype=np.int8),
            "player_cards": [CARD_NAMES[c] for c in self._player],
            "dealer_up_card": CARD_NAMES[self._dealer[0]],
        }

    def action_mask(self) -> np.ndarray:
        """Legal actions now (int8): both, always; a finished hand is reset, not stepped."""
        return np.ones(2, dtype=np.int8)

    def frame(self) -> np.ndarray:
        if not self._player:
            raise ResetNeeded("call reset() before render()")
        return table_frame(
            self.image_size,
            self._player,
            self._dealer,
            hand_over=self._episode_over,
            reward=self._reward,
            player_bust=self._player_bust,
        )

    def state_text(self) -> str:
        return describe_table(
            self._player,
            self._dealer,
            hand_over=self._episode_over,
            reward=self._reward,
            player_bust=self._player_bust,
        )
