"""The results store: every accepted results file, kept forever, in SQLite or any SQLAlchemy database.

- Default: a SQLite file in the user's data directory (``platformdirs``); ``ICL_BENCH_DB`` or the CLI's
  ``--db`` override it with a path or a SQLAlchemy URL (``postgresql+psycopg://...`` for a server).
- A submission is validated, then inserted in one transaction together with its per-entry scores.
  Rows are never updated or deleted by this module: a result, once accepted, cannot change.
- The content hash (agent, config, suite, seeds and every return) is unique: submitting the same
  result again is recognised and reported as a duplicate, not stored twice, even when two processes
  race to insert it.
- SQLite writers wait for each other (``busy timeout``) instead of failing, so concurrent
  ``icl-bench`` processes lose no row.
- The schema is migrated by Alembic (``leaderboard/migrations``) when a store is opened: an older
  store is upgraded in place, and one of a newer schema is refused (:class:`SchemaTooNewError`).
- The leaderboard server's tables live here too (tokens, verifications), so that one schema and one
  migration history describe the whole database; their logic is in ``leaderboard/server``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from platformdirs import user_data_dir
from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from leaderboard import migrations
from leaderboard.migrations import SchemaTooNewError
from leaderboard.results import (
    MAX_LABEL_LENGTH,
    MAX_REFERENCE_LENGTH,
    ResultsFile,
    agent_label,
    validate_results,
)

__all__ = ["Added", "ResultsStore", "SchemaTooNewError", "database_url", "default_database"]

DB_ENV = "ICL_BENCH_DB"
#: Seconds a SQLite writer waits for another writer's lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 60


class Base(DeclarativeBase):
    pass


class Submission(Base):
    """One accepted results file, with its headline numbers as columns for sorting."""

    __tablename__ = "submissions"
    __table_args__ = (
        Index(
            "ix_submissions_leaderboard",
            "suite",
            "seed_set_id",
            "agent_reference",
            "config_hash",
            "scored_hash",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    suite: Mapped[str] = mapped_column(String(64), index=True)
    agent_reference: Mapped[str] = mapped_column(String(MAX_REFERENCE_LENGTH), index=True)
    config_hash: Mapped[str] = mapped_column(String(64))
    complete: Mapped[bool] = mapped_column(Boolean)
    iqm: Mapped[float] = mapped_column(Float)
    iqm_low: Mapped[float] = mapped_column(Float)
    iqm_high: Mapped[float] = mapped_column(Float)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Revision 0002: what the server's pages show and group by without reading results_json.
    agent_label: Mapped[str] = mapped_column(String(MAX_LABEL_LENGTH))
    scored_hash: Mapped[str] = mapped_column(String(64))
    success_rate: Mapped[float | None] = mapped_column(Float)
    token_id: Mapped[int | None] = mapped_column(
        ForeignKey("tokens.id", name="fk_submissions_token_id_tokens"), index=True
    )
    #: ``dev`` or the test set's id (``ResultsFile.seed_set_id``): dev and test rows are kept apart.
    seed_set_id: Mapped[str] = mapped_column(String(16))
    #: Last: on SQLite the columns after a large value are slower to read.
    results_json: Mapped[str] = mapped_column(Text)
    entries: Mapped[list[EntryScore]] = relationship(
        back_populates="submission", order_by="EntryScore.position"
    )

    @property
    def results(self) -> ResultsFile:
        return ResultsFile.model_validate_json(self.results_json)


class EntryScore(Base):
    """One entry's normalized score in a submission, for per-env tables and queries."""

    __tablename__ = "entry_scores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    position: Mapped[int]
    env_id: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(200))
    mean_return: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    score_low: Mapped[float] = mapped_column(Float)
    score_high: Mapped[float] = mapped_column(Float)
    submission: Mapped[Submission] = relationship(back_populates="entries")


class Token(Base):
    """A submission token of the leaderboard server: only its SHA-256 hash is kept.

    ``window_start`` and ``window_count`` hold its rate limit's current window (see
    ``leaderboard/server/tokens.py``), shared by every worker process through the database.
    """

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_start: Mapped[float] = mapped_column(Float)
    window_count: Mapped[int] = mapped_column(Integer)


