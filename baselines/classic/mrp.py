"""Classic in-context policy evaluation baselines: TD-family and regression estimators on the context.

Every agent predicts the value of the query state from the observation alone: the context rows
[phi(s_i), c phi(s_{i+1}), r_i] (c = gamma, or 1 under ``objective="average_reward"``), their
number and the query phi(s_t). All fit a linear value v(s) ~ phi(s)^T w from w = 0 and predict
phi(query)^T w. ``reset(env_id, env_kwargs)`` reads the discount and the objective from the env's
arguments and tunes each agent's one hyperparameter (a step size or a ridge), per context length,
by grid search on tasks it samples itself from the env's generator with a fixed seed.

With t rows, write A = (1/t) sum_i e_i (phi_i - c phi'_i)^T and b = (1/t) sum_i e_i r_i, where
e_i = phi_i for TD(0) and e_i = sum_{j<=i} (c lambda)^{i-j} phi_j (an eligibility trace along the
trajectory) for TD(lambda). Then

- :class:`BatchTD0` and :class:`BatchTDLambda`: k steps of w <- w + alpha (b - A w), the batch TD
  update that a linear transformer can implement layer by layer (Wang et al., ICLR 2025); by
  default the step is normalised, alpha / ||A||_F, so that it is stable on every context;
- :class:`ResidualGradient`: k gradient steps on the mean squared TD error (1/2t) sum_i delta_i^2
  (Baird 1995), with one sampled next state per row (so biased for stochastic transitions);
- :class:`LSTD`: w = (A + ridge I)^-1 b, the TD fixed point (Bradtke & Barto 1996);
- :class:`MonteCarlo`: ridge regression of the discounted return observed after each row inside
  the context (truncated at its end) on phi;
- :class:`AverageRewardTD`: differential TD, k steps jointly on (w, rho) with
  delta_i = r_i - rho + phi'_i^T w - phi_i^T w;
- :class:`ZeroPredictor`: 0, the reference for a score of zero.

Average reward (``objective="average_reward"``): the target is the differential value h with
mu^T h = 0. Every agent but AverageRewardTD then replaces r_i by r_i - rho_hat, rho_hat the mean
context reward; all of them centre their prediction by subtracting the mean of phi_i^T w over the
context's states, an estimate of mu^T (Phi w) since the trajectory starts in the stationary
distribution.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

import icl_envs  # noqa: F401  (registers the ids)
from icl_envs.checks import check_float, check_int
from icl_envs.mrp import episode_arrays, stack_tasks
from leaderboard.agent import Agent

DEFAULT_ENV_ID = "icl/MRPValue-v0"
SMOOTHING = 2  # tuning compares errors averaged over context lengths t-2..t+2


# ------------------------------------------------------------------------------------- observations
@dataclass
class Transitions:
    """A batch of observations as float64 arrays; rows at or past a context's length are zero."""

    features: np.ndarray  #: (B, n, d) phi(s_i)
    next_features: np.ndarray  #: (B, n, d) c phi(s_{i+1}), as the rows hold them
    rewards: np.ndarray  #: (B, n) r_i
    lengths: np.ndarray  #: (B,) number of rows t
    queries: np.ndarray  #: (B, d) phi(s_t)

    @classmethod
    def from_observation(cls, obs: Mapping[str, Any]) -> Transitions:
        context = np.asarray(obs["context"], dtype=np.float64)
        d = (context.shape[-1] - 1) // 2
        return cls(
            features=context[..., :d],
            next_features=context[..., d : 2 * d],
            rewards=context[..., 2 * d],
            lengths=np.asarray(obs["length"], dtype=np.int64),
            queries=np.asarray(obs["query"], dtype=np.float64),
        )

    @property
    def mask(self) -> np.ndarray:
        """(B, n) True for the rows that hold a transition."""
        return np.arange(self.rewards.shape[1]) < self.lengths[:, None]

    def counts(self) -> np.ndarray:
        """(B,) context lengths as floats, at least 1 (an empty context's sums are 0 anyway)."""
        return np.maximum(self.lengths, 1).astype(np.float64)

    def centred_rewards(self) -> np.ndarray:
        """(B, n) r_i - rho_hat on the context rows (rho_hat their mean reward), 0 past the length."""
        rho_hat = self.rewards.sum(axis=1) / self.counts()
        return (self.rewards - rho_hat[:, None]) * self.mask


