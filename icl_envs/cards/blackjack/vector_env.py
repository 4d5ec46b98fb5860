"""``BlackjackVectorEnv``: ``num_envs`` Blackjack hands stepped together with numpy.

Each sub-env replays the single env's card stream (:mod:`.stream`) and applies the same rules
(:mod:`.rules`) to arrays of hands, so the numbers equal ``SyncVectorEnv`` over ``BlackjackEnv``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode

from icl_envs.cards.base import CardVectorEnv
from icl_envs.cards.blackjack import rules
from icl_envs.cards.blackjack.env import BlackjackEnv
from icl_envs.cards.blackjack.stream import CARD_BLOCK, MAX_HAND, REFILL_BEYOND, draw_card_block
from icl_envs.cards.blackjack.viewer import table_frame
from icl_envs.cards.deck import CARD_VALUES
from icl_envs.checks import check_discrete_actions


class BlackjackVectorEnv(CardVectorEnv):
    """``num_envs`` Blackjack hands stepped together with numpy; see ``BlackjackEnv``.

    Sub-env ``i`` has its own card stream seeded with ``seed + i`` (as ``SyncVectorEnv`` seeds its
    envs), so observations, rewards and terminations equal ``SyncVectorEnv`` over ``BlackjackEnv``
    for the same seeds. Autoreset is ``NEXT_STEP``: the step after a hand ends resets that sub-env
    (its action is ignored, reward 0). ``obs_mode`` is "symbolic" or "image"; ``info`` holds
    ``action_mask`` (``(num_envs, 2)`` int8) and ``_action_mask``; card names are left out of the
    vector env's ``info`` because building them for every sub-env would cost more than the step.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4, "autoreset_mode": AutoresetMode.NEXT_STEP}
    single_env_class = BlackjackEnv
    reset_hint = "a Blackjack deal cannot be chosen"

    def __init__(
        self,
        num_envs: int,
        natural: bool = False,
        sab: bool = False,
        obs_mode: str = "image",
        image_size: int = 300,
        render_mode: str | None = None,
    ):
        template = self._setup_from_single_env(
            num_envs,
            {
                "natural": natural,
                "sab": sab,
                "obs_mode": obs_mode,
                "image_size": image_size,
                "render_mode": render_mode,
            },
        )
        self.natural, self.sab = template.natural, template.sab
        n = self.num_envs
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
        self._offsets = np.arange(4)
        self._mask = np.ones((n, 2), dtype=np.int8)
        self._mask_present = np.ones(n, dtype=bool)

    # -- card streams --------------------------------------------------------------------------
    def _reseeded(self, i: int) -> None:
        self._next_card[i] = CARD_BLOCK  # a new seed starts a new stream

    def _top_up_cards(self) -> None:
        """Every sub-env's check of BlackjackEnv._top_up_cards, done once per reset or step."""
        low = self._next_card > REFILL_BEYOND
        if low.any():
            for i in np.flatnonzero(low):
                block = draw_card_block(self.rngs[i])
                self._cards[i] = block
                self._values[i] = CARD_VALUES[block]
                self._next_card[i] = 0

    def _positions(self, idx: np.ndarray, count: int) -> np.ndarray:
        """Flat positions of the next ``count`` cards of each sub-env in ``idx``: shape (len(idx), count)."""
        start = self._row_start[idx] + self._next_card[idx]
        return start[:, None] + self._offsets[:count] if count > 1 else start

    # -- reset (SeededVectorEnv.reset) ---------------------------------------------------------
    def _new_tasks(self, envs: np.ndarray) -> None:
        # Topping up every stream now rather than at its next step is the same: a top-up only
        # depends on the stream's position, which nothing moves in between.
        self._top_up_cards()
        self._deal(envs)

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

    # -- step ----------------------------------------------------------------------------------
    def step(self, actions):
        self._check_started()
        actions = check_discrete_actions(actions, self.num_envs, 2)
        resetting = self.needs_reset
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
        self.needs_reset = terminated
        truncated = np.zeros(self.num_envs, dtype=bool)
        return self._observation(), self._rewards.copy(), terminated.copy(), truncated, self._info()

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
        bust = idx[rules.is_bust_total(hard)]
        self._hand_over[bust] = True
        self._player_bust[bust] = True
        self._rewards[bust] = -1.0

    def _stand(self, idx: np.ndarray) -> None:
        player_total = rules.total(self._player_hard[idx], self._player_ace[idx])
        dealer_hard, dealer_ace = self._dealer_hard[idx], self._dealer_ace[idx]
        dealer_total = rules.total(dealer_hard, dealer_ace)
        # The dealer draws one card at a time while below 17, each sub-env from its own stream;
        # a loop over draw rounds (rarely more than 3), each round over the sub-envs still drawing.
        first_position = self._row_start[idx] + self._next_card[idx]  # where the dealer starts drawing
        draws = np.zeros(idx.size, dtype=np.int64)
        drawing = np.flatnonzero(rules.dealer_hits(dealer_total))
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
            total = rules.total(hard, ace)
            dealer_total[drawing] = total
            drawing = drawing[rules.dealer_hits(total)]
        self._next_card[idx] += draws
        self._dealer_count[idx] = 2 + draws
        self._dealer_hard[idx] = dealer_hard
        self._dealer_ace[idx] = dealer_ace
        self._rewards[idx] = rules.settle_totals(
            player_total,
            dealer_total,
            rules.is_natural_total(player_total, self._player_count[idx]),
            rules.is_natural_total(dealer_total, self._dealer_count[idx]),
            natural=self.natural,
            sab=self.sab,
        )
        self._hand_over[idx] = True

    # -- observations, info, frames ------------------------------------------------------------
    def _observation(self):
        if self.obs_mode == "symbolic":
            return (
                rules.total(self._player_hard, self._player_ace),
                self._dealer_up.copy(),
                rules.soft(self._player_hard, self._player_ace).astype(np.int64),
            )
        frames = np.empty((self.num_envs, self.image_size, self.image_size, 3), dtype=np.uint8)
        for i in range(self.num_envs):
            frames[i] = self._frame(i)
        return frames

    def _frame(self, i: int) -> np.ndarray:
        return table_frame(
            self.image_size,
            self._player[i, : self._player_count[i]].tolist(),
            self._dealer[i, : self._dealer_count[i]].tolist(),
            hand_over=bool(self._hand_over[i]),
            reward=float(self._rewards[i]),
            player_bust=bool(self._player_bust[i]),
        )

    def table_states(self) -> dict[str, np.ndarray]:
        """What each sub-env's frame shows, as arrays (copies): ``table_frame(image_size,
        player[i, :player_count[i]], dealer[i, :dealer_count[i]], hand_over=..., reward=...,
        player_bust=...)`` is sub-env ``i``'s frame. Offline datasets store these few bytes instead
        of the frame and draw it again on load. Needs the card ids, which are kept in image mode or
        with a ``render_mode``."""
        if not self._keep_cards:
            raise ValueError("table_states() needs obs_mode='image' or render_mode='rgb_array' (card ids)")
        return {
            "player": self._player.copy(),
            "player_count": self._player_count.copy(),
            "dealer": self._dealer.copy(),
            "dealer_count": self._dealer_count.copy(),
            "hand_over": self._hand_over.astype(np.int64),
            "reward": self._rewards.copy(),
            "player_bust": self._player_bust.astype(np.int64),
        }

    def _info(self, present: np.ndarray | None = None) -> dict[str, Any]:
        """``present`` marks the envs that report an info (all, except after a masked reset)."""
        every = self._mask_present if present is None else present
        return {"action_mask": self._mask.copy(), "_action_mask": every.copy()}

    def render(self):
        if self.render_mode is None:
            gym.logger.warn('render() called without a render_mode; pass render_mode="rgb_array".')
            return None
        if not self._started:
            raise ResetNeeded("call reset() before render()")
        return tuple(self._frame(i) for i in range(self.num_envs))
