"""What one episode of an env can pay and how long it can last, declared by the env itself.

Every registered env has ``episode_bounds()``: an :class:`EpisodeBounds` computed from the
arguments it was built with (``gym.make(id, **kwargs).unwrapped.episode_bounds()``). The leaderboard
rejects a results file holding an episode outside its env's bounds, so a score cannot be made of
returns that no play of the env produces (a Blackjack hand paying +1.5 without ``natural``). The
bounds are the rules' own limits, not typical values: ``tests/test_bounds.py`` plays every env at
random and checks that no episode leaves them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class EpisodeBounds:
    """An episode's return lies in ``[min_return, max_return]`` and its length (steps up to and
    including the one that terminates or truncates it) in ``[min_length, max_length]``."""

    min_return: float
    max_return: float
    min_length: int
    max_length: int
    #: Every reward a single step can pay, where the rules pay from a finite set (the games); an
    #: episode's return is then a sum of ``length`` of them. None where rewards form a continuum.
    step_rewards: tuple[float, ...] | None = None
    #: Every step pays minus a squared error (the in-context prediction envs), so a results file
    #: records the mean error at each step as well as the returns.
    squared_error: bool = False
    #: Every episode is a trial of this many sub-episodes (the in-context RL envs), so a results
    #: file records the mean return of each sub-episode (the learning curve). None otherwise.
    sub_episodes: int | None = None

    def __post_init__(self) -> None:
        if not (self.min_return <= self.max_return and 1 <= self.min_length <= self.max_length):
            raise ValueError(f"inconsistent episode bounds: {self}")

    def problem(self, episode_return: float, length: int) -> str | None:
        """Why an episode of this return and length cannot happen, or None when it can."""
        return self.length_problem(length) or self.return_problem(episode_return, length)

    def length_problem(self, length: int) -> str | None:
        if self.min_length <= length <= self.max_length:
            return None
        return f"lasts {length} steps; an episode lasts {_range(self.min_length, self.max_length)} steps"

    def return_problem(self, episode_return: float, length: int) -> str | None:
        """Why an episode of ``length`` steps cannot return ``episode_return``, or None."""
        if not self.min_return <= episode_return <= self.max_return:
            return (
                f"returns {episode_return!r}; an episode returns {_range(self.min_return, self.max_return)}"
            )
        if self.step_rewards is not None and episode_return not in _sums(self.step_rewards, length):
            return (
                f"returns {episode_return!r}, which is no sum of {length} step rewards "
                f"from {{{', '.join(map(_number, self.step_rewards))}}}"
            )
        return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _range(low: float, high: float) -> str:
    return f"exactly {_number(low)}" if low == high else f"from {_number(low)} to {_number(high)}"


@functools.lru_cache(maxsize=1024)
def _sums(step_rewards: tuple[float, ...], length: int) -> frozenset[float]:
    """Every sum of ``length`` rewards from ``step_rewards``, added in float64 from 0 as the harness
    adds them (exact for the games' rewards: small integers and halves)."""
    sums = frozenset([0.0])
    for _ in range(length):
        sums = frozenset(total + reward for total in sums for reward in step_rewards)
    return sums
