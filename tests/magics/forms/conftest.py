"""Form tests run without a server: a fake client stands in for nagelfluh_magics.Client.

It implements the duck-typed interface the forms rely on and records every
call; the real client is tested end to end against a server elsewhere.
"""

from __future__ import annotations

import copy
import importlib.util
import queue
import sys
from pathlib import Path
from typing import Any

import pytest

if importlib.util.find_spec("nagelfluh_magics") is None:  # not installed: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "kernel_magics"))

DATASETS = [
    {
        "id": 3,
        "name": "signal.nc",
        "process": 1,
        "version": 1,
        "variables": [{"name": "time", "units": "s"}, {"name": "amplitude", "units": "mm/s"}],
    },
    {"id": 7, "name": "stations.csv", "process": None, "version": None, "variables": []},
]

SERVER_DEFAULTS = {"cpu": 1, "memory": "1Gi", "deadline_seconds": 3600}


class ServerError(Exception):
    """Shaped like the client's error: HTTP status, the server's message, field details."""

    def __init__(self, status: int, message: str, details: Any = None):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.details = details


class FakeClient:
    """The client interface the forms use, answering like the server and recording calls.

    ``follow`` streams what the test ``push``es, until a terminal state event,
    as the events WebSocket does; ``cancel`` pushes the ``failed``/``cancelled``
    state the server would send.
    """

    def __init__(self, types: list[dict[str, Any]], datasets: list[dict[str, Any]] = DATASETS):
        self.types = {t["name"]: t for t in types}
        self.dataset_items = copy.deepcopy(datasets)
        self.calls: list[tuple[str, Any]] = []
        self.fail: dict[str, Exception] = {}
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.next_id = 41

    def _call(self, method: str, *args: Any) -> None:
        self.calls.append((method, *args))
        if method in self.fail:
            raise self.fail[method]

    def called(self, method: str) -> list[tuple[Any, ...]]:
        return [call[1:] for call in self.calls if call[0] == method]

    def process_type(self, name: str) -> dict[str, Any]:
        self._call("process_type", name)
        return copy.deepcopy(self.types[name])

    def datasets(self, project: int | None = None) -> list[dict[str, Any]]:
        self._call("datasets", project)
        return copy.deepcopy(self.dataset_items)

    def estimate(self, resources: dict[str, Any]) -> dict[str, Any]:
        self._call("estimate", copy.deepcopy(resources))
        used = {**SERVER_DEFAULTS, **resources}
        cpu = used["cpu"]
        cores = float(cpu[:-1]) / 1000 if isinstance(cpu, str) else cpu
        return {
            "resources": used,
            "estimated": round(cores * used["deadline_seconds"] / 3600 * 0.5, 6),
            "rates": {"cpu_hour": 0.5, "memory_gib_hour": 0.0},
        }

    def submit(
        self,
        type_name: str,
        parameters: dict[str, Any],
        *,
        name: str | None = None,
        resources: dict[str, Any] | None = None,
        project: int | None = None,
        cache: bool = True,
    ) -> dict[str, Any]:
        self._call("submit", type_name, copy.deepcopy(parameters), name, resources, project, cache)
        self.next_id += 1
        version = {"process": self.next_id, "version": 1, "state": "queued", "reason": None}
        return {"id": self.next_id, "project": project or 1, "type": type_name, "name": name,
                "versions": [{**version, "parameters": parameters}]}  # fmt: skip

    def cancel(self, process_id: int, version: int) -> dict[str, Any]:
        self._call("cancel", process_id, version)
        self.push({"type": "log", "lines": [self.line(10**6, "Process cancelled by user")]})
        self.push({"type": "state", "state": "failed", "reason": "cancelled"})
        return {"process": process_id, "version": version, "state": "running"}

    def follow(self, process_id: int, version: int) -> Any:
        self._call("follow", process_id, version)
        while True:
            event = self.events.get(timeout=10)
            yield {"process": process_id, "version": version, **event}
            if event["type"] == "state" and event["state"] in ("completed", "failed"):
                return

    def push(self, event: dict[str, Any]) -> None:
        self.events.put(event)

    @staticmethod
    def line(seq: int, text: str, stream: str = "stdout") -> dict[str, Any]:
        return {"seq": seq, "time": 1700000000.0 + seq, "stream": stream, "line": text}


@pytest.fixture
def datasets_provider() -> Any:
    return lambda: copy.deepcopy(DATASETS)


@pytest.fixture
def server_error() -> type[ServerError]:
    return ServerError


@pytest.fixture
def fake_client() -> Any:
    """A FakeClient factory: ``fake_client(types, datasets=...)``."""
    return FakeClient
