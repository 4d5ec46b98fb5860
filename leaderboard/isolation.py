"""Isolated agents: the agent plays in a process of its own and sees only what the protocol shows it.

In-process, an agent shares the interpreter with the env it is scored on: it can find the vector env
through the garbage collector and read the answers it is about to be asked for. An
:class:`IsolatedAgent` builds the agent in a fresh interpreter instead (a child process that imports
this module and nothing of the parent's state) with the same :func:`~leaderboard.loading.load_agent`,
and nothing else is built there. It is an :class:`~leaderboard.agent.Agent` itself, so the harness
plays it with its one loop: each ``reset(env_id, env_kwargs)``, each ``act_batch(obs)`` and, for an
agent that has it, each ``observe(rewards, terminated, truncated)`` becomes a message to the child
over a socket pair, and an answer back.

The traffic is shaped by who is trusted:

- to the child, an observation that is an array or a dict or tuple of arrays (every suite's but
  text) as the arrays' bytes, after their layout (keys, dtypes, shapes) when it changes; anything
  else as a pickle (protocol 5). Messages of 64 KiB or more (contexts, frames) go through a shared
  memory arena, written straight from the arrays' memory;
- from the child, never a pickle, because loading one runs code and the agent could write one: a
  JSON header and, for numeric actions, the raw bytes of the array, read back with a numeric dtype
  and the shape the header announces, within :data:`MAX_ANSWER_BYTES`.

The child starts while the harness builds its first envs (:meth:`IsolatedAgent.ready`), and
each side polls for the other's next message for a millisecond before it sleeps: see
:data:`SPIN_S` for why.

Time limits: each call must be answered within ``step_timeout`` seconds, and the calls of one suite
entry (all its seeds) within ``entry_timeout`` seconds of the agent's time in all. A watchdog thread
kills the child when a limit passes, wherever the parent is blocked (a child that stops reading, or
stops halfway through an answer, cannot hang the evaluation), and the call raises
:class:`AgentTimeout`. An exception in the child raises :class:`AgentProcessError` with the child's
traceback; a child that dies raises it with its exit status. :meth:`IsolatedAgent.close` asks the
child to end, kills it if it does not, and reaps it; an agent never closed is closed when it is
garbage collected, or at exit.

A separate process is not a sandbox: the agent still runs as the same user, with the same files,
network and environment variables (see docs/protocol.md). It needs a POSIX system (``pass_fds``).
"""

from __future__ import annotations

import fcntl
import json
import math
import mmap
import os
import pickle
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np

from icl_envs.checks import check_float
from leaderboard.agent import Agent, AgentError
from leaderboard.loading import load_agent
from leaderboard.protocol import entry_key
from leaderboard.provenance import framework_versions, gpu_name, hardware, package_versions
from leaderboard.seed_sets import SECRET_FILES_ENV

DEFAULT_STEP_TIMEOUT_S = 60.0
DEFAULT_ENTRY_TIMEOUT_S = 3600.0
#: Importing and building the agent in the child (torch, weights) may take longer than a step.
START_TIMEOUT_S = 300.0
#: How long a child asked to close may take before it is killed.
CLOSE_TIMEOUT_S = 5.0
#: Arrays at least this large go out of band; smaller ones are cheaper inside the pickle.
OUT_OF_BAND_BYTES = 64 * 1024
#: The most the parent reads from the child in one message (a header, or an action array).
MAX_ANSWER_BYTES = 256 * 2**20
#: Socket buffers asked for: a batch of contexts or symbols in one piece (frames take a few).
SOCKET_BUFFER_BYTES = 4 * 2**20
READ_BUFFER_BYTES = 64 * 2**10
#: How long a side polls for the other's next message before it sleeps on the socket. Waking a
#: sleeping process on another core cost 100-200 us per message on the project's 2-core VMs (an
#: idle virtual CPU is halted), several times the rest of a step; a step of a batched agent or an
#: in-context env takes less than this. Polling yields the core to any other runnable process.
SPIN_S = 0.001
#: The first part of each message to the child: a pickle, or an observation's arrays.
PICKLED, ARRAYS = b"P", b"A"
BUILDING = "the agent's construction"
#: All the child runs: this module's loop.
CHILD_CODE = "from leaderboard.isolation import serve_child; serve_child()"


