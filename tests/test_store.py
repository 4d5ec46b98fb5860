"""The results store: transactional adds, duplicates recognised, nothing lost to concurrent writers."""

import json
import multiprocessing

import pytest
from leaderboard_fixtures import tiny_results_json, variant

from leaderboard.results import ResultsValidationError, validate_results
from leaderboard.store import DB_ENV, ResultsStore, database_url, default_database

WRITES_PER_PROCESS = 15


def test_add_get_and_duplicates(tmp_path):
    store = ResultsStore(tmp_path / "store.sqlite")
    results = tiny_results_json()
    first = store.add(results)
    assert first.new
    again = store.add(results)
    assert (again.id, again.new) == (first.id, False)
    assert store.count() == 1
    assert store.get(first.id) == validate_results(results)  # the same content comes back


def test_a_result_is_never_overwritten(tmp_path):
    store = ResultsStore(tmp_path / "store.sqlite")
    original = json.loads(tiny_results_json())
    first = store.add(original)
    # The same returns resubmitted with another date are the same result: the stored one stays.
    later = dict(original, created="2031-01-01T00:00:00+00:00", wall_time_s=1.0)
    assert store.add(later) == type(first)(first.id, False)
    assert store.get(first.id).created == original["created"]


def test_invalid_results_are_not_stored(tmp_path):
    store = ResultsStore(tmp_path / "store.sqlite")
    data = json.loads(tiny_results_json())
    data["aggregates"]["iqm"]["value"] += 1.0
    with pytest.raises(ResultsValidationError, match="aggregates.iqm.value"):
        store.add(data)
    assert store.count() == 0


def test_latest_keeps_the_newest_per_agent_and_config(tmp_path):
    store = ResultsStore(tmp_path / "store.sqlite")
    base = tiny_results_json()
    store.add(variant(base, lr=1))
    store.add(variant(base, lr=2))
    assert store.count() == 2
    configs = sorted(r.agent.config["lr"] for r in store.latest("tiny-v0"))
    assert configs == [1, 2]
    assert store.latest("core-v0") == []


def test_default_location_and_overrides(tmp_path, monkeypatch):
    monkeypatch.delenv(DB_ENV, raising=False)
    assert default_database().endswith("results.sqlite")
    assert "icl-bench" in default_database()
    monkeypatch.setenv(DB_ENV, str(tmp_path / "env.sqlite"))
    assert ResultsStore().url == f"sqlite:///{tmp_path / 'env.sqlite'}"
    assert database_url("postgresql+psycopg://user@host/db") == "postgresql+psycopg://user@host/db"
    nested = tmp_path / "a" / "b" / "store.sqlite"
    ResultsStore(nested).add(tiny_results_json())
    assert nested.exists()


def _writer(path: str, writer: int, barrier) -> None:
    """Add WRITES_PER_PROCESS distinct results, one transaction each, racing the other writer."""
    base = tiny_results_json()
    store = ResultsStore(path)
    barrier.wait()
    for k in range(WRITES_PER_PROCESS):
        assert store.add(variant(base, writer=writer, k=k)).new
        # The same submission sent by both writers must end up stored once.
        store.add(variant(base, shared=k))


def test_two_concurrent_writers_lose_no_row(tmp_path):
    path = str(tmp_path / "store.sqlite")
    ResultsStore(path).close()  # create the schema before the race
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    writers = [context.Process(target=_writer, args=(path, w, barrier)) for w in (0, 1)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=120)
    assert [p.exitcode for p in writers] == [0, 0]
    store = ResultsStore(path)
    assert store.count() == 3 * WRITES_PER_PROCESS  # 2 writers' own rows + the shared ones once
    hashes = {r.content_hash for r in store.latest()}
    assert len(hashes) == 3 * WRITES_PER_PROCESS


def test_a_partial_run_does_not_hide_the_full_run_of_the_same_agent(tmp_path):
    from leaderboard_fixtures import TINY_SUITE, SweepAgent

    from leaderboard.harness import evaluate

    store = ResultsStore(tmp_path / "store.sqlite")
    full = store.add(tiny_results_json())
    quick = evaluate(
        "leaderboard_fixtures:SweepAgent", TINY_SUITE, envs=["Guess"], agent=SweepAgent(), progress=False
    )
    store.add(quick)
    shown = store.latest("tiny-v0")
    assert sorted(len(r.entries) for r in shown) == [1, 2]  # both rows, the full one included
    assert store.get(full.id) in shown
    store.add(variant(quick.to_json(), lr=1))  # another config of the quick run: a third row
    assert len(store.latest("tiny-v0")) == 3


def test_schema_compiles_for_postgresql_without_sqlite_only_types():
    """The store must work on PostgreSQL by URL: its DDL compiles for that dialect, and uses only
    portable types (JSON kept as TEXT, timezone-aware timestamps, plain integers and floats)."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable

    from leaderboard.store import Base

    dialect = postgresql.dialect()
    ddl = "\n".join(str(CreateTable(table).compile(dialect=dialect)) for table in Base.metadata.sorted_tables)
    for table in Base.metadata.sorted_tables:
        for index in table.indexes:
            ddl += "\n" + str(CreateIndex(index).compile(dialect=dialect))
    assert "CREATE TABLE submissions" in ddl and "CREATE TABLE entry_scores" in ddl
    assert "results_json TEXT NOT NULL" in ddl
    assert "TIMESTAMP WITH TIME ZONE" in ddl
    assert "UNIQUE INDEX ix_submissions_content_hash" in ddl  # duplicates are caught by the database
    assert "FOREIGN KEY(submission_id) REFERENCES submissions (id)" in ddl
    assert "AUTOINCREMENT" not in ddl.upper() and "PRAGMA" not in ddl.upper()


def test_store_sql_uses_no_sqlite_only_statements():
    """The only SQLite-specific SQL (WAL and busy timeout pragmas) runs on SQLite connections only."""
    import inspect

    from leaderboard import store

    source = inspect.getsource(store.ResultsStore)
    assert "PRAGMA" not in source and "text(" not in source  # queries go through the ORM
    assert "if sqlite:" in source  # the pragma listener is attached to SQLite engines only
