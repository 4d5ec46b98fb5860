"""A suite's leaderboard as columns and ranked, sorted rows: what the API returns and the page shows.

Rank is fixed by the headline (complete results first, then IQM, best first; the older submission
first on a tie) whatever column the table is sorted by, so "#3" names the same row in every view.
Sorting by any column keeps rows without a value (no games for a success rate, an env not scored)
at the end in both directions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from leaderboard.protocol import Suite, is_game
from leaderboard.store import LeaderboardRow

#: Rows per page of the HTML leaderboard, and the API's default and largest ``limit``.
PAGE_SIZE = 100
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Column:
    """``id``: the ``sort`` parameter naming it; ``descending``: its first sort order."""

    id: str
    label: str
    descending: bool
    value: Callable[[Ranked], Any]


@dataclass(frozen=True)
class Ranked:
    rank: int
    row: LeaderboardRow


def rank(rows: Sequence[LeaderboardRow]) -> list[Ranked]:
    ordered = sorted(rows, key=lambda r: (not r.complete, -r.iqm[0], r.id))
    return [Ranked(i + 1, row) for i, row in enumerate(ordered)]


def _score(label: str) -> Callable[[Ranked], float | None]:
    def value(ranked: Ranked) -> float | None:
        score = ranked.row.scores.get(label)
        return None if score is None else score[0]

    return value


def columns(suite: Suite, rows: Sequence[LeaderboardRow]) -> list[Column]:
    """The sortable columns of ``suite``'s table; success rate only for a suite with card games
    (``protocol.is_game``: decided by the suite, not by the rows, which may have been stored by an
    older version that gave every entry without an error curve one)."""
    found = [
        Column("rank", "#", False, lambda r: r.rank),
        Column("agent", "agent", False, lambda r: r.row.agent_label.casefold()),
        Column("iqm", "IQM [95% CI]", True, lambda r: r.row.iqm[0]),
    ]
    if any(is_game(entry.env_id) for entry in suite.entries):
        found.append(Column("success", "success rate", True, lambda r: r.row.success_rate))
    found.append(Column("envs", "envs", True, lambda r: len(r.row.scores)))
    found += [
        Column(f"env{i}", entry.label, True, _score(entry.label)) for i, entry in enumerate(suite.entries)
    ]
    found.append(Column("submitted", "submitted", True, lambda r: r.row.submitted_at))
    return found


def sort(ranked: Sequence[Ranked], column: Column, descending: bool) -> list[Ranked]:
    """``ranked`` by ``column`` (rank breaks ties), rows without a value last."""
    known = [r for r in ranked if column.value(r) is not None]
    missing = [r for r in ranked if column.value(r) is None]
    known.sort(key=lambda r: r.rank)
    known.sort(key=column.value, reverse=descending)  # stable: equal values stay in rank order
    return known + missing


def interval(values: tuple[float, float, float]) -> dict[str, float]:
    value, low, high = values
    return {"value": value, "low": low, "high": high}


def row_json(ranked: Ranked, suite: Suite) -> dict[str, Any]:
    row = ranked.row
    return {
        "rank": ranked.rank,
        "id": row.id,
        "agent": row.agent_reference,
        "label": row.agent_label,
        "config_hash": row.config_hash,
        "seed_set": row.seed_set,
        "complete": row.complete,
        "status": row.status,
        "iqm": interval(row.iqm),
        "success_rate": row.success_rate,
        "envs": len(row.scores),
        "scores": {
            entry.label: interval(row.scores[entry.label])
            for entry in suite.entries
            if entry.label in row.scores
        },
        "submitted_at": row.submitted_at.isoformat(),
        "submitted_by": row.submitted_by,
    }
