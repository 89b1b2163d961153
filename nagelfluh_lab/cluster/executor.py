"""The Kubernetes executor: a suspended ``batch/v1`` Job per version, queued by Kueue
(DESIGN §3).

The official client is synchronous, so everything that blocks runs in threads:
three watches keep local copies of the runs' Jobs, Pods and Kueue Workloads
(``watch``), and a follower per pod streams its log (``logs``). Each run
has one asyncio task that turns what the copies show into events; it and the
run's log batcher take turns under one lock, so a run's callbacks are awaited
one at a time, in order, its log lines before its end.

The database is the source of truth: once a run has been reported finished the
executor forgets it, and whatever later happens to its Job (the TTL deleting it)
goes unnoticed.

A Job's name (``process-{id}-v{version}``) is not unique across databases, so the
executor sees, adopts and recovers only Jobs labelled with its own ``installation``
(the database's id): see ``_create_job`` for a Job of another in the way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from kubernetes.client import ApiClient, BatchV1Api, CoreV1Api, V1DeleteOptions, V1Preconditions
from kubernetes.client.exceptions import ApiException
from traitlets import Bool, Float, Int, List, Unicode, default

from ..executors.base import Executor, LogTail, RunKey, RunOutcome, RunSpec
from ..executors.contract import BOOTSTRAP_IMAGE, CANCELLED, exit_outcome
from ..executors.lines import LogBatcher
from ..resources import format_memory
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
from .logs import PodLog
from .manifests import (
    APP,
    COMMAND,
    INSTALLATION_LABEL,
    check_installation,
    job_manifest,
    job_name,
    labelled_run,
    owner_reference,
    run_labels,
    secret_manifest,
    selector,
    storage_credentials,
    storage_secret_name,
)
from .setup import APP_LABEL, KUEUE_API, NAMESPACE, QUEUE_NAME, RUNNER_ACCOUNT, KubeObject
from .watch import Informer, own_name, owner_job

# Connections to the API server: three watches, a log per running pod, and calls.
CONNECTION_POOL_SIZE = 64
# Tries at creating a Job while another installation's finished one is being deleted.
CLAIM_ATTEMPTS = 20
CLAIM_WAIT_SECONDS = 0.5


class KubernetesExecutor(Executor):
    """Runs versions as Kubernetes Jobs, admitted by Kueue."""

    kind = "kubernetes"
    namespace = Unicode(NAMESPACE, help="Namespace of the runs' Jobs.").tag(config=True)
    queue_name = Unicode(QUEUE_NAME, help="Kueue LocalQueue the Jobs are queued in.").tag(
        config=True
    )
    kubeconfig = Unicode(
        "",
        help="Path of a kubeconfig file. Empty: the pod's service account when the server "
        "runs in the cluster, else the default kubeconfig ($KUBECONFIG, ~/.kube/config).",
    ).tag(config=True)
    image = Unicode(
        BOOTSTRAP_IMAGE, help="Image of the versions whose environment names none."
    ).tag(config=True)
    service_account = Unicode(
        RUNNER_ACCOUNT, help="Service account the runs' pods run as (empty: the default)."
    ).tag(config=True)
    command = List(
        Unicode(),
        default_value=COMMAND,
        help="The container's command; the contract's variables tell it what to run.",
    ).tag(config=True)
    allow_local_storage = Bool(
        False,
        help="Accept file:// storage, which pods on a real cluster cannot reach: only "
        "for a simulated cluster whose pods run on this machine (the test suite's).",
    ).tag(config=True)
    log_read_timeout = Float(
        300.0,
        help="Seconds a followed log may stay silent before the stream is reopened "
        "(a dead connection looks like a quiet process).",
    ).tag(config=True)
    log_drain_seconds = Float(
        10.0, help="How long the last pod's log may take to arrive once its Job has ended."
    ).tag(config=True)
    watch_backoff_seconds = Float(
        0.5, help="First wait before reconnecting a dropped watch or log; doubles per failure."
    ).tag(config=True)
    watch_backoff_max_seconds = Float(30.0, help="Longest wait between reconnections.").tag(
        config=True
    )
    watch_timeout_seconds = Int(
        300, help="Server-side timeout of each watch request (it is then renewed)."
    ).tag(config=True)
    image_pull_grace_seconds = Float(
        120.0,
        help="How long a pod may fail to pull its image (registries have bad moments) "
        "before the run fails with reason 'image'.",
    ).tag(config=True)
    installation = Unicode(
        help="The database's id (by default the parent's, the server's database): the "
        "label that tells this server's Jobs from those of other databases."
    )

    @default("installation")
    def _default_installation(self) -> str:
        return getattr(self.parent, "installation", "")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._runs: dict[RunKey, _Run] = {}
        self._by_job: dict[str, _Run] = {}
        self._api: ApiClient | None = None
        self._informers: list[Informer] = []

    # ---------------------------------------------------------------- interface

    def capacity(self) -> None:
        """Unbounded here: Kueue decides. A request beyond the ClusterQueue's quota
        waits with Kueue's message saying so (the server may not read ClusterQueues)."""
        return None

    async def start(self) -> None:
        check_installation(self.installation)
        self._api = await asyncio.to_thread(connect, self.kubeconfig, CONNECTION_POOL_SIZE)
        self._batch = BatchV1Api(self._api)
        self._core = CoreV1Api(self._api)
        own = selector({APP_LABEL: APP, INSTALLATION_LABEL: self.installation})
        prefix = f"/namespaces/{self.namespace}"
        # Kueue copies no Job label to a Workload by default: they are matched by owner.
        watched = (
            (f"/apis/batch/v1{prefix}/jobs", own, own_name),
            (f"/api/v1{prefix}/pods", own, owner_job),
            (f"/apis/{KUEUE_API}{prefix}/workloads", None, owner_job),
        )
        self._jobs, self._pods, self._workloads = self._informers = [
            Informer(
                self._api,
                path,
                labels,
                key,
                self._changed,
                backoff=self.watch_backoff_seconds,
                backoff_max=self.watch_backoff_max_seconds,
                timeout=self.watch_timeout_seconds,
            )
            for path, labels, key in watched
        ]
        for informer in self._informers:
            informer.start()

    async def stop(self) -> None:
        """Stop watching and following, without reporting: the runs go on in the
        cluster, and the next server finds them again through ``recover``."""
        for informer in self._informers:
            informer.stop()
        await asyncio.gather(*map(self.abandon, list(self._runs)))
        await asyncio.gather(*(informer.join() for informer in self._informers))
        if self._api is not None:
            self._api.close()

    @property
    def _client(self) -> ApiClient:
        """The API client ``start`` connected."""
        assert self._api is not None, "the executor is not started"
        return self._api

    async def submit(self, spec: RunSpec) -> None:
        """Track the run at once; its task creates the Job and reports queued."""
        if spec.key in self._runs:
            raise ValueError(f"{spec.key} is already submitted")
        self._track(spec, reported="pending", tail=None, seen=False, create=True)

    async def cancel(self, key: RunKey) -> bool:
        run = self._runs.get(key)
        if run is None:
            return False
        run.cancelling = True
        run.changed.set()
        return True

    async def recover(self, key: RunKey, spec: RunSpec, stored: LogTail | None = None) -> bool:
        """Follow a run again if its Job still exists, and is this installation's (a Job
        of its name from another database is another run), reporting only the log lines
        after ``stored``. If the API server cannot tell, the run is followed anyway:
        once the watches list the Job's absence, it ends as lost."""
        if key in self._runs:
            return True
        try:
            job = await asyncio.to_thread(
                self._batch.read_namespaced_job, job_name(key), self.namespace
            )
        except Exception as error:
            if not_found(error):
                return False
            self.log.warning("cannot look up the Job of %s: %s", key, api_message(error))
        else:
            if not self._own(job_labels(job)):
                return False
        self._track(spec, reported="running", tail=stored, seen=True, create=False)
        return True

    def adoptable(self) -> list[RunKey]:
        """The runs whose Jobs (this installation's) the watch lists but no run here
        follows: another server's, alive (its lease keeps them its own) or dead."""
        if not self._informers:
            return []
        keys = (labelled_run(obj["metadata"].get("labels") or {}) for obj in self._jobs.objects())
        return [key for key in keys if key is not None and key not in self._runs]

    async def abandon(self, key: RunKey) -> None:
        """Stop following the run quietly, as ``stop`` does for all of them."""
        run = self._runs.get(key)
        if run is None:
            return
        run.stop_logs()
        run.task.cancel()
        await asyncio.gather(run.task, return_exceptions=True)

    # ---------------------------------------------------------------- tracking

    def _track(
        self, spec: RunSpec, *, reported: str, tail: LogTail | None, seen: bool, create: bool
    ) -> None:
        run = _Run(dataclasses.replace(spec, image=spec.image or self.image), job_name(spec.key))
        run.reported, run.tail, run.seen = reported, tail, seen
        run.batcher = LogBatcher(
            partial(self._call, run, self.events.run_logs),
            partial(self._call, run, self.events.run_progress),
            self.log_batch_lines,
            self.log_batch_interval,
        )
        self._runs[spec.key] = self._by_job[run.name] = run
        run.task = asyncio.create_task(self._drive(run, create), name=f"nagelfluh {spec.key}")

    def _own(self, labels: dict[str, str] | None) -> bool:
        """Whether an object with ``labels`` is this installation's."""
        return (labels or {}).get(INSTALLATION_LABEL) == self.installation

    def _changed(self, job: str) -> None:
        run = self._by_job.get(job)
        if run is not None:
            run.changed.set()

    async def _call(self, run: _Run, callback: Callable[..., Awaitable[None]], *args: Any) -> None:
        async with run.lock:
            await callback(run.spec.key, *args)

    async def _report(self, run: _Run, state: str, message: str | None = None) -> None:
        """Report ``state`` after the log lines read so far."""
        await run.batcher.flush()
        if state == "running":
            await self._call(run, self.events.run_started)
        else:
            await self._call(run, self.events.run_queued, message)
        run.reported, run.message = state, message

    # ---------------------------------------------------------------- a run's life

    async def _drive(self, run: _Run, create: bool) -> None:
        """The life of one run; the only place its state events come from."""
        key = run.spec.key
        try:
            try:
                outcome = await self._supervise(run, create)
            except Exception as error:
                self.log.exception("Executor error in %s", key)
                outcome = RunOutcome("failed", "error", f"Executor error: {error}")
                await self._delete_job_quietly(run)
            await self._end_logs(run, drain=outcome is not CANCELLED)
            await run.batcher.close()
            await self._call(run, self.events.run_finished, outcome)
        except Exception:
            self.log.exception("could not report the end of %s", key)
        finally:
            run.stop_logs()
            await run.batcher.abort()
            del self._runs[key], self._by_job[run.name]

    async def _supervise(self, run: _Run, create: bool) -> RunOutcome:
        """Create the run's objects if asked, then follow them to the run's end."""
        if create:
            failure = await self._create(run)
            if failure is not None:
                return failure
            await self._report(run, "queued")
        while True:
            run.changed.clear()
            if run.cancelling:
                await self._delete_job(run)
                return CANCELLED
            jobs = self._jobs.of(run.name)
            job = jobs[-1] if jobs else None
            if job is not None:
                run.seen = True
                if job_ended(job) is not None:
                    return await self._settle(run, job)
            elif run.seen and not await self._job_exists(run):
                return RunOutcome(
                    "failed", "error", f"The Job {run.name} was deleted before the run ended"
                )
            pods = self._pods.of(run.name)
            pull_left, pull_failure = self._pull_state(run, pods)
            if pull_failure is not None:
                await self._delete_job(run)
                return pull_failure
            workloads = _owned_by(self._workloads.of(run.name), job)
            await self._follow_state(run, job, pods, workloads[-1] if workloads else None)
            if run.reported == "running":
                self._follow_logs(run, pods)
            try:
                await asyncio.wait_for(run.changed.wait(), pull_left)
            except asyncio.TimeoutError:
                pass

    async def _create(self, run: _Run) -> RunOutcome | None:
        """Create the Job, suspended, then the Secret it owns (see ``manifests``);
        the outcome if that fails."""
        spec = run.spec
        manifest = job_manifest(
            spec,
            secret_name=storage_secret_name(spec.key),
            installation=self.installation,
            namespace=self.namespace,
            queue_name=self.queue_name,
            service_account=self.service_account or None,
        )
        manifest["spec"]["template"]["spec"]["containers"][0]["command"] = list(self.command)
        try:
            job = await self._create_job(run, manifest)
        except Exception as error:
            return RunOutcome("failed", "error", f"Could not create the Job: {api_message(error)}")
        if isinstance(job, RunOutcome):
            return job
        credentials = storage_credentials(spec)
        if not credentials:
            return None
        secret = secret_manifest(
            spec,
            name=storage_secret_name(spec.key),
            owner=owner_reference(job),
            installation=self.installation,
            namespace=self.namespace,
        )
        try:
            try:
                await asyncio.to_thread(
                    self._core.create_namespaced_secret,
                    self.namespace,
                    secret,  # type: ignore[arg-type]  # a dict does too: see _create_job
                )
            except ApiException as error:
                if error.status != 409:
                    raise
                found = self._client.sanitize_for_serialization(
                    await asyncio.to_thread(
                        self._core.read_namespaced_secret,
                        secret["metadata"]["name"],
                        self.namespace,
                    )
                )["metadata"]
                owners = {ref.get("uid") for ref in found.get("ownerReferences") or []}
                if job["metadata"]["uid"] in owners:
                    return None  # made with the Job taken over
                # Left by another installation's Job deleted to make room (the garbage
                # collector may not have come to it yet): its credentials are not ours.
                await self._delete_exactly(
                    self._core.delete_namespaced_secret, found["name"], found["uid"]
                )
                await asyncio.to_thread(
                    self._core.create_namespaced_secret,
                    self.namespace,
                    secret,  # type: ignore[arg-type]  # a dict does too: see _create_job
                )
        except Exception as error:
            await self._delete_job_quietly(run)
            return RunOutcome(
                "failed", "error", f"Could not create the Job's Secret: {api_message(error)}"
            )
        return None

    async def _create_job(self, run: _Run, manifest: KubeObject) -> KubeObject | RunOutcome:
        """The run's Job, created or taken over; the outcome if another's is in the way.

        A Job of this name and installation is this run's, left by a previous server
        (after a restart, queued runs are submitted again): it is taken over. One of
        another installation (a database that counts process ids from 1 too) is never
        adopted. Once finished it only waits for its TTL, so it is deleted to make
        room (that very Job, by uid: a third server may have replaced it meanwhile),
        its Secret with it (see ``_create``). Should that installation's server have
        been down since before its run ended, it finds the run lost when it comes
        back: the price of not making a fresh database wait an hour. A live one is
        someone's work under way: the version fails with reason ``conflict`` and the
        Job is left alone (a new version has another name). So is a Job that is not
        nagelfluh's at all.
        """
        spec = run.spec
        for _ in range(CLAIM_ATTEMPTS):
            try:
                created = await asyncio.to_thread(
                    self._batch.create_namespaced_job,
                    self.namespace,
                    # The client takes a manifest as a dict too, though it annotates its
                    # parameter as the model only (and serialises a dict as it is).
                    manifest,  # type: ignore[arg-type]
                )
                return self._client.sanitize_for_serialization(created)
            except ApiException as error:
                if error.status != 409:
                    raise
            try:
                found = await asyncio.to_thread(
                    self._batch.read_namespaced_job, run.name, self.namespace
                )
            except ApiException as error:
                if not_found(error):
                    continue  # deleted meanwhile: create it again
                raise
            existing = self._client.sanitize_for_serialization(found)
            labels = existing["metadata"].get("labels") or {}
            if self._own(labels):
                if (
                    run_labels(spec.key, spec.project_id, self.installation).items()
                    - labels.items()
                ):
                    return RunOutcome(
                        "failed", "error", f"A Job named {run.name} exists already, for another run"
                    )
                return existing
            owner = labels.get(INSTALLATION_LABEL, "none")
            if labels.get(APP_LABEL) != APP:
                return RunOutcome(
                    "failed",
                    "conflict",
                    f"A Job named {run.name} that nagelfluh did not make is in namespace "
                    f"{self.namespace}: it was left alone, and this version cannot run.",
                )
            if job_ended(existing) is None:
                return RunOutcome(
                    "failed",
                    "conflict",
                    f"The Job {run.name} in namespace {self.namespace} belongs to another "
                    f"installation ({INSTALLATION_LABEL}={owner}, another database) and is "
                    "still queued or running: it was left alone. Run a new version, whose "
                    "Job has another name.",
                )
            if "deletionTimestamp" in existing["metadata"]:
                await asyncio.sleep(CLAIM_WAIT_SECONDS)
                continue
            self.log.info(
                "deleting the finished Job %s of installation %s to run %s",
                run.name,
                owner,
                spec.key,
            )
            await self._delete_exactly(
                self._batch.delete_namespaced_job, run.name, existing["metadata"]["uid"]
            )
        return RunOutcome(
            "failed",
            "conflict",
            f"The finished Job {run.name} of another installation was still being deleted "
            f"after {CLAIM_ATTEMPTS * CLAIM_WAIT_SECONDS:g} s.",
        )

    async def _follow_state(
        self, run: _Run, job: KubeObject | None, pods: list[KubeObject], workload: KubeObject | None
    ) -> None:
        """Report running once a pod runs, and queued (with Kueue's message whenever
        it changes) before that, or again when Kueue preempts the run."""
        # Each kind has its own watch, so one copy may lag behind another: a pod may
        # be seen running before its Job is seen at all, or unsuspended.
        preempted = _eviction(workload)
        suspended = job is None or job["spec"].get("suspend")
        if preempted is None and job is not None and suspended and run.reported == "running":
            preempted = "The Job was suspended: waiting for the queue again"
        live = [pod for pod in pods if "deletionTimestamp" not in pod["metadata"]]
        if preempted is None and not suspended and any(map(_started, live)):
            if run.reported != "running":
                await self._report(run, "running")
        elif preempted is not None or run.reported != "running":
            message = preempted or _quota_message(workload)
            if run.reported != "queued" or message != run.message:
                await self._report(run, "queued", message)

    def _pull_state(
        self, run: _Run, pods: list[KubeObject]
    ) -> tuple[float | None, RunOutcome | None]:
        """Seconds left before a failing image pull fails the run (None: no such
        failure), or the failure once that grace is over."""
        waiting = pull_failure(pods)
        if waiting is None:
            run.pull_since = run.pull_message = None
            return None, None
        now = time.monotonic()
        if run.pull_since is None:
            run.pull_since = now
        # ImagePullBackOff only says "Back-off pulling image"; ErrImagePull says why.
        if run.pull_message is None or waiting["reason"] != "ImagePullBackOff":
            run.pull_message = f"{waiting['reason']}: {waiting.get('message', '')}"
        left = run.pull_since + self.image_pull_grace_seconds - now
        if left > 0:
            return left, None
        return None, RunOutcome(
            "failed", "image", f"The image {run.spec.image} cannot be pulled: {run.pull_message}"
        )

    async def _settle(self, run: _Run, job: KubeObject) -> RunOutcome:
        """The outcome of an ended Job, from its conditions and its pods as they are
        now (the pod watch may lag behind the Job watch); reports running first if
        a pod ran unseen, and follows its log."""
        pods = await self._current_pods(run)
        if any(map(_started, pods)) and run.reported != "running":
            await self._report(run, "running")
        self._follow_logs(run, pods)
        ended = RunOutcome("completed", exit_code=0) if job_ended(job) == "Complete" else None
        return dataclasses.replace(ended or _failure(job, pods, run.spec), image=pinned_image(pods))

    async def _current_pods(self, run: _Run) -> list[KubeObject]:
        try:
            listed = await asyncio.to_thread(
                self._core.list_namespaced_pod,
                self.namespace,
                label_selector=selector(
                    {"job-name": run.name, INSTALLATION_LABEL: self.installation}
                ),
            )
        except Exception as error:
            self.log.warning("cannot list the pods of %s: %s", run.name, api_message(error))
            return self._pods.of(run.name)
        pods = self._client.sanitize_for_serialization(listed.items)
        return sorted(pods, key=lambda pod: pod["metadata"].get("creationTimestamp", ""))

    async def _delete_exactly(self, delete: Callable[..., Any], name: str, uid: str) -> None:
        """Delete the object ``name`` if it is still the one with ``uid`` (with its
        dependents, in the background); gone or replaced already is as good."""
        options = V1DeleteOptions(
            preconditions=V1Preconditions(uid=uid), propagation_policy="Background"
        )
        try:
            await asyncio.to_thread(delete, name, self.namespace, body=options)
        except ApiException as error:
            if error.status not in (404, 409):
                raise

    async def _job_exists(self, run: _Run) -> bool:
        """Whether the Job is there after all (the watch may just lag behind); a Job of
        its name from another installation is not."""
        try:
            job = await asyncio.to_thread(self._batch.read_namespaced_job, run.name, self.namespace)
        except Exception as error:
            if not_found(error):
                return False
            raise
        return self._own(job_labels(job))

    async def _delete_job(self, run: _Run) -> None:
        """Delete the Job with its pods (Background: batch/v1 would orphan them) and,
        through its ownerReference, its Secret. Gone already is as good."""
        try:
            await asyncio.to_thread(
                self._batch.delete_namespaced_job,
                run.name,
                self.namespace,
                propagation_policy="Background",
            )
        except Exception as error:
            if not not_found(error):
                raise

    async def _delete_job_quietly(self, run: _Run) -> None:
        """Delete the Job of a run that failed here, so it does not run unwatched."""
        try:
            await self._delete_job(run)
        except Exception as error:
            self.log.warning("cannot delete the Job %s: %s", run.name, api_message(error))

    # ---------------------------------------------------------------- logs

    def _follow_logs(self, run: _Run, pods: list[KubeObject]) -> None:
        """Follow each pod that left Pending, one after the other: a pod that replaces
        a preempted one starts after it ended, so its lines come after."""
        for pod in pods:
            uid = pod["metadata"]["uid"]
            if uid in run.followed or pod.get("status", {}).get("phase", "Pending") == "Pending":
                continue
            run.followed.add(uid)
            follower = PodLog(
                self._client,
                self.namespace,
                pod["metadata"]["name"],
                run.batcher,
                backoff=self.watch_backoff_seconds,
                backoff_max=self.watch_backoff_max_seconds,
                read_timeout=self.log_read_timeout,
            )
            previous = run.log_tasks[-1] if run.log_tasks else None
            run.followers.append(follower)
            run.log_tasks.append(asyncio.create_task(self._follow_pod(run, follower, previous)))

    @staticmethod
    async def _follow_pod(run: _Run, follower: PodLog, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        run.tail = await follower.run(run.tail)

    async def _end_logs(self, run: _Run, drain: bool) -> None:
        """Let the followers read their pods to the end (within ``log_drain_seconds``)
        if ``drain``, then stop them."""
        if drain and run.log_tasks:
            await asyncio.wait(run.log_tasks, timeout=self.log_drain_seconds)
        run.stop_logs()
        await asyncio.gather(*run.log_tasks, return_exceptions=True)


@dataclass(eq=False)
class _Run:
    """What the executor tracks of one run."""

    spec: RunSpec
    name: str  # of its Job
    reported: str = "pending"  # the state last reported: pending, queued or running
    message: str | None = None  # the queued message last reported
    tail: LogTail | None = None  # where the log lines reported so far end
    seen: bool = False  # its Job was seen to exist (so its absence means it is gone)
    cancelling: bool = False
    pull_since: float | None = None  # monotonic time an image pull started failing
    pull_message: str | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one callback at a time
    followed: set[str] = field(default_factory=set)  # uids of the pods followed
    followers: list[PodLog] = field(default_factory=list)
    log_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    batcher: LogBatcher = field(init=False)
    task: asyncio.Task[None] = field(init=False)

    def stop_logs(self) -> None:
        for follower in self.followers:
            follower.stop()
        for task in self.log_tasks:
            task.cancel()


# ------------------------------------------------------------------ reading objects


def _started(pod: KubeObject) -> bool:
    """Whether the pod's container runs or ran."""
    state = container_status(pod).get("state", {})
    return pod.get("status", {}).get("phase") == "Running" or "terminated" in state


def _owned_by(objects: list[KubeObject], job: KubeObject | None) -> list[KubeObject]:
    """Those of ``objects`` (Kueue Workloads, which carry no Job labels) that ``job``
    owns: a Job of the same name from another installation has Workloads too."""
    if job is None:
        return []
    uid = job["metadata"].get("uid")
    return [
        obj
        for obj in objects
        if any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences", []))
    ]


def _eviction(workload: KubeObject | None) -> str | None:
    """Why Kueue took an admitted run's quota back (e.g. preempted it), if it did."""
    evicted = condition(workload, "Evicted")
    if evicted is None or evicted["status"] != "True":
        return None
    return evicted.get("message") or "Evicted"


def _quota_message(workload: KubeObject | None) -> str | None:
    """Kueue's reason for not admitting the run (e.g. insufficient quota), if any."""
    reserved = condition(workload, "QuotaReserved")
    if reserved is None or reserved["status"] == "True":
        return None
    return reserved.get("message") or None


def _failure(job: KubeObject, pods: list[KubeObject], spec: RunSpec) -> RunOutcome:
    """How a failed Job failed, in the contract's terms (``exit_outcome``) where they apply."""
    failed = condition(job, "Failed") or {}
    if failed.get("reason") == "DeadlineExceeded":
        return RunOutcome(
            "failed",
            "deadline",
            f"Deadline of {spec.deadline_seconds:g} s exceeded: process stopped",
        )
    for pod in reversed(pods):
        status = pod.get("status", {})
        if status.get("reason") == "Evicted":  # by its node, short of memory or disk
            return RunOutcome("failed", "evicted", status.get("message") or "The pod was evicted")
        terminated = container_status(pod).get("state", {}).get("terminated")
        if terminated is None:
            continue
        code = terminated.get("exitCode")
        if terminated.get("reason") == "OOMKilled":
            return RunOutcome(
                "failed",
                "oom",
                "Out of memory: the process needed more than its limit of "
                f"{format_memory(spec.memory)}",
                code,
            )
        if code:
            return exit_outcome(code, spec.memory, 0)
    return RunOutcome("failed", "error", failed.get("message") or "The Job failed")
