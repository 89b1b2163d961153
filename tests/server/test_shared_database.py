"""Several servers on one database: they start at once without racing their
migrations, and none touches the runs of another."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest
import requests

from tests.server.conftest import BACKENDS
from tests.servers import Server, running_server

STARTS = 4


def _start(url: str, barrier, results) -> None:
    from nagelfluh_lab.db.session import Database

    barrier.wait()
    try:
        database = Database(url)
        results.put(("ok", database.installation))
        database.close()
    except Exception as error:  # reported to the test, which names it
        results.put(("error", repr(error)))


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
def test_servers_starting_at_once_on_a_new_database_migrate_it_once(db_url):
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(STARTS), context.Queue()
    starts = [context.Process(target=_start, args=(db_url, barrier, results))
              for _ in range(STARTS)]
    for process in starts:
        process.start()
    outcomes = [results.get(timeout=120) for _ in starts]
    for process in starts:
        process.join(30)

    assert [kind for kind, _ in outcomes] == ["ok"] * STARTS, outcomes
    assert len({installation for _, installation in outcomes}) == 1


def _call(server: Server, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, server.api_url + path, headers=server.headers,
                            timeout=30, **kwargs)


def _version(server: Server, process: int) -> dict:
    response = _call(server, "GET", f"process/{process}/versions/1")
    response.raise_for_status()
    return response.json()


def _submit(server: Server, seconds: float) -> int:
    response = _call(server, "POST", "process", json={
        "type": "sleep", "parameters": {"seconds": seconds},
        "resources": {"cpu": 1, "deadline_seconds": 120}})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _lines(server: Server, process: int) -> list[str]:
    response = _call(server, "GET", f"process/{process}/versions/1/logs")
    response.raise_for_status()
    return [line["line"] for line in response.json()["items"]]


def test_a_second_server_on_the_same_database_leaves_the_first_ones_runs_alone(
        tmp_path: Path):
    shared = {"db_url": f"sqlite:///{tmp_path / 'shared.db'}", "local_quota_cpu": 1.0}
    with running_server(tmp_path / "a", **shared) as first:
        running = _submit(first, 100)  # outlasts the second server's start on a busy machine
        _wait(lambda: _version(first, running)["state"] == "running", 30, "a run")
        waiting = _submit(first, 0.5)  # the quota holds one: this one waits for it
        assert _version(first, waiting)["state"] == "queued"

        with running_server(tmp_path / "b", **shared) as second:
            time.sleep(1)  # past its start-up, when it takes up what it finds
            assert _version(second, running)["state"] == "running"
            assert _version(second, waiting)["state"] == "queued"
            cancel = _call(second, "POST", f"process/{running}/versions/1/cancel")
            assert cancel.status_code == 409 and "another server" in cancel.text
            own = _submit(second, 0.2)
            _wait(lambda: _version(second, own)["state"] == "completed", 60, "b's own run")

        assert _call(first, "POST", f"process/{running}/versions/1/cancel").status_code == 200
        _wait(lambda: _version(first, waiting)["state"] == "completed", 60, "a's runs, by a")
        assert (_version(first, running)["state"], _version(first, running)["reason"]) == (
            "failed", "cancelled")
        for process in (running, waiting):  # each ran once, by the first server
            lines = _lines(first, process)
            assert sum(line.startswith("sleeping") for line in lines) == 1, lines
