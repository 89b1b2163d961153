"""Kueue, as far as queued Jobs see it: a Workload per labelled Job, admission in
BestEffortFIFO order while the ClusterQueue's nominal quota (one flavor) covers the
requests, unsuspending the Job; preemption on demand; Finished when the Job ends.
Conditions and messages use Kueue's wording, since clients show them to users."""

from __future__ import annotations

import hashlib
import itertools
import time
from decimal import Decimal

from .controller import Controller, Knobs, prune, unless_gone
from .jobs import QUEUE_LABEL, finished
from .meta import controller_reference, controller_uid, format_quantity, is_true, requests
from .meta import set_condition as _set
from .store import JOBS, WORKLOADS, Store

POD_SET = "main"


def workload_name(job: dict) -> str:
    """``job-{name}-{hash}``, as Kueue names the Workload of a batch/v1 Job."""
    name = job["metadata"]["name"]
    digest = hashlib.sha1(f"{name}batch/v1Job".encode()).hexdigest()[:5]
    return f"job-{name}-{digest}"


def _requests(workload: dict) -> dict[str, Decimal]:
    pod_set = workload["spec"]["podSets"][0]
    return {name: value * pod_set["count"]
            for name, value in requests(pod_set["template"]["spec"]).items()}


class Kueue(Controller):
    def __init__(self, store: Store, knobs: Knobs) -> None:
        super().__init__(store, knobs)
        # Queue order: creation, or the time of a preempted workload's requeue
        # (Kueue's default requeuingTimestamp: Eviction).
        self._order = itertools.count()
        self._queued: dict[str, float] = {}
        self._requeue_at: dict[str, float] = {}

    def reconcile(self) -> None:
        jobs = {job["metadata"]["uid"]: job for job in self.store.list(JOBS)
                if QUEUE_LABEL in job["metadata"].get("labels", {})}
        owners = {controller_uid(wl) for wl in self.store.list(WORKLOADS)}
        for uid, job in jobs.items():
            if uid not in owners and "deletionTimestamp" not in job["metadata"]:
                self._create_workload(job)
        for workload in self.store.list(WORKLOADS):
            job = jobs.get(controller_uid(workload))
            if job is not None:
                with unless_gone():
                    self._sync(job, workload)
        self._admit(jobs)
        live = {wl["metadata"]["uid"] for wl in self.store.list(WORKLOADS)}
        prune(self._queued, live)
        prune(self._requeue_at, live)

    def _create_workload(self, job: dict) -> None:
        spec = job["spec"]
        labels = job["metadata"].get("labels", {})
        self.store.create(WORKLOADS, {
            "metadata": {
                "name": workload_name(job),
                "namespace": job["metadata"]["namespace"],
                "labels": {**labels, "kueue.x-k8s.io/job-uid": job["metadata"]["uid"]},
                "ownerReferences": [controller_reference(job)],
            },
            "spec": {
                "active": True,
                "queueName": labels[QUEUE_LABEL],
                "priority": 0,
                "podSets": [{"name": POD_SET, "count": spec["parallelism"],
                             "template": spec["template"]}],
            },
            "status": {},
        })

    def _sync(self, job: dict, workload: dict) -> None:
        """Follow the Job: Finished when it ends; after an eviction, stop it and give
        the quota back once its pod is gone; never let it run without admission."""
        status = workload["status"]
        if is_true(workload, "Finished"):
            return
        outcome = finished(job)
        if outcome:
            failure = next((c for c in job["status"]["conditions"] if c["type"] == "Failed"), {})
            _set(status, "Finished", True, "Succeeded" if outcome == "Complete" else "Failed",
                 failure.get("message", "Job finished successfully"))
        elif is_true(workload, "Evicted") and is_true(workload, "QuotaReserved"):
            self._suspend(job)
            if not job["status"].get("active") and not job["status"].get("terminating"):
                self._release(workload)
        elif not is_true(workload, "QuotaReserved"):
            self._suspend(job)
        self.store.replace(WORKLOADS, workload, "status")

    def _release(self, workload: dict) -> None:
        status = workload["status"]
        evicted = next(c for c in status["conditions"] if c["type"] == "Evicted")
        status.pop("admission", None)
        _set(status, "QuotaReserved", False, "Pending", evicted["message"])
        _set(status, "Admitted", False, "NoReservation", "The workload has no reservation")
        _set(status, "Requeued", True, evicted["reason"], evicted["message"])
        uid = workload["metadata"]["uid"]
        self._queued[uid] = next(self._order)

    def _suspend(self, job: dict) -> None:
        if not job["spec"]["suspend"]:
            job["spec"]["suspend"] = True
            self.store.replace(JOBS, job)

    def _admit(self, jobs: dict[str, dict]) -> None:
        workloads = [wl for wl in self.store.list(WORKLOADS) if controller_uid(wl) in jobs
                     and not is_true(wl, "Finished")]
        usage: dict[str, Decimal] = {}
        for workload in workloads:
            if is_true(workload, "QuotaReserved"):
                for name, value in _requests(workload).items():
                    usage[name] = usage.get(name, Decimal(0)) + value
        pending = [wl for wl in workloads if not is_true(wl, "QuotaReserved")]
        pending.sort(key=lambda wl: self._queued.setdefault(wl["metadata"]["uid"],
                                                            next(self._order)))
        for workload in pending:
            wanted = _requests(workload)
            problem = self._problem(workload, wanted, usage)
            if problem is None:
                for name, value in wanted.items():
                    usage[name] = usage.get(name, Decimal(0)) + value
                self._grant(workload, wanted, jobs[controller_uid(workload)])
            elif problem:
                _set(workload["status"], "QuotaReserved", False, "Pending", problem)
                self.store.replace(WORKLOADS, workload, "status")

    def _problem(
        self, workload: dict, wanted: dict[str, Decimal], usage: dict[str, Decimal]
    ) -> str | None:
        """Why ``workload`` cannot be admitted now (Kueue's message), "" to leave it
        waiting as it is, or None if it fits."""
        if workload["spec"]["queueName"] != self.knobs.local_queue:
            return f"LocalQueue {workload['spec']['queueName']} doesn't exist"
        if time.monotonic() < self._requeue_at.get(workload["metadata"]["uid"], 0.0):
            return ""
        prefix = f"couldn't assign flavors to pod set {POD_SET}: "
        flavor = self.knobs.flavor
        for name, value in sorted(wanted.items()):
            quota = self.knobs.quota.get(name)
            if quota is None:
                return f"{prefix}resource {name} unavailable in ClusterQueue"
            if value > quota:
                return (f"{prefix}insufficient quota for {name} in flavor {flavor}, request > "
                        f"maximum capacity ({format_quantity(value)} > {format_quantity(quota)})")
            free = quota - usage.get(name, Decimal(0))
            if value > free:
                return (f"{prefix}insufficient unused quota for {name} in flavor {flavor}, "
                        f"{format_quantity(value - free)} more needed")
        return None

    def _grant(self, workload: dict, wanted: dict[str, Decimal], job: dict) -> None:
        """Reserve quota and admit; a requeued workload's Evicted and Preempted
        conditions turn False with "Previously: ...", as in Kueue."""
        status = workload["status"]
        queue = self.knobs.cluster_queue
        status["admission"] = {"clusterQueue": queue, "podSetAssignments": [{
            "name": POD_SET, "count": workload["spec"]["podSets"][0]["count"],
            "flavors": {name: self.knobs.flavor for name in wanted},
            "resourceUsage": {name: format_quantity(value) for name, value in wanted.items()},
        }]}
        _set(status, "QuotaReserved", True, "QuotaReserved",
             f"Quota reserved in ClusterQueue {queue}")
        _set(status, "Admitted", True, "Admitted", "The workload is admitted")
        for kind in ("Evicted", "Preempted"):
            previous = next((c for c in status["conditions"] if c["type"] == kind), None)
            if previous is not None and previous["status"] == "True":
                _set(status, kind, False, "QuotaReserved", f"Previously: {previous['message']}")
        self.store.replace(WORKLOADS, workload, "status")
        job = self.store.get(JOBS, job["metadata"]["namespace"], job["metadata"]["name"])
        job["spec"]["suspend"] = False
        self.store.replace(JOBS, job)

    def evict(self, namespace: str, job_name: str, requeue_after: float) -> None:
        """Preempt the admitted Workload of a Job; it stays out of the queue for
        ``requeue_after`` real seconds, so a test can see it queued again."""
        for workload in self.store.list(WORKLOADS, namespace):
            owner = workload["metadata"]["ownerReferences"][0]
            if owner["name"] == job_name and is_true(workload, "Admitted"):
                break
        else:
            raise LookupError(f"no admitted workload for Job {namespace}/{job_name}")
        message = ("Preempted to accommodate a workload (UID: sim) due to prioritization "
                   "in the ClusterQueue")
        _set(workload["status"], "Evicted", True, "Preempted", message)
        _set(workload["status"], "Preempted", True, "InClusterQueue", message)
        self.store.replace(WORKLOADS, workload, "status")
        self._requeue_at[workload["metadata"]["uid"]] = time.monotonic() + requeue_after
