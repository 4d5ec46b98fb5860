"""Live servers for the tests and benchmarks: a loopback-only network namespace, a throwaway
PostgreSQL cluster, ``icl-bench serve`` as a child process, and a bounded HTTP load generator.

Nothing here may open a connection beyond loopback:

- :func:`in_loopback_namespace` runs a function in a child process inside a new network namespace
  that has only ``lo`` (``unshare --net``, as root): a server, a browser or a library that tries to
  reach the internet finds no route. The tests that start servers run their scenario through it.
- Servers bind 127.0.0.1; PostgreSQL listens on 127.0.0.1 or on a Unix socket only.
- Load is bounded in requests and in time, and stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Where the tests' helper modules (leaderboard_fixtures) live: on the path of every child.
TESTS = ROOT / "tests"


# ----------------------------------------------------------------------------------------------
# A loopback-only network namespace


def in_loopback_namespace(target: str, timeout: float, **kwargs) -> dict:
    """Call ``target`` (``module:function``) with ``kwargs`` in a child process inside a new
    network namespace with only the loopback interface; return its JSON result.

    Raises AssertionError with the child's traceback and output if it failed or ran out of time.
    """
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        raise AssertionError("a loopback-only network namespace needs root and unshare (util-linux)")
    with tempfile.TemporaryDirectory(prefix="loopback-") as folder:
        arguments, result = Path(folder) / "arguments.json", Path(folder) / "result.json"
        arguments.write_text(json.dumps(kwargs))
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}
        command = [
            "unshare",
            "--net",
            "--",
            "sh",
            "-c",
            'ip link set lo up && exec "$@"',
            "sh",
            sys.executable,
            "-m",
            "benchmarks.live",
            target,
            str(arguments),
            str(result),
        ]
        try:
            finished = subprocess.run(
                command, env=environment, cwd=ROOT, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as expired:
            raise AssertionError(
                f"{target} ran past {timeout} s; output:\n{expired.stdout}\n{expired.stderr}"
            ) from None
        if finished.returncode != 0 or not result.exists():
            raise AssertionError(
                f"{target} failed (exit {finished.returncode}):\n{finished.stdout[-6000:]}\n{finished.stderr[-6000:]}"
            )
        return json.loads(result.read_text())


def _run_target(target: str, arguments: str, result: str) -> None:
    """The child's side of :func:`in_loopback_namespace`."""
    interfaces = sorted(name for _, name in socket.if_nameindex())
    if interfaces != ["lo"]:
        raise SystemExit(f"refusing to run outside a loopback-only namespace; interfaces: {interfaces}")
    module, _, name = target.partition(":")
    function = getattr(importlib.import_module(module), name)
    Path(result).write_text(json.dumps(function(**json.loads(Path(arguments).read_text()))))


# ----------------------------------------------------------------------------------------------
# A throwaway PostgreSQL cluster


def postgres_binaries() -> Path | None:
    """The folder of PostgreSQL's server programs (initdb, pg_ctl), or None if not installed."""
    initdb = shutil.which("initdb")
    if initdb is None:
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        initdb = str(candidates[-1]) if candidates else None
    return None if initdb is None else Path(initdb).resolve().parent


def wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> None:
    """Return once 127.0.0.1:``port`` accepts connections; raise if ``process`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:4]} exited with {process.returncode} before listening")
        with contextlib.suppress(OSError):
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listened on port {port} within {timeout} s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def throwaway_postgres(tcp: bool = False) -> Iterator[str]:
    """Start a PostgreSQL cluster in a temporary folder (fsync off: nothing here must survive a
    power cut), yield its SQLAlchemy URL, stop it and delete it.

    ``tcp``: listen on a free 127.0.0.1 port; else on a Unix socket only (no network at all).
    PostgreSQL refuses to run as root, so the cluster belongs to the ``postgres`` user when the
    caller is root.
    """
    binaries = postgres_binaries()
    if binaries is None:
        raise FileNotFoundError("PostgreSQL's initdb and pg_ctl are not installed")
    folder = Path(tempfile.mkdtemp(prefix="icl-pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    if as_postgres:
        shutil.chown(folder, "postgres")
    port = free_port() if tcp else 5432
    listen = "127.0.0.1" if tcp else ""
    options = f"-c listen_addresses='{listen}' -p {port} -k {folder} -c fsync=off -c full_page_writes=off"
    run = {"cwd": "/", "check": True, "capture_output": True}
    try:
        subprocess.run(
            [*as_postgres, str(binaries / "initdb"), "-D", str(folder / "data"), "-U", user, "-A", "trust"],
            **run,
        )
        subprocess.run(
            [
                *as_postgres,
                str(binaries / "pg_ctl"),
                "-D",
                str(folder / "data"),
                "-l",
                str(folder / "log"),
                "-w",
                "-o",
                options,
                "start",
            ],
            **run,
        )
        host = f"127.0.0.1:{port}" if tcp else f"/postgres?host={folder}&port={port}"
        yield f"postgresql+psycopg://{user}@{host}" + ("/postgres" if tcp else "")
    finally:
        subprocess.run(
            [*as_postgres, str(binaries / "pg_ctl"), "-D", str(folder / "data"), "-m", "immediate", "stop"],
            cwd="/",
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# icl-bench serve as a child process

#: Runs the CLI after importing the tests' fixtures, so that the server knows the tiny suite.
_SERVE = "import leaderboard_fixtures; from leaderboard.cli import app; app()"


@dataclass
class ServerProcess:
    """``icl-bench serve`` on 127.0.0.1 in its own process group (so SIGKILL takes every worker)."""

    db: str
    port: int = field(default_factory=free_port)
    workers: int = 1
    rate_limit: int = 1_000_000
    access_log: bool = True
    log: Path | None = None
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        command = [sys.executable, "-c", _SERVE, "serve", "--db", self.db, "--host", "127.0.0.1"]
        command += [
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--rate-limit",
            str(self.rate_limit),
        ]
        output = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 (kept open by the child)
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}
        self.process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            wait_for_port(self.port, self.process, timeout)
        except RuntimeError:
            self.kill()
            raise
        return self

    def kill(self) -> None:
        """SIGKILL the server and its workers: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def new_token(db: str, name: str) -> str:
    """A submission token named ``name`` in the database ``db`` (as ``icl-bench token create``)."""
    from leaderboard.server.tokens import create_token
    from leaderboard.store import ResultsStore

    store = ResultsStore(db)
    try:
        return create_token(store, name)
    finally:
        store.close()