class Verification(Base):
    """A re-evaluation of a submission on the suite's held-out test seeds (appended, never updated;
    the newest one of a submission counts). ``status``: ``verified`` or ``flagged``."""

    __tablename__ = "verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    iqm: Mapped[float] = mapped_column(Float)
    iqm_low: Mapped[float] = mapped_column(Float)
    iqm_high: Mapped[float] = mapped_column(Float)
    results_json: Mapped[str] = mapped_column(Text)
    verified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Added:
    """The outcome of :meth:`ResultsStore.add`: the row id and whether it was new."""

    id: int
    new: bool


def default_database() -> str:
    """``ICL_BENCH_DB`` if set, else ``<user data dir>/icl-bench/results.sqlite``."""
    configured = os.environ.get(DB_ENV)
    if configured:
        return configured
    return str(Path(user_data_dir("icl-bench", appauthor=False)) / "results.sqlite")


def database_url(db: str | os.PathLike | None = None) -> str:
    """A SQLAlchemy URL for ``db``: a URL as is, a path as a SQLite file (its folder is created)."""
    db = str(db) if db is not None else default_database()
    if "://" in db:
        return db
    path = Path(db).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Write-ahead logging lets readers work while one process writes; writers queue on the busy
    # timeout instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    # Switching a fresh file to WAL needs its exclusive lock, and SQLite answers "locked" at once,
    # without waiting on the busy timeout, while another process migrates it (seen in CI with two
    # processes opening one fresh store): retry until the timeout instead.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    cursor.close()


@dataclass(frozen=True)
class LeaderboardRow:
    """One row of a suite's leaderboard, read from columns only (never from the results file)."""

    id: int
    agent_reference: str
    agent_label: str
    config_hash: str
    #: ``dev`` or the test set's id: a dev score and a test score are different rows.
    seed_set: str
    complete: bool
    iqm: tuple[float, float, float]
    success_rate: float | None
    #: Normalized score (value, low, high) by entry label.
    scores: dict[str, tuple[float, float, float]]
    status: str
    submitted_at: datetime
    submitted_by: str | None


@dataclass(frozen=True)
class StoredSubmission:
    """A stored submission: its results file as stored (JSON text) and what the server knows of it."""

    id: int
    content_hash: str
    suite: str
    status: str
    submitted_at: datetime
    submitted_by: str | None
    results_json: str

    @property
    def results(self) -> ResultsFile:
        return ResultsFile.model_validate_json(self.results_json)


#: The newest ids of the two tables that only grow (built once: it is asked for often).
_VERSION = select(
    select(func.max(Submission.id)).scalar_subquery(), select(func.max(Verification.id)).scalar_subquery()
)
#: A submission's status when no verification of it exists.
SELF_REPORTED = "self-reported"


