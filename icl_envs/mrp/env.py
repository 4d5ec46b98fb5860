"""In-context policy evaluation: predict the value of each new state of an MRP from its transitions."""

from __future__ import annotations

from typing import Any

import numpy as np

from icl_envs.checks import check_choice, check_float, check_reset_options, describe
from icl_envs.mrp.generators import MRPTask, MRPTasks, stack_tasks
from icl_envs.prediction import (
    PredictionEnv,
    check_action_bound,
    check_task_values,
    prediction_action_space,
    prediction_observation_space,
)


def check_generator(generator: Any, d: int, objective: str) -> None:
    """A plugged-in generator must sample tasks; if it says its d or objective, they must agree."""
    if not callable(getattr(generator, "sample", None)):
        raise ValueError(
            f"generator must have a sample(rng, n) method returning an MRPTask, got {describe(generator)}"
        )
    if getattr(generator, "d", d) != d:
        raise ValueError(f"generator has d={generator.d} but the env was made with d={d}; pass the same d")
    if getattr(generator, "objective", objective) != objective:
        raise ValueError(
            f"generator has objective={describe(generator.objective)} but the env was made with objective={objective!r}"
        )


def check_task(task: Any, n: int, d: int, generator: Any, batch: int | None = None) -> None:
    """Raise a clear error naming ``generator`` unless its task is an ``MRPTask`` whose arrays fit
    the env (S states, d features, a trajectory of n + 1 states in range), with a leading ``batch``
    axis when given, whose numbers and targets are finite and within float32's range, and whose
    gamma is in [0, 1): anything else would fail deep inside ``reset`` or ``step``, or put inf in
    an observation or a reward."""
    if not isinstance(task, MRPTask):
        raise ValueError(
            f"generator: {describe(generator)}'s sample(rng, n) must return an MRPTask, got {type(task).__name__}"
        )
    lead = () if batch is None else (batch,)
    num_states = np.shape(task.transitions)[-1] if np.ndim(task.transitions) else 0
    expected = {
        "transitions": (*lead, num_states, num_states),
        "rewards": (*lead, num_states),
        "features": (*lead, num_states, d),
        "stationary": (*lead, num_states),
        "states": (*lead, n + 1),
    }
    for name, shape in expected.items():
        check_task_values(generator, name, getattr(task, name), shape)
    states = np.asarray(task.states)
    if states.dtype.kind not in "iu" or states.min() < 0 or states.max() >= num_states:
        raise ValueError(
            f"generator: {describe(generator)}'s task states must be integers in [0, {num_states}), "
            f"got {describe(states)}"
        )
    try:
        check_float("gamma", task.gamma, minimum=0.0, below=1.0)
    except ValueError as error:
        raise ValueError(f"generator: {describe(generator)}'s task: {error}") from None
    try:
        targets = task.targets
    except np.linalg.LinAlgError as error:
        raise ValueError(f"generator: {describe(generator)}'s task has no values ({error})") from None
    check_task_values(generator, "targets (values)", targets, np.shape(task.rewards))


