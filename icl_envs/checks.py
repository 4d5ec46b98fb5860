"""Argument and action validation shared by every env.

Each helper raises a ``ValueError`` (or ``gymnasium.error.InvalidAction``) whose message names
the argument and what is allowed, so a user never sees a numpy traceback from deep inside a step.
"""

from __future__ import annotations

import numbers
import reprlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from gymnasium.error import InvalidAction

#: The largest finite float32: an observation value beyond it would be rounded to infinity.
FLOAT32_MAX = float(np.finfo(np.float32).max)

#: About the most memory one env may size from its arguments (a vector env: its sub-envs together).
MAX_ENV_BYTES = 2**30
#: The most sub-envs a native vector env may hold: each has its own random generator (about 2.5 kB
#: and 0.1 ms to create), and past a few thousand a bigger batch steps no faster per env.
MAX_NUM_ENVS = 2**16

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60


def describe(value: Any) -> str:
    """``repr(value)`` cut short for an error message: a hostile argument (a megabyte string, an
    integer too long for ``str``) must not make the message itself huge or raise."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and abs(int(value)) >= 10**30:
        return f"an integer of {int(value).bit_length()} bits"
    try:
        return _SHORT.repr(value)
    except Exception:  # a hostile __repr__
        return f"a {type(value).__name__}"


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise naming ``name`` and the allowed range."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {describe(value)} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {describe(value)}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {describe(value)}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` as a bool, or raise naming ``name``: only True or False (numpy's too), not 0/1."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {describe(value)}")
    return bool(value)


def is_real_number(value: Any) -> bool:
    """An int, a float or a numpy integer or float scalar, and not a bool: what a float argument may be.
    Strings and bytes are not numbers, even when ``float()`` would read them."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    below: float | None = None,
) -> float:
    """Return ``value`` as a finite float within bounds (``below`` is an exclusive upper bound).

    Only real numbers are accepted (see :func:`is_real_number`): ``"0.5"`` or ``b"0.5"`` is refused,
    as every float argument of every env refuses it."""
    if not is_real_number(value):
        raise ValueError(f"{name} must be a real number, got {describe(value)} ({type(value).__name__})")
    try:
        value = float(value)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"{name} must be finite, got {describe(value)}") from None
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    if below is not None and value >= below:
        raise ValueError(f"{name} must be < {below}, got {value}")
    return value


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise listing the allowed values.

    A value matches an allowed string only if it is a string (1 never matches True, nor an array
    anything), and None or a bool only by identity."""
    allowed = tuple(allowed)
    if not any(_is_choice(value, option) for option in allowed):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {describe(value)}")
    return value


def _is_choice(value: Any, option: Any) -> bool:
    if option is None or isinstance(option, bool):
        return value is option
    return isinstance(value, type(option)) and not isinstance(value, bool) and bool(value == option)


def check_reset_options(options: Any, allowed: tuple[str, ...], hint: str) -> dict[str, Any]:
    """``reset``'s ``options`` as a dict (empty for None), refusing any key not in ``allowed``.

    Every env refuses what it would otherwise ignore, so a misspelt option never goes unnoticed;
    ``hint`` says what the env takes instead (e.g. "a Blackjack deal cannot be chosen")."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValueError(f"options must be a dict or None, got {describe(options)}")
    unknown = [key for key in options if key not in allowed]
    if unknown:
        takes = f"may only hold {', '.join(map(repr, allowed))}" if allowed else "must be empty or None"
        keys = ", ".join(describe(key) for key in unknown)
        raise ValueError(f"options {takes}; got unknown keys {keys}; {hint}")
    return dict(options)


def check_memory(nbytes: int, arguments: str) -> None:
    """Raise a ``ValueError`` naming ``arguments`` (e.g. "num_envs=50000") when the arrays an env
    would size from them take more than :data:`MAX_ENV_BYTES`; called before anything is allocated."""
    if nbytes > MAX_ENV_BYTES:
        raise ValueError(
            f"{arguments}: the env's arrays would take about {nbytes / 2**20:,.0f} MiB, more than the "
            f"{MAX_ENV_BYTES // 2**20:,} MiB an env may use; choose smaller sizes"
        )


def check_scalar_action(action: Any, bound: float) -> float:
    """Validate a one-number prediction (shape () or (1,)) and return it as a float."""
    array = np.asarray(action, dtype=np.float64) if _is_numeric(action) else None
    if array is None or array.size != 1 or array.ndim > 1:
        raise InvalidAction(f"action must be a single number of shape (1,), got {action!r}")
    value = float(array.reshape(()))
    if not np.isfinite(value):
        raise InvalidAction(f"action must be finite, got {value}")
    if abs(value) > bound:
        raise InvalidAction(f"action {value} is outside the action space [-{bound}, {bound}] (action_bound)")
    return value