class ResultsStore:
    """Add and read results; ``db`` is a path, a SQLAlchemy URL, or ``None`` for the default.

    Opening migrates the database to the current schema (see :mod:`leaderboard.migrations`).
    """

    def __init__(self, db: str | os.PathLike | None = None) -> None:
        self.url = database_url(db)
        sqlite = self.url.startswith("sqlite")
        self.engine: Engine = create_engine(
            self.url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S} if sqlite else {}
        )
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self.migrated_from, _ = migrations.upgrade(self.engine)
        except BaseException:
            self.engine.dispose()
            raise

    def add(
        self,
        results: ResultsFile | str | bytes | dict,
        token_id: int | None = None,
        *,
        secrets: Iterable[bytes] = (),
    ) -> Added:
        """Validate and insert ``results`` in one transaction; a duplicate returns the existing id.

        A test-seed file needs the secret of its test set among ``secrets`` (see validate_results).
        ``token_id``: the server's token that submitted it (None for a local store).
        """
        return self._insert(validate_results(results, secrets=secrets), token_id)

    def _insert(self, results: ResultsFile, token_id: int | None = None) -> Added:
        """Insert a results file that :func:`validate_results` accepted (:meth:`add` is the way in)."""
        content_hash = results.content_hash
        existing = self._find(content_hash)
        if existing is not None:
            return Added(existing, new=False)
        submission = Submission(
            content_hash=content_hash,
            suite=results.suite,
            agent_reference=results.agent.reference,
            config_hash=results.agent.config_hash,
            complete=results.complete,
            iqm=results.aggregates.iqm.value,
            iqm_low=results.aggregates.iqm.low,
            iqm_high=results.aggregates.iqm.high,
            submitted_at=datetime.now(timezone.utc),
            results_json=results.to_json(indent=None),
            agent_label=agent_label(results, MAX_LABEL_LENGTH),
            scored_hash=results.scored_hash,
            success_rate=results.success_rate,
            token_id=token_id,
            seed_set_id=results.seed_set_id,
            entries=[
                EntryScore(
                    position=i,
                    env_id=entry.env_id,
                    label=entry.label,
                    mean_return=entry.mean_return,
                    score=entry.normalized_score.value,
                    score_low=entry.normalized_score.low,
                    score_high=entry.normalized_score.high,
                )
                for i, entry in enumerate(results.entries)
            ],
        )
        try:
            with Session(self.engine) as session, session.begin():
                session.add(submission)
                session.flush()
                new_id = submission.id
        except IntegrityError:
            # Another process inserted the same content between our check and our insert.
            existing = self._find(content_hash)
            if existing is None:
                raise
            return Added(existing, new=False)
        return Added(new_id, new=True)

    def _find(self, content_hash: str) -> int | None:
        with Session(self.engine) as session:
            return session.scalar(select(Submission.id).where(Submission.content_hash == content_hash))

    def add_verification(self, submission_id: int, status: str, test: ResultsFile) -> int:
        """Append a verification of submission ``submission_id``: its ``status`` (``verified`` or
        ``flagged``) and the test-seed results it was decided on; return its id. The newest
        verification of a submission is its status (see :mod:`leaderboard.verification`)."""
        if status not in ("verified", "flagged"):
            raise ValueError(f"status must be 'verified' or 'flagged', got {status!r}")
        iqm = test.aggregates.iqm
        verification = Verification(
            submission_id=submission_id,
            status=status,
            iqm=iqm.value,
            iqm_low=iqm.low,
            iqm_high=iqm.high,
            results_json=test.to_json(indent=None),
            verified_at=datetime.now(timezone.utc),
        )
        with Session(self.engine) as session, session.begin():
            if session.get(Submission, submission_id) is None:
                raise KeyError(f"no submission with id {submission_id}")
            session.add(verification)
            session.flush()
            return verification.id

    def verifications(self, submission_id: int) -> list[tuple[str, tuple[float, float, float], datetime]]:
        """The verifications of a submission, oldest first: (status, test IQM, when)."""
        query = (
            select(
                Verification.status,
                Verification.iqm,
                Verification.iqm_low,
                Verification.iqm_high,
                Verification.verified_at,
            )
            .where(Verification.submission_id == submission_id)
            .order_by(Verification.id)
        )
        with Session(self.engine) as session:
            return [
                (status, (iqm, low, high), _aware(moment))
                for status, iqm, low, high, moment in session.execute(query)
            ]

    def count(self, suite: str | None = None) -> int:
        query = select(func.count()).select_from(Submission)
        if suite is not None:
            query = query.where(Submission.suite == suite)
        with Session(self.engine) as session:
            return session.scalar(query) or 0

    def counts(self) -> dict[str, int]:
        """Stored submissions by suite."""
        with Session(self.engine) as session:
            rows = session.execute(select(Submission.suite, func.count()).group_by(Submission.suite))
            return {suite: count for suite, count in rows}

    def version(self) -> tuple[int, int]:
        """Changes whenever a submission or a verification is added (both tables only grow), so a
        reader can cache anything computed from the store until it changes."""
        with self.engine.connect() as connection:
            submissions, verifications = connection.execute(_VERSION).one()
        return submissions or 0, verifications or 0

    def get(self, submission_id: int) -> ResultsFile:
        return self.submission(submission_id).results

    def submission(self, submission_id: int) -> StoredSubmission:
        """The submission with this id; KeyError if there is none."""
        query = (
            select(
                Submission.id,
                Submission.content_hash,
                Submission.suite,
                Submission.submitted_at,
                Token.name,
                Submission.results_json,
            )
            .outerjoin(Token, Submission.token_id == Token.id)
            .where(Submission.id == submission_id)
        )
        with Session(self.engine) as session:
            row = session.execute(query).one_or_none()
            if row is None:
                raise KeyError(f"no submission with id {submission_id}")
            status = self._statuses(session, [submission_id]).get(submission_id, SELF_REPORTED)
        id_, content_hash, suite, submitted_at, submitted_by, results_json = row
        return StoredSubmission(
            id_, content_hash, suite, status, _aware(submitted_at), submitted_by, results_json
        )

    @staticmethod
    def _newest_ids(suite: str | None):
        """The newest submission of each (suite, seed set, agent reference, config, entries scored):
        the rows a leaderboard shows. The entries scored count, so that a quick run on one env
        (``--envs``) does not hide the same agent's full run: both rows are shown, with their env
        counts. So does the seed set: a dev score and a test score are different claims, shown apart."""
        query = select(func.max(Submission.id)).group_by(
            Submission.suite,
            Submission.seed_set_id,
            Submission.agent_reference,
            Submission.config_hash,
            Submission.scored_hash,
        )
        return query if suite is None else query.where(Submission.suite == suite)

    def latest(self, suite: str | None = None) -> list[ResultsFile]:
        """The results files of the leaderboard's rows on ``suite`` (all suites if None)."""
        query = select(Submission.results_json).where(Submission.id.in_(self._newest_ids(suite)))
        with Session(self.engine) as session:
            return [
                ResultsFile.model_validate_json(stored)
                for stored in session.scalars(query.order_by(Submission.id))
            ]

    def leaderboard(self, suite: str) -> list[LeaderboardRow]:
        """The leaderboard's rows on ``suite``, in id order, read from columns only."""
        newest = self._newest_ids(suite).scalar_subquery()
        rows_query = (
            select(
                Submission.id,
                Submission.agent_reference,
                Submission.agent_label,
                Submission.config_hash,
                Submission.seed_set_id,
                Submission.complete,
                Submission.iqm,
                Submission.iqm_low,
                Submission.iqm_high,
                Submission.success_rate,
                Submission.submitted_at,
                Token.name,
            )
            .outerjoin(Token, Submission.token_id == Token.id)
            .where(Submission.id.in_(newest))
            .order_by(Submission.id)
        )
        scores_query = select(
            EntryScore.submission_id,
            EntryScore.label,
            EntryScore.score,
            EntryScore.score_low,
            EntryScore.score_high,
        ).where(EntryScore.submission_id.in_(newest))
        with Session(self.engine) as session:
            rows = session.execute(rows_query).all()
            scores: dict[int, dict[str, tuple[float, float, float]]] = {}
            for submission_id, label, value, low, high in session.execute(scores_query):
                scores.setdefault(submission_id, {})[label] = (value, low, high)
            statuses = self._statuses(session, newest)
        return [
            LeaderboardRow(
                id=id_,
                agent_reference=reference,
                agent_label=label,
                config_hash=config_hash,
                seed_set=seed_set,
                complete=complete,
                iqm=(iqm, low, high),
                success_rate=success_rate,
                scores=scores.get(id_, {}),
                status=statuses.get(id_, SELF_REPORTED),
                submitted_at=_aware(submitted_at),
                submitted_by=submitted_by,
            )
            for id_, reference, label, config_hash, seed_set, complete, iqm, low, high, success_rate, submitted_at, submitted_by in rows
        ]

    @staticmethod
    def _statuses(session: Session, ids) -> dict[int, str]:
        """The status of the newest verification of each submission in ``ids`` (a list or a
        subquery) that has one."""
        newest = (
            select(func.max(Verification.id))
            .where(Verification.submission_id.in_(ids))
            .group_by(Verification.submission_id)
        )
        query = select(Verification.submission_id, Verification.status).where(Verification.id.in_(newest))
        return dict(session.execute(query).all())

    def close(self) -> None:
        self.engine.dispose()


def _aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their time zone; they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
