"""Batched torch samplers of the in-context tasks, on CPU or CUDA, seeded by a ``torch.Generator``.

They draw the same task distributions as the numpy generators behind ``icl/LinearRegression-v0``
and ``icl/MRPValue-v0`` (DESIGN.md §2; a test compares moments and errors), but a whole batch of
prompts at once on the training device. This module needs only torch: the GPU machine that trains
these models has no gymnasium.

A batch of prompts is an episode per row, in the env's own layout:

- ``context[b, t]``: the example revealed after step t (regression ``[x_t, y_t]``; MRP
  ``[φ(s_t), γφ(s_{t+1}), r_t]``),
- ``queries[b, t]``: what the agent is asked about at step t (``x_t``; ``φ(s_t)``), which is always
  ``context[b, t, :query_dim]``,
- ``targets[b, t]``: the answer (``y_t``; ``v(s_t)``).

The prediction at step t may use ``context[b, :t]`` only.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch

from baselines.configs import check_choice, fail

REGRESSION_COVARIANCES = ("identity", "rotated")
REGRESSION_WEIGHT_PRIORS = ("identity", "inverse_covariance")
REGRESSION_ROTATIONS = ("per_task", "fixed")
DEFAULT_EIGENVALUES = (1.0, 1.0, 0.25, 0.0625, 1.0)
MRP_KINDS = ("boyan", "loop")
MRP_REWARDS = ("random", "representable")
MRP_OBJECTIVES = ("discounted", "average_reward")


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


@dataclass
class Prompts:
    """A batch of episodes: ``context (B, n, C)``, ``queries (B, n, q)``, ``targets (B, n)``."""

    context: torch.Tensor
    queries: torch.Tensor
    targets: torch.Tensor
    #: Task parameters some analyses need (regression: ``w``, ``covariance``; MRP: ``values``...).
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def batch_size(self) -> int:
        return self.context.shape[0]

    @property
    def num_steps(self) -> int:
        return self.context.shape[1]


def haar_orthogonal(batch: int, d: int, generator: torch.Generator, device, dtype) -> torch.Tensor:
    """``batch`` Haar-distributed orthogonal d×d matrices: the Q of G = QR with R's diagonal positive.

    That is what the numpy generator computes (QR, then the sign fix), written as Gram-Schmidt on
    G's columns: d small vector steps instead of a batched LAPACK/cuSOLVER call per step, which is
    slow for millions of 5×5 matrices on a GPU.
    """
    g = torch.randn(batch, d, d, generator=generator, device=device, dtype=torch.float64)
    columns: list[torch.Tensor] = []
    for j in range(d):
        v = g[:, :, j]
        for q in columns:  # modified Gram-Schmidt: project out each earlier column in turn
            v = v - (q * v).sum(-1, keepdim=True) * q
        columns.append(v / v.norm(dim=-1, keepdim=True))
    return torch.stack(columns, -1).to(dtype)


@dataclass
class RegressionSampler:
    """Linear regression prompts: ``x ~ N(0, Σ)``, ``y = <w, x> + noise``.

    ``covariance="rotated"`` draws Σ = U diag(λ) Uᵀ with U Haar-random per task; ``rotation="fixed"``
    (a torch-only option for the preconditioner analysis) uses one U, drawn from ``rotation_seed``,
    for every task. ``weight_prior="inverse_covariance"`` draws w ~ N(0, Σ⁻¹).
    """

    d: int = 5
    n: int = 20
    noise_std: float = 0.0
    covariance: str = "identity"
    weight_prior: str = "identity"
    eigenvalues: tuple[float, ...] | None = None
    rotation: str = "per_task"
    rotation_seed: int = 0

    def __post_init__(self) -> None:
        _check_positive_int("d", self.d)
        _check_positive_int("n", self.n)
        if not (
            isinstance(self.noise_std, (int, float)) and math.isfinite(self.noise_std) and self.noise_std >= 0
        ):
            raise ValueError(f"noise_std must be a finite number >= 0, got {self.noise_std!r}")
        check_choice("covariance", self.covariance, REGRESSION_COVARIANCES)
        check_choice("weight_prior", self.weight_prior, REGRESSION_WEIGHT_PRIORS)
        check_choice("rotation", self.rotation, REGRESSION_ROTATIONS)
        self.eigenvalues = tuple(float(v) for v in (self.eigenvalues or default_eigenvalues(self.d)))
        if len(self.eigenvalues) != self.d or min(self.eigenvalues) <= 0:
            raise ValueError(
                f"eigenvalues must be {self.d} positive numbers (one per dimension), got {self.eigenvalues}"
            )

    @property
    def context_dim(self) -> int:
        return self.d + 1

    @property
    def query_dim(self) -> int:
        return self.d

    def covariance_factor(self, batch: int, generator: torch.Generator, device, dtype):
        """(Σ^{1/2}, Σ^{-1/2}) per task, each (B, d, d); ``(None, None)`` for the identity."""
        if self.covariance == "identity":
            return None, None
        sqrt_lambda = torch.tensor(self.eigenvalues, device=device, dtype=dtype).sqrt()
        if self.rotation == "fixed":
            fixed = torch.Generator(device="cpu").manual_seed(self.rotation_seed)
            u = haar_orthogonal(1, self.d, fixed, "cpu", dtype).to(device).expand(batch, -1, -1)
        else:
            u = haar_orthogonal(batch, self.d, generator, device, dtype)
        # U diag(λ^±1/2) Uᵀ, the symmetric square roots the numpy generator uses.
        root = (u * sqrt_lambda) @ u.transpose(-1, -2)
        inverse_root = (u / sqrt_lambda) @ u.transpose(-1, -2)
        return root, inverse_root

    def sample(
        self,
        batch: int,
        generator: torch.Generator,
        *,
        num_steps: int | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> Prompts:
        """``batch`` episodes of ``num_steps`` (default ``n``) examples each."""
        steps = self.n if num_steps is None else _check_positive_int("num_steps", num_steps)
        factor, inverse_factor = self.covariance_factor(batch, generator, device, dtype)
        z = torch.randn(batch, steps, self.d, generator=generator, device=device, dtype=dtype)
        w = torch.randn(batch, self.d, generator=generator, device=device, dtype=dtype)
        if factor is None:
            x = z
        else:
            x = z @ factor.transpose(-1, -2)
            if self.weight_prior == "inverse_covariance":
                # w = Σ^{-1/2} z has covariance Σ⁻¹.
                w = torch.einsum("bij,bj->bi", inverse_factor, w)
        y = torch.einsum("btd,bd->bt", x, w)
        if self.noise_std > 0:
            y = y + self.noise_std * torch.randn(
                batch, steps, generator=generator, device=device, dtype=dtype
            )
        extras = {"w": w}
        if factor is not None:
            extras["covariance"] = factor @ factor.transpose(-1, -2)
        return Prompts(torch.cat([x, y.unsqueeze(-1)], -1), x, y, extras)


def default_eigenvalues(d: int) -> tuple[float, ...]:
    """DESIGN.md's (1, 1, 1/4, 1/16, 1) for d = 5, repeated cyclically for other d."""
    return tuple(DEFAULT_EIGENVALUES[i % len(DEFAULT_EIGENVALUES)] for i in range(d))


