"""The server extension with ``executor = "kubernetes"`` against the simulated cluster:
the same API session as on the local executor, the real runner in the pods."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from nagelfluh_lab.app import NagelfluhApp
from nagelfluh_lab.cluster.executor import KubernetesExecutor
from nagelfluh_lab.cluster.manifests import job_name
from nagelfluh_lab.db.models import ProcessVersion
from nagelfluh_lab.db.session import Database
from nagelfluh_lab.executors.base import RunKey, RunSpec
from nagelfluh_lab.services.log_store import append_logs
from tests.executors.conftest import RecordingEvents
from tests.kubernetes.conftest import seed_version
from tests.kubernetes.sim import NAMESPACE, SimCluster
from tests.server.conftest import Api

CPU_SECOND = 3600.0  # a rate per CPU-hour that makes one CPU-second cost one credit


async def logs(api: Api, process: int) -> list[str]:
    items = (await api.get(f"process/{process}/versions/1/logs"))["items"]
    assert [item["seq"] for item in items] == list(range(1, len(items) + 1))
    return [item["line"] for item in items]


async def test_sleep_and_synthetic_signal_run_to_completion_with_logs_and_outputs(api):
    sleep = await api.submit("sleep", {"seconds": 1})
    signal = await api.submit("synthetic-signal", {"duration": 1, "sample_rate": 100})

    slept = await api.wait(sleep["id"])
    assert (slept["state"], slept["reason"], slept["progress"]) == ("completed", None, 1.0)
    assert slept["started"] <= slept["finished"]
    assert await logs(api, sleep["id"]) == ["sleeping 1 s", "tick 1: 1 of 1 s", "done sleeping"]
    made = await api.wait(signal["id"])
    assert made["state"] == "completed", made
    [dataset] = made["outputs"]
    code, data = await api.call("GET", f"dataset/{dataset['id']}")
    assert code == 200 and len(data) == dataset["size"] > 0
    assert await logs(api, signal["id"])


@pytest.mark.parametrize(
    "nagelfluh_config",
    [{"rate_cpu_hour": CPU_SECOND, "starting_balance": 1000.0}],
)
async def test_preempted_version_is_queued_again_completes_and_is_billed_once(
        api, k8s_cluster: SimCluster):
    k8s_cluster.knobs.time_scale = 0.05
    created = await api.submit("sleep", {"seconds": 1}, resources={"cpu": 1,
                                                                    "deadline_seconds": 60})
    process = created["id"]
    await api.wait(process, states=("running",))

    await asyncio.to_thread(k8s_cluster.evict, job_name(RunKey(process, 1)), NAMESPACE, 0.5)

    queued = await api.wait(process, states=("queued",))
    assert queued["started"] is None
    done = await api.wait(process)
    assert done["state"] == "completed"
    lines = await logs(api, process)
    assert lines[-3:] == ["sleeping 1 s", "tick 1: 1 of 1 s", "done sleeping"]
    assert lines[:-3] in ([], ["sleeping 1 s"])  # what the preempted attempt printed
    transactions = [t for t in (await api.get("account"))["transactions"]
                    if t["process"] == process]
    amounts = {t["kind"]: t["amount"] for t in transactions}
    assert sorted(t["kind"] for t in transactions) == ["DEBIT", "HOLD", "RELEASE"]
    assert amounts["HOLD"] == pytest.approx(60)  # 1 CPU for the 60 s deadline
    assert amounts["DEBIT"] + amounts["RELEASE"] == pytest.approx(amounts["HOLD"])
    # The attempt that completed, not the preempted one too.
    assert amounts["DEBIT"] == pytest.approx(done["finished"] - done["started"], abs=0.01)


# -- a server restart


@pytest.fixture
def left_running(tmp_path: Path, kubeconfig: Path, jp_asyncio_loop) -> dict:
    """The database and cluster as a server that stopped mid-run left them: a version
    running in a Job, with the log lines read so far stored."""
    db = Database(f"sqlite:///{tmp_path / 'nagelfluh.db'}")

    def seed(session) -> tuple[int, int]:
        version = seed_version(session, parameters={"seconds": 2}, state="running",
                               started=time.time())
        return version.process.project_id, version.process_id

    project_id, process_id = db.run_sync(seed)
    spec = RunSpec(key=RunKey(process_id, 1), project_id=project_id, process_type="sleep",
                   parameters={"seconds": 2}, input_datasets={}, cpu=0.5, memory=256 << 20,
                   deadline_seconds=60, storage_base=(tmp_path / "storage").as_uri())
    events = RecordingEvents()

    async def run_until_first_lines() -> None:
        executor = KubernetesExecutor(kubeconfig=str(kubeconfig), installation=db.installation)
        executor.bind(events)
        await executor.start()
        await executor.submit(spec)
        await events.wait_for(lambda: len(events.lines(spec.key)) >= 2)
        await executor.stop()

    jp_asyncio_loop.run_until_complete(run_until_first_lines())
    stored = events.log_lines(spec.key)

    def store(session) -> None:
        version = session.query(ProcessVersion).filter_by(process_id=process_id).one()
        append_logs(session, version.id, stored)

    db.run_sync(store)
    db.close()
    return {"process": process_id, "stored": [line.line for line in stored]}


async def test_restarted_server_follows_the_running_job_on_without_repeating_lines(
        left_running, api):
    done = await api.wait(left_running["process"])

    assert done["state"] == "completed"
    assert left_running["stored"][:2] == ["sleeping 2 s", "tick 1: 1 of 2 s"]
    assert await logs(api, left_running["process"]) == [
        "sleeping 2 s", "tick 1: 1 of 2 s", "tick 2: 2 of 2 s", "done sleeping"]


# -- configuration


def test_kubernetes_executor_refuses_file_storage_pods_cannot_reach(tmp_path):
    app = NagelfluhApp(executor="kubernetes", storage_url=(tmp_path / "data").as_uri())
    with pytest.raises(ValueError, match="cannot use file storage"):
        app._make_executor()


def test_kubernetes_executor_takes_namespace_queue_and_kubeconfig_from_the_app():
    app = NagelfluhApp(executor="kubernetes", storage_url="s3://bucket/data",
                       namespace="science", queue_name="gpu-queue", kubeconfig="/etc/kube")
    executor = app._make_executor()
    assert isinstance(executor, KubernetesExecutor)
    assert (executor.namespace, executor.queue_name, executor.kubeconfig) == (
        "science", "gpu-queue", "/etc/kube")
