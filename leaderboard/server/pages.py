"""The HTML pages: rendered on the server, readable without JavaScript, every user string escaped.

- ``/``: the suites and how many submissions each holds;
- ``/leaderboard/{suite}``: the suite's table, sorted by any column through links in its header
  (``?sort=iqm&order=desc``), 100 rows a page;
- ``/submissions/{id}``: one submission: its badge, aggregates, per-env score bars with intervals,
  the error-against-context curve of each in-context env, config, versions and hardware;
- ``/suites/{suite}``: the suite's entries, seeds policy and normalization references;
- ``/docs``: the API, read from its OpenAPI description (``/openapi.json``).

Pages carry no script and load only ``/static/style.css``; the app's Content-Security-Policy allows
nothing else, so even an escaping mistake could not run a script.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from leaderboard.protocol import suites
from leaderboard.references import reference_for
from leaderboard.results import ResultsFile
from leaderboard.server import charts, tables
from leaderboard.server.api import known_suite, parse_query, sorted_rows
from leaderboard.server.cache import Body, respond
from leaderboard.server.errors import ApiError
from leaderboard.server.templating import render

router = APIRouter(include_in_schema=False)

_STYLE = resources.files("leaderboard.server").joinpath("static", "style.css").read_bytes()


HTML = "text/html; charset=utf-8"


async def _cached(request: Request, key: tuple, build: Callable[[], bytes]) -> Response:
    body = await request.app.state.cache.get(key, lambda: Body.of(build()))
    return respond(request, body, HTML)


@router.get("/static/style.css")
async def style() -> Response:
    return Response(_STYLE, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


@router.get("/")
async def index(request: Request) -> Response:
    def build() -> bytes:
        counts = request.app.state.store.counts()
        return render("index.html", title="Leaderboards", suites=list(suites().values()), counts=counts)

    return await _cached(request, ("page-index",), build)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _sort_link(column: tables.Column, current: tables.Column, descending: bool) -> str:
    """The header link of ``column``: its own first order, or the other order if it is current."""
    flip = column.id == current.id and descending == column.descending
    order = ("asc" if column.descending else "desc") if flip else ("desc" if column.descending else "asc")
    return f"?sort={column.id}&order={order}"


class LeaderboardPageQuery(BaseModel):
    sort: str = Field("rank", max_length=32)
    order: Literal["asc", "desc"] | None = None
    page: int = Field(1, ge=1, le=10**6)


@router.get("/leaderboard/{suite}")
async def leaderboard_page(request: Request) -> Response:
    # The hottest page: a repeated URL is answered from the cache before any parsing (see api.py).
    cache = request.app.state.cache
    suite = request.path_params["suite"]
    alias = ("page-leaderboard", suite, request.url.query)
    found = await cache.lookup(alias)
    if found is not None:
        return respond(request, found, HTML)
    chosen = known_suite(suite)
    query = parse_query(LeaderboardPageQuery, request)

    def build() -> Body:
        columns, column, descending, rows = sorted_rows(request, chosen, query.sort, query.order)
        pages = max(1, math.ceil(len(rows) / tables.PAGE_SIZE))
        shown = rows[(query.page - 1) * tables.PAGE_SIZE : query.page * tables.PAGE_SIZE]
        return Body.of(
            render(
                "leaderboard.html",
                title=f"{chosen.name} leaderboard",
                suite=chosen,
                columns=columns,
                links={c.id: _sort_link(c, column, descending) for c in columns},
                sort=column,
                descending=descending,
                order="desc" if descending else "asc",
                rows=shown,
                total=len(rows),
                page=query.page,
                pages=pages,
                percent=_percent,
            )
        )

    key = ("page-leaderboard", suite, query.sort, query.order, query.page)
    return respond(request, await cache.get(key, build, alias), HTML)


def _curves(results: ResultsFile) -> list[Any]:
    errors = [
        charts.error_curve(entry.label, entry.errors_by_context)
        for entry in results.entries
        if entry.errors_by_context is not None
    ]
    # The in-context RL trials: the return of each sub-episode (a curve needs two or more; the
    # rooms' returns are never negative, as the chart's axis from 0 assumes).
    learning = [
        charts.error_curve(
            entry.label,
            entry.returns_by_episode,
            x_label="sub-episode",
            y_label="mean return",
            title="mean return of each sub-episode of the trial",
        )
        for entry in results.entries
        if entry.returns_by_episode is not None and len(entry.returns_by_episode) > 1
    ]
    return errors + learning


@router.get("/submissions/{id}")
async def submission_page(request: Request, id: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
    def build() -> bytes:
        try:
            stored = request.app.state.store.submission(id)
        except KeyError:
            raise ApiError(404, "not_found", "id", f"no submission {id}") from None
        results = stored.results
        entries = [
            (e.label, e.normalized_score.value, e.normalized_score.low, e.normalized_score.high)
            for e in results.entries
        ]
        return render(
            "submission.html",
            title=f"submission {stored.id}",
            stored=stored,
            results=results,
            suite_known=results.suite in suites(),
            bars=charts.score_bars(entries),
            curves=_curves(results),
            config=json.dumps(results.agent.config, indent=2, ensure_ascii=False, sort_keys=True),
            hardware=json.dumps(results.hardware, indent=2, ensure_ascii=False, sort_keys=True),
            success=_percent(results.success_rate),
        )

    return await _cached(request, ("page-submission", id), build)


@router.get("/suites/{suite}")
async def suite_page(request: Request, suite: Annotated[str, Path(max_length=64)]) -> Response:
    chosen = known_suite(suite)

    def build() -> bytes:
        return render(
            "suite.html",
            title=f"suite {chosen.name}",
            suite=chosen,
            submissions=request.app.state.store.count(chosen.name),
            references=[reference_for(entry) for entry in chosen.entries],
            kwargs=lambda entry: json.dumps(dict(entry.kwargs), sort_keys=True, ensure_ascii=False),
        )

    return await _cached(request, ("page-suite", suite), build)


@router.get("/docs")
async def api_docs(request: Request) -> Response:
    spec = request.app.openapi()
    operations = [
        (path, method.upper(), operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]
    return Response(render("api_docs.html", title="API", spec=spec, operations=operations), media_type=HTML)
