import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's torch work on one thread.

    The tensors of the in-context-transformer tests are tiny, and on a loaded 2-core machine
    OpenMP's spin-waiting threads made the training test 10x slower (2.7 s against 26 s measured
    beside one busy process). Modules opt in with ``pytestmark = pytest.mark.usefixtures(...)``.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throwaway PostgreSQL cluster on a Unix socket (no network), for the whole session; the
    tests that use it are skipped only where PostgreSQL is not installed."""
    from benchmarks.live import postgres_binaries, throwaway_postgres

    if postgres_binaries() is None:
        pytest.skip("PostgreSQL (initdb, pg_ctl) is not installed")
    with throwaway_postgres() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_cluster):
    """A fresh, empty database in the session's cluster."""
    import uuid

    import sqlalchemy

    name = f"test_{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(postgres_cluster, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    yield postgres_cluster.replace("/postgres?", f"/{name}?")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """A fresh database: a SQLite file, then a PostgreSQL database (run each test on both)."""
    if request.param == "sqlite":
        return str(tmp_path / "leaderboard.sqlite")
    return request.getfixturevalue("postgres_url")
