"""The Job and Secret of one run: valid for the API server, and carrying the runner's contract."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import kubernetes_validate
import pytest
from kubernetes.client import ApiClient

from nagelfluh_lab.cluster.manifests import (
    job_manifest,
    job_name,
    owner_reference,
    run_labels,
    run_selector,
    schema_job_manifest,
    schema_job_name,
    secret_manifest,
    storage_credentials,
    storage_secret_name,
)
from nagelfluh_lab.executors.base import RunKey, RunSpec
from nagelfluh_lab.executors.contract import run_environment
from tests.kubernetes.conftest import INSTALLATION

# The oldest Kubernetes current Kueue supports, and the newest schemas we have.
K8S_VERSIONS = ("1.29", kubernetes_validate.latest_version())
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
S3_ENV = {
    "STORAGE_BASE": "s3://nagelfluh/lab",
    "STORAGE_ENDPOINT": "http://minio.nagelfluh-jobs:9000",
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEXAMPLETOKEN",
    "AWS_DEFAULT_REGION": "eu-central-2",
}


def make_spec(**changes: object) -> RunSpec:
    spec = RunSpec(
        key=RunKey(12, 3),
        project_id=7,
        process_type="fft",
        parameters={"signal": "dataset:4", "window": "hann"},
        input_datasets={"4": {"key": "7/uploads/s.nc", "mime_type": "application/x-netcdf"}},
        cpu=0.5,
        memory=512 * 2**20,
        deadline_seconds=600,
        storage_base="s3://nagelfluh/lab",
        image="registry.example/geo-env:2.1",
        storage_env=dict(S3_ENV),
    )
    return replace(spec, **changes)


SPECS = {
    "s3": make_spec(),
    "file-storage": make_spec(storage_base="file:///data", storage_env={}, image=None),
    "tiny": make_spec(cpu=0.001, memory=16 * 2**20, deadline_seconds=0.01),
    "huge": make_spec(cpu=1024.0, memory=2**50 + 1, deadline_seconds=30 * 86400),
    "long-parameters": make_spec(parameters={"values": list(range(20_000)), "note": "x" * 50_000}),
    "unicode": make_spec(
        process_type="synthetic-survey",
        parameters={
            "site": "Rigi \u2013 Nagelfluh ⛰",
            "名前": "礫岩",
            "emoji": "🪨",
            "nul": "\u0000",
        },
    ),
    "huge-ids": make_spec(key=RunKey(10**80, 10**70), project_id=10**90),
}


def pod_env(job: dict, secret: dict) -> dict[str, str]:
    """The environment the kubelet would give the container, Secret references resolved."""
    env = {}
    for item in job["spec"]["template"]["spec"]["containers"][0]["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret["metadata"]["name"]
            env[item["name"]] = secret["stringData"][ref["key"]]
    return env


def created(job: dict) -> dict:
    """The Job as the API server answers a create: with a uid."""
    return {**job, "metadata": {**job["metadata"], "uid": "0b5c8f5e-0000-4000-8000-000000000001"}}


def run_manifests(spec: RunSpec) -> tuple[dict, dict]:
    name = storage_secret_name(spec.key)
    job = job_manifest(spec, secret_name=name, installation=INSTALLATION)
    owner = owner_reference(created(job))
    return job, secret_manifest(spec, name=name, owner=owner, installation=INSTALLATION)


def job_of(spec: RunSpec, **options: object) -> dict:
    """The Job of ``spec``, its Secret named ``s``."""
    return job_manifest(spec, secret_name="s", installation=INSTALLATION, **options)


def test_job_name_is_process_id_and_version():
    assert job_name(RunKey(12, 3)) == "process-12-v3"


@pytest.mark.parametrize("process_id", [2**63 - 1, 10**60, 10**200])
def test_job_name_of_a_huge_id_is_a_unique_dns_label(process_id):
    names = {
        job_name(RunKey(process_id + delta, version)) for delta in (0, 1) for version in (1, 2)
    }
    assert len(names) == 4
    for name in names:
        assert len(name) <= 63 and DNS_LABEL.match(name), name
        assert name.startswith("process-")


@pytest.mark.parametrize("name", SPECS)
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_run_manifests_pass_strict_schema_validation(name, version):
    for manifest in run_manifests(SPECS[name]):
        kubernetes_validate.validate(manifest, version, strict=True)


@pytest.mark.parametrize("name", SPECS)
def test_run_manifests_survive_the_official_client_models_unchanged(name):
    job, secret = run_manifests(SPECS[name])
    with ApiClient() as client:
        for manifest, model in ((job, "V1Job"), (secret, "V1Secret")):
            # Exactly what the client does with the API server's JSON answer.
            obj = client.deserialize(json.dumps(manifest), model, "application/json")
            assert type(obj).__name__ == model
            assert client.sanitize_for_serialization(obj) == manifest


def test_job_waits_for_kueue_in_its_queue_and_namespace():
    job = job_of(make_spec())
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["metadata"]["namespace"] == "nagelfluh-jobs"
    assert job["spec"]["suspend"] is True
    assert job["metadata"]["labels"] == {
        "nagelfluh.app": "process",
        "process-id": "12",
        "version": "3",
        "project-id": "7",
        "nagelfluh.app/installation": INSTALLATION,
        "kueue.x-k8s.io/queue-name": "nagelfluh-queue",
    }
    assert "annotations" not in job["metadata"]
    # Kueue queues the Job; its pod must not look like a plain pod to queue on its own.
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    assert pod_labels == run_labels(RunKey(12, 3), 7, INSTALLATION)
    other = job_of(make_spec(), namespace="science", queue_name="gpu")
    assert other["metadata"]["namespace"] == "science"
    assert other["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpu"


def test_job_runs_once_within_its_deadline_and_is_cleaned_up_after_an_hour():
    spec = job_of(make_spec(deadline_seconds=600.2))["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["ttlSecondsAfterFinished"] == 3600
    assert spec["activeDeadlineSeconds"] == 601
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    tiny = job_of(make_spec(deadline_seconds=0.01))
    assert tiny["spec"]["activeDeadlineSeconds"] == 1


@pytest.mark.parametrize(
    ("cpu", "memory", "quantities"),
    [
        (0.5, 512 * 2**20, {"cpu": "500m", "memory": "512Mi"}),
        (0.001, 16 * 2**20, {"cpu": "1m", "memory": "16Mi"}),
        (2.25, 3 * 2**30, {"cpu": "2250m", "memory": "3Gi"}),
        (1024.0, 10**9 + 1, {"cpu": "1024000m", "memory": "1000000001"}),
    ],
)
def test_requests_equal_limits_from_the_users_resources(cpu, memory, quantities):
    job = job_of(make_spec(cpu=cpu, memory=memory))
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"requests": quantities, "limits": quantities}


def test_container_runs_the_runner_from_the_environments_image():
    container = job_of(make_spec())["spec"]["template"]["spec"]["containers"][0]
    assert container["name"] == "runner"
    assert container["image"] == "registry.example/geo-env:2.1"
    assert container["command"] == ["python", "-m", "nagelfluh_runner", "run"]
    bootstrap = job_of(make_spec(image=None))
    assert bootstrap["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "nagelfluh-base-runner:latest"
    )


@pytest.mark.parametrize("name", SPECS)
def test_pod_gets_the_same_environment_as_a_local_run_but_the_hosts_own(name):
    spec = SPECS[name]
    env = pod_env(*run_manifests(spec))
    local = run_environment(spec, Path("/scratch"))
    # What the local executor takes from the server's machine stays with the image.
    for host_only in ("PATH", "LANG", "LC_ALL"):
        local.pop(host_only, None)
    assert env == local
    assert json.loads(env["PARAMETERS_JSON"]) == spec.parameters


def test_pod_environment_is_the_runner_contract_with_scratch_as_home():
    spec = make_spec(cpu=2.25)
    assert pod_env(*run_manifests(spec)) == {
        "NAGELFLUH_CONTRACT_VERSION": "1",
        "PROCESS_TYPE": "fft",
        "PROCESS_ID": "12",
        "VERSION": "3",
        "PROJECT_ID": "7",
        "PARAMETERS_JSON": json.dumps(spec.parameters),
        "INPUT_DATASETS_JSON": json.dumps(spec.input_datasets),
        **S3_ENV,
        "HOME": "/scratch",
        "TMPDIR": "/scratch",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "3",
        "OPENBLAS_NUM_THREADS": "3",
        "MKL_NUM_THREADS": "3",
    }


def test_storage_credentials_reach_the_pod_only_through_the_runs_secret():
    spec = make_spec()
    job, secret = run_manifests(spec)
    text = json.dumps(job)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert S3_ENV[name] not in text
    refs = {
        item["name"]: item["valueFrom"]["secretKeyRef"]
        for item in job["spec"]["template"]["spec"]["containers"][0]["env"]
        if "valueFrom" in item
    }
    assert refs == {
        name: {"name": "process-12-v3-storage", "key": name}
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    }
    assert secret["type"] == "Opaque"
    assert secret["stringData"] == storage_credentials(spec)
    assert set(secret["stringData"]) == set(refs)


def test_storage_without_credentials_makes_a_job_that_refers_to_no_secret():
    spec = SPECS["file-storage"]
    job = job_manifest(spec, secret_name="unused", installation=INSTALLATION)
    assert "unused" not in json.dumps(job)
    assert storage_credentials(spec) == {}


def test_secret_is_owned_by_the_created_job_and_labelled_like_it():
    job, secret = run_manifests(make_spec())
    assert secret["metadata"]["namespace"] == job["metadata"]["namespace"]
    assert secret["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "process-12-v3",
            "uid": "0b5c8f5e-0000-4000-8000-000000000001",
            "controller": False,
            "blockOwnerDeletion": False,
        }
    ]
    assert secret["metadata"]["labels"] == job["spec"]["template"]["metadata"]["labels"]


def test_pod_writes_only_to_its_scratch_volume_and_sees_no_cluster_credentials():
    pod = job_of(make_spec(), scratch_size="5Gi")["spec"]["template"]
    spec = pod["spec"]
    container = spec["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["volumeMounts"] == [{"name": "scratch", "mountPath": "/scratch"}]
    assert spec["volumes"] == [{"name": "scratch", "emptyDir": {"sizeLimit": "5Gi"}}]
    assert spec["securityContext"]["runAsUser"] == spec["securityContext"]["fsGroup"] == 1000
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    assert "serviceAccountName" not in spec
    runner = job_of(make_spec(), service_account="nagelfluh-runner")
    assert runner["spec"]["template"]["spec"]["serviceAccountName"] == "nagelfluh-runner"


def _selects(selector: str, labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, _, v in (t.partition("=") for t in selector.split(",")))


@pytest.mark.parametrize("key", [RunKey(12, 3), RunKey(10**80, 10**70)])
def test_run_selector_picks_the_runs_objects_and_no_other_runs(key):
    job, secret = run_manifests(make_spec(key=key))
    selector = run_selector(key, INSTALLATION)
    for labels in (
        job["metadata"]["labels"],
        job["spec"]["template"]["metadata"]["labels"],
        secret["metadata"]["labels"],
    ):
        assert _selects(selector, labels)
        assert all(LABEL_VALUE.match(value) and len(value) <= 63 for value in labels.values())
    for other in (RunKey(key.process_id, key.version + 1), RunKey(key.process_id + 1, key.version)):
        assert not _selects(run_selector(other, INSTALLATION), job["metadata"]["labels"])
    assert not _selects(run_selector(key, "another-database"), job["metadata"]["labels"])


# ---------------------------------------------------------------- schema Jobs


def schema_job(**options: object) -> dict:
    name = schema_job_name("geo-tools", "registry.example/geo:2.1", 3, INSTALLATION)
    return schema_job_manifest(
        name, "geo-tools", "registry.example/geo:2.1", deadline_seconds=600,
        installation=INSTALLATION, **options
    )


@pytest.mark.parametrize("queue_name", [None, "nagelfluh-queue"])
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_schema_jobs_pass_strict_schema_validation(queue_name, version):
    kubernetes_validate.validate(
        schema_job(queue_name=queue_name, service_account="nagelfluh-runner"), version, strict=True
    )


def test_schema_job_name_is_a_dns_label_of_environment_image_attempt_and_installation():
    names = {
        schema_job_name(env, image, attempt, installation)
        for env in ("geo", "g" * 63)
        for image in ("geo:1", "geo:2")
        for attempt in (1, 2)
        for installation in (INSTALLATION, "another-database")
    }
    assert len(names) == 16
    for name in names:
        assert len(name) <= 63 and DNS_LABEL.match(name), name
        assert name.startswith("schema-g")
    assert schema_job_name("geo", "geo:1", 1, INSTALLATION) == schema_job_name(
        "geo", "geo:1", 1, INSTALLATION)


def test_schema_job_runs_the_schema_command_once_unqueued_within_its_deadline():
    job = schema_job()
    spec = job["spec"]
    [container] = spec["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "nagelfluh_runner", "schema"]
    assert container["image"] == "registry.example/geo:2.1"
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (0, 600)
    assert spec["ttlSecondsAfterFinished"] > 0
    assert "suspend" not in spec
    assert job["metadata"]["labels"] == {"nagelfluh.app": "schema", "environment": "geo-tools",
                                         "nagelfluh.app/installation": INSTALLATION}
    assert spec["template"]["metadata"]["labels"] == job["metadata"]["labels"]


def test_a_queue_name_queues_the_schema_job_suspended_like_a_run():
    job = schema_job(queue_name="system-queue")
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "system-queue"
    assert job["spec"]["suspend"] is True
    assert "kueue.x-k8s.io/queue-name" not in job["spec"]["template"]["metadata"]["labels"]


def test_schema_pod_is_locked_down_like_a_runs_and_gets_nothing_but_a_scratch_home():
    pod = schema_job(cpu="250m", memory="256Mi")["spec"]["template"]["spec"]
    run = job_of(make_spec())["spec"]["template"]["spec"]
    [container] = pod["containers"]
    [run_container] = run["containers"]
    assert pod["securityContext"] == run["securityContext"]
    assert container["securityContext"] == run_container["securityContext"]
    assert pod["automountServiceAccountToken"] is False
    assert container["volumeMounts"] == run_container["volumeMounts"]
    assert container["resources"]["requests"] == container["resources"]["limits"] == {
        "cpu": "250m", "memory": "256Mi"}
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["HOME"] == env["TMPDIR"] == container["workingDir"] == "/scratch"
    assert env["PYTHONWARNINGS"] == "ignore"
    assert not [name for name in env if name.startswith(("AWS_", "STORAGE_"))]
