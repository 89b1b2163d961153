"""Servers sharing one PostgreSQL database hear each other's events (DESIGN §7): a
subscriber on one server follows a run of another live, gets every log line once and
in order, and nothing is lost while its server's listening connection is down. On
SQLite, one server's database, nothing of it runs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests
from tornado.websocket import websocket_connect

from nagelfluh_lab.services.event_relay import origin_of
from tests import postgres
from tests.servers import Server, running_server

# Prints argv[1] numbered lines, one each argv[2] seconds, with a progress report
# every 50; then writes two outputs and their manifest.
PROGRAM = """
import json, os, sys, time
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname
from nagelfluh_runner import protocol

count, pause = int(sys.argv[1]), float(sys.argv[2])
for number in range(1, count + 1):
    print(f"line {number}", flush=True)
    if number % 50 == 0:
        print(f"{protocol.PROGRESS_PREFIX}{number / count}", flush=True)
    time.sleep(pause)
base = Path(url2pathname(urlparse(os.environ[protocol.ENV_STORAGE_BASE]).path))
prefix = protocol.version_prefix(
    os.environ[protocol.ENV_PROJECT_ID], os.environ[protocol.ENV_PROCESS_ID],
    os.environ[protocol.ENV_VERSION])
folder = base / prefix
folder.mkdir(parents=True, exist_ok=True)
entries = []
for name in ("a.txt", "b.txt"):
    (folder / name).write_text(name)
    entries.append({"path": prefix + name, "key": name, "mime_type": "text/plain"})
