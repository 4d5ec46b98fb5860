"""The leaderboard server's JSON API on SQLite and on PostgreSQL: submissions validated exactly as
``icl-bench validate`` validates them, idempotent by content, tokens and their rate limit, public
reads, and every error as JSON naming its field."""

from __future__ import annotations

import functools
import json
import time

import pytest
from leaderboard_fixtures import TINY_SUITE, tiny_results_json
from server_helpers import XSS, config_variant, make_server, xss_results

from leaderboard.results import ResultsValidationError, validate_results
from leaderboard.seed_sets import test_set_id
from leaderboard.server import cache
from leaderboard.server.tokens import revoke_token


@pytest.fixture
def server(database):
    return make_server(database)


def _error(response) -> dict:
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["status"] == response.status_code and error["field"] and error["message"]
    return error


def test_a_new_file_is_stored_once_and_a_resubmission_returns_its_id(server):
    first = server.submit(tiny_results_json())
    assert first.status_code == 201, first.text
    assert first.json()["new"] is True
    submission_id = first.json()["id"]
    assert first.headers["location"] == f"/api/v1/submissions/{submission_id}"
    # The same result with another date and wall time is the same submission.
    later = json.loads(tiny_results_json()) | {"created": "2031-01-01T00:00:00+00:00", "wall_time_s": 9.0}
    for again in (tiny_results_json(), later):
        answer = server.submit(again)
        assert (answer.status_code, answer.json()["id"], answer.json()["new"]) == (200, submission_id, False)
    assert server.store.count() == 1
    stored = server.client.get(f"/api/v1/submissions/{submission_id}").json()
    assert stored["submitted_by"] == "tester" and stored["status"] == "self-reported"
    assert validate_results(stored["results"]) == validate_results(tiny_results_json())


def test_an_invalid_file_gets_the_validators_field_and_message_and_is_not_stored(server):
    data = json.loads(tiny_results_json())
    data["aggregates"]["iqm"]["value"] += 0.5
    with pytest.raises(ResultsValidationError) as expected:  # what `icl-bench validate` reports
        validate_results(json.dumps(data))
    answer = server.submit(data)
    assert answer.status_code == 422
    error = _error(answer)
    assert (error["code"], error["field"]) == ("invalid", "aggregates.iqm.value")
    assert f"{error['field']}: {error['message']}" == str(expected.value)
    assert server.store.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [(b"not json", "file"), (b"[1, 2]", "file"), (b'{"format": "csv"}', "format"), (b"\xff\xfe", "file")],
)
def test_a_file_that_is_not_a_results_file_is_unreadable(server, body, field):
    answer = server.submit(body)
    assert answer.status_code == 400
    assert (_error(answer)["code"], _error(answer)["field"]) == ("unreadable", field)
    assert server.store.count() == 0


SECRET = b"tests: the server's test-set secret"


@functools.cache
def tiny_test_results_json(secret: bytes = SECRET) -> str:
    """A valid tiny-suite file on the test seeds of ``secret``."""
    from leaderboard.harness import evaluate

    return evaluate("leaderboard_fixtures:SweepAgent", TINY_SUITE, progress=False, secret=secret).to_json()


def test_test_seed_results_are_refused_by_a_server_without_their_secret(server):
    answer = server.submit(tiny_test_results_json())
    assert answer.status_code == 422
    error = _error(answer)
    assert (error["code"], error["field"]) == ("invalid", "seed_set")
    assert "secret it holds" in error["message"] and test_set_id(SECRET) in error["message"]
    assert server.store.count() == 0


