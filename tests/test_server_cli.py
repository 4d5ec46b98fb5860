"""``icl-bench token`` and ``icl-bench submit``: tokens shown once and stored hashed; submissions
retried after any failure that leaves the outcome unknown, never stored twice."""

from __future__ import annotations

import json

import pytest
from leaderboard_fixtures import tiny_results_json
from server_helpers import make_server
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from benchmarks.live import free_port
from leaderboard.cli import app
from leaderboard.server.client import SubmitError, submit
from leaderboard.server.tokens import hash_token
from leaderboard.store import ResultsStore, Token

runner = CliRunner()


def _token_command(*arguments: str, db: str):
    return runner.invoke(app, ["token", *arguments, "--db", db])


def test_a_token_is_shown_once_stored_hashed_listed_and_revoked(tmp_path):
    db = str(tmp_path / "tokens.sqlite")
    created = _token_command("create", "alice <a@b.c>", db=db)
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    assert token.startswith("iclb_") and len(token) == 5 + 43
    with Session(ResultsStore(db).engine) as session:
        stored = session.scalars(select(Token)).one()
    assert stored.token_hash == hash_token(token) and token not in stored.token_hash
    server = make_server(db, "bob")
    assert server.submit(tiny_results_json(), token=token).status_code == 201
    listed = _token_command("list", db=db)
    assert (
        "alice <a@b.c>" in listed.output
        and token not in listed.output
        and stored.token_hash not in listed.output
    )
    assert "│ 1" in listed.output.replace("  ", " ")  # one submission by alice
    assert _token_command("create", "alice <a@b.c>", db=db).exit_code == 1  # names are never reused
    assert _token_command("create", "evil\x1b[2J", db=db).exit_code == 1
    assert _token_command("revoke", "nobody", db=db).exit_code == 1
    assert _token_command("revoke", "alice <a@b.c>", db=db).exit_code == 0
    assert (
        server.submit(json.loads(tiny_results_json()) | {"wall_time_s": 1.0}, token=token).status_code == 401
    )
    assert "20" in _token_command("list", db=db).output  # the revocation date


class Flaky:
    """A transport to the in-process server that fails as told: ``refuse`` attempts get no
    connection, ``lose`` attempts reach the server but lose its answer, then ``statuses`` are
    answered instead of the server's own answer (429 with Retry-After 7, 503, ...)."""

    def __init__(self, server, refuse: int = 0, lose: int = 0, statuses: tuple[int, ...] = ()):
        self.server, self.refuse, self.lose, self.statuses = server, refuse, lose, list(statuses)
        self.attempts = 0

    def __call__(self, url, body, headers, timeout):
        self.attempts += 1
        assert url.endswith("/api/v1/submissions") and headers["Authorization"].startswith("Bearer ")
        if self.refuse:
            self.refuse -= 1
            raise ConnectionRefusedError(111, "Connection refused")
        if self.statuses:
            status = self.statuses.pop(0)
            error = {"error": {"status": status, "code": "x", "field": "server", "message": "busy"}}
            return status, {"Retry-After": "7"}, json.dumps(error).encode()
        answer = self.server.client.post("/api/v1/submissions", content=body, headers=headers)
        if self.lose:
            self.lose -= 1
            raise TimeoutError("timed out")  # stored, but the answer never arrived
        return answer.status_code, dict(answer.headers), answer.content


@pytest.mark.parametrize(
    ("failures", "attempts", "waits"),
    [
        ({"refuse": 2}, 3, [1.0, 2.0]),
        ({"lose": 2}, 3, [1.0, 2.0]),  # stored by the first attempt: the retries find it
        ({"statuses": (429, 503)}, 3, [7.0, 7.0]),
    ],
)
def test_retries_after_unknown_outcomes_never_store_twice(tmp_path, failures, attempts, waits):
    server = make_server(str(tmp_path / "retries.sqlite"))
    transport, slept = Flaky(server, **failures), []
    outcome = submit(
        tiny_results_json().encode(),
        "http://leaderboard.test/",
        server.token,
        send=transport,
        sleep=slept.append,
    )
    assert (transport.attempts, outcome.attempts, slept) == (attempts, attempts, waits)
    assert server.store.count() == 1 and outcome.id == 1
    assert outcome.url == "http://leaderboard.test/submissions/1"


def test_a_refusal_is_final_and_names_the_field(tmp_path):
    server = make_server(str(tmp_path / "refused.sqlite"))
    data = json.loads(tiny_results_json())
    data["entries"][0]["returns"][0][0] += 1.0
    transport = Flaky(server)
    with pytest.raises(SubmitError) as refused:
        submit(json.dumps(data).encode(), "http://x", server.token, send=transport, sleep=pytest.fail)
    assert transport.attempts == 1 and refused.value.status == 422
    assert refused.value.field.startswith("entries.0.")
    with pytest.raises(SubmitError) as unauthorized:
        submit(tiny_results_json().encode(), "http://x", "iclb_wrong", send=Flaky(server), sleep=pytest.fail)
    assert (unauthorized.value.status, unauthorized.value.field) == (401, "Authorization")


def test_giving_up_reports_the_last_problem(tmp_path):
    server = make_server(str(tmp_path / "down.sqlite"))
    slept = []
    with pytest.raises(SubmitError, match="gave up after 4 attempts; last: no answer") as down:
        submit(b"{}", "http://x", server.token, retries=3, send=Flaky(server, refuse=10), sleep=slept.append)
    assert down.value.status is None and slept == [1.0, 2.0, 4.0]


def test_the_submit_command_checks_the_file_first(tmp_path):
    path = tmp_path / "results.json"
    data = json.loads(tiny_results_json())
    data["aggregates"]["iqm"]["value"] = 1.0
    path.write_text(json.dumps(data))
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there (loopback only)
    arguments = ["submit", str(path), "--server", url, "--token", "iclb_not_printed", "--retries", "0"]
    invalid = runner.invoke(app, arguments)
    assert invalid.exit_code == 1 and "invalid: aggregates.iqm.value" in invalid.output
    path.write_text("[]")
    assert runner.invoke(app, arguments).exit_code == 2
    path.write_text(tiny_results_json())
    unreachable = runner.invoke(app, arguments)
    assert unreachable.exit_code == 3 and "gave up after 1 attempts" in unreachable.output
    assert "iclb_not_printed" not in invalid.output + unreachable.output


def test_serve_refuses_an_unusable_secret_file_before_listening(tmp_path):
    db = str(tmp_path / "board.sqlite")
    result = runner.invoke(app, ["serve", "--db", db, "--secret-file", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "cannot be read" in " ".join(result.output.split())


def test_the_workers_get_secret_file_paths_never_the_secrets(tmp_path, monkeypatch):
    from leaderboard.server.settings import Settings

    secret = b"tests: a secret the environment must not carry"
    path = tmp_path / "secret"
    path.write_bytes(secret)
    environment = Settings(db=str(tmp_path / "board.sqlite"), secret_files=(str(path),)).environment()
    assert not any(secret.decode() in value for value in environment.values())
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert Settings.from_environment().secrets() == [secret]
