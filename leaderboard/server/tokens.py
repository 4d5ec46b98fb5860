"""Submission tokens: created by the operator, shown once, stored as a hash, and rate limited.

A token is ``iclb_`` and 43 URL-safe characters of ``secrets.token_urlsafe(32)`` (256 random bits).
Only its SHA-256 is stored: with that much entropy a fast hash is as safe as a slow one, and a stolen
database yields no usable token. A revoked token stays in the table (its name and submissions are
kept) but no longer authorizes anything.

The rate limit counts every submission attempt of a token (accepted, duplicate or invalid: an
invalid file costs the server as much to check) in fixed windows. The window lives in the token's row
and is advanced by one atomic ``UPDATE ... RETURNING``, which also checks the token: every worker
process of a server shares the same count, and no lock is held beyond that one statement.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leaderboard.store import ResultsStore, Submission, Token
from leaderboard.untrusted import first_control_character

TOKEN_PREFIX = "iclb_"
MAX_NAME_LENGTH = 64


class TokenError(ValueError):
    """A token operation that cannot be done (a name taken or unknown, a bad name)."""


class InvalidToken(Exception):
    """No token, an unknown token or a revoked one."""


class RateLimited(Exception):
    """The token used up its window; ``retry_after`` seconds until the next one."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limit reached; retry in {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class TokenInfo:
    name: str
    created_at: datetime
    revoked_at: datetime | None
    submissions: int


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_name(name: str) -> str:
    if not 1 <= len(name) <= MAX_NAME_LENGTH or name.strip() != name:
        raise TokenError(
            f"name must hold 1 to {MAX_NAME_LENGTH} characters without leading or trailing spaces, got {name!r}"
        )
    found = first_control_character(name)
    if found is not None:
        raise TokenError(f"name: control character {found[1]} at position {found[0]} is not allowed")
    return name


def create_token(store: ResultsStore, name: str) -> str:
    """Store a new token named ``name`` (unique, also among revoked ones); return it, the only time
    it is ever seen."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = Token(
        name=_check_name(name),
        token_hash=hash_token(token),
        created_at=datetime.now(timezone.utc),
        revoked_at=None,
        window_start=0.0,
        window_count=0,
    )
    try:
        with Session(store.engine) as session, session.begin():
            session.add(row)
    except IntegrityError:
        raise TokenError(f"name: a token named {name!r} exists already (names are never reused)") from None
    return token


def revoke_token(store: ResultsStore, name: str) -> None:
    """Revoke the token named ``name``: it authorizes nothing from now on."""
    with Session(store.engine) as session, session.begin():
        row = session.scalar(select(Token).where(Token.name == name))
        if row is None:
            raise TokenError(f"name: no token named {name!r}")
        if row.revoked_at is None:
            row.revoked_at = datetime.now(timezone.utc)


def list_tokens(store: ResultsStore) -> list[TokenInfo]:
    """Every token, oldest first, with the number of submissions it stored."""
    stored = select(func.count(Submission.id)).where(Submission.token_id == Token.id).scalar_subquery()
    query = select(Token.name, Token.created_at, Token.revoked_at, stored).order_by(Token.id)
    with Session(store.engine) as session:
        return [TokenInfo(*row) for row in session.execute(query)]


def authorize(store: ResultsStore, token: str, limit: int, window_s: float, now: float | None = None) -> int:
    """The id of the live token ``token``, counting one submission against its rate limit.

    Raises :class:`InvalidToken` (unknown or revoked) or :class:`RateLimited`.
    """
    now = time.time() if now is None else now
    expired = Token.window_start <= now - window_s
    statement = (
        update(Token)
        .where(Token.token_hash == hash_token(token), Token.revoked_at.is_(None))
        # Both expressions read the row's values from before this update (SQL semantics).
        .values(
            window_start=case((expired, now), else_=Token.window_start),
            window_count=case((expired, 1), else_=Token.window_count + 1),
        )
        .returning(Token.id, Token.window_start, Token.window_count)
    )
    with store.engine.begin() as connection:
        row = connection.execute(statement).one_or_none()
    if row is None:
        raise InvalidToken()
    token_id, window_start, count = row
    if count > limit:
        raise RateLimited(max(window_start + window_s - now, 1.0))
    return token_id