def test_test_seed_results_are_accepted_with_the_secret_and_shown_apart_from_dev(database, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(SECRET)
    server = make_server(database, secret_files=(str(secret_file),))
    test_answer = server.submit(tiny_test_results_json())
    dev_answer = server.submit(tiny_results_json())
    assert (test_answer.status_code, dev_answer.status_code) == (201, 201), test_answer.text
    rows = server.client.get("/api/v1/leaderboard", params={"suite": "tiny-v0"}).json()["rows"]
    by_id = {row["id"]: row["seed_set"] for row in rows}
    assert by_id == {dev_answer.json()["id"]: "dev", test_answer.json()["id"]: test_set_id(SECRET)}
    # Another test set's file names the test set it was scored on; the secret is never shown.
    other = server.submit(tiny_test_results_json(b"tests: another operator's secret"))
    assert (other.status_code, _error(other)["field"]) == (422, "test_set")
    for path in ("/api/v1/suites", "/api/v1/leaderboard?suite=tiny-v0", "/", "/openapi.json"):
        assert SECRET.decode() not in server.client.get(path).text


def test_writes_need_a_live_token_and_reads_do_not(server):
    no_token = server.client.post("/api/v1/submissions", content=tiny_results_json())
    assert no_token.status_code == 401 and no_token.headers["www-authenticate"] == "Bearer"
    assert _error(no_token)["field"] == "Authorization"
    assert server.submit(tiny_results_json(), token="iclb_guessed").status_code == 401
    wrong_scheme = {"Authorization": f"Basic {server.token}"}
    assert server.client.post("/api/v1/submissions", content=b"{}", headers=wrong_scheme).status_code == 401
    revoke_token(server.store, "tester")
    revoked = server.submit(tiny_results_json())
    assert revoked.status_code == 401 and _error(revoked)["field"] == "Authorization"
    assert server.store.count() == 0
    for path in ("/api/v1/suites", "/api/v1/leaderboard?suite=tiny-v0", "/", "/leaderboard/tiny-v0"):
        assert server.client.get(path).status_code == 200, path


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(database):
    server = make_server(database, max_submission_bytes=1000)
    declared = server.submit(tiny_results_json())  # 3.8 kB with a Content-Length
    assert declared.status_code == 413 and _error(declared)["field"] == "Content-Length"

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b" " * 500

    streamed = server.client.post("/api/v1/submissions", content=chunks(), headers=server.auth)
    assert streamed.status_code == 413 and _error(streamed)["field"] == "file"
    assert server.store.count() == 0


def test_each_token_is_rate_limited_including_refused_files(database, monkeypatch):
    server = make_server(database, rate_limit=3, rate_window_s=60.0)
    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    answers = [server.submit(b"junk").status_code for _ in range(3)]
    assert answers == [400, 400, 400]
    limited = server.submit(tiny_results_json())
    assert limited.status_code == 429
    assert _error(limited)["field"] == "Authorization"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    clock[0] += 61  # the next window
    assert server.submit(tiny_results_json()).status_code == 201


def test_leaderboard_rows_sorting_and_paging(server):
    for k in range(3):
        assert server.submit(config_variant(k)).status_code == 201
    assert server.submit(xss_results()).status_code == 201
    board = server.client.get("/api/v1/leaderboard", params={"suite": "tiny-v0"}).json()
    assert board["total"] == 4 and [r["rank"] for r in board["rows"]] == [1, 2, 3, 4]
    assert [c["id"] for c in board["columns"]] == [
        "rank", "agent", "iqm", "success", "envs", "env0", "env1", "submitted",
    ]  # fmt: skip
    row = board["rows"][0]
    stored = server.store.get(row["id"])
    assert row["iqm"] == stored.aggregates.iqm.model_dump()
    assert row["scores"]["Guess"] == stored.entries[1].normalized_score.model_dump()
    assert row["success_rate"] == stored.success_rate and row["envs"] == 2
    by_agent = server.client.get("/api/v1/leaderboard", params={"suite": "tiny-v0", "sort": "agent"}).json()
    labels = [r["label"] for r in by_agent["rows"]]
    assert labels == sorted(labels, key=str.casefold) and XSS in [r["agent"] for r in by_agent["rows"]]
    descending = server.client.get(
        "/api/v1/leaderboard", params={"suite": "tiny-v0", "sort": "agent", "order": "desc"}
    ).json()
    assert [r["label"] for r in descending["rows"]] == labels[::-1]
    page = server.client.get(
        "/api/v1/leaderboard", params={"suite": "tiny-v0", "limit": 2, "offset": 3}
    ).json()
    assert [r["rank"] for r in page["rows"]] == [4] and page["total"] == 4


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ({}, 422, "suite"),
        ({"suite": "nope-v0"}, 404, "suite"),
        ({"suite": "tiny-v0", "sort": "height"}, 422, "sort"),
        ({"suite": "tiny-v0", "order": "up"}, 422, "order"),
        ({"suite": "tiny-v0", "limit": 0}, 422, "limit"),
        ({"suite": "tiny-v0", "limit": "ten"}, 422, "limit"),
        ({"suite": "tiny-v0", "offset": -1}, 422, "offset"),
    ],
)
def test_leaderboard_parameters_are_checked(server, query, status, field):
    answer = server.client.get("/api/v1/leaderboard", params=query)
    assert answer.status_code == status and _error(answer)["field"] == field


