"""Servers on one Hub cooperate through their one PostgreSQL database (DESIGN §7): a
user sees her run live on whichever of her servers she looks from, and a Kubernetes run
whose server the Hub's culler stopped is finished by another server, billed once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from nagelfluh_lab.db.models import ProcessVersion
from nagelfluh_lab.db.session import Database
from tests.hub.hub import (
    Hub,
    call,
    events_socket,
    messages_until,
    submit_sleep,
    wait_state,
)
from tests.servers import Server

pytestmark = pytest.mark.postgres

NAP = 4  # seconds: the run ticks once a second


def _ended(message: dict) -> bool:
    return message["type"] == "state" and message["state"] in ("completed", "failed")


def _log(server: Server, process: int) -> list[str]:
    response = call(server, "GET", f"process/{process}/versions/1/logs")
    response.raise_for_status()
    return [item["line"] for item in response.json()["items"]]


def _nap_lines(seconds: int) -> list[str]:
    ticks = [f"tick {tick}: {tick} of {seconds} s" for tick in range(1, seconds + 1)]
    return [f"sleeping {seconds} s", *ticks, "done sleeping"]


def test_a_run_started_on_one_of_a_users_servers_streams_live_to_her_other_server(
    servers: dict[str, Server], second: Server
):
    first = servers["alice"]
    process = submit_sleep(first, "seen-from-elsewhere", NAP)["id"]
    events = events_socket(second)
    try:
        events.send(json.dumps({"subscribe": {"process": process, "version": 1}, "since": 0}))
        received = messages_until(events, _ended)
    finally:
        events.close()

    states = [m["state"] for _, m in received if m["type"] == "state"]
    assert states[-1] == "completed" and "running" in states, states
    logs = [(at, m) for at, m in received if m["type"] == "log"]
    lines = [line for _, m in logs for line in m["lines"]]
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))  # once, in order
    assert [line["line"] for line in lines] == _nap_lines(NAP) == _log(first, process)
    # live: the lines came as they were printed, over the run, not all at its end
    ended_at = received[-1][0]
    first_tick = next(at for at, m in logs if any("tick 1:" in x["line"] for x in m["lines"]))
    assert ended_at - first_tick >= NAP - 2, (first_tick, ended_at)
    assert len(logs) >= NAP - 1


# -- a Kubernetes run outlives its culled server


def _age(hub: Hub, name: str, server: str = "cluster") -> float:
    """Seconds since the Hub started the user's server."""
    model = hub.server_model(name, server)
    assert model is not None
    started = datetime.fromisoformat(model["started"].replace("Z", "+00:00"))
    return (datetime.now(timezone.utc) - started).total_seconds()


def _owner(db_url: str, process: int) -> str | None:
    db = Database(db_url)
    try:
        return db.run_sync(
            lambda s: s.scalar(
                select(ProcessVersion.server).where(ProcessVersion.process_id == process)
            )
        )
    finally:
        db.close()


@pytest.fixture
def cluster_settings(kubeconfig: Path) -> dict[str, dict]:
    """A server on the simulated cluster (tests/kubernetes), sharing the Hub's file
    storage with its pods."""
    return {
        "NagelfluhApp": {
            "executor": "kubernetes",
            "kubeconfig": str(kubeconfig),
            "default_cpu": "1",
            "default_memory": "256Mi",
        },
        "KubernetesExecutor": {
            "allow_local_storage": True,
            "watch_backoff_seconds": 0.05,
            "watch_backoff_max_seconds": 0.5,
        },
    }


@pytest.fixture
def culler(hub: Hub) -> Iterator[list]:
    """Culler processes the test starts; each is stopped afterwards."""
    started: list = []
    yield started
    for process in started:
        process.terminate()
        process.wait(10)


def test_a_kubernetes_run_whose_server_the_culler_stopped_is_finished_by_another_server(
    hub: Hub,
    tokens: dict[str, str],
    servers: dict[str, Server],
    cluster_settings: dict[str, dict],
    culler: list,
):
    # alice's server and bob's on the same cluster, his started well after hers: a max
    # age between the two servers' ages culls hers (and every older server), not his
    for name in ("alice", "bob"):
        hub.configure_server(name, "cluster", **cluster_settings)
    hub.start_server("alice", "cluster")
    gap = 20.0
    time.sleep(max(0.0, gap - _age(hub, "alice")))
    hub.start_server("bob", "cluster")
    owner = hub.user_server("alice", tokens["alice"], "cluster")
    seconds = 15
    process = submit_sleep(owner, "outlives-its-server", seconds)["id"]
    wait_state(owner, process, "running", timeout=60)
    first_owner = _owner(hub.db_url, process)

    ages = _age(hub, "alice"), _age(hub, "bob")
    assert ages[0] - ages[1] >= gap - 1
    culler.append(hub.start_culler(3600, 1, max_age=int((ages[0] + ages[1]) / 2)))
    deadline = time.monotonic() + 30
    while hub.server_model("alice", "cluster") is not None:
        assert time.monotonic() < deadline, "the culler left alice's server running"
        time.sleep(0.2)
    culler.pop().terminate()
    assert hub.server_model("bob", "cluster") is not None

    hub.start_server("alice")  # she comes back (to her default server) to see the result
    alice = hub.user_server("alice", tokens["alice"])
    version = wait_state(alice, process, "completed", "failed", timeout=seconds + 60)
    assert version["state"] == "completed", version
    assert _log(alice, process) == _nap_lines(seconds)  # every line once, across the takeover
    taken_by = _owner(hub.db_url, process)
    assert taken_by is not None and taken_by != first_owner
    assert taken_by.endswith("users/bob/servers/cluster/data/nagelfluh")
    kinds = [
        t["kind"]
        for t in call(alice, "GET", "account").json()["transactions"]
        if t["process"] == process
    ]
    assert sorted(kinds) == ["DEBIT", "HOLD", "RELEASE"], kinds
