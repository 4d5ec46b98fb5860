"""Classic in-context regression baselines: closed-form and iterative predictors on the context.

Every agent acts from the observation alone (the context rows [x_i, y_i], their number and the
query x_t); ``reset(env_id, env_kwargs)`` may read what the env's arguments say about the task
distribution (the noise level, the prior, whether Σ = I), as a Bayesian would, and tunes step sizes
on tasks it samples itself from the env's generator with a fixed seed. All predictions are computed
batched: ``act_batch`` takes the vector env's Dict of arrays; ``act`` is ``act_batch`` on one env.

Agents: :class:`ZeroPredictor`, :class:`MeanPredictor`, :class:`LeastSquares` (min-norm),
:class:`Ridge` (posterior mean), :class:`TunedRidge`, :class:`Averaging`, :class:`GD`, :class:`PreconditionedGD`,
:class:`GDPlusPlus`, :class:`Lasso`, :class:`KNN`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

import icl_envs  # noqa: F401  (registers the ids)
from icl_envs.checks import check_float, check_int
from leaderboard.agent import Agent

DEFAULT_ENV_ID = "icl/LinearRegression-v0"


# ------------------------------------------------------------------------------------- observations
@dataclass
class Contexts:
    """A batch of observations as float64 arrays: inputs (B, n, d), targets (B, n), lengths (B,),
    queries (B, d); rows at or past a context's length are zero."""

    inputs: np.ndarray
    targets: np.ndarray
    lengths: np.ndarray
    queries: np.ndarray

    @classmethod
    def from_observation(cls, obs: Mapping[str, Any]) -> Contexts:
        context = np.asarray(obs["context"], dtype=np.float64)
        return cls(
            inputs=context[..., :-1],
            targets=context[..., -1],
            lengths=np.asarray(obs["length"], dtype=np.int64),
            queries=np.asarray(obs["query"], dtype=np.float64),
        )

    @property
    def mask(self) -> np.ndarray:
        """(B, n) True for the rows that hold an example."""
        return np.arange(self.inputs.shape[1]) < self.lengths[:, None]

    def counts(self) -> np.ndarray:
        """Context lengths as floats, at least 1 (an empty context's sums are 0 anyway)."""
        return np.maximum(self.lengths, 1).astype(np.float64)


