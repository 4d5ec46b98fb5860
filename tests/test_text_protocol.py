"""The text protocol: parse_action on good, malformed, ambiguous and missing answers; prompts; TextActions."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import InvalidAction

from icl_envs.cards.text_protocol import TextActions, TextProtocolMixin, build_prompt, parse_action

POINTS_ACTIONS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "+", "-", "*", "/", "(", ")", "=")
BLACKJACK_ACTIONS = ("stand", "hit")


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"thoughts": "8 and 3 ...", "action": "10"}', 9),
        ('{"cards": [1, 2], "formula": "1 +", "thoughts": "x", "action": "1"}', 0),  # "1" is not "10"
        ('{"action":"+"}', 10),
        ("{'action': '/'}", 13),
        ('"action": =', 16),  # bare value, no braces
        ('Sure! {"thoughts": "go", "action" :  "(" }', 14),
        ('{"thoughts": "t",\n "action": ")"\n}', 15),
        ('{"Action": "*"}', 12),  # key case ignored
    ],
)
def test_well_formed_answers(text, expected):
    assert parse_action(text, POINTS_ACTIONS, rng()) == (expected, True)


def test_case_and_spaces_of_the_value_are_ignored():
    assert parse_action('{"action": " Hit "}', BLACKJACK_ACTIONS, rng()) == (1, True)
    assert parse_action('{"action": stand}', BLACKJACK_ACTIONS, rng()) == (0, True)


def test_echoed_format_line_then_answer_is_read():
    text = 'Format: {"action": "-" or "+"}\nMy answer: {"thoughts": "left", "action": "-"}'
    assert parse_action(text, ("-", "+"), rng()) == (0, True)


@pytest.mark.parametrize(
    "text",
    [
        "",  # missing
        "I would hit.",  # no action key
        '{"thoughts": "hmm"}',  # no action key
        '{"action": ""}',  # empty
        '{"action": "double"}',  # not an action string
        '{"action": "hit or stand"}',  # ambiguous inside one value
        '{"action": "hit" "stand"}',  # malformed after the closing quote
        '{"action": "hit", "action": "stand"}',  # two different actions
        '{"action": "hit',  # unterminated quote
    ],
)
def test_malformed_ambiguous_and_missing_answers_fall_back(text):
    actions = [parse_action(text, BLACKJACK_ACTIONS, rng(seed)) for seed in range(40)]
    assert all(not ok for _, ok in actions)
    # The fallback is random over the legal actions: both appear over 40 seeds (p of not = 2 * 2^-40).
    assert {a for a, _ in actions} == {0, 1}


def test_repeating_the_same_action_is_not_ambiguous():
    assert parse_action('"action": "hit" ... "action": "hit"', BLACKJACK_ACTIONS, rng()) == (1, True)


def test_fallback_respects_the_legal_mask_and_illegal_answers_fail():
    mask = np.zeros(len(POINTS_ACTIONS), dtype=np.int8)
    mask[[2, 10, 16]] = 1
    draws = {parse_action("nonsense", POINTS_ACTIONS, rng(s), mask) for s in range(60)}
    assert {a for a, _ in draws} == {2, 10, 16}
    action, ok = parse_action('{"action": "7"}', POINTS_ACTIONS, rng(), mask)  # 7 is not legal now
    assert not ok and action in (2, 10, 16)
    assert parse_action('{"action": "3"}', POINTS_ACTIONS, rng(), mask) == (2, True)


def test_fallback_is_drawn_from_the_given_generator():
    a = [parse_action("?", POINTS_ACTIONS, rng(7))[0] for _ in range(5)]
    b = [parse_action("?", POINTS_ACTIONS, rng(7))[0] for _ in range(5)]
    assert a == b


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(InvalidAction, match="str"):
        parse_action(3, BLACKJACK_ACTIONS, rng())
    with pytest.raises(ValueError, match="legal_mask"):
        parse_action("x", BLACKJACK_ACTIONS, rng(), legal_mask=[1, 1, 1])
    with pytest.raises(ValueError, match="legal_mask"):
        parse_action("x", BLACKJACK_ACTIONS, rng(), legal_mask=[0, 0])


def test_prompt_lists_legal_actions_fields_and_json_format():
    mask = np.array([1, 0], dtype=np.int8)
    text = build_prompt(
        "Move the marker.",
        ("-", "+"),
        {"current number": "the marker's number"},
        legal_mask=mask,
        observation="at 3",
    )
    assert text.startswith("Move the marker.")
    assert "Current state:\nat 3" in text
    assert 'Legal actions: "-".' in text
    answer_line = text.splitlines()[-1]
    answer = json.loads(answer_line)  # the format line itself is valid JSON
    assert list(answer) == ["current number", "thoughts", "action"]
    # An agent that fills the format in is parsed; "+" is illegal under this mask.
    assert parse_action(json.dumps({**answer, "action": "-"}), ("-", "+"), rng(), mask) == (0, True)
    assert not parse_action(json.dumps({**answer, "action": "+"}), ("-", "+"), rng(), mask)[1]


class _CoinEnv(TextProtocolMixin, gym.Env):
    """A two-action env for testing the mixin and wrapper without a real game."""

    action_strings = ("heads", "tails")
    task_description = "Call the coin."
    answer_fields = {"last call": "what you called last"}

    def __init__(self):
        self.action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.spaces.Discrete(2)
        self.calls: list[int] = []

    def action_mask(self):
        return np.array([1, 1], dtype=np.int8)

    def describe(self, obs):
        return f"last coin {obs}"

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return int(self.np_random.integers(2)), {"action_mask": self.action_mask()}

    def step(self, action):
        self.calls.append(action)
        coin = int(self.np_random.integers(2))
        return coin, float(coin == action), False, len(self.calls) >= 3, {"action_mask": self.action_mask()}


def test_mixin_prompt_and_parse():
    env = _CoinEnv()
    obs, _ = env.reset(seed=1)
    assert f"last coin {obs}" in env.prompt(obs)
    assert env.parse_action('{"action": "tails"}') == (1, True)


def test_text_actions_wrapper_counts_failures_per_episode():
    env = TextActions(_CoinEnv())
    assert isinstance(env.action_space, gym.spaces.Text)
    _, info = env.reset(seed=3)
    assert info["parse_failed"] == 0
    _, _, _, _, info = env.step('{"action": "heads"}')
    assert info["parse_failed"] == 0 and info["parsed_action"] == 0
    _, _, _, _, info = env.step("no idea")
    assert info["parse_failed"] == 1
    _, _, _, _, info = env.step('{"action": "edge"}')
    assert info["parse_failed"] == 2
    _, info = env.reset()
    assert info["parse_failed"] == 0
    with pytest.raises(InvalidAction):
        env.step(1)


def test_text_actions_fallback_does_not_touch_the_env_stream():
    """Deals depend on the seed only, not on how often the agent's answers fail to parse."""
    coins = []
    for answer in ('{"action": "heads"}', "garbage"):
        env = TextActions(_CoinEnv())
        env.reset(seed=5)
        coins.append([env.step(answer)[0] for _ in range(3)])
    assert coins[0] == coins[1]