class AgentTimeout(AgentError):
    """The agent did not answer within its time limit; its process was killed."""


class AgentProcessError(AgentError):
    """The agent's process raised, died, or sent an answer that is not one."""


# ----------------------------------------------------------------------------------------------
# The parent's side


class IsolatedAgent(Agent):
    """The agent ``reference`` built with ``config`` in a process of its own, behind the Agent interface.

    Construction starts the child and returns while the child imports and builds the agent, so that
    the harness builds its envs meanwhile (:meth:`ready` says whether the agent is built, without
    waiting). The first call waits for the agent, within :data:`START_TIMEOUT_S` of the start; a
    reference or config that ``load_agent`` refuses raises its ``ValueError`` then, as in-process.
    """

    def __init__(
        self,
        reference: str,
        config: Mapping[str, Any] | None = None,
        *,
        step_timeout: float = DEFAULT_STEP_TIMEOUT_S,
        entry_timeout: float = DEFAULT_ENTRY_TIMEOUT_S,
    ) -> None:
        self.reference = reference
        self.step_timeout = _positive_seconds("step_timeout", step_timeout)
        self.entry_timeout = _positive_seconds("entry_timeout", entry_timeout)
        self._process, self._channel = _start_child()
        self._watchdog = _Watchdog(self._process)
        self._close = weakref.finalize(self, _shut_down, self._process, self._channel, self._watchdog)
        self._entry: str | None = None
        self._entry_used = 0.0
        self._suites: tuple[str, ...] | None = None
        self._envs: tuple[str, ...] | None = None
        self._observes = False
        self._built = False
        self._build_error: Exception | None = None
        self._watchdog.arm(START_TIMEOUT_S)  # the start's limit runs from now, not from the first call
        try:
            self._channel.send_pickled(("start", reference, dict(config or {}), list(sys.path)))
        except OSError:  # the child died at once: the first call says how
            pass

    @property
    def suites(self) -> tuple[str, ...] | None:  # type: ignore[override]
        """The suites the agent declares (waits until it is built)."""
        self._await_built()
        return self._suites

    @property
    def envs(self) -> tuple[str, ...] | None:
        """The envs the agent declares (waits until it is built)."""
        self._await_built()
        return self._envs

    def ready(self) -> bool:
        """Whether the agent is built (or its building failed: the next call raises); never waits."""
        waiting = not self._built and self._build_error is None and self._close.alive
        if waiting and self._channel.readable():
            try:
                self._await_built()
            except Exception:  # kept in _build_error: the next call raises it
                pass
        return self._built or self._build_error is not None or not self._close.alive

    def reset(self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> None:
        self._await_built()  # before the entry's clock starts: the start has a limit of its own
        key = entry_key(str(env_id), dict(env_kwargs or {}))
        if key != self._entry:  # a new entry: its time budget starts (its seeds share one)
            self._entry, self._entry_used = key, 0.0
        self._request(("reset", env_id, env_kwargs), "reset", *self._limit())

    def act_batch(self, obs_batch: Any) -> Any:
        self._await_built()
        header, array = self._request(("act", obs_batch), "act_batch", *self._limit())
        if header["kind"] == "other":  # as in-process, a bad action is the harness's to refuse
            raise ValueError(
                f"act_batch returned {header.get('description')!r:.200}: neither numbers nor strings"
            )
        if header["kind"] == "strings":
            return header["values"]
        return array

    def observe(self, rewards: Any, terminated: Any, truncated: Any) -> None:
        """Pass a step's rewards to an agent that reads them; others pay no round trip for them."""
        self._await_built()
        if self._observes:
            message = ("observe", np.asarray(rewards), np.asarray(terminated), np.asarray(truncated))
            self._request(message, "observe", *self._limit())

    def provenance(self, reference: str) -> tuple[dict[str, str], dict[str, Any]]:
        """Versions and hardware as :mod:`leaderboard.provenance` gives them, plus what only the
        child knows: the frameworks the agent loaded (torch) and the GPU it used. The child adds
        keys; it cannot change what this process reports."""
        self._await_built()
        versions, machine = package_versions(reference), hardware()
        limit = self.step_timeout, f"step time limit of {self.step_timeout:g} s (step_timeout)"
        header, _ = self._request(("provenance", reference), "provenance", *limit)
        for name, version in _string_mapping(header.get("versions")).items():
            versions.setdefault(name, version)
        gpu = _string_mapping(header.get("hardware")).get("gpu")
        if gpu is not None:
            machine.setdefault("gpu", gpu)
        return versions, machine

    def close(self) -> None:
        """End the child (asked, then killed) and reap it; safe to call more than once."""
        if not self._built and self._close.alive:  # still building: it would not read the request
            self._process.kill()
        self._close()

    def __enter__(self) -> IsolatedAgent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Calls ------------------------------------------------------------------------------------
    def _limit(self) -> tuple[float, str]:
        """The time this call may take: the step limit, or what is left of the entry's."""
        left = self.entry_timeout - self._entry_used
        if left < self.step_timeout:
            return max(left, 0.0), f"entry time limit of {self.entry_timeout:g} s (entry_timeout)"
        return self.step_timeout, f"step time limit of {self.step_timeout:g} s (step_timeout)"

    def _await_built(self) -> None:
        """Wait for the child's answer to the start (its limit armed since construction)."""
        if self._built:
            return
        if self._build_error is not None:
            raise self._build_error
        try:
            ready, _ = self._request(None, BUILDING, None, f"start time limit of {START_TIMEOUT_S:g} s")
            self._suites = _names(ready.get("suites"))
            self._envs = _names(ready.get("envs"), "envs")
            self._observes = ready.get("observes") is True
        except Exception as error:
            self._build_error = error
            self.close()
            raise
        self._built = True

    def _request(
        self, message: tuple | None, what: str, limit: float | None, limit_name: str
    ) -> tuple[dict[str, Any], np.ndarray | None]:
        """Send ``message`` and return the child's answer within ``limit`` seconds (``None``, ``None``:
        the answer to what was sent before, within the limit armed then)."""
        if not self._close.alive:
            raise AgentProcessError(f"{what}: the agent's process has been closed")
        start = time.monotonic()
        if limit is not None:
            self._watchdog.arm(limit)
        try:
            if message is None:
                pass
            elif message[0] == "act":
                self._channel.send_observation(message[1])
            else:
                self._channel.send_pickled(message)
            header, array = self._channel.receive_answer()
        except (EOFError, OSError) as error:
            lost: BaseException | None = error
        except ValueError as error:  # an answer that is not one: the child cannot be trusted further
            self._process.kill()
            self.close()
            raise AgentProcessError(
                f"the agent's process sent a malformed answer to {what}: {error}"
            ) from None
        else:
            lost = None
        finally:
            self._watchdog.disarm()
            self._entry_used += time.monotonic() - start
        if self._watchdog.fired:
            self.close()
            raise AgentTimeout(f"no answer to {what} within the {limit_name}; the agent's process was killed")
        if lost is not None:
            self.close()
            status = _exit_status(self._process)
            raise AgentProcessError(f"the agent's process ended during {what} ({status})")
        if header["kind"] == "error":
            self.close()
            if what == BUILDING and header.get("type") == "ValueError":
                raise ValueError(str(header.get("message")))  # load_agent's own words, as in-process
            raise AgentProcessError(
                f"{header.get('type')}: {header.get('message')}\n"
                f"Traceback in the agent's process:\n{header.get('traceback', '')}"
            )
        return header, array


def time_limits(step_timeout: Any, entry_timeout: Any) -> tuple[float, float]:
    """``(step_timeout, entry_timeout)`` checked as :class:`IsolatedAgent` checks them: before a pool
    carries them to its workers, so that a bad one fails here and not once per shard."""
    return _positive_seconds("step_timeout", step_timeout), _positive_seconds("entry_timeout", entry_timeout)


def _positive_seconds(name: str, value: Any) -> float:
    seconds = check_float(name, value)
    if seconds <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return seconds


def _names(value: Any, what: str = "suites") -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValueError(f"{what} must be a list of names, got {value!r:.80}")
    return tuple(value)


def _string_mapping(value: Any) -> dict[str, str]:
    """The str -> str items of what the child sent (anything else is dropped)."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _exit_status(process: subprocess.Popen) -> str:
    code = process.returncode
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _start_child() -> tuple[subprocess.Popen, _Channel]:
    """A fresh interpreter that runs :func:`serve_child` and nothing else, and our end of its socket.

    Not ``multiprocessing``'s spawn, which also re-runs the parent's main script in the child (an
    unguarded user script would evaluate again there). The child imports this module along our
    ``sys.path`` and then takes that path as its own, so it finds the modules we find.
    """
    ours, theirs = socket.socketpair()
    arena = _Arena.create()
    fds = (theirs.fileno(),) if arena is None else (theirs.fileno(), arena.fd)
    with theirs:
        path = os.pathsep.join(entry for entry in sys.path if isinstance(entry, str) and entry)
        process = subprocess.Popen(
            [sys.executable, "-c", CHILD_CODE, *map(str, fds)],
            pass_fds=fds,
            stdin=subprocess.DEVNULL,  # the terminal's input is not the agent's
            env=_child_environment(path),
        )
    return process, _Channel(ours, arena)


def _child_environment(path: str) -> dict[str, str]:
    """Ours, with our import path, less the variable that says where a server's secrets are."""
    environment = {name: value for name, value in os.environ.items() if name != SECRET_FILES_ENV}
    return {**environment, "PYTHONPATH": path}


def _shut_down(process: subprocess.Popen, channel: _Channel, watchdog: _Watchdog) -> None:
    """Ask the child to end, kill it if it does not within :data:`CLOSE_TIMEOUT_S`, reap it."""
    watchdog.stop()
    if process.poll() is None:
        try:
            channel.send_pickled(("close",))
            process.wait(CLOSE_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):  # dying already, or deaf
            pass
    process.kill()  # nothing when it has ended
    process.wait()
    channel.close()


class _Watchdog:
    """Kills the process when an armed deadline passes, and records that it did in ``fired``.

    Arming with a later deadline than the one the thread sleeps toward does not wake it (the common
    case: one step after another), so a step costs a lock, not a thread switch.
    """

    def __init__(self, process: subprocess.Popen) -> None:
        self._process = process
        self._deadline: float | None = None
        self._wakes_at: float | None = None  # None: the thread sleeps until notified
        self._stopped = False
        self.fired = False
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._watch, name="agent watchdog", daemon=True)
        self._thread.start()

    def arm(self, seconds: float) -> None:
        with self._condition:
            self._deadline = time.monotonic() + seconds
            if self._wakes_at is None or self._deadline < self._wakes_at:
                self._condition.notify()

    def disarm(self) -> None:
        with self._condition:
            self._deadline = None

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify()
        self._thread.join()

    def _watch(self) -> None:
        with self._condition:
            while not self._stopped:
                self._wakes_at = self._deadline
                if self._deadline is None:
                    self._condition.wait()
                elif self._deadline > time.monotonic():
                    self._condition.wait(self._deadline - time.monotonic())
                else:
                    self.fired = True
                    self._deadline = None
                    self._process.kill()


