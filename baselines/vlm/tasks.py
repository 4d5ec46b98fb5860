"""The games' text for the VLM: prompts, the expert's answers, and where an answer's action is.

- :func:`prompt` is the env's own text-protocol prompt (``build_prompt``), with the state in words
  only when ``state_in_prompt`` (otherwise the model reads the state from the frame, as in RL4VLM).
- :class:`Expert` writes the supervised warm start's answers: the answer fields and a templated
  thought from the visible state, then the action of the exact solver of ``baselines/classic``.
- :func:`action_span` finds the characters of the last ``"action": "..."`` pair in an answer: the
  tokens that overlap it are the action tokens of RL4VLM's log-probability, the others the thoughts.
- :func:`reading_slots` and :func:`reading_labels` say what a frame shows, one small classification
  per thing drawn (each card's rank in the frame's order, each formula slot's token, the totals
  printed): the labels of the reading stage's probes.
"""

from __future__ import annotations

import json
import re
from typing import Any

import gymnasium as gym
import numpy as np

import icl_envs  # noqa: F401  (registers the icl/ ids)
from baselines.classic.blackjack import OptimalBlackjackAgent
from baselines.classic.number_games import PointsOptimalAgent, numberline_optimal_action, solve_deal
from icl_envs.cards.deck import NUM_RANKS, card_rank_suit
from icl_envs.cards.text_protocol import build_prompt

GAMES = ("icl/NumberLine-v0", "icl/EZPoints-v0", "icl/Points24-v0", "icl/Blackjack-v0")
_ACTION_PAIR = re.compile(r'"action"\s*:\s*"[^"\n]*"?')
#: Player cards the reading stage labels in Blackjack (a hand of more is rare; the total is printed).
BLACKJACK_CARD_SLOTS = 5
#: Blackjack totals the probes tell apart (a hand's total is at most 31 before the episode ends).
BLACKJACK_TOTALS = 32


def check_game(env_id: str) -> str:
    if env_id not in GAMES:
        raise ValueError(f"env must be one of {', '.join(map(repr, GAMES))}; got {env_id!r}")
    return env_id


def game_name(env_id: str) -> str:
    """``"icl/EZPoints-v0"`` -> ``"EZPoints"``."""
    return check_game(env_id).split("/")[1].rsplit("-v", 1)[0]


def game_env(env_id: str, obs_mode: str = "multimodal", **kwargs: Any) -> gym.Env:
    """A single env of ``env_id``, multimodal unless said (the unwrapped env gives prompts and the state)."""
    return gym.make(check_game(env_id), obs_mode=obs_mode, **kwargs)


def prompt(env: Any, text: str, legal_mask: Any, state_in_prompt: bool, short: bool = False) -> str:
    """The env's JSON-answer prompt; ``env`` is an unwrapped card env. ``short``: only the state
    (when in the prompt) and the legal actions; the task description and the answer format, the same
    at every step of one game, are left out (a tiny model on CPU then reads ~30 tokens, not ~170).

    Without the state in the prompt the list of actions is every action of the game, not the legal
    ones: the legal numbers of EZPoints and Points24 are the cards held (and NumberLine's say when
    the marker is at an end), so the mask would tell the state that the frame alone must show."""
    if not state_in_prompt:
        legal_mask = np.ones(len(env.action_strings), dtype=np.int8)
    if short:
        legal = np.flatnonzero(np.asarray(legal_mask))
        state = f"{text}\n" if state_in_prompt and text else ""
        return state + "Legal: " + " ".join(env.action_strings[i] for i in legal) + "\n"
    return build_prompt(
        env.task_description,
        env.action_strings,
        env.answer_fields,
        legal_mask=legal_mask,
        observation=text if state_in_prompt else None,
    )


def answer_text(fields: dict[str, str], thoughts: str | None, action: str) -> str:
    """The JSON answer: the env's answer fields, the thoughts (left out when None), the action."""
    answer = dict(fields) | ({} if thoughts is None else {"thoughts": thoughts}) | {"action": action}
    return json.dumps(answer)


def answer_fields(answer: str) -> dict[str, str] | None:
    """The fields of a JSON answer that say what the frame shows (all but the thoughts and the
    action), or None when the answer is not a JSON object."""
    try:
        fields = json.loads(answer)
    except json.JSONDecodeError:
        return None
    if not isinstance(fields, dict):
        return None
    return {k: v for k, v in fields.items() if k not in ("thoughts", "action")}


def action_span(text: str) -> tuple[int, int] | None:
    """``(start, end)`` characters of the last ``"action": "..."`` pair of ``text``, or None."""
    pairs = list(_ACTION_PAIR.finditer(text))
    return pairs[-1].span() if pairs else None


