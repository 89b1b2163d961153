"""Two servers on one PostgreSQL database and one storage share the result cache: the
same work submitted on both at once is computed once, by one of them, and the other
completes from it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests import postgres
from tests.servers import Server, running_server

SLOW_SIGNAL = {"duration": 300, "sample_rate": 2000, "seed": 5}


@pytest.fixture
def shared_db(pg_port) -> str:
    return postgres.create_database(pg_port)


def _submit(server: Server) -> int:
    response = requests.post(
        server.api_url + "process",
        json={"type": "synthetic-signal", "parameters": SLOW_SIGNAL},
        headers=server.headers,
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _ended(server: Server, process: int) -> dict:
    deadline = time.monotonic() + 120
    while True:
        version = requests.get(
            server.api_url + f"process/{process}/versions/1", headers=server.headers, timeout=30
        ).json()
        if version["state"] in ("completed", "failed"):
            return version
        assert time.monotonic() < deadline, version
        time.sleep(0.1)


@pytest.mark.postgres
def test_identical_work_submitted_on_two_servers_at_once_is_computed_once(
    tmp_path: Path, shared_db: str
):
    shared = {"db_url": shared_db, "storage_url": (tmp_path / "storage").as_uri()}
    with (
        running_server(tmp_path / "a", server_id="server-a", **shared) as a,
        running_server(tmp_path / "b", server_id="server-b", **shared) as b,
        ThreadPoolExecutor(2) as pool,
    ):
        ids = list(pool.map(_submit, (a, b)))
        versions = [_ended(server, process) for server, process in zip((a, b), ids, strict=True)]

    assert [v["state"] for v in versions] == ["completed", "completed"]
    ran = [v for v in versions if v["cached_from"] is None]
    reused = [v for v in versions if v["cached_from"] is not None]
    assert len(ran) == len(reused) == 1, versions
    assert reused[0]["cached_from"] == {"process": ran[0]["process"], "version": 1}
    assert [o["digest"] for o in reused[0]["outputs"]] == [o["digest"] for o in ran[0]["outputs"]]
    assert reused[0]["cost"]["actual"] == 0