# ----------------------------------------------------------------------------------------------
# The wire


class _Arena:
    """Shared memory for the large arrays of the observations (a Linux ``memfd``).

    The parent copies each array in once and the child copies it out once, into memory of its own,
    before it acts; through the socket a frame batch went in pieces of the socket's buffer, with a
    switch between the processes for each. The parent only writes here and never reads, and the
    memory is sealed against shrinking, so that a child cannot truncate it under the parent's writes.
    """

    ALIGN = 64

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.size = 0
        self.map: mmap.mmap | None = None
        self._given: np.ndarray | None = None  # the child's copy of the last message

    @classmethod
    def create(cls) -> _Arena | None:
        """A new arena, or ``None`` where there is no sealed memfd (arrays then go by the socket)."""
        if not hasattr(os, "memfd_create") or not hasattr(fcntl, "F_SEAL_SHRINK"):
            return None
        fd = os.memfd_create("icl-bench-observations", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK)
        return cls(fd)

    def _map(self, size: int) -> None:
        if self.map is not None:
            self.map.close()
        self.map, self.size = mmap.mmap(self.fd, size), size

    def write(self, buffers: list[memoryview]) -> bytes:
        """Copy ``buffers`` in (growing the arena if needed); return their layout for :meth:`read`."""
        offsets, end = [], 0
        for buffer in buffers:
            offsets.append(end)
            end += -(-buffer.nbytes // self.ALIGN) * self.ALIGN
        if end > self.size:
            size = max(end, 2 * self.size, 2**20)
            os.ftruncate(self.fd, size)
            self._map(size)
        if buffers:
            with memoryview(self.map) as arena:
                for offset, buffer in zip(offsets, buffers):
                    arena[offset : offset + buffer.nbytes] = buffer
        pairs = [value for offset, buffer in zip(offsets, buffers) for value in (offset, buffer.nbytes)]
        return struct.pack(f"<{1 + len(pairs)}Q", self.size, *pairs)

    def read(self, layout: bytes) -> list[np.ndarray]:
        """The buffers :meth:`write` laid out, as views of one copy (the next message overwrites
        the arena): one copy, not one per array, which cost more than the copying itself.

        numpy copies: its large allocations take huge pages, which made a batch of frames copy
        several times faster than into a ``bytearray``.
        """
        size, *pairs = struct.unpack(f"<{len(layout) // 8}Q", layout)
        if not pairs:
            return []
        if size != self.size:
            self._map(size)
        end = pairs[-2] + pairs[-1]
        shared = np.frombuffer(self.map, dtype=np.uint8, count=end)
        # The last message's memory is refilled when the agent has let go of it (nothing else
        # refers to it, not even a view): the page faults of fresh memory cost more than the copy.
        last = self._given
        if last is not None and last.nbytes >= end and sys.getrefcount(last) == 3:  # _given, last, argument
            copy = last
            np.copyto(copy[:end], shared)
        else:
            copy = shared.copy()
        del shared  # no view of the map may outlive this call: _map closes it
        self._given = copy
        return [copy[offset : offset + nbytes] for offset, nbytes in zip(pairs[::2], pairs[1::2])]

    def close(self) -> None:
        if self.map is not None:
            self.map.close()
        os.close(self.fd)


class _Channel:
    """Messages of byte parts over a stream socket, each written with one ``sendmsg``.

    One system call per message wakes the reader once, with everything there to read: on two busy
    cores a message written in pieces (length, pickle, then each array) cost a process switch per
    piece. A message is a count, the parts' sizes, then the parts. With an :class:`_Arena`, the
    parent's large arrays go through it instead.
    """

    def __init__(self, sock: socket.socket, arena: _Arena | None = None) -> None:
        self.sock = sock
        self.arena = arena
        # Buffered: a message's count, sizes and small parts come in one system call, not one each.
        self._reader = sock.makefile("rb", buffering=READ_BUFFER_BYTES)
        self._sent_layout: tuple | None = None  # the parent's last observation layout
        self._received_layout: _Layout | None = None  # the child's copy of it
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):  # room for a whole batch (the OS may cap it)
            sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER_BYTES)

    def send(self, parts: list[Any]) -> None:
        views = [memoryview(part).cast("B") for part in parts]
        prefix = struct.pack(f"<I{len(views)}Q", len(views), *(view.nbytes for view in views))
        views.insert(0, memoryview(prefix))
        while views:
            sent = self.sock.sendmsg(views)
            while views and sent >= views[0].nbytes:
                sent -= views[0].nbytes
                views.pop(0)
            if views:
                views[0] = views[0][sent:]

    def receive(self, max_parts: int, max_bytes: int, spin: float = 0.0) -> list[memoryview]:
        """The parts of one message, views of one writable buffer; ``ValueError`` past the bounds."""
        if spin > 0:
            self._spin(spin)
        (count,) = struct.unpack("<I", self._read(4))
        if count > max_parts:
            raise ValueError(f"{count} parts in one message")
        sizes = struct.unpack(f"<{count}Q", self._read(8 * count))
        if sum(sizes) > max_bytes:
            raise ValueError(f"a message of {sum(sizes)} bytes (at most {max_bytes})")
        body = memoryview(self._read(sum(sizes)))  # one read for all the parts
        parts, start = [], 0
        for size in sizes:
            parts.append(body[start : start + size])
            start += size
        return parts

    def readable(self) -> bool:
        """Whether a message (or the end of the stream) is there to read."""
        poller = select.poll()  # not select.select, which refuses descriptors past 1023
        poller.register(self.sock, select.POLLIN)
        return bool(poller.poll(0))

    def _spin(self, seconds: float) -> None:
        """Poll for the next message for up to ``seconds`` before blocking on it."""
        end = time.perf_counter() + seconds
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        while not poller.poll(0) and time.perf_counter() < end:
            os.sched_yield()

    def _read(self, size: int) -> bytearray:
        buffer = bytearray(size)
        if self._reader.readinto(buffer) != size:  # it reads until full, or the end of the stream
            raise EOFError("the other end closed the socket")
        return buffer

    def send_pickled(self, message: Any) -> None:
        """A pickle whose numpy arrays of :data:`OUT_OF_BAND_BYTES` or more follow it uncopied."""
        buffers: list[pickle.PickleBuffer] = []

        def out_of_band(buffer: pickle.PickleBuffer) -> bool:
            if buffer.raw().nbytes < OUT_OF_BAND_BYTES:
                return True  # true: keep it in the pickle
            buffers.append(buffer)
            return False

        payload = pickle.dumps(message, protocol=5, buffer_callback=out_of_band)
        self._sent_layout = None  # the pickle may have been an observation of another layout
        self.send([PICKLED, payload, *self._arrays_out([buffer.raw() for buffer in buffers])])

    def send_observation(self, obs: Any) -> None:
        """``("act", obs)``: arrays (one, or a dict or tuple of them) as their bytes and nothing else.

        The layout (the container's keys, each array's dtype and shape) goes once, when it changes,
        and the child keeps it: pickling a batch's few arrays at every step cost more than the
        round trip itself. Anything else (strings, nested containers) is pickled.
        """
        flat = _flatten(obs)
        if flat is None:
            self.send_pickled(("act", obs))
            return
        layout, arrays = flat
        described = b"" if layout == self._sent_layout else pickle.dumps(layout, protocol=5)
        self._sent_layout = layout
        raw = [array.reshape(-1).view(np.uint8) for array in arrays]  # contiguous: views, no copy
        self.send([ARRAYS, described, *self._arrays_out(raw)])

    def _arrays_out(self, buffers: list[Any]) -> list[Any]:
        """The parts that carry ``buffers``: their layout in the arena when they come to
        :data:`OUT_OF_BAND_BYTES` or more, else an empty part and the buffers themselves."""
        if self.arena is None or sum(memoryview(b).nbytes for b in buffers) < OUT_OF_BAND_BYTES:
            return [b"", *buffers]
        return [self.arena.write([memoryview(b).cast("B") for b in buffers])]

    def _arrays_in(self, parts: list[memoryview]) -> list[Any]:
        """The buffers :meth:`_arrays_out` sent, writable and the child's own."""
        if not parts[0]:  # in the message itself
            return parts[1:]
        return self.arena.read(parts[0])

    def receive_command(self) -> tuple:
        """The child reads what the parent sent (the parent is trusted); arrays are writable."""
        tag, payload, *parts = self.receive(max_parts=2**16, max_bytes=2**62, spin=SPIN_S)
        buffers = self._arrays_in(parts)
        if tag == PICKLED:
            return pickle.loads(payload, buffers=buffers)
        if payload:
            self._received_layout = _Layout(pickle.loads(payload))
        return ("act", self._received_layout.build(buffers))

    def send_answer(self, header: dict[str, Any], array: np.ndarray | None = None) -> None:
        parts: list[Any] = [json.dumps(header).encode()]
        if array is not None:
            parts.append(array.reshape(-1).view(np.uint8))  # contiguous: a view, no copy
        self.send(parts)

    def receive_answer(self) -> tuple[dict[str, Any], np.ndarray | None]:
        """The parent reads the child's answer, trusting none of it: ``ValueError`` when malformed."""
        parts = self.receive(max_parts=2, max_bytes=MAX_ANSWER_BYTES, spin=SPIN_S)
        try:
            header = json.loads(bytes(parts[0])) if parts else None
        except (ValueError, UnicodeDecodeError, RecursionError) as error:
            raise ValueError(f"not JSON ({error})") from None
        kinds = {"ready", "done", "error", "provenance", "strings", "array", "other"}
        if not isinstance(header, dict) or header.get("kind") not in kinds:
            raise ValueError(f"unknown answer {header!r:.80}")
        if header["kind"] == "strings":
            values = header.get("values")
            if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
                raise ValueError("a list of strings that is not one")
        if header["kind"] != "array":
            return header, None
        dtype, shape = _array_format(header)
        if len(parts) != 2 or len(parts[1]) != dtype.itemsize * math.prod(shape):
            raise ValueError(f"not the bytes of an array of {dtype} and shape {shape}")
        return header, np.frombuffer(parts[1], dtype=dtype).reshape(shape)

    def close(self) -> None:
        self._reader.close()
        self.sock.close()
        if self.arena is not None:
            self.arena.close()