def get_json(base_url: str, path: str) -> dict:
    with urllib.request.urlopen(base_url + path, timeout=30) as answer:
        return json.loads(answer.read())


# ----------------------------------------------------------------------------------------------
# A bounded HTTP/1.1 load generator (keep-alive connections, one request at a time on each)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


async def _read_answer(reader: asyncio.StreamReader) -> Answer:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Answer(status, headers, body)


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1:port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        try:
            await self.writer.drain()
            answer = await _read_answer(self.reader)
        except BaseException:
            self.close()
            raise
        if answer.headers.get("connection", "").lower() == "close":
            self.close()
        return answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies_s: list[float]
    statuses: dict[int, int]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return 1000 * ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


class _LoadProtocol(asyncio.Protocol):
    """One keep-alive connection sending the same GET again as soon as each answer is complete:
    a protocol, not streams, so that the client spends as little CPU per request as it can (it
    shares the machine with the server it measures)."""

    def __init__(
        self, request: bytes, budget: list[int], deadline: float, result: LoadResult, done: asyncio.Future
    ):
        self.request, self.budget, self.deadline, self.result, self.done = (
            request,
            budget,
            deadline,
            result,
            done,
        )
        self.buffer = bytearray()
        self.needed = -1  # bytes of the current answer (head and body), once its head is read

    def connection_made(self, transport) -> None:
        self.transport = transport
        self._send()

    def _send(self) -> None:
        if self.budget[0] <= 0 or time.perf_counter() >= self.deadline:
            self.transport.close()
            return
        self.budget[0] -= 1
        self.started = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.needed < 0:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self.buffer[:end]).lower()
                length = (
                    head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0]
                    if b"content-length:" in head
                    else b"0"
                )
                self.status = int(head[9:12])
                self.needed = end + 4 + int(length)
            if len(self.buffer) < self.needed:
                return
            del self.buffer[: self.needed]
            self.needed = -1
            self.result.latencies_s.append(time.perf_counter() - self.started)
            self.result.statuses[self.status] = self.result.statuses.get(self.status, 0) + 1
            self._send()

    def connection_lost(self, exc) -> None:
        if not self.done.done():
            self.done.set_result(None)


def get_load(port: int, paths: Sequence[str], clients: int, requests: int, max_seconds: float) -> LoadResult:
    """``requests`` GETs spread over ``clients`` keep-alive connections (connection k asks for
    ``paths[k % len(paths)]``), stopping early after ``max_seconds``. Each request accepts gzip, as
    browsers and HTTP libraries do (the answer is counted, not decompressed)."""

    async def run() -> LoadResult:
        loop = asyncio.get_running_loop()
        result = LoadResult(0, 0.0, [], {})
        budget = [requests]
        start = time.perf_counter()
        deadline = start + max_seconds
        finished = []
        for k in range(clients):
            request = f"GET {paths[k % len(paths)]} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept-Encoding: gzip\r\n\r\n".encode()
            done = loop.create_future()
            protocol = functools.partial(_LoadProtocol, request, budget, deadline, result, done)
            await loop.create_connection(protocol, "127.0.0.1", port)
            finished.append(done)
        await asyncio.wait_for(asyncio.gather(*finished), max_seconds + 30)
        result.seconds = time.perf_counter() - start
        result.requests = len(result.latencies_s)
        return result

    return asyncio.run(run())


def constant_json_app():
    """The anchor of the server benchmark: a bare FastAPI app whose one endpoint returns a constant
    JSON object (the framework's own ceiling in the same uvicorn configuration)."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/constant")
    async def constant() -> dict:
        return {"status": "ok", "answer": 42}

    return app


if __name__ == "__main__":
    try:
        _run_target(*sys.argv[1:4])
    except BaseException:
        traceback.print_exc()
        raise SystemExit(1) from None
