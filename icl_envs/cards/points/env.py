"""EZPointsEnv and Points24Env: write a formula with the cards' numbers that equals the target.

Both games share one env, :class:`PointsEnv`, and differ in their :class:`PointsRules` and deal
generator. The agent writes the formula one token per step (a number, an operator or a
parenthesis) and submits it with "=".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded

from icl_envs.bounds import EpisodeBounds
from icl_envs.cards.base import CardGameEnv, check_card_generator
from icl_envs.cards.points.formula import NUMBER_TOKENS
from icl_envs.cards.points.generator import (
    EZPointsGenerator,
    Points24Generator,
    PointsDeal,
    check_deal,
    check_solvable_only,
)
from icl_envs.cards.points.rules import EZPOINTS_RULES, POINTS24_RULES, PointsRules, score_formula
from icl_envs.cards.points.viewer import draw_points_frame
from icl_envs.checks import check_discrete_action, describe

_DOCSTRING = """Write a formula with the numbers of the {n} cards that equals {target}, one token per step.

    ## Description
    {description}
    The aces count 1 and J, Q, K count 10. The agent writes one token per step and submits with
    "=". Each card's number may be written as often as it is held. Formulas follow a grammar
    (numbers, {operators}{parentheses}) evaluated exactly with fractions: two numbers in a row
    are never joined into one, and division is exact.

    ## Action Space
    ``Discrete({num_actions})``: {action_list}.

    ## Observation Space
    ``obs_mode="image"`` (default): ``Box(0, 255, (image_size, image_size, 3), uint8)`` showing the
    target, the cards and the formula so far. ``"symbolic"``: ``Dict(numbers=MultiDiscrete([11] * {n}),
    formula=MultiDiscrete([{num_actions}] * {max_length}), length=Discrete({max_length_plus}))``: the cards'
    numbers (1..10), the written tokens as action id + 1 (0 = empty) and the formula slots used
    (written tokens plus rejected cards). ``"text"``: the state in words. ``"multimodal"``:
    ``Dict(image, text, action_mask)``.

    ## Rewards
    +10 for "=" on a formula equal to {target} that uses every card; -1 for "=" on anything else
    (wrong value, not a formula, a card unused), for a number no card in hand still offers (not
    held, or all used; it is not written but takes a slot), and for a token past the
    {max_length}-token limit; 0 otherwise.

    ## Starting State
    {starting_state}

    ## Episode End
    Terminated by "="; truncated by a token that would make the formula longer than {max_length}.

    ## Arguments
    ``obs_mode="image"``, ``image_size=300`` (128..2048), ``render_mode=None``,{extra_arguments}
    ``generator=None`` (an object with ``sample(np_random) -> PointsDeal``).
    ``reset(options={{"cards": [...]}})`` deals the given cards, e.g. ``["H8", "S3", "D8", "C3"]``;
    any other option key is refused.

    ## Vector env
    ``{vector_name}`` steps all envs with numpy (symbolic and image modes, NEXT_STEP autoreset),
    equal to ``SyncVectorEnv`` for the same seeds. ``num_envs`` <= 65536, and the sub-envs' frames
    together must fit in about 1 GiB (``image_size=300``: about 1,900 envs).

    ## Version History
    - v0: initial version, gym-cards compatible action ids, strings, rewards and episode ends.
    """


class PointsEnv(CardGameEnv):
    """The shared Points game; :class:`EZPointsEnv` and :class:`Points24Env` fix its rules."""

    rules: PointsRules
    reset_options = ("cards",)
    reset_hint = "options deal given cards: {'cards': ['H8', 'S3', ...]}"

    def __init__(
        self,
        obs_mode: str = "image",
        image_size: int = 300,
        render_mode: str | None = None,
        generator: Any = None,
    ):
        check_card_generator(generator)
        self.generator = generator if generator is not None else self.default_generator()
        rules = self.rules
        self.symbolic_space = points_symbolic_space(rules)
        self._setup_observations(obs_mode, image_size, render_mode)
        self.deal = PointsDeal(("S2",) * rules.num_cards, (2,) * rules.num_cards)
        self.formula: list[str] = []
        self.slots_used = 0
        self.remaining: Counter[int] = Counter()
        self._episode_over = True  # no episode until reset

    def default_generator(self) -> Any:  # pragma: no cover - subclasses override
        raise NotImplementedError

    # State views -----------------------------------------------------------------------------------
    def action_mask(self) -> np.ndarray:
        """1 for each action that is not penalised now: numbers still in hand, operators while slots remain, "="."""
        rules = self.rules
        mask = np.zeros(len(rules.action_strings), dtype=np.int8)
        mask[rules.equals_action] = 1
        if self.slots_used < rules.max_formula_length:
            mask[len(NUMBER_TOKENS) : rules.equals_action] = 1
            for number, count in self.remaining.items():
                mask[number - 1] = count > 0
        return mask

    def symbolic_observation(self) -> dict[str, Any]:
        formula = np.zeros(self.rules.max_formula_length, dtype=np.int64)
        formula[: len(self.formula)] = [self.rules.action_strings.index(t) + 1 for t in self.formula]
        return {
            "numbers": np.array(self.deal.numbers, dtype=np.int64),
            "formula": formula,
            "length": np.int64(self.slots_used),
        }

    def state_text(self) -> str:
        return points_text(self.rules, self.deal, self.formula, self.slots_used)

    def frame(self) -> np.ndarray:
        return draw_points_frame(self.deal.cards, self.formula, self.rules.target, self.image_size)

    def _info(self) -> dict[str, Any]:
        return {
            "action_mask": self.action_mask(),
            "cards": list(self.deal.cards),
            "numbers": list(self.deal.numbers),
            "formula": list(self.formula),
        }

    # Dynamics --------------------------------------------------------------------------------------
    def _task_from_options(self, options: dict[str, Any]) -> PointsDeal:
        if set(options) != {"cards"}:
            raise ValueError(f"options must be {{'cards': [...]}}, got keys {sorted(options)}")
        cards = options["cards"]
        count = self.rules.num_cards
        if (
            isinstance(cards, (str, bytes))
            or not isinstance(cards, (list, tuple, np.ndarray))
            or len(cards) != count
        ):
            raise ValueError(
                f"options['cards'] must be a list of {count} cards such as 'H8', got {describe(cards)}"
            )
        return PointsDeal.from_cards(cards)

    def _start(self, deal: PointsDeal) -> None:
        check_deal(deal, self.rules)
        self.deal = deal
        self.formula, self.slots_used = [], 0
        self.remaining = Counter(deal.numbers)

    def step(self, action: Any):
        if self._episode_over:  # as the other envs: an ended episode is reset, not stepped on
            raise ResetNeeded("call reset() before step(): the episode has ended (or never started)")
        rules = self.rules
        action = check_discrete_action(action, len(rules.action_strings))
        token = rules.action_strings[action]
        terminated = truncated = False
        reward = 0.0
        if action == rules.equals_action:
            reward, terminated = score_formula(rules, tuple(self.formula)), True
        elif self.slots_used >= rules.max_formula_length:
            reward, truncated = rules.penalty, True
        elif token.isdigit() and self.remaining[int(token)] == 0:
            reward = rules.penalty  # no such card left: not written, but the slot is used
            self.slots_used += 1
        else:
            if token.isdigit():
                self.remaining[int(token)] -= 1
            self.formula.append(token)
            self.slots_used += 1
        self._episode_over = terminated or truncated
        if self.render_mode == "human":
            self.render()
        return self.observation(), reward, terminated, truncated, self._info()

    def episode_bounds(self) -> EpisodeBounds:
        """Only the "=" that ends the episode can win; every other step pays 0 or the penalty. The
        longest episode fills every formula slot, then submits or overflows: one step more."""
        rules = self.rules
        longest = rules.max_formula_length + 1
        return EpisodeBounds(
            longest * rules.penalty,
            rules.win_reward,
            1,
            longest,
            step_rewards=(rules.penalty, 0.0, rules.win_reward),
        )


def points_symbolic_space(rules: PointsRules) -> gym.spaces.Dict:
    return gym.spaces.Dict(
        {
            "numbers": gym.spaces.MultiDiscrete([11] * rules.num_cards),
            "formula": gym.spaces.MultiDiscrete([len(rules.action_strings)] * rules.max_formula_length),
            "length": gym.spaces.Discrete(rules.max_formula_length + 1),
        }
    )


def points_text(rules: PointsRules, deal: PointsDeal, formula: Sequence[str], slots_used: int) -> str:
    cards = ", ".join(f"{card} ({number})" for card, number in zip(deal.cards, deal.numbers))
    written = " ".join(formula) if formula else "(empty)"
    return (
        f"Cards: {cards}. Target: {rules.target}. Formula so far: {written}. "
        f"Formula slots used: {slots_used} of {rules.max_formula_length}."
    )


class EZPointsEnv(PointsEnv):
    rules = EZPOINTS_RULES
    action_strings = EZPOINTS_RULES.action_strings
    task_description = (
        "You are playing EZPoints. You hold two playing cards. Write a formula that uses the number "
        'of each card exactly once and equals 12, one token per step, then choose "=" to submit it. '
        "Aces count 1; J, Q and K count 10. The operators are + and *. A correct formula earns 10; "
        "a wrong or incomplete one, a number you do not hold (or have used up), or a formula longer "
        "than 5 tokens costs 1."
    )
    answer_fields = {
        "cards": "the numbers of your cards, e.g. [2, 10]",
        "formula": "the formula written so far",
    }

    def default_generator(self) -> EZPointsGenerator:
        return EZPointsGenerator()


class Points24Env(PointsEnv):
    rules = POINTS24_RULES
    action_strings = POINTS24_RULES.action_strings
    task_description = (
        "You are playing the 24 points game. You hold four playing cards. Write a formula that uses "
        'the number of each card exactly once and equals 24, one token per step, then choose "=" to '
        "submit it. Aces count 1; J, Q and K count 10. Use + - * / and parentheses; division is exact. "
        "A correct formula earns 10; a wrong or incomplete one, a number you do not hold (or have "
        "used up), or a formula longer than 20 tokens costs 1."
    )
    answer_fields = {
        "cards": "the numbers of your cards, e.g. [2, 10, 5, 9]",
        "formula": "the formula written so far",
    }

    def __init__(
        self,
        obs_mode: str = "image",
        image_size: int = 300,
        render_mode: str | None = None,
        solvable_only: bool = False,
        generator: Any = None,
    ):
        self.solvable_only = check_solvable_only(solvable_only, generator)
        super().__init__(
            obs_mode=obs_mode, image_size=image_size, render_mode=render_mode, generator=generator
        )

    def default_generator(self) -> Points24Generator:
        return Points24Generator(self.solvable_only)


def _document(env_class: type[PointsEnv], vector_name: str, **wording: str) -> None:
    """Write ``env_class``'s manual from ``_DOCSTRING``: the numbers from its rules, the prose from
    ``wording`` (operators, parentheses, extra_arguments, description, starting_state)."""
    rules = env_class.rules
    env_class.__doc__ = _DOCSTRING.format(
        n=rules.num_cards,
        target=rules.target,
        num_actions=len(rules.action_strings),
        max_length=rules.max_formula_length,
        max_length_plus=rules.max_formula_length + 1,
        action_list=", ".join(f'{i} "{s}"' for i, s in enumerate(rules.action_strings)),
        vector_name=vector_name,
        **wording,
    )


_document(
    EZPointsEnv,
    "EZPointsVectorEnv",
    operators="+ and *",
    parentheses="",
    extra_arguments="",
    description="EZPoints of gym-cards (Zhai et al. 2024): two cards whose numbers make 12 by + or *.",
    starting_state="Every deal is solvable: see ``EZPointsGenerator`` (gym-cards' distribution).",
)
_document(
    Points24Env,
    "Points24VectorEnv",
    operators="+ - * /",
    parentheses=", ( )",
    extra_arguments=" ``solvable_only=False`` (True or False only),",
    description="The 24 game of gym-cards (Zhai et al. 2024): four cards, + - * / and parentheses.",
    starting_state=(
        "Four cards, ranks and suits uniform and independent. Exactly 20876/28561 (73.1%) of these deals "
        "are solvable; ``solvable_only=True`` redraws until one is."
    ),
)
