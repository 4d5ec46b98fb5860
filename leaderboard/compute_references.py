"""Computing the normalization references, and ``python -m leaderboard.compute_references``.

Each value is computed by a *source*: a ``module:function`` string with keyword arguments, so that the
exact solvers of ``baselines/classic`` are used without ``leaderboard`` importing ``baselines``.
A source returns ``(value, standard_error)``; the error is 0 for exact values. Where no closed form
exists, :func:`monte_carlo_return` plays episodes through the harness, which is why this module sits
above the harness (and :mod:`leaderboard.references`, the lookup the harness uses, below it).

``python -m leaderboard.compute_references`` recomputes every published reference and rewrites
``leaderboard/data/references-v0.json`` (never needed for a published version unless it is wrong);
``tests/test_protocol.py`` recomputes the cheap ones exactly and the Monte Carlo ones with fewer
samples, and compares.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from leaderboard.harness import play_entry
from leaderboard.loading import load_agent, load_object
from leaderboard.protocol import SEED_SPACING, SuiteEntry, suites
from leaderboard.references import REFERENCES_FILE, Reference, published_references, reference_dict

# ----------------------------------------------------------------------------------------------
# Computing references


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
    return -float(total), float(np.sqrt(variance))


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
    text_actions: bool = False,
    agent_seeded_per_batch: bool = False,
) -> tuple[float, float]:
    """Mean return (and its standard error) of an agent over ``episodes`` episodes of a fresh seed.

    Used where no closed form exists; the seed is far from every suite's evaluation seeds. Episodes
    run in batches of at most 5000 (one vector env per batch). ``agent_seeded_per_batch`` builds the
    agent anew for each batch with ``seed=k``: an agent that reseeds itself on ``reset`` (as the
    random agent does) would otherwise replay the same actions in every batch, and the batches would
    not be independent samples.
    """
    batch = min(episodes, 5000)
    returns = []
    for k in range(-(-episodes // batch)):
        entry = SuiteEntry(env_id, dict(env_kwargs), batch, (seed + k * SEED_SPACING,))
        config = dict(agent_config or {}) | ({"seed": k} if agent_seeded_per_batch else {})
        run = play_entry(load_agent(agent, config), entry, agent_name=agent, text_actions=text_actions)
        returns.append(run.returns.ravel())
    returns = np.concatenate(returns)
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
    #: Env kwargs replaced for the computation, e.g. a Monte Carlo run of the random policy on the
    #: symbolic env, whose dynamics and rewards are those of the image and text modes.
    env_overrides: Mapping[str, Any] | None = None

    def compute(self, entry: SuiteEntry, quick: bool = False) -> tuple[float, float]:
        options = dict(self.options or {})
        if quick:
            options.update(self.quick or {})
        function = load_object(self.function)
        env_kwargs = {**entry.kwargs, **(self.env_overrides or {})}
        if self.function.endswith(":monte_carlo_return"):
            return function(entry.env_id, env_kwargs, **options)
        # Pass the entry's kwargs that the function takes (a solver ignores obs_mode, say); they
        # override the function's defaults given in options.
        parameters = inspect.signature(function).parameters
        takes_all = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        options.update({k: v for k, v in env_kwargs.items() if takes_all or k in parameters})
        result = function(**options)
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


# ----------------------------------------------------------------------------------------------
# Exact values of the regression anchors (the games' come from baselines/classic)


def regression_zero_predictor(
    d: int = 5, k: int | None = None, n: int = 20, noise_std: float = 0.0, kind: str = "linear", **_: Any
) -> tuple[float, float]:
    """Exact: predicting 0 costs E[y²] per step, −n·E[y²] in all.

    E[y²] − σ² is d for linear (w ~ N(0, I), x ~ N(0, I)), k for k-sparse, d for the ReLU network
    (a_j ~ N(0, 2/h): h · (2/h) · E[relu(<v, x>)²] = 2 · d/2) and 1 for the tree (leaves ~ N(0, 1)).
    """
    signal = {"linear": d, "sparse": k, "relu": d, "tree": 1}[kind]
    return -n * (signal + noise_std**2), 0.0


def sparse_support_oracle(k: int = 3, n: int = 20, noise_std: float = 0.0, **_: Any) -> tuple[float, float]:
    """Exact for noise 0: the Bayes predictor that is told the support of w projects onto the k
    support coordinates, so its error at step t is max(k − t, 0) (the linear case in k dimensions)."""
    if noise_std != 0.0:
        raise ValueError("sparse_support_oracle is exact only for noise_std=0")
    return -float(sum(max(k - t, 0) for t in range(n))), 0.0


# ----------------------------------------------------------------------------------------------
# Where each published entry's references come from

_MC = "leaderboard.compute_references:monte_carlo_return"
_RANDOM_AGENT = "baselines.classic.random_agent:RandomAgent"
_ZERO = "leaderboard.references:ZeroPredictor"


def sources_for(entry: SuiteEntry) -> tuple[Source, Source]:
    """(R_random source, R_reference source) of a published entry."""
    name = entry.env_id.split("/")[-1].rsplit("-v", 1)[0]
    here = "leaderboard.compute_references"
    if name in ("LinearRegression", "SparseRegression", "ReLUNetRegression", "DecisionTreeRegression"):
        kind = {"Linear": "linear", "Sparse": "sparse", "ReLUNet": "relu", "DecisionTree": "tree"}[
            name[: -len("Regression")]
        ]
        defaults = {
            "linear": {"d": 5, "n": 20},
            "sparse": {"d": 10, "k": 3, "n": 20},
            "relu": {"d": 5, "n": 40},
            "tree": {"d": 5, "n": 40},
        }[kind]
        zero = Source(
            f"{here}:regression_zero_predictor", "zero predictor, exact", {**defaults, "kind": kind}
        )
        if kind == "linear":
            best = Source(
                f"{here}:bayes_linear_regression",
                "Bayes-optimal posterior mean, "
                + ("exact" if entry.kwargs.get("noise_std", 0.0) == 0.0 else "Monte Carlo over the inputs"),
                defaults,
                quick={"samples": 2000, "seed": 1},
            )
        elif kind == "sparse":
            best = Source(
                f"{here}:sparse_support_oracle", "Bayes predictor told the support, exact", defaults
            )
        else:
            best = Source(f"{here}:oracle_return", "oracle that knows the function (error 0)")
        return zero, best
    if name == "MRPValue":
        zero = Source(
            _MC,
            "zero predictor, Monte Carlo",
            {"agent": _ZERO, "episodes": 20_000},
            quick={"episodes": 2000, "seed": 4321},
        )
        return zero, Source(f"{here}:oracle_return", "oracle that knows the exact value (error 0)")
    if name == "AssociativeRecall":
        recall = "baselines.classic.recall"
        return (
            Source(f"{recall}:recall_chance_return", "uniform guess among the value tokens, exact"),
            Source(f"{recall}:recall_lookup_return", "lookup table of the pairs in context, exact"),
        )
    if name == "Bandit":
        bandits = "baselines.classic.bandits"
        random = Source(f"{bandits}:random_return", "uniformly random arm, exact")
        kwargs = {"arms": 5, "horizon": 100, "reward": "bernoulli", **entry.kwargs}
        if kwargs["reward"] == "bernoulli" and kwargs["arms"] * kwargs["horizon"] <= 60:
            return random, Source(
                f"{bandits}:bayes_optimal_value", "Bayes-optimal policy (uniform prior), exact DP"
            )
        return random, Source(f"{bandits}:oracle_return", "oracle that always pulls the best arm, exact")
    if name in ("DarkRoom", "KeyToDoor"):
        rooms, env = "baselines.classic.rooms", {"env_id": entry.env_id}
        return (
            Source(f"{rooms}:random_return", "uniformly random actions, exact", env),
            Source(f"{rooms}:oracle_return", "oracle that knows the task (shortest paths), exact", env),
        )
    if name == "Blackjack":
        return (
            Source(
                "baselines.classic.blackjack:reference_returns",
                "uniform random policy, exact DP",
                pick="random",
            ),
            Source(
                "baselines.classic.blackjack:reference_returns", "optimal policy, exact DP", pick="optimal"
            ),
        )
    if name not in ("NumberLine", "EZPoints", "Points24"):
        # Any other env would otherwise fall through to the Points24 solver below.
        raise KeyError(f"no reference sources for {entry.env_id}")
    games = "baselines.classic.number_games"
    if name == "NumberLine":
        return (
            Source(f"{games}:numberline_random_return", "uniform random policy, exact DP"),
            Source(f"{games}:numberline_optimal_return", "optimal policy, closed form"),
        )
    if name == "EZPoints":
        optimal = Source(f"{games}:ezpoints_optimal_return", "exact solver: every deal is solvable")
    else:
        optimal = Source(f"{games}:points24_optimal_return", "exact solver over all 13^4 deals")
    if entry.kwargs.get("obs_mode") in ("text", "multimodal"):
        # The text protocol replaces an unreadable or illegal answer by a random legal action, so a
        # uniformly random text agent plays differently from a uniformly random action id. The
        # multimodal mode (vl-v0) plays the same text actions with the same dynamics: its random
        # return is the text mode's, computed on the text env (same seed, same value).
        random = Source(
            _MC,
            "uniform random action strings through the text protocol, Monte Carlo",
            {
                "agent": _RANDOM_AGENT,
                "episodes": 10_000,
                "text_actions": True,
                "agent_seeded_per_batch": True,
            },
            quick={"episodes": 1000, "seed": 4321},
            env_overrides={"obs_mode": "text"},
        )
    elif name == "EZPoints":
        random = Source(f"{games}:ezpoints_random_return", "uniform random policy, exact DP")
    else:
        random = Source(
            f"{games}:points24_random_return",
            "uniform random policy: exact loss term plus Monte Carlo win term",
            quick={"episodes": 20_000},
        )
    return random, optimal


def compute_published(quick: bool = False, progress: bool = True) -> dict[str, Reference]:
    """References of every entry of every published suite (entries shared by suites computed once)."""
    entries = {e.key: e for s in suites().values() if s.published for e in s.entries}
    computed = {}
    for key, entry in entries.items():
        if progress:
            print(f"  {key}", flush=True)
        computed[key] = compute_reference(entry, sources_for(entry), quick=quick)
    return computed


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - run by hand when a suite is frozen
    """Compute the references of published entries that leaderboard/data/references-v<N>.json lacks
    and add them (a new suite's entries), keeping every frozen value; ``--all`` recomputes them all."""
    path = Path(__file__).parent / "data" / REFERENCES_FILE
    recompute_all = "--all" in (sys.argv[1:] if argv is None else argv)
    frozen = {} if recompute_all else published_references()
    entries = {e.key: e for s in suites().values() if s.published for e in s.entries if e.key not in frozen}
    references = dict(frozen)
    for key, entry in entries.items():
        print(f"  {key}", flush=True)
        references[key] = compute_reference(entry, sources_for(entry))
    path.write_text(json.dumps(reference_dict(references), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path} ({len(entries)} computed, {len(references)} entries)")


if __name__ == "__main__":  # pragma: no cover
    main()
