"""Property-based fuzzing of the text protocol's answer parser (hypothesis).

The parser must read every answer exactly as the original, obviously-correct reading does (below,
``reference_parse``: find each ``action:`` key, slice the rest of the text, read a quoted or bare
value) while taking time linear in the answer's length: the original was quadratic, and one runaway
1 MB language-model answer stalled a step for seconds.
"""

from __future__ import annotations

import re
import time

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import icl_envs  # noqa: F401 (registers the ids)
from icl_envs.cards.text_protocol import MAX_TEXT_LENGTH, parse_action

_KEY = re.compile(r"""(?:"action"|'action'|\baction\b)\s*:""", re.IGNORECASE)


def _reference_value(text: str, start: int) -> str | None:
    rest = text[start:].lstrip(" \t")
    if rest[:1] in ('"', "'"):
        end = rest.find(rest[0], 1)
        if end < 0:
            return None
        after = rest[end + 1 :].lstrip(" \t")
        if after and after[0] not in ",}\n\r":
            return None
        return rest[1:end].strip()
    match = re.match(r"[^,}\n\r]*", rest)
    value = match.group(0).strip() if match else ""
    return value or None


def reference_parse(text: str, action_strings: tuple[str, ...], legal: np.ndarray, rng) -> tuple[int, bool]:
    """The parser's specification, quadratic but plainly right: the oracle of the fuzz test."""
    lookup = {s.strip().casefold(): i for i, s in enumerate(action_strings)}
    named = set()
    if len(text) <= MAX_TEXT_LENGTH:
        for key in _KEY.finditer(text):
            value = _reference_value(text, key.end())
            if value is not None and value.casefold() in lookup:
                named.add(lookup[value.casefold()])
    if len(named) == 1 and next(iter(named)) in legal:
        return next(iter(named)), True
    return int(rng.choice(legal)), False


# Pieces an adversarial answer is made of: keys, quotes, separators, every kind of space, values.
PIECES = [
    "action",
    "Action",
    '"action"',
    "'action'",
    ":",
    '"',
    "'",
    ",",
    "}",
    "{",
    "\n",
    "\r",
    " ",
    "  ",
    "\t",
    "\f",
    "\v",
    "hit",
    "HIT",
    "stand",
    " stand ",
    "+",
    "-",
    "10",
    "1",
    "x",
    "or",
    "ß",
    "SS",
]
ACTION_SETS = [
    ("stand", "hit"),
    ("-", "+"),
    tuple(str(i) for i in range(1, 11)) + ("+", "*", "="),
    ("ss", "a b"),
]
answers = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


@settings(max_examples=1000, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(text=answers, which=st.integers(0, len(ACTION_SETS) - 1), mask_bits=st.integers(1, 2**13 - 1))
def test_parse_reads_every_answer_as_the_reference(text, which, mask_bits):
    action_strings = ACTION_SETS[which]
    mask = np.array([(mask_bits >> i) & 1 for i in range(len(action_strings))], dtype=np.int8)
    if not mask.any():
        mask[0] = 1
    got = parse_action(text, action_strings, np.random.default_rng(7), mask)
    expected = reference_parse(text, action_strings, np.flatnonzero(mask), np.random.default_rng(7))
    assert got == expected, text


@given(text=st.text(max_size=300))
@settings(max_examples=500, deadline=None, derandomize=True)
def test_parse_never_raises_on_any_string(text):
    action, ok = parse_action(text, ("stand", "hit"), np.random.default_rng(0))
    assert action in (0, 1) and isinstance(ok, bool)


def _slowest(text: str, action_strings=("stand", "hit"), repeats: int = 3) -> float:
    """The fastest of a few runs: a loaded machine can only slow a run down, never speed it up."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        parse_action(text, action_strings, np.random.default_rng(0))
        times.append(time.perf_counter() - start)
    return min(times)


# Answers that made the original parser (or a naive regex) read the text once per key or per space.
FILL = MAX_TEXT_LENGTH - 20
ADVERSARIAL = {
    "many quoted keys": '"action": "hit" ' * (FILL // 16),
    "many bare keys, no separator": "action: x " * (FILL // 10),
    "unclosed single quote then spaces": "action: '" + " " * FILL,
    "open quote, spaces, value": 'action: " ' + " " * FILL + "hit",
    "spaces then a quote": "action:" + " " * FILL + '"x',
    "tabs and spaces then a quote": "action:" + "\t " * (FILL // 2) + "'",
    "bare value then spaces": "action: h" + " " * FILL + "x",
    "keys only": "action:" * (FILL // 7),
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_answers_parse_fast(name):
    text = ADVERSARIAL[name]
    assert len(text) <= MAX_TEXT_LENGTH
    # The original parser took seconds on most of these; the linear one takes about a millisecond.
    assert _slowest(text) < 0.05, name


def test_a_one_megabyte_answer_is_a_counted_failure_in_under_50_ms():
    text = '{"thoughts": "' + "I think " * 131_072 + '", "action": "hit"}'
    assert len(text) > 1_000_000
    assert _slowest(text) < 0.05
    assert parse_action(text, ("stand", "hit"), np.random.default_rng(0))[1] is False
    # One character under the Text space's limit is still read.
    fits = '{"action": "hit"}'.rjust(MAX_TEXT_LENGTH)
    assert parse_action(fits, ("stand", "hit"), np.random.default_rng(0)) == (1, True)


@pytest.mark.parametrize(
    "env_id", ["icl/NumberLine-v0", "icl/EZPoints-v0", "icl/Points24-v0", "icl/Blackjack-v0"]
)
def test_parse_action_before_reset_asks_for_a_reset(env_id):
    env = gym.make(env_id, obs_mode="text").unwrapped
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        env.parse_action('{"action": "+"}')
    env.reset(seed=0)
    assert isinstance(env.parse_action('{"action": "+"}')[1], bool)
