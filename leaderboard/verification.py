"""Verification: the operator re-scores a stored submission on the suite's held-out test seeds.

A submission's score is self-reported: its submitter played the public dev seeds, which an agent
can be tuned to or even remember (docs/protocol.md). :func:`verify` plays the same agent (its
reference and config, as the results file records them) on the same entries, on the seeds of the
test set of the operator's secret, with the harness's isolated mode: the agent runs in a process
of its own that sees only observations, within time limits, so it can read neither the env's
answers nor the secret. Then it compares the two IQMs:

- ``verified``: the test IQM's 95% interval overlaps the dev IQM's: the dev score holds on seeds
  the agent cannot have seen;
- ``flagged``: it does not (an agent that remembered dev tasks, or was tuned to them, scores above
  its test interval).

The outcome is appended to the store's ``verifications`` table beside the submission (the newest
one counts; the server shows it as a badge). What is stored and reported names the test set by its
id; the secret itself is never printed, stored or logged, and the test file stored with the
verification (its seeds reveal the set) is never served.

Run it where the agent's code is installed: a ``module:Name`` importable there, or a ``run:DIR``
present there.
"""

from __future__ import annotations

from dataclasses import dataclass

from leaderboard.harness import evaluate
from leaderboard.isolation import DEFAULT_ENTRY_TIMEOUT_S, DEFAULT_STEP_TIMEOUT_S
from leaderboard.results import Interval, ResultsFile
from leaderboard.seed_sets import DEV, test_set_id
from leaderboard.store import ResultsStore

VERIFIED = "verified"
FLAGGED = "flagged"


class VerificationError(ValueError):
    """The submission cannot be verified (unknown, not a dev-seed score); nothing was stored."""


@dataclass(frozen=True)
class Verification:
    """What :func:`verify` found and stored: the two IQMs (value, low, high) and the status."""

    submission_id: int
    verification_id: int
    status: str
    test_set: str
    dev_iqm: tuple[float, float, float]
    test_iqm: tuple[float, float, float]


def agree(dev: Interval, test: Interval) -> bool:
    """Whether two scores agree within their intervals (the intervals overlap)."""
    return dev.low <= test.high and test.low <= dev.high


def verify(
    store: ResultsStore,
    submission_id: int,
    secret: bytes,
    *,
    progress: bool = True,
    step_timeout: float = DEFAULT_STEP_TIMEOUT_S,
    entry_timeout: float = DEFAULT_ENTRY_TIMEOUT_S,
) -> Verification:
    """Re-evaluate submission ``submission_id`` on the test seeds of ``secret``, store and return the outcome.

    Raises :class:`VerificationError` for an unknown submission or one not scored on dev seeds,
    ``ValueError`` for an agent that cannot be built here (its reference cannot be imported, its
    config is refused), and :class:`~leaderboard.agent.AgentError` for an agent that fails on the
    test seeds (it crashed, or ran over a time limit); nothing is stored then.
    """
    try:
        stored = store.submission(submission_id)
    except KeyError:
        raise VerificationError(f"no submission with id {submission_id} in this store") from None
    dev = stored.results
    if dev.seed_set != DEV:
        raise VerificationError(
            f"submission {submission_id} was scored on test set {dev.seed_set_id}: verification "
            "re-scores a dev-seed submission on the test seeds"
        )
    test = evaluate(
        dev.agent.reference,
        dev.suite,
        envs=[entry.label for entry in dev.entries],
        config=dev.agent.config,
        secret=secret,
        isolate=True,
        progress=progress,
        step_timeout=step_timeout,
        entry_timeout=entry_timeout,
    )
    status = VERIFIED if agree(dev.aggregates.iqm, test.aggregates.iqm) else FLAGGED
    verification_id = store.add_verification(submission_id, status, test)
    return Verification(
        submission_id=submission_id,
        verification_id=verification_id,
        status=status,
        test_set=test_set_id(secret),
        dev_iqm=_triple(dev),
        test_iqm=_triple(test),
    )


def _triple(results: ResultsFile) -> tuple[float, float, float]:
    iqm = results.aggregates.iqm
    return iqm.value, iqm.low, iqm.high
