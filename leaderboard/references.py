"""Normalization references: the returns that define 0 and 100 of each entry's normalized score.

``R_random`` is the uniform-random policy (games) or the zero predictor (in-context envs);
``R_reference`` is the exact optimum where one exists (the Blackjack DP value, the NumberLine and
Points optima from their exact solvers, the Bayes-optimal predictor of in-context linear regression),
otherwise the oracle that knows the task (squared error 0). Both are computed by project code and
frozen per env version in ``leaderboard/data/references-v0.json``; ``python -m leaderboard.references``
recomputes them and rewrites that file (never needed for a published version unless it is wrong), and
``tests/test_protocol.py`` recomputes the cheap ones exactly and the Monte Carlo ones with fewer
samples, and compares.

Each value is computed by a *source*: a ``module:function`` string with keyword arguments, so that the
exact solvers of ``baselines/classic`` are used without ``leaderboard`` importing ``baselines``.
A source returns ``(value, standard_error)``; the error is 0 for exact values.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from leaderboard.protocol import SuiteEntry

REFERENCES_VERSION = 0
REFERENCES_FILE = f"references-v{REFERENCES_VERSION}.json"


@dataclass(frozen=True)
class Reference:
    """The two anchors of one entry's normalized score, and how each was obtained."""

    r_random: float
    r_reference: float
    random_method: str = ""
    reference_method: str = ""
    random_stderr: float = 0.0
    reference_stderr: float = 0.0


_REGISTERED: dict[str, Reference] = {}


@cache
def published_references() -> dict[str, Reference]:
    """The frozen references of every published suite entry, by entry key."""
    text = resources.files("leaderboard").joinpath("data", REFERENCES_FILE).read_text()
    data = json.loads(text)
    if data.get("version") != REFERENCES_VERSION:
        raise ValueError(f"{REFERENCES_FILE}: version {data.get('version')!r}, expected {REFERENCES_VERSION}")
    return {key: Reference(**value) for key, value in data["references"].items()}


def register_reference(key: str, reference: Reference) -> None:
    """Give an unpublished entry (a test or private suite) its references in this process."""
    if key in published_references():
        raise ValueError(f"entry {key} has published references; they cannot be replaced")
    _REGISTERED[key] = reference


def reference_for(entry: SuiteEntry | str) -> Reference:
    key = entry if isinstance(entry, str) else entry.key
    found = _REGISTERED.get(key) or published_references().get(key)
    if found is None:
        raise KeyError(f"no normalization reference for entry {key}")
    return found


# ----------------------------------------------------------------------------------------------
# Computing references


def load_function(reference: str) -> Callable[..., Any]:
    from leaderboard.harness import load_object

    return load_object(reference)


def zero_predictor_linear_regression(
    d: int = 5, n: int = 20, noise_std: float = 0.0, **_: Any
) -> tuple[float, float]:
    """Exact: predicting 0 costs E[y²] = tr(I) + σ² = d + σ² per step for w ~ N(0, I), x ~ N(0, I)."""
    return -n * (d + noise_std**2), 0.0


def bayes_linear_regression(
    d: int = 5, n: int = 20, noise_std: float = 0.0, samples: int = 20_000, seed: int = 0, **_: Any
) -> tuple[float, float]:
    """Expected return of the posterior-mean (ridge) predictor for w ~ N(0, I), x ~ N(0, I).

    Without noise the posterior mean projects w onto the span of the t examples seen, so the error at
    step t is E[tr(I − P_t)] = max(d − t, 0) exactly and the return is −Σ_t max(d − t, 0).
    With noise σ the error at step t is σ² + E[tr((I + XᵀX/σ²)⁻¹)] over X (t × d Gaussian rows), whose
    expectation has no closed form; it is estimated from ``samples`` draws of X per step.
    """
    if noise_std == 0.0:
        return -float(sum(max(d - t, 0) for t in range(n))), 0.0
    rng = np.random.default_rng(seed)
    total, variance = 0.0, 0.0
    for t in range(n):
        x = rng.standard_normal((samples, t, d))
        precision = np.eye(d) + np.einsum("sti,stj->sij", x, x) / noise_std**2
        excess = np.trace(np.linalg.inv(precision), axis1=1, axis2=2)
        total += noise_std**2 + excess.mean()
        variance += excess.var(ddof=1) / samples
    return -total, float(np.sqrt(variance))


def oracle_return(**_: Any) -> tuple[float, float]:
    """An oracle that knows the task predicts every target exactly: squared error 0."""
    return 0.0, 0.0


def monte_carlo_return(
    env_id: str,
    env_kwargs: Mapping[str, Any],
    agent: str,
    agent_config: Mapping[str, Any] | None = None,
    episodes: int = 2000,
    seed: int = 987_654_321,
) -> tuple[float, float]:
    """Mean return (and its standard error) of an agent over ``episodes`` episodes of a fresh seed.

    Used where no closed form exists; the seed is far from every suite's evaluation seeds.
    """
    from leaderboard.harness import load_agent, play_entry

    entry = SuiteEntry(env_id, dict(env_kwargs), episodes, (seed,))
    run = play_entry(load_agent(agent, agent_config), entry, agent_name=agent)
    returns = run.returns.ravel()
    return float(returns.mean()), float(returns.std(ddof=1) / np.sqrt(returns.size))


@dataclass(frozen=True)
class Source:
    """How to compute one anchor: ``function`` (``module:name``) called with the entry's kwargs and ``options``."""

    function: str
    method: str
    options: Mapping[str, Any] | None = None
    #: Options that make a cheaper recomputation for the test (fewer Monte Carlo samples).
    quick: Mapping[str, Any] | None = None
    #: The key to read when the function returns a dict of values.
    pick: str | None = None

    def compute(self, entry: SuiteEntry, quick: bool = False) -> tuple[float, float]:
        options = dict(self.options or {})
        if quick:
            options.update(self.quick or {})
        function = load_function(self.function)
        if self.function.endswith(":monte_carlo_return"):
            return function(entry.env_id, entry.kwargs, **options)
        # Pass the entry's kwargs that the function takes (a solver ignores obs_mode, say).
        parameters = inspect.signature(function).parameters
        takes_all = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        kwargs = {k: v for k, v in entry.kwargs.items() if takes_all or k in parameters}
        result = function(**kwargs, **options)
        if isinstance(result, Mapping):
            result = result[self.pick]
        if isinstance(result, tuple):
            return float(result[0]), float(result[1])
        return float(result), 0.0


def compute_reference(entry: SuiteEntry, sources: tuple[Source, Source], quick: bool = False) -> Reference:
    (random_value, random_se), (ref_value, ref_se) = (source.compute(entry, quick) for source in sources)
    return Reference(
        r_random=random_value,
        r_reference=ref_value,
        random_method=sources[0].method,
        reference_method=sources[1].method,
        random_stderr=random_se,
        reference_stderr=ref_se,
    )


def reference_dict(references: Mapping[str, Reference]) -> dict[str, Any]:
    return {
        "version": REFERENCES_VERSION,
        "description": "R_random and R_reference per suite entry (env id + canonical kwargs); see leaderboard/references.py",
        "references": {key: asdict(value) for key, value in sorted(references.items())},
    }
