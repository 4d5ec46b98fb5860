"""The environment contract of DESIGN.md §1, checked for every id in ``icl_envs.ENVIRONMENTS``.

Each env also has its own test file with the rules of its game; this file holds what every env
promises in the same way: registration, spec serialisation, docstring sections, check_env,
seeding, native vector env == SyncVectorEnv, NEXT_STEP autoreset, bad vector inputs.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec, load_env_creator
from gymnasium.error import InvalidAction, ResetNeeded
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import icl_envs
from icl_envs.checks import vector_seeds

IDS = [env_id for env_id, *_ in icl_envs.ENVIRONMENTS]
CARD_IDS = ["icl/NumberLine-v0", "icl/EZPoints-v0", "icl/Points24-v0", "icl/Blackjack-v0"]
# The in-context RL trials: their info is checked in tests/test_icrl_envs.py.
ICRL_IDS = ["icl/Bandit-v0", "icl/DarkRoom-v0", "icl/KeyToDoor-v0"]
SECTIONS = (
    "Description",
    "Action Space",
    "Observation Space",
    "Rewards",
    "Starting State",
    "Episode End",
    "Arguments",
    "Vector env",
    "Version History",
)
# Small but complete episodes: regression/MRP episodes of 3 predictions end (and autoreset)
# several times within the steps below; card frames at the smallest size every card env accepts.
FAST = {
    "icl/LinearRegression-v0": {"n": 3, "noise_std": 0.1},
    "icl/SparseRegression-v0": {"n": 3},
    "icl/ReLUNetRegression-v0": {"n": 3, "hidden": 8},
    "icl/DecisionTreeRegression-v0": {"n": 3},
    "icl/MRPValue-v0": {"n": 3},
    **{env_id: {"obs_mode": "symbolic"} for env_id in CARD_IDS},
    "icl/AssociativeRecall-v0": {"vocab_size": 64, "num_pairs": 3, "seq_len": 16},
    # Trials of a few short sub-episodes, so that several end (and autoreset) within the steps below.
    "icl/Bandit-v0": {"arms": 3, "horizon": 6},
    "icl/DarkRoom-v0": {"size": 3, "horizon": 3, "episodes_per_trial": 2},
    "icl/KeyToDoor-v0": {"size": 3, "horizon": 4, "episodes_per_trial": 2},
}
IMAGE = {"obs_mode": "image", "image_size": 150}


def test_the_table_covers_every_registered_id():
    assert set(IDS) == set(FAST)
    ours = {env_id for env_id in gym.registry if env_id.startswith("icl/")}
    assert ours == set(IDS)
    for env_id, entry_point, vector_entry_point, description in icl_envs.ENVIRONMENTS:
        spec = gym.spec(env_id)
        # String entry points only, so that specs serialise and datasets can record them.
        assert spec.entry_point == entry_point and isinstance(entry_point, str)
        assert spec.vector_entry_point == vector_entry_point and isinstance(vector_entry_point, str)
        assert description.strip()


# ----------------------------------------------------------------------------------- registration
@pytest.mark.parametrize("env_id", IDS)
def test_make_with_module_prefix_in_a_fresh_interpreter(env_id):
    """``gym.make("icl_envs:icl/X-v0")`` must work in a process that never imported icl_envs."""
    code = (
        "import sys, gymnasium as gym\n"
        "assert 'icl_envs' not in sys.modules\n"
        f"env = gym.make('icl_envs:{env_id}', **{FAST[env_id]!r})\n"
        "obs, info = env.reset(seed=0)\n"
        "assert env.observation_space.contains(obs)\n"
        "print(env.spec.id)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == env_id


@pytest.mark.parametrize("env_id", IDS)
def test_spec_serialises_to_json_and_back(env_id):
    env = gym.make(env_id, **FAST[env_id])
    text = env.spec.to_json()
    assert EnvSpec.from_json(text) == env.spec
    assert gym.spec(env_id).to_json()  # the bare registered spec too
    env.close()


@pytest.mark.parametrize("env_id", IDS)
def test_docstring_has_gymnasium_sections(env_id):
    entry_point = gym.spec(env_id).entry_point
    doc = load_env_creator(entry_point).__doc__ or ""
    for section in SECTIONS:
        assert f"## {section}" in doc, f"{entry_point} docstring lacks '## {section}'"
    # In Gymnasium's order, so the docstring reads as the env's manual.
    positions = [doc.index(f"## {section}") for section in SECTIONS]
    assert positions == sorted(positions), f"{entry_point}: sections out of order"


# -------------------------------------------------------------------------------- single env API
@pytest.mark.parametrize("env_id", IDS)
def test_check_env_with_defaults(env_id):
    """The registered defaults (image frames for the card games) pass Gymnasium's checker."""
    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # checker hints (e.g. about unbounded Box observations)
        check_env(env.unwrapped)
    env.close()


