"""Exactly one owner per run: servers sharing a PostgreSQL database and a cluster each
follow the Kubernetes runs whose lease they hold (``services.leases``); when a
server dies, another takes its runs over and finishes them, billing each once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from nagelfluh_runner.storage import open_storage
from sqlalchemy import select, text

from nagelfluh_lab.cluster.executor import KubernetesExecutor
from nagelfluh_lab.credentials import StaticCredentials
from nagelfluh_lab.db.models import ProcessVersion, Transaction
from nagelfluh_lab.db.session import Database
from nagelfluh_lab.executors.base import RunKey, RunSpec
from nagelfluh_lab.services.billing import DEBIT, HOLD, Billing
from nagelfluh_lab.services.events import EventHub
from nagelfluh_lab.services.leases import LEASE_NAMESPACE
from nagelfluh_lab.services.run_lifecycle import RunLifecycle
from tests import postgres
from tests.executors.conftest import RecordingEvents
from tests.kubernetes.conftest import seed_version
from tests.kubernetes.test_sim import knobs
from tests.server.conftest import pg_port  # noqa: F401  (the fixture, for shared_db)
from tests.servers import Server, running_server

pytestmark = pytest.mark.postgres

SCAN_SECONDS = 0.2  # the in-process servers' lease scans


@pytest.fixture
def shared_db(request: pytest.FixtureRequest) -> str:
    """A fresh database in the throwaway PostgreSQL cluster."""
    return postgres.create_database(request.getfixturevalue("pg_port"))


def _versions(url: str) -> dict[int, ProcessVersion]:
    db = Database(url)
    try:
        return db.run_sync(
            lambda s: {v.process_id: v for v in s.scalars(select(ProcessVersion))}
        )
    finally:
        db.close()


def _ledger(url: str) -> dict[int, list[str]]:
    """Each process's ledger entries, by kind, in order."""
    db = Database(url)
    try:
        rows = db.run_sync(
            lambda s: s.execute(
                select(Transaction.process_id, Transaction.kind).order_by(Transaction.id)
            ).all()
        )
    finally:
        db.close()
    ledger: dict[int, list[str]] = {}
    for process, kind in rows:
        ledger.setdefault(process, []).append(kind)
    return ledger


# -- real servers, one of them killed


def _call(server: Server, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, server.api_url + path, headers=server.headers,
                            timeout=30, **kwargs)


def _submit(server: Server, kind: str, parameters: dict) -> int:
    response = _call(server, "POST", "process", json={
        "type": kind, "parameters": parameters, "resources": {"cpu": 1, "deadline_seconds": 60}})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _version(server: Server, process: int) -> dict:
    response = _call(server, "GET", f"process/{process}/versions/1")
    response.raise_for_status()
    return response.json()


def _lines(server: Server, process: int) -> list[str]:
    response = _call(server, "GET", f"process/{process}/versions/1/logs")
    response.raise_for_status()
    return [item["line"] for item in response.json()["items"]]


