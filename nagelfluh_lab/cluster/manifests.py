"""The Kubernetes objects of one run (DESIGN §3), as plain dicts: pure functions, no API calls.

The executor creates them in this order:

1. the Job, suspended, so that nothing runs before Kueue admits it (and nothing
   at all on a cluster without Kueue's webhook, which would otherwise run it unqueued);
2. the Secret with the storage credentials, owned by the created Job
   (``owner_reference(job)`` needs its uid), so the garbage collector deletes it
   with the Job, whether the TTL, a cancel or an admin removes that;
3. nothing more: Kueue unsuspends the Job when the quota admits it.

If creating the Secret fails, the executor deletes the Job. The pod refers to
the Secret's keys without ``optional``, so a pod admitted before its Secret
exists waits in CreateContainerConfigError (the kubelet retries) rather than
running without credentials.

Registering an environment by image runs one more kind of Job,
:func:`schema_job_manifest`: ``python -m nagelfluh_runner schema`` in that image.

Every object carries the label :data:`INSTALLATION_LABEL`: the id of the database
whose server made it. Job names come from process ids and versions, which every
database counts from 1, and a finished Job stays an hour (its TTL); the label is
how a server tells its own Jobs from those of another database in the namespace
(a fresh one, or a second installation), which it must never adopt.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

from ..executors.base import RunKey, RunSpec
from ..executors.contract import BOOTSTRAP_IMAGE, run_environment
from ..resources import format_memory
from .setup import APP_LABEL, NAMESPACE, QUEUE_LABEL, QUEUE_NAME, KubeObject

INSTALLATION_LABEL = "nagelfluh.app/installation"

APP = "process"
SCHEMA_APP = "schema"
CONTAINER = "runner"
COMMAND = ["python", "-m", "nagelfluh_runner", "run"]
SCHEMA_COMMAND = ["python", "-m", "nagelfluh_runner", "schema"]
SCRATCH = "/scratch"
RUNNER_UID = 1000
TTL_SECONDS_AFTER_FINISHED = 3600
# The server deletes a schema Job once it has read it; the TTL only covers a server gone meanwhile.
SCHEMA_TTL_SECONDS_AFTER_FINISHED = 600
# Storage environment that goes into the run's Secret, never inline in the Job:
# anyone who may read Jobs would otherwise read the credentials too.
CREDENTIAL_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# What the contract's environment takes from the server's machine (see run_environment).
_HOST_ONLY = frozenset({"PATH", "LANG", "LC_ALL"})

_MAX_LABEL = 63  # a DNS-1123 label (names of Jobs) and a label value have the same limit
_DIGEST = 16


_LABEL_VALUE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def check_installation(installation: str) -> None:
    """Raise unless ``installation`` can be the value of :data:`INSTALLATION_LABEL`:
    without one, Jobs of every database would look alike."""
    if len(installation) > _MAX_LABEL or not _LABEL_VALUE.fullmatch(installation):
        raise ValueError(f"The installation id {installation!r} is not a label value")


def _fit(text: str) -> str:
    """``text`` if it fits 63 characters, else a stable shortening that stays unique."""
    if len(text) <= _MAX_LABEL:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:_DIGEST]
    return f"{text[: _MAX_LABEL - _DIGEST - 1]}-{digest}"


def job_name(key: RunKey) -> str:
    """``process-{id}-v{version}``: the name of the run's Job (a DNS-1123 label)."""
    return _fit(str(key))


def storage_secret_name(key: RunKey) -> str:
    """The run's Secret; a Secret name may be longer than a Job's, so the suffix always fits."""
    return f"{job_name(key)}-storage"


def _key_labels(key: RunKey, installation: str) -> dict[str, str]:
    return {
        APP_LABEL: APP,
        INSTALLATION_LABEL: installation,
        "process-id": _fit(str(key.process_id)),
        "version": _fit(str(key.version)),
    }


def labelled_run(labels: dict[str, str]) -> RunKey | None:
    """The run whose key ``labels`` (a Job's) carry, if they carry one."""
    try:
        return RunKey(int(labels["process-id"]), int(labels["version"]))
    except (KeyError, ValueError):
        return None


