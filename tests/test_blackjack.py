"""icl/Blackjack-v0: API checks, seeding, Gymnasium-equivalent rules, frames, text, vector env, errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.toy_text import blackjack as gym_blackjack
from gymnasium.error import InvalidAction, ResetNeeded
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import icl_envs  # noqa: F401  (registers the ids)
from icl_envs.cards import blackjack_rules as rules
from icl_envs.cards.blackjack import (
    CARD_NAMES,
    CARD_VALUES,
    FELT,
    BlackjackEnv,
    BlackjackVectorEnv,
    table_renderer,
)

MODES = ("symbolic", "image", "text", "multimodal")
RULES = ({}, {"natural": True}, {"sab": True})


def _value(name: str) -> int:
    return int(CARD_VALUES[CARD_NAMES.index(name)])


def _play(env: BlackjackEnv, seed: int, policy) -> list[tuple]:
    """One hand with ``policy(symbolic_obs) -> action``; returns every (obs, reward, terminated, info)."""
    env.reset(seed=seed)
    steps = []
    while True:
        obs, reward, terminated, truncated, info = env.step(policy(env.symbolic_observation()))
        assert not truncated
        steps.append((obs, reward, terminated, info))
        if terminated:
            return steps


def _hit_below(threshold: int):
    return lambda obs: int(obs[0] < threshold)


# ---------------------------------------------------------------------------------------------
# API and spaces
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("obs_mode", MODES)
def test_check_env(obs_mode):
    env = gym.make("icl/Blackjack-v0", obs_mode=obs_mode, render_mode="rgb_array", image_size=160)
    check_env(env.unwrapped, skip_render_check=False)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert info["action_mask"].dtype == np.int8 and info["action_mask"].tolist() == [1, 1]
    env.close()


def test_symbolic_spaces_are_gymnasiums():
    ours = BlackjackEnv(obs_mode="symbolic")
    theirs = gym.make("Blackjack-v1")
    assert ours.observation_space == theirs.observation_space
    assert ours.action_space == theirs.action_space
    assert ours.action_strings == ("stand", "hit")


def test_make_vec_uses_the_native_vector_env():
    envs = gym.make_vec(
        "icl/Blackjack-v0", num_envs=3, vectorization_mode="vector_entry_point", obs_mode="symbolic"
    )
    assert isinstance(envs.unwrapped, BlackjackVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, _ = envs.reset(seed=1)
    assert envs.observation_space.contains(obs)


# ---------------------------------------------------------------------------------------------
# Seeding and the card stream
# ---------------------------------------------------------------------------------------------
def test_same_seed_same_hands_and_different_seeds_differ():
    env = BlackjackEnv(obs_mode="symbolic")
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 2, 400).tolist()

    def run(seed):
        out = [env.reset(seed=seed)]
        for action in actions:
            obs, reward, terminated, _, info = env.step(action)
            out.append((obs, reward, info["player_cards"], info["dealer_up_card"], info.get("dealer_cards")))
            if terminated:
                out.append(env.reset())
        return repr(out)

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_card_stream_is_uniform_over_52():
    # Only a loose chi-square bound: a biased stream (e.g. a rank never drawn) fails by far.
    env = BlackjackEnv(obs_mode="symbolic")
    counts = np.zeros(52)
    for seed in range(300):
        env.reset(seed=seed)
        for card in env._cards:
            counts[card] += 1
    expected = counts.sum() / 52
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 120  # 51 degrees of freedom: P(chi2 > 120) < 1e-6


def test_long_run_never_runs_out_of_cards():
    env = BlackjackEnv(obs_mode="symbolic")
    env.reset(seed=3)
    for _ in range(5000):  # crosses many block boundaries; always hitting draws the most cards
        _, _, terminated, _, _ = env.step(1)
        if terminated:
            env.reset()


# ---------------------------------------------------------------------------------------------
# Rules: the same results as Gymnasium's Blackjack-v1 on the same cards
# ---------------------------------------------------------------------------------------------
class _ScriptedDeck:
    """Stands in for Gymnasium's np_random: ``choice(deck)`` returns the given card values in order."""

    def __init__(self, values):
        self.values = list(values)

    def choice(self, deck):
        return self.values.pop(0)