def _rollout(env: gym.Env, seed: int, steps: int) -> list:
    """Observations, rewards and ends of ``steps`` steps of random (seeded) actions, resetting as needed."""
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    record = [_flat(obs)]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        record.append((_flat(obs), reward, terminated, truncated))
        if terminated or truncated:
            record.append(_flat(env.reset()[0]))
    return record


def _flat(obs) -> list:
    if isinstance(obs, dict):
        return [_flat(obs[key]) for key in sorted(obs)]
    if isinstance(obs, tuple):
        return [_flat(x) for x in obs]
    return np.asarray(obs).tolist()


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_same_episodes_and_another_seed_differs(env_id):
    kwargs = FAST[env_id]
    first = _rollout(gym.make(env_id, **kwargs), seed=3, steps=40)
    again = _rollout(gym.make(env_id, **kwargs), seed=3, steps=40)
    other = _rollout(gym.make(env_id, **kwargs), seed=4, steps=40)
    assert first == again
    assert first != other


# ---------------------------------------------------------------------------------- vector envs
def _assert_same_tree(a, b, where: str) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same_tree(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_tree(x, y, f"{where}[{i}]")
    else:
        x, y = np.asarray(a), np.asarray(b)
        assert x.dtype == y.dtype, f"{where}: dtype {x.dtype} != {y.dtype}"
        np.testing.assert_array_equal(x, y, err_msg=where)


def _assert_same_info(native: dict, sync: dict, where: str) -> None:
    """Every key the native env reports equals SyncVectorEnv's, with the same ``_key`` masks.

    The native envs may leave out keys that would cost more than a step to build (Blackjack's card
    names, documented), but what they report must be what SyncVectorEnv reports.
    """
    for key in native:
        if key.startswith("_"):
            continue
        assert key in sync, f"{where}: info key {key!r} not in SyncVectorEnv's info"
        mask = np.asarray(sync[f"_{key}"])
        np.testing.assert_array_equal(native[f"_{key}"], mask, err_msg=f"{where}: info mask _{key}")
        x, y = np.asarray(native[key]), np.asarray(sync[key])
        np.testing.assert_array_equal(x[mask], y[mask], err_msg=f"{where}: info[{key!r}]")


def _assert_same_step(native, sync, where: str) -> None:
    for i, (x, y) in enumerate(zip(native[:-1], sync[:-1])):
        _assert_same_tree(x, y, f"{where} item {i}")
    _assert_same_info(native[-1], sync[-1], where)


def _compare_with_sync(env_id: str, kwargs: dict, num_envs: int, steps: int) -> None:
    native = gym.make_vec(env_id, num_envs, **kwargs)
    sync = gym.make_vec(env_id, num_envs, vectorization_mode="sync", **kwargs)
    # make_vec picks the native vector env by default.
    assert not isinstance(native.unwrapped, SyncVectorEnv)
    assert native.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert native.single_observation_space == sync.single_observation_space
    assert native.single_action_space == sync.single_action_space
    assert native.observation_space == sync.observation_space
    assert native.action_space == sync.action_space
    native.action_space.seed(0)
    ended = 0

    def run(label: str, count: int) -> None:
        nonlocal ended
        for step in range(count):
            actions = native.action_space.sample()
            a, b = native.step(actions), sync.step(actions)
            _assert_same_step(a, b, f"{env_id} {label} step {step}")
            assert native.observation_space.contains(a[0])
            ended += int(np.sum(a[2] | a[3]))

    _assert_same_step(native.reset(seed=7), sync.reset(seed=7), f"{env_id} reset(seed=7)")
    run("seeded", steps)
    # Unseeded resets continue each env's own stream; a list gives each env its seed.
    _assert_same_step(native.reset(), sync.reset(), f"{env_id} reset()")
    run("unseeded", steps // 2)
    seeds = [100 + 3 * i for i in range(num_envs)]
    _assert_same_step(native.reset(seed=seeds), sync.reset(seed=seeds), f"{env_id} reset(seed=list)")
    run("listed", steps // 2)
    # A partial reset (reset_mask) mid-episode puts the envs out of step with each other.
    mask = np.arange(num_envs) % 2 == 0
    _assert_same_step(
        native.reset(seed=1, options={"reset_mask": mask.copy()}),
        sync.reset(seed=1, options={"reset_mask": mask.copy()}),
        f"{env_id} reset(reset_mask)",
    )
    run("after a partial reset", steps)
    assert ended > 0, "the comparison never covered an autoreset"
    native.close()
    sync.close()


@pytest.mark.parametrize("env_id", IDS)
def test_make_vec_equals_sync_vector_env(env_id):
    _compare_with_sync(env_id, FAST[env_id], num_envs=4, steps=30)


@pytest.mark.parametrize("env_id", CARD_IDS)
def test_make_vec_equals_sync_vector_env_with_frames(env_id):
    _compare_with_sync(env_id, IMAGE, num_envs=2, steps=8)


@pytest.mark.parametrize("env_id", ["icl/DarkRoom-v0", "icl/KeyToDoor-v0"])
def test_room_frames_vector_equals_sync_vector_env_and_pass_check_env(env_id):
    kwargs = {**FAST[env_id], "obs_mode": "image", "image_size": 24}
    _compare_with_sync(env_id, kwargs, num_envs=3, steps=12)
    check_env(gym.make(env_id, **kwargs).unwrapped, skip_render_check=True)


@pytest.mark.parametrize("env_id", IDS)
def test_vector_env_rejects_bad_calls(env_id):
    envs = gym.make_vec(env_id, 3, **FAST[env_id])
    with pytest.raises(ResetNeeded):
        envs.step(envs.action_space.sample())
    with pytest.raises(ValueError, match="num_envs"):
        gym.make_vec(env_id, 0, **FAST[env_id])
    for seed in ("seven", [1, 2], 2.5, True):
        with pytest.raises(ValueError, match="seed"):
            envs.reset(seed=seed)
    envs.reset(seed=np.int64(3))  # a numpy integer is a seed like an int
    for bad_mask in (np.ones(2, dtype=bool), np.zeros(3, dtype=bool), [True, True, True], np.ones(3)):
        with pytest.raises((ValueError, TypeError), match="reset_mask"):
            envs.reset(options={"reset_mask": bad_mask})
    good = envs.action_space.sample()
    bad_actions = [good[:2], None, "text", np.stack([good, good], axis=-1)]
    if np.issubdtype(good.dtype, np.floating):
        bad_actions += [np.full_like(good, np.nan), np.full_like(good, 1e9)]
    else:
        bad_actions += [good.astype(np.float64) + 0.5, np.full_like(good, envs.single_action_space.n)]
    for actions in bad_actions:
        with pytest.raises(InvalidAction, match="action"):
            envs.step(actions)
    envs.close()


def test_vector_seeds_helper():
    assert vector_seeds(None, 3) == [None, None, None]
    assert vector_seeds(5, 3) == [5, 6, 7]
    assert vector_seeds(np.int32(5), 2) == [5, 6]
    assert vector_seeds([4, None], 2) == [4, None]
    for bad in ([1], "ab", 1.5, False, [1, "x"], [1, -2]):
        with pytest.raises(ValueError, match="seed"):
            vector_seeds(bad, 2)


# ------------------------------------------------------------------ info never gives the answer
# The recall env's info is checked in tests/test_recall.py (a token answer, no context rows).
NUMERIC_IDS = [
    env_id for env_id in IDS if env_id not in CARD_IDS + ICRL_IDS and env_id != "icl/AssociativeRecall-v0"
]
# What each card env's info may hold before the hand ends: the visible state only (issue 3).
CARD_INFO_KEYS = {
    "icl/NumberLine-v0": {"action_mask", "current", "target"},
    "icl/EZPoints-v0": {"action_mask", "cards", "numbers", "formula"},
    "icl/Points24-v0": {"action_mask", "cards", "numbers", "formula"},
    "icl/Blackjack-v0": {"action_mask", "player_cards", "dealer_up_card"},
}


@pytest.mark.parametrize("env_id", NUMERIC_IDS)
def test_info_holds_only_the_target_just_scored(env_id):
    env = gym.make(env_id, **FAST[env_id])
    rng = np.random.default_rng(0)
    for episode in range(3):
        obs, info = env.reset(seed=episode)
        assert info == {}, "reset info must not hold anything about the first question"
        done = False
        while not done:
            length = int(obs["length"])
            assert not obs["context"][length:].any(), "rows past length must be zero"
            action = rng.normal(size=1).astype(np.float32)
            obs, reward, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            assert set(info) == {"target"}
            # The reward scores exactly the target reported, so it is this step's answer.
            assert reward == -((float(action[0]) - info["target"]) ** 2)
            if "Regression" in env_id:  # now revealed as the y of the new context row
                assert np.float32(info["target"]) == obs["context"][length, -1]
    vector = gym.make_vec(env_id, 3, **FAST[env_id])
    _, info = vector.reset(seed=0)
    assert info == {}
    for _ in range(8):
        _, _, _, _, info = vector.step(rng.normal(size=(3, 1)).astype(np.float32))
        assert set(info) <= {"target", "_target"}


@pytest.mark.parametrize("env_id", CARD_IDS)
def test_card_info_holds_only_the_visible_state(env_id):
    env = gym.make(env_id, obs_mode="symbolic")
    env.action_space.seed(0)
    for seed in range(20):
        _, info = env.reset(seed=seed)
        assert set(info) == CARD_INFO_KEYS[env_id]
        assert info["action_mask"].dtype == np.int8
        while True:
            _, _, terminated, truncated, info = env.step(env.action_space.sample())
            assert info["action_mask"].dtype == np.int8
            if terminated or truncated:
                # The step that ends a Blackjack hand may show the dealer's revealed hand.
                assert set(info) - CARD_INFO_KEYS[env_id] <= {"dealer_cards"}
                break
            assert set(info) == CARD_INFO_KEYS[env_id]


@pytest.mark.parametrize("env_id", IDS)
def test_single_env_refuses_to_step_before_reset_and_after_the_end(env_id):
    env = gym.make(env_id, **FAST[env_id]).unwrapped  # no OrderEnforcing wrapper: the env's own check
    with pytest.raises(ResetNeeded):
        env.step(env.action_space.sample())
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(1000):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            break
    assert terminated or truncated
    with pytest.raises(ResetNeeded):
        env.step(env.action_space.sample())
    env.reset()
    env.step(env.action_space.sample())  # a reset makes it steppable again


def test_envs_import_neither_torch_nor_the_other_packages():
    """DESIGN: icl_envs never imports torch, baselines or leaderboard; symbolic play needs no pygame."""
    code = (
        "import sys, gymnasium as gym, icl_envs\n"
        f"for env_id, kwargs in {FAST!r}.items():\n"
        "    env = gym.make(env_id, **kwargs)\n"
        "    env.reset(seed=0)\n"
        "    env.step(env.action_space.sample())\n"
        "loaded = [m for m in ('torch', 'baselines', 'leaderboard', 'pygame') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("env_id", CARD_IDS)
def test_vector_render_equals_sync_vector_env(env_id):
    kwargs = {"obs_mode": "symbolic", "image_size": 150, "render_mode": "rgb_array"}
    native = gym.make_vec(env_id, 2, **kwargs)
    sync = gym.make_vec(env_id, 2, vectorization_mode="sync", **kwargs)
    native.reset(seed=3)
    sync.reset(seed=3)
    for _ in range(3):
        a, b = native.render(), sync.render()
        assert isinstance(a, tuple) and len(a) == len(b) == 2  # a tuple of frames, as SyncVectorEnv
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
        actions = native.action_space.sample()
        native.step(actions)
        sync.step(actions)
