"""The simulated cluster as a test sees it: started in a background thread with its
own event loop (API server and controllers share that loop, so the cluster's state
needs no locks), and knobs the test turns from its own thread."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from kubernetes.client import ApiClient, Configuration
from kubernetes.utils import parse_quantity
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from .api import make_app
from .collector import GarbageCollector
from .controller import Knobs
from .jobs import JobController
from .kubelet import Kubelet
from .kueue import Kueue
from .store import Store
from .streams import Streams

T = TypeVar("T")

NAMESPACE = "nagelfluh-jobs"
START_SECONDS = 10.0


class SimCluster:
    """A Kubernetes API server on 127.0.0.1 with Kueue, the Job controller, a garbage
    collector and a kubelet that runs pods as local processes.

    ``quota`` is the ClusterQueue's nominal quota (one flavor) for the LocalQueue
    ``local_queue``; ``time_scale`` and ``ttl_scale`` are real seconds per simulated
    second (see :class:`Knobs`, also reachable as ``.knobs`` while running);
    ``history_size`` bounds the events a watch can resume from.
    """

    def __init__(
        self, *, quota: Mapping[str, str] | None = None, local_queue: str = "nagelfluh-queue",
        cluster_queue: str = "nagelfluh-cluster-queue", time_scale: float = 1.0,
        ttl_scale: float = 1.0, history_size: int = 1000, bookmark_seconds: float = 1.0,
    ) -> None:
        quota = quota or {"cpu": "4", "memory": "8Gi"}
        self.knobs = Knobs(quota={name: parse_quantity(value) for name, value in quota.items()},
                           local_queue=local_queue, cluster_queue=cluster_queue,
                           time_scale=time_scale, ttl_scale=ttl_scale,
                           bookmark_seconds=bookmark_seconds)
        # Images whose pull fails (ErrImagePull / ImagePullBackOff) while listed here.
        self.missing_images: set[str] = self.knobs.missing_images
        # Image -> the environment it sets (Knobs.images), e.g. {"PYTHONPATH": "/a/dir"}.
        self.images: dict[str, dict[str, str]] = self.knobs.images
        self.token = secrets.token_urlsafe(16)
        self.host = ""
        self._history_size = history_size
        self._root = Path(tempfile.mkdtemp(prefix="k8s-sim-"))
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._failures: list[BaseException] = []

    # -- life cycle

    def start(self) -> SimCluster:
        ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve(ready)),
                                        name="k8s-sim", daemon=True)
        self._thread.start()
        if not ready.wait(START_SECONDS):
            raise RuntimeError("the simulated cluster did not start")
        return self

    def stop(self) -> None:
        """Stop the server and kill every pod's process; raise what a controller or
        a pod's kubelet task failed with, so that a simulator bug fails the test."""
        if self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(START_SECONDS)
        self._thread = None
        shutil.rmtree(self._root, ignore_errors=True)
        if self._failures:
            raise RuntimeError("the simulated cluster failed") from self._failures[0]

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._store = Store(self._history_size)
        self._streams = Streams()
        self._kubelet = Kubelet(self._store, self.knobs, self._root)
        self._kueue = Kueue(self._store, self.knobs)
        controllers = [self._kueue, JobController(self._store, self.knobs), self._kubelet,
                       GarbageCollector(self._store, self.knobs)]
        tasks = [asyncio.create_task(controller.run()) for controller in controllers]
        sockets = bind_sockets(0, "127.0.0.1")
        server = HTTPServer(make_app(self._store, self._kubelet, self._streams, self.knobs,
                                     self.token))
        server.add_sockets(sockets)
        self.host = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
        ready.set()
        await self._stopping.wait()
        server.stop()
        for kind in ("watch", "log"):
            self._streams.cut(kind, clean=False)
        self._kubelet.stop_all()
        await asyncio.sleep(0.1)  # let the killed pods' tasks record their end
        self._failures = [task.exception() for task in tasks
                          if task.done() and task.exception()] + self._kubelet.errors
        for task in tasks:
            task.cancel()
        await asyncio.wait_for(server.close_all_connections(), START_SECONDS)

    def _call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function`` on the cluster's loop, where its state lives."""
        async def call() -> T:
            return function(*args)

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(START_SECONDS)

    # -- clients

    def configuration(self) -> Configuration:
        return Configuration(host=self.host, api_key={"BearerToken": self.token},
                             api_key_prefix={"BearerToken": "Bearer"})

    def api_client(self) -> ApiClient:
        """An official client configured for this cluster (plain HTTP, bearer token)."""
        return ApiClient(self.configuration())

    def write_kubeconfig(self, path: Path, namespace: str = NAMESPACE) -> Path:
        """A kubeconfig for clients that load one (JSON is YAML)."""
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "sim",
            "clusters": [{"name": "sim", "cluster": {"server": self.host}}],
            "users": [{"name": "sim", "user": {"token": self.token}}],
            "contexts": [{"name": "sim", "context": {"cluster": "sim", "user": "sim",
                                                     "namespace": namespace}}],
        }))
        return path

    # -- knobs

    def evict(self, job_name: str, namespace: str = NAMESPACE, requeue_after: float = 0.0) -> None:
        """Preempt the Job's admitted Workload (Evicted=True): Kueue suspends the Job,
        its pod is deleted, and the Workload is requeued (after ``requeue_after`` s)."""
        self._call(self._kueue.evict, namespace, job_name, requeue_after)

    def cut_watches(self, clean: bool = False) -> int:
        """Drop every open watch (``clean``: end it properly, as a server timeout
        would); returns how many were open."""
        return self._call(self._streams.cut, "watch", clean)

    def cut_log_streams(self, clean: bool = False) -> int:
        """Drop every followed log stream, as :meth:`cut_watches`."""
        return self._call(self._streams.cut, "log", clean)

    def compact_history(self) -> None:
        """Forget the event history: a watch from any resourceVersion handed out so
        far gets 410 Gone (reason Expired)."""
        self._call(self._store.compact)
