"""Reliability of the leaderboard server under bounded loopback load: valid, duplicate, tampered and
unreadable submissions from 16 concurrent clients, the server killed with SIGKILL mid-load and
restarted on the same database; then every acknowledged submission must be stored exactly once,
every bad one refused with its reason, and the database must pass its integrity check.

``tests/test_server_live.py`` runs it at 1,000 submissions in CI; this script runs the full 10,000 on
SQLite and PostgreSQL and prints the figures quoted in docs/server.md::

    python -m benchmarks.server_reliability            # as root: it needs a network namespace
"""

from __future__ import annotations

import json
import queue
import random
import shutil
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path

from benchmarks.live import ServerProcess, get_json, in_loopback_namespace, new_token, throwaway_postgres

#: Per 1,000 submissions: valid distinct files, resent duplicates, tampered and unreadable ones.
VALID, DUPLICATES, TAMPERED, UNREADABLE = 700, 150, 100, 50
CLIENTS = 16
#: The server is killed once this share of the load has been acknowledged.
KILL_AT = 0.4


def _workload(scale: int, seed: int = 0) -> list[dict]:
    """``scale`` thousand submissions, shuffled: each with its body and what the server must answer."""
    from leaderboard_fixtures import tiny_results_json, variant

    from leaderboard.protocol import sha256_of

    base = tiny_results_json()
    items = []
    valid = []
    for k in range(VALID * scale):
        data = variant(base, k=k)
        valid.append(data)
        items.append({"kind": "valid", "key": k, "body": json.dumps(data)})
    rng = random.Random(seed)
    for k in rng.sample(
        range(VALID * scale), DUPLICATES * scale
    ):  # the same content: another date, wall time, layout
        data = dict(valid[k], created="2031-01-01T00:00:00+00:00", wall_time_s=rng.random())
        items.append({"kind": "duplicate", "key": k, "body": json.dumps(data, indent=2)})
    for k in range(TAMPERED * scale):
        data = variant(base, tampered=k)
        if k % 2:
            data["entries"][1]["returns"][0][0] = 0.0  # a return changed, the scores not recomputed
            field = "entries.1.mean_return"
        else:
            data["agent"]["config_hash"] = sha256_of({"other": k})
            field = "agent.config_hash"
        items.append({"kind": "tampered", "field": field, "body": json.dumps(data)})
    for k in range(UNREADABLE * scale):
        items.append({"kind": "unreadable", "field": "file", "body": base[: 100 + k % 1000]})  # cut short
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


def scenario(backend: str, scale: int = 1) -> dict:
    """Runs inside the loopback namespace: serve, load, kill, restart, check."""
    from leaderboard.server.client import SubmitError, send_with_urllib, submit

    folder = Path(tempfile.mkdtemp(prefix="reliability-"))
    database = (
        throwaway_postgres() if backend == "postgresql" else nullcontext(str(folder / "reliability.sqlite"))
    )
    with database as db:
        token = new_token(db, "load")
        server = ServerProcess(db, log=folder / "server.log").start()
        items = _workload(scale)
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
            thread.join(timeout=600 * scale)
        seconds = time.perf_counter() - start
        chaos.join(timeout=60)
        assert restarted.is_set(), "the server was not killed and restarted during the load"
        listed = get_json(server.url, "/api/v1/leaderboard?suite=tiny-v0&limit=1000")["total"]
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


def check(found: dict, scale: int = 1) -> str:
    """Raise AssertionError unless every promise held; return a one-line summary."""
    items, answers, stored = found["items"], found["answers"], found["stored"]
    assert found["integrity"] == [], found["integrity"]
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
    assert all(len(ids) == 1 for ids in ids_by_key.values()), "a content stored under two ids"
    acknowledged = {ids.pop() for ids in ids_by_key.values()}
    assert len(acknowledged) == VALID * scale and set(stored.values()) == acknowledged
    assert len(stored) == VALID * scale == found["listed"]
    retried = sum(1 for a in answers if a.get("attempts", 1) > 1)
    rate = len(items) / found["seconds"]
    return (
        f"{len(items)} submissions from {CLIENTS} clients in {found['seconds']:.1f} s ({rate:.0f}/s), SIGKILL at "
        f"{KILL_AT:.0%}: {VALID * scale} stored once each, {(TAMPERED + UNREADABLE) * scale} refused with their "
        f"field, {retried} acknowledged after a retry, integrity check passed"
    )


def summary(found: dict, scale: int) -> dict:
    """The figures of a run that docs/server.md quotes (what :func:`check` verified)."""
    answers = found["answers"]
    return {
        "submissions": len(found["items"]),
        "clients": CLIENTS,
        "seconds": found["seconds"],
        "stored": len(found["stored"]),
        "refused": (TAMPERED + UNREADABLE) * scale,
        "retried": sum(1 for a in answers if a.get("attempts", 1) > 1),
        "kill_at": KILL_AT,
        "integrity_problems": found["integrity"],
    }


def quotes(measured: dict) -> list[str]:
    """The lines docs/server.md quotes from ``docs/data/server_reliability.json``."""
    lines = []
    for backend in ("sqlite", "postgresql"):
        run = measured.get(backend)
        if run is not None:
            lines.append(
                f"| {backend} | {run['submissions']:,} | {run['clients']} | {run['seconds']:.0f} s | "
                f"{run['stored']:,} | {run['refused']:,} | {run['retried']} | "
                f"{'passed' if not run['integrity_problems'] else 'FAILED'} |"
            )
    return lines


def main() -> None:
    """Run both backends, print the summaries, write docs/data/server_reliability.json."""
    from benchmarks import data_record

    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    started = data_record.provenance("benchmarks/server_reliability.py")
    runs = {}
    for backend in ("sqlite", "postgresql"):
        found = in_loopback_namespace(
            "benchmarks.server_reliability:scenario", timeout=3600, backend=backend, scale=scale
        )
        print(f"[{backend}] {check(found, scale)}", flush=True)
        runs[backend] = summary(found, scale)
    if scale == 10:  # the 10,000: the figures the docs quote
        data_record.write(data_record.ROOT / "docs" / "data" / "server_reliability.json", started, runs)


if __name__ == "__main__":
    main()
