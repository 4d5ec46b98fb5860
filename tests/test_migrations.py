"""Schema migrations (Alembic): a new database is created at the head revision and matches the
models; a store from before migrations (revision 0001) is upgraded in place with its rows; a schema
newer than this code is refused and left alone; concurrent openers migrate once."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from leaderboard_fixtures import tiny_results_json
from typer.testing import CliRunner

from leaderboard import migrations
from leaderboard.cli import app
from leaderboard.results import validate_results
from leaderboard.store import Base, ResultsStore, SchemaTooNewError

#: A SQLite store written by the code before migrations (create_all), with two submissions; the
#: second's config holds an HTML tag. Made with that code's ResultsStore.add and sqlite3's iterdump.
REVISION_1_DUMP = Path(__file__).parent / "data" / "store_revision1.sql"


def _revision(url_or_engine) -> str | None:
    engine = url_or_engine if isinstance(url_or_engine, sa.Engine) else sa.create_engine(url_or_engine)
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _differences(store: ResultsStore) -> list:
    with store.engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def test_a_new_database_is_made_at_head_and_matches_the_models(database):
    store = ResultsStore(database)
    assert store.migrated_from is None and _revision(store.engine) == migrations.HEAD
    assert _differences(store) == []
    assert ResultsStore(database).migrated_from == migrations.HEAD  # a second open changes nothing


def _old_rows() -> dict[str, list[dict]]:
    """The revision-1 dump's rows, table by table."""
    old = sqlite3.connect(":memory:")
    old.executescript(REVISION_1_DUMP.read_text())
    old.row_factory = sqlite3.Row
    return {
        table: [dict(row) for row in old.execute(f"SELECT * FROM {table}")]
        for table in ("submissions", "entry_scores")
    }


def _revision_1_store(database: str) -> None:
    """Write the revision-1 store at ``database``: the dump itself on SQLite; on PostgreSQL, the
    0001 schema with the dump's rows."""
    if "://" not in database:
        with sqlite3.connect(database) as connection:
            connection.executescript(REVISION_1_DUMP.read_text())
        return
    engine = sa.create_engine(database)
    migrations.upgrade(engine, target=migrations.FIRST)
    tables = sa.MetaData()
    tables.reflect(engine, only=["submissions", "entry_scores"])
    rows = _old_rows()
    for row in rows["submissions"]:
        row["complete"] = bool(row["complete"])
        row["submitted_at"] = datetime.fromisoformat(row["submitted_at"]).replace(tzinfo=timezone.utc)
    with engine.begin() as connection:
        connection.execute(tables.tables["submissions"].insert(), rows["submissions"])
        connection.execute(tables.tables["entry_scores"].insert(), rows["entry_scores"])
        connection.execute(sa.text("DROP TABLE alembic_version"))  # as create_all left it
    engine.dispose()


def test_a_store_from_before_migrations_is_upgraded_in_place(database):
    _revision_1_store(database)
    store = ResultsStore(database)
    assert store.migrated_from == migrations.FIRST and _revision(store.engine) == migrations.HEAD
    assert _differences(store) == []
    rows = store.leaderboard("tiny-v0")
    assert [r.id for r in rows] == [1, 2]  # the old rows, with their new columns filled in
    assert rows[1].agent_label.endswith("prompt=<img src=x onerror=alert(1)>)")
    stored = store.get(1)
    assert rows[0].success_rate == stored.success_rate == 1.0
    assert [r.seed_set for r in rows] == [stored.seed_set_id, "dev"] == ["dev", "dev"]  # from the files
    assert rows[0].scores["Guess"] == (100.0, 100.0, 100.0)
    # It works as a store of today: a duplicate is recognised, a new result is added.
    assert store.add(tiny_results_json()).new is False
    assert store.add(validate_results(tiny_results_json()).model_copy(update={"wall_time_s": 0.0})).id == 1
    assert store.count() == 2 and store.version() == (2, 0)
    if "://" not in database:
        with sqlite3.connect(database) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert connection.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_newer_schema_is_refused_and_left_alone(database, monkeypatch):
    import uvicorn

    def must_not_serve(*args, **kwargs):
        raise AssertionError("serve started a server on a database of a newer schema")

    monkeypatch.setattr(uvicorn, "run", must_not_serve)
    ResultsStore(database).close()
    engine = sa.create_engine(database if "://" in database else f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(SchemaTooNewError, match="'0099', newer than this icl-envs knows"):
        ResultsStore(database)
    assert _revision(engine) == "0099"
    for command in (["serve", "--db", database, "--port", "1"], ["leaderboard", "--db", database]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "newer than this icl-envs knows" in result.output and "nothing was changed" in result.output


def _open(path: str, barrier) -> None:
    barrier.wait()
    ResultsStore(path).close()


def test_two_processes_opening_a_fresh_store_migrate_it_once(tmp_path):
    path = str(tmp_path / "fresh.sqlite")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    openers = [context.Process(target=_open, args=(path, barrier)) for _ in range(2)]
    for process in openers:
        process.start()
    for process in openers:
        process.join(timeout=120)
    assert [p.exitcode for p in openers] == [0, 0]
    store = ResultsStore(path)
    assert store.migrated_from == migrations.HEAD and _differences(store) == []


def test_the_head_is_the_newest_revision_file():
    assert migrations._script().get_current_head() == migrations.HEAD