@pytest.mark.parametrize("kwargs", RULES)
@pytest.mark.parametrize("threshold", [12, 17, 20])
def test_rewards_match_gymnasium_on_the_same_cards(kwargs, threshold):
    """Replay each of our hands through Gymnasium's env with the same cards and compare every step."""
    ours = BlackjackEnv(obs_mode="symbolic", **kwargs)
    theirs = gym_blackjack.BlackjackEnv(**kwargs)
    rewards = set()
    for seed in range(300):
        steps = _play(ours, seed, _hit_below(threshold))
        final_info = steps[-1][3]
        player = [_value(c) for c in final_info["player_cards"]]
        dealer = [_value(c) for c in final_info["dealer_cards"]]
        theirs.player, theirs.dealer = player[:2], dealer[:2]
        theirs.np_random = _ScriptedDeck(player[2:] + dealer[2:])
        for obs, reward, terminated, _ in steps:
            action = _hit_below(threshold)(theirs._get_obs())
            their_obs, their_reward, their_terminated, _, _ = theirs.step(action)
            assert (obs, reward, terminated) == (their_obs, their_reward, their_terminated), seed
        assert theirs.np_random.values == []  # the same number of cards drawn
        flags = {"natural": kwargs.get("natural", False), "sab": kwargs.get("sab", False)}
        assert reward == (-1.0 if rules.is_bust(player) else rules.settle(player, dealer, **flags))
        rewards.add(reward)
    assert {-1.0, 0.0, 1.0} <= rewards  # the seeds covered wins, draws and losses


def test_natural_pays_one_and_a_half_and_sab_wins():
    # Find dealt naturals and check the three rule sets on the same seeds.
    envs = {key: BlackjackEnv(obs_mode="symbolic", **kwargs) for key, kwargs in zip("dns", RULES)}
    seen = 0
    for seed in range(3000):
        obs, info = envs["d"].reset(seed=seed)
        if obs[0] != 21:
            continue
        rewards = {}
        for key, env in envs.items():
            env.reset(seed=seed)
            _, rewards[key], _, _, info = env.step(0)
        dealer = [_value(c) for c in info["dealer_cards"]]
        dealer_natural = rules.is_natural(dealer)
        assert rewards["n"] == (1.5 if rewards["d"] == 1.0 else rewards["d"])
        assert rewards["s"] == (0.0 if dealer_natural else 1.0)
        seen += 1
    assert seen > 50  # about 4.8% of 3000 deals are naturals


def test_dealer_stands_on_17_and_hits_16():
    env = BlackjackEnv(obs_mode="symbolic")
    for seed in range(400):
        steps = _play(env, seed, lambda obs: 0)
        dealer = [_value(c) for c in steps[-1][3]["dealer_cards"]]
        assert rules.sum_hand(dealer) >= 17
        assert all(rules.sum_hand(dealer[:k]) < 17 for k in range(2, len(dealer)))


def test_mean_return_agrees_with_gymnasium():
    # Different random streams, same distribution: the mean returns of one policy must agree
    # within 4 standard errors (a one-in-15000 false alarm).
    policy = _hit_below(17)
    n = 6000
    ours = BlackjackEnv(obs_mode="symbolic")
    theirs = gym.make("Blackjack-v1")
    returns = {"ours": [], "theirs": []}
    for name, env in (("ours", ours), ("theirs", theirs)):
        obs, _ = env.reset(seed=11)
        total = 0.0
        while len(returns[name]) < n:
            obs, reward, terminated, _, _ = env.step(policy(obs))
            total += reward
            if terminated:
                returns[name].append(total)
                total = 0.0
                obs, _ = env.reset()
    a, b = np.array(returns["ours"]), np.array(returns["theirs"])
    se = np.sqrt(a.var() / n + b.var() / n)
    assert abs(a.mean() - b.mean()) < 4 * se


def test_info_and_symbolic_obs_agree():
    env = BlackjackEnv(obs_mode="symbolic")
    for seed in range(200):
        obs, info = env.reset(seed=seed)
        while True:
            player = [_value(c) for c in info["player_cards"]]
            assert obs == (
                rules.sum_hand(player),
                _value(info["dealer_up_card"]),
                int(rules.usable_ace(player)),
            )
            assert set(info) <= {"action_mask", "player_cards", "dealer_up_card", "dealer_cards"}
            obs, _, terminated, _, info = env.step(int(obs[0] < 15))
            if terminated:
                break


