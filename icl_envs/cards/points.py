"""EZPoints and Points24: write a formula with the cards' numbers that equals the target.

Both games share one base. The agent writes the formula one token per step (a number, an operator
or a parenthesis) and submits it with "=". Formulas are parsed by :mod:`icl_envs.cards.formula`
and evaluated exactly, never with ``eval``. Compatible with the gym-cards EZPoints and Points24
tasks (Zhai et al. 2024): same action ids and strings, rewards and episode ends, with their
defects fixed (digit concatenation "2","4" = 24, "**" and "//" forming from two tokens, floating
point division rejecting 8/(3-8/3), the global ``random`` module, a formula slot wasted on a blank).
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import InvalidAction, ResetNeeded
from gymnasium.vector import AutoresetMode

from icl_envs.cards.base import CardGameEnv, CardVectorEnv, check_card_generator, check_card_vector_arguments
from icl_envs.cards.formula import NUMBER_TOKENS, is_solvable, try_evaluate
from icl_envs.checks import check_discrete_action

SUITS = ("S", "H", "D", "C")
RANKS = ("A", "2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K")
TEN_VALUED_RANKS = (9, 10, 11, 12)  # indices of 10, J, Q, K


def rank_value(rank: int) -> int:
    """The number a rank index (0 = ace .. 12 = king) counts for: faces count 10."""
    return int(min(rank + 1, 10))


@dataclass(frozen=True)
class PointsDeal:
    """The cards of one episode, by name ("H2", "S10", "DK") and by the number each counts for."""

    cards: tuple[str, ...]
    numbers: tuple[int, ...]

    @classmethod
    def from_cards(cls, cards: Sequence[str]) -> PointsDeal:
        numbers = []
        for card in cards:
            if not isinstance(card, str) or len(card) < 2 or card[0] not in SUITS or card[1:] not in RANKS:
                raise ValueError(
                    f"cards must be names like 'H2', 'S10', 'DK' (suit S/H/D/C, rank A/2..10/J/Q/K); got {card!r}"
                )
            numbers.append(rank_value(RANKS.index(card[1:])))
        return cls(tuple(cards), tuple(numbers))


def _card_name(rank: int, suit: int) -> str:
    return SUITS[suit] + RANKS[rank]


def _deal_from_row(ranks: np.ndarray, suits: np.ndarray) -> PointsDeal:
    return PointsDeal(
        tuple(_card_name(r, s) for r, s in zip(ranks, suits)), tuple(rank_value(r) for r in ranks)
    )


class _DrawnDeals:
    """A generator whose deal consumes one row of draws ``np_random.integers(0, bounds)``.

    ``decode(rows) -> (ranks, suits, accepted)`` turns rows into rank and suit indices; a deal that
    is not accepted is redrawn from the next row. The vector env fetches rows in blocks (see
    ``PrefetchedDraws``) and decodes them for many envs at once.
    """

    bounds: tuple[int, ...]

    def decode(self, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def sample(self, np_random: np.random.Generator) -> PointsDeal:
        while True:
            ranks, suits, accepted = self.decode(np_random.integers(0, self.bounds)[None])
            if accepted[0]:
                return _deal_from_row(ranks[0], suits[0])


@functools.cache
def _solvable_table() -> np.ndarray:
    """solvable[a, b, c, d] for numbers 1..10: does some formula of them make 24?"""
    table = np.zeros((11,) * 4, dtype=bool)
    for numbers in itertools.combinations_with_replacement(range(1, 11), 4):
        if is_solvable(numbers, 24):
            for order in set(itertools.permutations(numbers)):
                table[order] = True
    return table


def check_solvable_only(solvable_only: Any, generator: Any) -> bool:
    """``solvable_only`` of Points24: a bool, which only the default generator can honour."""
    if not isinstance(solvable_only, bool):
        raise ValueError(f"solvable_only must be True or False, got {solvable_only!r}")
    if solvable_only and generator is not None:
        raise ValueError(
            "solvable_only applies to the default generator; pass either solvable_only or generator"
        )
    return solvable_only


class Points24Generator(_DrawnDeals):
    """Four cards, each rank uniform A..K and suit uniform (an infinite deck, as in gym-cards).

    With ``solvable_only=True`` deals are redrawn until some formula makes 24 (about 73% of the
    original deals are solvable: exactly 20876/28561).
    """

    num_cards = 4
    target = 24
    bounds = (13,) * 4 + (4,) * 4  # four ranks, then four suits

    def __init__(self, solvable_only: bool = False):
        if not isinstance(solvable_only, bool):
            raise ValueError(f"solvable_only must be True or False, got {solvable_only!r}")
        self.solvable_only = solvable_only

    def decode(self, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ranks, suits = draws[:, :4], draws[:, 4:]
        if not self.solvable_only:
            return ranks, suits, np.ones(len(draws), dtype=bool)
        numbers = np.minimum(ranks + 1, 10)
        return ranks, suits, _solvable_table()[numbers[:, 0], numbers[:, 1], numbers[:, 2], numbers[:, 3]]


class EZPointsGenerator(_DrawnDeals):
    """Two cards that always make 12 with + or *, drawn as gym-cards draws them.

    The first card's rank is uniform over 2..K (faces count 10). When its number divides 12 (2, 3,
    4, 6) a fair coin picks a partner that multiplies to 12, otherwise the partner adds to 12; then
    a fair coin swaps the two. A partner worth 10 is shown as a 10, J, Q or K at random (gym-cards
    always showed a 10); suits are uniform.
    """

    num_cards = 2
    target = 12
    # first rank - 1 (2..K), multiply coin, which ten-valued rank, two suits, swap coin
    bounds = (12, 2, 4, 4, 4, 2)

    def decode(self, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        first_rank = draws[:, 0] + 1
        first = np.minimum(first_rank + 1, 10)
        multiply = (12 % first == 0) & (draws[:, 1] == 0)
        second = np.where(multiply, 12 // first, 12 - first)
        second_rank = np.where(second == 10, np.array(TEN_VALUED_RANKS)[draws[:, 2]], second - 1)
        ranks = np.stack([first_rank, second_rank], axis=1)
        suits = draws[:, 3:5].copy()
        swap = draws[:, 5] == 1
        ranks[swap], suits[swap] = ranks[swap, ::-1], suits[swap, ::-1]
        return ranks, suits, np.ones(len(draws), dtype=bool)


# --- Rules -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PointsRules:
    """What differs between EZPoints and Points24."""

    action_strings: tuple[str, ...]
    num_cards: int
    target: int
    max_formula_length: int
    win_reward: float = 10.0
    penalty: float = -1.0

    @property
    def equals_action(self) -> int:
        return len(self.action_strings) - 1


EZPOINTS_RULES = PointsRules((*NUMBER_TOKENS, "+", "*", "="), num_cards=2, target=12, max_formula_length=5)
POINTS24_RULES = PointsRules(
    (*NUMBER_TOKENS, "+", "-", "*", "/", "(", ")", "="), num_cards=4, target=24, max_formula_length=20
)


@functools.lru_cache(maxsize=65536)
def _formula_value(tokens: tuple[str, ...]) -> Fraction | None:
    return try_evaluate(tokens)


def score_formula(rules: PointsRules, tokens: tuple[str, ...]) -> float:
    """The reward for submitting ``tokens``: a formula equal to the target that uses every card.

    Cards can only be written while one of that number is left in hand, so using every card is
    the same as writing ``num_cards`` numbers.
    """
    uses_every_card = sum(token.isdigit() for token in tokens) == rules.num_cards
    return rules.win_reward if uses_every_card and _formula_value(tokens) == rules.target else rules.penalty


# --- Drawing ---------------------------------------------------------------------------------------
TABLE_GREEN = (53, 101, 77)
WHITE = (250, 250, 246)
GOLD = (240, 200, 80)


@functools.lru_cache(maxsize=256)
def _table_with_cards(cards: tuple[str, ...], target: int, size: int) -> Any:
    """The static part of a frame: green table, the target, the cards in a row."""
    import pygame

    from icl_envs.cards.sprites import card_height, card_surface, hand_positions, text_surface

    surface = pygame.Surface((size, size))
    surface.fill(TABLE_GREEN)
    title = text_surface(f"Target: {target}", round(0.09 * size), GOLD, True)
    surface.blit(title, title.get_rect(midtop=(size // 2, round(0.04 * size))))
    margin = round(0.04 * size)
    width = min(
        round((0.3 if len(cards) <= 2 else 0.21) * size), (size - 2 * margin) * 10 // (11 * len(cards))
    )
    top = round(0.16 * size)
    width = min(width, round(0.5 * size * 0.7))  # keep the cards within half the frame's height
    for card, x in zip(cards, hand_positions(len(cards), width, margin, size - margin)):
        surface.blit(card_surface(card, width), (x, top))
    return surface, top + card_height(width)


def _formula_lines(tokens: Sequence[str], font_px: int, max_width: int) -> list[Any]:
    """The formula's tokens as text surfaces, wrapped into lines that fit ``max_width``."""
    from icl_envs.cards.sprites import text_surface

    lines, current = [], ""
    for token in tokens:
        candidate = f"{current} {token}".strip()
        if current and text_surface(candidate, font_px, WHITE, True).get_width() > max_width:
            lines.append(current)
            candidate = token
        current = candidate
    lines.append(current)
    return [text_surface(line, font_px, WHITE, True) for line in lines if line]