def check_batch_actions(actions: Any, num_envs: int, bound: float) -> np.ndarray:
    """Validate a vector env's predictions, shape (num_envs,) or (num_envs, 1); return (num_envs,)."""
    if not _is_numeric(actions):
        raise InvalidAction(f"actions must be numbers of shape ({num_envs}, 1), got {type(actions).__name__}")
    array = np.asarray(actions, dtype=np.float64)
    if array.shape not in ((num_envs,), (num_envs, 1)):
        raise InvalidAction(f"actions must have shape ({num_envs}, 1), got {array.shape}")
    array = array.reshape(num_envs)
    if not np.all(np.isfinite(array)):
        raise InvalidAction(
            f"actions must be finite; env indices {np.flatnonzero(~np.isfinite(array)).tolist()} are not"
        )
    if np.any(np.abs(array) > bound):
        raise InvalidAction(f"actions must lie in [-{bound}, {bound}] (action_bound)")
    return array


def check_discrete_action(action: Any, n: int) -> int:
    """Validate an action of a ``Discrete(n)`` space and return it as an int."""
    if isinstance(action, np.ndarray) and action.shape == ():
        action = action.item()
    if isinstance(action, bool) or not isinstance(action, (int, np.integer)) or not 0 <= int(action) < n:
        raise InvalidAction(f"action must be an integer in [0, {n - 1}], got {action!r}")
    return int(action)


def check_discrete_actions(actions: Any, num_envs: int, n: int) -> np.ndarray:
    """Validate a vector env's actions of a ``Discrete(n)`` space, one per env; return them as int64.

    As int64 whatever integer type they came in, so arithmetic on them (``2 * action - 1``) cannot
    wrap around an unsigned type nor turn into floats when mixed with int64 state. Anything numpy
    cannot make an array of (ragged lists, objects whose ``__array__`` fails) is an invalid action too.
    """
    try:
        array = np.asarray(actions)
    except Exception:
        raise InvalidAction(
            f"actions must be {num_envs} integers in [0, {n - 1}], got {describe(actions)} (not an array)"
        ) from None
    if array.shape != (num_envs,) or array.dtype.kind not in "iu":
        raise InvalidAction(
            f"actions must be {num_envs} integers in [0, {n - 1}] (shape ({num_envs},)), "
            f"got shape {array.shape} dtype {array.dtype}"
        )
    bad = (array < 0) | (array >= n)
    if bad.any():
        raise InvalidAction(
            f"actions must be integers in [0, {n - 1}]; env indices {np.flatnonzero(bad).tolist()} are not"
        )
    return array.astype(np.int64, copy=False)


def _is_numeric(value: Any) -> bool:
    try:
        return np.asarray(value).dtype.kind in "biuf"
    except Exception:
        return False


def vector_seeds(seed: Any, num_envs: int) -> list[int | None]:
    """A vector env's ``reset(seed=...)`` as one seed (or None) per sub-env, as ``SyncVectorEnv``
    reads it: None for all, an int s gives env i the seed s + i, a list gives each env its own.

    Numpy integers count as ints; anything else (a string, a float, a list of the wrong length or
    with a negative or non-integer entry) raises a ``ValueError`` naming ``seed``.
    """
    if seed is None:
        return [None] * num_envs
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        seeds: list[Any] = [int(seed) + i for i in range(num_envs)]
    elif isinstance(seed, (list, tuple, np.ndarray)):
        seeds = list(seed)
        if len(seeds) != num_envs:
            raise ValueError(
                f"seed must be None, an int or a list of num_envs={num_envs} seeds; got {len(seeds)}"
            )
    else:
        raise ValueError(f"seed must be None, an int or a list of num_envs={num_envs} seeds; got {seed!r}")
    for s in seeds:
        if s is not None and (isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0):
            raise ValueError(f"seed must hold non-negative integers or None, got {s!r} in {seed!r}")
    return [None if s is None else int(s) for s in seeds]


def vector_reset_mask(options: Any, num_envs: int) -> np.ndarray | None:
    """``options["reset_mask"]`` of a vector env's ``reset`` checked as ``SyncVectorEnv`` checks it
    (a bool numpy array of shape (num_envs,) with a True entry), or None when there is none."""
    if not options or "reset_mask" not in options:
        return None
    mask = options["reset_mask"]
    if (
        not isinstance(mask, np.ndarray)
        or mask.shape != (num_envs,)
        or mask.dtype != np.bool_
        or not mask.any()
    ):
        raise ValueError(
            f"options['reset_mask'] must be a bool numpy array of shape ({num_envs},) with a True entry, got {mask!r}"
        )
    return mask
