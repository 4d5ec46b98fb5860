"""The leaderboard's HTML pages: every user string escaped, sortable without JavaScript, the numbers
of the API, badges, score bars and error curves drawn as inline SVG."""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone

import pytest
from leaderboard_fixtures import tiny_results_json
from server_helpers import XSS, config_variant, make_server, xss_results
from sqlalchemy.orm import Session

from leaderboard.server import charts
from leaderboard.store import Verification


@pytest.fixture
def server(tmp_path):
    return make_server(str(tmp_path / "pages.sqlite"))


def _ids_in_order(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-id="(\d+)">', page)]


def test_user_text_is_escaped_everywhere(server):
    data = xss_results()
    data["agent"]["config"] = {"prompt": "</pre><script>alert(2)</script>", "x": 'a"b'}
    from leaderboard.protocol import sha256_of

    data["agent"]["config_hash"] = sha256_of(data["agent"]["config"])
    submission_id = server.submit(data).json()["id"]
    for path in ("/leaderboard/tiny-v0", f"/submissions/{submission_id}"):
        page = server.client.get(path).text
        assert XSS not in page and html.escape(XSS) in page, path
        assert "<script" not in page and "onerror=alert(1)>" not in page
    submission = server.client.get(f"/submissions/{submission_id}").text
    assert html.escape("</pre><script>alert(2)</script>") in submission
    missing = server.client.get("/leaderboard/%3Cb%3E").text  # an error page quoting the URL
    assert "<b>" not in missing and "&lt;b&gt;" in missing


def test_the_table_sorts_by_any_column_through_links(server):
    for k in range(3):
        server.submit(config_variant(k))
    server.submit(xss_results())
    page = server.client.get("/leaderboard/tiny-v0").text
    links = dict(re.findall(r'<a href="\?sort=([\w]+)&amp;order=(\w+)" data-column', page))
    assert set(links) == {"rank", "agent", "iqm", "success", "envs", "env0", "env1", "submitted"}
    assert links["rank"] == "desc"  # the current column offers the other order
    api = server.client.get("/api/v1/leaderboard", params={"suite": "tiny-v0", "sort": "agent"}).json()
    by_agent = server.client.get("/leaderboard/tiny-v0?sort=agent&order=asc").text
    assert _ids_in_order(by_agent) == [r["id"] for r in api["rows"]]
    reverse = server.client.get("/leaderboard/tiny-v0?sort=agent&order=desc").text
    assert _ids_in_order(reverse) == _ids_in_order(by_agent)[::-1]
    assert 'aria-sort="descending"' in reverse
    bad = server.client.get("/leaderboard/tiny-v0?sort=nope")
    assert (
        bad.status_code == 422 and "sort" in bad.text and bad.headers["content-type"].startswith("text/html")
    )


def test_the_table_shows_the_numbers_of_the_api(server):
    server.submit(tiny_results_json())
    row = server.client.get("/api/v1/leaderboard?suite=tiny-v0").json()["rows"][0]
    page = server.client.get("/leaderboard/tiny-v0").text
    iqm = row["iqm"]
    assert f'{iqm["value"]:.1f} <span class="ci">[{iqm["low"]:.1f}, {iqm["high"]:.1f}]</span>' in page
    assert f">{row['scores']['Guess']['value']:.1f}<" in page
    assert f">{100 * row['success_rate']:.0f}%<" in page and ">2/2<" in page


def test_badges_follow_the_newest_verification(server):
    submission_id = server.submit(tiny_results_json()).json()["id"]
    assert "badge-self-reported" in server.client.get("/leaderboard/tiny-v0").text
    for status in ("flagged", "verified"):
        with Session(server.store.engine) as session, session.begin():
            session.add(
                Verification(
                    submission_id=submission_id,
                    status=status,
                    iqm=90.0,
                    iqm_low=80.0,
                    iqm_high=95.0,
                    results_json="{}",
                    verified_at=datetime.now(timezone.utc),
                )
            )
        server.client.app.state.cache.invalidate()
        assert f'class="badge badge-{status}"' in server.client.get("/leaderboard/tiny-v0").text
        assert f'class="badge badge-{status}"' in server.client.get(f"/submissions/{submission_id}").text
        assert server.client.get(f"/api/v1/submissions/{submission_id}").json()["status"] == status


def test_the_submission_page_draws_scores_and_error_curves(server):
    submission_id = server.submit(tiny_results_json()).json()["id"]
    results = server.store.get(submission_id)
    page = server.client.get(f"/submissions/{submission_id}").text
    for entry in results.entries:
        score = entry.normalized_score
        assert f"{score.value:.1f} [{score.low:.1f}, {score.high:.1f}]" in page  # in the bars' text
    curves = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    assert len(curves) == 2  # the score bars and the one in-context entry's curve
    points = re.search(r'<polyline points="([^"]+)"', curves[1]).group(1).split()
    assert len(points) == len(results.entries[0].errors_by_context)
    assert "TinyRegression: mean squared error against context length" in curves[1]
    assert '<pre class="config">{}</pre>' in page  # the agent's config (none here)


def test_scores_beyond_the_axis_are_drawn_at_its_edge_with_their_value():
    svg = charts.score_bars([("far", -5000.0, -6000.0, -4000.0), ("fine", 50.0, 40.0, 60.0)])
    assert "-5000.0 [-6000.0, -4000.0]" in svg and svg.count("<path") == 1  # one arrow
    assert 'x="130.0"' in svg  # the bar is clipped at the axis's left edge (130 px: the labels)
    assert charts.score_bars([("&<>", 1.0, 0.0, 2.0)]).count("&amp;&lt;&gt;") == 1


def test_index_suite_and_docs_pages(server):
    server.submit(tiny_results_json())
    index = server.client.get("/").text
    assert 'href="/leaderboard/tiny-v0"' in index and 'href="/suites/core-v0"' in index
    suite = server.client.get("/suites/core-v0").text
    assert "LinReg σ=0.5" in suite and "10000, 20000, 30000, 40000, 50000" in suite
    assert "-100" in suite and "-15" in suite  # LinearRegression's random and reference returns
    assert "private <em>test</em> seeds" in suite
    for page in (index, suite, server.client.get("/leaderboard/core-v0").text):
        assert "<script" not in page
    assert "No submissions yet" in server.client.get("/leaderboard/core-v0").text


def test_each_row_shows_its_seed_set_and_its_status(tmp_path):
    """A dev-seed row and a test-seed row of the same agent, side by side, each with its seed set
    and its verified / self-reported / flagged badge."""
    from leaderboard_fixtures import TINY_SUITE

    from leaderboard.harness import evaluate
    from leaderboard.seed_sets import test_set_id

    secret = b"tests: the secret of the seed-set badge test"
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(secret)
    server = make_server(str(tmp_path / "seeds.sqlite"), secret_files=(str(secret_file),))
    dev_id = server.submit(tiny_results_json()).json()["id"]
    test = evaluate("leaderboard_fixtures:SweepAgent", TINY_SUITE, progress=False, secret=secret)
    test_id = server.submit(test.to_json()).json()["id"]
    with Session(server.store.engine) as session, session.begin():
        session.add(
            Verification(
                submission_id=dev_id,
                status="flagged",
                iqm=1.0,
                iqm_low=0.0,
                iqm_high=2.0,
                results_json="{}",
                verified_at=datetime.now(timezone.utc),
            )
        )
    page = server.client.get("/leaderboard/tiny-v0").text
    rows = dict(re.findall(r'<tr data-id="(\d+)">(.*?)</tr>', page, flags=re.S))
    assert 'class="badge badge-flagged"' in rows[str(dev_id)] and ">dev seeds<" in rows[str(dev_id)]
    assert 'class="badge badge-self-reported"' in rows[str(test_id)] and ">test seeds<" in rows[str(test_id)]
    assert f"test set {test_set_id(secret)}" in rows[str(test_id)] and secret.decode() not in page
