"""Speed ratios against an anchor measured in the same run.

Absolute times mean little on a shared 2-core machine, so every hot-path benchmark reports its
throughput as a ratio against an anchor (Gymnasium's Blackjack-v1, a SyncVectorEnv, ...) timed in
the same test, interleaved round by round so that machine load hits both alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym


def _best_time(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def speed_ratio(
    benchmark,
    ours: Callable[[], object],
    anchor: Callable[[], object],
    *,
    ours_work: float,
    anchor_work: float,
    rounds: int = 5,
    label: str = "ratio",
) -> float:
    """Benchmark ``ours`` with pytest-benchmark and time ``anchor`` alongside; return the speed ratio.

    ``ours_work`` and ``anchor_work`` are the units of work (e.g. env steps) one call performs, so
    the ratio is (our work per second) / (anchor work per second), using the best of ``rounds``
    interleaved timings of each. The ratio and both throughputs are stored in the benchmark's
    ``extra_info`` (visible in ``--benchmark-json``; ``docs/scripts/record_benchmarks.py`` keeps them
    for the docs) and printed.
    """
    ours_best = anchor_best = float("inf")
    for _ in range(rounds):
        ours_best = min(ours_best, _best_time(ours, 1))
        anchor_best = min(anchor_best, _best_time(anchor, 1))
    benchmark.pedantic(ours, rounds=rounds, iterations=1, warmup_rounds=0)
    ours_best = min(ours_best, benchmark.stats.stats.min) if benchmark.stats else ours_best
    ratio = (ours_work / ours_best) / (anchor_work / anchor_best)
    benchmark.extra_info.update(
        {
            "label": label,
            "ratio": ratio,
            "ours_per_s": ours_work / ours_best,
            "anchor_per_s": anchor_work / anchor_best,
        }
    )
    print(
        f"\n[{label}] ours {ours_work / ours_best:,.0f}/s  anchor {anchor_work / anchor_best:,.0f}/s  ratio {ratio:.1f}x"
    )
    return ratio


def native_against_sync(
    benchmark,
    env_id: str,
    num_envs: int,
    stepper: Callable[[gym.vector.VectorEnv], Callable[[], object]],
    work: float,
    *,
    rounds: int,
    **kwargs: Any,
) -> float:
    """The speed ratio of ``env_id``'s native vector env against a SyncVectorEnv of the same
    ``num_envs`` envs (built with ``kwargs``), each stepped by ``stepper(env)()``, ``work`` steps a call."""
    native = gym.make_vec(env_id, num_envs, **kwargs)
    sync = gym.make_vec(env_id, num_envs, vectorization_mode="sync", **kwargs)
    try:
        return speed_ratio(
            benchmark,
            stepper(native),
            stepper(sync),
            ours_work=work,
            anchor_work=work,
            rounds=rounds,
            label="make_vec/sync",
        )
    finally:
        native.close()
        sync.close()