def draw_points_frame(cards: tuple[str, ...], formula: Sequence[str], target: int, size: int) -> np.ndarray:
    """A ``(size, size, 3)`` frame: the target, the cards, and the formula written so far."""
    from icl_envs.cards.sprites import surface_to_array, text_surface

    static, cards_bottom = _table_with_cards(tuple(cards), target, size)
    surface = static.copy()
    label_px = round(0.075 * size)
    y = cards_bottom + round(0.04 * size)
    surface.blit(text_surface("Formula:", label_px, WHITE), (round(0.05 * size), y))
    y += label_px
    font_px = round(0.085 * size)
    lines = _formula_lines(formula, font_px, round(0.9 * size))
    if y + len(lines) * font_px > size:  # a long formula: shrink it to fit rather than clip it
        font_px = max(8, (size - y) // len(lines))
        lines = _formula_lines(formula, font_px, round(0.9 * size))
    for line in lines:
        surface.blit(line, (round(0.05 * size), y))
        y += font_px
    return surface_to_array(surface)


# --- Single env ------------------------------------------------------------------------------------
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
    ``obs_mode="image"``, ``image_size=300``, ``render_mode=None``, {extra_arguments}``generator=None``
    (an object with ``sample(np_random) -> PointsDeal``). ``reset(options={{"cards": [...]}})``
    deals the given cards, e.g. ``["H8", "S3", "D8", "C3"]``.

    ## Vector env
    ``{vector_name}`` steps all envs with numpy (symbolic and image modes, NEXT_STEP autoreset),
    equal to ``SyncVectorEnv`` for the same seeds.

    ## Version History
    - v0: initial version, gym-cards compatible action ids, strings, rewards and episode ends.
    """


class PointsEnv(CardGameEnv):
    """The shared Points game; :class:`EZPointsEnv` and :class:`Points24Env` fix its rules."""

    rules: PointsRules

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
        return PointsDeal.from_cards(options["cards"])

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


def points_symbolic_space(rules: PointsRules) -> gym.spaces.Dict:
    return gym.spaces.Dict(
        {
            "numbers": gym.spaces.MultiDiscrete([11] * rules.num_cards),
            "formula": gym.spaces.MultiDiscrete([len(rules.action_strings)] * rules.max_formula_length),
            "length": gym.spaces.Discrete(rules.max_formula_length + 1),
        }
    )


def check_deal(deal: Any, rules: PointsRules) -> None:
    if (
        not isinstance(deal, PointsDeal)
        or len(deal.numbers) != rules.num_cards
        or len(deal.cards) != rules.num_cards
        or any(not 1 <= n <= 10 for n in deal.numbers)
    ):
        raise ValueError(
            f"the generator must return a PointsDeal of {rules.num_cards} cards worth 1..10, got {deal!r}"
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

    def __init__(
        self,
        obs_mode: str = "image",
        image_size: int = 300,
        render_mode: str | None = None,
        generator: Any = None,
    ):
        super().__init__(
            obs_mode=obs_mode, image_size=image_size, render_mode=render_mode, generator=generator
        )

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


def _action_list(rules: PointsRules) -> str:
    return ", ".join(f'{i} "{s}"' for i, s in enumerate(rules.action_strings))


EZPointsEnv.__doc__ = _DOCSTRING.format(
    n=2,
    target=12,
    num_actions=13,
    max_length=5,
    max_length_plus=6,
    operators="+ and *",
    parentheses="",
    action_list=_action_list(EZPOINTS_RULES),
    vector_name="EZPointsVectorEnv",
    extra_arguments="",
    description="EZPoints of gym-cards (Zhai et al. 2024): two cards whose numbers make 12 by + or *.",
    starting_state="Every deal is solvable: see ``EZPointsGenerator`` (gym-cards' distribution).",
)
Points24Env.__doc__ = _DOCSTRING.format(
    n=4,
    target=24,
    num_actions=17,
    max_length=20,
    max_length_plus=21,
    operators="+ - * /",
    parentheses=", ( )",
    action_list=_action_list(POINTS24_RULES),
    vector_name="Points24VectorEnv",
    extra_arguments="``solvable_only=False``, ",
    description="The 24 game of gym-cards (Zhai et al. 2024): four cards, + - * / and parentheses.",
    starting_state=(
        "Four cards, ranks and suits uniform and independent. Exactly 20876/28561 (73.1%) of these deals "
        "are solvable; ``solvable_only=True`` redraws until one is."
    ),
)


# --- Vector env ------------------------------------------------------------------------------------
class PointsVectorEnv(CardVectorEnv):
    """``num_envs`` Points games stepped together with numpy (symbolic or image observations).

    Env ``i`` draws its deals from its own generator seeded with ``seed + i``, so results equal
    ``SyncVectorEnv`` over the single env. Only a submitted formula is evaluated one env at a time
    (memoised). Autoreset is NEXT_STEP.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": ["rgb_array"]}
    rules: PointsRules
    reset_hint = "reset single envs to deal given cards"

    def __init__(
        self,
        num_envs: int,
        obs_mode: str = "image",
        image_size: int = 300,
        render_mode: str | None = None,
        generator: Any = None,
    ):
        rules = self.rules
        self.obs_mode, self.image_size, self.render_mode = check_card_vector_arguments(
            obs_mode, image_size, render_mode, generator
        )
        self.generator = generator if generator is not None else self.default_generator()
        # The default generators' draws are fetched in blocks; a user's generator is called per deal.
        prefetch = isinstance(self.generator, _DrawnDeals)
        self._setup_card_vector(num_envs, points_symbolic_space(rules), len(rules.action_strings), prefetch)
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

    def default_generator(self) -> Any:  # pragma: no cover - subclasses override
        raise NotImplementedError

    def _new_tasks(self, envs: np.ndarray) -> None:
        """Deal new cards to each env in ``envs`` and clear its formula."""
        if self.draws is not None:
            pending = envs
            while pending.size:  # rejected deals (solvable_only) are redrawn from the next row
                ranks, suits, accepted = self.generator.decode(self.draws.take(pending))
                done = pending[accepted]
                self.ranks[done], self.suits[done] = ranks[accepted], suits[accepted]
                self.numbers[done] = np.minimum(ranks[accepted] + 1, 10)
                pending = pending[~accepted]
        else:
            for i in envs:
                deal = self.generator.sample(self.rngs[i])
                check_deal(deal, self.rules)
                self.ranks[i] = [RANKS.index(card[1:]) for card in deal.cards]
                self.suits[i] = [SUITS.index(card[0]) for card in deal.cards]
                self.numbers[i] = deal.numbers
        self.remaining[envs] = 0
        for column in range(self.rules.num_cards):
            np.add.at(self.remaining, (envs, self.numbers[envs, column]), 1)
        self.formula[envs] = 0
        self.written[envs] = 0
        self.slots_used[envs] = 0

    def cards(self, i: int) -> tuple[str, ...]:
        """The card names of env ``i``."""
        return tuple(_card_name(r, s) for r, s in zip(self.ranks[i], self.suits[i]))

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

    def _observation(self) -> Any:
        if self.obs_mode == "image":
            return self._frames()
        return {
            "numbers": self.numbers.copy(),
            "formula": self.formula.copy(),
            "length": self.slots_used.copy(),
        }

    def _info(self, present: np.ndarray | None = None) -> dict[str, Any]:
        """The batched info; ``present`` marks the envs that report one (all but after a masked reset)."""
        every = np.ones(self.num_envs, dtype=bool) if present is None else present.copy()
        return {"action_mask": self.action_masks(), "_action_mask": every}

    def step(self, actions: Any):
        if not self._started:
            raise ResetNeeded("call reset() before step()")
        rules = self.rules
        num_actions = len(rules.action_strings)
        actions = np.asarray(actions)
        if (
            actions.shape != (self.num_envs,)
            or actions.dtype.kind not in "iu"
            or np.any((actions < 0) | (actions >= num_actions))
        ):
            raise InvalidAction(
                f"actions must be {self.num_envs} integers in [0, {num_actions - 1}], got {actions!r}"
            )
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

    def render(self) -> tuple[np.ndarray, ...] | None:
        """One frame per env, as a tuple like ``SyncVectorEnv.render()`` (and BlackjackVectorEnv)."""
        return tuple(self._frames()) if self.render_mode == "rgb_array" else None


class EZPointsVectorEnv(PointsVectorEnv):
    rules = EZPOINTS_RULES

    def default_generator(self) -> EZPointsGenerator:
        return EZPointsGenerator()


class Points24VectorEnv(PointsVectorEnv):
    rules = POINTS24_RULES

    def __init__(
        self,
        num_envs: int,
        obs_mode: str = "image",
        image_size: int = 300,
        render_mode: str | None = None,
        solvable_only: bool = False,
        generator: Any = None,
    ):
        self.solvable_only = check_solvable_only(solvable_only, generator)
        super().__init__(
            num_envs, obs_mode=obs_mode, image_size=image_size, render_mode=render_mode, generator=generator
        )

    def default_generator(self) -> Points24Generator:
        return Points24Generator(self.solvable_only)