def test_a_new_submission_shows_at_once_here_and_soon_on_every_worker(database):
    here = make_server(database)
    other_worker = make_server(database, "other")  # another process's app on the same database
    path = "/api/v1/leaderboard?suite=tiny-v0"
    assert here.client.get(path).json()["total"] == 0
    assert other_worker.client.get(path).json()["total"] == 0
    assert here.submit(tiny_results_json()).status_code == 201
    assert here.client.get(path).json()["total"] == 1
    time.sleep(cache.FRESHNESS_S * 1.5)
    assert other_worker.client.get(path).json()["total"] == 1


def test_suites_and_submissions(server):
    suites = server.client.get("/api/v1/suites").json()["suites"]
    tiny = next(s for s in suites if s["name"] == "tiny-v0")
    assert tiny["content_hash"] == TINY_SUITE.content_hash and tiny["submissions"] == 0
    assert [e["label"] for e in tiny["entries"]] == ["TinyRegression", "Guess"]
    assert tiny["entries"][0]["r_random"] == -8.0 and "core-v0" in {s["name"] for s in suites}
    for path, status, field in [
        ("/api/v1/submissions/1", 404, "id"),
        ("/api/v1/submissions/zero", 422, "id"),
        ("/api/v1/submissions/0", 422, "id"),
        ("/api/v1/nothing", 404, "path"),
    ]:
        answer = server.client.get(path)
        assert answer.status_code == status and _error(answer)["field"] == field, path
    wrong_method = server.client.delete("/api/v1/suites")
    assert wrong_method.status_code == 405 and _error(wrong_method)["field"] == "method"


def test_an_internal_error_is_json_too_and_logged(server, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(server.store, "submission", broken)
    answer = server.client.get("/api/v1/submissions/1")
    assert answer.status_code == 500
    assert _error(answer)["code"] == "internal" and "fire" not in answer.text
    assert "disk on fire" in caplog.text


def test_openapi_description_and_the_docs_page(server):
    spec = server.client.get("/openapi.json").json()
    assert {
        "/api/v1/submissions",
        "/api/v1/leaderboard",
        "/api/v1/submissions/{id}",
        "/api/v1/suites",
    } <= set(spec["paths"])
    post = spec["paths"]["/api/v1/submissions"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ResultsFile"
    }
    assert "EntryResult" in spec["components"]["schemas"] and post["security"] == [{"HTTPBearer": []}]
    parameters = {p["name"] for p in spec["paths"]["/api/v1/leaderboard"]["get"]["parameters"]}
    assert parameters == {"suite", "sort", "order", "limit", "offset"}
    docs = server.client.get("/docs")
    assert docs.status_code == 200 and "POST /api/v1/submissions" in docs.text
    assert "<script" not in docs.text  # no CDN: FastAPI's Swagger page would load scripts from one


def test_every_response_carries_the_security_headers(server):
    for path in ("/", "/api/v1/suites", "/api/v1/nothing", "/static/style.css"):
        headers = server.client.get(path).headers
        assert "script-src" not in headers["content-security-policy"]  # default-src 'none' covers it
        assert headers["content-security-policy"].startswith("default-src 'none'")
        assert headers["x-content-type-options"] == "nosniff"


def test_gzip_only_when_accepted(server):
    server.submit(tiny_results_json())
    raw = server.client.get("/api/v1/leaderboard?suite=tiny-v0", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers and raw.json()["total"] == 1
    refused = server.client.get("/leaderboard/tiny-v0", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
    packed = server.client.get("/api/v1/leaderboard?suite=tiny-v0", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip" and packed.json() == raw.json()


def test_a_database_that_does_not_answer_gets_a_503_that_clients_retry(server, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def locked(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(server.store, "add", locked)
    answer = server.submit(tiny_results_json())
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    assert _error(answer)["field"] == "server"


def test_settings_travel_to_the_workers_through_the_environment(monkeypatch, tmp_path):
    from leaderboard.server.settings import Settings

    settings = Settings(db=str(tmp_path / "x.sqlite"), rate_limit=7)
    for name, value in settings.environment().items():
        monkeypatch.setenv(name, value)
    assert Settings.from_environment() == settings
    monkeypatch.setenv("ICL_BENCH_RATE_LIMIT", "many")
    with pytest.raises(ValueError, match="ICL_BENCH_RATE_LIMIT must be an integer"):
        Settings.from_environment()
    with pytest.raises(ValueError, match="rate_limit must be an integer >= 1"):
        Settings(db="x.sqlite", rate_limit=0)
