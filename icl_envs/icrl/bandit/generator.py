"""The bandit's tasks: the arms' means and the noise of every pull of the trial, and their generator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from icl_envs.checks import check_choice, check_float, check_int, describe

REWARDS = ("bernoulli", "gaussian")
MAX_ARMS = 1024


@dataclass(frozen=True)
class BanditTask:
    """``means[k]``: arm k's mean reward. ``noise[t]``: the noise of pull t (a uniform in [0, 1) for
    Bernoulli arms, paying ``noise[t] < means[a]``; a standard normal for Gaussian arms, paying
    ``means[a] + noise_std * noise[t]``). Pull t's noise is independent of everything before it, so
    whichever arm is pulled pays a fresh draw of its distribution."""

    means: np.ndarray
    noise: np.ndarray


class BanditGenerator:
    """Bernoulli arms: means uniform in [0, 1] (the uniform prior). Gaussian arms: means ~ N(0, 1)."""

    def __init__(self, arms: int = 5, horizon: int = 100, reward: str = "bernoulli"):
        self.arms = check_int("arms", arms, minimum=2, maximum=MAX_ARMS)
        self.horizon = check_int("horizon", horizon, minimum=1)
        self.reward = check_choice("reward", reward, REWARDS)

    def sample(self, np_random: np.random.Generator) -> BanditTask:
        if self.reward == "bernoulli":
            return BanditTask(np_random.random(self.arms), np_random.random(self.horizon))
        return BanditTask(np_random.standard_normal(self.arms), np_random.standard_normal(self.horizon))


def check_bandit_task(task: Any, arms: int, horizon: int, reward: str) -> None:
    """A generator's task must hold ``arms`` finite means and ``horizon`` noise values of its kind."""
    means = np.asarray(getattr(task, "means", None))
    noise = np.asarray(getattr(task, "noise", None))
    ok = (
        means.shape == (arms,)
        and noise.shape == (horizon,)
        and means.dtype.kind == "f"
        and noise.dtype.kind == "f"
        and np.isfinite(means).all()
        and np.isfinite(noise).all()
    )
    if ok and reward == "bernoulli":
        ok = bool(((means >= 0) & (means <= 1)).all() and ((noise >= 0) & (noise < 1)).all())
    if not ok:
        raise ValueError(
            f"generator produced an invalid task {describe(task)}: expected means of shape ({arms},) "
            f"and noise of shape ({horizon},)" + (", both in [0, 1]" if reward == "bernoulli" else ", finite")
        )


def check_noise_std(noise_std: Any) -> float:
    return check_float("noise_std", noise_std, minimum=0.0, maximum=1e3)
