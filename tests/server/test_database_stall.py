"""A busy or unreachable database delays work but loses none of it, and requests that
cannot get through answer 503 with Retry-After instead of hanging or failing with 500."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from nagelfluh_lab.db.session import Database
from tests import postgres
from tests.server.conftest import Api, ws_recv
from tests.server.test_openapi import check_response, load_document

BOUND = 1.0  # db_busy_timeout of these tests, seconds
# A 503 comes after at most the wait for the database thread plus one attempt.
ANSWER_WITHIN = 2 * BOUND + 1.0
RATES = {"rate_cpu_hour": 3.6, "starting_balance": 10.0, "db_busy_timeout": BOUND}
POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)
SMALL = {"cpu": 0.2, "memory": "256Mi", "deadline_seconds": 120}


@contextmanager
def locked(db_url: str) -> Iterator[None]:
    """Another writer holds SQLite's write lock."""
    other = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


async def sleeping(api: Api, seconds: int) -> int:
    """A running ``sleep`` process (one log line a second) that has stored a line."""
    process = (await api.submit("sleep", {"seconds": seconds}, resources=SMALL))["id"]
    await api.wait(process, states=("running",))
    while not (await api.get(f"process/{process}/versions/1/logs"))["items"]:
        await asyncio.sleep(0.05)
    return process


async def assert_every_line_stored_once(api: Api, process: int, seconds: int) -> None:
    """``sleep`` prints its start, one tick a second and its end: all there, in order,
    each once, numbered 1..N without a gap."""
    lines = (await api.get(f"process/{process}/versions/1/logs", limit=10000))["items"]
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    texts = [line["line"] for line in lines]
    assert texts[0] == f"sleeping {seconds} s" and texts[-1] == "done sleeping", texts
    ticks = [text.split(":")[0] for text in texts[1:-1]]
    assert ticks == [f"tick {n}" for n in range(1, seconds + 1)], texts


def assert_ledger_balanced(account: dict, process: int) -> None:
    ledger = {
        t["kind"]: t["amount"]
        for t in account["transactions"]
        if (t["process"], t["version"]) == (process, 1)
    }
    assert set(ledger) == {"HOLD", "DEBIT", "RELEASE"}, ledger
    assert ledger["DEBIT"] > 0
    assert ledger["DEBIT"] + ledger["RELEASE"] == pytest.approx(ledger["HOLD"])


async def assert_unavailable(api: Api, method: str, path: str, body: dict | None = None) -> None:
    """The request answers 503 with a JSON error and Retry-After, within the bound."""
    start = time.monotonic()
    response = await api.fetch(method, path, body)
    took = time.monotonic() - start
    assert response.code == 503, (response.code, response.body)
    assert took < ANSWER_WITHIN, f"{method} {path} took {took:.1f} s"
    assert response.headers["Retry-After"] == "1"
    error = json.loads(response.body)
    assert error["error"]["code"] == "database_unavailable"
    assert error["error"]["details"] == {"retry_after": 1}
    documented = "/process/{process_id}" if path.startswith("process/") else f"/{path}"
    check_response(load_document(), documented, method.lower(), 503, error)


@pytest.mark.slow
@pytest.mark.parametrize("nagelfluh_config", [RATES])
async def test_locked_database_delays_but_loses_no_log_line(api, db_url):
    durations = [12 + 3 * n for n in range(10)]  # 12 to 39 s: 275 lines in all
    processes = [await sleeping(api, seconds) for seconds in durations]
    with locked(db_url):
        await asyncio.sleep(35)  # the shorter runs end meanwhile, the longer ones after
    for process, seconds in zip(processes, durations, strict=True):
        done = await api.wait(process, timeout=60)
        assert done["state"] == "completed", done
        await assert_every_line_stored_once(api, process, seconds)
    account = await api.get("account")
    for process in processes:
        assert_ledger_balanced(account, process)
    debits = sum(t["amount"] for t in account["transactions"] if t["kind"] == "DEBIT")
    assert account["balance"] == pytest.approx(10.0 - debits)


@pytest.mark.parametrize("nagelfluh_config", [RATES])
async def test_locked_database_answers_503_with_retry_after_and_recovers(api, db_url, ws_connect):
    finished = (await api.submit("sleep", {"seconds": 0}, resources=SMALL))["id"]
    await api.wait(finished)
    before = await api.get(f"process/{finished}")
    running = await sleeping(api, 6)  # its writes are retried while requests are refused
    with locked(db_url):
        for _ in range(3):
            await assert_unavailable(api, "POST", "process", {"type": "sleep"})
            await assert_unavailable(api, "POST", "projects", {"name": "during the lock"})
            await assert_unavailable(api, "GET", f"process/{finished}")
        # A first-time user's subscription must write (the user): the socket closes
        # with 1013 Try Again Later, never with an error the client cannot act on.
        ws = await ws_connect("newcomer")
        ws.write_message(json.dumps({"subscribe": {"project": 1}}))
        assert await asyncio.wait_for(ws.read_message(), ANSWER_WITHIN) is None
        assert ws.close_code == 1013
        await asyncio.sleep(4)
    assert await api.get(f"process/{finished}") == before
    again = await api.submit("sleep", {"seconds": 0}, resources=SMALL)
    assert (await api.wait(again["id"]))["state"] == "completed"
    assert (await api.wait(running))["state"] == "completed"
    await assert_every_line_stored_once(api, running, 6)
    assert_ledger_balanced(await api.get("account"), running)
    listed = {p["id"] for p in (await api.get("process"))["items"]}
    assert listed == {finished, running, again["id"]}


@pytest.mark.parametrize("db_url", [POSTGRES], indirect=True)
@pytest.mark.parametrize("nagelfluh_config", [RATES])
async def test_stopped_postgresql_answers_503_and_work_resumes_when_it_is_back(
    api, pg_port, ws_connect
):
    finished = (await api.submit("sleep", {"seconds": 0}, resources=SMALL))["id"]
    await api.wait(finished)
    before = await api.get(f"process/{finished}")
    running = await sleeping(api, 8)
    with postgres.stopped(pg_port):
        await assert_unavailable(api, "GET", f"process/{finished}")
        await assert_unavailable(api, "POST", "process", {"type": "sleep"})
        ws = await ws_connect()
        ws.write_message(json.dumps({"subscribe": {"process": running}, "since": 0}))
        assert await asyncio.wait_for(ws.read_message(), ANSWER_WITHIN) is None
        assert ws.close_code == 1013
        await asyncio.sleep(10)  # the run ends while the database is down
    assert await api.get(f"process/{finished}") == before
    assert (await api.wait(running, timeout=30))["state"] == "completed"
    await assert_every_line_stored_once(api, running, 8)
    assert_ledger_balanced(await api.get("account"), running)
    ws = await ws_connect()
    ws.write_message(json.dumps({"subscribe": {"process": running}, "since": 0}))
    events = [await ws_recv(ws), await ws_recv(ws)]
    ws.close()
    assert events[0]["type"] == "state" and events[0]["state"] == "completed"
    assert [line["seq"] for line in events[1]["lines"]] == list(range(1, 11))


async def test_a_bug_fails_at_once_and_is_not_taken_for_a_stall(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'bug.db'}", BOUND)
    try:
        for call in (db.run, db.run_durable):
            with pytest.raises(OperationalError, match="no such table"):
                await asyncio.wait_for(
                    call(lambda s: s.execute(text("SELECT * FROM no_such_table"))), ANSWER_WITHIN
                )
    finally:
        db.close()