def run_labels(key: RunKey, project_id: int, installation: str) -> dict[str, str]:
    """Labels of every object of a run (Job, pod, Secret): what watches select on."""
    return {**_key_labels(key, installation), "project-id": _fit(str(project_id))}


def run_selector(key: RunKey, installation: str) -> str:
    """The label selector of one run's objects (Job, pod, Secret)."""
    return selector(_key_labels(key, installation))


def selector(labels: dict[str, str]) -> str:
    """An equality-based label selector of ``labels``."""
    return ",".join(f"{name}={value}" for name, value in labels.items())


def cpu_quantity(cores: float) -> str:
    """Cores as millicores (``0.5`` → ``"500m"``): exact at the precision parse_cpu keeps."""
    return f"{max(1, round(cores * 1000))}m"


def storage_credentials(spec: RunSpec) -> dict[str, str]:
    """The credentials in the run's storage environment: the Secret's contents.

    Empty for storage that needs none in the pod (e.g. workload identity), in
    which case the executor may skip the Secret: the Job then refers to none.
    """
    return {name: spec.storage_env[name] for name in CREDENTIAL_KEYS if name in spec.storage_env}


def _env(spec: RunSpec, secret_name: str) -> list[KubeObject]:
    """The run's environment as the contract gives it (``run_environment``, the local
    executor's too, so both keep one contract); minus what it copies from the
    server's machine (the image brings its own), and with the credentials as
    references into the run's Secret."""
    values = run_environment(spec, Path(SCRATCH))
    env: list[KubeObject] = [
        {"name": name, "value": value}
        for name, value in values.items()
        if name not in _HOST_ONLY and name not in CREDENTIAL_KEYS
    ]
    env += [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": name}}}
        for name in storage_credentials(spec)
    ]
    return env


def job_manifest(
    spec: RunSpec,
    *,
    secret_name: str,
    installation: str,
    namespace: str = NAMESPACE,
    queue_name: str = QUEUE_NAME,
    service_account: str | None = None,
    scratch_size: str = "1Gi",
) -> KubeObject:
    """The ``batch/v1`` Job that runs one version, suspended until Kueue admits it.

    ``secret_name`` is the run's Secret (:func:`secret_manifest`) the storage
    credentials come from; ``installation`` the id of the server's database. The
    pod runs as uid 1000 on a read-only root filesystem; ``/scratch`` (HOME, TMPDIR,
    working directory) is its only writable place, an ``emptyDir`` of at most
    ``scratch_size``.
    """
    labels = run_labels(spec.key, spec.project_id, installation)
    quantities = {"cpu": cpu_quantity(spec.cpu), "memory": format_memory(spec.memory)}
    container = _container(
        spec.image or BOOTSTRAP_IMAGE, COMMAND, _env(spec, secret_name), quantities
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(spec.key),
            "namespace": namespace,
            "labels": {**labels, QUEUE_LABEL: queue_name},
        },
        "spec": {
            "suspend": True,
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": TTL_SECONDS_AFTER_FINISHED,
            "activeDeadlineSeconds": max(1, math.ceil(spec.deadline_seconds)),
            # The pod does not carry the queue label: Kueue queues the Job, and its
            # pod integration (when enabled) must not take the pod for a plain one.
            "template": {
                "metadata": {"labels": labels},
                "spec": _pod_spec(container, service_account, scratch_size),
            },
        },
    }


def _container(
    image: str, command: list[str], env: list[KubeObject], quantities: dict[str, str]
) -> KubeObject:
    """The one container of a pod: ``command`` in ``image``, requests = limits, locked down."""
    return {
        "name": CONTAINER,
        "image": image,
        # Images side-loaded into kind/k3d exist only locally: ":latest" must not force a pull.
        "imagePullPolicy": "IfNotPresent",
        "command": list(command),
        "workingDir": SCRATCH,
        "env": env,
        "resources": {"requests": dict(quantities), "limits": dict(quantities)},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "scratch", "mountPath": SCRATCH}],
    }


def _pod_spec(container: KubeObject, service_account: str | None, scratch_size: str) -> KubeObject:
    """A pod that meets the "restricted" Pod Security Standard, with ``/scratch`` to write."""
    pod_spec: KubeObject = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNNER_UID,
            "runAsGroup": RUNNER_UID,
            "fsGroup": RUNNER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": scratch_size}}],
    }
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    return pod_spec


