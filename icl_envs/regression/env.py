"""In-context regression environments: predict each new target from the examples seen so far.

One env class does the work (:class:`RegressionEnv`); the registered ids differ only in the task
generator they build from their arguments (see ``generators.py``), and every one of them accepts a
user's own ``generator=``.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from icl_envs.checks import check_choice, check_reset_options, describe
from icl_envs.prediction import (
    MAX_D,
    PredictionEnv,
    check_action_bound,
    check_n,
    check_task_values,
    prediction_action_space,
    prediction_observation_space,
)
from icl_envs.regression.generators import (
    DecisionTreeTasks,
    LinearRegressionTasks,
    RegressionTasks,
    ReLUNetTasks,
    SparseLinearTasks,
)


class TaskGenerator(Protocol):
    """What an env needs from a generator: a dimension and ``sample(rng, n)`` with inputs/targets."""

    d: int

    def sample(self, rng: np.random.Generator, n: int) -> Any: ...


def check_generator(generator: Any) -> TaskGenerator:
    """Raise a clear error unless ``generator`` looks like a task generator."""
    d = getattr(generator, "d", None)
    if (
        not callable(getattr(generator, "sample", None))
        or isinstance(d, bool)
        or not isinstance(d, (int, np.integer))
        or not 1 <= d <= MAX_D
    ):
        raise ValueError(
            f"generator must have an integer attribute d in [1, {MAX_D}] and a method sample(rng, n) "
            f"returning a task with inputs (n, d) and targets (n,); got {describe(generator)}"
        )
    return generator


def check_task(task: Any, n: int, d: int, generator: Any, batch: int | None = None) -> None:
    """Raise a clear error naming ``generator`` unless its task has ``inputs`` of shape (n, d) and
    ``targets`` of shape (n,) (with a leading ``batch`` axis when given) holding finite numbers that
    float32 observations can hold: a wrong shape would otherwise surface as a numpy broadcasting
    error deep inside ``step``, a huge number as inf in an observation or a reward."""
    lead = () if batch is None else (batch,)
    for name, shape in (("inputs", (*lead, n, d)), ("targets", (*lead, n))):
        value = getattr(task, name, None)
        if value is None:
            raise ValueError(
                f"generator: {describe(generator)} gave a task without {name} (of shape {shape}): {describe(task)}"
            )
        check_task_values(generator, name, value, shape)


def episode_arrays(
    inputs: Any, targets: Any, out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The episode arrays (see :mod:`icl_envs.prediction`) of tasks with ``inputs`` (..., n, d) and
    ``targets`` (..., n): row i = [x_i, y_i] and query i = x_i in float32 (the final query is
    zeros), target i = y_i in float64. ``out`` optionally gives the three arrays to write into."""
    *lead, n, d = np.shape(inputs)
    if out is None:
        out = (
            np.empty((*lead, n, d + 1), dtype=np.float32),
            np.empty((*lead, n + 1, d), dtype=np.float32),
            np.empty((*lead, n)),
        )
    rows, queries, scored = out
    rows[..., :d] = inputs
    rows[..., d] = targets
    queries[..., :n, :] = inputs
    queries[..., n, :] = 0.0
    scored[...] = targets
    return out