# ---------------------------------------------------------------------------------------------
# The hidden card
# ---------------------------------------------------------------------------------------------
def _with_hole(env: BlackjackEnv, hole: int) -> None:
    env._dealer[1] = hole


def test_hole_card_is_not_visible_before_the_end():
    env = BlackjackEnv(obs_mode="multimodal", render_mode="rgb_array")
    obs, info = env.reset(seed=4)
    up = env._dealer[0]
    holes = [c for c in (0, 9, 13 + 5, 39 + 12) if CARD_NAMES[c] not in info["player_cards"] and c != up]
    frames, texts = [], []
    for hole in holes:
        _with_hole(env, hole)
        frames.append(env.render())
        texts.append(env.state_text())
        assert CARD_NAMES[hole] not in texts[-1]
        assert CARD_NAMES[hole] not in repr(env._info())
    assert all(np.array_equal(frames[0], f) for f in frames[1:])
    assert len(set(texts)) == 1
    # The same state with the hand over shows the hole card: the frames now differ.
    env._episode_over, env._reward = True, 0.0
    revealed = []
    for hole in holes:
        _with_hole(env, hole)
        revealed.append(env.render())
    assert not np.array_equal(revealed[0], revealed[1])


def test_hole_card_appears_in_info_only_when_the_hand_is_over():
    env = BlackjackEnv(obs_mode="symbolic")
    for seed in range(100):
        _, info = env.reset(seed=seed)
        assert "dealer_cards" not in info
        while True:
            _, _, terminated, _, info = env.step(1)
            assert ("dealer_cards" in info) == terminated
            if terminated:
                assert info["dealer_cards"][0] == info["dealer_up_card"]
                break


# ---------------------------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [128, 300, 512])
def test_frame_shape_and_state_dependence(size):
    env = BlackjackEnv(obs_mode="image", image_size=size)
    frames = {}
    for seed in range(6):
        obs, info = env.reset(seed=seed)
        assert obs.shape == (size, size, 3) and obs.dtype == np.uint8
        frames[(tuple(info["player_cards"]), info["dealer_up_card"])] = obs
    keys = list(frames)
    assert len(keys) == 6
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            assert not np.array_equal(frames[keys[i]], frames[keys[j]])
    obs, info = env.reset(seed=0)
    after, *_ = env.step(1)  # a hit adds a card: the frame changes
    assert not np.array_equal(obs, after)


@pytest.mark.parametrize("size", [128, 300])
def test_many_card_hands_stay_inside_the_frame(size):
    env = BlackjackEnv(obs_mode="image", image_size=size, render_mode="rgb_array")
    env.reset(seed=0)
    renderer = table_renderer(size)
    env._player = [0] * 21  # 21 aces: the longest hand that is not bust
    env._player_hard, env._player_ace = 21, True
    env._dealer = [1, 2, 3, 4, 0, 0, 0, 13, 14, 15]  # a long revealed dealer hand too
    env._episode_over, env._reward = True, 0.0
    frame = env.render()
    outside = np.concatenate(
        [frame[:, : renderer.margin - 1], frame[:, size - renderer.margin + 1 :]], axis=1
    )
    assert (outside.reshape(-1, 3) == np.array(FELT)).all(axis=1).mean() > 0.97  # only text may reach in
    player_rows = frame[renderer.player_y : renderer.player_y + renderer.card_height]
    strip = player_rows[:, size - renderer.margin + 1 :]
    assert (strip == np.array(FELT)).all()  # no card beyond the right margin
    assert renderer.total_y + renderer.big_font_px <= size  # the total text fits below the cards


def test_human_render_mode_opens_a_window_headless():
    env = BlackjackEnv(obs_mode="symbolic", render_mode="human")
    env.metadata = {**env.metadata, "render_fps": 1000}  # do not sleep in the test
    env.reset(seed=0)
    env.step(0)
    assert env._window is not None
    env.close()
    assert env._window is None


