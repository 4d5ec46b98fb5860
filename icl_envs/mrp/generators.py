"""Task generators for in-context policy evaluation: random Markov reward processes with features.

A task is a Markov reward process (MRP) on ``num_states`` states with a transition matrix ``P``, a
reward per state ``r``, a feature vector per state ``phi``, and one trajectory ``s_0, ..., s_n`` of
the chain. The generator also computes the exact answers an agent is scored against:

- the discounted value ``v = (I - gamma P)^-1 r``;
- the stationary distribution ``mu`` (``mu^T P = mu^T``, ``sum(mu) = 1``);
- the average reward ``rho = mu^T r``;
- the differential value ``h``, the solution of ``h = r - rho 1 + P h`` with ``mu^T h = 0``
  (computed as ``(I - P + 1 mu^T)^-1 (r - rho 1)``).

Every random number of a task comes from ONE call ``rng.random(K)`` (K uniforms in [0, 1)),
consumed in a fixed, documented order (see ``MRPTasks``). So ``sample_batch(rng, B, n)`` gives
exactly the tasks of B successive ``sample(rng, n)`` calls, and a vector env can draw each env's
uniforms from that env's own Generator and turn them into tasks in one batched computation
(``sample_each``), matching a ``SyncVectorEnv`` exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any

import numpy as np

from icl_envs.checks import check_choice, check_float, check_int
from icl_envs.prediction import check_d, check_n, check_task_batch

MRP_KINDS = ("boyan", "loop")
REWARD_KINDS = ("random", "representable")
OBJECTIVES = ("discounted", "average_reward")

# Boyan-chain move probabilities are drawn from U(P_LOW, P_HIGH), so no move is (almost) deterministic.
P_LOW, P_HIGH = 0.01, 0.99
#: States of an MRP: each task holds several S x S matrices and solves S x S linear systems (O(S^3)):
#: 1024 states take about 0.15 s and 25 MiB per task (measured), 4096 took 4 s and 0.7 GB.
MAX_STATES = 1024
#: About how many S x S float64 arrays drawing one task holds at once (P, its cdf, the systems
#: solved): about 3 measured at S = 1024, rounded up.
SQUARE_ARRAYS_PER_TASK = 4


@dataclass(frozen=True)
class MRPTask:
    """One MRP task, or a batch of them (every array then has a leading batch axis).

    Shapes are given for one task; S = num_states, d = feature dimension, n = trajectory length.
    ``value``, ``average_reward`` and ``differential_value`` are exact, computed from the fields on
    first use (each is a batched linear solve; an env only needs the one its objective scores).
    """

    transitions: np.ndarray  #: (S, S) row-stochastic transition matrix P
    rewards: np.ndarray  #: (S,) reward r(s) received on leaving state s
    features: np.ndarray  #: (S, d) feature phi(s) of each state, one row per state
    gamma: float  #: discount factor of ``value``
    objective: str  #: "discounted" or "average_reward": which value ``targets`` holds
    stationary: np.ndarray  #: (S,) stationary distribution mu
    states: np.ndarray  #: (n + 1,) int64 trajectory s_0, ..., s_n; s_0 ~ mu

    @cached_property
    def value(self) -> np.ndarray:
        """(S,) exact discounted value v = (I - gamma P)^-1 r."""
        eye = np.eye(self.transitions.shape[-1])
        return np.linalg.solve(eye - self.gamma * self.transitions, self.rewards[..., None])[..., 0]

    @cached_property
    def average_reward(self) -> np.ndarray:
        """() average reward rho = mu^T r."""
        # An elementwise product and a sum over the last axis round the same way for one task and
        # for a batch (einsum may not), which keeps single and vector envs bit-identical.
        return (self.stationary * self.rewards).sum(axis=-1)

    @cached_property
    def differential_value(self) -> np.ndarray:
        """(S,) differential value h = (I - P + 1 mu^T)^-1 (r - rho 1), so h = r - rho 1 + P h, mu^T h = 0."""
        eye = np.eye(self.transitions.shape[-1])
        fundamental = eye - self.transitions + self.stationary[..., None, :]
        centred = self.rewards - self.average_reward[..., None]
        return np.linalg.solve(fundamental, centred[..., None])[..., 0]

    @property
    def targets(self) -> np.ndarray:
        """(S,) the value the env asks for: ``value`` (discounted) or ``differential_value``."""
        return self.value if self.objective == "discounted" else self.differential_value

    @property
    def row_discount(self) -> float:
        """The factor on the next-state features in the context rows: gamma, or 1 (average reward)."""
        return self.gamma if self.objective == "discounted" else 1.0

    def __len__(self) -> int:
        if self.transitions.ndim != 3:
            raise TypeError("a single MRPTask has no length; only a batch from sample_batch does")
        return self.transitions.shape[0]

    def __getitem__(self, index: int) -> MRPTask:
        """Task ``index`` of a batch."""
        if self.transitions.ndim != 3:
            raise TypeError("only a batch of tasks (from sample_batch) can be indexed")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in values.items():
            if isinstance(value, np.ndarray):
                values[name] = value[index]
        return MRPTask(**values)


class MRPTasks:
    """Random MRPs with features, as used to study in-context temporal-difference learning.

    Arguments:
        num_states: number of states S, 2..1024 (``MAX_STATES``).
        d: feature dimension, 1..1024.
        gamma: discount factor in [0, 1). With ``objective="average_reward"`` it only defines the
            task's ``value`` (kept for reference); targets and rows do not use it.
        mrp: ``"boyan"`` or ``"loop"``, the transition structure (below).
        rewards: ``"random"`` or ``"representable"`` (below).
        objective: ``"discounted"`` (targets are ``value``) or ``"average_reward"`` (targets are
            ``differential_value``); also decides how representable rewards are built.

    Distributions (u ~ U[0, 1), each drawn in this order from one ``rng.random(K)`` call):

    1. Transitions.
       ``"boyan"`` (S - 2 + S uniforms): for i = 0..S-3, p_i = 0.01 + 0.98 u, and state i moves to
       i+1 with probability p_i, to i+2 with 1 - p_i. State S-2 moves to S-1 with probability 1.
       The last row is random: P[S-1, j] = u_j / sum_k u_k over all S states (S uniforms), so the
       chain restarts anywhere and is irreducible and aperiodic.
       ``"loop"`` (S uniforms): the Boyan moves on a ring, with no random row: state i moves to
       (i+1) mod S with probability p_i = 0.01 + 0.98 u and to (i+2) mod S with 1 - p_i. Cycles of
       length S and S-1 make it aperiodic (for S = 2 the +2 move is a self-loop).
    2. Features (S*d uniforms, row-major): phi(s)_k = 2u - 1, i.e. U(-1, 1)^d per state.
    3. Rewards.
       ``"random"`` (S uniforms): r(s) = 2u - 1, i.e. U(-1, 1).
       ``"representable"``, discounted (d uniforms): w = 2u - 1 in U(-1, 1)^d, value v = Phi w and
       r = (I - gamma P) v, so the value is exactly linear in the features.
       ``"representable"``, average reward (d + 1 uniforms): w = 2u - 1, then rho = 2u - 1, and
       r = (I - P) Phi w + rho 1; the average reward is rho and h = Phi w - (mu^T Phi w) 1.
    4. Start state (1 uniform): s_0 ~ mu (the stationary distribution), by inverse CDF.
    5. Trajectory (n uniforms): s_{i+1} ~ P[s_i, :], by inverse CDF: s_{i+1} is the first j with
       cumsum(P[s_i])_j > u (the last state if round-off leaves the row sum at or below u).
    """

    def __init__(
        self,
        num_states: int = 10,
        d: int = 4,
        gamma: float = 0.9,
        mrp: str = "boyan",
        rewards: str = "random",
        objective: str = "discounted",
    ) -> None:
        self.num_states = check_int("num_states", num_states, minimum=2, maximum=MAX_STATES)
        self.d = check_d(d)
        self.gamma = check_float("gamma", gamma, minimum=0.0, below=1.0)
        self.mrp = check_choice("mrp", mrp, MRP_KINDS)
        self.rewards = check_choice("rewards", rewards, REWARD_KINDS)
        self.objective = check_choice("objective", objective, OBJECTIVES)

    def __repr__(self) -> str:
        return (
            f"MRPTasks(num_states={self.num_states}, d={self.d}, gamma={self.gamma}, mrp={self.mrp!r}, "
            f"rewards={self.rewards!r}, objective={self.objective!r})"
        )

    # --- How many uniforms each part uses --------------------------------------------------------

    def _num_transition_uniforms(self) -> int:
        return 2 * self.num_states - 2 if self.mrp == "boyan" else self.num_states

    def _num_reward_uniforms(self) -> int:
        if self.rewards == "random":
            return self.num_states
        return self.d + (1 if self.objective == "average_reward" else 0)

    def num_uniforms(self, n: int) -> int:
        """K, the number of U[0, 1) draws one task with a trajectory of n transitions uses."""
        return (
            self._num_transition_uniforms() + self.num_states * self.d + self._num_reward_uniforms() + 1 + n
        )

    def check_n(self, n: Any) -> int:
        """``n`` transitions per task, within the limits of ``icl_envs.prediction``."""
        return check_n(n, self.d)

    def bytes_per_task(self, n: int) -> int:
        """About the memory drawing one task takes: its S x S arrays and its uniforms, in float64."""
        return 8 * (SQUARE_ARRAYS_PER_TASK * self.num_states**2 + 3 * self.num_uniforms(n))

    # --- Sampling ----------------------------------------------------------------------------------

    def sample(self, rng: np.random.Generator, n: int) -> MRPTask:
        """One task with a trajectory of ``n`` transitions (``n + 1`` states)."""
        return self.sample_batch(rng, 1, n)[0]

    def sample_batch(self, rng: np.random.Generator, batch: int, n: int) -> MRPTask:
        """``batch`` tasks stacked on a leading axis; the same tasks as ``batch`` calls of ``sample``."""
        batch = check_int("batch", batch, minimum=1)
        n = check_task_batch(self, batch, n, f"batch={batch}")
        return self.tasks_from_uniforms(rng.random((batch, self.num_uniforms(n))), n)

    def sample_each(self, rngs: Sequence[np.random.Generator], n: int) -> MRPTask:
        """One task per Generator, stacked: exactly ``[sample(rng, n) for rng in rngs]``, batched."""
        n = check_task_batch(self, len(rngs), n, f"{len(rngs)} generators")
        uniforms = np.empty((len(rngs), self.num_uniforms(n)))
        for row, rng in zip(uniforms, rngs):
            rng.random(out=row)  # the same draws as rng.random(K), written in place
        return self.tasks_from_uniforms(uniforms, n)

    def tasks_from_uniforms(self, uniforms: np.ndarray, n: int) -> MRPTask:
        """Turn a (batch, K) array of U[0, 1) draws into a batch of tasks (the order is in the class doc)."""
        S, d = self.num_states, self.d
        batch = uniforms.shape[0]
        if uniforms.shape != (batch, self.num_uniforms(n)):
            raise ValueError(
                f"uniforms must have shape (batch, {self.num_uniforms(n)}), got {uniforms.shape}"
            )
        parts = np.cumsum([self._num_transition_uniforms(), S * d, self._num_reward_uniforms(), 1])
        u_transitions, u_features, u_rewards, u_start, u_steps = np.split(uniforms, parts, axis=1)

        P = self._transitions(u_transitions)
        phi = (2.0 * u_features - 1.0).reshape(batch, S, d)
        stationary = stationary_distribution(P)
        r = self._rewards(u_rewards, P, phi, stationary)

        states = np.empty((batch, n + 1), dtype=np.int64)
        states[:, 0] = _inverse_cdf(_cdf(stationary), u_start[:, 0])
        # The cdf rows of all tasks in one flat table, so each step is one gather.
        cdf = _cdf(P).reshape(batch * S, S)
        row_of_task = np.arange(batch) * S
        for i in range(n):
            states[:, i + 1] = _inverse_cdf(np.take(cdf, row_of_task + states[:, i], axis=0), u_steps[:, i])

        return MRPTask(
            transitions=P,
            rewards=r,
            features=phi,
            gamma=self.gamma,
            objective=self.objective,
            stationary=stationary,
            states=states,
        )

    def _transitions(self, u: np.ndarray) -> np.ndarray:
        S = self.num_states
        batch = u.shape[0]
        P = np.zeros((batch, S, S))
        if self.mrp == "boyan":
            p = P_LOW + (P_HIGH - P_LOW) * u[:, : S - 2]
            i = np.arange(S - 2)
            P[:, i, i + 1] = p
            P[:, i, i + 2] = 1.0 - p
            P[:, S - 2, S - 1] = 1.0
            last = u[:, S - 2 :]
            P[:, S - 1, :] = last / last.sum(axis=1, keepdims=True)
        else:  # loop
            p = P_LOW + (P_HIGH - P_LOW) * u
            i = np.arange(S)
            P[:, i, (i + 1) % S] += p
            P[:, i, (i + 2) % S] += 1.0 - p
        return P

    def _rewards(self, u: np.ndarray, P: np.ndarray, phi: np.ndarray, stationary: np.ndarray) -> np.ndarray:
        if self.rewards == "random":
            return 2.0 * u - 1.0
        # Products summed over the last axis (not einsum, whose summation order may depend on the
        # batch size): a task's numbers must not depend on how many are drawn together.
        w = 2.0 * u[:, : self.d] - 1.0
        v = (phi * w[:, None, :]).sum(axis=-1)
        expected_next = (P * v[:, None, :]).sum(axis=-1)  # (P v)(s)
        if self.objective == "discounted":
            return v - self.gamma * expected_next
        rho = 2.0 * u[:, self.d] - 1.0
        return v - expected_next + rho[:, None]


def stack_tasks(tasks: Sequence[MRPTask]) -> MRPTask:
    """Stack single tasks into a batch (for generators without ``sample_each``)."""
    stacked = {}
    for field in fields(MRPTask):
        value = getattr(tasks[0], field.name)
        stacked[field.name] = (
            np.stack([getattr(t, field.name) for t in tasks]) if isinstance(value, np.ndarray) else value
        )
    return MRPTask(**stacked)


def stationary_distribution(P: np.ndarray) -> np.ndarray:
    """Stationary distribution of each (irreducible) chain in a (batch, S, S) stack.

    Solves mu^T (I - P + 1 1^T) = 1^T: a stationary mu with sum 1 satisfies it, and the matrix is
    invertible when the chain is irreducible.
    """
    S = P.shape[-1]
    system = np.eye(S) - P + 1.0
    return np.linalg.solve(np.swapaxes(system, -1, -2), np.ones(P.shape[:-1])[..., None])[..., 0]


def _cdf(p: np.ndarray) -> np.ndarray:
    """Cumulative sums along the last axis, the last entry set to +inf.

    Summed left to right as np.cumsum, but a loop over the (short) axis is much faster than
    np.cumsum's one slow inner loop per row. The +inf makes the last state catch any u that a
    row sum rounding below 1 would leave unassigned.
    """
    out = np.empty_like(p)
    out[..., 0] = p[..., 0]
    for j in range(1, p.shape[-1]):
        out[..., j] = out[..., j - 1] + p[..., j]
    out[..., -1] = np.inf
    return out


def _inverse_cdf(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per row of a (batch, S) cdf from ``_cdf``, the index of the first entry above u.

    That index is the count of entries <= u; counting by a matrix-vector product of 0/1 values
    (exact) is several times faster than a boolean sum over a short last axis.
    """
    below = (cdf <= u[:, None]).astype(np.float64)
    return (below @ np.ones(cdf.shape[1])).astype(np.int64)