_DOC_TEMPLATE = """{title}

    ## Description
    {description}
    Each episode is a fresh task. At step t (t = 0..n-1) the agent sees the t examples (x_i, y_i)
    drawn so far and the query x_t, and predicts y_t; then (x_t, y_t) joins the context. The rewards
    of an episode therefore trace the learning curve: squared error against number of examples.

    ## Action Space
    ``Box(-action_bound, action_bound, (1,), float32)``: the prediction ŷ_t. The bound is finite so
    that RL libraries accept the space; its default (1e3) is far beyond any realistic target.

    ## Observation Space
    ``Dict(context=Box(n, d+1), length=Discrete(n+1), query=Box(d))``: row i < length of ``context`` is
    [x_i, y_i]; rows at or past ``length`` are zero; ``query`` is x_t (zeros in the final
    observation, where length = n).

    ## Rewards
    ``-(ŷ_t - y_t)^2``. ``info["target"]`` holds y_t in the info of the step that scored it, and
    never earlier.

    ## Starting State
    A task drawn from the generator with ``self.np_random``; an empty context and the first query.
    The generators of this package are asked for ``generator.block_size(n)`` tasks at a time
    (``sample_batch``), served one per episode; ``reset(seed=...)`` starts a fresh block.

    ## Episode End
    Terminates after n predictions; never truncates.

    ## Arguments
        d: input dimension, 1..1024.
        {arguments}
        noise_std: standard deviation of the Gaussian noise added to y, 0..1e6.
        n: number of examples (= predictions) per episode, 1..4096, with n * d <= 2^20.
        action_bound: bound B of the action space, 0 < B <= 1e12.
        generator: a task generator (any object with ``d`` in 1..1024 and ``sample(rng, n)``); when
            given it defines the task distribution and the distribution arguments above are not
            used. Its tasks are checked at every episode: finite numbers within float32's range.
        render_mode: only ``None`` (no rendering).
    Float arguments take real numbers only (not strings); a bad argument raises ``ValueError``
    naming it, before anything is allocated. ``reset`` takes no options (any key is refused).

    ## Vector env
    ``gym.make_vec(id, num_envs)`` builds the native numpy vector env of ``vector_env.py`` (next-step
    autoreset); it gives the same numbers as ``SyncVectorEnv`` over this env for the same seeds.
    ``num_envs`` <= 65536, and all sub-envs' arrays together must fit in about 1 GiB.

    ## Version History
    - v0: initial version.
    """


