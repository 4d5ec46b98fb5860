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
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from leaderboard_fixtures import tiny_results_json, variant

from benchmarks import server_reliability
from benchmarks.live import (
    ServerProcess,
    get_json,
    in_loopback_namespace,
    new_token,
    postgres_binaries,
    throwaway_postgres,
)
from leaderboard.server.client import submit

CHROMIUM = "/usr/bin/chromium"
XSS = "<img src=x onerror=alert(1)>"


def _post(server: ServerProcess, token: str, body: str) -> int:
    return submit(body.encode(), server.url, token).id


# ----------------------------------------------------------------------------------------------
# The browser


def browser_scenario(out: str) -> dict:
    """Submit three agents (one named with an HTML tag), then read the pages in chromium."""
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="browser-"))
    db = str(folder / "browser.sqlite")
    token = new_token(db, "browser")
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
            r["id"] for r in get_json(server.url, "/api/v1/leaderboard?suite=tiny-v0&sort=agent")["rows"]
        ]
        found["api_rank_order"] = [
            r["id"] for r in get_json(server.url, "/api/v1/leaderboard?suite=tiny-v0")["rows"]
        ]
        found["api_sweep"] = get_json(server.url, f"/api/v1/submissions/{ids['sweep']}")["results"]
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


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_nothing_acknowledged_is_lost_under_load_and_sigkill(backend):
    """1,000 submissions (the issue's 10,000: python -m benchmarks.server_reliability)."""
    if backend == "postgresql" and postgres_binaries() is None:
        pytest.skip("PostgreSQL is not installed")
    found = in_loopback_namespace("benchmarks.server_reliability:scenario", timeout=900, backend=backend)
    print(f"\n[{backend}] {server_reliability.check(found)}")


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
        token = new_token(db, "workers")
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
            reads = [len(get_json(server.url, "/api/v1/suites")["suites"]) for _ in range(10)]
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
