"""Hostile arguments, for every registered env (issue 10): bounded sizes, finite numbers, one rule.

- every size argument has an upper bound, and a vector env's sub-envs together fit in about 1 GiB:
  a size too large raises a ``ValueError`` naming the argument at once, before any allocation;
- arguments that could make a target, an observation or a squared error infinite are bounded, and a
  plugged-in generator's tasks are checked (finite, within float32), the error naming the generator;
- one rule for all: unknown ``reset`` options are refused, float arguments take only real numbers,
  flags only True or False, and a ragged batch of discrete actions is an ``InvalidAction``;
- a hypothesis property: random argument values either raise a ``ValueError`` naming an argument,
  quickly, or give an env whose observations and rewards are finite.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from fractions import Fraction

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import load_env_creator
from gymnasium.error import InvalidAction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import icl_envs
from icl_envs.checks import FLOAT32_MAX, check_float, check_int, describe
from icl_envs.mrp.generators import MRPTasks
from icl_envs.multi import blackjack_table_v0 as table
from icl_envs.regression.generators import LinearRegressionTasks
from leaderboard.harness import make_vector_env
from leaderboard.protocol import SEED_SPACING, suites

IDS = [env_id for env_id, *_ in icl_envs.ENVIRONMENTS]
CARD_IDS = ["icl/NumberLine-v0", "icl/EZPoints-v0", "icl/Points24-v0", "icl/Blackjack-v0"]
SMALL = {env_id: {"obs_mode": "symbolic"} for env_id in CARD_IDS}
SMALL["icl/AssociativeRecall-v0"] = {"vocab_size": 64, "num_pairs": 3, "seq_len": 16}
SMALL |= {"icl/Bandit-v0": {"horizon": 3}, "icl/DarkRoom-v0": {"size": 3}, "icl/KeyToDoor-v0": {"size": 3}}
#: Envs without a float argument: the card games and the rooms (sizes and counts only).
NO_FLOAT_IDS = [*CARD_IDS, "icl/DarkRoom-v0", "icl/KeyToDoor-v0"]
#: What "at once" means: the old code spent 13 s before a MemoryError on d=10**9.
QUICK = 1.0


def single_class(env_id: str):
    return load_env_creator(gym.spec(env_id).entry_point)


def vector_class(env_id: str):
    return load_env_creator(gym.spec(env_id).vector_entry_point)


def _parameters(env_id: str, kind: type) -> list[str]:
    """The env's arguments whose default is of type ``kind`` (bools are not ints here)."""
    parameters = inspect.signature(single_class(env_id)).parameters.values()
    return [
        p.name
        for p in parameters
        if type(p.default) is kind  # noqa: E721 (exact type: True is not an int argument)
    ]


def _refused_quickly(argument: str, make, *args, **kwargs) -> ValueError:
    """``make(*args, **kwargs)`` raises a ValueError matching ``argument`` within QUICK seconds."""
    start = time.perf_counter()
    with pytest.raises(ValueError, match=argument) as error:
        make(*args, **kwargs)
    assert time.perf_counter() - start < QUICK, (
        f"{argument}: refused only after {time.perf_counter() - start:.1f} s"
    )
    return error.value


# --------------------------------------------------------------------------------- size bounds
@pytest.mark.parametrize("env_id", IDS)
def test_every_size_argument_has_an_upper_bound(env_id):
    sizes = _parameters(env_id, int)
    assert sizes, env_id  # every env has at least one (n, d, max_position, image_size, ...)
    for name in sizes:
        for huge in (10**9, 2**63, 10**5000):  # the last one has more digits than str() allows
            error = _refused_quickly(name, single_class(env_id), **{name: huge})
            assert "must be <=" in str(error) and len(str(error)) < 300
        _refused_quickly(name, vector_class(env_id), 2, **{name: 10**9})
    _refused_quickly("num_envs", vector_class(env_id), 10**9)