(folder / protocol.MANIFEST_NAME).write_text(json.dumps({"datasets": entries}))
"""


def _settings(db_url: str, lines: int, pause: float, **more) -> dict:
    return {
        "db_url": db_url,
        "local_executor": {"command": [sys.executable, "-c", PROGRAM, str(lines), str(pause)]},
        **more,
    }


def _submit(server: Server) -> dict:
    response = requests.post(server.api_url + "process", headers=server.headers, timeout=30,
                             json={"type": "sleep", "parameters": {"seconds": 0}})
    assert response.status_code == 201, response.text
    return response.json()


def _get(server: Server, path: str) -> dict:
    response = requests.get(server.api_url + path, headers=server.headers, timeout=30)
    response.raise_for_status()
    return response.json()


@dataclass
class Seen:
    """What one subscriber received, with when (time.time()) each log message came."""

    seqs: list[int] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)
    log_times: list[float] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    progress: list[float] = field(default_factory=list)
    datasets: list[dict] = field(default_factory=list)
    resyncs: int = 0  # times the server told it to resubscribe


async def _follow(server: Server, subscribe: dict, lines: int, seen: Seen,
                  timeout: float = 90) -> None:
    """Subscribe and read until the version's terminal state and ``lines`` lines came;
    resubscribe when told to resync, as the clients do."""
    ws = await websocket_connect(server.events_url)
    try:
        await ws.write_message(json.dumps({"subscribe": subscribe, "since": 0}))
        deadline = time.monotonic() + timeout
        while not (seen.states[-1:] in (["completed"], ["failed"])
                   and ("project" in subscribe or len(seen.seqs) >= lines)):
            raw = await asyncio.wait_for(ws.read_message(), deadline - time.monotonic())
            assert raw is not None, "the server closed the events WebSocket"
            message = json.loads(raw)
            kind = message["type"]
            assert kind != "error", message
            if kind == "resync":
                seen.resyncs += 1
                await ws.write_message(
                    json.dumps({"subscribe": subscribe, "since": message.get("since", 0)}))
            elif kind == "log":
                seen.seqs += [line["seq"] for line in message["lines"]]
                seen.lines += message["lines"]
                seen.log_times.append(time.time())
            elif kind == "state":
                seen.states.append(message["state"])
            elif kind == "progress":
                seen.progress.append(message["progress"])
            elif kind == "datasets":
                seen.datasets += message["datasets"]
    finally:
        ws.close()


class Follower(threading.Thread):
    """A subscriber following in a thread of its own, so the test can act meanwhile."""

    def __init__(self, server: Server, subscribe: dict, lines: int) -> None:
        super().__init__(daemon=True)
        self.seen = Seen()
        self.error: BaseException | None = None
        self._follow = _follow(server, subscribe, lines, self.seen)
        self.start()

    def run(self) -> None:
        try:
            asyncio.run(self._follow)
        except BaseException as error:  # raised in the test by done()
            self.error = error

    def wait_for_lines(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.seen.seqs) < count:
            assert time.monotonic() < deadline, f"{count} lines did not reach the subscriber"
            time.sleep(0.02)

    def done(self) -> Seen:
        self.join(120)
        assert not self.is_alive(), "the subscriber did not finish"
        if self.error is not None:
            raise self.error
        return self.seen


@pytest.fixture
def shared_db(pg_port) -> str:
    return postgres.create_database(pg_port)


@pytest.mark.postgres
def test_a_subscriber_on_another_server_sees_the_run_live_every_line_once_in_order(
        tmp_path: Path, shared_db: str):
    lines = 300
    settings = _settings(shared_db, lines, 0.01)
    with (running_server(tmp_path / "a", **settings) as a,
          running_server(tmp_path / "b", **settings) as b):
        created = _submit(a)
        version = {"process": created["id"], "version": 1}
        following = Follower(b, version, lines)
        following_project = Follower(b, {"project": created["project"]}, 0)
        on_b, in_project = following.done(), following_project.done()
        finished = _get(a, f"process/{created['id']}/versions/1")
        stored = _get(a, f"process/{created['id']}/versions/1/logs?limit=10000")["items"]

    assert finished["state"] == "completed"
    assert on_b.resyncs == in_project.resyncs == 0
    assert on_b.seqs == list(range(1, len(stored) + 1))  # each once, in order, no gap
    assert on_b.lines == stored
    assert [line["line"] for line in stored if line["stream"] == "stdout"] == [
        f"line {n}" for n in range(1, lines + 1)]
    # live: most of the lines came in many messages while the run was still going
    assert sum(t < finished["finished"] for t in on_b.log_times) > 5
    for seen in (on_b, in_project):
        assert seen.states[-1] == "completed"
        assert "running" in seen.states
        assert seen.progress == sorted(seen.progress) and len(seen.progress) >= 5
        assert sorted(d["name"] for d in seen.datasets) == ["a.txt", "b.txt"]
        assert {d["process"] for d in seen.datasets} == {created["id"]}


def _listener_pids(db_url: str, server_id: str) -> list[int]:
    with psycopg.connect(db_url.replace("+psycopg", ""), autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
            (f"nagelfluh-events {origin_of(server_id)}",)).fetchall()
    return [pid for (pid,) in rows]


def _terminate(db_url: str, pid: int) -> None:
    with psycopg.connect(db_url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.mark.postgres
def test_a_server_whose_listening_connection_drops_replays_what_it_missed_once(
        tmp_path: Path, shared_db: str):
    lines = 600
    settings = _settings(shared_db, lines, 0.01)
    with (running_server(tmp_path / "a", server_id="server-a", **settings) as a,
          # no safety-net poll during the test: only the reconnect can catch up
          running_server(tmp_path / "b", server_id="server-b", events_poll_seconds=3600,
                         **settings) as b):
        [listener] = _listener_pids(shared_db, "server-b")
        created = _submit(a)
        following = Follower(b, {"process": created["id"], "version": 1}, lines)
        following.wait_for_lines(100)
        _terminate(shared_db, listener)
        on_b = following.done()
        stored = _get(a, f"process/{created['id']}/versions/1/logs?limit=10000")["items"]
        relistening = _listener_pids(shared_db, "server-b")
        b_log = b.log_path.read_text(errors="replace")

    assert on_b.seqs == list(range(1, len(stored) + 1))  # nothing lost, nothing twice
    assert on_b.lines == stored and on_b.states[-1] == "completed" and on_b.resyncs == 0
    assert len(relistening) == 1 and relistening != [listener]
    assert "not listening for other servers' events" in b_log


@pytest.mark.postgres
def test_a_server_that_read_no_events_for_longer_than_they_are_kept_loses_no_line(
        tmp_path: Path, shared_db: str):
    lines = 1500
    # events kept 4 s: a server that reads none for longer misses some of them
    settings = _settings(shared_db, lines, 0.01, events_retention_seconds=4.0,
                         events_poll_seconds=0.5)
    with (running_server(tmp_path / "a", server_id="server-a", **settings) as a,
          running_server(tmp_path / "b", server_id="server-b", **settings) as b):
        created = _submit(a)
        following = Follower(b, {"process": created["id"], "version": 1}, lines)
        following.wait_for_lines(100)
        os.kill(b.pid, signal.SIGSTOP)  # b's machine sleeps; a runs on, pruning events
        time.sleep(8)
        os.kill(b.pid, signal.SIGCONT)
        on_b = following.done()
        stored = _get(a, f"process/{created['id']}/versions/1/logs?limit=10000")["items"]
        b_log = b.log_path.read_text(errors="replace")

    assert "longer than they are kept" in b_log
    assert on_b.resyncs >= 1  # told to re-read from the database ...
    assert on_b.seqs == list(range(1, len(stored) + 1))  # ... and so nothing lost, nothing twice
    assert on_b.lines == stored and on_b.states[-1] == "completed"


def test_on_sqlite_no_server_listens_and_no_event_is_journaled(tmp_path: Path):
    lines = 100
    db_url = f"sqlite:///{tmp_path / 'one.db'}"
    with running_server(tmp_path / "a", **_settings(db_url, lines, 0.0)) as a:
        created = _submit(a)
        seen = Seen()
        asyncio.run(_follow(a, {"process": created["id"], "version": 1}, lines, seen))
        stored = _get(a, f"process/{created['id']}/versions/1/logs?limit=10000")["items"]

    assert seen.seqs == list(range(1, len(stored) + 1)) and seen.lines == stored
    assert seen.states[-1] == "completed"
    with sqlite3.connect(tmp_path / "one.db") as connection:
        assert connection.execute("SELECT count(*) FROM events").fetchone() == (0,)
