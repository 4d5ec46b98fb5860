"""The JSON API, version 1 (``/api/v1``); its OpenAPI description is served at ``/openapi.json``.

- ``POST /submissions``: a results file as the request body, with ``Authorization: Bearer TOKEN``.
  The bytes are checked by :func:`leaderboard.results.validate_results`, the very function behind
  ``icl-bench validate``, and stored in one transaction. The store's content hash makes it
  idempotent: the same result again answers ``200`` with the existing id (``201`` when new), so a
  client may resend after any failure without creating a duplicate.
- ``GET /leaderboard?suite=``, ``GET /submissions/{id}``, ``GET /suites``: public reads.

Every error is ``{"error": {"status", "code", "field", "message"}}`` (:mod:`leaderboard.server.errors`).
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from leaderboard.protocol import Suite, get_suite, suites
from leaderboard.references import reference_for
from leaderboard.results import ResultsValidationError, UnreadableResultsError, UnverifiableResultsError
from leaderboard.server import tables
from leaderboard.server.cache import Body, respond
from leaderboard.server.errors import ApiError
from leaderboard.server.tokens import InvalidToken, RateLimited, authorize
from leaderboard.store import Added

router = APIRouter(prefix="/api/v1")
Q = TypeVar("Q", bound=BaseModel)
bearer = HTTPBearer(auto_error=False, description="a token from `icl-bench token create NAME`")

_ERROR = {"description": "an error naming the field: {error: {status, code, field, message}}"}


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def json_response(content: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(content, status, headers=headers, media_type="application/json")


def cached_json(request: Request, body: Body) -> Response:
    return respond(request, body, "application/json")


def known_suite(name: str) -> Suite:
    """The suite named ``name``, or a 404 naming the ``suite`` field."""
    if name not in suites():
        raise ApiError(404, "unknown_suite", "suite", f"no suite {name!r}; known: {', '.join(suites())}")
    return get_suite(name)


def suite_json(suite: Suite, submissions: int) -> dict[str, Any]:
    return {
        "name": suite.name,
        "description": suite.description,
        "actions": suite.actions,
        "content_hash": suite.content_hash,
        "submissions": submissions,
        "entries": [
            {
                **entry.as_dict(),
                "r_random": reference_for(entry).r_random,
                "r_reference": reference_for(entry).r_reference,
            }
            for entry in suite.entries
        ],
    }


@router.get("/suites", summary="Every suite: entries, dev seeds, references, submissions stored")
async def list_suites(request: Request) -> Response:
    state = request.app.state

    def build() -> Body:
        counts = state.store.counts()
        return Body.of(
            json_bytes({"suites": [suite_json(s, counts.get(name, 0)) for name, s in suites().items()]})
        )

    return cached_json(request, await state.cache.get(("api-suites",), build))


def sorted_rows(
    request: Request, suite: Suite, sort: str, order: str | None
) -> tuple[list[tables.Column], tables.Column, bool, list[tables.Ranked]]:
    """(columns, the sort column, descending, rows sorted); a 422 naming ``sort`` if unknown.
    Blocking: it reads the store; called by a cache's build."""
    ranked = tables.rank(request.app.state.store.leaderboard(suite.name))
    columns = tables.columns(suite, [r.row for r in ranked])
    by_id = {column.id: column for column in columns}
    if sort not in by_id:
        raise ApiError(422, "invalid_parameter", "sort", f"must be one of {', '.join(by_id)}; got {sort!r}")
    column = by_id[sort]
    descending = column.descending if order is None else order == "desc"
    return columns, column, descending, tables.sort(ranked, column, descending)


class LeaderboardQuery(BaseModel):
    """The parameters of ``GET /api/v1/leaderboard`` (unknown parameters are ignored)."""

    suite: str = Field(description="suite name, e.g. core-v0", max_length=64)
    sort: str = Field("rank", description="column id: rank, agent, iqm, success, envs, env0.., submitted")
    order: Literal["asc", "desc"] | None = Field(None, description="default: the column's own")
    limit: int = Field(tables.PAGE_SIZE, ge=1, le=tables.MAX_LIMIT, description="rows at most")
    offset: int = Field(0, ge=0, le=10**9, description="rows skipped")


