"""The simulated cluster against the official ``kubernetes`` client: what the
Kubernetes executor relies on behaves as it does on a real cluster."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import urllib3
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from nagelfluh_runner.protocol import MANIFEST_NAME, PROGRESS_PREFIX, version_prefix

from nagelfluh_lab.cluster.manifests import (
    job_manifest,
    owner_reference,
    secret_manifest,
    storage_secret_name,
)
from nagelfluh_lab.executors.base import RunKey, RunSpec
from tests.kubernetes.conftest import INSTALLATION
from tests.kubernetes.sim import NAMESPACE

QUEUE = "nagelfluh-queue"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
IMAGE = "nagelfluh-base-runner:latest"
KUEUE = ("kueue.x-k8s.io", "v1beta1", NAMESPACE, "workloads")
# The kubelet's timestamps=true prefix: RFC 3339 with a fixed nine-digit fraction.
TIMESTAMPED = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (.*)$")


def python(script: str) -> list[str]:
    return ["python", "-c", script]


def job_body(name: str, command: list[str], *, cpu: str = "250m", memory: str = "128Mi",
             deadline: int = 600, ttl: int | None = None, image: str = IMAGE,
             env: dict[str, str] | None = None, secret: str | None = None,
             queue: str | None = QUEUE) -> dict:
    """A Job shaped like the executor's: suspended, queued, requests = limits, a
    scratch emptyDir as HOME and working directory, credentials from a Secret."""
    labels = {"nagelfluh.app": "process", "process-id": name}
    variables = [{"name": "HOME", "value": "/scratch"}, {"name": "TMPDIR", "value": "/scratch"}]
    variables += [{"name": key, "value": value} for key, value in (env or {}).items()]
    if secret:
        variables.append({"name": "AWS_ACCESS_KEY_ID", "valueFrom": {
            "secretKeyRef": {"name": secret, "key": "AWS_ACCESS_KEY_ID"}}})
    quantities = {"cpu": cpu, "memory": memory}
    spec: dict[str, Any] = {
        "suspend": True, "backoffLimit": 0, "activeDeadlineSeconds": deadline,
        "template": {"metadata": {"labels": labels}, "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "runner", "image": image, "command": command, "workingDir": "/scratch",
                "env": variables,
                "resources": {"requests": quantities, "limits": dict(quantities)},
                "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
            }],
            "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}],
        }},
    }
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    queue_labels = {QUEUE_LABEL: queue} if queue else {}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "labels": {**labels, **queue_labels}}, "spec": spec}


def secret_body(name: str, owner: client.V1Job, key_id: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": name, "ownerReferences": [{
            "apiVersion": "batch/v1", "kind": "Job", "name": owner.metadata.name,
            "uid": owner.metadata.uid, "controller": False, "blockOwnerDeletion": False}]},
        "type": "Opaque", "stringData": {"AWS_ACCESS_KEY_ID": key_id}}


@pytest.fixture
def k8s(k8s_cluster) -> Iterator[SimpleNamespace]:
    api = k8s_cluster.api_client()
    yield SimpleNamespace(api=api, batch=client.BatchV1Api(api), core=client.CoreV1Api(api),
                          custom=client.CustomObjectsApi(api), cluster=k8s_cluster)
    api.close()


def knobs(**values: Any) -> pytest.MarkDecorator:
    """Start this test's ``k8s_cluster`` with other knobs."""
    return pytest.mark.parametrize("k8s_cluster", [values], indirect=True, ids=[",".join(values)])