def test_text_actions_rejects_non_card_envs():
    with pytest.raises(ValueError, match="action_strings"):
        TextActions(gym.make("CartPole-v1"))


def test_prefetched_draws_equal_one_call_per_row():
    from icl_envs.cards.base import PrefetchedDraws

    bounds = (13, 13, 4, 2)
    draws = PrefetchedDraws(bounds, [np.random.default_rng(s) for s in (1, 2, 3)], block=4)
    rows = [draws.take(np.array([0, 2])) for _ in range(6)] + [draws.take(np.array([1]))]
    sequential = [np.random.default_rng(s) for s in (1, 2, 3)]
    expected = [
        np.stack([sequential[0].integers(0, bounds), sequential[2].integers(0, bounds)]) for _ in range(6)
    ]
    expected.append(sequential[1].integers(0, bounds)[None])
    for got, want in zip(rows, expected):
        np.testing.assert_array_equal(got, want)


def test_env_parse_failures_do_not_change_the_deals():
    """A failed parse's random action must not consume the env's np_random (the deals)."""
    import gymnasium as gym

    import icl_envs  # noqa: F401

    def deals(fail_parses: bool) -> list:
        env = gym.make("icl/Points24-v0", obs_mode="symbolic")
        env.reset(seed=3)
        seen = []
        for _ in range(5):
            if fail_parses:
                env.unwrapped.parse_action("no answer here")
            _, info = env.reset()
            seen.append(tuple(info["cards"]))
        return seen

    assert deals(True) == deals(False)
