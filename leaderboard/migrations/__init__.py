"""Schema migrations of the results database (Alembic), run whenever a store is opened.

Revision ``0001`` is the schema of the first results store (``submissions`` and ``entry_scores``,
made by ``create_all`` before migrations existed); later revisions are the files in ``versions/``,
each a frozen script of DDL and backfill. Opening a database

- at :data:`HEAD` costs one query;
- older (or a store from before migrations, which has the tables but no ``alembic_version``):
  upgrades it in place, in one transaction that holds the database's write lock (SQLite's ``BEGIN
  IMMEDIATE``, a PostgreSQL advisory lock), so two processes opening it at once migrate it once;
- of a revision this code does not know (written by a newer icl-envs): raises
  :class:`SchemaTooNewError` and changes nothing.

A new revision: add ``versions/NNNN_what.py`` (``revision``, ``down_revision``, ``upgrade()``),
set :data:`HEAD` to it, and change the models in ``leaderboard/store.py`` to match
(``tests/test_migrations.py`` compares the migrated schema with the models on SQLite and PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

#: The newest revision, the one the models of ``leaderboard/store.py`` describe.
HEAD = "0002"
#: The schema of the first store, stamped on a store that predates migrations.
FIRST = "0001"
#: Key of the PostgreSQL advisory lock held while migrating (any constant shared by all processes).
_PG_LOCK_KEY = 0x1C1B_E7C4
#: Seconds a SQLite migration waits for another process's write lock.
_SQLITE_LOCK_TIMEOUT_S = 60


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer version of icl-envs than this one."""


def _script() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    return ScriptDirectory.from_config(config)


def current_revision(connection: Connection) -> str | None:
    """The database's revision; ``FIRST`` for a store from before migrations, None when empty."""
    revision = MigrationContext.configure(connection).get_current_revision()
    if revision is None and inspect(connection).has_table("submissions"):
        return FIRST
    return revision


def _check_known(revision: str | None, url: str) -> None:
    known = {script.revision for script in _script().walk_revisions()}
    if revision is not None and revision not in known:
        raise SchemaTooNewError(
            f"the database {url} has schema revision {revision!r}, newer than this icl-envs knows "
            f"(up to {HEAD!r}): upgrade icl-envs to use it; nothing was changed"
        )


def _locked_engine(url: str) -> Engine:
    """An engine whose transactions hold the database's write lock from their first statement."""
    if not url.startswith("sqlite"):
        return create_engine(url, poolclass=NullPool)
    engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": _SQLITE_LOCK_TIMEOUT_S})

    # pysqlite would begin the transaction lazily, at the first write, and without a lock: take
    # the write lock at BEGIN instead, so the revision read below cannot go stale.
    @event.listens_for(engine, "connect")
    def _manual_transactions(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def upgrade(engine: Engine, target: str = HEAD) -> tuple[str | None, str]:
    """Bring the database of ``engine`` to ``target`` (HEAD; an older one makes the old schemas
    the tests upgrade); return (revision before, revision after).

    Raises :class:`SchemaTooNewError` (changing nothing) for a revision newer than HEAD.
    """
    url = engine.url.render_as_string(hide_password=True)
    with engine.connect() as connection:
        before = current_revision(connection)
    if before == target:
        return before, target
    _check_known(before, url)
    locked = _locked_engine(engine.url.render_as_string(hide_password=False))
    try:
        with locked.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            before = current_revision(connection)  # again, under the lock: another process may have won
            _check_known(before, url)
            if before != target:
                _migrate(connection, before, target)
    finally:
        locked.dispose()
    return before, target


def _migrate(connection: Connection, revision: str | None, target: str) -> None:
    script = _script()
    if revision == FIRST and MigrationContext.configure(connection).get_current_revision() is None:
        MigrationContext.configure(connection).stamp(script, FIRST)

    def steps(current, _context):
        return script._upgrade_revs(target, current)

    with EnvironmentContext(Config(), script, fn=steps, destination_rev=target) as environment:
        environment.configure(connection=connection, target_metadata=None)
        with environment.begin_transaction():  # inside our transaction: no new one is begun
            environment.run_migrations()
