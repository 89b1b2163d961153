"""The simulated API server's storage: one global resourceVersion (like etcd's
revision), the metadata the real server stamps, graceful deletion with finalizers,
and a bounded event history that watches resume from (too old: 410 Gone)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ApiError, details
from .meta import clone, timestamp
from .selectors import Predicate

# The alphabet of generated name suffixes (apimachinery's utilrand: no vowels, no
# look-alikes), so pod names look like the real ``job-x7k2q``.
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_MAX_GENERATED_PREFIX = 58  # 63 minus the 5-character suffix

# The finalizer a deletion with this propagation policy leaves on the owner until
# the garbage collector has dealt with its dependents.
POLICY_FINALIZERS = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    has_status: bool = True
    # batch/v1 Jobs keep the old default of orphaning their pods when deleted
    # without a propagationPolicy; kubectl sends Background, a client must too.
    default_propagation: str = "Background"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def builtin(self) -> bool:
        """Lists of built-in kinds omit each item's kind and apiVersion; custom ones keep them."""
        return "." not in self.group

    def qualified(self) -> str:
        """``jobs.batch``: how messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def not_found(self, name: str) -> ApiError:
        return ApiError(404, "NotFound", f'{self.qualified()} "{name}" not found',
                        details(self.group, self.plural, name))


JOBS = Resource("batch", "v1", "Job", "jobs", default_propagation="Orphan")
PODS = Resource("", "v1", "Pod", "pods")
SECRETS = Resource("", "v1", "Secret", "secrets", has_status=False)
WORKLOADS = Resource("kueue.x-k8s.io", "v1beta1", "Workload", "workloads")
RESOURCES = (JOBS, PODS, SECRETS, WORKLOADS)

Key = tuple[str, str, str]  # plural, namespace, name


@dataclass(frozen=True)
class Event:
    revision: int
    type: str  # ADDED, MODIFIED, DELETED
    resource: Resource
    obj: dict
    previous: dict | None


class Watcher:
    """One watch: the events it selects, in order, on a queue the HTTP stream drains."""

    def __init__(self, resource: Resource, namespace: str | None, matches: Predicate) -> None:
        self.resource, self.namespace, self.matches = resource, namespace, matches
        self.queue: asyncio.Queue = asyncio.Queue()

    def offer(self, event: Event) -> None:
        """Queue ``event`` as this watch sees it: a change that moves an object into
        or out of the selection arrives as ADDED or DELETED, as from the real server."""
        if event.resource != self.resource or self.namespace not in (
            None, event.obj["metadata"]["namespace"]
        ):
            return
        now = self.matches(event.obj)
        before = event.previous is not None and self.matches(event.previous)
        if event.type == "MODIFIED" and now != before:
            kind = "ADDED" if now else "DELETED"
        else:
            kind = event.type if now else None
        if kind:
            self.queue.put_nowait((kind, event.obj))


class Store:
    """Objects in creation order. Stored dicts are never mutated, only replaced, so
    events can share them; callers always get copies."""

    def __init__(self, history_size: int) -> None:
        self.revision = 0
        self._objects: dict[Key, dict] = {}
        self._history: deque[Event] = deque()
        self._history_size = history_size
        self._expired_below = 0  # watches from an older resourceVersion get 410
        self._watchers: set[Watcher] = set()
        self._wakeups: list[asyncio.Event] = []

    # -- reading

    def find(self, resource: Resource, namespace: str, name: str) -> dict | None:
        obj = self._objects.get((resource.plural, namespace, name))
        return None if obj is None else clone(obj)

    def get(self, resource: Resource, namespace: str, name: str) -> dict:
        obj = self.find(resource, namespace, name)
        if obj is None:
            raise resource.not_found(name)
        return obj

    def list(
        self, resource: Resource, namespace: str | None = None,
        matches: Predicate | None = None,
    ) -> list[dict]:
        return [clone(obj) for obj in self._scan(resource, namespace)
                if matches is None or matches(obj)]

    def _scan(self, resource: Resource, namespace: str | None) -> list[dict]:
        return [obj for (plural, ns, _), obj in self._objects.items()
                if plural == resource.plural and namespace in (None, ns)]

    # -- writing

    def create(
        self, resource: Resource, obj: dict, admit: Callable[[dict], dict] | None = None
    ) -> dict:
        """Stamp the server's metadata, let ``admit`` default and validate, then store."""
        obj = clone(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(random.choices(_SUFFIX_ALPHABET, k=5))
            meta["name"] = meta["generateName"][:_MAX_GENERATED_PREFIX] + suffix
        obj.update(apiVersion=resource.api_version, kind=resource.kind)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=timestamp())
        if resource.has_status:
            meta["generation"] = 1
        for server_set in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(server_set, None)
        if admit is not None:
            obj = admit(obj)
        key = (resource.plural, meta["namespace"], meta["name"])
        if key in self._objects:
            raise ApiError(409, "AlreadyExists",
                           f'{resource.qualified()} "{meta["name"]}" already exists',
                           details(resource.group, resource.plural, meta["name"]))
        return self._commit(resource, key, obj, None)

    def replace(self, resource: Resource, obj: dict, subresource: str | None = None) -> dict:
        """An update: the main resource cannot change status, ``/status`` nothing but
        status, and identity fields never change. Unchanged objects are not written."""
        meta = obj["metadata"]
        key = (resource.plural, meta["namespace"], meta["name"])
        old = self._objects.get(key)
        if old is None:
            raise resource.not_found(meta["name"])
        new = clone(obj)
        if subresource == "status":
            new = {**clone(old), "status": new.get("status", {})}
        elif resource.has_status:
            new["status"] = clone(old.get("status", {}))
        for fixed in ("uid", "creationTimestamp", "generation", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "resourceVersion"):
            new["metadata"].pop(fixed, None)
            if fixed in old["metadata"]:
                new["metadata"][fixed] = old["metadata"][fixed]
        if new == old:
            return clone(old)
        if resource.has_status and new.get("spec") != old.get("spec"):
            new["metadata"]["generation"] += 1
        return self._commit(resource, key, new, old)

    def delete(
        self, resource: Resource, namespace: str, name: str,
        propagation: str | None = None, grace: int | None = None,
    ) -> dict | None:
        """Delete as the API server does: an object with finalizers, or a pod
        within its grace period, only gets a deletionTimestamp; returns it then,
        or None once it is gone."""
        key = (resource.plural, namespace, name)
        old = self._objects.get(key)
        if old is None:
            raise resource.not_found(name)
        new = clone(old)
        meta = new["metadata"]
        if "deletionTimestamp" in meta:
            current = meta["deletionGracePeriodSeconds"]
            grace = current if grace is None else min(grace, current)
        else:
            policy = propagation or resource.default_propagation
            if policy in POLICY_FINALIZERS:
                meta.setdefault("finalizers", []).append(POLICY_FINALIZERS[policy])
            if resource is PODS and grace is None:
                grace = new["spec"].get("terminationGracePeriodSeconds", 30)
            grace = grace if resource is PODS else 0
            meta["deletionTimestamp"] = timestamp()
            if resource.has_status:
                meta["generation"] += 1
        meta["deletionGracePeriodSeconds"] = grace
        if new == old:
            return clone(old)
        result = self._commit(resource, key, new, old)
        return None if key not in self._objects else result

    def _commit(self, resource: Resource, key: Key, obj: dict, old: dict | None) -> dict:
        self.revision += 1
        obj["metadata"]["resourceVersion"] = str(self.revision)
        meta = obj["metadata"]
        if "deletionTimestamp" in meta and not meta.get("finalizers") and not meta.get(
            "deletionGracePeriodSeconds"
        ):
            del self._objects[key]
            self._record(Event(self.revision, "DELETED", resource, obj, old))
        else:
            self._objects[key] = obj
            self._record(Event(self.revision, "MODIFIED" if old else "ADDED", resource, obj, old))
        return clone(obj)

    def _record(self, event: Event) -> None:
        if len(self._history) >= self._history_size:
            self._expired_below = self._history.popleft().revision
        self._history.append(event)
        for watcher in self._watchers:
            watcher.offer(event)
        self.poke()

    # -- watching

    def watch(
        self, resource: Resource, namespace: str | None, matches: Predicate,
        resource_version: str | None,
    ) -> Watcher:
        """Start a watch: from ``resource_version`` (replaying the history after it),
        or, without one, with a synthetic ADDED for every current object."""
        watcher = Watcher(resource, namespace, matches)
        if resource_version in (None, "", "0"):
            for obj in self._scan(resource, namespace):
                if matches(obj):
                    watcher.queue.put_nowait(("ADDED", obj))
        else:
            try:
                since = int(resource_version)
            except ValueError:
                raise ApiError.bad_request(
                    f"invalid resource version: {resource_version!r}"
                ) from None
            if since < self._expired_below:
                raise ApiError(410, "Expired", f"too old resource version: {since} "
                                               f"({self._expired_below + 1})")
            for event in self._history:
                if event.revision > since:
                    watcher.offer(event)
        self._watchers.add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    def compact(self) -> None:
        """Forget the history, as etcd compaction does: every resourceVersion handed
        out so far is now too old to watch from (the revision moves on, as other
        writes in a real cluster would move it)."""
        self.revision += 1
        self._expired_below = self.revision
        self._history.clear()

    # -- waking controllers

    def wakeup(self) -> asyncio.Event:
        """An event set on every change, for one controller to wait on."""
        event = asyncio.Event()
        self._wakeups.append(event)
        return event

    def poke(self) -> None:
        for event in self._wakeups:
            event.set()
