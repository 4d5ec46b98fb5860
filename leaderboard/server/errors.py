"""Errors: JSON naming the field that failed for the API, a page for the browser.

Every API error has the body ``{"error": {"status": 422, "code": "invalid", "field":
"entries.0.returns", "message": "..."}}``. ``field`` is a path into the submitted results file (the
validator's own field names, as ``icl-bench validate`` prints them), a query or path parameter
(``suite``, ``id``, ``limit``), a header (``Authorization``, ``Content-Length``), or ``path`` and
``method`` for a URL or method the API does not have.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from leaderboard.server.templating import render

log = logging.getLogger("icl_bench.server")


class ApiError(Exception):
    """An error answered as JSON (API paths) or as an error page (the pages)."""

    def __init__(
        self, status: int, code: str, field: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{field}: {message}")
        self.status, self.code, self.field, self.message = status, code, field, message
        self.headers = dict(headers or {})


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_response(request: Request, error: ApiError) -> Response:
    if _is_api(request):
        body = {"status": error.status, "code": error.code, "field": error.field, "message": error.message}
        return JSONResponse({"error": body}, error.status, headers=error.headers)
    page = render("error.html", title=f"{error.status}", error=error)
    return Response(page, error.status, headers=error.headers, media_type="text/html; charset=utf-8")


async def _api_error(request: Request, error: ApiError) -> Response:
    return error_response(request, error)


async def _parameter_error(request: Request, error: RequestValidationError) -> Response:
    first = error.errors()[0]
    location = [str(part) for part in first.get("loc", ())]
    # ("query", "limit") -> "limit": the parameter's own name.
    field = ".".join(location[1:]) or (location[0] if location else "request")
    return error_response(request, ApiError(422, "invalid_parameter", field, first.get("msg", "invalid")))


async def _http_error(request: Request, error: HTTPException) -> Response:
    if error.status_code == 405:
        api_error = ApiError(405, "method_not_allowed", "method", f"{request.method} is not allowed here")
    elif error.status_code == 404:
        api_error = ApiError(404, "not_found", "path", f"no such page: {request.url.path}")
    else:
        api_error = ApiError(error.status_code, "http_error", "request", str(error.detail))
    api_error.headers.update(error.headers or {})
    return error_response(request, api_error)


async def _internal_error(request: Request, error: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path, exc_info=error)
    return error_response(request, ApiError(500, "internal", "server", "internal error; it was logged"))


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _parameter_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
