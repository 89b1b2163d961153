"""Schema extraction on Kubernetes: a short Job runs ``python -m nagelfluh_runner schema``
in the environment's image (``manifests.schema_job_manifest``), its pod log is the output.

Registrations are rare and take seconds to minutes, so the Job and its pod are
polled instead of watched: one GET and one LIST a second, and nothing to resume
after a dropped watch. The Job is deleted once it has been read, whatever the
outcome; a server stopped meanwhile leaves it to the next one, which takes it up
again (same attempt, same name) or to its TTL.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kubernetes.client import ApiClient, BatchV1Api, CoreV1Api
from kubernetes.client.exceptions import ApiException
from traitlets import Float, Int, List, Unicode, default
from urllib3 import BaseHTTPResponse

from ..executors.schema import Extracted, SchemaExtractionFailed, SchemaExtractor
from .api import (
    api_message,
    condition,
    connect,
    container_status,
    job_ended,
    job_labels,
    not_found,
    pinned_image,
    pull_failure,
)
from .manifests import (
    CONTAINER,
    SCHEMA_COMMAND,
    check_installation,
    schema_job_manifest,
    schema_job_name,
    schema_labels,
)
from .setup import NAMESPACE, RUNNER_ACCOUNT, KubeObject

# The output of `schema` is a few KiB per type; more than this is not a schema listing.
MAX_OUTPUT_BYTES = 8 * 2**20
CONNECTION_POOL_SIZE = 4


class KubernetesSchemaExtractor(SchemaExtractor):
    """Extracts schemas with a Job per registration, in the namespace of the runs."""

    namespace = Unicode(help="Namespace of the schema Jobs; by default the runs'.").tag(config=True)
    kubeconfig = Unicode(help="kubeconfig file; by default the Kubernetes executor's.").tag(
        config=True
    )
    queue_name = Unicode(
        "",
        help="Kueue LocalQueue to queue schema Jobs in; empty: not queued. Set it where "
        "Kueue manages every Job (manageJobsWithoutQueueName), or they never start.",
    ).tag(config=True)
    service_account = Unicode(
        RUNNER_ACCOUNT, help="Service account the schema pods run as (empty: the default)."
    ).tag(config=True)
    command = List(
        Unicode(), default_value=SCHEMA_COMMAND, help="The command that prints the types."
    ).tag(config=True)
    cpu = Unicode("500m", help="CPU request and limit of a schema pod.").tag(config=True)
    memory = Unicode("512Mi", help="Memory request and limit of a schema pod.").tag(config=True)
    deadline_seconds = Int(
        600, help="activeDeadlineSeconds of a schema Job; pulling a large image counts."
    ).tag(config=True)
    image_pull_grace_seconds = Float(
        120.0, help="How long the image may fail to pull before the registration fails."
    ).tag(config=True)
    start_margin_seconds = Float(
        60.0,
        help="How long a schema Job may wait to start (for a node, or for Kueue), beyond "
        "the pull grace and its deadline, before the registration fails.",
    ).tag(config=True)
    poll_seconds = Float(1.0, help="Seconds between looks at a schema Job.").tag(config=True)
    installation = Unicode(
        help="The database's id (by default the parent's, the server's database), in the "
        "schema Jobs' names and labels: other databases count registration attempts too."
    )

    @default("namespace")
    def _default_namespace(self) -> str:
        return getattr(self.parent, "namespace", NAMESPACE)

    @default("kubeconfig")
    def _default_kubeconfig(self) -> str:
        return getattr(self.parent, "kubeconfig", "")

    @default("installation")
    def _default_installation(self) -> str:
        return getattr(self.parent, "installation", "")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._api: ApiClient | None = None

    async def start(self) -> None:
        check_installation(self.installation)
        self._api = await asyncio.to_thread(connect, self.kubeconfig, CONNECTION_POOL_SIZE)
        self._batch = BatchV1Api(self._api)
        self._core = CoreV1Api(self._api)

    async def stop(self) -> None:
        if self._api is not None:
            self._api.close()

    async def extract(self, environment: str, image: str, attempt: int) -> Extracted:
        name = schema_job_name(environment, image, attempt, self.installation)
        await self._create(name, environment, image)
        try:
            output = await self._output(name, image)
        except Exception:
            await self._delete(name)
            raise
        await self._delete(name)
        return output

    async def _create(self, name: str, environment: str, image: str) -> None:
        """Create the Job, or take over the one this attempt made before a restart."""
        manifest = schema_job_manifest(
            name,
            environment,
            image,
            deadline_seconds=self.deadline_seconds,
            installation=self.installation,
            namespace=self.namespace,
            queue_name=self.queue_name or None,
            service_account=self.service_account or None,
            command=list(self.command),
            cpu=self.cpu,
            memory=self.memory,
        )
        try:
            try:
                await asyncio.to_thread(
                    self._batch.create_namespaced_job,
                    self.namespace,
                    # The client takes a manifest as a dict too, though it annotates its
                    # parameter as the model only (and serialises a dict as it is).
                    manifest,  # type: ignore[arg-type]
                )
                return
            except ApiException as error:
                if error.status != 409:
                    raise
            existing = await asyncio.to_thread(
                self._batch.read_namespaced_job, name, self.namespace
            )
        except Exception as error:
            raise SchemaExtractionFailed(
                f"Could not create the schema Job {name}: {api_message(error)}"
            ) from error
        if schema_labels(environment, self.installation).items() - job_labels(existing).items():
            raise SchemaExtractionFailed(f"A Job named {name} exists already, for something else")

    async def _output(self, name: str, image: str) -> Extracted:
        """The log of the Job's pod once it completed, and the image it ran by digest;
        raises how it failed otherwise."""
        patience = self.deadline_seconds + self.image_pull_grace_seconds + self.start_margin_seconds
        give_up = time.monotonic() + patience
        pull_since: float | None = None
        pull_message = ""
        seen = "not seen yet"
        while True:
            try:
                job, pods = await self._look(name)
            except Exception as error:
                if not_found(error):
                    raise SchemaExtractionFailed(
                        f"The schema Job {name} was deleted before it ended"
                    ) from error
                self.log.warning("cannot look at the schema Job %s: %s", name, api_message(error))
                seen = f"the API server answered: {api_message(error)}"
            else:
                ended = job_ended(job)
                if ended == "Complete":
                    if not pods:
                        raise SchemaExtractionFailed(
                            f"The schema Job {name} completed, but its pod is gone with its log"
                        )
                    output = await self._read_log(pods[-1]["metadata"]["name"])
                    return Extracted(output, pinned_image(pods[-1:]))
                if ended == "Failed":
                    raise SchemaExtractionFailed(self._failure(job, pods))
                waiting = pull_failure(pods)
                if waiting is None:
                    pull_since = None
                else:
                    now = time.monotonic()
                    pull_since = now if pull_since is None else pull_since
                    # ImagePullBackOff only says "Back-off pulling image"; ErrImagePull says why.
                    if not pull_message or waiting["reason"] != "ImagePullBackOff":
                        pull_message = f"{waiting['reason']}: {waiting.get('message', '')}"
                    if now - pull_since >= self.image_pull_grace_seconds:
                        raise SchemaExtractionFailed(
                            f"The image {image} cannot be pulled: {pull_message}"
                        )
                seen = _progress(job, pods)
            if time.monotonic() >= give_up:
                raise SchemaExtractionFailed(
                    f"The schema Job {name} did not finish within {patience:g} s ({seen})"
                )
            await asyncio.sleep(self.poll_seconds)

    async def _look(self, name: str) -> tuple[KubeObject, list[KubeObject]]:
        """The Job and its pods (oldest first), read in that order so that the pods
        are at least as recent as the Job."""
        job = await asyncio.to_thread(self._batch.read_namespaced_job, name, self.namespace)
        listed = await asyncio.to_thread(
            self._core.list_namespaced_pod, self.namespace, label_selector=f"job-name={name}"
        )
        assert self._api is not None  # connected by start()
        pods = self._api.sanitize_for_serialization(listed.items)
        pods.sort(key=lambda pod: pod["metadata"].get("creationTimestamp", ""))
        return self._api.sanitize_for_serialization(job), pods

    async def _read_log(self, pod: str) -> str:
        """The pod's whole log, unparsed (the client would parse JSON and answer its repr)."""
        try:
            # Unread (_preload_content=False), the client answers the urllib3 response,
            # not the str its annotation promises.
            response: BaseHTTPResponse = await asyncio.to_thread(
                self._core.read_namespaced_pod_log,  # type: ignore[arg-type]
                pod,
                self.namespace,
                container=CONTAINER,
                limit_bytes=MAX_OUTPUT_BYTES + 1,
                _preload_content=False,
            )
            try:
                data = response.data
            finally:
                response.release_conn()
        except Exception as error:
            raise SchemaExtractionFailed(
                f"Could not read the log of {pod}: {api_message(error)}"
            ) from error
        if len(data) > MAX_OUTPUT_BYTES:
            raise SchemaExtractionFailed(
                f"{' '.join(self.command)} printed more than {MAX_OUTPUT_BYTES >> 20} MiB"
            )
        return data.decode("utf-8", "replace")

    def _failure(self, job: KubeObject, pods: list[KubeObject]) -> str:
        """How the Job failed, with what its container said last."""
        command = " ".join(self.command)
        failed = condition(job, "Failed") or {}
        if failed.get("reason") == "DeadlineExceeded":
            return f"{command} did not finish within {self.deadline_seconds} s"
        for pod in reversed(pods):
            terminated = container_status(pod).get("state", {}).get("terminated")
            if terminated is None:
                continue
            if terminated.get("reason") == "OOMKilled":
                return f"{command} ran out of memory (limit {self.memory})"
            exited = f"{command} exited with code {terminated.get('exitCode')}"
            said = (terminated.get("message") or "").strip()
            if not said:
                return exited
            # The last line says what went wrong (a traceback's exception); all of it follows.
            last = said.splitlines()[-1].strip()
            return f"{exited}: {last}" if last == said else f"{exited}: {last}\n\n{said}"
        return failed.get("message") or "The schema Job failed"

    async def _delete(self, name: str) -> None:
        """Delete the Job with its pod; gone already is as good, and a failure only
        leaves it to its TTL."""
        try:
            await asyncio.to_thread(
                self._batch.delete_namespaced_job,
                name,
                self.namespace,
                propagation_policy="Background",
            )
        except Exception as error:
            if not not_found(error):
                self.log.warning("cannot delete the schema Job %s: %s", name, api_message(error))


def _progress(job: KubeObject, pods: list[KubeObject]) -> str:
    """Where a Job that has not ended stands, for a message."""
    if job["spec"].get("suspend"):
        return "its Job is suspended, waiting for Kueue"
    if not pods:
        return "it has no pod yet"
    waiting = container_status(pods[-1]).get("state", {}).get("waiting")
    if waiting:
        return f"its pod waits: {waiting.get('reason')} {waiting.get('message', '')}".strip()
    return f"its pod is {pods[-1].get('status', {}).get('phase', 'Pending')}"