def eventually(probe: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll ``probe`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.02)
    return value


def pods(k8s, job: str) -> list[client.V1Pod]:
    return k8s.core.list_namespaced_pod(NAMESPACE, label_selector=f"job-name={job}").items


def running_pod(k8s, job: str) -> client.V1Pod:
    return eventually(lambda: next(
        (pod for pod in pods(k8s, job) if pod.status.phase == "Running"), None))


def workload(k8s, job: str) -> dict | None:
    """The Job's Workload, found by a label Kueue copied from the Job."""
    items = k8s.custom.list_namespaced_custom_object(*KUEUE, label_selector=f"process-id={job}")
    return items["items"][0] if items["items"] else None


def condition(obj: Any, kind: str) -> Any:
    """A condition of a model (Job) or a dict (Workload), or None."""
    if isinstance(obj, dict):
        return next((c for c in obj.get("status", {}).get("conditions", [])
                     if c["type"] == kind), None)
    return next((c for c in obj.status.conditions or [] if c.type == kind), None)


def is_true(obj: Any, kind: str) -> bool:
    found = condition(obj, kind)
    return found is not None and (found["status"] if isinstance(found, dict)
                                  else found.status) == "True"


def finished(k8s, job: str, timeout: float = 15.0) -> client.V1Job:
    """The Job once it is Complete or Failed."""
    def done() -> client.V1Job | None:
        current = k8s.batch.read_namespaced_job(job, NAMESPACE)
        return current if is_true(current, "Complete") or is_true(current, "Failed") else None

    return eventually(done, timeout)


def gone(read: Callable[[], Any]) -> bool:
    try:
        read()
    except ApiException as error:
        assert error.status == 404
        return True
    return False


def log_lines(response: Any) -> Iterator[tuple[str, str]]:
    """(timestamp, text) of each line of a streamed ``timestamps=true`` log."""
    for line in watch.watch.iter_resp_lines(response):
        stamp, text = TIMESTAMPED.match(line).groups()
        yield stamp, text


def follow_since(k8s, pod: str, since: str) -> Any:
    """A followed log from ``sinceTime`` (the generated client has no parameter for it)."""
    method, url, headers, _, _ = k8s.api.param_serialize(
        "GET", "/api/v1/namespaces/{namespace}/pods/{name}/log",
        path_params={"namespace": NAMESPACE, "name": pod},
        query_params=[("follow", True), ("timestamps", True), ("sinceTime", since)],
        auth_settings=["BearerToken"])
    return k8s.api.call_api(method, url, headers, _request_timeout=20).response


# -- the API server


def test_created_job_is_stamped_defaulted_and_suspended_for_kueue(k8s):
    body = job_body("stamped", python("pass"), queue="nowhere")
    body["spec"].pop("suspend")
    created = k8s.batch.create_namespaced_job(NAMESPACE, body)

    meta = created.metadata
    assert meta.uid and meta.creation_timestamp and meta.generation == 1
    assert int(meta.resource_version) > 0
    assert created.spec.suspend is True  # Kueue's webhook suspends queued Jobs
    assert created.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": meta.uid}
    assert created.spec.template.metadata.labels["job-name"] == "stamped"
    assert k8s.batch.read_namespaced_job("stamped", NAMESPACE).metadata.uid == meta.uid

    with pytest.raises(ApiException) as duplicate:
        k8s.batch.create_namespaced_job(NAMESPACE, body)
    status = json.loads(duplicate.value.body)
    assert (duplicate.value.status, status["kind"], status["reason"]) == (
        409, "Status", "AlreadyExists")
    with pytest.raises(ApiException) as missing:
        k8s.batch.read_namespaced_job("nope", NAMESPACE)
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["message"] == 'jobs.batch "nope" not found'


def test_invalid_job_is_rejected_with_422_and_its_causes(k8s):
    body = job_body("Not_A_Name", python("pass"))
    pod_spec = body["spec"]["template"]["spec"]
    pod_spec["restartPolicy"] = "Always"
    del pod_spec["containers"][0]["image"]

    with pytest.raises(ApiException) as invalid:
        k8s.batch.create_namespaced_job(NAMESPACE, body)

    status = json.loads(invalid.value.body)
    assert (invalid.value.status, status["reason"]) == (422, "Invalid")
    assert {cause["field"] for cause in status["details"]["causes"]} == {
        "metadata.name", "spec.template.spec.restartPolicy",
        "spec.template.spec.containers[0].image"}
    assert status["message"].startswith('Job.batch "Not_A_Name" is invalid: [')


def test_requests_without_the_token_are_unauthorized(k8s_cluster):
    configuration = k8s_cluster.configuration()
    configuration.api_key = {"BearerToken": "wrong"}
    with client.ApiClient(configuration) as api, pytest.raises(ApiException) as denied:
        client.BatchV1Api(api).list_namespaced_job(NAMESPACE)
    assert denied.value.status == 401


def test_kubeconfig_points_a_client_at_the_cluster(k8s, kubeconfig):
    k8s.batch.create_namespaced_job(NAMESPACE, job_body("via-config", python("pass"),
                                                        queue="nowhere"))
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    with client.ApiClient(configuration) as api:
        jobs = client.BatchV1Api(api).list_namespaced_job(NAMESPACE).items
    assert [job.metadata.name for job in jobs] == ["via-config"]


def test_lists_filter_by_label_and_field_selectors(k8s):
    for name, tier in (("alpha", "web"), ("beta", "db"), ("gamma", None)):
        body = job_body(name, python("pass"), queue="nowhere")
        if tier:
            body["metadata"]["labels"]["tier"] = tier
        k8s.batch.create_namespaced_job(NAMESPACE, body)

    def names(**selectors: str) -> list[str]:
        return [job.metadata.name for job in
                k8s.batch.list_namespaced_job(NAMESPACE, **selectors).items]

    assert names(label_selector="tier=web") == ["alpha"]
    assert names(label_selector="tier!=web") == ["beta", "gamma"]  # also without the label
    assert names(label_selector="tier") == ["alpha", "beta"]
    assert names(label_selector="!tier") == ["gamma"]
    assert names(label_selector="tier in (web, db),process-id notin (beta)") == ["alpha"]
    assert names(label_selector="nagelfluh.app=process,tier==db") == ["beta"]
    assert names(field_selector="metadata.name=gamma") == ["gamma"]
    listed = k8s.batch.list_namespaced_job(NAMESPACE)
    assert int(listed.metadata.resource_version) >= max(
        int(job.metadata.resource_version) for job in listed.items)
    message = condition(eventually(lambda: (wl := workload(k8s, "alpha")) and condition(
        wl, "QuotaReserved") and wl), "QuotaReserved")["message"]
    assert message == "LocalQueue nowhere doesn't exist"


def test_patch_resumes_a_job_and_status_is_only_the_controllers(k8s):
    k8s.batch.create_namespaced_job(NAMESPACE, job_body("manual", python("pass"), queue=None))
    time.sleep(0.2)
    assert pods(k8s, "manual") == []  # suspended: no pod

    patched = k8s.batch.patch_namespaced_job(
        "manual", NAMESPACE, {"spec": {"suspend": False}, "status": {"succeeded": 7}})

    assert (patched.spec.suspend, patched.metadata.generation) == (False, 2)
    assert patched.status.succeeded is None  # status goes through /status only
    assert finished(k8s, "manual").status.succeeded == 1
    relabelled = k8s.batch.patch_namespaced_job("manual", NAMESPACE,
                                                {"metadata": {"labels": {"seen": "yes"}}})
    assert (relabelled.metadata.labels["seen"], relabelled.metadata.generation) == ("yes", 2)


# -- a run, watched and logged


def test_pod_watch_follows_a_run_from_pending_to_succeeded(k8s):
    script = ("import json, os\n"
              "print(json.dumps({key: os.environ.get(key) for key in ('GREETING', "
              "'AWS_ACCESS_KEY_ID')}))\n"
              "print(os.getcwd() == os.environ['HOME'] != '/scratch', os.path.isdir('.'))")
    job = k8s.batch.create_namespaced_job(NAMESPACE, job_body(
        "watched", python(script), env={"GREETING": "hello"}, secret="watched-storage"))
    k8s.core.create_namespaced_secret(NAMESPACE, secret_body("watched-storage", job, "AKIA1"))

    seen = []
    stream = watch.Watch()
    for event in stream.stream(k8s.core.list_namespaced_pod, NAMESPACE,
                               label_selector="job-name=watched", timeout_seconds=20):
        pod = event["object"]
        seen.append((event["type"], pod.status.phase))
        if pod.status.phase == "Succeeded":
            stream.stop()

    assert seen[0][0] == "ADDED"
    phases = [phase for _, phase in seen]
    assert phases.index("Pending") < phases.index("Running") < phases.index("Succeeded")
    assert pod.metadata.name.startswith("watched-") and len(pod.metadata.name) == 13
    assert pod.metadata.labels["controller-uid"] == job.metadata.uid
    assert pod.metadata.labels["batch.kubernetes.io/job-name"] == "watched"
    assert pod.metadata.labels["process-id"] == "watched"
    owner = pod.metadata.owner_references[0]
    assert (owner.kind, owner.uid, owner.controller) == ("Job", job.metadata.uid, True)
    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.reason, terminated.exit_code) == ("Completed", 0)
    assert terminated.started_at <= terminated.finished_at

    assert k8s.core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE).splitlines() == [
        '{"GREETING": "hello", "AWS_ACCESS_KEY_ID": "AKIA1"}', "True True"]
    done = finished(k8s, "watched")
    assert is_true(done, "SuccessCriteriaMet") and is_true(done, "Complete")
    assert (done.status.succeeded, done.status.active) == (1, None)
    assert condition(eventually(lambda: is_true(wl := workload(k8s, "watched"), "Finished")
                                and wl), "Finished")["reason"] == "Succeeded"


def counting_pod(k8s, job: str, count: int, pause: float) -> str:
    """Run a Job printing ``line 0``, ``line 1``, ... (odd ones to stderr) ``pause`` s
    apart; returns its pod's name once it runs."""
    script = ("import sys, time\n"
              f"for i in range({count}):\n"
              "    print(f'line {i}', file=sys.stderr if i % 2 else sys.stdout, flush=True)\n"
              f"    time.sleep({pause})")
    k8s.batch.create_namespaced_job(NAMESPACE, job_body(job, python(script)))
    return running_pod(k8s, job).metadata.name


def follow(k8s, pod: str) -> Any:
    return k8s.core.read_namespaced_pod_log(pod, NAMESPACE, follow=True, timestamps=True,
                                            _preload_content=False, _request_timeout=20)


def test_followed_log_streams_timestamped_lines_until_the_container_ends(k8s):
    name = counting_pod(k8s, "logged", 5, 0.2)

    lines = []
    for stamp, text in log_lines(follow(k8s, name)):
        if not lines:
            phase = k8s.core.read_namespaced_pod(name, NAMESPACE).status.phase
        lines.append((stamp, text))

    assert phase == "Running"  # lines arrive while the process runs
    assert [text for _, text in lines] == [f"line {i}" for i in range(5)]
    assert [stamp for stamp, _ in lines] == sorted(stamp for stamp, _ in lines)
    assert k8s.core.read_namespaced_pod(name, NAMESPACE).status.phase == "Succeeded"
    assert k8s.core.read_namespaced_pod_log(name, NAMESPACE, tail_lines=2) == "line 3\nline 4\n"
    assert k8s.core.read_namespaced_pod_log(name, NAMESPACE, since_seconds=60).count("\n") == 5


def test_cut_log_stream_resumes_from_the_last_timestamp_without_gaps(k8s):
    name = counting_pod(k8s, "cut-log", 8, 0.15)
    received = []
    with pytest.raises(urllib3.exceptions.ProtocolError):
        for line in log_lines(follow(k8s, name)):
            received.append(line)
            if len(received) == 3:
                assert k8s.cluster.cut_log_streams() == 1

    last = received[-1][0]
    resumed = list(log_lines(follow_since(k8s, name, last)))

    # sinceTime reaches the kubelet in whole seconds: the client drops what it has seen
    assert resumed[0][0] <= last
    received += [line for line in resumed if line[0] > last]
    assert [text for _, text in received] == [f"line {i}" for i in range(8)]


def test_cut_watch_fails_the_stream_and_resumes_from_its_resource_version(k8s):
    k8s.batch.create_namespaced_job(NAMESPACE, job_body(
        "cut-watch", python("import time; time.sleep(0.5)")))
    stream = watch.Watch()
    events = []
    with pytest.raises(urllib3.exceptions.ProtocolError):
        for event in stream.stream(k8s.core.list_namespaced_pod, NAMESPACE,
                                   label_selector="job-name=cut-watch", _request_timeout=20):
            events.append(event)
            if len(events) == 1:
                assert k8s.cluster.cut_watches() == 1

    resumed = watch.Watch()
    for event in resumed.stream(k8s.core.list_namespaced_pod, NAMESPACE,
                                label_selector="job-name=cut-watch",
                                resource_version=stream.resource_version, timeout_seconds=20):
        events.append(event)
        if event["object"].status.phase == "Succeeded":
            resumed.stop()

    versions = [int(event["object"].metadata.resource_version) for event in events]
    assert versions == sorted(set(versions))  # nothing twice, nothing out of order
    assert events[-1]["object"].status.phase == "Succeeded"


def test_watch_ended_cleanly_is_resumed_by_the_client_itself(k8s):
    k8s.batch.create_namespaced_job(NAMESPACE, job_body(
        "clean-cut", python("import time; time.sleep(1)")))
    stream = watch.Watch()
    phases = []
    for event in stream.stream(k8s.core.list_namespaced_pod, NAMESPACE,
                               label_selector="job-name=clean-cut", _request_timeout=20):
        phases.append(event["object"].status.phase)
        if len(phases) == 1:
            assert k8s.cluster.cut_watches(clean=True) == 1
        if phases[-1] == "Succeeded":
            stream.stop()
    assert len(phases) > 1 and phases[-1] == "Succeeded"  # events after the cut arrived


def test_watch_from_compacted_history_gets_410_gone(k8s):
    k8s.batch.create_namespaced_job(NAMESPACE, job_body("old", python("pass"), queue="nowhere"))
    listed = k8s.batch.list_namespaced_job(NAMESPACE).metadata.resource_version
    k8s.cluster.compact_history()

    with pytest.raises(ApiException) as expired:
        for _ in watch.Watch().stream(k8s.batch.list_namespaced_job, NAMESPACE,
                                      resource_version=listed, timeout_seconds=5):
            pass
    assert expired.value.status == 410 and expired.value.reason.startswith("Expired: ")
    with pytest.raises(ApiException) as workloads_expired:
        for _ in watch.Watch().stream(k8s.custom.list_namespaced_custom_object, *KUEUE,
                                      resource_version=listed, timeout_seconds=5):
            pass
    assert workloads_expired.value.status == 410

    relisted = k8s.batch.list_namespaced_job(NAMESPACE).metadata.resource_version
    k8s.batch.create_namespaced_job(NAMESPACE, job_body("new", python("pass"), queue="nowhere"))
    stream = watch.Watch()
    for event in stream.stream(k8s.batch.list_namespaced_job, NAMESPACE,
                               resource_version=relisted, timeout_seconds=5):
        assert (event["type"], event["object"].metadata.name) == ("ADDED", "new")
        stream.stop()


@knobs(history_size=3, bookmark_seconds=0.05)
def test_bounded_history_expires_old_resource_versions_and_bookmarks_move_on(k8s):
    k8s.core.create_namespaced_secret(NAMESPACE, {"metadata": {"name": "first"}})
    start = k8s.core.list_namespaced_secret(NAMESPACE).metadata.resource_version  # not "0": any
    for i in range(4):
        k8s.core.create_namespaced_secret(NAMESPACE, {"metadata": {"name": f"s{i}"}})

    with pytest.raises(ApiException) as expired:
        list(watch.Watch().stream(k8s.core.list_namespaced_secret, NAMESPACE,
                                  resource_version=start, timeout_seconds=5))
    assert expired.value.status == 410

    latest = k8s.core.list_namespaced_secret(NAMESPACE).metadata.resource_version
    stream = watch.Watch()
    kinds = [event["type"] for event in stream.stream(
        k8s.core.list_namespaced_secret, NAMESPACE, resource_version=str(int(latest) - 1),
        allow_watch_bookmarks=True, timeout_seconds=1)]
    assert kinds[0] == "ADDED" and set(kinds[1:]) == {"BOOKMARK"}
    assert stream.resource_version == latest


# -- Kueue


@knobs(quota={"cpu": "1", "memory": "1Gi"})
def test_kueue_admits_by_quota_and_queues_the_rest_with_its_message(k8s):
    # "second" waits longer than its deadline, which counts admitted time only
    for name, cpu, seconds, deadline in (("first", "1", 1.2, 600), ("second", "1", 0.1, 1),
                                         ("too-big", "2", 0, 600)):
        k8s.batch.create_namespaced_job(NAMESPACE, job_body(
            name, python(f"import time; time.sleep({seconds})"), cpu=cpu, deadline=deadline))

    def waiting_message(job: str) -> str | None:
        found = condition(workload(k8s, job) or {}, "QuotaReserved")
        return found and found["status"] == "False" and found["message"]

    prefix = "couldn't assign flavors to pod set main: "
    assert eventually(lambda: waiting_message("second")) == (
        prefix + "insufficient unused quota for cpu in flavor default-flavor, 1 more needed")
    assert eventually(lambda: waiting_message("too-big")) == (
        prefix + "insufficient quota for cpu in flavor default-flavor, request > maximum "
                 "capacity (2 > 1)")
    assert k8s.batch.read_namespaced_job("second", NAMESPACE).spec.suspend is True
    assert pods(k8s, "second") == []
    admitted = workload(k8s, "first")
    assert is_true(admitted, "QuotaReserved") and is_true(admitted, "Admitted")
    assert admitted["status"]["admission"]["podSetAssignments"][0]["resourceUsage"] == {
        "cpu": "1", "memory": "128Mi"}
    assert admitted["metadata"]["ownerReferences"][0]["name"] == "first"
    assert admitted["metadata"]["labels"][QUEUE_LABEL] == QUEUE

    eventually(lambda: is_true(workload(k8s, "second"), "Admitted"))
    assert is_true(k8s.batch.read_namespaced_job("first", NAMESPACE), "Complete")
    assert is_true(finished(k8s, "second"), "Complete")
    assert not is_true(workload(k8s, "too-big"), "QuotaReserved")


def test_eviction_suspends_the_job_removes_its_pod_and_requeues_it(k8s):
    k8s.batch.create_namespaced_job(NAMESPACE, job_body(
        "victim", python("import time; print('started', flush=True); time.sleep(30)")))
    first_pod = running_pod(k8s, "victim").metadata.name
    history = []
    stream = watch.Watch()
    events = stream.stream(k8s.custom.list_namespaced_custom_object, *KUEUE,
                           label_selector="process-id=victim", timeout_seconds=20)
    next(events)  # the current state, before the eviction

    k8s.cluster.evict("victim", requeue_after=0.5)

    for event in events:
        history.append(event["object"])
        evicted = condition(event["object"], "Evicted")
        if is_true(event["object"], "Admitted") and evicted["status"] == "False":
            stream.stop()  # admitted again
    evicted = next(wl for wl in history if is_true(wl, "Evicted"))
    assert condition(evicted, "Evicted")["reason"] == "Preempted"
    requeued = next(wl for wl in history if condition(wl, "QuotaReserved")["status"] == "False")
    assert is_true(requeued, "Evicted") and not is_true(requeued, "Admitted")
    readmitted = history[-1]
    assert condition(readmitted, "Evicted")["status"] == "False"
    assert condition(readmitted, "Evicted")["message"].startswith("Previously: Preempted")

    assert gone(lambda: k8s.core.read_namespaced_pod(first_pod, NAMESPACE))
    second_pod = running_pod(k8s, "victim").metadata.name
    assert second_pod != first_pod
    job = k8s.batch.read_namespaced_job("victim", NAMESPACE)
    assert job.spec.suspend is False and job.status.failed is None  # not a failure
    assert condition(job, "Suspended").reason == "JobResumed"


# -- how runs end


def test_deadline_fails_the_job_with_deadline_exceeded_and_removes_the_pod(k8s):
    k8s.batch.create_namespaced_job(NAMESPACE, job_body(
        "slow", python("import time; time.sleep(30)"), deadline=1))
    running_pod(k8s, "slow")

    job = finished(k8s, "slow")

    assert is_true(job, "Failed") and condition(job, "Failed").reason == "DeadlineExceeded"
    assert condition(job, "FailureTarget").reason == "DeadlineExceeded"
    assert eventually(lambda: pods(k8s, "slow") == [])
    ended = eventually(lambda: is_true(wl := workload(k8s, "slow"), "Finished") and wl)
    assert condition(ended, "Finished")["reason"] == "Failed"
    assert condition(ended, "Finished")["message"] == (
        "Job was active longer than specified deadline")


def test_memory_beyond_the_limit_is_oom_killed(k8s):
    script = ("import time\nheld = []\nfor _ in range(300):\n"
              "    held.append(b'x' * (1 << 20))\n    time.sleep(0.002)\ntime.sleep(30)")
    k8s.batch.create_namespaced_job(NAMESPACE, job_body("hungry", python(script), memory="64Mi"))

    job = finished(k8s, "hungry")

    assert condition(job, "Failed").reason == "BackoffLimitExceeded"
    (pod,) = pods(k8s, "hungry")
    assert pod.status.phase == "Failed"
    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.reason, terminated.exit_code) == ("OOMKilled", 137)


@knobs(time_scale=0.1)
def test_missing_image_waits_in_err_image_pull_until_it_exists(k8s):
    image = "registry.example/nagelfluh-env:7"
    k8s.cluster.missing_images.add(image)
    k8s.batch.create_namespaced_job(NAMESPACE, job_body("pull", python("print('ran')"),
                                                        image=image))

    def waiting(reason: str) -> Any:
        for pod in pods(k8s, "pull"):
            state = (pod.status.container_statuses or [None])[0]
            if state and state.state.waiting and state.state.waiting.reason == reason:
                return state.state.waiting
        return None

    assert image in eventually(lambda: waiting("ErrImagePull")).message
    assert eventually(lambda: waiting("ImagePullBackOff")).message == (
        f'Back-off pulling image "{image}"')
    with pytest.raises(ApiException) as not_started:
        k8s.core.read_namespaced_pod_log(pods(k8s, "pull")[0].metadata.name, NAMESPACE)
    assert not_started.value.status == 400 and "is waiting to start" in json.loads(
        not_started.value.body)["message"]

    k8s.cluster.missing_images.discard(image)
    assert is_true(finished(k8s, "pull"), "Complete")


@knobs(time_scale=0.1)
def test_pod_waits_for_its_secret_in_create_container_config_error(k8s):
    job = k8s.batch.create_namespaced_job(NAMESPACE, job_body(
        "early", python("import os; print(os.environ['AWS_ACCESS_KEY_ID'])"),
        secret="early-storage"))

    def config_error() -> str | None:
        for pod in pods(k8s, "early"):
            waiting = (pod.status.container_statuses or [None])[0]
            if waiting and waiting.state.waiting and waiting.state.waiting.reason == (
                "CreateContainerConfigError"
            ):
                return waiting.state.waiting.message
        return None

    assert eventually(config_error) == 'secret "early-storage" not found'
    k8s.core.create_namespaced_secret(NAMESPACE, secret_body("early-storage", job, "AKIA2"))
    finished(k8s, "early")
    assert k8s.core.read_namespaced_pod_log(pods(k8s, "early")[0].metadata.name,
                                            NAMESPACE) == "AKIA2\n"


# -- deletion


def test_background_deletion_kills_the_pod_and_collects_pod_secret_and_workload(k8s):
    job = k8s.batch.create_namespaced_job(NAMESPACE, job_body(
        "doomed", python("import time; time.sleep(30)")))
    k8s.core.create_namespaced_secret(NAMESPACE, secret_body("doomed-storage", job, "AKIA3"))
    pod = running_pod(k8s, "doomed")
    stream = watch.Watch()
    events = stream.stream(k8s.core.list_namespaced_pod, NAMESPACE,
                           label_selector="job-name=doomed", timeout_seconds=20)
    next(events)

    k8s.batch.delete_namespaced_job("doomed", NAMESPACE, propagation_policy="Background")

    assert gone(lambda: k8s.batch.read_namespaced_job("doomed", NAMESPACE))
    for event in events:
        if event["type"] == "DELETED":
            stream.stop()
    last = event["object"]
    assert last.metadata.name == pod.metadata.name and last.metadata.deletion_timestamp
    terminated = last.status.container_statuses[0].state.terminated
    assert (terminated.reason, terminated.exit_code) == ("Error", 143)  # SIGTERM
    assert eventually(lambda: gone(lambda: k8s.core.read_namespaced_secret(
        "doomed-storage", NAMESPACE)))
    assert eventually(lambda: workload(k8s, "doomed") is None)


def test_deleting_a_job_without_propagation_policy_orphans_its_pod(k8s):
    k8s.batch.create_namespaced_job(NAMESPACE, job_body(
        "parent", python("import time; time.sleep(30)"), queue=None))
    k8s.batch.patch_namespaced_job("parent", NAMESPACE, {"spec": {"suspend": False}})
    pod = running_pod(k8s, "parent")

    k8s.batch.delete_namespaced_job("parent", NAMESPACE)  # batch/v1's default: Orphan

    eventually(lambda: gone(lambda: k8s.batch.read_namespaced_job("parent", NAMESPACE)))
    time.sleep(0.2)
    orphan = k8s.core.read_namespaced_pod(pod.metadata.name, NAMESPACE)
    assert orphan.status.phase == "Running" and not orphan.metadata.owner_references


def test_deletion_with_a_uid_precondition_spares_an_object_of_another_uid(k8s):
    job = k8s.batch.create_namespaced_job(NAMESPACE, job_body("same-name", python("pass")))
    stale = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="another-uid"))

    with pytest.raises(ApiException) as refused:
        k8s.batch.delete_namespaced_job("same-name", NAMESPACE, body=stale)

    assert refused.value.status == 409
    assert k8s.batch.read_namespaced_job("same-name", NAMESPACE).metadata.uid == job.metadata.uid
    exact = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=job.metadata.uid),
                                   propagation_policy="Background")
    k8s.batch.delete_namespaced_job("same-name", NAMESPACE, body=exact)
    assert gone(lambda: k8s.batch.read_namespaced_job("same-name", NAMESPACE))


@knobs(ttl_scale=0.001)
def test_ttl_after_finished_deletes_the_job_with_its_pod_and_secret(k8s):
    job = k8s.batch.create_namespaced_job(NAMESPACE, job_body(
        "short-lived", python("print('done')"), ttl=1000))  # 1 s at this scale
    k8s.core.create_namespaced_secret(NAMESPACE, secret_body("short-lived-storage", job, "K"))

    assert is_true(finished(k8s, "short-lived"), "Complete")

    eventually(lambda: gone(lambda: k8s.batch.read_namespaced_job("short-lived", NAMESPACE)))
    assert eventually(lambda: pods(k8s, "short-lived") == [])
    assert eventually(lambda: gone(lambda: k8s.core.read_namespaced_secret(
        "short-lived-storage", NAMESPACE)))


# -- the executor's manifests and the real runner


def test_executor_manifests_run_the_real_runner_to_completion(k8s, tmp_path: Path):
    storage = tmp_path / "storage"
    spec = RunSpec(key=RunKey(42, 1), project_id=7, process_type="sleep",
                   parameters={"seconds": 1}, input_datasets={}, cpu=0.5, memory=256 << 20,
                   deadline_seconds=60, storage_base=storage.as_uri(),
                   storage_env={"AWS_ACCESS_KEY_ID": "AKIA4", "AWS_SECRET_ACCESS_KEY": "k"})
    secret = storage_secret_name(spec.key)
    job = k8s.batch.create_namespaced_job(
        NAMESPACE, job_manifest(spec, secret_name=secret, installation=INSTALLATION))
    owner = owner_reference(k8s.api.sanitize_for_serialization(job))
    k8s.core.create_namespaced_secret(
        NAMESPACE, secret_manifest(spec, name=secret, owner=owner, installation=INSTALLATION))

    assert is_true(finished(k8s, job.metadata.name, timeout=30), "Complete")

    (pod,) = pods(k8s, job.metadata.name)
    log = k8s.core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE).splitlines()
    assert [line for line in log if not line.startswith(PROGRESS_PREFIX)] == [
        "sleeping 1 s", "tick 1: 1 of 1 s", "done sleeping"]
    manifest = storage / version_prefix(7, 42, 1) / MANIFEST_NAME
    assert json.loads(manifest.read_text())["datasets"] == []