# ---------------------------------------------------------------------------------------------
# Text protocol
# ---------------------------------------------------------------------------------------------
def test_text_observation_and_prompt():
    env = BlackjackEnv(obs_mode="text")
    obs, info = env.reset(seed=2)
    assert env.observation_space.contains(obs)
    for card in info["player_cards"] + [info["dealer_up_card"]]:
        assert card in obs
    prompt = env.prompt(obs)
    assert obs in prompt and '"stand"' in prompt and '"hit"' in prompt and '"action"' in prompt
    assert env.parse_action('{"thoughts": "low total", "action": "hit"}') == (1, True)
    assert env.parse_action('{"action": "stand"}') == (0, True)
    action, ok = env.parse_action("I would hit or stand")
    assert not ok and action in (0, 1)
    obs, reward, terminated, _, _ = env.step(0)
    assert terminated and "over" in obs


def test_prompt_for_symbolic_and_image_observations():
    env = BlackjackEnv(obs_mode="symbolic", sab=True)
    obs, _ = env.reset(seed=1)
    assert f"Your total: {obs[0]}" in env.prompt(obs)
    assert "natural" in env.prompt(obs)  # the sab rule is explained
    image_env = BlackjackEnv(obs_mode="image", image_size=128)
    frame, _ = image_env.reset(seed=1)
    assert "Current state" not in image_env.prompt(frame)  # a vision agent reads the frame


# ---------------------------------------------------------------------------------------------
# Vector env
# ---------------------------------------------------------------------------------------------
def _sync(num_envs, **kwargs):
    return SyncVectorEnv(
        [lambda: BlackjackEnv(**kwargs) for _ in range(num_envs)], autoreset_mode=AutoresetMode.NEXT_STEP
    )


@pytest.mark.parametrize("kwargs", RULES)
def test_vector_env_matches_sync_vector_env_symbolic(kwargs):
    n, steps = 32, 300
    ours, theirs = (
        BlackjackVectorEnv(n, obs_mode="symbolic", **kwargs),
        _sync(n, obs_mode="symbolic", **kwargs),
    )
    obs_a, info_a = ours.reset(seed=5)
    obs_b, info_b = theirs.reset(seed=5)
    assert all(np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(obs_a, obs_b))
    rng = np.random.default_rng(1)
    for _ in range(steps):
        actions = rng.integers(0, 2, n)
        a, b = ours.step(actions), theirs.step(actions)
        assert all(np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(a[0], b[0]))
        for x, y in zip(a[1:4], b[1:4]):
            assert np.array_equal(x, y) and x.dtype == y.dtype
        assert np.array_equal(a[4]["action_mask"], b[4]["action_mask"])
        assert ours.observation_space.contains(a[0])


def test_vector_env_matches_sync_vector_env_image():
    n = 3
    ours, theirs = BlackjackVectorEnv(n, image_size=128), _sync(n, image_size=128)
    assert np.array_equal(ours.reset(seed=[3, 9, 27])[0], theirs.reset(seed=[3, 9, 27])[0])
    rng = np.random.default_rng(2)
    for _ in range(25):
        actions = rng.integers(0, 2, n)
        a, b = ours.step(actions), theirs.step(actions)
        assert np.array_equal(a[0], b[0])
        assert np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])


def test_vector_env_render():
    envs = BlackjackVectorEnv(2, obs_mode="symbolic", image_size=128, render_mode="rgb_array")
    envs.reset(seed=0)
    frames = envs.render()
    assert len(frames) == 2 and frames[0].shape == (128, 128, 3)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"obs_mode": "pixels"}, "obs_mode"),
        ({"image_size": 64}, "image_size"),
        ({"image_size": 300.0}, "image_size"),
        ({"natural": "yes"}, "natural"),
        ({"sab": 1}, "sab"),
        ({"render_mode": "ansi"}, "render_mode"),
    ],
)
def test_bad_kwargs(kwargs, name):
    with pytest.raises(ValueError, match=name):
        BlackjackEnv(**kwargs)
    with pytest.raises(ValueError, match=name):
        BlackjackVectorEnv(2, **kwargs)


def test_bad_vector_kwargs():
    with pytest.raises(ValueError, match="num_envs"):
        BlackjackVectorEnv(0)
    with pytest.raises(ValueError, match="obs_mode"):
        BlackjackVectorEnv(2, obs_mode="text")  # use SyncVectorEnv for text observations
    with pytest.raises(ValueError, match="seed"):
        BlackjackVectorEnv(2).reset(seed=[1, 2, 3])