def episode_arrays(
    tasks: MRPTask, out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Everything the env shows and scores over one episode of each task in a batch.

    Returns ``rows`` (B, n, 2d+1) float32, row i = [phi(s_i), c phi(s_{i+1}), r(s_i)] with
    c = ``tasks.row_discount`` (revealed after step i); ``queries`` (B, n+1, d) float32, phi(s_t)
    (t = n is the final observation's); ``targets`` (B, n) float64, the target scored at step t.
    ``out`` optionally gives the three arrays to write into. Both envs use this one function, so
    they show the same numbers; gathers go through flat (task * S + state) indices, much faster
    than 2-D fancy indexing.
    """
    count, num_states, d = tasks.features.shape
    flat_states = tasks.states + num_states * np.arange(count)[:, None]  # (B, n + 1)
    here = flat_states[:, :-1]
    n = here.shape[1]
    if out is None:
        out = (
            np.empty((count, n, 2 * d + 1), dtype=np.float32),
            np.empty((count, n + 1, d), dtype=np.float32),
            np.empty((count, n)),
        )
    rows, queries, targets = out
    # Round per state first (S values per task), then gather: the same numbers as rounding the
    # gathered rows, for a fraction of the work. np.take is far faster than 2-D fancy indexing.
    features = tasks.features.reshape(count * num_states, d)
    phi = np.take(features.astype(np.float32), flat_states, axis=0)  # (B, n + 1, d)
    next_phi = (np.asarray(tasks.row_discount) * features).astype(np.float32)
    rows[..., :d] = phi[:, :-1]
    rows[..., d : 2 * d] = np.take(next_phi, flat_states[:, 1:], axis=0)
    rows[..., 2 * d] = np.take(tasks.rewards.reshape(-1), here)
    queries[...] = phi
    targets[...] = np.take(tasks.targets.reshape(-1), here)
    return rows, queries, targets


class MRPValueEnv(PredictionEnv):
    """In-context policy evaluation on a random Markov reward process (MRP) with features.

    ## Description
    Each episode is a fresh MRP task from a generator (default ``MRPTasks``: a Boyan-style chain
    of ``num_states`` states with random features phi(s) in U(-1, 1)^d and rewards r(s)) and one
    trajectory s_0, ..., s_n of it. At step t the agent has seen the t transitions so far and
    predicts the value of the current state s_t; then the transition s_t -> s_{t+1} is revealed.
    The rewards therefore trace a learning curve: squared error against the number of transitions,
    the metric of in-context temporal-difference learning (Wang et al., ICLR 2025).

    ## Action Space
    ``Box(-action_bound, action_bound, (1,), float32)``: the predicted value of s_t. The bound is
    finite so that RL libraries accept the space; the default 1e3 is far beyond any value here.

    ## Observation Space
    ``Dict(context=Box(-inf, inf, (n, 2d+1), float32), length=Discrete(n+1), query=Box(-inf, inf, (d,), float32))``.
    Row i < length of ``context`` is ``[phi(s_i), c * phi(s_{i+1}), r(s_i)]`` with c = gamma
    (``objective="discounted"``) or c = 1 (``objective="average_reward"``); rows from ``length`` on
    are zero. ``query`` is phi(s_t). ``length`` is t. Rows are computed in float64 and rounded to
    float32; targets are exact float64 values of the float64 task.

    ## Rewards
    ``-(prediction - target(s_t))^2`` where the target is the exact discounted value
    v = (I - gamma P)^-1 r (``"discounted"``) or the differential value h, the solution of
    h = r - rho 1 + P h normalised so that mu^T h = 0 (``"average_reward"``; mu is the stationary
    distribution, rho = mu^T r the average reward, which the agent must estimate to predict h).
    ``info["target"]`` holds the target of the step just scored, only in that step's info.

    ## Starting State
    A new task; s_0 is drawn from the stationary distribution; the context is empty.

    ## Episode End
    Terminates after ``n`` predictions (the final observation holds all n transitions and
    query phi(s_n)). Never truncates.

    ## Arguments
    - ``num_states=10``: states S, 2..1024.
    - ``d=4``: feature dimension, 1..1024.
    - ``n=30``: predictions per episode (transitions in the trajectory), 1..4096, with n * d <= 2^20.
    - ``gamma=0.9``: discount in [0, 1); unused by rows and targets under ``"average_reward"``.
    - ``mrp="boyan"``: ``"boyan"`` or ``"loop"`` (see ``MRPTasks``).
    - ``rewards="random"``: ``"random"`` (U(-1, 1) per state) or ``"representable"`` (value linear in phi).
    - ``objective="discounted"``: ``"discounted"`` or ``"average_reward"``.
    - ``action_bound=1e3``: in (0, 1e12]; ``generator=None``: any object with
      ``sample(rng, n) -> MRPTask`` (default ``MRPTasks`` built from the arguments above), whose tasks
      are checked at every episode (finite numbers and values within float32's range, gamma in
      [0, 1)); ``render_mode``: ``None`` or ``"ansi"``.

    Float arguments take real numbers only (not strings); a bad argument raises ``ValueError``
    naming it, before anything is allocated. ``reset`` takes no options (any key is refused).

    ## Vector env
    ``gym.make_vec("icl/MRPValue-v0", num_envs)`` builds ``MRPValueVectorEnv``, a numpy batch of the
    same env (next-step autoreset) that gives the same numbers as ``SyncVectorEnv``. ``num_envs`` <=
    65536, and all sub-envs' arrays together must fit in about 1 GiB.

    ## Version History
    - v0: initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        num_states: int = 10,
        d: int = 4,
        n: int = 30,
        gamma: float = 0.9,
        mrp: str = "boyan",
        rewards: str = "random",
        objective: str = "discounted",
        action_bound: float = 1e3,
        generator: Any = None,
        render_mode: str | None = None,
    ) -> None:
        self.action_bound = check_action_bound(action_bound)
        # The generator the arguments describe checks them, even when a plugged-in generator is used
        # instead: the env keeps d and objective (which that generator must share) and gamma.
        tasks = MRPTasks(num_states, d, gamma, mrp, rewards, objective)
        self.num_states, self.d = tasks.num_states, tasks.d
        self.gamma, self.objective = tasks.gamma, tasks.objective
        self.n = tasks.check_n(n)
        self.generator = tasks if generator is None else generator
        check_generator(self.generator, self.d, self.objective)
        if render_mode is not None:
            check_choice("render_mode", render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode

        self.observation_space = prediction_observation_space(self.n, 2 * self.d + 1, self.d)
        self.action_space = prediction_action_space(self.action_bound)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        check_reset_options(options, (), "a task cannot be chosen at reset: pass generator= to the env")
        super().reset(seed=seed)
        self.task = self.generator.sample(self.np_random, self.n)
        if not isinstance(self.generator, MRPTasks):  # a user's generator: check what it gives
            check_task(self.task, self.n, self.d, self.generator)
        rows, queries, targets = (array[0] for array in episode_arrays(stack_tasks([self.task])))
        return self._start_episode(rows, queries, targets), {}

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        text = f"MRPValue: {self._t}/{self.n} transitions seen"
        if self.task is not None:
            text += f", current state {self.task.states[self._t]}"
        if self._last is not None:
            text += f"; last prediction {self._last[0]:+.4f}, target {self._last[1]:+.4f}"
        return text