@pytest.mark.parametrize(
    ("env_id", "kwargs", "message"),
    [
        ("icl/LinearRegression-v0", {"d": 1024, "n": 4096}, r"n \* d must be <= 1048576"),
        (
            "icl/LinearRegression-v0",
            {"d": 257, "covariance": "rotated"},
            "d must be <= 256 with covariance='rotated'",
        ),
        ("icl/SparseRegression-v0", {"d": 512, "n": 4096}, r"n \* d"),
        ("icl/ReLUNetRegression-v0", {"d": 1024, "hidden": 2048}, r"hidden \* d must be <="),
        ("icl/ReLUNetRegression-v0", {"d": 64, "hidden": 2048, "n": 4096}, r"n \* hidden \* d must be <="),
        ("icl/DecisionTreeRegression-v0", {"depth": 13}, "depth must be <= 12"),
        ("icl/MRPValue-v0", {"num_states": 1025}, "num_states must be <= 1024"),
        ("icl/MRPValue-v0", {"d": 512, "n": 4096}, r"n \* d must be <="),
        ("icl/NumberLine-v0", {"max_position": 21}, "max_position must be <= 20"),
        ("icl/Blackjack-v0", {"image_size": 2049}, "image_size must be <= 2048"),
    ],
)
def test_products_of_sizes_are_bounded(env_id, kwargs, message):
    _refused_quickly(message, single_class(env_id), **kwargs)
    _refused_quickly(message, vector_class(env_id), 2, **kwargs)


@pytest.mark.parametrize(
    ("env_id", "num_envs", "kwargs"),
    [
        ("icl/LinearRegression-v0", 65536, {"d": 20, "n": 100}),  # 6 GiB of task draws and episodes
        ("icl/MRPValue-v0", 100, {"num_states": 1024}),  # 100 MRPs of 1024 x 1024 matrices
        ("icl/Blackjack-v0", 1000, {"obs_mode": "image", "image_size": 2048}),  # 1000 frames of 12 MB
        ("icl/Points24-v0", 65536, {"obs_mode": "image"}),
    ],
)
def test_a_vector_env_refuses_more_sub_envs_than_fit_in_memory(env_id, num_envs, kwargs):
    error = _refused_quickly(f"num_envs={num_envs}", gym.make_vec, env_id, num_envs, **kwargs)
    assert "MiB" in str(error) and "at most" in str(error)


@pytest.mark.parametrize("suite", sorted(suites()))
def test_every_suite_entry_fits_its_limits(suite):
    # The harness plays each entry's episodes in one vector env of that many sub-envs.
    for entry in suites()[suite].entries:
        make_vector_env(entry, text_actions=suites()[suite].actions == "text").close()


def test_large_batches_at_suite_sizes_stay_open():
    # SEED_SPACING (10 000) episodes in one vector env, and a larger research size.
    for env_id in ("icl/LinearRegression-v0", "icl/MRPValue-v0", "icl/Blackjack-v0"):
        gym.make_vec(env_id, SEED_SPACING, **SMALL.get(env_id, {})).close()
    gym.make_vec("icl/ReLUNetRegression-v0", 5000).close()  # its hidden layer: about 180 kB per env
    gym.make_vec("icl/LinearRegression-v0", 8000, d=20, n=100).close()


def test_generators_bound_the_tasks_they_draw_at_once():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="batch=10000000"):
        LinearRegressionTasks().sample_batch(rng, 10**7, 20)
    with pytest.raises(ValueError, match="n must be <= 4096"):
        LinearRegressionTasks().sample(rng, 10**6)
    with pytest.raises(ValueError, match="batch=100000"):
        MRPTasks(num_states=1024).sample_batch(rng, 10**5, 10)
    with pytest.raises(ValueError, match="num_states"):
        MRPTasks(num_states=10**6)


# ---------------------------------------------------------------------------- finite numbers
@pytest.mark.parametrize(
    ("env_id", "kwargs", "argument"),
    [
        ("icl/LinearRegression-v0", {"noise_std": 1e40}, "noise_std"),  # old: -inf rewards
        ("icl/LinearRegression-v0", {"noise_std": 1e300}, "noise_std"),
        ("icl/SparseRegression-v0", {"noise_std": 1e7}, "noise_std"),
        (
            "icl/LinearRegression-v0",
            {"covariance": "rotated", "eigenvalues": [1e300] * 5},
            r"eigenvalues\[0\]",
        ),
        (
            "icl/LinearRegression-v0",
            {"covariance": "rotated", "eigenvalues": [1, 1, 1, 1, 1e-300]},
            r"eigenvalues\[4\]",
        ),
        ("icl/LinearRegression-v0", {"action_bound": 1e300}, "action_bound"),  # float32 box: inf
        ("icl/MRPValue-v0", {"action_bound": 1e39}, "action_bound"),
        ("icl/MRPValue-v0", {"action_bound": -1.0}, "action_bound"),
    ],
)
def test_arguments_that_could_overflow_are_refused(env_id, kwargs, argument):
    _refused_quickly(argument, single_class(env_id), **kwargs)