def _flatten(obs: Any) -> tuple[tuple, list[np.ndarray]] | None:
    """``(layout, arrays)`` of an observation that is a numeric array or a dict or tuple of them
    (C-contiguous, as the envs make them), else ``None``."""
    if type(obs) is dict:
        kind, keys, arrays = "dict", tuple(obs), list(obs.values())
    elif type(obs) is tuple:
        kind, keys, arrays = "tuple", len(obs), list(obs)
    else:
        kind, keys, arrays = "array", None, [obs]
    specs = []
    for array in arrays:
        if type(array) is not np.ndarray or array.dtype.kind not in "biuf" or not array.flags.c_contiguous:
            return None
        specs.append((array.dtype.str, array.shape))
    return (kind, keys, tuple(specs)), arrays


class _Layout:
    """The child's side of :func:`_flatten`: rebuilds an observation from its arrays' bytes."""

    def __init__(self, layout: tuple) -> None:
        self.kind, self.keys, specs = layout
        self.specs = [(np.dtype(dtype), shape) for dtype, shape in specs]

    def build(self, buffers: list[Any]) -> Any:
        arrays = [
            np.frombuffer(buffer, dtype=dtype).reshape(shape)
            for buffer, (dtype, shape) in zip(buffers, self.specs)
        ]
        if self.kind == "dict":
            return dict(zip(self.keys, arrays))
        return tuple(arrays) if self.kind == "tuple" else arrays[0]


