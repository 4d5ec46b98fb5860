"""The server's configuration, read from the environment by every worker process.

``icl-bench serve`` writes its options into these variables before uvicorn starts its workers (a
worker is a fresh process that imports the app by name), so each worker reads the same settings.

Test-seed results files are accepted only by a server configured with the secret of their test set
(``secret_files``: paths of secret files, ``ICL_BENCH_SECRET_FILES`` joined by ``os.pathsep``). Only
the paths travel through the environment; the secrets are read from the files when the app starts
and are never shown (nor kept in these settings).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from leaderboard.seed_sets import SECRET_FILES_ENV
from leaderboard.store import DB_ENV, database_url

RATE_LIMIT_ENV = "ICL_BENCH_RATE_LIMIT"
#: Largest results file accepted by POST /api/v1/submissions (a complete core-v0 file is ~2 MB).
MAX_SUBMISSION_BYTES = 5 * 2**20
#: Submissions (accepted or not) each token may make per window, by default.
DEFAULT_RATE_LIMIT = 60
#: The rate limit's window in seconds.
RATE_WINDOW_S = 60.0


@dataclass(frozen=True)
class Settings:
    """``db``: a path or SQLAlchemy URL; ``rate_limit``: submissions per token per ``rate_window_s``;
    ``secret_files``: secret files of the test sets whose test-seed files the server accepts."""

    db: str
    rate_limit: int = DEFAULT_RATE_LIMIT
    rate_window_s: float = RATE_WINDOW_S
    max_submission_bytes: int = MAX_SUBMISSION_BYTES
    secret_files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.rate_limit, int) or self.rate_limit < 1:
            raise ValueError(f"rate_limit must be an integer >= 1, got {self.rate_limit!r}")
        object.__setattr__(self, "db", database_url(self.db))
        object.__setattr__(self, "secret_files", tuple(str(path) for path in self.secret_files))
        if any(not path or os.pathsep in path for path in self.secret_files):
            raise ValueError(f"secret file paths must be non-empty and hold no {os.pathsep!r}")

    def secrets(self) -> list[bytes]:
        """The secrets of ``secret_files``; :class:`~leaderboard.seed_sets.SecretError` naming a
        file that cannot serve."""
        from leaderboard.seed_sets import read_secret

        return [read_secret(path) for path in self.secret_files]

    @classmethod
    def from_environment(cls) -> Settings:
        """The settings ``icl-bench serve`` exported (the store's default database otherwise)."""
        limit = os.environ.get(RATE_LIMIT_ENV)
        try:
            rate_limit = DEFAULT_RATE_LIMIT if limit is None else int(limit)
        except ValueError:
            raise ValueError(f"{RATE_LIMIT_ENV} must be an integer, got {limit!r}") from None
        paths = os.environ.get(SECRET_FILES_ENV, "")
        secret_files = tuple(path for path in paths.split(os.pathsep) if path)
        return cls(db=database_url(None), rate_limit=rate_limit, secret_files=secret_files)

    def environment(self) -> dict[str, str]:
        """The variables that make :meth:`from_environment` return these settings."""
        return {
            DB_ENV: self.db,
            RATE_LIMIT_ENV: str(self.rate_limit),
            SECRET_FILES_ENV: os.pathsep.join(self.secret_files),
        }