def all_prefixes(inputs: np.ndarray, targets: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every observation an env shows over whole episodes of the given tasks, and the answers.

    ``inputs`` (M, n, d) and ``targets`` (M, n) of M tasks give M·n observations (task-major, then
    context length t = 0..n-1) exactly as the env builds them (float32 context, zero rows past t).
    """
    num_tasks, n, d = inputs.shape
    rows = np.concatenate([inputs, targets[..., None]], axis=-1).astype(np.float32)
    lengths = np.arange(n)
    visible = np.arange(n)[None, :] < lengths[:, None]  # (t, row)
    context = rows[:, None, :, :] * visible[None, :, :, None]
    obs = {
        "context": context.reshape(num_tasks * n, n, d + 1),
        "length": np.tile(lengths, num_tasks),
        "query": inputs.astype(np.float32).reshape(num_tasks * n, d),
    }
    return obs, targets.reshape(num_tasks * n)


def _batched(obs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """One env's observation as a batch of one."""
    return {key: np.asarray(value)[None] for key, value in obs.items()}


def _matvec(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    return np.einsum("bij,bj->bi", matrices, vectors)


def _gram(contexts: Contexts) -> tuple[np.ndarray, np.ndarray]:
    """XᵀX and Xᵀy per context (zero rows contribute nothing)."""
    x, y = contexts.inputs, contexts.targets
    return np.einsum("bni,bnj->bij", x, x), np.einsum("bni,bn->bi", x, y)


# ------------------------------------------------------------------------------------------- agents
class RegressionAgent(Agent):
    """Base class: ``predict(contexts) -> (B,)``; reset reads the env and tunes what needs tuning."""

    #: reset() reads the env and tunes from the agent's own seed: nothing carries over between resets.
    independent_resets = True

    def __init__(self, seed: int = 0, tuning_tasks: int = 256):
        self.seed = check_int("seed", seed)
        self.tuning_tasks = check_int("tuning_tasks", tuning_tasks, minimum=1)
        self.action_bound = 1e3
        self._ready = False

    def reset(self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> None:
        env = gym.make(env_id or DEFAULT_ENV_ID, **dict(env_kwargs or {})).unwrapped
        self.generator, self.n, self.d = env.generator, env.n, env.d
        self.action_bound = float(env.action_bound)
        env.close()
        self.configure(self.generator)
        self.tune()
        self._ready = True

    def configure(self, generator: Any) -> None:
        """Read what the agent needs from the task generator (its noise level, prior, ...)."""

    def tune(self) -> None:
        """Choose hyperparameters on sampled tasks (nothing to tune by default)."""

    def predict(self, contexts: Contexts) -> np.ndarray:
        raise NotImplementedError

    def act_batch(self, obs_batch: Mapping[str, Any]) -> np.ndarray:
        if not self._ready:
            self.reset()
        predictions = self.predict(Contexts.from_observation(obs_batch))
        predictions = np.nan_to_num(predictions, nan=0.0, posinf=self.action_bound, neginf=-self.action_bound)
        return np.clip(predictions, -self.action_bound, self.action_bound).astype(np.float32)[:, None]

    def act(self, obs: Mapping[str, Any]) -> np.ndarray:
        return self.act_batch(_batched(obs))[0]

    # Tuning helpers ---------------------------------------------------------------------------
    def _tuning_set(self) -> tuple[Contexts, np.ndarray]:
        """Every prefix of ``tuning_tasks`` tasks drawn with the agent's own seed."""
        tasks = self.generator.sample_batch(np.random.default_rng(self.seed), self.tuning_tasks, self.n)
        obs, answers = all_prefixes(tasks.inputs, tasks.targets)
        return Contexts.from_observation(obs), answers

    def _errors_by_length(self, predictions: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """Mean squared error per context length t (predictions in ``_tuning_set`` order)."""
        squared = (predictions - answers) ** 2
        return squared.reshape(self.tuning_tasks, self.n).mean(axis=0)

    def _per_length(self, grid: np.ndarray, fixed: float | None = None) -> np.ndarray:
        """One hyperparameter value per context length t = 0..n: ``fixed`` at every length when
        given, else the value of ``grid`` whose ``_predict_with`` has the least tuning error at t
        (length n, the final observation, reuses the value of n - 1)."""
        if fixed is not None:
            return np.full(self.n + 1, fixed)
        contexts, answers = self._tuning_set()
        errors = np.stack(
            [
                self._errors_by_length(self._predict_with(contexts, np.full(len(answers), value)), answers)
                for value in grid
            ]
        )  # (grid, t)
        best = grid[np.argmin(errors, axis=0)]
        return np.append(best, best[-1])


class ZeroPredictor(RegressionAgent):
    """Predicts 0: the reference for a score of zero (E[y] = 0 under every generator here)."""

    def predict(self, contexts: Contexts) -> np.ndarray:
        return np.zeros(len(contexts.lengths))


class MeanPredictor(RegressionAgent):
    """Predicts the mean of the context's targets (0 for an empty context)."""

    def predict(self, contexts: Contexts) -> np.ndarray:
        return contexts.targets.sum(axis=1) / contexts.counts()


def least_squares_predictions(contexts: Contexts) -> np.ndarray:
    """<q, X⁺y>: the minimum-norm least-squares fit evaluated at the query."""
    # rcond relative to the largest singular value: drops the directions the context has not seen.
    weights = np.einsum("bij,bj->bi", np.linalg.pinv(contexts.inputs, rcond=1e-10), contexts.targets)
    return np.einsum("bi,bi->b", weights, contexts.queries)


class LeastSquares(RegressionAgent):
    """Minimum-norm least squares: ŵ = X⁺y. Exact once the context holds d generic examples (no noise)."""

    def predict(self, contexts: Contexts) -> np.ndarray:
        return least_squares_predictions(contexts)


class Ridge(RegressionAgent):
    """Posterior mean of w under a Gaussian prior N(0, s·I) and the env's noise σ²:
    ŵ = (XᵀX + (σ²/s) I)⁻¹ Xᵀy, and min-norm least squares when σ = 0 (the noiseless limit).

    The prior scale s is read from the env: 1 for w ~ N(0, I); E[Σ⁻¹] = mean(1/λ) for
    ``weight_prior="inverse_covariance"`` with a rotated Σ (the prior's covariance averaged over the
    unknown rotation: then this is the best linear-Gaussian stand-in, not the exact posterior mean);
    k/d for k-sparse weights (matching the second moment); 1 for other generators. ``regularization``
    overrides σ²/s.
    """

    def __init__(self, regularization: float | None = None, seed: int = 0, tuning_tasks: int = 256):
        super().__init__(seed, tuning_tasks)
        self.fixed_regularization = (
            None if regularization is None else check_float("regularization", regularization, minimum=0.0)
        )
        self.regularization = 0.0 if regularization is None else self.fixed_regularization

    def configure(self, generator: Any) -> None:
        if self.fixed_regularization is not None:
            return
        noise_variance = float(getattr(generator, "noise_std", 0.0)) ** 2
        prior_scale = 1.0
        if (
            getattr(generator, "weight_prior", None) == "inverse_covariance"
            and generator.covariance == "rotated"
        ):
            prior_scale = float(np.mean(1.0 / np.asarray(generator.eigenvalues)))
        elif hasattr(generator, "k"):
            prior_scale = generator.k / generator.d
        self.regularization = noise_variance / prior_scale

    def predict(self, contexts: Contexts) -> np.ndarray:
        if self.regularization == 0.0:
            return least_squares_predictions(contexts)
        gram, moment = _gram(contexts)
        d = gram.shape[-1]
        weights = np.linalg.solve(gram + self.regularization * np.eye(d), moment[..., None])[..., 0]
        return np.einsum("bi,bi->b", weights, contexts.queries)


class TunedRidge(Ridge):
    """Ridge regression whose regularization is tuned per context length on sampled tasks: the
    linear baseline for function classes that are not linear (ReLU networks, trees), where the
    "noise" is the part of y that no linear function explains."""

    regularization_grid = np.concatenate([[0.0], np.geomspace(1e-3, 100.0, 16)])

    def __init__(self, seed: int = 0, tuning_tasks: int = 256):
        super().__init__(None, seed, tuning_tasks)
        self.regularizations = np.zeros(1)

    def _predict_with(self, contexts: Contexts, regularizations: np.ndarray) -> np.ndarray:
        gram, moment = _gram(contexts)
        d = gram.shape[-1]
        # Ridge's λ = 0 limit is min-norm least squares; a tiny floor keeps the solve well posed and
        # lets the λ = 0 candidate stand for it.
        floor = np.maximum(regularizations, 1e-9)[:, None, None]
        weights = np.linalg.solve(gram + floor * np.eye(d), moment[..., None])[..., 0]
        return np.einsum("bi,bi->b", weights, contexts.queries)

    def predict(self, contexts: Contexts) -> np.ndarray:
        index = np.minimum(contexts.lengths, len(self.regularizations) - 1)
        return self._predict_with(contexts, self.regularizations[index])

    def tune(self) -> None:
        self.regularizations = self._per_length(self.regularization_grid)


class Averaging(RegressionAgent):
    """ŵ = (1/t) Σ_i y_i x_i: the one-step gradient estimate (unbiased for w when Σ = I)."""

    def predict(self, contexts: Contexts) -> np.ndarray:
        _, moment = _gram(contexts)
        return np.einsum("bi,bi->b", moment, contexts.queries) / contexts.counts()


class _StepSizeAgent(RegressionAgent):
    """An iterative predictor with one step size per context length, tuned by grid search."""

    step_size_grid: np.ndarray = np.geomspace(0.02, 2.0, 21)

    def __init__(
        self, steps: int = 1, step_size: float | None = None, seed: int = 0, tuning_tasks: int = 256
    ):
        super().__init__(seed, tuning_tasks)
        self.steps = check_int("steps", steps, minimum=1)
        self.fixed_step_size = None if step_size is None else check_float("step_size", step_size, minimum=0.0)
        self.step_sizes = np.ones(1)  # indexed by context length, set in tune()

    def _predict_with(self, contexts: Contexts, step_sizes: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict(self, contexts: Contexts) -> np.ndarray:
        return self._predict_with(
            contexts, self.step_sizes[np.minimum(contexts.lengths, len(self.step_sizes) - 1)]
        )

    def tune(self) -> None:
        self.step_sizes = self._per_length(self.step_size_grid, self.fixed_step_size)


class GD(_StepSizeAgent):
    """``steps`` steps of gradient descent from w = 0 on L(w) = (1/2t) Σ_i (<w, x_i> - y_i)²."""

    def _predict_with(self, contexts: Contexts, step_sizes: np.ndarray) -> np.ndarray:
        gram, moment = _gram(contexts)
        counts = contexts.counts()[:, None]
        weights = np.zeros_like(moment)
        for _ in range(self.steps):
            gradient = (_matvec(gram, weights) - moment) / counts
            weights = weights - step_sizes[:, None] * gradient
        return np.einsum("bi,bi->b", weights, contexts.queries)


class PreconditionedGD(_StepSizeAgent):
    """``steps`` steps of preconditioned GD from w = 0: w ← w - η Γ ∇L(w), with the one-layer-optimal
    preconditioner Γ = ((t+1)/t · Σ + tr(Σ)/t · I)⁻¹ (no Σ⁻¹ needed).

    Σ = I when the env says so (``covariance="identity"`` and the other generators); otherwise the
    plug-in estimate from the inputs seen, context and query: Σ̂ = (XᵀX + qqᵀ)/(t+1). With one step,
    η = 1 and Σ = I this is the best single preconditioned step, whose error on a query after n
    examples is d(d+1)/(n+d+1) (Ahn et al. 2023; Mahankali et al. 2023).
    """

    step_size_grid = np.geomspace(0.25, 4.0, 21)  # holds 1.0, the theory's optimum for one step

    def configure(self, generator: Any) -> None:
        self.known_identity = getattr(generator, "covariance", "identity") == "identity"

    def _predict_with(self, contexts: Contexts, step_sizes: np.ndarray) -> np.ndarray:
        gram, moment = _gram(contexts)
        counts = contexts.counts()[:, None]
        d = gram.shape[-1]
        if getattr(self, "known_identity", True):
            covariance = np.broadcast_to(np.eye(d), gram.shape)
        else:
            outer = np.einsum("bi,bj->bij", contexts.queries, contexts.queries)
            covariance = (gram + outer) / (counts[..., None] + 1.0)
        trace = np.trace(covariance, axis1=-2, axis2=-1)[:, None, None]
        t = counts[..., None]
        preconditioner = np.linalg.inv((t + 1.0) / t * covariance + trace / t * np.eye(d))
        weights = np.zeros_like(moment)
        for _ in range(self.steps):
            gradient = (_matvec(gram, weights) - moment) / counts
            weights = weights - step_sizes[:, None] * _matvec(preconditioner, gradient)
        return np.einsum("bi,bi->b", weights, contexts.queries)


class GDPlusPlus(RegressionAgent):
    """GD++ (von Oswald et al. 2023, "Transformers learn in-context by gradient descent").

    ``steps`` curvature corrections of every input, context and query alike, x ← (I - γ Σ̂) x with
    Σ̂ = XᵀX/t of the current inputs, then one gradient step from w = 0 on the transformed data:
    ŷ = η <x̃_q, X̃ᵀy/t>. The corrections make X̃ᵀX̃ better conditioned, so that one step acts like
    a step of Newton's method. γ and η are tuned per context length by grid search.
    """

    gamma_grid = np.linspace(0.0, 0.5, 11)
    step_size_grid = np.geomspace(0.05, 3.0, 15)

    def __init__(self, steps: int = 2, seed: int = 0, tuning_tasks: int = 256):
        super().__init__(seed, tuning_tasks)
        self.steps = check_int("steps", steps, minimum=1)
        self.gammas = np.zeros(1)
        self.step_sizes = np.ones(1)

    def _features(self, contexts: Contexts, gammas: np.ndarray) -> np.ndarray:
        """<x̃_q, X̃ᵀy/t> after the corrections (the prediction for η = 1)."""
        inputs, queries = contexts.inputs, contexts.queries
        counts = contexts.counts()[:, None, None]
        for _ in range(self.steps):
            correction = (
                np.eye(inputs.shape[-1])
                - gammas[:, None, None] * np.einsum("bni,bnj->bij", inputs, inputs) / counts
            )
            inputs = np.einsum("bni,bji->bnj", inputs, correction)  # row x ← (I - γΣ̂) x (symmetric)
            queries = _matvec(correction, queries)
        moment = np.einsum("bni,bn->bi", inputs, contexts.targets) / counts[:, 0]
        return np.einsum("bi,bi->b", moment, queries)

    def predict(self, contexts: Contexts) -> np.ndarray:
        index = np.minimum(contexts.lengths, len(self.gammas) - 1)
        return self.step_sizes[index] * self._features(contexts, self.gammas[index])

    def tune(self) -> None:
        contexts, answers = self._tuning_set()
        best_error = np.full(self.n, np.inf)
        self.gammas, self.step_sizes = np.zeros(self.n + 1), np.ones(self.n + 1)
        for gamma in self.gamma_grid:
            features = self._features(contexts, np.full(len(answers), gamma))
            for eta in self.step_size_grid:
                errors = self._errors_by_length(eta * features, answers)
                better = errors < best_error
                best_error[better] = errors[better]
                self.gammas[:-1][better], self.step_sizes[:-1][better] = gamma, eta
        self.gammas[-1], self.step_sizes[-1] = self.gammas[-2], self.step_sizes[-2]


class Lasso(RegressionAgent):
    """ℓ1-regularised least squares, min_w (1/2t)||y - Xw||² + α||w||₁, by cyclic coordinate descent
    (batched over envs); α is tuned per context length by grid search (or fixed with ``alpha``)."""

    alpha_grid = np.geomspace(1e-3, 0.3, 10)

    def __init__(self, alpha: float | None = None, sweeps: int = 40, seed: int = 0, tuning_tasks: int = 128):
        super().__init__(seed, tuning_tasks)
        self.fixed_alpha = None if alpha is None else check_float("alpha", alpha, minimum=0.0)
        self.sweeps = check_int("sweeps", sweeps, minimum=1)
        self.alphas = np.full(1, 0.01 if alpha is None else alpha)

    def _predict_with(self, contexts: Contexts, alphas: np.ndarray) -> np.ndarray:
        x, y = contexts.inputs, contexts.targets
        counts = contexts.counts()
        column_norms = np.einsum("bni,bni->bi", x, x) / counts[:, None]  # (1/t) Σ_i x_ij²
        weights = np.zeros((x.shape[0], x.shape[2]))
        residual = y.copy()
        for _ in range(self.sweeps):
            for j in range(x.shape[-1]):
                xj = x[:, :, j]
                rho = np.einsum("bn,bn->b", xj, residual) / counts + column_norms[:, j] * weights[:, j]
                shrunk = np.sign(rho) * np.maximum(np.abs(rho) - alphas, 0.0)
                new = np.divide(
                    shrunk, column_norms[:, j], out=np.zeros_like(rho), where=column_norms[:, j] > 0
                )
                residual += xj * (weights[:, j] - new)[:, None]
                weights[:, j] = new
        return np.einsum("bi,bi->b", weights, contexts.queries)

    def predict(self, contexts: Contexts) -> np.ndarray:
        return self._predict_with(contexts, self.alphas[np.minimum(contexts.lengths, len(self.alphas) - 1)])

    def tune(self) -> None:
        self.alphas = self._per_length(self.alpha_grid, self.fixed_alpha)


class KNN(RegressionAgent):
    """Mean target of the ``k`` context examples nearest to the query (Euclidean; fewer if t < k)."""

    def __init__(self, k: int = 3, seed: int = 0, tuning_tasks: int = 256):
        super().__init__(seed, tuning_tasks)
        self.k = check_int("k", k, minimum=1)

    def predict(self, contexts: Contexts) -> np.ndarray:
        distances = ((contexts.inputs - contexts.queries[:, None, :]) ** 2).sum(axis=-1)
        distances = np.where(contexts.mask, distances, np.inf)
        order = np.argsort(distances, axis=1, kind="stable")
        neighbours = np.arange(distances.shape[1]) < np.minimum(self.k, contexts.lengths)[:, None]
        nearest_targets = np.take_along_axis(contexts.targets, order, axis=1) * neighbours
        return nearest_targets.sum(axis=1) / np.maximum(neighbours.sum(axis=1), 1)


#: The agents the docs and the plot script report, per env id.
BASELINES_BY_ENV: dict[str, tuple[str, ...]] = {
    "icl/LinearRegression-v0": (
        "ZeroPredictor",
        "Averaging",
        "GD",
        "PreconditionedGD",
        "GDPlusPlus",
        "LeastSquares",
        "Ridge",
    ),
    "icl/SparseRegression-v0": ("ZeroPredictor", "Averaging", "LeastSquares", "Ridge", "Lasso", "KNN"),
    "icl/ReLUNetRegression-v0": (
        "ZeroPredictor",
        "MeanPredictor",
        "Averaging",
        "LeastSquares",
        "TunedRidge",
        "KNN",
    ),
    "icl/DecisionTreeRegression-v0": (
        "ZeroPredictor",
        "MeanPredictor",
        "Averaging",
        "LeastSquares",
        "TunedRidge",
        "KNN",
    ),
}
