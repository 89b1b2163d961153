"""Talking to the API server: a client, errors, streamed GETs, and reading what it answers.

Shared by the executor, its watches and log followers, and the schema extractor.
Objects are read as plain dicts, as the API sends them (``ApiClient.sanitize_for_serialization``
turns the client's models into the same).
"""

from __future__ import annotations

import json
import os
import re
import socket
from typing import Any

from kubernetes import config
from kubernetes.client import ApiClient, Configuration, V1Job
from kubernetes.client.exceptions import ApiException
from urllib3 import BaseHTTPResponse

from .setup import KubeObject

CONNECT_SECONDS = 10.0
# Waiting reasons of a container whose image cannot be had.
IMAGE_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName"})


def connect(kubeconfig: str, pool_size: int) -> ApiClient:
    """A client of the cluster ``kubeconfig`` names; without one, of the cluster this
    server runs in (its pod's service account), else of the default kubeconfig."""
    configuration = Configuration()
    if kubeconfig:
        config.load_kube_config(kubeconfig, client_configuration=configuration)
    elif "KUBERNETES_SERVICE_HOST" in os.environ:
        config.load_incluster_config(client_configuration=configuration)
    else:
        config.load_kube_config(client_configuration=configuration)
    configuration.connection_pool_maxsize = pool_size
    return ApiClient(configuration)


def request(
    api: ApiClient, path: str, query: list[tuple[str, Any]], timeout: tuple[float, float]
) -> BaseHTTPResponse:
    """GET ``path`` unread, for streaming (the caller closes it); raises ApiException
    for an error status. The generated methods cannot stream every query
    (``sinceTime`` has no parameter), so watches and logs share this."""
    method, url, headers, _, _ = api.param_serialize(
        "GET", path, query_params=query, auth_settings=["BearerToken"]
    )
    response = api.call_api(method, url, headers, _request_timeout=timeout).response
    if not 200 <= response.status < 300:
        try:
            raise ApiException(http_resp=response)
        finally:
            response.release_conn()
    return response


def interrupt(response: BaseHTTPResponse | None) -> None:
    """Unblock a thread reading ``response``: shut its socket down (closing it from
    another thread would not wake a blocked read)."""
    sock = getattr(getattr(response, "connection", None), "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def api_message(error: BaseException) -> str:
    """What went wrong, in the API server's words when it answered."""
    if isinstance(error, ApiException):
        try:
            return json.loads(error.body or "")["message"]
        except (TypeError, ValueError, KeyError):
            return f"{error.status} {error.reason}"
    return str(error) or type(error).__name__


def not_found(error: Exception) -> bool:
    return isinstance(error, ApiException) and error.status == 404


# ------------------------------------------------------------------ reading objects


def condition(obj: KubeObject | None, kind: str) -> KubeObject | None:
    if obj is None:
        return None
    return next(
        (c for c in obj.get("status", {}).get("conditions") or [] if c["type"] == kind), None
    )


def _is_true(obj: KubeObject | None, kind: str) -> bool:
    found = condition(obj, kind)
    return found is not None and found["status"] == "True"


def job_ended(job: KubeObject) -> str | None:
    """``Complete`` or ``Failed`` once the Job has ended."""
    return next((kind for kind in ("Complete", "Failed") if _is_true(job, kind)), None)


def job_labels(job: V1Job) -> dict[str, str]:
    """The labels of a Job as the client's model holds it."""
    return (job.metadata.labels if job.metadata is not None else None) or {}


def container_status(pod: KubeObject) -> KubeObject:
    """The status of the pod's (only) container; empty before it has one."""
    return (pod.get("status", {}).get("containerStatuses") or [{}])[0]


_PINNED = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


def pinned_image(pods: list[KubeObject]) -> str | None:
    """The image the last of ``pods`` to start ran, pinned by digest (``name@sha256:...``),
    from its container status's ``imageID`` as kubelets report it (Docker's
    ``docker-pullable://name@sha256:...``, containerd's ``registry/name@sha256:...``).
    None if none started, or its runtime reports no repository digest (an image only
    present locally): a digest that cannot be pulled again pins nothing."""
    for pod in reversed(pods):
        image_id = container_status(pod).get("imageID") or ""
        reference = image_id.partition("://")[2] if "://" in image_id else image_id
        if _PINNED.match(reference):
            return reference
    return None


def pull_failure(pods: list[KubeObject]) -> KubeObject | None:
    """The waiting state (reason, message) of a live pod that cannot pull its image."""
    for pod in pods:
        waiting = container_status(pod).get("state", {}).get("waiting", {})
        if "deletionTimestamp" not in pod["metadata"] and waiting.get("reason") in IMAGE_REASONS:
            return waiting
    return None