class Expert:
    """The solver's action with the answer fields and a templated thought (from the visible state)."""

    def __init__(self, env_id: str):
        self.game = game_name(env_id)
        if self.game == "Blackjack":
            self.blackjack = OptimalBlackjackAgent()
        elif self.game in ("EZPoints", "Points24"):
            self.points = PointsOptimalAgent(self.game)

    def act(self, env: Any) -> tuple[int, dict[str, str], str]:
        """``(action, answer fields, thought)`` for the unwrapped env's current state."""
        state = env.symbolic_observation()
        names = env.action_strings
        if self.game == "NumberLine":
            current, target = int(state["current"]), int(state["target"])
            action = numberline_optimal_action(current, target)
            side = "above" if target > current else "below"
            fields = {"current number": str(current), "target number": str(target)}
            return action, fields, f"The target {target} is {side} {current}, so I move {names[action]}."
        if self.game == "Blackjack":
            total, dealer, soft = (int(v) for v in state)
            action = int(self.blackjack.act((total, dealer, soft)))
            hand = f"a soft {total}" if soft else f"{total}"
            fields = {"player total": str(total), "dealer card": str(dealer)}
            return (
                action,
                fields,
                f"With {hand} against a dealer {dealer}, the best play is to {names[action]}.",
            )
        numbers = [int(v) for v in np.asarray(state["numbers"])]
        written = [names[int(t) - 1] for t in np.asarray(state["formula"]) if t]
        action = int(self.points.act(state))
        solution = solve_deal(numbers, self.game)
        # The cards in the frame's order, left to right: what the reading stage's probes read.
        fields = {"cards": str(numbers), "formula": "".join(written)}
        plan = f"{''.join(solution)} reaches the target" if solution else "no formula reaches the target"
        return action, fields, f"{plan}; next I write {names[action]}."


def numberline_corpus() -> list[str]:
    """Every NumberLine answer without thoughts (each position pair, each action) and one short
    prompt: a small tokenizer corpus for tests and benchmarks of tiny models."""
    answers = [
        answer_text({"current number": str(c), "target number": str(t)}, None, a)
        for c in range(6)
        for t in range(6)
        for a in "-+"
    ]
    return answers + ["Current number: 2\nTarget number: 3\nLegal: - +\n"]


def reading_slots(env: Any) -> dict[str, int]:
    """What the unwrapped card env's frame shows, as ``{slot name: number of classes}``: per card
    (in the frame's order) its rank, per formula slot its token, and the numbers printed on the
    table. Slots that may be empty have class 0 for "absent" (so a rank is class ``1 + rank``)."""
    game = type(env).__name__.removesuffix("Env")
    if game == "NumberLine":
        positions = env.max_position + 1
        return {"current": positions, "target": positions}
    if game == "Blackjack":
        return {
            "player total": BLACKJACK_TOTALS,
            "soft": 2,
            "dealer card": NUM_RANKS,
            **{f"player card {i}": 1 + NUM_RANKS for i in range(BLACKJACK_CARD_SLOTS)},
        }
    rules = env.rules
    return {
        **{f"card {i}": NUM_RANKS for i in range(rules.num_cards)},
        **{f"formula {i}": 1 + len(rules.action_strings) for i in range(rules.max_formula_length)},
    }


def reading_labels(env: Any, info: dict[str, Any]) -> dict[str, int]:
    """The class of each of :func:`reading_slots`'s slots in the env's current frame (``info``: the
    last reset's or step's, which names Blackjack's cards)."""
    game = type(env).__name__.removesuffix("Env")
    if game == "NumberLine":
        state = env.symbolic_observation()
        return {"current": int(state["current"]), "target": int(state["target"])}
    if game == "Blackjack":
        total, _, soft = env.symbolic_observation()
        ranks = [1 + card_rank_suit(name)[0] for name in info["player_cards"]][:BLACKJACK_CARD_SLOTS]
        ranks += [0] * (BLACKJACK_CARD_SLOTS - len(ranks))
        return {
            "player total": min(int(total), BLACKJACK_TOTALS - 1),
            "soft": int(soft),
            "dealer card": card_rank_suit(info["dealer_up_card"])[0],
            **{f"player card {i}": rank for i, rank in enumerate(ranks)},
        }
    formula = env.symbolic_observation()["formula"]  # action id + 1 per written token, 0 = empty
    return {
        **{f"card {i}": card_rank_suit(name)[0] for i, name in enumerate(env.deal.cards)},
        **{f"formula {i}": int(token) for i, token in enumerate(formula)},
    }