def all_prefixes(tasks: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every observation the env shows over whole episodes of a batch of M tasks, and the targets.

    Gives M*n observations (task-major, then context length t = 0..n-1) exactly as the env builds
    them (float32 rows from ``episode_arrays``, zero rows from t on), and the (M*n,) targets.
    """
    rows, queries, targets = episode_arrays(tasks)
    num_tasks, n, width = rows.shape
    visible = np.arange(n)[None, :] < np.arange(n)[:, None]  # (t, row)
    context = rows[:, None, :, :] * visible[None, :, :, None]
    obs = {
        "context": context.reshape(num_tasks * n, n, width),
        "length": np.tile(np.arange(n), num_tasks),
        "query": queries[:, :n].reshape(num_tasks * n, -1),
    }
    return obs, targets.reshape(num_tasks * n)


def _batched(obs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """One env's observation as a batch of one."""
    return {key: np.asarray(value)[None] for key, value in obs.items()}


def _matvec(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    return np.einsum("bij,bj->bi", matrices, vectors)


def _mean_outer(left: np.ndarray, right: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(1/t) sum_i left_i right_i^T per context: (B, n, p) x (B, n, q) -> (B, p, q)."""
    return np.einsum("bni,bnj->bij", left, right) / counts[:, None, None]


def _mean_weighted(left: np.ndarray, weights: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(1/t) sum_i left_i w_i per context: (B, n, p) x (B, n) -> (B, p)."""
    return np.einsum("bni,bn->bi", left, weights) / counts[:, None]


def eligibility_traces(features: np.ndarray, decay: float) -> np.ndarray:
    """e_i = decay * e_{i-1} + phi_i along the rows (the accumulating trace of TD(lambda))."""
    traces = np.empty_like(features)
    trace = np.zeros_like(features[:, 0])
    for i in range(features.shape[1]):
        trace = decay * trace + features[:, i]
        traces[:, i] = trace
    return traces


def discounted_returns(rewards: np.ndarray, discount: float) -> np.ndarray:
    """G_i = sum_{j>=i} discount^(j-i) r_j along the rows (rows past the context are zero)."""
    returns = np.empty_like(rewards)
    following = np.zeros_like(rewards[:, 0])
    for i in reversed(range(rewards.shape[1])):
        following = rewards[:, i] + discount * following
        returns[:, i] = following
    return returns


# ------------------------------------------------------------------------------------------- agents
class MRPAgent(Agent):
    """Base class: reads the env at reset, tunes one hyperparameter per context length, predicts.

    Subclasses implement ``_fit(transitions, hyper) -> w`` (B, d) for a (B,) array of
    hyperparameter values and set ``grid`` (the values tried) or ``tuned = False``.
    """

    #: reset() reads the env and tunes from the agent's own seed: nothing carries over between resets.
    independent_resets = True

    #: Hyperparameter values tried by ``tune`` (per context length); subclasses override.
    grid: np.ndarray = np.ones(1)
    #: Whether ``rewards`` are centred by the context mean under the average-reward objective.
    centre_rewards = True

    def __init__(self, seed: int = 0, tuning_tasks: int = 512):
        self.seed = check_int("seed", seed)
        self.tuning_tasks = check_int("tuning_tasks", tuning_tasks, minimum=1)
        self.fixed_hyper: float | None = None
        self.hyper_by_length = np.ones(1)
        self.action_bound = 1e3
        self.discount = 0.9
        self.average_reward = False
        self._ready = False

    def reset(self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> None:
        env = gym.make(env_id or DEFAULT_ENV_ID, **dict(env_kwargs or {})).unwrapped
        self.generator, self.n, self.d = env.generator, env.n, env.d
        self.average_reward = env.objective == "average_reward"
        self.discount = 1.0 if self.average_reward else float(getattr(env.generator, "gamma", env.gamma))
        self.action_bound = float(env.action_bound)
        env.close()
        self.tune()
        self._ready = True

    # Prediction -------------------------------------------------------------------------------
    def _fit(self, transitions: Transitions, hyper: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _centres_predictions(self) -> bool:
        return self.average_reward

    def _rewards(self, transitions: Transitions) -> np.ndarray:
        if self.average_reward and self.centre_rewards:
            return transitions.centred_rewards()
        return transitions.rewards

    def _predict_with(self, transitions: Transitions, hyper: np.ndarray) -> np.ndarray:
        weights = self._fit(transitions, hyper)
        predictions = np.einsum("bi,bi->b", weights, transitions.queries)
        if self._centres_predictions():  # mu^T h = 0: subtract the context states' mean prediction
            fitted = np.einsum("bni,bi->bn", transitions.features, weights) * transitions.mask
            predictions = predictions - fitted.sum(axis=1) / transitions.counts()
        return np.where(transitions.lengths > 0, predictions, 0.0)

    def predict(self, transitions: Transitions) -> np.ndarray:
        index = np.minimum(transitions.lengths, len(self.hyper_by_length) - 1)
        return self._predict_with(transitions, self.hyper_by_length[index])

    def act_batch(self, obs_batch: Mapping[str, Any]) -> np.ndarray:
        if not self._ready:
            self.reset()
        predictions = self.predict(Transitions.from_observation(obs_batch))
        bound = self.action_bound
        predictions = np.nan_to_num(predictions, nan=0.0, posinf=bound, neginf=-bound)
        return np.clip(predictions, -bound, bound).astype(np.float32)[:, None]

    def act(self, obs: Mapping[str, Any]) -> np.ndarray:
        return self.act_batch(_batched(obs))[0]

    # Tuning -----------------------------------------------------------------------------------
    def tuning_set(self) -> tuple[Transitions, np.ndarray]:
        """Every prefix of ``tuning_tasks`` episodes drawn with the agent's own seed, and the targets."""
        rng = np.random.default_rng(self.seed)
        if hasattr(self.generator, "sample_batch"):
            tasks = self.generator.sample_batch(rng, self.tuning_tasks, self.n)
        else:
            tasks = stack_tasks([self.generator.sample(rng, self.n) for _ in range(self.tuning_tasks)])
        obs, targets = all_prefixes(tasks)
        return Transitions.from_observation(obs), targets

    def tune(self) -> None:
        """Choose the hyperparameter per context length t = 0..n (t = n, the final obs, reuses n-1)."""
        if self.fixed_hyper is not None or len(self.grid) == 1:
            value = self.fixed_hyper if self.fixed_hyper is not None else self.grid[0]
            self.hyper_by_length = np.full(self.n + 1, value)
            return
        transitions, targets = self.tuning_set()
        errors = []
        for value in self.grid:
            with np.errstate(all="ignore"):  # large step sizes diverge: their error is inf
                squared = (self._predict_with(transitions, np.full(len(targets), value)) - targets) ** 2
            errors.append(np.nan_to_num(squared, nan=np.inf).reshape(self.tuning_tasks, self.n).mean(axis=0))
        # Squared errors are heavy-tailed (nearly singular systems blow up on a few tasks), so the
        # per-length choice averages the errors of neighbouring lengths (+-2) to resist noise.
        window = np.ones(2 * SMOOTHING + 1)
        errors = np.stack(errors)
        padded = np.pad(errors, ((0, 0), (SMOOTHING, SMOOTHING)), mode="edge")
        smoothed = np.stack([np.convolve(row, window, mode="valid") for row in padded])
        best = self.grid[np.argmin(smoothed, axis=0)]  # (n,)
        self.hyper_by_length = np.append(best, best[-1])


class ZeroPredictor(MRPAgent):
    """Predicts 0 (the reference for a normalised score of zero)."""

    def predict(self, transitions: Transitions) -> np.ndarray:
        return np.zeros(len(transitions.lengths))


class _IterativeAgent(MRPAgent):
    """k steps of w <- w + alpha_t (b - A w) from w = 0, alpha tuned per context length.

    With ``normalize=True`` (default) the step is alpha / ||A||_F: the Frobenius norm bounds the
    spectral norm, so alpha <= 1 keeps every step stable on a positive definite system whatever
    the context's scale. A plain step (``normalize=False``, the update a linear transformer
    implements layer by layer) tuned on a few hundred tasks diverges on rare contexts, and one
    diverged prediction dominates a mean squared error.
    """

    grid = np.geomspace(0.01, 2.0, 16)

    def __init__(
        self,
        steps: int = 10,
        step_size: float | None = None,
        normalize: bool = True,
        seed: int = 0,
        tuning_tasks: int = 512,
    ):
        super().__init__(seed, tuning_tasks)
        self.steps = check_int("steps", steps, minimum=1)
        self.normalize = bool(normalize)
        if step_size is not None:
            self.fixed_hyper = check_float("step_size", step_size, minimum=0.0)

    def _system(self, transitions: Transitions) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _fit(self, transitions: Transitions, hyper: np.ndarray) -> np.ndarray:
        A, b = self._system(transitions)
        step = hyper
        if self.normalize:  # an empty context has A = 0 (and b = 0): any finite step will do
            step = hyper / np.maximum(np.linalg.norm(A, axis=(1, 2)), 1e-12)
        weights = np.zeros_like(b)
        for _ in range(self.steps):
            weights = weights + step[:, None] * (b - _matvec(A, weights))
        return weights[:, : self.d]

    @property
    def step_sizes(self) -> np.ndarray:
        """The step size used at each context length t = 0..n."""
        return self.hyper_by_length


def td_system(
    transitions: Transitions, rewards: np.ndarray, trace_decay: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """A = (1/t) sum_i e_i (phi_i - c phi'_i)^T and b = (1/t) sum_i e_i r_i (e_i = phi_i when decay is 0)."""
    counts = transitions.counts()
    traces = (
        transitions.features if trace_decay == 0.0 else eligibility_traces(transitions.features, trace_decay)
    )
    differences = transitions.features - transitions.next_features
    return _mean_outer(traces, differences, counts), _mean_weighted(traces, rewards, counts)


class BatchTD0(_IterativeAgent):
    """``steps`` steps of batch TD(0) from w = 0: w <- w + (alpha/t) sum_i delta_i phi_i."""

    def _system(self, transitions: Transitions) -> tuple[np.ndarray, np.ndarray]:
        return td_system(transitions, self._rewards(transitions))


class BatchTDLambda(_IterativeAgent):
    """``steps`` steps of batch TD(lambda): w <- w + (alpha/t) sum_i delta_i e_i, with the
    accumulating trace e_i = c lambda e_{i-1} + phi_i along the context's trajectory."""

    def __init__(
        self,
        steps: int = 10,
        lam: float = 0.5,
        step_size: float | None = None,
        normalize: bool = True,
        seed: int = 0,
        tuning_tasks: int = 512,
    ):
        super().__init__(steps, step_size, normalize, seed, tuning_tasks)
        self.lam = check_float("lam", lam, minimum=0.0, maximum=1.0)

    def _system(self, transitions: Transitions) -> tuple[np.ndarray, np.ndarray]:
        return td_system(transitions, self._rewards(transitions), self.discount * self.lam)


class ResidualGradient(_IterativeAgent):
    """``steps`` gradient steps on (1/2t) sum_i delta_i^2: w <- w + (alpha/t) sum_i delta_i (phi_i - c phi'_i)."""

    def _system(self, transitions: Transitions) -> tuple[np.ndarray, np.ndarray]:
        counts = transitions.counts()
        differences = transitions.features - transitions.next_features
        rewards = self._rewards(transitions)
        return _mean_outer(differences, differences, counts), _mean_weighted(differences, rewards, counts)


class AverageRewardTD(_IterativeAgent):
    """``steps`` steps of differential TD on theta = (w, rho) from 0, with one step size:
    delta_i = r_i - rho + phi'_i^T w - phi_i^T w; w += (alpha/t) sum_i delta_i phi_i;
    rho += (alpha/t) sum_i delta_i. Meant for ``objective="average_reward"`` (rows with c = 1); under
    the discounted objective it still predicts a (centred) differential value, a poor answer there.
    """

    centre_rewards = False  # it estimates rho itself

    def _system(self, transitions: Transitions) -> tuple[np.ndarray, np.ndarray]:
        counts = transitions.counts()
        ones = transitions.mask[..., None].astype(np.float64)
        inputs = np.concatenate([transitions.features, ones], axis=-1)  # (phi_i, 1)
        slopes = np.concatenate([transitions.features - transitions.next_features, ones], axis=-1)
        return _mean_outer(inputs, slopes, counts), _mean_weighted(inputs, transitions.rewards, counts)

    def _centres_predictions(self) -> bool:
        return True  # it always predicts a differential value, normalised so that mu^T h = 0


class _RidgeAgent(MRPAgent):
    """A linear solve with a ridge term added to its matrix, the ridge tuned per context length
    (or fixed with ``ridge``)."""

    grid = np.geomspace(1e-4, 10.0, 11)

    def __init__(self, ridge: float | None = None, seed: int = 0, tuning_tasks: int = 512):
        super().__init__(seed, tuning_tasks)
        if ridge is not None:
            self.fixed_hyper = check_float("ridge", ridge, minimum=0.0)


class LSTD(_RidgeAgent):
    """Least-squares TD: w = (A + ridge I)^-1 b with A, b of TD(0) (the fixed point batch TD
    converges to); the small ridge keeps short contexts (t < d) solvable. Ridge tuned per length."""

    def _fit(self, transitions: Transitions, hyper: np.ndarray) -> np.ndarray:
        A, b = td_system(transitions, self._rewards(transitions))
        regularised = A + hyper[:, None, None] * np.eye(A.shape[-1])
        return _solve(regularised, b)


class MonteCarlo(_RidgeAgent):
    """Ridge regression of the observed returns on the features:
    G_i = sum_{i<=j<t} c^(j-i) r_j (truncated at the context's end, which biases the late rows),
    w = (Phi^T Phi / t + ridge I)^-1 Phi^T G / t. Ridge tuned per length."""

    def _fit(self, transitions: Transitions, hyper: np.ndarray) -> np.ndarray:
        counts = transitions.counts()
        returns = discounted_returns(self._rewards(transitions) * transitions.mask, self.discount)
        phi = transitions.features
        gram = _mean_outer(phi, phi, counts) + hyper[:, None, None] * np.eye(phi.shape[-1])
        return _solve(gram, _mean_weighted(phi, returns, counts))


def _solve(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Batched solve; a singular system (ridge 0 on a short context) gives a least-squares answer."""
    try:
        return np.linalg.solve(matrices, vectors[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return np.einsum("bij,bj->bi", np.linalg.pinv(matrices), vectors)


AGENTS = {
    "zero": ZeroPredictor,
    "td0": BatchTD0,
    "td_lambda": BatchTDLambda,
    "residual_gradient": ResidualGradient,
    "average_reward_td": AverageRewardTD,
    "lstd": LSTD,
    "monte_carlo": MonteCarlo,
}