def _finite_rollout(env: gym.Env, actions, steps: int = 6) -> None:
    obs, _ = env.reset(seed=0)
    for step in range(steps):
        obs, reward, terminated, truncated, _ = env.step(actions[step % len(actions)])
        assert np.isfinite(reward), reward
        for key in ("context", "query"):
            assert np.all(np.isfinite(obs[key])), key
        if terminated or truncated:
            obs, _ = env.reset()


def test_the_extreme_valid_arguments_keep_every_number_finite():
    bound = 1e12
    actions = [np.array([bound], dtype=np.float32), np.array([-bound], dtype=np.float32)]
    extremes = [
        single_class("icl/LinearRegression-v0")(
            d=5,
            n=4,
            noise_std=1e6,
            covariance="rotated",
            weight_prior=prior,
            eigenvalues=[1e6, 1e-6, 1e6, 1e-6, 1e6],
            action_bound=bound,
        )
        for prior in ("identity", "inverse_covariance")
    ]
    extremes.append(single_class("icl/LinearRegression-v0")(d=1024, n=4, noise_std=1e6, action_bound=bound))
    extremes.append(
        single_class("icl/ReLUNetRegression-v0")(d=64, hidden=4096, n=4, noise_std=1e6, action_bound=bound)
    )
    extremes.append(
        single_class("icl/MRPValue-v0")(n=4, gamma=float(np.nextafter(1.0, 0.0)), action_bound=bound)
    )
    for env in extremes:
        _finite_rollout(env, actions)


@dataclass
class HugeTask:
    inputs: np.ndarray
    targets: np.ndarray


class HugeTargets:
    """A plugged-in regression generator whose targets are finite in float64 but not in float32."""

    d = 2

    def __init__(self, scale: float):
        self.scale = scale

    def sample(self, rng, n):
        return HugeTask(rng.standard_normal((n, 2)), self.scale * np.ones(n))

    def __repr__(self) -> str:
        return f"HugeTargets({self.scale})"


@pytest.mark.parametrize("scale", [1e39, 1e200, np.inf])
def test_a_plugged_in_regression_generator_with_huge_targets_is_named(scale):
    env = gym.make("icl/LinearRegression-v0", generator=HugeTargets(scale), n=3).unwrapped
    with pytest.raises(ValueError, match=r"generator: HugeTargets\(.*\) gave a task whose targets"):
        env.reset(seed=0)
    envs = gym.make_vec("icl/LinearRegression-v0", 2, generator=HugeTargets(scale), n=3)
    with pytest.raises(ValueError, match=r"generator: HugeTargets\(.*\) gave a task whose targets"):
        envs.reset(seed=0)
    # Within float32 it plays, and its squared errors stay finite even at the largest bound.
    env = gym.make("icl/LinearRegression-v0", generator=HugeTargets(3e38), n=3, action_bound=1e12).unwrapped
    _finite_rollout(env, [np.array([-1e12], dtype=np.float32)], steps=3)


class HugeMRP:
    """A plugged-in MRP generator whose task is MRPTasks' with one field made hostile."""

    def __init__(self, field: str, value, objective: str = "discounted"):
        self.field, self.value = field, value
        self.inner = MRPTasks(objective=objective)

    def sample(self, rng, n):
        task = self.inner.sample(rng, n)
        fields = {name: getattr(task, name) for name in task.__dataclass_fields__}
        fields[self.field] = self.value(fields[self.field]) if callable(self.value) else self.value
        return type(task)(**fields)

    def __repr__(self) -> str:
        return f"HugeMRP({self.field})"


