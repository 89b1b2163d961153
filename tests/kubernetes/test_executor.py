"""The Kubernetes executor end to end against the simulated cluster: Jobs created,
queued by Kueue, run by the simulated kubelet, watched, logged, cancelled, and
picked up again by a new executor after a restart."""

from __future__ import annotations

import asyncio
import json
import logging
import textwrap
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from nagelfluh_lab.cluster.executor import KubernetesExecutor
from nagelfluh_lab.cluster.manifests import job_name, storage_secret_name
from nagelfluh_lab.executors.base import LogTail, RunKey, RunOutcome, RunSpec
from tests.executors.conftest import RecordingEvents
from tests.kubernetes.conftest import INSTALLATION
from tests.kubernetes.sim import NAMESPACE, SimCluster
from tests.kubernetes.test_sim import gone, knobs

MIB = 1 << 20
# The container runs the ``code`` parameter (the contract passes parameters in
# PARAMETERS_JSON): each test writes the process it needs.
SCRIPT = ["python", "-c",
          "import json, os; exec(json.loads(os.environ['PARAMETERS_JSON'])['code'])"]
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIATEST", "AWS_SECRET_ACCESS_KEY": "secret"}


@pytest.fixture
def events() -> RecordingEvents:
    return RecordingEvents()


Make = Callable[..., Awaitable[KubernetesExecutor]]


@pytest.fixture
def make_executor(kubeconfig: Path, events: RecordingEvents, started: Callable) -> Make:
    """``await make_executor(**traits)``: a started executor on the simulated cluster
    (fast reconnection), reporting to ``events`` unless given others; stopped afterwards."""

    async def make(recorder: RecordingEvents = events, **traits: Any) -> KubernetesExecutor:
        settings = {"kubeconfig": str(kubeconfig), "command": SCRIPT, "installation": INSTALLATION,
                    "watch_backoff_seconds": 0.05, "watch_backoff_max_seconds": 0.5, **traits}
        executor = KubernetesExecutor(**settings)
        executor.bind(recorder)
        return await started(executor)

    return make


@pytest.fixture
def make_spec(tmp_path: Path) -> Callable[..., RunSpec]:
    """Specs with distinct keys running ``code`` (dedented) in the container."""
    count = 0

    def make(code: str = "", **fields: Any) -> RunSpec:
        nonlocal count
        count += 1
        values: dict = {
            "key": RunKey(count, 1), "project_id": 7, "process_type": "script",
            "parameters": {"code": textwrap.dedent(code)}, "input_datasets": {}, "cpu": 0.5,
            "memory": 256 * MIB, "deadline_seconds": 60.0,
            "storage_base": (tmp_path / "storage").as_uri(), **fields,
        }
        return RunSpec(**values)

    return make


@pytest.fixture
def k8s(k8s_cluster: SimCluster) -> Iterator[Any]:
    """The official client's APIs on the simulated cluster, to look behind the executor."""
    api = k8s_cluster.api_client()
    yield type("K8s", (), {"batch": client.BatchV1Api(api), "core": client.CoreV1Api(api)})
    api.close()


