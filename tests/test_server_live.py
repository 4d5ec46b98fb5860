"""The leaderboard server for real: ``icl-bench serve`` as a process, driven over loopback HTTP by
a browser (Playwright and Debian's chromium) and by 16 concurrent clients, killed with SIGKILL
mid-load and restarted, on SQLite and PostgreSQL.

Every scenario runs in a child process inside a network namespace that has only the loopback
interface (``benchmarks.live.in_loopback_namespace``): the server, the browser and the database can
reach nothing beyond this machine, whatever they try.
"""

from __future__ import annotations

import json
import os
import queue
import random
import shutil
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path

import pytest
from leaderboard_fixtures import tiny_results_json, variant

from benchmarks.live import ServerProcess, in_loopback_namespace, postgres_binaries, throwaway_postgres
from leaderboard.protocol import sha256_of
from leaderboard.server.client import SubmitError, send_with_urllib, submit

CHROMIUM = "/usr/bin/chromium"
XSS = "<img src=x onerror=alert(1)>"

#: The reliability load: valid distinct files, resent duplicates, tampered and unreadable ones.
VALID, DUPLICATES, TAMPERED, UNREADABLE = 700, 150, 100, 50
CLIENTS = 16
#: The server is killed once this share of the load has been acknowledged.
KILL_AT = 0.4


def _token(db: str, name: str) -> str:
    from leaderboard.server.tokens import create_token
    from leaderboard.store import ResultsStore

    store = ResultsStore(db)
    try:
        return create_token(store, name)
    finally:
        store.close()


def _post(server: ServerProcess, token: str, body: str | bytes) -> int:
    return submit(body.encode() if isinstance(body, str) else body, server.url, token).id


def _get(server: ServerProcess, path: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(server.url + path, timeout=30) as answer:
        return json.loads(answer.read())


# ----------------------------------------------------------------------------------------------
# The browser


def browser_scenario(out: str) -> dict:
    """Submit three agents (one named with an HTML tag), then read the pages in chromium."""
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="browser-"))
    db = str(folder / "browser.sqlite")
    token = _token(db, "browser")
    server = ServerProcess(db, log=folder / "server.log").start()
    home = folder / "home"
    browser_environment = {
        **os.environ,
        "HOME": str(home),
        **{f"XDG_{kind}_HOME": str(home / kind.lower()) for kind in ("CONFIG", "CACHE", "DATA")},
    }
    found: dict = {"dialogs": []}
    try:
        sweep = json.loads(tiny_results_json())
        zero = json.loads(tiny_results_json("leaderboard_fixtures:ZeroAgent"))
        named = variant(tiny_results_json("leaderboard_fixtures:ZeroAgent"), note="tagged")
        named["agent"]["reference"] = XSS
        ids = {
            name: _post(server, token, json.dumps(data))
            for name, data in [("sweep", sweep), ("zero", zero), ("xss", named)]
        }
        found["ids"] = ids
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
                env=browser_environment,
            )
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("dialog", lambda dialog: (found["dialogs"].append(dialog.message), dialog.dismiss()))
            page.goto(f"{server.url}/leaderboard/tiny-v0")

            def row_ids() -> list[int]:
                rows = page.locator("#leaderboard tbody tr")
                return [int(i) for i in rows.evaluate_all("rows => rows.map(r => r.dataset.id)")]

            found["rank_order"] = row_ids()
            found["xss_link_text"] = page.locator(f'tr[data-id="{ids["xss"]}"] a.agent-link').inner_text()
            found["images_in_table"] = page.locator("#leaderboard img").count()
            page.screenshot(path=f"{out}/leaderboard.png", full_page=True)
            page.click('a[data-column="agent"]')
            page.wait_for_load_state()
            found["agent_order"] = row_ids()
            found["agent_order_url"] = page.url
            page.click('a[data-column="agent"]')
            page.wait_for_load_state()
            found["agent_order_reversed"] = row_ids()
            page.click(f'tr[data-id="{ids["sweep"]}"] a.agent-link')
            page.wait_for_load_state()
            found["submission_url"] = page.url
            found["submission_iqm"] = page.locator("#iqm").inner_text()
            found["submission_scores"] = page.locator("#scores tbody td.score").all_inner_texts()
            page.screenshot(path=f"{out}/submission.png", full_page=True)
            page.goto(f"{server.url}/submissions/{ids['xss']}")
            found["xss_reference_text"] = page.locator("td.agent-reference").inner_text()
            found["xss_page_images"] = page.locator("main img").count()
            # Readable without JavaScript: the same table with scripts off.
            plain = browser.new_context(java_script_enabled=False).new_page()
            plain.goto(f"{server.url}/leaderboard/tiny-v0")
            found["rows_without_javascript"] = plain.locator("#leaderboard tbody tr").count()
            browser.close()
        found["api_agent_order"] = [
            r["id"] for r in _get(server, "/api/v1/leaderboard?suite=tiny-v0&sort=agent")["rows"]
        ]
        found["api_rank_order"] = [r["id"] for r in _get(server, "/api/v1/leaderboard?suite=tiny-v0")["rows"]]
        found["api_sweep"] = _get(server, f"/api/v1/submissions/{ids['sweep']}")["results"]
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return found


@pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)"
)
def test_the_pages_in_a_real_browser(tmp_path):
    found = in_loopback_namespace("test_server_live:browser_scenario", timeout=240, out=str(tmp_path))
    ids = found["ids"]
    assert found["dialogs"] == []  # no script ran
    assert found["xss_link_text"] == XSS + ":(note=tagged)" and found["images_in_table"] == 0
    assert found["xss_reference_text"] == XSS and found["xss_page_images"] == 0
    assert found["rank_order"] == found["api_rank_order"] and found["rank_order"][0] == ids["sweep"]
    assert found["agent_order"] == found["api_agent_order"] and found["agent_order"] != found["rank_order"]
    assert "sort=agent" in found["agent_order_url"]
    assert found["agent_order_reversed"] == found["agent_order"][::-1]
    assert found["submission_url"].endswith(f"/submissions/{ids['sweep']}")
    iqm = found["api_sweep"]["aggregates"]["iqm"]
    assert found["submission_iqm"] == f"{iqm['value']:.1f} [{iqm['low']:.1f}, {iqm['high']:.1f}]"
    assert found["submission_scores"] == [
        f"{s['value']:.1f} [{s['low']:.1f}, {s['high']:.1f}]"
        for s in (e["normalized_score"] for e in found["api_sweep"]["entries"])
    ]
    assert found["rows_without_javascript"] == 3
    for name in ("leaderboard.png", "submission.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------------------------
# Reliability: bounded concurrent load, a SIGKILL mid-load, every acknowledged submission kept


def _workload(seed: int = 0) -> list[dict]:
    """The submissions, shuffled: each with its body and what the server must answer."""
    base = tiny_results_json()
    items = []
    valid = []
    for k in range(VALID):
        data = variant(base, k=k)
        valid.append(data)
        items.append({"kind": "valid", "key": k, "body": json.dumps(data)})
    rng = random.Random(seed)
    for k in rng.sample(range(VALID), DUPLICATES):  # the same content: another date, wall time, layout
        data = dict(valid[k], created="2031-01-01T00:00:00+00:00", wall_time_s=rng.random())
        items.append({"kind": "duplicate", "key": k, "body": json.dumps(data, indent=2)})
    for k in range(TAMPERED):
        data = variant(base, tampered=k)
        if k % 2:
            data["entries"][1]["returns"][0][0] = 0.0  # a return changed, the scores not recomputed
            field = "entries.1.mean_return"
        else:
            data["agent"]["config_hash"] = sha256_of({"other": k})
            field = "agent.config_hash"
        items.append({"kind": "tampered", "field": field, "body": json.dumps(data)})
    for k in range(UNREADABLE):
        items.append({"kind": "unreadable", "field": "file", "body": base[: 100 + k]})  # cut short
    rng.shuffle(items)
    return items


def _integrity(db: str) -> dict:
    """The database's own check, and the store's: every row valid and its content hash right."""
    import sqlalchemy as sa

    from leaderboard.results import validate_results
    from leaderboard.store import EntryScore, ResultsStore, Submission

    store = ResultsStore(db)
    problems = []
    with store.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            problems += [
                row[0] for row in connection.exec_driver_sql("PRAGMA integrity_check") if row[0] != "ok"
            ]
            problems += [str(row) for row in connection.exec_driver_sql("PRAGMA foreign_key_check")]
        else:
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS amcheck")
            indexes = (
                connection.exec_driver_sql(
                    "SELECT c.oid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE a.amname = 'btree' AND n.nspname = 'public'"
                )
                .scalars()
                .all()
            )
            for index in indexes:  # raises on a corrupt index
                connection.execute(sa.text("SELECT bt_index_check(:index, true)"), {"index": index})
            connection.commit()
        rows = connection.execute(
            sa.select(Submission.id, Submission.content_hash, Submission.results_json)
        ).all()
        entries = dict(
            connection.execute(
                sa.select(EntryScore.submission_id, sa.func.count()).group_by(EntryScore.submission_id)
            ).all()
        )
    for submission_id, content_hash, stored in rows:
        results = validate_results(stored)
        if results.content_hash != content_hash or entries.get(submission_id) != len(results.entries):
            problems.append(f"submission {submission_id} does not match its columns")
    store.close()
    return {
        "problems": problems,
        "hashes": {content_hash: submission_id for submission_id, content_hash, _ in rows},
    }


def reliability_scenario(backend: str) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="reliability-"))
    database = (
        throwaway_postgres() if backend == "postgresql" else nullcontext(str(folder / "reliability.sqlite"))
    )
    with database as db:
        token = _token(db, "load")
        server = ServerProcess(db, log=folder / "server.log").start()
        items = _workload()
        work: queue.Queue = queue.Queue()
        for index in range(len(items)):
            work.put(index)
        answers: list = [None] * len(items)
        acknowledged = [0]
        lock = threading.Lock()
        killed = threading.Event()
        restarted = threading.Event()

        def client() -> None:
            while True:
                try:
                    index = work.get_nowait()
                except queue.Empty:
                    return
                # The CLI's own retries: short waits so that the restart is found quickly.
                try:
                    outcome = submit(
                        items[index]["body"].encode(),
                        server.url,
                        token,
                        retries=60,
                        send=send_with_urllib,
                        sleep=lambda seconds: time.sleep(min(seconds, 0.5)),
                    )
                    answers[index] = {"id": outcome.id, "new": outcome.new, "attempts": outcome.attempts}
                    with lock:
                        acknowledged[0] += 1
                except SubmitError as error:
                    answers[index] = {"status": error.status, "field": error.field}

        def killer() -> None:
            while acknowledged[0] < KILL_AT * len(items):
                time.sleep(0.01)
            server.kill()  # SIGKILL to the whole process group, mid-load
            killed.set()
            time.sleep(0.5)
            server.start()  # same port, same database
            restarted.set()

        start = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        chaos = threading.Thread(target=killer, daemon=True)
        chaos.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        seconds = time.perf_counter() - start
        chaos.join(timeout=60)
        assert restarted.is_set(), "the server was not killed and restarted during the load"
        listed = _get(server, "/api/v1/leaderboard?suite=tiny-v0&limit=1000")["total"]
        server.stop()
        checked = _integrity(db)
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "items": [{k: v for k, v in item.items() if k != "body"} for item in items],
        "answers": answers,
        "seconds": seconds,
        "listed": listed,
        "integrity": checked["problems"],
        "stored": checked["hashes"],
    }


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_nothing_acknowledged_is_lost_under_load_and_sigkill(backend):
    if backend == "postgresql" and postgres_binaries() is None:
        pytest.skip("PostgreSQL is not installed")
    found = in_loopback_namespace("test_server_live:reliability_scenario", timeout=900, backend=backend)
    items, answers, stored = found["items"], found["answers"], found["stored"]
    assert found["integrity"] == []
    ids_by_key: dict[int, set[int]] = {}
    for item, answer in zip(items, answers):
        assert answer is not None, item
        if item["kind"] in ("valid", "duplicate"):
            assert "id" in answer, (item, answer)  # acknowledged, after retries if need be
            ids_by_key.setdefault(item["key"], set()).add(answer["id"])
        else:
            status = 422 if item["kind"] == "tampered" else 400
            assert (answer["status"], answer["field"]) == (status, item["field"]), (item, answer)
    # Every valid file stored exactly once: one id per content, one row per id, nothing else stored.
    assert all(len(ids) == 1 for ids in ids_by_key.values())
    acknowledged = {ids.pop() for ids in ids_by_key.values()}
    assert len(acknowledged) == VALID and set(stored.values()) == acknowledged
    assert len(stored) == VALID == found["listed"]
    retried = sum(1 for a in answers if a.get("attempts", 1) > 1)
    print(
        f"\n[{backend}] {len(items)} submissions from {CLIENTS} clients in {found['seconds']:.1f} s, "
        f"{retried} acknowledged after a retry (the SIGKILL at {KILL_AT:.0%})"
    )