class RegressionEnv(PredictionEnv):
    """In-context regression over any task generator (the registered ids subclass this)."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self, generator: TaskGenerator, n: int, action_bound: float = 1e3, render_mode: str | None = None
    ):
        self.generator = check_generator(generator)
        self.d = int(generator.d)
        # Our generators add their own limits on n (a ReLU network's work); any generator has these.
        self.n = generator.check_n(n) if isinstance(generator, RegressionTasks) else check_n(n, self.d)
        self.action_bound = check_action_bound(action_bound)
        self.render_mode = check_choice("render_mode", render_mode, (None,))
        self.observation_space = prediction_observation_space(self.n, self.d + 1, self.d)
        self.action_space = prediction_action_space(self.action_bound)
        self._block: Any = None  # tasks drawn ahead (our own generators draw a block at a time)
        self._block_next = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        check_reset_options(options, (), "a task cannot be chosen at reset: pass generator= to the env")
        super().reset(seed=seed)
        if seed is not None:
            self._block = None  # a seed starts a fresh stream of tasks
        self.task = self._next_task()
        return self._start_episode(*episode_arrays(self.task.inputs, self.task.targets)), {}

    def _next_task(self) -> Any:
        """The next task: from the current block for our generators, else ``sample(np_random, n)``."""
        if not isinstance(self.generator, RegressionTasks):  # a user's generator: check what it gives
            task = self.generator.sample(self.np_random, self.n)
            check_task(task, self.n, self.d, self.generator)
            return task
        if self._block is None or self._block_next == len(self._block.targets):
            block = self.generator.block_size(self.n)
            self._block, self._block_next = self.generator.sample_batch(self.np_random, block, self.n), 0
        self._block_next += 1
        return self._block.index(self._block_next - 1)


class LinearRegressionEnv(RegressionEnv):
    __doc__ = _DOC_TEMPLATE.format(
        title="In-context linear regression (``icl/LinearRegression-v0``).",
        description=(
            "A task is a weight vector w and inputs x ~ N(0, Σ); y = <w, x> + noise.\n"
            "    See ``LinearRegressionTasks`` for the exact distribution."
        ),
        arguments="""covariance: "identity" (Σ = I) or "rotated" (Σ = U diag(eigenvalues) Uᵀ, U Haar per task;
            then d <= 256, since each task builds a d x d rotation).
        weight_prior: "identity" (w ~ N(0, I)) or "inverse_covariance" (w ~ N(0, Σ⁻¹)).
        eigenvalues: d numbers in [1e-6, 1e6] for "rotated"; default (1, 1, 1/4, 1/16, 1) repeated to d.""",
    )

    def __init__(
        self,
        d: int = 5,
        n: int = 20,
        noise_std: float = 0.0,
        covariance: str = "identity",
        weight_prior: str = "identity",
        eigenvalues: Any = None,
        action_bound: float = 1e3,
        generator: TaskGenerator | None = None,
        render_mode: str | None = None,
    ):
        if generator is None:
            generator = LinearRegressionTasks(d, noise_std, covariance, weight_prior, eigenvalues)
        super().__init__(generator, n, action_bound, render_mode)


class SparseRegressionEnv(RegressionEnv):
    __doc__ = _DOC_TEMPLATE.format(
        title="In-context sparse linear regression (``icl/SparseRegression-v0``).",
        description=(
            "A task is a k-sparse weight vector w (Garg et al. 2022) and inputs x ~ N(0, I);\n"
            "    y = <w, x> + noise. See ``SparseLinearTasks``."
        ),
        arguments="""k: number of nonzero weights, 1 <= k <= d.""",
    )

    def __init__(
        self,
        d: int = 10,
        k: int = 3,
        n: int = 20,
        noise_std: float = 0.0,
        action_bound: float = 1e3,
        generator: TaskGenerator | None = None,
        render_mode: str | None = None,
    ):
        if generator is None:
            generator = SparseLinearTasks(d, k, noise_std)
        super().__init__(generator, n, action_bound, render_mode)


class ReLUNetRegressionEnv(RegressionEnv):
    __doc__ = _DOC_TEMPLATE.format(
        title="In-context regression of random two-layer ReLU networks (``icl/ReLUNetRegression-v0``).",
        description=(
            "A task is a random network y = Σ_j a_j relu(<v_j, x>) (Garg et al. 2022) with\n"
            "    inputs x ~ N(0, I). See ``ReLUNetTasks``."
        ),
        arguments="""hidden: number of hidden units, 1..4096, with hidden * d <= 2^20 and
            n * hidden * d <= 2^28 (the work of one task).""",
    )

    def __init__(
        self,
        d: int = 5,
        hidden: int = 100,
        n: int = 40,
        noise_std: float = 0.0,
        action_bound: float = 1e3,
        generator: TaskGenerator | None = None,
        render_mode: str | None = None,
    ):
        if generator is None:
            generator = ReLUNetTasks(d, hidden, noise_std)
        super().__init__(generator, n, action_bound, render_mode)


class DecisionTreeRegressionEnv(RegressionEnv):
    __doc__ = _DOC_TEMPLATE.format(
        title="In-context regression of random decision trees (``icl/DecisionTreeRegression-v0``).",
        description=(
            "A task is a random full binary tree whose nodes test the sign of one coordinate of x\n"
            "    and whose leaves hold N(0, 1) values (Garg et al. 2022); x ~ N(0, I).\n"
            "    See ``DecisionTreeTasks``."
        ),
        arguments="""depth: depth of the tree (4: 15 tests, 16 leaves), 1..12.""",
    )

    def __init__(
        self,
        d: int = 5,
        depth: int = 4,
        n: int = 40,
        noise_std: float = 0.0,
        action_bound: float = 1e3,
        generator: TaskGenerator | None = None,
        render_mode: str | None = None,
    ):
        if generator is None:
            generator = DecisionTreeTasks(d, depth, noise_std)
        super().__init__(generator, n, action_bound, render_mode)
