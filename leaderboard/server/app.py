"""The application factory: the store, the cache, the API, the pages and the security headers.

``create_app(settings)`` builds one app; ``app_from_environment()`` is what uvicorn's worker
processes import (``icl-bench serve`` exports the settings first, see :mod:`.settings`). Opening the
store migrates its schema; ``serve`` opens it once before starting the workers, so that an upgrade
happens (and a newer schema is refused) before anything listens, and each worker only checks it.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leaderboard import migrations
from leaderboard.results import ResultsFile
from leaderboard.server import api, errors, pages
from leaderboard.server.cache import VersionedCache
from leaderboard.server.settings import Settings
from leaderboard.store import ResultsStore

#: Sent with every response: pages run no script and load nothing but the site's own stylesheet.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_RAW_HEADERS = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every response (a plain ASGI wrapper:
    Starlette's ``BaseHTTPMiddleware`` would cost more per request than a cached page does)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_RAW_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _openapi(app: FastAPI):
    """FastAPI's OpenAPI description, with the results file's JSON schema (the POST body) added."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema = ResultsFile.model_json_schema(ref_template="#/components/schemas/{model}")
            definitions = schema.pop("$defs", {})
            spec.setdefault("components", {}).setdefault("schemas", {}).update(
                {**definitions, "ResultsFile": schema}
            )
            app.openapi_schema = spec
        return app.openapi_schema

    return openapi


def create_app(settings: Settings, store: ResultsStore | None = None) -> FastAPI:
    secrets = settings.secrets()  # before the store opens: a bad secret file fails the start
    store = store or ResultsStore(settings.db)
    app = FastAPI(
        title="icl-bench leaderboard",
        version="1",
        description=(
            "Submit results files of `icl-bench evaluate` and read the leaderboards. "
            f"Schema revision {migrations.HEAD}."
        ),
        docs_url=None,  # FastAPI's Swagger page loads its scripts from a CDN; /docs is ours
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.secrets = secrets  # test sets whose test-seed files are accepted; never shown
    app.state.cache = VersionedCache(store.version)
    app.include_router(api.router)
    app.include_router(pages.router)
    errors.install(app)
    app.openapi = _openapi(app)
    app.add_middleware(SecurityHeaders)
    return app


def app_from_environment() -> FastAPI:
    """The app of one uvicorn worker, configured by ``icl-bench serve`` through the environment."""
    return create_app(Settings.from_environment())