@pytest.mark.parametrize(
    ("field", "value", "objective", "message"),
    [
        ("rewards", lambda r: r * 1e39, "discounted", "rewards"),
        ("features", lambda f: f * 1e300, "discounted", "features"),
        ("rewards", lambda r: r * np.nan, "discounted", "rewards"),
        ("gamma", 1e300, "discounted", "gamma"),
        ("gamma", 1.0, "discounted", "gamma"),  # I - P is singular: no discounted value
        # A chain that never moves has no differential value (the fundamental matrix is singular).
        (
            "transitions",
            lambda p: np.broadcast_to(np.eye(p.shape[-1]), p.shape).copy(),
            "average_reward",
            "values",
        ),
        # Rewards within float32 whose values (10 times larger, gamma = 0.9) are not.
        ("rewards", lambda r: np.full_like(r, 3e38), "discounted", "targets"),
    ],
)
def test_a_plugged_in_mrp_generator_with_huge_numbers_is_named(field, value, objective, message):
    generator = HugeMRP(field, value, objective)
    kwargs = {"generator": generator, "n": 3, "objective": objective, "gamma": generator.inner.gamma}
    env = gym.make("icl/MRPValue-v0", **kwargs).unwrapped
    with pytest.raises(ValueError, match=rf"generator: HugeMRP\({field}\).*{message}"):
        env.reset(seed=0)
    envs = gym.make_vec("icl/MRPValue-v0", 2, **kwargs)
    with pytest.raises(ValueError, match=rf"generator: HugeMRP\({field}\).*{message}"):
        envs.reset(seed=0)


# ------------------------------------------------------------------------------ one rule for all
@pytest.mark.parametrize("env_id", IDS)
def test_every_env_refuses_unknown_reset_options(env_id):
    env = single_class(env_id)(**SMALL.get(env_id, {"n": 3}))
    for options in ({"bogus": 1}, {"seed": 3}, {"reset_mask": np.ones(1, dtype=bool)}):
        with pytest.raises(ValueError, match=repr(next(iter(options)))):
            env.reset(seed=0, options=options)
    with pytest.raises(ValueError, match="options must be a dict"):
        env.reset(seed=0, options=["bogus"])
    env.reset(seed=0, options={})  # what SyncVectorEnv passes on after a masked reset
    env.reset(seed=0, options=None)
    envs = vector_class(env_id)(2, **SMALL.get(env_id, {"n": 3}))
    with pytest.raises(ValueError, match="'bogus'"):
        envs.reset(seed=0, options={"bogus": 1})


@pytest.mark.parametrize("env_id", IDS)
def test_float_arguments_take_real_numbers_only(env_id):
    floats = _parameters(env_id, float)
    if env_id in NO_FLOAT_IDS:
        assert floats == []
        return
    assert floats
    for name in floats:
        for bad in ("0.5", b"0.5", True, np.bool_(False), [0.5], np.array([0.5]), 1j, None):
            _refused_quickly(name, single_class(env_id), **{name: bad})
        value = inspect.signature(single_class(env_id)).parameters[name].default
        for good in (np.float32(value), np.float64(value), Fraction(value).limit_denominator(1000)):
            single_class(env_id)(**{name: good})


def test_check_float_and_check_int_describe_hostile_values_briefly():
    for bad, shown in (("x" * 10**6, "'xxx"), (b"\x00" * 10**6, "b'\\x00"), (10**5000, "bits")):
        with pytest.raises(ValueError, match="noise_std") as error:
            check_float("noise_std", bad)
        assert shown in str(error.value) and len(str(error.value)) < 200
    with pytest.raises(ValueError, match="noise_std must be finite"):
        check_float("noise_std", 10**400)  # too large for a float: not an OverflowError
    with pytest.raises(ValueError, match="d must be <= 5, got an integer of 16610 bits"):
        check_int("d", 10**5000, maximum=5)
    assert describe(np.int64(3)) in ("3", "np.int64(3)") and describe(-(10**40)).endswith("bits")


FLAGS = [
    (lambda **kw: single_class("icl/Blackjack-v0")(**kw), "natural"),
    (lambda **kw: single_class("icl/Blackjack-v0")(**kw), "sab"),
    (lambda **kw: single_class("icl/Points24-v0")(**kw), "solvable_only"),
    (lambda **kw: vector_class("icl/Points24-v0")(2, **kw), "solvable_only"),
    (table.parallel_env, "natural"),
    (table.parallel_env, "sab"),
    (table.env, "natural"),
]