# ----------------------------------------------------------------------------------------------
# Several workers: one rate limit between them (the window lives in the database)

RATE_LIMIT = 10
ATTEMPTS = 30


def workers_scenario() -> dict:
    import urllib.error
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    folder = Path(tempfile.mkdtemp(prefix="workers-"))
    with throwaway_postgres() as db:
        token = _token(db, "workers")
        server = ServerProcess(db, workers=2, rate_limit=RATE_LIMIT, log=folder / "server.log").start()

        def attempt(_) -> int:
            request = urllib.request.Request(
                server.url + "/api/v1/submissions",
                data=b"junk",
                method="POST",
                headers={"Authorization": f"Bearer {token}"},
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as answer:
                    return answer.status
            except urllib.error.HTTPError as error:
                return error.code

        try:
            time.sleep(2)  # both workers up (the port answers as soon as the first one is)
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(attempt, range(ATTEMPTS)))
            reads = [len(_get(server, "/api/v1/suites")["suites"]) for _ in range(10)]
        finally:
            server.stop()
    log = (folder / "server.log").read_text()
    shutil.rmtree(folder, ignore_errors=True)
    return {"statuses": statuses, "reads": reads, "workers_started": log.count("Started server process")}


@pytest.mark.skipif(postgres_binaries() is None, reason="PostgreSQL is not installed")
def test_workers_share_one_rate_limit_through_the_database():
    found = in_loopback_namespace("test_server_live:workers_scenario", timeout=180)
    assert found["workers_started"] == 2
    assert sorted(found["statuses"]) == [400] * RATE_LIMIT + [429] * (ATTEMPTS - RATE_LIMIT)
    assert len(set(found["reads"])) == 1 and found["reads"][0] >= 3
