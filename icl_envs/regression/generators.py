"""Task generators for in-context regression (Jumanji style: separate from the env, pluggable).

A generator is a small object with a dimension ``d`` and three ways to draw tasks:

- ``sample(rng, n)``: one task with ``n`` examples (arrays without a batch axis);
- ``sample_batch(rng, batch, n)``: ``batch`` tasks from one ``numpy.random.Generator``;
- ``sample_each(rngs, n, block=1)``: ``block`` tasks per generator in ``rngs``, stacked; those of
  ``rngs[i]`` are exactly ``sample_batch(rngs[i], block, n)``. The vector env uses this so that it
  reproduces ``SyncVectorEnv``.

The envs draw their tasks ``block_size(n)`` at a time with ``sample_batch(np_random, block, n)`` and
serve them one episode after another (a new block after ``reset(seed=...)``): a numpy generator call
costs about as much as a thousand normal draws, and the vector env makes one per env and block.

A task carries its ``inputs`` (n, d) and ``targets`` (n,), all drawn up front, plus the parameters of
the function it was drawn from. Any object with ``d`` and ``sample(rng, n)`` returning something with
``inputs`` and ``targets`` can be passed to the envs as ``generator=``.

How the randomness is laid out (so that batching is exact): every generator turns each task's
random numbers into a task with pure array arithmetic. Per task it makes one call
``rng.standard_normal(size)`` and, where it needs uniforms, one call ``rng.random(size)`` after it;
``sample_batch`` makes the same two calls with a leading batch axis. Elementwise arithmetic and
reductions over the last axis give bit-identical results whatever the batch size.

The function classes follow Garg et al. 2022, "What Can Transformers Learn In-Context? A Case Study
of Simple Function Classes" (sparse linear, two-layer ReLU networks, depth-4 decision trees), with
inputs x ~ N(0, I_d); the linear class adds the anisotropic covariance and the inverse-covariance
weight prior of the preconditioned-GD analyses of in-context linear regression.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from icl_envs.checks import check_choice, check_float, check_int, describe
from icl_envs.prediction import check_d, check_n, check_task_batch

#: Envs draw tasks in blocks (one generator call per block, see ``block_size``) of at most MAX_BLOCK
#: tasks and about BLOCK_DRAWS random numbers: a numpy generator call costs more than the numbers.
BLOCK_DRAWS = 2048
MAX_BLOCK = 16
COVARIANCES = ("identity", "rotated")
WEIGHT_PRIORS = ("identity", "inverse_covariance")
#: The default eigenvalue pattern of a rotated covariance, repeated to length d.
EIGENVALUE_PATTERN = (1.0, 1.0, 0.25, 0.0625, 1.0)

# Limits of the arguments (besides those of d, n and n * d in icl_envs.prediction). They bound every
# input and target by the task's standard normal draws z: |x| <= 1e3 |z_x| and
# |y| <= 1e6 (|z_w| |z_x| + |eps|), with |z| <= sqrt(d) max|z_i|; that is finite in float32 (and its
# squared error in float64) unless a draw exceeded about 1e10, which numpy's normal generator cannot
# produce. So the generators' tasks need no check at each episode. The work of one task stays at
# most about 2^28 multiply-adds (about 1.5 s measured at the limits).
#: noise_std, the standard deviation of the target noise.
MAX_NOISE_STD = 1e6
#: Each eigenvalue of a rotated covariance lies in [MIN_EIGENVALUE, MAX_EIGENVALUE].
MIN_EIGENVALUE, MAX_EIGENVALUE = 1e-6, 1e6
#: d with covariance="rotated": each task builds a d x d rotation (QR and three products, O(d^3)).
MAX_ROTATED_D = 256
#: hidden units of a ReLU network; hidden * d (its weights) <= MAX_HIDDEN_WEIGHTS; and the
#: pre-activations of one task, n * hidden * d multiply-adds, <= MAX_RELU_WORK.
MAX_HIDDEN = 4096
MAX_HIDDEN_WEIGHTS = 2**20
MAX_RELU_WORK = 2**28
#: depth of a decision tree: 2^depth leaves.
MAX_DEPTH = 12


def check_noise_std(noise_std: Any) -> float:
    return check_float("noise_std", noise_std, minimum=0.0, maximum=MAX_NOISE_STD)


def check_eigenvalues(eigenvalues: Any, d: int) -> np.ndarray:
    """d real numbers in [MIN_EIGENVALUE, MAX_EIGENVALUE], as a read-only float64 array."""
    if isinstance(eigenvalues, (str, bytes)) or not hasattr(eigenvalues, "__len__") or len(eigenvalues) != d:
        raise ValueError(
            f"eigenvalues must be {d} positive numbers (one per dimension d), got {describe(eigenvalues)}"
        )
    values = np.array(
        [
            check_float(f"eigenvalues[{i}]", value, minimum=MIN_EIGENVALUE, maximum=MAX_EIGENVALUE)
            for i, value in enumerate(eigenvalues)
        ]
    )
    values.setflags(write=False)
    return values


def default_eigenvalues(d: int) -> np.ndarray:
    """(1, 1, 1/4, 1/16, 1) for d = 5; the same five-value pattern repeated to length d otherwise."""
    return np.resize(np.asarray(EIGENVALUE_PATTERN, dtype=np.float64), d)


# --------------------------------------------------------------------------------------------- tasks
@dataclasses.dataclass(frozen=True)
class RegressionTask:
    """What every env needs: the inputs (..., n, d) and targets (..., n) of one task (or a batch)."""

    inputs: np.ndarray
    targets: np.ndarray

    def index(self, i: int) -> RegressionTask:
        """Task ``i`` of a batched task (every field indexed along its first axis)."""
        return type(self)(**{f.name: getattr(self, f.name)[i] for f in dataclasses.fields(self)})


@dataclasses.dataclass(frozen=True)
class LinearRegressionTask(RegressionTask):
    """y = <w, x> + noise with x ~ N(0, Σ); also holds Σ and its symmetric square root."""

    weights: np.ndarray
    covariance: np.ndarray
    covariance_sqrt: np.ndarray


@dataclasses.dataclass(frozen=True)
class SparseLinearTask(RegressionTask):
    """y = <w, x> + noise with a k-sparse w; ``support`` marks its nonzero coordinates."""

    weights: np.ndarray
    support: np.ndarray


@dataclasses.dataclass(frozen=True)
class ReLUNetTask(RegressionTask):
    """y = Σ_i a_i relu(<v_i, x>) + noise; ``hidden_weights`` (hidden, d), ``output_weights`` (hidden,)."""

    hidden_weights: np.ndarray
    output_weights: np.ndarray


@dataclasses.dataclass(frozen=True)
class DecisionTreeTask(RegressionTask):
    """A full binary tree in heap order: node j's children are 2j+1 (x_c <= 0) and 2j+2 (x_c > 0)."""

    node_coordinates: np.ndarray
    leaf_values: np.ndarray


