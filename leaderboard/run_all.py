"""The main job, ``icl-bench run``: score every classic and exact baseline and every shipped trained
checkpoint, and publish the leaderboard.

It evaluates each baseline of :data:`BASELINES` on the entries of ``core-v0`` it can play (the random
agent on all three suites), adds every results file to the store, prints the leaderboard table and
writes a static HTML report (tables, normalized scores with intervals, error against context length)
plus every results file as JSON into the output folder.

Baselines are named here by ``module:Name`` strings, never imported statically: the leaderboard
depends on nothing in ``baselines`` and a user's agent is evaluated the same way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from leaderboard.distributed import open_pool, pool_options
from leaderboard.harness import AgentError, Evaluation, evaluate, plan_evaluation, play_on_pool, results_of
from leaderboard.isolation import DEFAULT_ENTRY_TIMEOUT_S, DEFAULT_STEP_TIMEOUT_S
from leaderboard.report import agent_label, leaderboard_tables, print_tables, write_html_report
from leaderboard.results import ResultsFile
from leaderboard.store import ResultsStore
from leaderboard.untrusted import plain

#: Labels of the core-v0 entries each family of baselines plays.
REGRESSION = ("LinReg", "LinReg σ=0.5", "Sparse", "ReLUNet", "DecisionTree")
MRP = ("MRPValue",)
GAMES = ("NumberLine", "EZPoints", "Points24", "Blackjack")
#: Labels of the icrl-v0 entries.
BANDITS = ("Bandit", "Bandit K=2 H=30")
ROOMS = ("DarkRoom", "KeyToDoor")


@dataclass(frozen=True)
class Baseline:
    """An agent reference, the config it is built with, and where it is scored (``envs=None``: all)."""

    reference: str
    config: Mapping[str, Any] = field(default_factory=dict)
    suite: str = "core-v0"
    envs: Sequence[str] | None = None


_REGRESSION_AGENTS = (
    "ZeroPredictor",
    "MeanPredictor",
    "Averaging",
    "LeastSquares",
    "Ridge",
    "TunedRidge",
    "GD",
    "PreconditionedGD",
    "GDPlusPlus",
    "Lasso",
    "KNN",
)
# AverageRewardTD is made for objective="average_reward", which core-v0 does not hold; it is scored
# on the discounted MRPValue entry anyway so that every classic baseline has a row.
_MRP_AGENTS = (
    "ZeroPredictor",
    "BatchTD0",
    "BatchTDLambda",
    "ResidualGradient",
    "AverageRewardTD",
    "LSTD",
    "MonteCarlo",
)

#: The trained checkpoints shipped in ``baselines/checkpoints`` (docs/scripts/train_checkpoints.py),
#: by name, with the core-v0 entries each plays: Decision Transformer, Reinformer and BC on their
#: game, the in-context transformers on the regression or MRP entries of the env they learned.
CHECKPOINT_LOADER = "baselines.checkpoints:load_checkpoint"
SHIPPED_CHECKPOINTS: dict[str, tuple[str, ...]] = {
    **{f"{kind}-{game.lower()}": (game,) for game in GAMES for kind in ("dt", "reinformer", "bc")},
    **{f"icl-linear-{layers}": ("LinReg", "LinReg σ=0.5") for layers in (1, 2, 3)},
    "icl-softmax": ("LinReg", "LinReg σ=0.5"),
    "icl-mrp-td": MRP,
}

#: Every baseline of the main job, in table order within its suite.
BASELINES: tuple[Baseline, ...] = (
    *(Baseline(f"baselines.classic.regression:{name}", envs=REGRESSION) for name in _REGRESSION_AGENTS),
    *(Baseline(f"baselines.classic.mrp:{name}", envs=MRP) for name in _MRP_AGENTS),
    Baseline("baselines.classic.number_games:NumberLineOptimalAgent", envs=("NumberLine",)),
    Baseline("baselines.classic.number_games:PointsOptimalAgent", {"game": "EZPoints"}, envs=("EZPoints",)),
    Baseline("baselines.classic.number_games:PointsOptimalAgent", {"game": "Points24"}, envs=("Points24",)),
    Baseline("baselines.classic.blackjack:OptimalBlackjackAgent", envs=("Blackjack",)),
    Baseline("baselines.classic.random_agent:RandomAgent", envs=GAMES),
    *(Baseline(CHECKPOINT_LOADER, {"name": name}, envs=envs) for name, envs in SHIPPED_CHECKPOINTS.items()),
    Baseline("baselines.classic.random_agent:RandomAgent", suite="pixels-v0"),
    *(
        Baseline(f"baselines.classic.bandits:{name}", suite="icrl-v0", envs=BANDITS)
        for name in ("UCB1", "ThompsonSampling", "EpsilonGreedy")
    ),
    Baseline("baselines.classic.bandits:BayesOptimalBernoulli", suite="icrl-v0", envs=("Bandit K=2 H=30",)),
    *(
        Baseline(f"baselines.classic.rooms:{name}", suite="icrl-v0", envs=ROOMS)
        for name in ("SweepExplorer", "QLearner")
    ),
    Baseline("baselines.classic.random_agent:RandomAgent", suite="icrl-v0"),
    Baseline("baselines.classic.random_agent:RandomAgent", suite="text-v0"),
    Baseline("baselines.classic.recall:LookupTableAgent", suite="recall-v0"),
    Baseline("baselines.classic.recall:ChanceAgent", suite="recall-v0"),
)


@dataclass
class RunSummary:
    results: list[ResultsFile]
    failures: list[tuple[Baseline, str]]
    added: int
    duplicates: int
    wall_time_s: float


def file_name(index: int, results: ResultsFile) -> str:
    safe = "".join(c if c.isalnum() or c in "-_=" else "_" for c in agent_label(results))
    return f"{index:02d}-{results.suite}-{safe}.json"


def run_all(
    out_dir: str | Path = "icl-bench-report",
    db: str | None = None,
    baselines: Sequence[Baseline] = BASELINES,
    progress: bool = True,
    console=None,
    isolate: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
) -> RunSummary:
    """Evaluate, store and report every baseline; failures are collected, not raised.

    ``isolate=True`` plays each baseline in a process of its own (see ``leaderboard.isolation``), on
    a pool one per worker and baseline.
    ``workers=N`` (a local Dask cluster) or ``scheduler="tcp://HOST:PORT"`` (an existing one) plays
    every (baseline, entry, seed) shard in one pool, with one progress bar over the shards; each
    results file is the local run's but for wall times and hardware.
    """
    console = console or Console()
    start = time.perf_counter()
    workers, scheduler = pool_options(workers, scheduler, environ={})
    store = ResultsStore(db)
    out_dir = Path(out_dir)
    (out_dir / "results").mkdir(parents=True, exist_ok=True)
    collected: list[ResultsFile] = []
    failures: list[tuple[Baseline, str]] = []
    added = duplicates = 0

    def fail(baseline: Baseline, error: object) -> None:
        failures.append((baseline, str(error)))
        console.print(plain(f"✗ {baseline.reference} on {baseline.suite}: {error}", "red"))

    def record(baseline: Baseline, results: ResultsFile) -> None:
        nonlocal added, duplicates
        outcome = store.add(results)
        added += outcome.new
        duplicates += not outcome.new
        results.write(out_dir / "results" / file_name(len(collected), results))
        collected.append(results)
        console.print(
            Text.assemble(
                ("✓", "green"),
                " ",
                plain(
                    f"{baseline.reference} on {baseline.suite} ({len(results.entries)} envs, "
                    f"{results.wall_time_s:.1f} s): IQM {results.aggregates.iqm.value:.1f}"
                    + ("" if outcome.new else " (already stored)")
                ),
            )
        )

    if workers is None and scheduler is None:
        for baseline in baselines:
            try:
                results = evaluate(
                    baseline.reference,
                    baseline.suite,
                    envs=baseline.envs,
                    config=baseline.config,
                    progress=progress,
                    isolate=isolate,
                )
            except (AgentError, ValueError, ImportError) as error:
                fail(baseline, error)
                continue
            record(baseline, results)
    else:
        for baseline, outcome in _play_pooled(baselines, workers, scheduler, progress, isolate):
            if isinstance(outcome, ResultsFile):
                record(baseline, outcome)
            else:
                fail(baseline, outcome)
    store.close()
    print_tables(console, leaderboard_tables(collected))
    index = write_html_report(collected, out_dir)
    elapsed = time.perf_counter() - start
    # How long the whole job took, for the results page (docs/scripts/make_results_page.py --from).
    run_record = {
        "wall_time_s": elapsed,
        "results": len(collected),
        "failures": [f"{baseline.reference} on {baseline.suite}: {error}" for baseline, error in failures],
    }
    (out_dir / "run.json").write_text(json.dumps(run_record, indent=1) + "\n")
    console.print(
        plain(
            f"{len(collected)} results ({added} new, {duplicates} already stored) in {store.url}; "
            f"report: {index}; {elapsed:.0f} s"
        )
    )
    return RunSummary(collected, failures, added, duplicates, elapsed)


def _play_pooled(
    baselines: Sequence[Baseline], workers: int | None, scheduler: str | None, progress: bool, isolate: bool
) -> list[tuple[Baseline, ResultsFile | str]]:
    """Every baseline's shards in one pool (each agent isolated on its worker with ``isolate``); per
    baseline, in order, its results file or why it has none."""
    outcomes: dict[int, ResultsFile | str] = {}
    planned: list[tuple[int, Evaluation]] = []
    for i, baseline in enumerate(baselines):
        try:
            evaluation = plan_evaluation(
                baseline.reference, baseline.suite, envs=baseline.envs, config=baseline.config
            )
        except ValueError as error:
            outcomes[i] = str(error)
            continue
        if isolate:
            evaluation.isolation = (DEFAULT_STEP_TIMEOUT_S, DEFAULT_ENTRY_TIMEOUT_S)
        planned.append((i, evaluation))
    with open_pool(workers, scheduler) as client:
        played = play_on_pool(
            client,
            [evaluation for _, evaluation in planned],
            progress=progress,
            stop_on_failure=False,
            description=f"{len(planned)} baselines",
        )
    for (i, evaluation), run in zip(planned, played):
        if run.failures:  # a baseline is scored on all of its entries or not at all
            more = f" (and {len(run.failures) - 1} more)" if len(run.failures) > 1 else ""
            outcomes[i] = run.failures[0] + more
        else:
            outcomes[i] = results_of(evaluation, run)
    return [(baseline, outcomes[i]) for i, baseline in enumerate(baselines)]