async def eventually(probe: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll ``probe`` (blocking calls run in a thread) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while not (value := await asyncio.to_thread(probe)):
        assert time.monotonic() < deadline, f"not within {timeout} s"
        await asyncio.sleep(0.05)
    return value


# -- states


@knobs(quota={"cpu": "1", "memory": "1Gi"})
async def test_run_waits_with_kueues_message_then_runs_and_completes(
        make_executor, make_spec, events):
    executor = await make_executor()
    first = make_spec("import time; time.sleep(1)", cpu=1.0)
    second = make_spec("print('second ran')", cpu=1.0)
    await executor.submit(first)
    await events.wait_for(lambda: events.payloads(first.key, "started"))

    await executor.submit(second)

    assert await events.finished(second.key) == RunOutcome("completed", exit_code=0)
    assert events.names(second.key) == ["queued", "queued", "queued", "started", "logs",
                                        "finished"]
    assert events.payloads(second.key, "queued") == [
        None,
        "couldn't assign flavors to pod set main: insufficient unused quota for cpu in "
        "flavor default-flavor, 1 more needed",
        None,  # admitted: the message no longer holds
    ]
    assert events.lines(second.key) == ["second ran"]
    assert (await events.finished(first.key)).state == "completed"


async def test_progress_lines_become_progress_events_not_log_lines(
        make_executor, make_spec, events):
    executor = await make_executor()
    spec = make_spec("""
        import time
        for step in (1, 2, 3, 4):
            print('step', step, flush=True)
            print(f'##nagelfluh:progress {step / 4}', flush=True)
            time.sleep(0.1)
    """)
    await executor.submit(spec)

    assert (await events.finished(spec.key)).state == "completed"
    assert events.lines(spec.key) == [f"step {step}" for step in (1, 2, 3, 4)]
    progress = events.payloads(spec.key, "progress")
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert set(progress) <= {0.25, 0.5, 0.75, 1.0}


# -- logs


async def test_log_is_what_the_process_printed_in_order_across_dropped_streams(
        make_executor, make_spec, events, k8s_cluster):
    executor = await make_executor()
    spec = make_spec("""
        import sys, time
        for i in range(600):
            print(f'line {i} ' + 'é' * (i % 7), file=sys.stderr if i % 3 == 0 else sys.stdout,
                  flush=True)
            if i % 20 == 0:
                time.sleep(0.05)
        sys.stdout.write('last line, without a newline')
    """)
    began = time.time()
    await executor.submit(spec)

    for count in (100, 250, 400):
        await events.wait_for(lambda count=count: len(events.lines(spec.key)) >= count)
        assert k8s_cluster.cut_log_streams() == 1

    assert (await events.finished(spec.key)).state == "completed"
    expected = [f"line {i} " + "é" * (i % 7) for i in range(600)]
    assert events.lines(spec.key) == [*expected, "last line, without a newline"]
    times = [line.time for line in events.log_lines(spec.key)]
    assert times == sorted(times) and began - 1 <= times[0] <= times[-1] <= time.time()
    assert times[0] == round(times[0], 3)  # the kubelet's time, cut to milliseconds
    assert events.names(spec.key)[-2:] == ["logs", "finished"]


# -- watches


async def test_watches_come_back_after_drops_and_re_list_when_history_is_gone(
        make_executor, make_spec, events, k8s_cluster, caplog):
    caplog.set_level(logging.INFO, logger="nagelfluh_lab.cluster.watch")
    # Reconnecting late, the watches miss the run's end, and then find their
    # resourceVersion compacted away: only a new list can show how it ended.
    executor = await make_executor(watch_backoff_seconds=1.0)
    spec = make_spec("import time; print('working', flush=True); time.sleep(0.3)")
    await executor.submit(spec)
    await events.wait_for(lambda: events.payloads(spec.key, "started"))

    k8s_cluster.compact_history()
    assert k8s_cluster.cut_watches() == 3

    assert await events.finished(spec.key) == RunOutcome("completed", exit_code=0)
    assert events.lines(spec.key) == ["working"]
    assert "expired (410 Gone): listing again" in caplog.text
    second = make_spec("print('after the storm')")
    await executor.submit(second)
    assert (await events.finished(second.key)).state == "completed"


# -- how runs fail


async def test_deadline_fails_the_run_with_reason_deadline(
        make_executor, make_spec, events, k8s_cluster):
    k8s_cluster.knobs.time_scale = 0.05
    executor = await make_executor()
    spec = make_spec("import time; print('slow', flush=True); time.sleep(60)",
                     deadline_seconds=20)

    await executor.submit(spec)

    assert await events.finished(spec.key) == RunOutcome(
        "failed", "deadline", "Deadline of 20 s exceeded: process stopped")
    assert events.names(spec.key) == ["queued", "started", "logs", "finished"]


async def test_memory_beyond_the_limit_fails_the_run_with_reason_oom(
        make_executor, make_spec, events):
    executor = await make_executor()
    spec = make_spec("""
        import time
        held = []
        for _ in range(300):
            held.append(b'x' * (1 << 20))
            time.sleep(0.002)
        time.sleep(30)
    """, memory=64 * MIB)

    await executor.submit(spec)

    assert await events.finished(spec.key) == RunOutcome(
        "failed", "oom", "Out of memory: the process needed more than its limit of 64Mi", 137)


async def test_failing_process_fails_the_run_with_its_exit_code(
        make_executor, make_spec, events):
    executor = await make_executor()
    spec = make_spec("import sys; print('giving up'); sys.exit(5)")

    await executor.submit(spec)

    assert await events.finished(spec.key) == RunOutcome(
        "failed", "error", "Exited with code 5", 5)
    assert events.lines(spec.key) == ["giving up"]


async def test_image_that_cannot_be_pulled_fails_the_run_with_reason_image(
        make_executor, make_spec, events, k8s_cluster, k8s):
    k8s_cluster.knobs.time_scale = 0.05
    image = "registry.example/nagelfluh-env:404"
    k8s_cluster.missing_images.add(image)
    executor = await make_executor(image_pull_grace_seconds=0.5)
    spec = make_spec("print('never')", image=image)

    await executor.submit(spec)

    outcome = await events.finished(spec.key)
    assert (outcome.state, outcome.reason) == ("failed", "image")
    assert outcome.message.startswith(f"The image {image} cannot be pulled: ErrImagePull: ")
    assert outcome.message.endswith(f"{image}: not found")
    assert "started" not in events.names(spec.key)
    await eventually(lambda: gone(lambda: k8s.batch.read_namespaced_job(
        job_name(spec.key), NAMESPACE)))


# -- preemption


async def test_preempted_run_is_queued_again_with_kueues_message_then_completes(
        make_executor, make_spec, events, k8s_cluster):
    k8s_cluster.knobs.time_scale = 0.05
    executor = await make_executor()
    spec = make_spec("import time; print('attempt', flush=True); time.sleep(1)")
    await executor.submit(spec)
    await events.wait_for(lambda: events.lines(spec.key) == ["attempt"])

    await asyncio.to_thread(k8s_cluster.evict, job_name(spec.key), NAMESPACE, 0.3)

    assert await events.finished(spec.key) == RunOutcome("completed", exit_code=0)
    names = events.names(spec.key)
    assert names[:4] == ["queued", "started", "logs", "queued"]
    assert names[-3:] == ["started", "logs", "finished"]
    # The Job watch may show the Job suspended before the Workload watch shows why.
    assert any(message and message.startswith("Preempted to accommodate a workload")
               for message in events.payloads(spec.key, "queued")[1:])
    assert events.lines(spec.key) == ["attempt", "attempt"]  # the second pod starts over


# -- cancel


async def test_cancel_deletes_job_pod_and_secret_and_ends_the_run_cancelled(
        make_executor, make_spec, events, k8s):
    executor = await make_executor()
    spec = make_spec("import time; print('started', flush=True); time.sleep(60)",
                     storage_env=CREDENTIALS)
    await executor.submit(spec)
    await events.wait_for(lambda: events.lines(spec.key) == ["started"])
    name = job_name(spec.key)
    secret = k8s.core.read_namespaced_secret(storage_secret_name(spec.key), NAMESPACE)
    assert secret.metadata.owner_references[0].name == name

    assert await executor.cancel(spec.key) is True

    assert await events.finished(spec.key) == RunOutcome(
        "failed", "cancelled", "Process cancelled by user")
    assert events.names(spec.key) == ["queued", "started", "logs", "finished"]
    await eventually(lambda: gone(lambda: k8s.batch.read_namespaced_job(name, NAMESPACE)))
    await eventually(lambda: not k8s.core.list_namespaced_pod(
        NAMESPACE, label_selector=f"job-name={name}").items)
    await eventually(lambda: gone(lambda: k8s.core.read_namespaced_secret(
        storage_secret_name(spec.key), NAMESPACE)))
    assert await executor.cancel(spec.key) is False  # reported: no longer this executor's


@knobs(quota={"cpu": "1", "memory": "1Gi"})
async def test_cancel_of_a_queued_run_deletes_its_job_before_it_runs(
        make_executor, make_spec, events, k8s):
    executor = await make_executor()
    too_big = make_spec("print('never')", cpu=2.0)
    await executor.submit(too_big)
    await events.wait_for(lambda: len(events.payloads(too_big.key, "queued")) == 2)

    assert await executor.cancel(too_big.key) is True

    assert (await events.finished(too_big.key)).reason == "cancelled"
    assert events.names(too_big.key) == ["queued", "queued", "finished"]
    assert "request > maximum capacity (2 > 1)" in events.payloads(too_big.key, "queued")[1]
    await eventually(lambda: gone(lambda: k8s.batch.read_namespaced_job(
        job_name(too_big.key), NAMESPACE)))


async def test_cancel_of_an_unknown_run_is_refused(make_executor):
    executor = await make_executor()
    assert await executor.cancel(RunKey(404, 1)) is False


# -- creation


async def test_job_the_api_refuses_fails_the_run_with_the_servers_message(
        k8s_cluster, make_executor, make_spec, events, tmp_path):
    config = json.loads(k8s_cluster.write_kubeconfig(tmp_path / "wrong").read_text())
    config["users"][0]["user"]["token"] = "not-the-token"
    wrong = tmp_path / "wrong"
    wrong.write_text(json.dumps(config))
    executor = await make_executor(kubeconfig=str(wrong))
    spec = make_spec("print('never')")

    await executor.submit(spec)

    assert await events.finished(spec.key) == RunOutcome(
        "failed", "error", "Could not create the Job: Unauthorized")


# -- restart


async def test_new_executor_recovers_a_running_job_without_repeating_stored_lines(
        make_executor, make_spec, events):
    before = await make_executor()
    spec = make_spec("""
        import time
        for i in range(30):
            print('line', i, flush=True)
            time.sleep(0.05)
    """)
    await before.submit(spec)
    await events.wait_for(lambda: len(events.lines(spec.key)) >= 5)
    await before.stop()  # the server stops; the Job runs on
    stored = events.log_lines(spec.key)
    tail = LogTail(stored[-1].time, sum(line.time == stored[-1].time for line in stored))

    after_events = RecordingEvents()
    after = await make_executor(after_events)
    assert await after.recover(spec.key, spec, tail) is True

    assert await after_events.finished(spec.key) == RunOutcome("completed", exit_code=0)
    assert [line.line for line in stored] + after_events.lines(spec.key) == [
        f"line {i}" for i in range(30)]
    assert await after.recover(RunKey(404, 1), spec) is False  # its Job is gone


@knobs(quota={"cpu": "1", "memory": "1Gi"})
async def test_resubmitted_queued_run_takes_over_the_job_a_previous_server_made(
        make_executor, make_spec, events, k8s):
    before = await make_executor()
    blocker = make_spec("import time; time.sleep(1)", cpu=1.0)
    waiting = make_spec("print('ran once')", cpu=1.0, storage_env=CREDENTIALS)
    await before.submit(blocker)
    await events.wait_for(lambda: events.payloads(blocker.key, "started"))
    await before.submit(waiting)
    await events.wait_for(lambda: len(events.payloads(waiting.key, "queued")) == 2)
    await before.stop()

    after_events = RecordingEvents()
    after = await make_executor(after_events)
    await after.submit(waiting)

    assert await after_events.finished(waiting.key) == RunOutcome("completed", exit_code=0)
    assert after_events.lines(waiting.key) == ["ran once"]
    jobs = k8s.batch.list_namespaced_job(NAMESPACE, label_selector="nagelfluh.app=process")
    assert sorted(job.metadata.name for job in jobs.items) == [
        job_name(blocker.key), job_name(waiting.key)]


# -- other installations (databases) in the namespace, whose process ids repeat ours

OTHER = "another-database"


async def test_finished_job_of_another_installation_is_replaced_by_this_ones_own_run(
        make_executor, make_spec, events, k8s):
    theirs_events = RecordingEvents()
    theirs = await make_executor(theirs_events, installation=OTHER)
    key = RunKey(1, 1)
    await theirs.submit(make_spec("print('their run')", key=key, storage_env=CREDENTIALS))
    assert (await theirs_events.finished(key)).state == "completed"
    await theirs.stop()
    executor = await make_executor()

    await executor.submit(make_spec("print('our run', flush=True)", key=key,
                                    storage_env=CREDENTIALS))

    assert await events.finished(key) == RunOutcome("completed", exit_code=0)
    assert events.lines(key) == ["our run"]
    assert events.names(key) == ["queued", "started", "logs", "finished"]
    job = k8s.batch.read_namespaced_job(job_name(key), NAMESPACE)
    secret = k8s.core.read_namespaced_secret(storage_secret_name(key), NAMESPACE)
    assert job.metadata.labels["nagelfluh.app/installation"] == INSTALLATION
    assert secret.metadata.labels["nagelfluh.app/installation"] == INSTALLATION
    assert secret.metadata.owner_references[0].uid == job.metadata.uid


async def test_running_job_of_another_installation_fails_the_version_and_is_left_alone(
        make_executor, make_spec, events, k8s):
    theirs_events = RecordingEvents()
    theirs = await make_executor(theirs_events, installation=OTHER)
    key = RunKey(1, 1)
    their_spec = make_spec("import time; print('theirs', flush=True); time.sleep(1)", key=key)
    await theirs.submit(their_spec)
    await theirs_events.wait_for(lambda: theirs_events.lines(key) == ["theirs"])
    executor = await make_executor()

    await executor.submit(make_spec("print('ours')", key=key))

    outcome = await events.finished(key)
    assert (outcome.state, outcome.reason) == ("failed", "conflict")
    assert "The Job process-1-v1 in namespace nagelfluh-jobs belongs to another " \
        "installation (nagelfluh.app/installation=another-database" in outcome.message
    assert events.names(key) == ["finished"]
    assert await theirs_events.finished(key) == RunOutcome("completed", exit_code=0)
    assert theirs_events.lines(key) == ["theirs"]
    job = k8s.batch.read_namespaced_job(job_name(key), NAMESPACE)
    assert job.metadata.labels["nagelfluh.app/installation"] == OTHER


async def test_restart_does_not_recover_the_job_of_another_installation(
        make_executor, make_spec, events, k8s):
    theirs = await make_executor(RecordingEvents(), installation=OTHER)
    spec = make_spec("import time; time.sleep(5)")
    await theirs.submit(spec)
    await eventually(lambda: k8s.batch.list_namespaced_job(NAMESPACE).items)
    executor = await make_executor()

    assert await executor.recover(spec.key, spec) is False
    assert events.calls == []