@dataclass
class MRPSampler:
    """Markov reward process prompts: one trajectory per task, the exact value as target.

    The distribution of ``icl_envs.mrp.generators.MRPTasks`` (see its docstring for the details):
    Boyan chain (``mrp="boyan"``): from state i < S-2 the chain moves to i+1 with probability
    p_i ~ U(0.01, 0.99) and to i+2 otherwise; S-2 moves to S-1; the last row is u / Σu with u uniform.
    ``mrp="loop"``: the same moves on a ring, (i+1) mod S or (i+2) mod S. Features φ(s) ~ U(-1, 1)^d;
    rewards r(s) ~ U(-1, 1) (``"random"``) or ``"representable"``: v = Φw, w ~ U(-1, 1)^d, r = (I-γP)v.
    The start state is drawn from the stationary distribution μ. With ``objective="average_reward"``
    the target is the differential value h (μᵀh = 0) and next-state features are not discounted.
    The context row of step t is ``[φ(s_t), γφ(s_{t+1}), r(s_t)]``.
    """

    d: int = 4
    n: int = 30
    num_states: int = 10
    gamma: float = 0.9
    mrp: str = "boyan"
    rewards: str = "random"
    objective: str = "discounted"

    def __post_init__(self) -> None:
        _check_positive_int("d", self.d)
        _check_positive_int("n", self.n)
        _check_positive_int("num_states", self.num_states)
        if self.num_states < 2:
            raise ValueError(f"num_states must be >= 2, got {self.num_states}")
        if not (isinstance(self.gamma, (int, float)) and 0 <= self.gamma < 1):
            raise ValueError(f"gamma must be a number in [0, 1), got {self.gamma!r}")
        check_choice("mrp", self.mrp, MRP_KINDS)
        check_choice("rewards", self.rewards, MRP_REWARDS)
        check_choice("objective", self.objective, MRP_OBJECTIVES)

    @property
    def context_dim(self) -> int:
        return 2 * self.d + 1

    @property
    def query_dim(self) -> int:
        return self.d

    def transition_matrices(self, batch: int, generator: torch.Generator, device, dtype) -> torch.Tensor:
        s = self.num_states
        transitions = torch.zeros(batch, s, s, device=device, dtype=dtype)
        if self.mrp == "boyan":
            p = 0.01 + 0.98 * torch.rand(batch, s - 2, generator=generator, device=device, dtype=dtype)
            inner = torch.arange(s - 2, device=device)
            transitions[:, inner, inner + 1] = p
            transitions[:, inner, inner + 2] = 1 - p
            transitions[:, s - 2, s - 1] = 1.0
            last = torch.rand(batch, s, generator=generator, device=device, dtype=dtype)
            transitions[:, s - 1] = last / last.sum(-1, keepdim=True)
        else:
            p = 0.01 + 0.98 * torch.rand(batch, s, generator=generator, device=device, dtype=dtype)
            rows = torch.arange(s, device=device)
            transitions[:, rows, (rows + 1) % s] += p
            transitions[:, rows, (rows + 2) % s] += 1 - p
        return transitions

    def sample(
        self,
        batch: int,
        generator: torch.Generator,
        *,
        num_steps: int | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> Prompts:
        steps = self.n if num_steps is None else _check_positive_int("num_steps", num_steps)
        s, d = self.num_states, self.d
        # The linear algebra runs in float64 (as the numpy generator) and is cast at the end.
        transitions = self.transition_matrices(batch, generator, device, torch.float64)
        features = 2 * torch.rand(batch, s, d, generator=generator, device=device, dtype=torch.float64) - 1
        eye = torch.eye(s, device=device, dtype=torch.float64)
        ones = torch.ones(batch, s, 1, device=device, dtype=torch.float64)
        stationary = torch.linalg.solve((eye - transitions + 1).transpose(-1, -2), ones).squeeze(-1)
        average = self.objective == "average_reward"
        if self.rewards == "random":
            rewards = 2 * torch.rand(batch, s, generator=generator, device=device, dtype=torch.float64) - 1
        else:
            w = 2 * torch.rand(batch, d, generator=generator, device=device, dtype=torch.float64) - 1
            linear_value = (features @ w.unsqueeze(-1)).squeeze(-1)
            discount = 1.0 if average else self.gamma
            rewards = linear_value - discount * (transitions @ linear_value.unsqueeze(-1)).squeeze(-1)
            if average:
                rho = 2 * torch.rand(batch, 1, generator=generator, device=device, dtype=torch.float64) - 1
                rewards = rewards + rho
        if average:
            rho = (stationary * rewards).sum(-1, keepdim=True)
            fundamental = eye - transitions + stationary.unsqueeze(-2)
            values = torch.linalg.solve(fundamental, (rewards - rho).unsqueeze(-1)).squeeze(-1)
        else:
            values = torch.linalg.solve(eye - self.gamma * transitions, rewards.unsqueeze(-1)).squeeze(-1)
        # The trajectory by inverse CDF: the next state is the first j with cdf_j > u.
        states = torch.empty(batch, steps + 1, dtype=torch.long, device=device)
        uniforms = torch.rand(batch, steps + 1, generator=generator, device=device, dtype=torch.float64)
        states[:, 0] = (stationary.cumsum(-1) <= uniforms[:, :1]).sum(-1).clamp_max(s - 1)
        cdf = transitions.cumsum(-1)
        index = torch.arange(batch, device=device)
        for t in range(steps):
            row = cdf[index, states[:, t]]
            states[:, t + 1] = (row <= uniforms[:, t + 1 : t + 2]).sum(-1).clamp_max(s - 1)
        phi = torch.gather(features, 1, states.unsqueeze(-1).expand(-1, -1, d))
        r = torch.gather(rewards, 1, states[:, :steps])
        v = torch.gather(values, 1, states[:, :steps])
        row_discount = 1.0 if average else self.gamma
        context = torch.cat([phi[:, :steps], row_discount * phi[:, 1:], r.unsqueeze(-1)], -1)
        extras = {
            "transitions": transitions,
            "features": features,
            "rewards": rewards,
            "values": values,
            "stationary": stationary,
            "states": states,
        }
        return Prompts(context.to(dtype), phi[:, :steps].to(dtype), v.to(dtype), extras)


RECALL_PLACEMENTS = ("power_law", "uniform")
RECALL_FILLERS = ("random", "zero")


def _distinct_draws(
    batch: int, count: int, low: int, high: int, generator: torch.Generator, device: torch.device | str
) -> torch.Tensor:
    """``(batch, count)`` int64: per row ``count`` distinct integers of ``low..high-1`` in random
    order, i.e. the first ``count`` of a uniform random permutation. Independent uniform draws,
    conditioned on being distinct, have exactly that distribution, so rows with a repeat are drawn
    again; where repeats are common (few values for ``count``) the rows are argsorts of uniforms."""
    size = high - low
    distinct = math.prod(1 - i / size for i in range(count))  # chance that a row of draws has no repeat
    if distinct < 0.5:
        return torch.rand(batch, size, generator=generator, device=device).argsort(-1)[:, :count] + low
    draws = torch.randint(low, high, (batch, count), generator=generator, device=device)
    while True:
        ordered = draws.sort(-1).values
        repeats = (ordered[:, 1:] == ordered[:, :-1]).any(-1).nonzero().flatten()
        if len(repeats) == 0:
            return draws
        draws[repeats] = torch.randint(low, high, (len(repeats), count), generator=generator, device=device)


@dataclass
class RecallSampler:
    """Multi-query associative recall (Zoology's MQAR) sequences: the distribution of
    ``icl_envs.recall.generator.RecallGenerator`` behind ``icl/AssociativeRecall-v0`` (its docstring
    gives it; a test compares the two), drawn as torch tensors.

    Keys are a uniform random subset of ``1..V/2-1`` in random order, values one of ``V/2..V-1``
    (:func:`_distinct_draws`); the query slots are drawn without replacement with weights
    ``(g + 1)^(power_a - 1)`` (``torch.multinomial``'s successive draws, the distribution of numpy's
    ``choice(p=..., replace=False)``) or uniformly; filler is uniform over the vocabulary or 0.
    ``Prompts``: ``context`` the tokens ``(B, seq_len)``, ``queries`` the query positions
    ``(B, num_pairs)`` (increasing), ``targets`` their values ``(B, num_pairs)``, all int64.
    """

    vocab_size: int = 8192
    num_pairs: int = 8
    seq_len: int = 64
    placement: str = "power_law"
    power_a: float = 0.01
    filler: str = "random"

    def __post_init__(self) -> None:
        for name in ("vocab_size", "num_pairs", "seq_len"):
            _check_positive_int(name, getattr(self, name))
        if not self.num_pairs <= self.vocab_size // 2 - 1:
            raise ValueError(f"num_pairs must be <= vocab_size // 2 - 1 = {self.vocab_size // 2 - 1}")
        if self.seq_len < 4 * self.num_pairs:
            raise ValueError(f"seq_len must be >= 4 * num_pairs = {4 * self.num_pairs}, got {self.seq_len}")
        check_choice("placement", self.placement, RECALL_PLACEMENTS)
        check_choice("filler", self.filler, RECALL_FILLERS)
        if not (isinstance(self.power_a, (int, float)) and 0 < self.power_a <= 1):
            raise ValueError(f"power_a must be a number in (0, 1], got {self.power_a!r}")

    @property
    def slots(self) -> int:
        return (self.seq_len - 2 * self.num_pairs) // 2

    def sample(
        self,
        batch: int,
        generator: torch.Generator,
        *,
        num_steps: int | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype | None = None,
    ) -> Prompts:
        """``batch`` sequences (``num_steps`` and ``dtype`` are ignored: a sequence is ``seq_len``
        int64 tokens)."""
        d, vocab, half = self.num_pairs, self.vocab_size, self.vocab_size // 2
        uniform = {"generator": generator, "device": device}
        keys = _distinct_draws(batch, d, 1, half, generator, device)
        values = _distinct_draws(batch, d, half, vocab, generator, device)
        gaps = torch.arange(1, self.slots + 1, device=device, dtype=torch.float64)
        exponent = self.power_a - 1.0 if self.placement == "power_law" else 0.0
        weights = (gaps**exponent).expand(batch, -1)
        slots = torch.multinomial(weights, d, replacement=False, generator=generator)
        tokens = torch.randint(0, vocab, (batch, self.seq_len), **uniform)
        if self.filler == "zero":
            tokens.zero_()
        tokens[:, 0 : 2 * d : 2], tokens[:, 1 : 2 * d : 2] = keys, values
        slots, order = slots.sort(-1)
        positions = 2 * d + 2 * slots
        tokens.scatter_(1, positions, keys.gather(1, order))
        answers = values.gather(1, order)
        return Prompts(tokens, positions, answers, {"keys": keys, "values": values})


#: Each task's sampler (its defaults are its env's: d=5, n=20 for regression; d=4, n=30 for MRP;
#: Zoology's vocab_size=8192, num_pairs=8, seq_len=64 for MQAR).
TASK_SAMPLERS = {"icl-regression": RegressionSampler, "icl-mrp": MRPSampler, "icl-mqar": RecallSampler}
TASKS = tuple(TASK_SAMPLERS)


@dataclass
class PromptConfig:
    """The prompts a model learns from: the task and its env's keyword arguments. ``make_sampler``
    turns it into the task's sampler, which reads its own options and ignores the other task's.

    The fields are the two samplers' under the same names (what ``make_sampler`` passes by name), in
    one flat group so that a run's config is plain data whatever its task; the samplers keep their
    own defaults, their env's (d=4, n=30 for MRP, where this config's are regression's d=5, n=20).
    """

    task: str = "icl-regression"
    """``icl-regression`` (icl/LinearRegression-v0's prompts), ``icl-mrp`` (icl/MRPValue-v0's) or
    ``icl-mqar`` (icl/AssociativeRecall-v0's sequences)."""
    d: int = 5
    """Input dimension (regression x) or feature dimension (MRP φ)."""
    n: int = 20
    """Context examples before the last query; prompts hold n + 1 steps."""
    noise_std: float = 0.0
    """Regression label noise."""
    covariance: str = "identity"
    """Regression: ``identity`` or ``rotated``."""
    weight_prior: str = "identity"
    """Regression: ``identity`` (w ~ N(0, I)) or ``inverse_covariance`` (w ~ N(0, Σ⁻¹))."""
    rotation: str = "per_task"
    """Regression with ``rotated``: a new Haar rotation per task (the env) or one ``fixed`` Σ."""
    num_states: int = 10
    """MRP: number of states."""
    gamma: float = 0.9
    """MRP: discount."""
    mrp: str = "boyan"
    """MRP: ``boyan`` or ``loop``."""
    rewards: str = "random"
    """MRP: ``random`` or ``representable``."""
    objective: str = "discounted"
    """MRP: ``discounted`` (target v) or ``average_reward`` (target the differential value)."""
    vocab_size: int = 8192
    """MQAR: tokens 0..vocab_size-1 (keys from the lower half, values from the upper)."""
    num_pairs: int = 8
    """MQAR: key-value pairs (= queries) per sequence."""
    seq_len: int = 64
    """MQAR: tokens per sequence (>= 4 * num_pairs)."""
    placement: str = "power_law"
    """MQAR: query slots by Zoology's ``power_law`` gaps or ``uniform``."""
    power_a: float = 0.01
    """MQAR: the power law's exponent a, in (0, 1]."""
    filler: str = "random"
    """MQAR: filler tokens ``random`` (uniform over the vocabulary) or ``zero``."""

    def validate(self) -> None:
        """Raise a ``ValueError`` naming the first bad field (the types are checked already)."""
        choices = {
            "task": TASKS,
            "covariance": REGRESSION_COVARIANCES,
            "weight_prior": REGRESSION_WEIGHT_PRIORS,
            "rotation": REGRESSION_ROTATIONS,
            "mrp": MRP_KINDS,
            "rewards": MRP_REWARDS,
            "objective": MRP_OBJECTIVES,
            "placement": RECALL_PLACEMENTS,
            "filler": RECALL_FILLERS,
        }
        for name, allowed in choices.items():
            check_choice(name, getattr(self, name), allowed)
        for name in ("d", "n", "num_states"):
            if getattr(self, name) < 1:
                fail(name, f"must be a positive integer, got {getattr(self, name)!r}")
        if not math.isfinite(self.noise_std) or self.noise_std < 0:
            fail("noise_std", f"must be a finite number >= 0, got {self.noise_std!r}")
        if not 0 <= self.gamma < 1:
            fail("gamma", f"must be in [0, 1), got {self.gamma!r}")
        if self.task == "icl-mqar":
            make_sampler(self)  # its checks of the sizes together raise a ValueError naming the field


def make_sampler(prompts: PromptConfig) -> RegressionSampler | MRPSampler | RecallSampler:
    """The sampler of ``prompts.task`` with the options of ``prompts`` that it has."""
    sampler = TASK_SAMPLERS[prompts.task]
    options = {f.name for f in dataclasses.fields(sampler)} & {f.name for f in dataclasses.fields(prompts)}
    return sampler(**{name: getattr(prompts, name) for name in options})
