"""The cost of the isolated mode: ``core-v0`` played by a batched agent in a process of its own,
against the same play in-process, timed in the same test.

The agent is the uniformly random one: batched, and it plays every entry of the suite (a box of
predictions or a game's actions), so the whole per-step path (observations out, actions back) is
paid at every entry's own batch size, over all of the suite's episodes and seeds. Timed is what
isolation changes: building the agent (in-process: from this process's warm imports; isolated:
starting its interpreter) and playing every entry, not the results' bootstrap that follows either
way and would only dilute the ratio.
"""

from __future__ import annotations

from benchmarks.ratio import speed_ratio
from leaderboard.harness import load_agent, play_suite
from leaderboard.isolation import IsolatedAgent
from leaderboard.protocol import CORE_V0

AGENT = "baselines.classic.random_agent:RandomAgent"
MIN_RATIO = 1 / 1.3  # the issue: the isolated time at most 1.3x the in-process time


def _play(agent) -> None:
    play_suite(agent, CORE_V0, CORE_V0.entries, agent_name=AGENT, progress=False)


def test_isolated_core_v0_overhead(benchmark):
    def isolated() -> None:
        with IsolatedAgent(AGENT) as agent:
            _play(agent)

    def in_process() -> None:
        _play(load_agent(AGENT))

    in_process()  # imports and caches, paid once by this process as by any evaluation
    episodes = sum(entry.episodes * len(entry.seeds) for entry in CORE_V0.entries)
    ratio = speed_ratio(
        benchmark,
        isolated,
        in_process,
        ours_work=episodes,
        anchor_work=episodes,
        rounds=2,
        label="isolated/in-process",
    )
    assert ratio >= MIN_RATIO, (
        f"isolated play runs at {ratio:.2f}x the in-process speed (need >= {MIN_RATIO:.2f})"
    )
