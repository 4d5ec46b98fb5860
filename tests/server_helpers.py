"""Helpers of the leaderboard server's tests: an app on a fresh database with a token, in-process.

``TestClient`` calls the ASGI app directly (no socket), so these tests need no network namespace;
the tests that start a real server are in test_server_live.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from fastapi.testclient import TestClient
from leaderboard_fixtures import tiny_results_json, variant

from leaderboard.server.app import create_app
from leaderboard.server.settings import Settings
from leaderboard.server.tokens import create_token
from leaderboard.store import ResultsStore

#: An agent name that would run a script if a page put it into HTML unescaped.
XSS = "<img src=x onerror=alert(1)>"


@dataclass
class Server:
    client: TestClient
    store: ResultsStore
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def submit(self, body: str | bytes | dict, token: str | None = None):
        content = json.dumps(body) if isinstance(body, dict) else body
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return self.client.post("/api/v1/submissions", content=content, headers=headers)


def make_server(db: str, token_name: str = "tester", **settings) -> Server:
    store = ResultsStore(db)
    app = create_app(Settings(db=db, **settings), store=store)
    return Server(TestClient(app, raise_server_exceptions=False), store, create_token(store, token_name))


def xss_results() -> dict:
    """A valid tiny-suite file whose agent reference is an HTML tag."""
    data = json.loads(tiny_results_json())
    data["agent"]["reference"] = XSS
    return data


def config_variant(k: int) -> dict:
    """A distinct valid submission (same returns, another agent config)."""
    return variant(tiny_results_json(), k=k)