def owner_reference(job: KubeObject) -> KubeObject:
    """An ownerReference to a created Job (it needs the uid the API server gave it).

    Pass the created Job as a dict, e.g. ``ApiClient().sanitize_for_serialization(v1_job)``.
    """
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": job["metadata"]["name"],
        "uid": job["metadata"]["uid"],
        "controller": False,
        "blockOwnerDeletion": False,
    }


def secret_manifest(
    spec: RunSpec,
    *,
    name: str,
    owner: KubeObject,
    installation: str,
    namespace: str = NAMESPACE,
) -> KubeObject:
    """The ``v1`` Secret holding the run's :func:`storage_credentials`.

    ``owner`` is :func:`owner_reference` of the run's created Job, so the Secret
    goes with it (and cannot be made before it). The credentials come from the
    spec, as the Job's references to them do, so the two cannot disagree.
    """
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": run_labels(spec.key, spec.project_id, installation),
            "ownerReferences": [owner],
        },
        "type": "Opaque",
        "stringData": storage_credentials(spec),
    }


def schema_job_name(environment: str, image: str, attempt: int, installation: str) -> str:
    """``schema-{environment}-{hash}``, the hash of the image, the registration attempt
    and the installation.

    A server restarted mid-registration finds the Job of its attempt again, while a
    new attempt (say, the same tag pushed anew) never takes over an older one's output,
    nor does another installation (whose attempts count from 1 too).
    """
    digest = hashlib.sha256(f"{image}\n{attempt}\n{installation}".encode()).hexdigest()[:8]
    return _fit(f"{SCHEMA_APP}-{environment}-{digest}")


def schema_labels(environment: str, installation: str) -> dict[str, str]:
    """Labels of a schema Job and its pod; not ``nagelfluh.app=process``, so the run
    watches never see them."""
    return {
        APP_LABEL: SCHEMA_APP,
        INSTALLATION_LABEL: installation,
        "environment": _fit(environment),
    }


def schema_job_manifest(
    name: str,
    environment: str,
    image: str,
    *,
    deadline_seconds: int,
    installation: str,
    namespace: str = NAMESPACE,
    queue_name: str | None = None,
    service_account: str | None = None,
    command: list[str] = SCHEMA_COMMAND,
    cpu: str = "500m",
    memory: str = "512Mi",
) -> KubeObject:
    """The ``batch/v1`` Job that prints the process types ``image`` offers.

    The pod is locked down like a run's, and gets no storage credentials nor
    parameters: only a scratch HOME, and ``PYTHONWARNINGS=ignore`` so that
    warnings at import time do not mix with the JSON on the log. A failing
    container's last log lines (unbuffered, so in the order they were written)
    become its termination message, which the server shows the user.

    It is not queued through Kueue unless ``queue_name`` is given: it is a system
    Job of a small fixed size that a user waits for, and queued it would wait
    behind hours of admitted runs whenever the quota is full. Where Kueue manages
    every Job (``manageJobsWithoutQueueName: true``), an unlabelled Job would stay
    suspended forever: name a LocalQueue there, and the Job is queued (and
    suspended until admitted) like a run's.
    """
    labels = schema_labels(environment, installation)
    env = [
        {"name": "HOME", "value": SCRATCH},
        {"name": "TMPDIR", "value": SCRATCH},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        {"name": "PYTHONWARNINGS", "value": "ignore"},
    ]
    container = _container(image, command, env, {"cpu": cpu, "memory": memory})
    container["terminationMessagePolicy"] = "FallbackToLogsOnError"
    spec: KubeObject = {
        "backoffLimit": 0,
        "ttlSecondsAfterFinished": SCHEMA_TTL_SECONDS_AFTER_FINISHED,
        "activeDeadlineSeconds": deadline_seconds,
        "template": {
            "metadata": {"labels": labels},
            "spec": _pod_spec(container, service_account, "256Mi"),
        },
    }
    job_labels = dict(labels)
    if queue_name:
        job_labels[QUEUE_LABEL] = queue_name
        spec = {"suspend": True, **spec}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": job_labels},
        "spec": spec,
    }