# ---------------------------------------------------------------------------------------- generators
class RegressionTasks:
    """Base class: subclasses say how many random numbers a task uses and how they become a task."""

    d: int
    noise_std: float

    def _sizes(self, n: int) -> tuple[int, int]:
        """(number of standard normals, number of uniforms) one task with n examples draws."""
        raise NotImplementedError

    def check_n(self, n: Any) -> int:
        """``n`` examples per task, within the limits of ``icl_envs.prediction`` (and the class's own)."""
        return check_n(n, self.d)

    def bytes_per_task(self, n: int) -> int:
        """About the memory drawing one task takes: its random numbers, and the task built from them
        (about twice as many numbers again), in float64."""
        return 8 * 3 * sum(self._sizes(n))

    def _build(self, normals: np.ndarray, uniforms: np.ndarray, n: int) -> RegressionTask:
        """Turn (batch, sizes) arrays of random numbers into a batched task."""
        raise NotImplementedError

    def _draw(self, rng: np.random.Generator, batch: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        num_normals, num_uniforms = self._sizes(n)
        normals = rng.standard_normal((batch, num_normals))
        uniforms = rng.random((batch, num_uniforms)) if num_uniforms else np.zeros((batch, 0))
        return normals, uniforms

    def sample(self, rng: np.random.Generator, n: int) -> RegressionTask:
        """One task with ``n`` examples."""
        n = self.check_n(n)
        return self._build(*self._draw(rng, 1, n), n).index(0)

    def sample_batch(self, rng: np.random.Generator, batch: int, n: int) -> RegressionTask:
        """``batch`` tasks from one generator; every array gets a leading batch axis."""
        batch = check_int("batch", batch, minimum=1)
        n = check_task_batch(self, batch, n, f"batch={batch}")
        return self._build(*self._draw(rng, batch, n), n)

    def block_size(self, n: int) -> int:
        """How many tasks an env draws at once from its generator (see the module docstring)."""
        num_normals, num_uniforms = self._sizes(n)
        return int(np.clip(BLOCK_DRAWS // (num_normals + num_uniforms), 1, MAX_BLOCK))

    def sample_each(self, rngs: Sequence[np.random.Generator], n: int, block: int = 1) -> RegressionTask:
        """``block`` tasks from each generator in ``rngs``, stacked env-major: tasks
        ``i·block .. (i+1)·block - 1`` are exactly ``sample_batch(rngs[i], block, n)`` (for
        ``block=1``: ``sample(rngs[i], n)``)."""
        block = check_int("block", block, minimum=1)
        n = check_task_batch(self, len(rngs) * block, n, f"{len(rngs)} generators x block={block}")
        num_normals, num_uniforms = self._sizes(n)
        # Fill preallocated rows in place: with one small draw per generator, the per-call overhead
        # is what costs, and this is the vector env's reset path. A row holds `block` tasks' numbers
        # in the order sample_batch draws them (all normals, then all uniforms).
        normals = np.empty((len(rngs), block * num_normals))
        uniforms = np.empty((len(rngs), block * num_uniforms))
        if num_uniforms:
            for rng, normal_row, uniform_row in zip(rngs, normals, uniforms):
                rng.standard_normal(out=normal_row)
                rng.random(out=uniform_row)
        else:
            for rng, normal_row in zip(rngs, normals):
                rng.standard_normal(out=normal_row)
        tasks = len(rngs) * block
        return self._build(normals.reshape(tasks, num_normals), uniforms.reshape(tasks, num_uniforms), n)

    def _noisy(self, clean: np.ndarray, noise: np.ndarray) -> np.ndarray:
        return clean + self.noise_std * noise

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self._arguments().items())
        return f"{type(self).__name__}({args})"

    def _arguments(self) -> dict[str, Any]:
        return {"d": self.d, "noise_std": self.noise_std}


def _dot_last(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sum of a * b over the last axis (broadcasting the others), one coordinate at a time.

    Accumulating in a fixed order with elementwise operations gives bit-identical results whatever
    the batch size (a BLAS product need not), and is faster than a reduction over a short axis.
    """
    total = a[..., 0] * b[..., 0]
    for j in range(1, a.shape[-1]):
        total = total + a[..., j] * b[..., j]
    return total


class LinearRegressionTasks(RegressionTasks):
    """Linear functions with Gaussian inputs: the task class of in-context linear regression.

    Distribution of one task with n examples:

    - Σ = I (``covariance="identity"``) or Σ = U diag(λ) Uᵀ (``"rotated"``) with U Haar-random per
      task: U = Q·diag(sign(diag R)) for the QR factorisation G = QR of a d×d matrix G of i.i.d.
      N(0, 1) entries; λ = ``eigenvalues`` (default :func:`default_eigenvalues`).
    - w ~ N(0, I_d) (``weight_prior="identity"``) or w ~ N(0, Σ⁻¹) (``"inverse_covariance"``),
      drawn as w = Σ^{-1/2} z with z ~ N(0, I_d).
    - x_1..x_n ~ N(0, Σ) i.i.d., drawn as x = Σ^{1/2} z with z ~ N(0, I_d) (Σ^{1/2} symmetric).
    - y_i = <w, x_i> + noise_std · ε_i with ε_i ~ N(0, 1).

    Random-number layout per task: one ``standard_normal`` vector holding, in order, G (d·d, row
    major; only for ``"rotated"``), z for w (d), z for the inputs (n·d, row major), ε (n).
    """

    def __init__(
        self,
        d: int = 5,
        noise_std: float = 0.0,
        covariance: str = "identity",
        weight_prior: str = "identity",
        eigenvalues: Sequence[float] | None = None,
    ) -> None:
        self.d = check_d(d)
        self.noise_std = check_noise_std(noise_std)
        self.covariance = check_choice("covariance", covariance, COVARIANCES)
        self.weight_prior = check_choice("weight_prior", weight_prior, WEIGHT_PRIORS)
        if self.covariance == "rotated" and self.d > MAX_ROTATED_D:
            raise ValueError(
                f"d must be <= {MAX_ROTATED_D} with covariance='rotated' (each task builds a d x d "
                f"rotation, O(d^3) work), got d={self.d}"
            )
        if eigenvalues is None:
            self.eigenvalues = default_eigenvalues(self.d)
            self.eigenvalues.setflags(write=False)
        else:
            if self.covariance != "rotated":
                raise ValueError("eigenvalues only apply to covariance='rotated'; leave eigenvalues=None")
            self.eigenvalues = check_eigenvalues(eigenvalues, self.d)

    def _arguments(self) -> dict[str, Any]:
        return {
            "d": self.d,
            "noise_std": self.noise_std,
            "covariance": self.covariance,
            "weight_prior": self.weight_prior,
            "eigenvalues": self.eigenvalues.tolist(),
        }

    def _sizes(self, n: int) -> tuple[int, int]:
        rotation = self.d * self.d if self.covariance == "rotated" else 0
        return rotation + self.d + n * self.d + n, 0

    def _build(self, normals: np.ndarray, uniforms: np.ndarray, n: int) -> LinearRegressionTask:
        batch, d = normals.shape[0], self.d
        offset = 0
        if self.covariance == "rotated":
            gaussian = normals[:, : d * d].reshape(batch, d, d)
            offset = d * d
            q, r = np.linalg.qr(gaussian)
            signs = np.where(np.diagonal(r, axis1=-2, axis2=-1) < 0, -1.0, 1.0)
            rotation = q * signs[:, None, :]  # Haar: fix the sign ambiguity of QR

            def spectral(values: np.ndarray) -> np.ndarray:  # U diag(values) Uᵀ, batched
                return _dot_last(rotation[:, :, None, :] * values, rotation[:, None, :, :])

            covariance = spectral(self.eigenvalues)
            covariance_sqrt = spectral(np.sqrt(self.eigenvalues))
            inverse_sqrt = spectral(1.0 / np.sqrt(self.eigenvalues))
        else:
            covariance = np.broadcast_to(np.eye(d), (batch, d, d)).copy()
            covariance_sqrt = covariance.copy()
            inverse_sqrt = covariance
        weight_noise = normals[:, offset : offset + d]
        offset += d
        input_noise = normals[:, offset : offset + n * d].reshape(batch, n, d)
        offset += n * d
        target_noise = normals[:, offset : offset + n]

        if self.weight_prior == "inverse_covariance" and self.covariance == "rotated":
            weights = _dot_last(inverse_sqrt, weight_noise[:, None, :])
        else:
            weights = weight_noise.copy()
        if self.covariance == "rotated":
            inputs = _dot_last(covariance_sqrt[:, None, :, :], input_noise[:, :, None, :])
        else:
            inputs = input_noise.copy()
        targets = self._noisy(_dot_last(inputs, weights[:, None, :]), target_noise)
        return LinearRegressionTask(inputs, targets, weights, covariance, covariance_sqrt)


class SparseLinearTasks(RegressionTasks):
    """k-sparse linear functions (Garg et al. 2022, §"sparse linear functions").

    Distribution of one task with n examples: z ~ N(0, I_d); a support of k coordinates chosen
    uniformly at random (the k smallest of d i.i.d. U(0, 1) draws); w = z on the support, 0 elsewhere;
    x_1..x_n ~ N(0, I_d); y_i = <w, x_i> + noise_std · ε_i, ε_i ~ N(0, 1).

    Random-number layout per task: ``standard_normal`` vector [z (d), inputs (n·d, row major),
    ε (n)], then ``random`` vector u (d) for the support.
    """

    def __init__(self, d: int = 10, k: int = 3, noise_std: float = 0.0) -> None:
        self.d = check_d(d)
        self.k = check_int("k", k, minimum=1, maximum=self.d)
        self.noise_std = check_noise_std(noise_std)

    def _arguments(self) -> dict[str, Any]:
        return {"d": self.d, "k": self.k, "noise_std": self.noise_std}

    def _sizes(self, n: int) -> tuple[int, int]:
        return self.d + n * self.d + n, self.d

    def _build(self, normals: np.ndarray, uniforms: np.ndarray, n: int) -> SparseLinearTask:
        batch, d = normals.shape[0], self.d
        ranks = np.argsort(np.argsort(uniforms, axis=1), axis=1)
        support = ranks < self.k
        weights = np.where(support, normals[:, :d], 0.0)
        inputs = normals[:, d : d + n * d].reshape(batch, n, d).copy()
        targets = self._noisy(_dot_last(inputs, weights[:, None, :]), normals[:, d + n * d :])
        return SparseLinearTask(inputs, targets, weights, support)


class ReLUNetTasks(RegressionTasks):
    """Random two-layer ReLU networks (Garg et al. 2022, §"two-layer ReLU neural networks").

    Distribution of one task with n examples: hidden weights v_1..v_h ~ N(0, I_d) (h = ``hidden``),
    output weights a_j ~ N(0, 2/h); x_1..x_n ~ N(0, I_d);
    y_i = Σ_j a_j max(0, <v_j, x_i>) + noise_std · ε_i, ε_i ~ N(0, 1). The 2/h scaling makes
    E[y²] = d (noise 0), the same as for a linear function with w ~ N(0, I_d).

    Random-number layout per task: one ``standard_normal`` vector [v (h·d, row j is v_j),
    a/√(2/h) (h), inputs (n·d, row major), ε (n)].
    """

    def __init__(self, d: int = 5, hidden: int = 100, noise_std: float = 0.0) -> None:
        self.d = check_d(d)
        self.hidden = check_int("hidden", hidden, minimum=1, maximum=MAX_HIDDEN)
        if self.hidden * self.d > MAX_HIDDEN_WEIGHTS:
            raise ValueError(
                f"hidden * d must be <= {MAX_HIDDEN_WEIGHTS} (the network's weights), "
                f"got hidden={self.hidden}, d={self.d}"
            )
        self.noise_std = check_noise_std(noise_std)

    def check_n(self, n: Any) -> int:
        n = super().check_n(n)
        if n * self.hidden * self.d > MAX_RELU_WORK:
            raise ValueError(
                f"n * hidden * d must be <= {MAX_RELU_WORK} (the work of one task's pre-activations), "
                f"got n={n}, hidden={self.hidden}, d={self.d}"
            )
        return n

    def bytes_per_task(self, n: int) -> int:
        # The pre-activations and their ReLU, or one product's temporary: two (n, hidden) arrays.
        return super().bytes_per_task(n) + 2 * 8 * n * self.hidden

    def _arguments(self) -> dict[str, Any]:
        return {"d": self.d, "hidden": self.hidden, "noise_std": self.noise_std}

    def _sizes(self, n: int) -> tuple[int, int]:
        return self.hidden * self.d + self.hidden + n * self.d + n, 0

    def _build(self, normals: np.ndarray, uniforms: np.ndarray, n: int) -> ReLUNetTask:
        batch, d, h = normals.shape[0], self.d, self.hidden
        hidden_weights = normals[:, : h * d].reshape(batch, h, d).copy()
        output_weights = normals[:, h * d : h * d + h] * np.sqrt(2.0 / h)
        offset = h * d + h
        inputs = normals[:, offset : offset + n * d].reshape(batch, n, d).copy()
        # Pre-activations summed coordinate by coordinate: d small (batch, n, h) products instead of
        # one (batch, n, h, d) temporary.
        pre_activations = np.zeros((batch, n, h))
        for j in range(d):
            pre_activations += inputs[:, :, j, None] * hidden_weights[:, None, :, j]
        clean = _dot_last(np.maximum(pre_activations, 0.0), output_weights[:, None, :])
        targets = self._noisy(clean, normals[:, offset + n * d :])
        return ReLUNetTask(inputs, targets, hidden_weights, output_weights)


class DecisionTreeTasks(RegressionTasks):
    """Random decision trees on sign features (Garg et al. 2022, §"decision trees").

    Distribution of one task with n examples: a full binary tree of the given ``depth`` (15 internal
    nodes and 16 leaves for depth 4) in heap order; each internal node tests a coordinate c chosen
    uniformly from {0..d-1} (c = floor(d·u), u ~ U(0, 1)) and sends x to its right child if x_c > 0,
    to its left child otherwise; leaf values ~ N(0, 1); x_1..x_n ~ N(0, I_d);
    y_i = leaf(x_i) + noise_std · ε_i, ε_i ~ N(0, 1).

    Random-number layout per task: ``standard_normal`` vector [leaf values (2^depth),
    inputs (n·d, row major), ε (n)], then ``random`` vector u (2^depth - 1) for the node coordinates.
    """

    def __init__(self, d: int = 5, depth: int = 4, noise_std: float = 0.0) -> None:
        self.d = check_d(d)
        self.depth = check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
        self.noise_std = check_noise_std(noise_std)

    def _arguments(self) -> dict[str, Any]:
        return {"d": self.d, "depth": self.depth, "noise_std": self.noise_std}

    def _sizes(self, n: int) -> tuple[int, int]:
        leaves = 2**self.depth
        return leaves + n * self.d + n, leaves - 1

    def _build(self, normals: np.ndarray, uniforms: np.ndarray, n: int) -> DecisionTreeTask:
        batch, d = normals.shape[0], self.d
        leaves = 2**self.depth
        leaf_values = normals[:, :leaves].copy()
        inputs = normals[:, leaves : leaves + n * d].reshape(batch, n, d).copy()
        node_coordinates = np.minimum((uniforms * d).astype(np.int64), d - 1)
        node = np.zeros((batch, n), dtype=np.int64)
        for _ in range(self.depth):
            coordinate = np.take_along_axis(node_coordinates, node, axis=1)
            goes_right = np.take_along_axis(inputs, coordinate[:, :, None], axis=2)[:, :, 0] > 0
            node = 2 * node + 1 + goes_right
        clean = np.take_along_axis(leaf_values, node - (leaves - 1), axis=1)
        targets = self._noisy(clean, normals[:, leaves + n * d :])
        return DecisionTreeTask(inputs, targets, node_coordinates, leaf_values)