@pytest.mark.parametrize("action", [2, -1, 1.0, "hit", True, None, np.array([1])])
def test_bad_actions(action):
    env = BlackjackEnv(obs_mode="symbolic")
    env.reset(seed=0)
    with pytest.raises(InvalidAction, match="action"):
        env.step(action)


def test_numpy_integer_actions_are_accepted():
    env = BlackjackEnv(obs_mode="symbolic")
    env.reset(seed=0)
    env.step(np.int64(1)) if env._player_hard < 21 else None
    env.reset(seed=0)
    env.step(np.array(0))


def test_step_before_reset_and_after_the_end():
    env = BlackjackEnv(obs_mode="symbolic")
    with pytest.raises(ResetNeeded):
        env.step(0)
    env.reset(seed=0)
    env.step(0)
    with pytest.raises(ResetNeeded):
        env.step(0)


@pytest.mark.parametrize("actions", [[0, 1, 2], [0, 1], [[0], [1], [0]], [0.0, 1.0, 0.0], ["hit"] * 3])
def test_bad_vector_actions(actions):
    envs = BlackjackVectorEnv(3, obs_mode="symbolic")
    envs.reset(seed=0)
    with pytest.raises(InvalidAction, match="actions"):
        envs.step(np.array(actions))


def test_vector_step_before_reset():
    with pytest.raises(ResetNeeded):
        BlackjackVectorEnv(2, obs_mode="symbolic").step(np.zeros(2, dtype=np.int64))


# ---------------------------------------------------------------------------------------------
# Playing with the keyboard (icl_envs.cards.play, `icl-bench play`), headless with posted key events
# ---------------------------------------------------------------------------------------------
def _post_keys(*keys):
    import pygame

    pygame.display.init()  # pygame.event.post needs the video system
    for key in keys:
        code = {"\r": pygame.K_RETURN, "\x1b": pygame.K_ESCAPE}.get(key, ord(key))
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=code, unicode=key, mod=0, scancode=0))


def test_key_map():
    from icl_envs.cards.play import key_map

    assert key_map(("stand", "hit")) == {"s": 0, "h": 1}
    assert key_map(("-", "+")) == {"-": 0, "+": 1}
    points = key_map([str(i) for i in range(1, 11)] + list("+-*/()="))
    assert points["0"] == 9 and points["1"] == 0 and points["("] == 14 and len(set(points.values())) == 17


def test_play_blackjack_with_posted_keys():
    from icl_envs.cards.play import play

    # "x" is no action; stand ends hand 1; Enter deals hand 2; stand ends it.
    _post_keys("x", "s", "\r", "s")
    returns = play("icl/Blackjack-v0", seed=3, episodes=2, fps=1000, image_size=128)
    env = BlackjackEnv(obs_mode="symbolic")
    env.reset(seed=3)
    first = env.step(0)[1]
    env.reset()
    assert returns == [first, env.step(0)[1]]  # the same deals as the env with the same seed


def test_play_quits_on_escape_and_works_for_every_card_env():
    from icl_envs.cards.play import play

    for env_id in ("icl/Blackjack-v0", "icl/NumberLine-v0", "icl/EZPoints-v0", "icl/Points24-v0"):
        _post_keys("\x1b")
        assert play(env_id, seed=0, fps=1000) == []


def test_play_command():
    from typer.testing import CliRunner

    from leaderboard.cli import app

    _post_keys("s", "\x1b")
    result = CliRunner().invoke(app, ["play", "icl/Blackjack-v0", "--seed", "1", "--image-size", "128"])
    assert result.exit_code == 0, result.output
    assert "'s' = stand" in result.output
    result = CliRunner().invoke(app, ["play", "icl/NoSuchGame-v0"])
    assert result.exit_code == 1 and "error" in result.output
    result = CliRunner().invoke(app, ["play", "--kwargs", '{"obs_mode": "rgb"}'])
    assert result.exit_code == 1 and "obs_mode" in result.output


def test_flatten_observation_wrapper_gives_a_box_for_rl_libraries():
    # Libraries without Tuple support (e.g. Stable-Baselines3's PPO) take the one-hot flattening.
    env = gym.wrappers.FlattenObservation(gym.make("icl/Blackjack-v0", obs_mode="symbolic"))
    obs, _ = env.reset(seed=0)
    assert env.observation_space.shape == (32 + 11 + 2,) and obs.shape == (45,) and obs.sum() == 3