@pytest.mark.parametrize(("make", "flag"), FLAGS)
def test_flags_take_only_true_or_false_everywhere(make, flag):
    for bad in (1, 0, 1.0, np.int64(1), "True", None):
        _refused_quickly(flag, make, **{flag: bad})
    for good in (True, False, np.True_, np.False_):
        make(**{flag: good})


@pytest.mark.parametrize("env_id", CARD_IDS)
def test_a_ragged_batch_of_card_actions_is_an_invalid_action(env_id):
    envs = gym.make_vec(env_id, 2, vectorization_mode="vector_entry_point", obs_mode="symbolic")
    envs.reset(seed=0)
    for ragged in ([[0], [1, 0]], [0, [1]], [[0, 1], 1], np.array([0, [1]], dtype=object)):
        with pytest.raises(InvalidAction, match="actions must be 2 integers"):
            envs.step(ragged)
    envs.step(np.zeros(2, dtype=np.int64))  # the env is still usable


# ---------------------------------------------------------------------- property: random arguments
_INTS = st.one_of(
    st.integers(-3, 40),
    st.sampled_from([10**9, 2**63, -(2**63), 10**5000, 4097, 1025, 257, 65537, 2049, 21, 13]),
)
_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e300, -1e300, 1e40, 1e39, 3.5e38, 1e13, 1e12, 1e6, 0.0, -0.0, 0.999999999]),
)
_OTHERS = st.one_of(
    st.text(max_size=6), st.binary(max_size=6), st.booleans(), st.none(), st.lists(st.integers(), max_size=3)
)
_HOSTILE = st.one_of(_INTS, _FLOATS, _OTHERS)


def _plausible(default):
    """Values near the default, so that about half the draws build an env that must then work."""
    if type(default) is int:  # noqa: E721 (not bool)
        return st.integers(1, 40)
    if type(default) is float:  # noqa: E721
        return st.floats(0.0, 1.0)
    return st.just(default)


def _all_finite(value) -> bool:
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, tuple):
        return all(_all_finite(v) for v in value)
    array = np.asarray(value)
    return array.dtype.kind not in "fc" or bool(np.all(np.isfinite(array)))


@given(env_id=st.sampled_from(IDS), vector=st.booleans(), data=st.data())
@settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_random_arguments_are_refused_by_name_or_give_finite_numbers(env_id, vector, data):
    parameters = inspect.signature(single_class(env_id)).parameters
    names = list(parameters)
    chosen = data.draw(
        st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True), label="arguments"
    )
    kwargs = {}
    for name in chosen:  # a hostile value for one argument in three or so, a plausible one otherwise
        plausible = _plausible(parameters[name].default)
        kwargs[name] = data.draw(st.one_of(plausible, plausible, _HOSTILE), label=name)
    if env_id in CARD_IDS and "obs_mode" not in kwargs:
        kwargs["obs_mode"] = "symbolic"  # frames work alike and cost more; the property is the same
    num_envs = data.draw(st.one_of(st.integers(1, 8), _INTS), label="num_envs") if vector else None
    start = time.perf_counter()
    try:
        env = vector_class(env_id)(num_envs, **kwargs) if vector else single_class(env_id)(**kwargs)
        env.action_space.seed(0)
        obs, _ = env.reset(seed=0)
    except ValueError as error:
        assert time.perf_counter() - start < QUICK
        # It names an argument: usually one drawn, or one it conflicts with (d=1 refuses k=3).
        named = [*names, "num_envs"] if vector else names
        event("refused")
        assert any(name in str(error) for name in named), (kwargs, num_envs, error)
        return
    event("built")
    assert _all_finite(obs)
    for _ in range(4):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert _all_finite(obs) and np.all(np.isfinite(reward)), (kwargs, reward)
        if not vector and (terminated or truncated):
            obs, _ = env.reset()
    env.close()


def test_float32_max_is_what_the_checks_use():
    assert np.isfinite(np.float32(FLOAT32_MAX)) and not np.isfinite(np.float32(FLOAT32_MAX) * np.float32(2))
