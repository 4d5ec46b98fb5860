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
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from platformdirs import user_data_dir
from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
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

from leaderboard.protocol import entry_key
from leaderboard.results import MAX_REFERENCE_LENGTH, ResultsFile, validate_results

DB_ENV = "ICL_BENCH_DB"
#: Seconds a SQLite writer waits for another writer's lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 60


class Base(DeclarativeBase):
    pass


class Submission(Base):
    """One accepted results file, with its headline numbers as columns for sorting."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    suite: Mapped[str] = mapped_column(String(64), index=True)
    agent_reference: Mapped[str] = mapped_column(String(MAX_REFERENCE_LENGTH), index=True)
    config_hash: Mapped[str] = mapped_column(String(64))
    complete: Mapped[bool]
    iqm: Mapped[float] = mapped_column(Float)
    iqm_low: Mapped[float] = mapped_column(Float)
    iqm_high: Mapped[float] = mapped_column(Float)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
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
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.close()


class ResultsStore:
    """Add and read results; ``db`` is a path, a SQLAlchemy URL, or ``None`` for the default."""

    def __init__(self, db: str | os.PathLike | None = None) -> None:
        self.url = database_url(db)
        sqlite = self.url.startswith("sqlite")
        self.engine: Engine = create_engine(
            self.url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S} if sqlite else {}
        )
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)

    def add(self, results: ResultsFile | str | dict, *, secrets: Iterable[bytes] = ()) -> Added:
        """Validate and insert ``results`` in one transaction; a duplicate returns the existing id.
        A test-seed file needs the secret of its test set among ``secrets`` (see validate_results)."""
        results = validate_results(results, secrets=secrets)
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

    def count(self) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(Submission)) or 0

    def get(self, submission_id: int) -> ResultsFile:
        with Session(self.engine) as session:
            submission = session.get(Submission, submission_id)
            if submission is None:
                raise KeyError(f"no submission with id {submission_id}")
            return submission.results

    def latest(self, suite: str | None = None) -> list[ResultsFile]:
        """The newest submission of each (agent reference, config, entries scored, seed set) on
        ``suite`` (all suites if None).

        The entries scored are part of the key: a quick run on one env (``--envs``) must not hide
        the same agent's full run from the leaderboard; both rows are shown, with their env counts.
        So is the seed set: a dev score and a test score are different claims, shown apart.
        """
        with Session(self.engine) as session:
            query = select(Submission).order_by(Submission.id)
            if suite is not None:
                query = query.where(Submission.suite == suite)
            newest: dict[tuple[str, str, str, tuple[str, ...], str], ResultsFile] = {}
            for submission in session.scalars(query):
                results = submission.results
                scored = tuple(entry_key(entry.env_id, entry.kwargs) for entry in results.entries)
                agent = (results.agent.reference, results.agent.config_hash)
                newest[(results.suite, *agent, scored, results.seed_set_id)] = results
            return list(newest.values())

    def close(self) -> None:
        self.engine.dispose()
