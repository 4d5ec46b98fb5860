"""Seed sets: the seeds a suite is scored on, public (``dev``) or held out (``test``).

- ``dev``: each entry's published seeds (:mod:`leaderboard.protocol`). Anyone can replay them, so an
  agent can be tuned to them, or even remember their tasks (replay ``reset(seed=s + i)`` in its own
  copy of the env and recognise each task by its first query): a dev score is for development.
- ``test``: as many seeds per entry, derived from a secret with :func:`~leaderboard.protocol.test_seeds`.
  Only whoever holds the secret (the leaderboard's operator) can run a test evaluation or verify its
  file, and an agent cannot have seen its tasks: test scores are the verified leaderboard entries.

A test set is named by its id, ``test-`` and the first 8 hex digits of the secret's SHA-256, which
every test results file records. A new secret is a new test set with a new id (rotation: do it once
test files, whose seeds reveal the set, are published); a file stays verifiable with the secret it
was scored on, and files of different secrets are told apart by their ids.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import replace
from pathlib import Path

from leaderboard.protocol import Suite, SuiteEntry, test_seeds

#: The environment variable naming the secret files of a server (paths joined by ``os.pathsep``):
#: read by the server's workers and by ``icl-bench verify``, and never passed to an isolated agent.
SECRET_FILES_ENV = "ICL_BENCH_SECRET_FILES"
DEV = "dev"
TEST = "test"
#: Shortest secret accepted, in bytes. A test set's id publishes 32 bits of the secret's hash and a
#: published test file its seeds, so a guessable secret could be found by trying candidates.
MIN_SECRET_BYTES = 16
#: Longest secret file read, in bytes (a secret is a key, not a document).
MAX_SECRET_BYTES = 4096
#: What a test set id looks like.
TEST_SET_ID = re.compile(r"test-[0-9a-f]{8}")


class SecretError(ValueError):
    """A secret file that cannot serve: missing, unreadable, empty, too short or too long."""


def test_set_id(secret: bytes) -> str:
    """``test-`` and the first 8 hex digits of the secret's SHA-256: the name of its test set."""
    return "test-" + hashlib.sha256(secret).hexdigest()[:8]


test_set_id.__test__ = False  # a function of the protocol, not a pytest test, despite its name


def seeds_for(suite: Suite, entry: SuiteEntry, secret: bytes | None) -> tuple[int, ...]:
    """The seeds ``entry`` is played on: its dev seeds (``secret`` None), or as many test seeds."""
    return entry.seeds if secret is None else test_seeds(suite, secret, len(entry.seeds))


def with_seed_set(
    suite: Suite, entries: tuple[SuiteEntry, ...], secret: bytes | None
) -> tuple[SuiteEntry, ...]:
    """``entries`` with the seeds of the dev set (unchanged) or of the secret's test set."""
    return tuple(replace(entry, seeds=seeds_for(suite, entry, secret)) for entry in entries)


def read_secret(path: str | os.PathLike) -> bytes:
    """The bytes of a secret file, exactly as stored (a trailing newline is part of the secret);
    raise :class:`SecretError` naming the file and the problem."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            secret = file.read(MAX_SECRET_BYTES + 1)
    except OSError as error:
        raise SecretError(f"secret file {str(path)!r} cannot be read: {error.strerror}") from None
    if not secret:
        raise SecretError(f"secret file {str(path)!r} is empty")
    if len(secret) < MIN_SECRET_BYTES:
        raise SecretError(
            f"secret file {str(path)!r} holds {len(secret)} bytes; a secret has at least {MIN_SECRET_BYTES} "
            "(e.g. head -c 32 /dev/urandom > FILE)"
        )
    if len(secret) > MAX_SECRET_BYTES:
        raise SecretError(f"secret file {str(path)!r} is larger than {MAX_SECRET_BYTES} bytes")
    return secret
