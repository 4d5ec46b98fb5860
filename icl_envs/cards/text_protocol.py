"""The text protocol shared by every card env: a JSON-answer prompt and a forgiving answer parser.

Language and vision-language agents fine-tuned with RL on card games (Zhai et al. 2024,
"Fine-Tuning Large Vision-Language Models as Decision-Making Agents via Reinforcement Learning")
answer in a small JSON object: first the facts they read off the table (the current number, the
cards, the formula so far), then free-form ``"thoughts"``, then the ``"action"``. The env reads the
text after the last ``"action":`` key and accepts it only if it names exactly one legal action;
anything else (no action key, an unknown or illegal string, two different actions) is played as a
uniformly random legal action and reported with ``ok=False``, so a badly formatted answer costs the
agent but never crashes a run.

- :func:`parse_action` and :func:`build_prompt` are pure functions.
- :class:`TextProtocolMixin` gives an env ``prompt(obs)`` and ``parse_action(text)`` from a few
  class attributes (``action_strings``, ``task_description``, ``answer_fields``).
- :class:`TextActions` is a wrapper whose action space is ``gymnasium.spaces.Text``: it parses each
  text action and counts the episode's failures in ``info["parse_failed"]``.
"""

from __future__ import annotations

import functools
import json
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import InvalidAction, ResetNeeded

#: Characters allowed in text observations and text actions (printable ASCII and whitespace).
TEXT_CHARSET = string.printable
#: Longest text observation / text action the ``Text`` spaces accept.
MAX_TEXT_LENGTH = 8192

# The key, quoted with " or ' or bare, then a colon. Case-insensitive: "Action": is accepted too.
_ACTION_KEY = re.compile(r"""(?:"action"|'action'|\baction\b)\s*:""", re.IGNORECASE)


@functools.lru_cache(maxsize=64)
def _value_pattern(longest: int) -> re.Pattern[str]:
    """What may follow an ``action:`` key when the value is one of the action strings, at most
    ``longest`` characters once stripped.

    A quoted value is read up to its closing quote, stripped, and only a comma, a closing brace,
    a line end or the end of the text may follow it (``"+" or "-"`` is malformed). A bare value
    runs to the first comma, closing brace or line end and is stripped.

    The pattern is built so that a match attempt costs time linear in what it reads: the value
    is bounded by the longest action string, it starts with a non-space character, and every run
    of spaces is followed by something a space is not, so giving a space back never lets the
    rest match. An attempt from one key therefore never reads past the next key, and parsing is
    linear in the answer's length (a quadratic parser let one runaway answer stall a step).
    """
    rest = "{0,%d}?" % max(longest - 1, 0)  # noqa: UP031 (a regex with braces of its own)
    end = r"[ \t]*(?=[,}\n\r]|\Z)"
    return re.compile(
        r"[ \t]*(?![ \t])(?:"
        rf'"\s*(?:(?P<double>[^"\s][^"]{rest})\s*)?"{end}'
        rf"|'\s*(?:(?P<single>[^'\s][^']{rest})\s*)?'{end}"
        rf"""|(?!["'])[^\S\n\r]*(?:(?P<bare>[^\s,}}][^,}}\n\r]{rest})[^\S\n\r]*)?(?=[,}}\n\r]|\Z)"""
        r")"
    )


def _legal_actions(num_actions: int, legal_mask: Any) -> np.ndarray:
    if legal_mask is None:
        return np.arange(num_actions)
    mask = np.asarray(legal_mask)
    if mask.shape != (num_actions,):
        raise ValueError(f"legal_mask must have shape ({num_actions},), got {mask.shape}")
    legal = np.flatnonzero(mask)
    if legal.size == 0:
        raise ValueError("legal_mask allows no action")
    return legal


def parse_action(
    text: str,
    action_strings: Sequence[str],
    np_random: np.random.Generator,
    legal_mask: Any = None,
) -> tuple[int, bool]:
    """Read the action from an agent's answer; return ``(action, ok)``.

    Every ``action:`` key in ``text`` is read (its value quoted or bare, matched against
    ``action_strings`` ignoring case and surrounding spaces). If the readable values name exactly
    one action and it is legal under ``legal_mask`` (1 = legal; ``None``: all legal), that action is
    returned with ``ok=True``. Otherwise (no key, an unknown or illegal value, two different actions)
    a uniformly random legal action drawn from ``np_random`` is returned with ``ok=False``.
    Values that are not action strings are skipped, so an answer that first echoes the prompt's
    format line (``"action": "-" or "+"``) and then answers is still read.
    """
    if not isinstance(text, str):
        raise InvalidAction(f"a text action must be a str, got {type(text).__name__}")
    legal = _legal_actions(len(action_strings), legal_mask)
    if len(text) > MAX_TEXT_LENGTH:  # longer than the Text action space allows: a failed parse
        return int(np_random.choice(legal)), False
    lookup = {s.strip().casefold(): i for i, s in enumerate(action_strings)}
    # A casefolded string is never shorter than the original, so no value longer than this matches.
    value_at = _value_pattern(max(map(len, lookup))).match
    named = set()
    for key in _ACTION_KEY.finditer(text):
        found = value_at(text, key.end())
        if found is not None:
            value = next((v for v in found.group("double", "single", "bare") if v is not None), "")
            value = value.casefold()
            if value in lookup:
                named.add(lookup[value])
    if len(named) == 1:
        (action,) = named
        if action in legal:
            return action, True
    return int(np_random.choice(legal)), False


