"""What the benchmarks share: a real Jupyter server running the extension, its
REST and WebSocket clients, the execution contract's environment for the bare
baselines, and the printing of figures against targets.

Every benchmark talks to a ``jupyter server`` subprocess, as a browser or a kernel
would, so its figures include HTTP, authentication, the database thread and the
event loop, not just the service code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tornado.websocket import WebSocketClientConnection, websocket_connect

from nagelfluh_lab.executors.base import RunKey, RunSpec
from nagelfluh_lab.executors.contract import run_environment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.servers import Server, running_server

PYTHON = sys.executable
TERMINAL = ("completed", "failed")
CPUS = os.cpu_count() or 1


@contextlib.contextmanager
def jupyter_server(
    local_executor: dict[str, Any] | None = None,
    app: str = "server",
    app_config: dict[str, Any] | None = None,
) -> Iterator[Server]:
    """``jupyter {app}`` with the extension on a throwaway SQLite database, file
    storage and work directory (extra ``LocalExecutor`` settings in ``local_executor``,
    whole config sections in ``app_config``), stopped on exit.

    The local quota is set to the machine's cores, so the quota admits as many
    default (1-core) versions at once as the bare baselines run concurrently.
    """
    with (
        tempfile.TemporaryDirectory(prefix="nagelfluh-bench-") as tmp,
        running_server(
            Path(tmp),
            lab=app == "lab",
            app_config=app_config,
            local_executor=local_executor,
            base_url="/",
            local_quota_cpu=float(CPUS),
        ) as server,
    ):
        yield server


# ------------------------------------------------------------------- clients


def api_client(server: Server, connections: int = 4) -> httpx.AsyncClient:
    """A keep-alive REST client of the extension's API, as the token's owner."""
    return httpx.AsyncClient(
        base_url=server.api_url,
        headers=server.headers,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=120,
    )


async def get_json(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params)
    response.raise_for_status()
    return response.json()


async def submit(client: httpx.AsyncClient, process_type: str, parameters: dict) -> dict:
    """POST a process; the created process (201)."""
    response = await client.post("process", json={"type": process_type, "parameters": parameters})
    if response.status_code != 201:
        raise RuntimeError(f"submit answered {response.status_code}: {response.text}")
    return response.json()


class Events:
    """The events WebSocket, speaking JSON."""

    def __init__(self, connection: WebSocketClientConnection) -> None:
        self._connection = connection

    @classmethod
    async def connect(cls, server: Server) -> Events:
        return cls(await websocket_connect(server.events_url, max_message_size=1 << 30))

    async def send(self, message: dict) -> None:
        await self._connection.write_message(json.dumps(message))

    async def receive(self) -> dict:
        message = await self._connection.read_message()
        if message is None:
            raise RuntimeError("the server closed the events WebSocket")
        return json.loads(message)

    def close(self) -> None:
        self._connection.close()

    async def follow_project(self, client: httpx.AsyncClient, parameters: dict) -> int:
        """Run a first ``sleep`` process (it also warms the server up), subscribe to
        its project, and wait until it ends; the project's id.

        The project's current states are the subscription's answer: once that
        process's state has arrived, no later event of the project can be missed.
        """
        first = await submit(client, "sleep", parameters)
        await self.send({"subscribe": {"project": first["project"]}})
        await self.until_terminal(first["id"])
        return first["project"]

    async def until_terminal(self, process_id: int) -> str:
        """Read events until ``process_id`` (version 1) ends; its final state."""
        while True:
            message = await self.receive()
            if (
                message.get("type") == "state"
                and message.get("process") == process_id
                and message.get("state") in TERMINAL
            ):
                return message["state"]


# ---------------------------------------------------------- bare baselines


def contract_env(
    storage_url: str, run_dir: Path, process_type: str, parameters: dict, process_id: int
) -> dict[str, str]:
    """The environment the local executor gives version 1 of a process in project 1
    (one core), so a bare run starts the way a run under the server does."""
    spec = RunSpec(
        key=RunKey(process_id, 1),
        project_id=1,
        process_type=process_type,
        parameters=parameters,
        input_datasets={},
        cpu=1,
        memory=2**30,
        deadline_seconds=3600,
        storage_base=storage_url,
    )
    return run_environment(spec, run_dir)


RUNNER = [PYTHON, "-m", "nagelfluh_runner", "run"]


def run_bare(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    """Run a command to its end, as the server would, silently; its wall time in seconds."""
    start = time.perf_counter()
    completed = subprocess.run(
        argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(f"{argv} exited {completed.returncode}: {completed.stderr.decode()}")
    return elapsed


def bare_runner(
    storage: Path,
    process_type: str,
    parameters: dict,
    process_id: int,
    wrapper: tuple[str, ...] = (),
) -> float:
    """One ``python -m nagelfluh_runner run`` (behind ``wrapper``, if any) in its own
    scratch directory under ``storage``."""
    run_dir = storage / "work" / str(process_id)
    run_dir.mkdir(parents=True)
    env = contract_env(storage.as_uri(), run_dir, process_type, parameters, process_id)
    return run_bare([*wrapper, *RUNNER], env, run_dir)


# ------------------------------------------------------------- measuring


class RssSampler:
    """Samples a process's resident set (VmRSS) every ``interval`` seconds in a
    thread, so the peak is seen even while the client's event loop is busy."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self._path = Path(f"/proc/{pid}/status")
        self._interval = interval
        self._stop = threading.Event()
        self.baseline = self._rss()
        self.peak = self.baseline
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _rss(self) -> int:
        for line in self._path.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS in {self._path}")

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, self._rss())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (its threads, not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated between the nearest ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def describe_ms(label: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{label:<28} median {statistics.median(ms):8.1f} ms   p90 {percentile(ms, 90):8.1f} ms"
        f"   min {min(ms):8.1f} ms   max {max(ms):8.1f} ms"
    )


@dataclass
class Targets:
    """Figures judged against their targets; ``--check`` turns a miss into exit 1."""

    missed: list[str] = field(default_factory=list)

    def judge(self, name: str, value: float, target: float, at_least: bool, unit: str = "") -> None:
        ok = value >= target if at_least else value <= target
        sign = "≥" if at_least else "≤"
        verdict = "ok" if ok else "MISSED"
        print(f"  {name:<36} {value:10.3f}{unit}   target {sign} {target:g}{unit}   {verdict}")
        if not ok:
            self.missed.append(name)

    def require(self, name: str, ok: bool) -> None:
        """A correctness condition: a benchmark whose work was wrong has no figure."""
        print(f"  {name:<60} {'ok' if ok else 'FAILED'}")
        if not ok:
            self.missed.append(name)

    def exit_code(self, check: bool) -> int:
        if self.missed:
            print(f"missed: {', '.join(self.missed)}")
        return 1 if check and self.missed else 0


def argument_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a target is missed (default: always 0)"
    )
    return parser
