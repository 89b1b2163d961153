"""The simulated cluster's HTTP API: the REST paths the official client calls, in the
real wire format (objects, ``...List`` kinds, ``Status`` errors, newline-delimited
watch events, plain-text logs), behind a bearer token."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.web import Application, HTTPError, RequestHandler

from .controller import Knobs
from .errors import ApiError, details
from .jobs import admit_job
from .kubelet import WAITING_PHRASES, Kubelet
from .meta import NANOS, merge_patch, timestamp_nano
from .selectors import selector
from .store import JOBS, PODS, RESOURCES, SECRETS, Resource, Store
from .streams import ABORT, END, Streams

ROUTE = (r"/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
         r"(?:/namespaces/(?P<namespace>[^/]+))?/(?P<plural>[^/]+)"
         r"(?:/(?P<name>[^/]+)(?:/(?P<sub>status|log))?)?")
_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$")
_MERGE_PATCHES = ("application/merge-patch+json", "application/strategic-merge-patch+json")


def admit_secret(secret: dict) -> dict:
    """``stringData`` is write-only: the server stores it base64-encoded in ``data``."""
    data = secret.setdefault("data", {})
    for key, value in secret.pop("stringData", {}).items():
        data[key] = base64.b64encode(value.encode()).decode()
    secret.setdefault("type", "Opaque")
    return secret


_ADMISSION: dict[Resource, Callable[[dict], dict]] = {JOBS: admit_job, SECRETS: admit_secret}


def _since_nanos(value: str) -> int:
    """``sinceTime`` in nanoseconds, cut to whole seconds: the API server passes it
    on to the kubelet as a ``metav1.Time``, which has no fraction."""
    match = _RFC3339.match(value)
    if match is None:
        raise ApiError.bad_request(f"invalid sinceTime: {value!r}")
    zone = "+00:00" if match[2] == "Z" else match[2]
    return int(datetime.fromisoformat(match[1] + zone).timestamp()) * NANOS


def _flag(value: str | None) -> bool:
    return value in ("true", "1", "True")


class NotFoundHandler(RequestHandler):
    def prepare(self) -> None:
        self.set_status(404)
        self.finish(ApiError.unknown_path().status())


class ApiHandler(RequestHandler):
    def initialize(
        self, store: Store, kubelet: Kubelet, streams: Streams, knobs: Knobs, token: str
    ) -> None:
        self.store, self.kubelet, self.streams, self.knobs = store, kubelet, streams, knobs
        self.token = token
        self.queue: asyncio.Queue | None = None

    # -- plumbing

    def prepare(self) -> None:
        if self.request.headers.get("Authorization") != f"Bearer {self.token}":
            raise ApiError(401, "Unauthorized", "Unauthorized")
        kwargs = self.path_kwargs
        found = [r for r in RESOURCES if (r.group, r.version, r.plural) == (
            kwargs["group"] or "", kwargs["core"] or kwargs["version"], kwargs["plural"])]
        sub = kwargs["sub"]
        if not found or (sub == "log" and found[0] is not PODS) or (
            sub == "status" and not found[0].has_status
        ):
            raise ApiError.unknown_path()
        self.resource = found[0]
        self.namespace, self.name, self.sub = kwargs["namespace"], kwargs["name"], sub

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None))[1]
        if isinstance(error, HTTPError) and status_code == 405:
            error = ApiError(405, "MethodNotAllowed",
                             "the server does not allow this method on the requested resource")
        elif not isinstance(error, ApiError):
            error = ApiError(500, "InternalError", f"Internal error occurred: {error!r}")
        self.set_status(error.code)
        self.finish(error.status())

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if not isinstance(value, ApiError):
            super().log_exception(typ, value, tb)

    def compute_etag(self) -> None:
        return None  # the API server answers lists and gets without ETags

    def _body(self) -> Any:
        try:
            return json.loads(self.request.body or b"{}")
        except ValueError as error:
            raise ApiError.bad_request(f"invalid JSON body: {error}") from None

    def _query(self, name: str) -> str | None:
        return self.get_query_argument(name, None)

    def _selector(self) -> Callable[[dict], bool]:
        return selector(self._query("labelSelector"), self._query("fieldSelector"))

    def on_connection_close(self) -> None:
        if self.queue is not None:
            self.queue.put_nowait(ABORT)

    async def _stream(self, kind: str, queue: asyncio.Queue, render: Callable[[Any], str],
                      timeout: float | None = None) -> None:
        """Send ``render(item)`` for each queued item until END (a proper end) or
        ABORT (the connection is dropped mid-response, as by a network cut)."""
        self.queue = queue
        self.streams.add(kind, queue)
        timer = None
        if timeout:
            timer = asyncio.get_running_loop().call_later(timeout, queue.put_nowait, END)
        try:
            await self.flush()  # the headers go out at once, as from the real server
            while True:
                item = await queue.get()
                if item is ABORT:
                    self.request.connection.close()
                    return
                if item is END:
                    break
                self.write(render(item))
                await self.flush()
            self.finish()
        except StreamClosedError:
            pass  # the client went away
        finally:
            self.streams.discard(kind, queue)
            if timer is not None:
                timer.cancel()

    # -- verbs

    async def get(self, **_: str) -> None:
        if self.sub == "log":
            await self._pod_log()
        elif self.name is not None:
            self.finish(self.store.get(self.resource, self.namespace, self.name))
        elif _flag(self._query("watch")):
            await self._watch()
        else:
            self._list()

    def post(self, **_: str) -> None:
        if self.name is not None or self.namespace is None:
            raise HTTPError(405)
        body = self._body()
        meta = body.setdefault("metadata", {})
        if meta.setdefault("namespace", self.namespace) != self.namespace:
            raise ApiError.bad_request("the namespace of the provided object does not match "
                                       "the namespace sent on the request")
        created = self.store.create(self.resource, body, _ADMISSION.get(self.resource))
        self.set_status(201)
        self.finish(created)

    def patch(self, **_: str) -> None:
        if self.name is None or self.namespace is None:
            raise HTTPError(405)
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type not in _MERGE_PATCHES:
            raise ApiError(415, "UnsupportedMediaType",
                           f"the body of the request was in an unknown format - accepted media "
                           f"types include: {', '.join(_MERGE_PATCHES)}")
        current = self.store.get(self.resource, self.namespace, self.name)
        self.finish(self.store.replace(self.resource, merge_patch(current, self._body()),
                                       self.sub))

    def delete(self, **_: str) -> None:
        if self.name is None or self.namespace is None or self.sub is not None:
            raise HTTPError(405)
        options = self._body()
        propagation = self._query("propagationPolicy") or options.get("propagationPolicy")
        grace = self._query("gracePeriodSeconds") or options.get("gracePeriodSeconds")
        if propagation not in (None, "Background", "Foreground", "Orphan"):
            raise ApiError.bad_request(f"unknown propagationPolicy: {propagation!r}")
        uid = self.store.get(self.resource, self.namespace, self.name)["metadata"]["uid"]
        expected = (options.get("preconditions") or {}).get("uid")
        if expected is not None and expected != uid:
            raise ApiError(409, "Conflict", f"Precondition failed: UID in precondition: "
                           f"{expected}, UID in object meta: {uid}")
        remaining = self.store.delete(self.resource, self.namespace, self.name, propagation,
                                      None if grace is None else int(grace))
        if remaining is not None:
            self.set_status(202)  # waiting for finalizers or the grace period
            self.finish(remaining)
        else:
            r = self.resource
            self.finish({"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Success", "details": details(r.group, r.plural, self.name,
                                                                 uid=uid)})

    # -- reads

    def _list(self) -> None:
        """In etcd's key order (namespace, name), as the real server lists."""
        items = self.store.list(self.resource, self.namespace, self._selector())
        items.sort(key=lambda item: (item["metadata"]["namespace"], item["metadata"]["name"]))
        if self.resource.builtin:
            for item in items:
                del item["kind"], item["apiVersion"]
        self.finish({"kind": f"{self.resource.kind}List", "apiVersion": self.resource.api_version,
                     "metadata": {"resourceVersion": str(self.store.revision)}, "items": items})

    async def _watch(self) -> None:
        self.set_header("Content-Type", "application/json")
        try:
            watcher = self.store.watch(self.resource, self.namespace, self._selector(),
                                       self._query("resourceVersion"))
        except ApiError as error:
            if error.code != 410:
                raise
            self.finish(json.dumps({"type": "ERROR", "object": error.status()}) + "\n")
            return
        bookmarks = None
        if _flag(self._query("allowWatchBookmarks")):
            bookmarks = asyncio.create_task(self._bookmarks(watcher.queue))
        timeout = self._query("timeoutSeconds")
        try:
            await self._stream(
                "watch", watcher.queue,
                lambda event: json.dumps({"type": event[0], "object": event[1]}) + "\n",
                float(timeout) if timeout else None)
        finally:
            self.store.unwatch(watcher)
            if bookmarks is not None:
                bookmarks.cancel()

    async def _bookmarks(self, queue: asyncio.Queue) -> None:
        """A BOOKMARK now and then: the resourceVersion a watch may resume from."""
        while True:
            await asyncio.sleep(self.knobs.bookmark_seconds)
            queue.put_nowait(("BOOKMARK", {
                "kind": self.resource.kind, "apiVersion": self.resource.api_version,
                "metadata": {"resourceVersion": str(self.store.revision)}}))

    async def _pod_log(self) -> None:
        pod = self.store.get(PODS, self.namespace, self.name)
        name = pod["spec"]["containers"][0]["name"]
        asked = self._query("container")
        if asked not in (None, name):
            raise ApiError.bad_request(f"container {asked} is not valid for pod {self.name}")
        container = self.kubelet.container(pod["metadata"]["uid"])
        waiting = "ContainerCreating" if container is None else container.waiting_reason()
        if waiting is not None:
            raise ApiError.bad_request(f'container "{name}" in pod "{self.name}" is waiting to '
                                       f"start: {WAITING_PHRASES.get(waiting, waiting)}")
        lines = container.log.lines
        since_time, since_seconds = self._query("sinceTime"), self._query("sinceSeconds")
        if since_time is not None or since_seconds is not None:
            since = (_since_nanos(since_time) if since_time is not None
                     else time.time_ns() - int(since_seconds) * NANOS)
            lines = [line for line in lines if line[0] >= since]
        tail = self._query("tailLines")
        if tail is not None:
            lines = lines[len(lines) - int(tail):] if int(tail) else []

        def render(line: tuple[int, str]) -> str:
            stamp = f"{timestamp_nano(line[0])} " if _flag(self._query("timestamps")) else ""
            return f"{stamp}{line[1]}\n"

        self.set_header("Content-Type", "text/plain")
        if not _flag(self._query("follow")) or container.log.closed:
            text = "".join(render(line) for line in lines).encode()
            limit = self._query("limitBytes")
            self.finish(text if limit is None else text[:int(limit)])
            return
        queue: asyncio.Queue = asyncio.Queue()
        for line in lines:
            queue.put_nowait(line)
        container.log.follow(queue)
        try:
            await self._stream("log", queue, render)
        finally:
            container.log.unfollow(queue)


def make_app(store: Store, kubelet: Kubelet, streams: Streams, knobs: Knobs,
             token: str) -> Application:
    context = {"store": store, "kubelet": kubelet, "streams": streams, "knobs": knobs,
               "token": token}
    return Application([(ROUTE, ApiHandler, context)], default_handler_class=NotFoundHandler,
                       log_function=lambda handler: None)  # 4xx are answers here, not news
