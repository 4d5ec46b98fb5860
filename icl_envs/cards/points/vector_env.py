"""EZPointsVectorEnv and Points24VectorEnv: many Points games stepped together with numpy."""

from __future__ import annotations

from typing import Any

import numpy as np

from icl_envs.cards.base import CardVectorEnv
from icl_envs.cards.deck import RANK_VALUES, card_name, card_rank_suit
from icl_envs.cards.points.env import EZPointsEnv, Points24Env, PointsEnv
from icl_envs.cards.points.formula import NUMBER_TOKENS
from icl_envs.cards.points.generator import DrawnDeals, check_deal
from icl_envs.cards.points.rules import PointsRules, score_formula
from icl_envs.cards.points.viewer import draw_points_frame
from icl_envs.checks import check_discrete_actions


class PointsVectorEnv(CardVectorEnv):
    """``num_envs`` Points games stepped together with numpy (symbolic or image observations).

    Takes the arguments of its single env (``obs_mode`` "symbolic" or "image"). Env ``i`` draws its
    deals from its own generator seeded with ``seed + i``, so results equal ``SyncVectorEnv`` over
    the single env. Only a submitted formula is evaluated one env at a time (memoised). Autoreset
    is NEXT_STEP.
    """

    single_env_class: type[PointsEnv]
    rules: PointsRules
    reset_hint = "reset single envs to deal given cards"

    def __init__(self, num_envs: int, **kwargs: Any):
        self._setup_from_single_env(num_envs, kwargs)
        self.rules = self.single_env_class.rules
        rules = self.rules
        n, length = self.num_envs, rules.max_formula_length
        self.ranks = np.zeros((n, rules.num_cards), dtype=np.int64)  # 0 = ace .. 12 = king
        self.suits = np.zeros((n, rules.num_cards), dtype=np.int64)
        self.numbers = np.zeros((n, rules.num_cards), dtype=np.int64)
        self.remaining = np.zeros((n, 11), dtype=np.int64)  # count of each number 1..10 left in hand
        self.formula = np.zeros((n, length), dtype=np.int64)  # action id + 1, 0 = empty
        self.written = np.zeros(n, dtype=np.int64)
        self.slots_used = np.zeros(n, dtype=np.int64)
        self._tokens = np.array(("",) + rules.action_strings, dtype=object)
        self._number_of_action = np.array([int(s) if s.isdigit() else 0 for s in rules.action_strings])

    def _prefetchable(self, generator: Any) -> bool:
        # The default generators' draws are fetched in blocks; a user's generator is called per deal.
        return isinstance(generator, DrawnDeals)

    def _new_tasks(self, envs: np.ndarray) -> None:
        """Deal new cards to each env in ``envs`` and clear its formula."""
        if self.draws is not None:
            pending = envs
            while pending.size:  # rejected deals (solvable_only) are redrawn from the next row
                ranks, suits, accepted = self.generator.decode(self.draws.take(pending))
                done = pending[accepted]
                self.ranks[done], self.suits[done] = ranks[accepted], suits[accepted]
                self.numbers[done] = RANK_VALUES[ranks[accepted]]
                pending = pending[~accepted]
        else:
            for i in envs:
                deal = self.generator.sample(self.rngs[i])
                check_deal(deal, self.rules)
                self.ranks[i], self.suits[i] = zip(*(card_rank_suit(card) for card in deal.cards))
                self.numbers[i] = deal.numbers
        self.remaining[envs] = 0
        for column in range(self.rules.num_cards):
            np.add.at(self.remaining, (envs, self.numbers[envs, column]), 1)
        self.formula[envs] = 0
        self.written[envs] = 0
        self.slots_used[envs] = 0

    def cards(self, i: int) -> tuple[str, ...]:
        """The card names of env ``i``."""
        return tuple(card_name(r, s) for r, s in zip(self.ranks[i], self.suits[i]))

    def action_masks(self) -> np.ndarray:
        rules = self.rules
        mask = np.zeros((self.num_envs, len(rules.action_strings)), dtype=np.int8)
        room = self.slots_used < rules.max_formula_length
        mask[:, : len(NUMBER_TOKENS)] = (self.remaining[:, 1:] > 0) & room[:, None]
        mask[:, len(NUMBER_TOKENS) : rules.equals_action] = room[:, None]
        mask[:, rules.equals_action] = 1
        return mask

    def _frames(self) -> np.ndarray:
        return np.stack(
            [
                draw_points_frame(
                    self.cards(i),
                    self._tokens[self.formula[i, : self.written[i]]].tolist(),
                    self.rules.target,
                    self.image_size,
                )
                for i in range(self.num_envs)
            ]
        )

    def _symbolic_observation(self) -> dict[str, np.ndarray]:
        return {
            "numbers": self.numbers.copy(),
            "formula": self.formula.copy(),
            "length": self.slots_used.copy(),
        }

    def _info(self, present: np.ndarray | None = None) -> dict[str, Any]:
        return self._batched_info({"action_mask": self.action_masks()}, present)

    def step(self, actions: Any):
        self._check_started()
        rules = self.rules
        actions = check_discrete_actions(actions, self.num_envs, len(rules.action_strings))
        active = ~self.needs_reset
        rows = np.arange(self.num_envs)
        rewards = np.zeros(self.num_envs)
        submit = active & (actions == rules.equals_action)
        full = active & ~submit & (self.slots_used >= rules.max_formula_length)
        writing = active & ~submit & ~full
        number = self._number_of_action[actions]
        is_number = writing & (number > 0)
        missing = is_number & (self.remaining[rows, number] == 0)
        accepted = writing & ~missing
        # Write the accepted tokens, spend their cards; every non-submitting step in room uses a slot.
        self.remaining[rows[accepted & is_number], number[accepted & is_number]] -= 1
        self.formula[rows[accepted], self.written[accepted]] = actions[accepted] + 1
        self.written += accepted
        self.slots_used += writing
        rewards[missing | full] = rules.penalty
        for i in np.flatnonzero(submit):
            tokens = tuple(self._tokens[self.formula[i, : self.written[i]]].tolist())
            rewards[i] = score_formula(rules, tokens)
        terminated, truncated = submit, full
        self._new_tasks(np.flatnonzero(self.needs_reset))  # NEXT_STEP autoreset
        self.needs_reset = terminated | truncated
        return self._observation(), rewards, terminated, truncated, self._info()


class EZPointsVectorEnv(PointsVectorEnv):
    single_env_class = EZPointsEnv


class Points24VectorEnv(PointsVectorEnv):
    single_env_class = Points24Env
