"""Fuzzing POST /api/v1/submissions (hypothesis): mutated results files, broken JSON and hostile
texts never make the server fail (no 500, every refusal names a field), and nothing that fails
validation is ever stored.

Requests go straight to the ASGI app (no socket and no test client), so that the bounded time buys
as many cases as it can: FUZZ_CASES (2,500) take about 30 s on 2 CPU cores, half of it hypothesis
drawing them. ``ICL_BENCH_FUZZ_CASES=20000 pytest tests/test_server_fuzz.py`` runs a longer campaign.
"""

from __future__ import annotations

import asyncio
import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leaderboard_fixtures import tiny_results_json
from sqlalchemy import select
from sqlalchemy.orm import Session

from leaderboard.protocol import sha256_of
from leaderboard.results import validate_results
from leaderboard.server.app import create_app
from leaderboard.server.settings import Settings
from leaderboard.server.tokens import create_token
from leaderboard.store import ResultsStore, Submission

FUZZ_CASES = int(os.environ.get("ICL_BENCH_FUZZ_CASES", "5000"))
BASE = json.loads(tiny_results_json())
BASE_TEXT = json.dumps(BASE)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)
#: Texts that have broken validators before: NaN and huge literals, deep nesting, repeated keys,
#: control characters, lone surrogates, markup.
HOSTILE = [
    BASE_TEXT.replace('"wall_time_s": ', '"wall_time_s": NaN, "x": ', 1),
    BASE_TEXT.replace('"wall_time_s": ', '"wall_time_s": 1' + "0" * 400 + ', "x": ', 1),
    BASE_TEXT.replace('"config": {}', '"config": ' + "[" * 5000 + "]" * 5000, 1),
    BASE_TEXT.replace('"config": {}', '"config": {"a": 1, "a": 2}', 1),
    BASE_TEXT.replace('"config": {}', '"config": {"p": "\\u001b[2J\\ud800"}', 1),
    BASE_TEXT.replace('"reference": "', '"reference": "<script>alert(1)</script>', 1),
    "",
    "null",
    "[]",
    '{"format": "icl-bench-results"}',
]


def _nodes(value, path=()):
    """Every (path, value) in a JSON tree."""
    yield path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from _nodes(item, (*path, key))


NODES = [path for path, _ in _nodes(BASE) if path]
NUMBERS = [
    path for path, value in _nodes(BASE) if isinstance(value, (int, float)) and not isinstance(value, bool)
]


def _set(data, path, value):
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def _get(data, path):
    for key in path:
        data = data[key]
    return data


@st.composite
def submissions(draw) -> bytes:
    """A mutated results file (mostly invalid, sometimes a valid new one), or hostile bytes."""
    kind = draw(st.sampled_from(["replace", "delete", "number", "config", "bytes", "hostile"]))
    data = json.loads(BASE_TEXT)
    if kind == "replace":
        _set(data, draw(st.sampled_from(NODES)), draw(json_values))
    elif kind == "delete":
        path = draw(st.sampled_from(NODES))
        parent = _get(data, path[:-1])
        del parent[path[-1]]
    elif kind == "number":  # a recomputed number off by a little or a lot
        path = draw(st.sampled_from(NUMBERS))
        factor = draw(st.sampled_from([1 + 1e-12, 1 + 1e-6, -1.0, 0.0, 1e300, 2.0]))
        _set(data, path, _get(data, path) * factor + draw(st.sampled_from([0, 1e-12, 1])))
    elif kind == "config":  # a valid new submission, or an inconsistent hash
        config = draw(st.dictionaries(st.text(max_size=6), json_values, max_size=3))
        data["agent"]["config"] = config
        data["agent"]["config_hash"] = sha256_of(config) if draw(st.booleans()) else sha256_of([config])
    if kind == "hostile":
        return draw(st.sampled_from(HOSTILE)).encode("utf-8", "surrogatepass")
    text = json.dumps(data, allow_nan=True).encode("utf-8", "surrogatepass")
    if kind == "bytes":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.binary(max_size=8)) + text[at + draw(st.integers(0, 8)) :]
    return text


class Direct:
    """POSTs straight into the ASGI app, on one event loop."""

    def __init__(self, app) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        return self.loop.run_until_complete(self._call("POST", path, body, headers))

    def get(self, path: str) -> tuple[int, bytes]:
        return self.loop.run_until_complete(self._call("GET", path, b"", {}))

    async def _call(self, method, path, body, headers):
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
        }  # fmt: skip
        sent = []

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            sent.append(message)

        await self.app(scope, receive, send)
        start = next(m for m in sent if m["type"] == "http.response.start")
        return start["status"], b"".join(
            m.get("body", b"") for m in sent if m["type"] == "http.response.body"
        )


def test_no_input_makes_the_server_fail_or_stores_anything_invalid(tmp_path):
    store = ResultsStore(tmp_path / "fuzz.sqlite")
    app = create_app(Settings(db=store.url, rate_limit=10**9), store=store)
    auth = {"Authorization": f"Bearer {create_token(store, 'fuzz')}"}
    client = Direct(app)
    seen = {"cases": 0, "statuses": {}}
    accepted: dict[str, int] = {}

    @settings(
        max_examples=FUZZ_CASES, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )  # fmt: skip
    @given(submissions())
    def case(body: bytes) -> None:
        status, answer = client.post("/api/v1/submissions", body, auth)
        seen["cases"] += 1
        seen["statuses"][status] = seen["statuses"].get(status, 0) + 1
        assert status in (200, 201, 400, 422), (status, answer[:300])
        reply = json.loads(answer)
        if status in (200, 201):
            results = validate_results(body)  # accepted only what the validator accepts
            accepted[results.content_hash] = reply["id"]
        else:
            assert isinstance(reply["error"]["field"], str) and reply["error"]["field"], reply

    case()
    with Session(store.engine) as session:
        stored = session.execute(
            select(Submission.id, Submission.content_hash, Submission.results_json)
        ).all()
    for _, content_hash, results_json in stored:
        assert validate_results(results_json).content_hash == content_hash
    assert {h: i for i, h, _ in stored} == accepted
    print(f"\n{seen['cases']} fuzzed submissions: answers {dict(sorted(seen['statuses'].items()))}")
    assert seen["cases"] >= FUZZ_CASES * 0.9 and seen["statuses"].get(201, 0) >= 1