def _array_format(header: Mapping[str, Any]) -> tuple[np.dtype, tuple[int, ...]]:
    """A plain numeric dtype (no objects, records or sub-arrays) and a shape."""
    try:
        dtype = np.dtype(str(header.get("dtype")))
    except TypeError:
        raise ValueError(f"dtype {header.get('dtype')!r:.40}") from None
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"dtype {dtype} is not a plain number type")
    shape = header.get("shape")
    if not isinstance(shape, list) or len(shape) > 32 or not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError(f"shape {shape!r:.40}")
    return dtype, tuple(shape)


# ----------------------------------------------------------------------------------------------
# The child's side


def serve_child() -> None:
    """The child's entry point (:data:`CHILD_CODE`): serve the parent on the socket ``argv[1]``
    (and the arena ``argv[2]`` when there is one)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it closes us
    arena = _Arena(int(sys.argv[2])) if len(sys.argv) > 2 else None
    channel = _Channel(socket.socket(fileno=int(sys.argv[1])), arena)
    _, reference, config, path = channel.receive_command()
    sys.path[:] = path
    serve(channel, reference, config)


def serve(channel: _Channel, reference: str, config: dict[str, Any]) -> None:
    """The child's loop: build the agent, then answer reset, act and provenance until told to close."""
    try:
        agent = load_agent(reference, config)
        suites, envs = getattr(agent, "suites", None), getattr(agent, "envs", None)
        channel.send_answer(
            {
                "kind": "ready",
                "suites": None if suites is None else [str(s) for s in suites],
                "envs": None if envs is None else [str(e) for e in envs],
                "observes": callable(getattr(agent, "observe", None)),
            }
        )
    except Exception as error:
        _send_error(channel, error)
        return
    while True:
        try:
            command, *args = channel.receive_command()
        except EOFError:  # the parent is gone
            return
        if command == "close":  # at once: the interpreter's own shutdown cost the parent 50-100 ms
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        try:
            if command == "reset":
                if callable(getattr(agent, "reset", None)):  # duck-typed agents may have no reset
                    agent.reset(*args)
                channel.send_answer({"kind": "done"})
            elif command == "act":
                channel.send_answer(*_encode_actions(agent.act_batch(*args)))
            elif command == "observe":
                agent.observe(*args)
                channel.send_answer({"kind": "done"})
            else:  # provenance: only what this process knows, the frameworks it loaded and its GPU
                gpu = gpu_name()
                hardware_seen = {} if gpu is None else {"gpu": gpu}
                channel.send_answer(
                    {"kind": "provenance", "versions": framework_versions(), "hardware": hardware_seen}
                )
        except Exception as error:
            _send_error(channel, error)
            return
        del args  # the observation: unless the agent keeps it, its memory is refilled next step


def _send_error(channel: _Channel, error: Exception) -> None:
    message = {
        "kind": "error",
        "type": type(error).__name__,
        "message": str(error),
        "traceback": traceback.format_exc(),
    }
    channel.send_answer(message)


def _encode_actions(actions: Any) -> tuple[dict[str, Any], np.ndarray | None]:
    """Actions as the harness will read them: a list of strings, or a numeric array."""
    if isinstance(actions, (list, tuple)) and actions and all(isinstance(a, str) for a in actions):
        return {"kind": "strings", "values": list(actions)}, None
    try:
        array = np.asarray(actions)
    except Exception:  # the harness's check would refuse it too
        return {"kind": "other", "description": f"{type(actions).__name__}"}, None
    if isinstance(actions, np.ndarray) and actions.dtype.kind == "U" and actions.ndim == 1:
        return {"kind": "strings", "values": actions.tolist()}, None  # the harness takes these too
    if array.dtype.kind not in "biuf":
        return {"kind": "other", "description": f"{type(actions).__name__} of {array.dtype}"}, None
    array = np.ascontiguousarray(array)
    return {"kind": "array", "dtype": array.dtype.str, "shape": list(array.shape)}, array