def _wait(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def start_server(tmp_path: Path, kubeconfig: Path, shared_db: str) -> Iterator[Callable]:
    """``start_server(name)``: a Jupyter server with the Kubernetes executor on the
    simulated cluster, the shared database and shared file storage."""
    with ExitStack() as servers:

        def start(name: str) -> Server:
            return servers.enter_context(running_server(
                tmp_path / name, db_url=shared_db, executor="kubernetes",
                kubeconfig=str(kubeconfig), storage_url=(tmp_path / "storage").as_uri(),
                default_cpu="1", default_memory="256Mi",
                app_config={"KubernetesExecutor": {
                    "allow_local_storage": True, "watch_backoff_seconds": 0.05,
                    "watch_backoff_max_seconds": 0.5}}))

        yield start


@knobs(quota={"cpu": "1", "memory": "4Gi"})
def test_a_killed_servers_runs_are_finished_by_another_and_billed_once(
        start_server, shared_db):
    first = start_server("a")
    second = start_server("b")
    running = _submit(first, "sleep", {"seconds": 8})
    _wait(lambda: _version(first, running)["state"] == "running", 60, "a's run")
    # Kueue holds it back while the sleep has the quota.
    queued = _submit(first, "synthetic-signal", {"duration": 1, "sample_rate": 100})
    _wait(lambda: _version(first, queued)["state"] == "queued", 30, "a's second run queued")

    time.sleep(6)  # more than one lease scan of the second server
    cancel = _call(second, "POST", f"process/{running}/versions/1/cancel")
    assert cancel.status_code == 409 and "another server" in cancel.text
    owners = {v.process_id: v.server for v in _versions(shared_db).values()}
    os.kill(first.pid, signal.SIGKILL)

    _wait(lambda: _version(second, queued)["state"] in ("completed", "failed"), 90,
          "the second server to finish a's runs")
    slept, made = _version(second, running), _version(second, queued)
    assert (slept["state"], made["state"]) == ("completed", "completed"), (slept, made)
    assert made["outputs"] and made["outputs"][0]["size"] > 0
    assert _lines(second, running) == ["sleeping 8 s", *(
        f"tick {tick}: {tick} of 8 s" for tick in range(1, 9)), "done sleeping"]
    after = {v.process_id: v.server for v in _versions(shared_db).values()}
    assert owners[running] == owners[queued] != after[running] == after[queued]
    ledger = _ledger(shared_db)
    assert ledger[running] == ledger[queued] == [HOLD, DEBIT, "RELEASE"], ledger


# -- servers in this process: a race, and a lease lost by a live server


@dataclass
class Stack:
    """What one server runs to follow runs: its database, executor and lifecycle."""

    db: Database
    executor: KubernetesExecutor
    runs: RunLifecycle

    def follows(self, key: RunKey) -> bool:
        return key in self.executor._runs


@pytest.fixture
def make_stack(kubeconfig: Path, shared_db: str, tmp_path: Path,
               jp_asyncio_loop) -> Iterator[Callable]:
    """``await make_stack(server_id)``: a started executor and lifecycle on the shared
    database and the simulated cluster; stopped afterwards as a server stops."""
    stacks: list[Stack] = []
    storage = open_storage((tmp_path / "storage").as_uri())

    async def make(server_id: str) -> Stack:
        db = Database(shared_db)
        executor = KubernetesExecutor(
            kubeconfig=str(kubeconfig), installation=db.installation, allow_local_storage=True,
            watch_backoff_seconds=0.05, watch_backoff_max_seconds=0.5)
        runs = RunLifecycle(db, executor, storage, Billing(3600.0, 0.0, 1000.0, {}), EventHub(),
                            StaticCredentials(storage=storage), server_id, lambda event: None,
                            lease_scan_seconds=SCAN_SECONDS)
        await executor.start()
        stacks.append(Stack(db, executor, runs))
        return stacks[-1]

    yield make

    async def stop() -> None:
        for stack in stacks:
            await stack.executor.stop()
            await stack.runs.stop()
            stack.db.close()

    jp_asyncio_loop.run_until_complete(stop())


def _seed(url: str, tmp_path: Path, server: str, state: str, seconds: float = 2,
          executor: str = "kubernetes", age: float = 0) -> tuple[RunSpec, int]:
    """A version of ``sleep`` run by ``server`` in ``state``, stored ``age`` seconds ago
    for ``executor``, its cost on hold."""
    db = Database(url)

    def seed(session) -> tuple[int, int, int]:
        version = seed_version(
            session, f"user-of-{server}", parameters={"seconds": seconds}, state=state,
            server=server,
            executor=executor, created=time.time() - age, cost_estimated=30_000_000,
            started=time.time() if state == "running" else None)
        process = version.process
        session.add(Transaction(user_id=version.created_by, project_id=process.project_id,
                                version_id=version.id, process_id=process.id, version=1,
                                kind=HOLD, amount=version.cost_estimated))
        return process.project_id, process.id, version.id

    try:
        project_id, process_id, version_id = db.run_sync(seed)
    finally:
        db.close()
    spec = RunSpec(key=RunKey(process_id, 1), project_id=project_id, process_type="sleep",
                   parameters={"seconds": seconds}, input_datasets={}, cpu=0.5, memory=256 << 20,
                   deadline_seconds=60, storage_base=(tmp_path / "storage").as_uri())
    return spec, version_id


async def _until(probe: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"not within {timeout} s"
        await asyncio.sleep(0.05)


async def _ended(url: str, process: int) -> ProcessVersion:
    versions: dict[int, ProcessVersion] = {}

    def done() -> bool:
        versions.update(_versions(url))
        return versions[process].state in ("completed", "failed")

    await _until(done)
    return versions[process]


async def test_of_two_servers_racing_for_an_orphan_exactly_one_takes_it_over(
        make_stack, shared_db, kubeconfig, tmp_path):
    # A server started the run, then died: its Job runs, no server follows it.
    spec, _ = _seed(shared_db, tmp_path, "dead", "running")
    second, third = await make_stack("second"), await make_stack("third")
    events = RecordingEvents()
    starter = KubernetesExecutor(kubeconfig=str(kubeconfig), installation=second.db.installation,
                                 allow_local_storage=True)
    starter.bind(events)
    await starter.start()
    await starter.submit(spec)
    await events.wait_for(lambda: events.payloads(spec.key, "started"))
    await starter.stop()
    await _until(lambda: second.executor.adoptable() and third.executor.adoptable())

    await asyncio.gather(second.runs.scan_leases(), third.runs.scan_leases())

    assert [second.follows(spec.key), third.follows(spec.key)].count(True) == 1
    winner = second if second.follows(spec.key) else third
    ended = await _ended(shared_db, spec.key.process_id)
    assert (ended.state, ended.server) == ("completed", winner.runs.server_id)
    assert _ledger(shared_db)[spec.key.process_id] == [HOLD, DEBIT, "RELEASE"]
    await third.runs.scan_leases()  # nothing left to take over, by either
    await second.runs.scan_leases()
    assert not second.follows(spec.key) and not third.follows(spec.key)


async def test_a_live_servers_run_is_left_alone_until_its_lease_is_lost(
        make_stack, shared_db, tmp_path):
    spec, version_id = _seed(shared_db, tmp_path, "first", "pending", seconds=8)
    first, second = await make_stack("first"), await make_stack("second")
    await first.runs.resume()  # takes the pending version up, and its lease
    await second.runs.resume()
    await _until(lambda: second.executor.adoptable())
    await asyncio.sleep(10 * SCAN_SECONDS)  # many scans of the second server
    assert first.follows(spec.key) and not second.follows(spec.key)
    assert _versions(shared_db)[spec.key.process_id].server == "first"

    # The first server's lease connection drops (PostgreSQL restarted, a network cut):
    # PostgreSQL releases its leases; the second takes the run over, the first gives it up.
    admin = Database(shared_db)
    admin.run_sync(lambda s: s.execute(text(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
        "AND classid = :space AND objid = :id"), {"space": LEASE_NAMESPACE, "id": version_id}))
    admin.close()

    await _until(lambda: second.follows(spec.key) and not first.follows(spec.key))
    assert _versions(shared_db)[spec.key.process_id].state == "running"  # given up, not ended
    ended = await _ended(shared_db, spec.key.process_id)
    assert (ended.state, ended.server) == ("completed", "second")
    assert _ledger(shared_db)[spec.key.process_id] == [HOLD, DEBIT, "RELEASE"]


async def test_a_version_whose_server_died_before_creating_its_job_is_run_by_another(
        make_stack, shared_db, tmp_path):
    # stored, billed, then the server was culled before it created the Job
    spec, _ = _seed(shared_db, tmp_path, "dead", "pending", age=10 * SCAN_SECONDS)
    second = await make_stack("second")
    await second.runs.resume()
    await _until(lambda: second.follows(spec.key))
    ended = await _ended(shared_db, spec.key.process_id)
    assert (ended.state, ended.server) == ("completed", "second")
    assert _ledger(shared_db)[spec.key.process_id] == [HOLD, DEBIT, "RELEASE"]


async def test_a_pending_version_is_taken_over_only_by_a_server_of_its_executor_after_a_grace(
        make_stack, shared_db, tmp_path):
    local, _ = _seed(shared_db, tmp_path, "dead", "pending", executor="local",
                     age=10 * SCAN_SECONDS)  # lives on its server's machine: waits for it
    fresh, _ = _seed(shared_db, tmp_path, "alive", "pending")  # its server is storing it
    second = await make_stack("second")
    await second.runs.resume()
    await _until(lambda: second.executor.adoptable() is not None)
    await second.runs.scan_leases()
    assert not second.follows(local.key) and not second.follows(fresh.key)
    assert {v.state for v in _versions(shared_db).values()} == {"pending"}
