"""Local copies of watched Kubernetes objects, kept current from a thread each.

The official client is synchronous, so each watched kind gets a thread that lists,
then watches from the list's resourceVersion, as client-go's informers do: a
410 Gone (the server compacted its history) re-lists; a dropped or failed
connection is retried after a backoff that doubles up to a maximum, resuming from
the last resourceVersion seen (bookmarks keep it recent). The thread only posts
what it reads to the event loop; the copy lives on the loop, which alone reads
and changes it, so it needs no lock. Objects stay plain dicts, as the API sends
them: the client's models cost a deserialisation per event and add nothing here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines
from urllib3 import BaseHTTPResponse

from .api import CONNECT_SECONDS, api_message, interrupt, request
from .setup import KubeObject

log = logging.getLogger(__name__)

# A watch request ends on the server after its timeoutSeconds; a reply silent for
# that long plus this margin is a dead connection.
READ_MARGIN_SECONDS = 30.0


def owner_job(obj: KubeObject) -> str | None:
    """The name of the Job that owns ``obj`` (a pod, a Kueue Workload)."""
    for ref in obj["metadata"].get("ownerReferences", []):
        if ref.get("kind") == "Job":
            return ref["name"]
    return None


def own_name(obj: KubeObject) -> str:
    return obj["metadata"]["name"]


class _Gone(Exception):
    """The watch's resourceVersion is too old: list again."""


class Informer:
    """The objects at ``path`` matching ``selector``, indexed by the Job they belong to.

    ``key`` names that Job for an object; ``on_change(job)`` is called on the loop
    whenever an object of ``job`` may have changed.
    """

    def __init__(
        self,
        api: ApiClient,
        path: str,
        selector: str | None,
        key: Callable[[KubeObject], str | None],
        on_change: Callable[[str], None],
        *,
        backoff: float,
        backoff_max: float,
        timeout: int,
    ) -> None:
        self._api = api
        self._path = path
        self._selector = selector
        self._key = key
        self._on_change = on_change
        self._backoff = backoff
        self._backoff_max = backoff_max
        self._timeout = timeout
        self._by_job: dict[str, dict[str, KubeObject]] = {}
        self._stopped = threading.Event()
        self._version: str | None = None  # resourceVersion the watch goes on from
        self._response: BaseHTTPResponse | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def of(self, job: str) -> list[KubeObject]:
        """The objects of Job ``job``, oldest first."""
        objects = self._by_job.get(job, {}).values()
        return sorted(objects, key=lambda obj: obj["metadata"].get("creationTimestamp", ""))

    def objects(self) -> list[KubeObject]:
        """Every object in the copy."""
        return [obj for objects in self._by_job.values() for obj in objects.values()]

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(
            target=self._run, name=f"k8s watch {self._path}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        interrupt(self._response)

    async def join(self) -> None:
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, CONNECT_SECONDS)

    # -- the thread

    def _run(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            try:
                if self._version is None:
                    self._list()
                self._watch()
                failures = 0
            except _Gone:
                log.info("watch on %s expired (410 Gone): listing again", self._path)
                self._version = None
            except Exception as error:
                if self._stopped.is_set():
                    return
                failures += 1
                delay = min(self._backoff * 2 ** (failures - 1), self._backoff_max)
                log.warning(
                    "watch on %s failed (%s); retrying in %.2g s",
                    self._path,
                    api_message(error),
                    delay,
                )
                self._stopped.wait(delay)

    def _query(self, **extra: Any) -> list[tuple[str, Any]]:
        query = [(name, value) for name, value in extra.items()]
        if self._selector:
            query.append(("labelSelector", self._selector))
        return query

    def _list(self) -> None:
        response = request(
            self._api,
            self._path,
            self._query(),
            (CONNECT_SECONDS, CONNECT_SECONDS + READ_MARGIN_SECONDS),
        )
        try:
            listing = json.loads(response.data)
        finally:
            response.release_conn()
        self._post(self._replace, listing["items"])
        self._version = listing["metadata"]["resourceVersion"]

    def _watch(self) -> None:
        """Follow changes after ``_version``, moving it on, until the server ends the
        watch or the connection drops."""
        response = self._response = request(
            self._api,
            self._path,
            self._query(
                watch="true",
                resourceVersion=self._version,
                allowWatchBookmarks="true",
                timeoutSeconds=self._timeout,
            ),
            (CONNECT_SECONDS, self._timeout + READ_MARGIN_SECONDS),
        )
        try:
            if self._stopped.is_set():
                return
            for line in iter_resp_lines(response):
                if not line:
                    continue
                event = json.loads(line)
                obj = event["object"]
                if event["type"] == "ERROR":
                    if obj.get("code") == 410:
                        raise _Gone
                    raise ApiException(status=obj.get("code"), reason=obj.get("message"))
                self._version = obj["metadata"]["resourceVersion"]
                if event["type"] != "BOOKMARK":
                    self._post(self._apply, event["type"], obj)
        finally:
            self._response = None
            response.close()
            response.release_conn()

    def _post(self, function: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None  # start() sets it before it starts the thread
        try:
            self._loop.call_soon_threadsafe(function, *args)
        except RuntimeError:  # the loop is closed: the server is gone
            self._stopped.set()

    # -- on the loop

    def _apply(self, kind: str, obj: KubeObject) -> None:
        job = self._key(obj)
        if job is None:
            return
        objects = self._by_job.setdefault(job, {})
        if kind == "DELETED":
            objects.pop(own_name(obj), None)
            if not objects:
                del self._by_job[job]
        else:
            objects[own_name(obj)] = obj
        self._on_change(job)

    def _replace(self, items: list[KubeObject]) -> None:
        """A fresh list: what is not in it is gone, whatever events were missed."""
        before = set(self._by_job)
        self._by_job = {}
        for obj in items:
            job = self._key(obj)
            if job is not None:
                self._by_job.setdefault(job, {})[own_name(obj)] = obj
        for job in before | set(self._by_job):
            self._on_change(job)
