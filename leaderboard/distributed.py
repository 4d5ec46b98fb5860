"""Shards on a Dask cluster: open a pool of worker processes, run a list of tasks on it, and hand
back their outcomes in the order of the list, whatever order they finished in.

Nothing here knows what a shard does. The harness runs one (suite entry, seed) of an evaluation per
shard (``leaderboard.harness.play_shard``); dataset collection can run one block of seeds per shard
the same way: a module-level function, a list of picklable tasks, and a merge that reads the
outcomes in list order, so that the merged result does not depend on the number of workers.

- :func:`open_pool`: ``workers=N`` starts a ``LocalCluster`` of N single-threaded worker processes
  on 127.0.0.1 (no dashboard: nothing listens beyond loopback); ``scheduler="tcp://HOST:PORT"``
  joins an existing cluster (SLURM through dask-jobqueue, Kubernetes, ``dask scheduler`` by hand).
- :func:`run_shards`: submits every task, calls ``on_done`` as each finishes (a progress bar), and
  returns one outcome per task, in task order: the function's value or a :class:`ShardFailure`.

Faults: a worker that dies mid-shard (killed, out of memory) is replaced by its nanny and the
scheduler runs the shard again elsewhere; a shard that kills its worker
``distributed.scheduler.allowed-failures`` times (3) in a row fails with a message that says so. An
exception raised by a shard is its failure; the other shards go on (``stop_on_failure=False``) or
are cancelled (``stop_on_failure=True``, then :class:`ShardError` is raised).

Dask (``pip install "icl-envs[distributed]"``) is imported only here and only when a pool is
opened: a run without ``--workers`` or ``--scheduler`` never imports it.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import icl_envs  # noqa: F401  (a fresh worker that unpickles a task imports this module first: the icl/ ids register)

#: Environment variable naming the scheduler of an existing cluster (``tcp://HOST:PORT``).
SCHEDULER_ENV = "ICL_BENCH_SCHEDULER"
#: Addresses accepted for a scheduler: Dask's TCP transport, plain or over TLS.
SCHEDULER_ADDRESS = re.compile(r"(tcp|tls)://[^\s/:]+:\d{1,5}")
#: Seconds to wait for an existing scheduler to answer before giving up.
CONNECT_TIMEOUT_S = 20
INSTALL_HINT = 'pip install "icl-envs[distributed]"'


@dataclass(frozen=True)
class ShardFailure:
    """A shard that did not produce a value: ``label`` names it, ``message`` says why."""

    label: str
    message: str

    def __str__(self) -> str:
        return f"{self.label}: {self.message}"


class ShardError(RuntimeError):
    """A shard failed and the run stopped (``stop_on_failure``); ``failure`` is the first one seen."""

    def __init__(self, failure: ShardFailure) -> None:
        super().__init__(str(failure))
        self.failure = failure


def pool_options(
    workers: int | None, scheduler: str | None, environ: Mapping[str, str] = os.environ
) -> tuple[int | None, str | None]:
    """The pool a command asked for: ``(workers, scheduler)``, both None for a local run.

    ``$ICL_BENCH_SCHEDULER`` stands for ``--scheduler`` when neither option is given (an explicit
    ``--workers`` wins over the environment). Raises ``ValueError`` naming the bad option.
    """
    if workers is not None and scheduler is not None:
        raise ValueError("--workers starts a local cluster and --scheduler joins one: give only one")
    if workers is None and scheduler is None:
        scheduler = environ.get(SCHEDULER_ENV) or None
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"--workers must be an integer >= 1, got {workers!r}")
    if scheduler is not None and not SCHEDULER_ADDRESS.fullmatch(scheduler):
        raise ValueError(
            f"--scheduler (or ${SCHEDULER_ENV}) must look like tcp://HOST:PORT or tls://HOST:PORT, "
            f"got {scheduler!r}"
        )
    return workers, scheduler


def _dask():
    """The ``distributed`` package, imported here only: an optional extra, heavy to import."""
    try:
        import distributed
    except ImportError:
        raise ValueError(f"--workers and --scheduler need Dask: {INSTALL_HINT}") from None
    return distributed


@contextlib.contextmanager
def open_pool(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A Dask ``Client``: of a new local cluster of ``workers`` processes, or of ``scheduler``'s.

    The local cluster listens on 127.0.0.1 only, without a dashboard; it is closed on exit. Raises
    ``ValueError`` for bad options, a missing Dask or a scheduler that cannot be reached.
    """
    workers, scheduler = pool_options(workers, scheduler, environ={})
    if workers is None and scheduler is None:
        raise ValueError("open_pool needs workers or a scheduler")
    distributed = _dask()
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,  # one shard per process: the envs and agents are single-threaded
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
            )
            client = stack.enter_context(distributed.Client(cluster))
        else:
            try:
                client = stack.enter_context(distributed.Client(scheduler, timeout=CONNECT_TIMEOUT_S))
            except (OSError, TimeoutError) as error:
                raise ValueError(f"--scheduler {scheduler}: cannot connect: {error}") from None
        yield client