def parse_query(model: type[Q], request: Request) -> Q:
    """The request's query parameters as ``model``; a 422 naming the first parameter that failed."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(map(str, first["loc"])) or "query"
        raise ApiError(422, "invalid_parameter", field, first["msg"]) from None


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The OpenAPI description of ``model``'s fields as query parameters."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "description": field.get("description", ""),
            "schema": field,
        }
        for name, field in schema["properties"].items()
    ]


@router.get(
    "/leaderboard",
    summary="A suite's leaderboard: the newest result of each agent, config and set of envs",
    responses={404: _ERROR, 422: _ERROR},
    openapi_extra={"parameters": query_parameters(LeaderboardQuery)},
)
async def leaderboard(request: Request) -> Response:
    # The hottest read: a repeated query string is answered from the cache before any parsing.
    cache = request.app.state.cache
    alias = ("api-leaderboard", request.url.query)
    found = await cache.lookup(alias)
    if found is not None:
        return cached_json(request, found)
    query = parse_query(LeaderboardQuery, request)
    chosen = known_suite(query.suite)

    def build() -> Body:
        columns, column, descending, rows = sorted_rows(request, chosen, query.sort, query.order)
        return Body.of(
            json_bytes(
                {
                    "suite": chosen.name,
                    "total": len(rows),
                    "sort": column.id,
                    "order": "desc" if descending else "asc",
                    "offset": query.offset,
                    "limit": query.limit,
                    "columns": [{"id": c.id, "label": c.label} for c in columns],
                    "rows": [
                        tables.row_json(r, chosen) for r in rows[query.offset : query.offset + query.limit]
                    ],
                }
            )
        )

    key = ("api-leaderboard", query.suite, query.sort, query.order, query.limit, query.offset)
    return cached_json(request, await cache.get(key, build, alias))


@router.get(
    "/submissions/{id}",
    summary="One submission: its status and its results file as stored",
    responses={404: _ERROR, 422: _ERROR},
)
def submission(request: Request, id: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
    try:
        stored = request.app.state.store.submission(id)
    except KeyError:
        raise ApiError(404, "not_found", "id", f"no submission {id}") from None
    head = json_bytes(
        {
            "id": stored.id,
            "content_hash": stored.content_hash,
            "suite": stored.suite,
            "status": stored.status,
            "submitted_at": stored.submitted_at.isoformat(),
            "submitted_by": stored.submitted_by,
            "url": f"/submissions/{stored.id}",
        }
    )
    # The results file as stored, without parsing it again (it can be megabytes).
    return json_response(head[:-1] + b',"results":' + stored.results_json.encode() + b"}")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "too_large", "Content-Length", f"{declared} bytes; at most {limit} are accepted")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "too_large", "file", f"larger than {limit} bytes")
    return bytes(body)


def _unavailable() -> ApiError:
    """A 503, which ``icl-bench submit`` retries: the database is unreachable or stayed locked."""
    return ApiError(503, "unavailable", "server", "the database is busy; retry", {"Retry-After": "1"})


def _token_id(request: Request, credentials: HTTPAuthorizationCredentials | None) -> int:
    settings = request.app.state.settings
    if credentials is None:
        raise ApiError(
            401,
            "unauthorized",
            "Authorization",
            "send a token: Authorization: Bearer TOKEN",
            {"WWW-Authenticate": "Bearer"},
        )
    try:
        return authorize(
            request.app.state.store, credentials.credentials, settings.rate_limit, settings.rate_window_s
        )
    except OperationalError:
        raise _unavailable() from None
    except InvalidToken:
        raise ApiError(
            401, "unauthorized", "Authorization", "unknown or revoked token", {"WWW-Authenticate": "Bearer"}
        ) from None
    except RateLimited as limited:
        seconds = math.ceil(limited.retry_after)
        raise ApiError(
            429,
            "rate_limited",
            "Authorization",
            f"this token may submit {settings.rate_limit} files per {settings.rate_window_s:.0f} s; retry in {seconds} s",
            {"Retry-After": str(seconds)},
        ) from None


def _store(request: Request, body: bytes, token_id: int) -> Added:
    try:
        return request.app.state.store.add(body, token_id=token_id, secrets=request.app.state.secrets)
    except UnreadableResultsError as error:
        raise ApiError(400, "unreadable", error.field, str(error).split(": ", 1)[-1]) from None
    except UnverifiableResultsError as error:  # a test-seed file of a test set this server has no secret of
        raise ApiError(
            422,
            "invalid",
            error.field,
            "this server accepts test-seed files only of the test sets whose secret it holds; "
            + str(error).split(": ", 1)[-1],
        ) from None
    except ResultsValidationError as error:
        raise ApiError(422, "invalid", error.field, str(error).split(": ", 1)[-1]) from None
    except OperationalError:  # the database is unreachable or locked past its timeout
        raise _unavailable() from None


_RESULTS_FILE_BODY = {
    "required": True,
    "description": "a results file as written by `icl-bench evaluate --out` (JSON, at most 5 MiB)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ResultsFile"}}},
}


@router.post(
    "/submissions",
    summary="Submit a results file (idempotent: the same content answers 200 with the existing id)",
    status_code=201,
    openapi_extra={"requestBody": _RESULTS_FILE_BODY},
    responses={
        200: {"description": "already stored: the existing submission"},
        201: {"description": "stored: the new submission"},
        **{status: _ERROR for status in (400, 401, 413, 422, 429, 503)},
    },
)
async def submit(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Response:
    token_id = await run_in_threadpool(_token_id, request, credentials)
    body = await _read_body(request, request.app.state.settings.max_submission_bytes)
    added = await run_in_threadpool(_store, request, body, token_id)
    if added.new:
        request.app.state.cache.invalidate()  # this worker's pages show it at once
    content = json_bytes(
        {
            "id": added.id,
            "new": added.new,
            "url": f"/submissions/{added.id}",
            "api_url": f"/api/v1/submissions/{added.id}",
        }
    )
    return json_response(content, 201 if added.new else 200, {"Location": f"/api/v1/submissions/{added.id}"})