def build_prompt(
    task_description: str,
    action_strings: Sequence[str],
    fields: Mapping[str, str],
    legal_mask: Any = None,
    observation: str | None = None,
) -> str:
    """Build the JSON-answer prompt.

    ``fields`` maps each task-specific answer field (e.g. ``"current number"``) to what the agent
    should write there; the answer format always ends with ``"thoughts"`` and ``"action"``.
    ``observation`` is a text description of the state, given to language-only agents (a vision
    agent reads the state from the frame instead, so it is left out for image observations).
    """
    legal = _legal_actions(len(action_strings), legal_mask)
    choices = ", ".join(json.dumps(action_strings[i]) for i in legal)
    answer = {**{name: f"<{hint}>" for name, hint in fields.items()}}
    answer["thoughts"] = "<your step-by-step reasoning>"
    answer["action"] = "<one of the legal actions>"
    lines = [task_description.strip()]
    if observation is not None:
        lines += ["", "Current state:", observation.strip()]
    lines += [
        "",
        f"Legal actions: {choices}.",
        "Answer with a single JSON object in exactly this format, and nothing after it:",
        "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in answer.items()) + "}",
    ]
    return "\n".join(lines)


class TextProtocolMixin:
    """Give a card env ``prompt(obs)`` and ``parse_action(text)``.

    The env sets the class attributes ``action_strings``, ``task_description`` and
    ``answer_fields`` and implements ``action_mask()`` (int8, 1 = legal now) and
    ``describe(obs)`` (a text description of an observation, or None for a frame).
    """

    action_strings: tuple[str, ...] = ()
    task_description: str = ""
    answer_fields: Mapping[str, str] = {}

    def action_mask(self) -> np.ndarray:  # pragma: no cover - every env overrides
        return np.ones(len(self.action_strings), dtype=np.int8)

    def describe(self, obs: Any) -> str | None:  # pragma: no cover - every env overrides
        return None

    def prompt(self, obs: Any = None) -> str:
        """The JSON-answer prompt for observation ``obs`` (its text, if it has one, is included)."""
        return build_prompt(
            self.task_description,
            self.action_strings,
            self.answer_fields,
            legal_mask=self.action_mask(),
            observation=self.describe(obs),
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None or not hasattr(self, "_fallback_rng"):
            self._fallback_rng = fallback_generator(seed)
        return super().reset(seed=seed, options=options)

    def parse_action(self, text: str) -> tuple[int, bool]:
        """Read an answer into ``(action, ok)``.

        A failure draws a random legal action from a generator of its own, seeded by
        ``reset(seed=...)``: drawing from ``np_random`` would make an agent's formatting errors
        change which deals the seed produces.
        """
        if not hasattr(self, "_fallback_rng"):
            raise ResetNeeded("call reset() before parse_action(): there is no game to act in yet")
        return parse_action(text, self.action_strings, self._fallback_rng, self.action_mask())


def fallback_generator(seed: int | None) -> np.random.Generator:
    """The stream that picks a failed parse's random action, apart from the env's ``np_random``."""
    # The constant keeps this stream distinct from one seeded with the bare seed.
    return np.random.default_rng(None if seed is None else [seed, 0x7E47])


class TextActions(gym.Wrapper):
    """Play a card env with text actions: the agent's answer is parsed into the env's action.

    The action space is ``Text``. Each step parses the answer with :func:`parse_action`; the
    fallback action of an unreadable answer comes from the wrapper's own generator, seeded from
    ``reset(seed=...)``, so that an agent's formatting errors never change which deals the seeds
    produce. ``info["parse_failed"]`` counts this episode's failed parses so far, and
    ``info["parsed_action"]`` is the action that was played.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        base = env.unwrapped
        if not hasattr(base, "action_strings") or not hasattr(base, "action_mask"):
            raise ValueError(f"TextActions needs a card env with action_strings, got {type(base).__name__}")
        self.action_space = gym.spaces.Text(MAX_TEXT_LENGTH, min_length=0, charset=TEXT_CHARSET)
        self._fallback_rng = fallback_generator(None)
        self._parse_failed = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._fallback_rng = fallback_generator(seed)
        obs, info = self.env.reset(seed=seed, options=options)
        self._parse_failed = 0
        info["parse_failed"] = 0
        return obs, info

    def prompt(self, obs: Any = None) -> str:
        return self.env.unwrapped.prompt(obs)

    def step(self, action: str):
        base = self.env.unwrapped
        parsed, ok = parse_action(action, base.action_strings, self._fallback_rng, base.action_mask())
        self._parse_failed += not ok
        obs, reward, terminated, truncated, info = self.env.step(parsed)
        info["parse_failed"] = self._parse_failed
        info["parsed_action"] = parsed
        return obs, reward, terminated, truncated, info