def _call(function: Callable[[Any], Any], task: Any, label: str) -> Any:
    """Run one task on a worker; an exception becomes a :class:`ShardFailure` (always picklable,
    unlike some exceptions, and the same whether the shard ran here or on another host)."""
    try:
        return function(task)
    except Exception as error:
        return ShardFailure(label, str(error) or type(error).__name__)


def run_shards(
    client: Any,
    function: Callable[[Any], Any],
    tasks: Sequence[Any],
    labels: Sequence[str],
    *,
    stop_on_failure: bool = False,
    on_done: Callable[[int], None] | None = None,
) -> list[Any]:
    """Run ``function(task)`` for every task on ``client``'s workers; return the outcomes in task order.

    ``function`` must be importable by the workers (a module-level function of an installed
    package); ``labels[i]`` names task ``i`` in failures. Each outcome is the function's value or a
    :class:`ShardFailure`. ``on_done(i)`` is called in this process as task ``i`` finishes.
    """
    if len(labels) != len(tasks):
        raise ValueError(f"labels: {len(labels)} labels for {len(tasks)} tasks")
    distributed = _dask()
    import dask  # installed with distributed; read for the scheduler's allowed-failures

    run = uuid.uuid4().hex[:12]
    # pure=False and a unique key per task: a rerun of the same task is never served from a cache.
    futures = [
        client.submit(_call, function, task, label, key=f"shard-{run}-{i}", pure=False)
        for i, (task, label) in enumerate(zip(tasks, labels))
    ]
    index = {future.key: i for i, future in enumerate(futures)}
    outcomes: list[Any] = [None] * len(tasks)
    try:
        for future in distributed.as_completed(futures):
            i = index[future.key]
            try:
                outcomes[i] = future.result()
            except distributed.KilledWorker:
                allowed = dask.config.get("distributed.scheduler.allowed-failures")
                outcomes[i] = ShardFailure(
                    labels[i],
                    f"its worker died every time it ran ({allowed + 1} times: "
                    "a crash or running out of memory)",
                )
            except Exception as error:  # raised outside the task: a result that cannot be unpickled
                outcomes[i] = ShardFailure(labels[i], f"{type(error).__name__}: {error}")
            if on_done is not None:
                on_done(i)
            if stop_on_failure and isinstance(outcomes[i], ShardFailure):
                raise ShardError(outcomes[i])
    finally:
        client.cancel([future for future in futures if not future.done()])
    return outcomes


def failures(outcomes: Sequence[Any]) -> list[ShardFailure]:
    """The failed outcomes, in task order."""
    return [outcome for outcome in outcomes if isinstance(outcome, ShardFailure)]


def worker_address() -> str | None:
    """The address of the Dask worker running this code, or None outside a worker."""
    distributed = _dask()
    try:
        return distributed.get_worker().address
    except ValueError:
        return None
