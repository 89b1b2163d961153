"""batch/v1 Jobs: what the API server does on create (defaulting, validation, and
Kueue's webhook suspending queued Jobs) and the Job controller (one pod per Job,
status, conditions, activeDeadlineSeconds, ttlSecondsAfterFinished)."""

from __future__ import annotations

import re
import time

from kubernetes.utils import parse_quantity

from .controller import Controller, Knobs, prune, unless_gone
from .errors import ApiError, details
from .meta import controller_reference, controller_uid, is_true, set_condition, timestamp
from .store import JOBS, PODS, Store

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_TERMINAL = ("Succeeded", "Failed")


class _Causes:
    """Field errors in the API server's wording, collected into one 422 Invalid."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, reason: str, field: str, message: str) -> None:
        self.items.append({"reason": reason, "message": message, "field": field})

    def required(self, field: str) -> None:
        self.add("FieldValueRequired", field, "Required value")

    def invalid(self, field: str, value: object, why: str) -> None:
        self.add("FieldValueInvalid", field, f"Invalid value: {_quoted(value)}: {why}")

    def raise_if_any(self, name: str) -> None:
        if not self.items:
            return
        listed = [f"{c['field']}: {c['message']}" for c in self.items]
        text = listed[0] if len(listed) == 1 else f"[{', '.join(listed)}]"
        raise ApiError(422, "Invalid", f'Job.batch "{name}" is invalid: {text}',
                       details("batch", "Job", name, causes=self.items))


def _quoted(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def _check_name(causes: _Causes, field: str, name: object, limit: int) -> None:
    if not isinstance(name, str) or not _DNS_SUBDOMAIN.match(name):
        causes.invalid(field, name, "a lowercase RFC 1123 subdomain must consist of lower case "
                                    "alphanumeric characters, '-' or '.', and must start and "
                                    "end with an alphanumeric character")
    elif len(name) > limit:
        causes.invalid(field, name, f"must be no more than {limit} characters")


def _check_labels(causes: _Causes, field: str, labels: dict) -> None:
    for key, value in labels.items():
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            causes.invalid(f"{field}[{key}]", value, "a valid label must be an empty string or "
                                                     "consist of at most 63 alphanumeric "
                                                     "characters, '-', '_' or '.'")


def _check_container(causes: _Causes, field: str, container: dict, volumes: set[str]) -> None:
    if not container.get("name"):
        causes.required(f"{field}.name")
    if not container.get("image"):
        causes.required(f"{field}.image")
    for i, var in enumerate(container.get("env", [])):
        if not _ENV_NAME.match(var.get("name", "")):
            causes.invalid(f"{field}.env[{i}].name", var.get("name", ""),
                           "a valid environment variable name must consist of alphabetic "
                           "characters, digits, '_', '-', or '.'")
        ref = var.get("valueFrom", {}).get("secretKeyRef")
        if ref is not None and not (ref.get("name") and ref.get("key")):
            causes.required(f"{field}.env[{i}].valueFrom.secretKeyRef")
    for i, mount in enumerate(container.get("volumeMounts", [])):
        if mount.get("name") not in volumes:
            causes.add("FieldValueNotFound", f"{field}.volumeMounts[{i}].name",
                       f'Not found: "{mount.get("name")}"')
    resources = container.get("resources", {})
    for resource, limit in resources.get("limits", {}).items():
        request = resources.get("requests", {}).get(resource)
        if request is not None and parse_quantity(request) > parse_quantity(limit):
            causes.invalid(f"{field}.resources.requests", request,
                           f"must be less than or equal to {resource} limit of {limit}")


def _default(job: dict) -> None:
    """The defaults the API server fills in, and the labels that tie pods to the Job."""
    uid, name = job["metadata"]["uid"], job["metadata"]["name"]
    spec = job.setdefault("spec", {})
    for field, value in (("parallelism", 1), ("completions", 1), ("backoffLimit", 6),
                         ("completionMode", "NonIndexed"), ("suspend", False),
                         ("podReplacementPolicy", "TerminatingOrFailed")):
        spec.setdefault(field, value)
    controller_labels = {"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
                         "batch.kubernetes.io/job-name": name, "job-name": name}
    spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {}).setdefault("labels", {}).update(controller_labels)
    pod_spec = template.setdefault("spec", {})
    for field, value in (("restartPolicy", "Always"), ("terminationGracePeriodSeconds", 30),
                         ("dnsPolicy", "ClusterFirst"), ("schedulerName", "default-scheduler")):
        pod_spec.setdefault(field, value)
    for container in pod_spec.get("containers", []):
        image = container.get("image", "")
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        resources = container.setdefault("resources", {})
        if "limits" in resources:
            resources["requests"] = {**resources["limits"], **resources.get("requests", {})}
    if QUEUE_LABEL in job["metadata"].get("labels", {}):
        spec["suspend"] = True  # Kueue's webhook: nothing runs before admission
    job["status"] = {}


def admit_job(job: dict) -> dict:
    """Default and validate a Job being created; 422 Invalid with the causes."""
    meta = job["metadata"]
    causes = _Causes()
    if not meta.get("name"):
        causes.required("metadata.name")
    else:
        # 63, not 253: the name becomes the value of the pods' job-name label.
        _check_name(causes, "metadata.name", meta["name"], 63)
    _check_labels(causes, "metadata.labels", meta.get("labels", {}))
    _default(job)
    spec = job["spec"]
    pod_spec = spec["template"]["spec"]
    _check_labels(causes, "spec.template.metadata.labels", spec["template"]["metadata"]["labels"])
    if pod_spec["restartPolicy"] not in ("Never", "OnFailure"):
        causes.add("FieldValueNotSupported", "spec.template.spec.restartPolicy",
                   f'Unsupported value: "{pod_spec["restartPolicy"]}": '
                   'supported values: "OnFailure", "Never"')
    if not pod_spec.get("containers"):
        causes.required("spec.template.spec.containers")
    volumes = {volume.get("name") for volume in pod_spec.get("volumes", [])}
    for i, container in enumerate(pod_spec.get("containers", [])):
        _check_container(causes, f"spec.template.spec.containers[{i}]", container, volumes)
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (not isinstance(deadline, int) or deadline <= 0):
        causes.invalid("spec.activeDeadlineSeconds", deadline,
                       "must be greater than or equal to 1")
    if not isinstance(spec["backoffLimit"], int) or spec["backoffLimit"] < 0:
        causes.invalid("spec.backoffLimit", spec["backoffLimit"],
                       "must be greater than or equal to 0")
    causes.raise_if_any(meta.get("name", ""))
    return job


def finished(job: dict) -> str | None:
    """``Complete`` or ``Failed`` once the Job has finished."""
    return next((kind for kind in ("Complete", "Failed") if is_true(job, kind)), None)


class JobController(Controller):
    def __init__(self, store: Store, knobs: Knobs) -> None:
        super().__init__(store, knobs)
        # Monotonic clocks of each Job's (re)start and finish: the status holds
        # only whole seconds, too coarse for scaled deadlines and TTLs.
        self._started: dict[str, float] = {}
        self._finished: dict[str, float] = {}

    def reconcile(self) -> None:
        jobs = self.store.list(JOBS)
        pods = self.store.list(PODS)
        uids = {job["metadata"]["uid"] for job in jobs}
        for pod in pods:
            self._release_orphan(pod, uids)
        for job in jobs:
            owned = [pod for pod in pods if controller_uid(pod) == job["metadata"]["uid"]]
            with unless_gone():
                self._sync(job, owned)
        prune(self._started, uids)
        prune(self._finished, uids)

    def _release_orphan(self, pod: dict, jobs: set[str]) -> None:
        """A Job that is gone cannot count its pods: free them to be removed."""
        finalizers = pod["metadata"].get("finalizers", [])
        if TRACKING_FINALIZER in finalizers and controller_uid(pod) not in jobs:
            finalizers.remove(TRACKING_FINALIZER)
            with unless_gone():
                self.store.replace(PODS, pod)

    def _sync(self, job: dict, pods: list[dict]) -> None:
        uid = job["metadata"]["uid"]
        status = job["status"]
        suspended = job["spec"]["suspend"]
        for pod in pods:
            self._count(pod, status, suspended)
        deleting = [pod for pod in pods if "deletionTimestamp" in pod["metadata"]]
        active = [pod for pod in pods
                  if pod["status"].get("phase") not in _TERMINAL and pod not in deleting]
        terminating = [pod for pod in deleting if pod["status"].get("phase") not in _TERMINAL]
        if finished(job):
            self._expire(job)
        elif "deletionTimestamp" in job["metadata"]:
            pass  # being deleted: no new pods
        elif suspended:
            self._delete(active)
            set_condition(status, "Suspended", True, "JobSuspended", "Job suspended",
                          lastProbeTime=timestamp())
            if not active and not terminating:
                status.pop("startTime", None)  # the deadline restarts on resume
                self._started.pop(uid, None)
        else:
            if is_true(job, "Suspended"):
                set_condition(status, "Suspended", False, "JobResumed", "Job resumed",
                              lastProbeTime=timestamp())
            status.setdefault("startTime", timestamp())
            self._started.setdefault(uid, time.monotonic())
            self._progress(job, active, terminating)
        status.update(active=len(active), terminating=len(terminating),
                      ready=sum(1 for pod in active if is_true(pod, "Ready")))
        for counter in ("active", "succeeded", "failed"):
            if not status.get(counter):
                status.pop(counter, None)  # omitempty, as in the real status
        self.store.replace(JOBS, job, "status")

    def _count(self, pod: dict, status: dict, suspended: bool) -> None:
        """Count a finished pod once, then drop the finalizer that kept it for counting.
        A pod killed because its Job was suspended is not a failure."""
        phase = pod["status"].get("phase")
        finalizers = pod["metadata"].get("finalizers", [])
        if phase not in _TERMINAL or TRACKING_FINALIZER not in finalizers:
            return
        if phase == "Succeeded":
            status["succeeded"] = status.get("succeeded", 0) + 1
        elif not suspended:
            status["failed"] = status.get("failed", 0) + 1
        finalizers.remove(TRACKING_FINALIZER)
        self.store.replace(PODS, pod)

    def _verdict(self, job: dict) -> tuple[str, str, str] | None:
        """The interim condition a running Job has earned, if any."""
        spec, status = job["spec"], job["status"]
        deadline = spec.get("activeDeadlineSeconds")
        running_for = time.monotonic() - self._started[job["metadata"]["uid"]]
        if status.get("succeeded", 0) >= spec["completions"]:
            return ("SuccessCriteriaMet", "CompletionsReached",
                    "Reached expected number of succeeded pods")
        if status.get("failed", 0) > spec["backoffLimit"]:
            return ("FailureTarget", "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit")
        if deadline is not None and running_for >= deadline * self.knobs.time_scale:
            return ("FailureTarget", "DeadlineExceeded",
                    "Job was active longer than specified deadline")
        return None

    def _progress(self, job: dict, active: list[dict], terminating: list[dict]) -> None:
        """Start the pod, or settle the Job's fate as the real controller does: the
        interim condition first, the final one once no pod is left running."""
        status = job["status"]
        interim = next((c for c in status.get("conditions", []) if c["status"] == "True"
                        and c["type"] in ("SuccessCriteriaMet", "FailureTarget")), None)
        if interim is None:
            verdict = self._verdict(job)
            if verdict is None:
                if not active and not terminating:
                    self._start_pod(job)
                return
            kind, reason, message = verdict
            set_condition(status, kind, True, reason, message, lastProbeTime=timestamp())
            interim = next(c for c in status["conditions"] if c["type"] == kind)
        if active or terminating:
            self._delete(active)
            return
        final = "Complete" if interim["type"] == "SuccessCriteriaMet" else "Failed"
        set_condition(status, final, True, interim["reason"], interim["message"],
                      lastProbeTime=timestamp())
        if final == "Complete":
            status["completionTime"] = timestamp()
        self._finished[job["metadata"]["uid"]] = time.monotonic()

    def _start_pod(self, job: dict) -> None:
        template = job["spec"]["template"]
        meta = template["metadata"]
        self.store.create(PODS, {
            "metadata": {
                "generateName": f"{job['metadata']['name']}-",
                "namespace": job["metadata"]["namespace"],
                "labels": dict(meta["labels"]),
                "annotations": dict(meta.get("annotations", {})),
                "ownerReferences": [controller_reference(job)],
                "finalizers": [TRACKING_FINALIZER],
            },
            "spec": template["spec"],
            "status": {"phase": "Pending"},
        })

    def _delete(self, pods: list[dict]) -> None:
        for pod in pods:
            with unless_gone():
                self.store.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])

    def _expire(self, job: dict) -> None:
        """ttlSecondsAfterFinished: the TTL controller deletes in the foreground."""
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        finished_at = self._finished.setdefault(job["metadata"]["uid"], time.monotonic())
        if ttl is not None and "deletionTimestamp" not in job["metadata"] and (
            time.monotonic() - finished_at >= ttl * self.knobs.ttl_scale
        ):
            self.store.delete(JOBS, job["metadata"]["namespace"], job["metadata"]["name"],
                              propagation="Foreground")
