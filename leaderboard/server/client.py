"""``icl-bench submit``: send a results file to a leaderboard server, with retries that are always safe.

The server identifies a submission by its content hash and answers a resubmission with the id it
already has (200 instead of 201), so sending the same bytes again can never store a second copy. A
retry is therefore made after anything that leaves the outcome unknown or transient: no connection,
a timeout or a dropped connection (the file may or may not have been stored), 429 (after the
``Retry-After`` the server sent), 502, 503 and 504. Any other answer is final: 2xx is success, and a
4xx names the field that failed.

Standard library only (``urllib``): a machine that submits results needs no web framework.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPException

#: Answers after which the same request is sent again.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Longest wait between two attempts, whatever the server asks for.
MAX_WAIT_S = 60.0

#: send(url, body, headers, timeout) -> (status, headers, body); raises OSError or HTTPException
#: when no answer came.
Send = Callable[[str, bytes, dict[str, str], float], tuple[int, dict[str, str], bytes]]


@dataclass(frozen=True)
class Submitted:
    """The server's answer: the submission's id, whether it is new, and its page."""

    id: int
    new: bool
    url: str
    attempts: int


class SubmitError(Exception):
    """The server refused the file (``status`` 4xx, ``field`` names what failed) or could not be
    reached in ``retries`` attempts (``status`` None)."""

    def __init__(self, message: str, status: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.field = status, field


def send_with_urllib(url: str, body: bytes, headers: dict[str, str], timeout: float):
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:  # an answer, with an error status
        with error:
            return error.code, dict(error.headers), error.read()


def _wait(attempt: int, headers: dict[str, str]) -> float:
    """Seconds before the next attempt: the server's ``Retry-After``, else 1, 2, 4, ... seconds."""
    asked = {k.lower(): v for k, v in headers.items()}.get("retry-after", "")
    try:
        seconds = float(asked)
    except ValueError:
        seconds = 2.0**attempt
    return min(max(seconds, 0.0), MAX_WAIT_S)


def _error_of(status: int, body: bytes) -> SubmitError:
    try:
        error = json.loads(body)["error"]
        return SubmitError(f"{error['field']}: {error['message']}", status, error["field"])
    except (ValueError, KeyError, TypeError):
        return SubmitError(f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}", status)


def submit(
    body: bytes,
    server: str,
    token: str,
    *,
    retries: int = 5,
    timeout: float = 60.0,
    send: Send = send_with_urllib,
    sleep: Callable[[float], None] = time.sleep,
) -> Submitted:
    """POST ``body`` (a results file's bytes) to ``server``; retry up to ``retries`` more times."""
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    base = server.rstrip("/")
    url = f"{base}/api/v1/submissions"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    problem = "no attempt made"
    for attempt in range(retries + 1):
        try:
            status, answer_headers, answer = send(url, body, headers, timeout)
        except (OSError, HTTPException) as error:  # refused, reset, timed out: outcome unknown
            problem, answer_headers = f"no answer from {base}: {error}", {}
        else:
            if status in (200, 201):
                data = json.loads(answer)
                return Submitted(data["id"], data["new"], f"{base}{data['url']}", attempt + 1)
            if status not in RETRY_STATUSES:
                raise _error_of(status, answer)
            problem = str(_error_of(status, answer))
        if attempt < retries:
            sleep(_wait(attempt, answer_headers))
    raise SubmitError(f"gave up after {retries + 1} attempts; last: {problem}")
