"""The notebook side against the real thing: a ``jupyter server`` subprocess with the
extension (its own SQLite database, file storage and Jupyter dirs, under a base_url
so URL joining is exercised), and kernels of this venv run by nbclient, as a
notebook front end would run them."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests
from nagelfluh_magics import Client
from nbclient import NotebookClient

BASE_URL = "/user/tester/"
READY_SECONDS = 60
CELL_SECONDS = 120


@dataclass
class Server:
    url: str
    token: str
    pid: int
    runtime_dir: Path

    def client(self) -> Client:
        return Client(self.url, self.token)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would point a kernel at another server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JPY_", "NAGELFLUH_"))}
    env.update(extra)
    return env


@contextlib.contextmanager
def running_server(root: Path, **settings: Any) -> Iterator[Server]:
    """``jupyter server`` with the extension under ``root``; ``settings`` override
    NagelfluhApp's. Stopped (killed if it must be) on exit."""
    port, token = _free_port(), secrets.token_hex(16)
    dirs = {name: root / name for name in ("config", "data", "runtime", "work", "storage")}
    for path in dirs.values():
        path.mkdir(parents=True)
    config = {
        "ServerApp": {
            "ip": "127.0.0.1",
            "port": port,
            "port_retries": 0,
            "base_url": BASE_URL,
            "open_browser": False,
            "allow_root": True,
            "root_dir": str(root),
            "jpserver_extensions": {"nagelfluh_lab": True},
        },
        "IdentityProvider": {"token": token},
        "NagelfluhApp": {
            "db_url": f"sqlite:///{root / 'nagelfluh.db'}",
            "storage_url": dirs["storage"].as_uri(),
            "local_quota_cpu": 4.0,
            "local_quota_memory": "4Gi",
            "default_memory": "512Mi",
            **settings,
        },
        "LocalExecutor": {"work_dir": str(dirs["work"]), "kill_grace_seconds": 1.0},
    }
    (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps(config))
    env = clean_env(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
    )
    with open(root / "server.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server"],
            env=env,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}{BASE_URL}", token, process.pid, dirs["runtime"])
    try:
        _wait_until_ready(server, process, root / "server.log")
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(server: Server, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(requests.RequestException):
            response = requests.get(
                server.url + "nagelfluh/api/process-types",
                headers={"Authorization": f"token {server.token}"},
                timeout=2,
            )
            if response.status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the server did not start; its log ends:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("server")) as running:
        yield running


@pytest.fixture(scope="session")
def client(server) -> Client:
    return server.client()


def wait_until_ended(client: Client, process: int, version: int = 1, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while (info := client.version(process, version))["state"] not in ("completed", "failed"):
        assert time.monotonic() < deadline, f"{process}/{version} still {info['state']}"
        time.sleep(0.05)
    return info


@pytest.fixture(scope="session")
def outputs(client) -> dict[str, dict]:
    """Output datasets the plot, map and load tests share: two signals in different
    units, one more in the first one's unit, and a gravity survey."""
    runs = {
        "signal_mm": client.submit("synthetic-signal", {"duration": 4, "sample_rate": 500}),
        "signal_mm_2": client.submit("synthetic-signal", {"duration": 2, "seed": 7}),
        "signal_nm": client.submit("synthetic-signal", {"duration": 2, "units": "nm"}),
        "survey": client.submit("synthetic-survey", {"nx": 6, "ny": 5}),
    }
    found = {}
    for name, process in runs.items():
        info = wait_until_ended(client, process["id"])
        assert info["state"] == "completed", info
        found[name] = info["outputs"][0]
    return found


class Kernel:
    """A kernel of this venv, fed cells one at a time by nbclient, as a notebook is."""

    def __init__(self, env: dict[str, str]) -> None:
        self.notebook = nbformat.v4.new_notebook()
        self.runner = NotebookClient(
            self.notebook, kernel_name="python3", timeout=CELL_SECONDS, allow_errors=True
        )
        self._setup = self.runner.setup_kernel(env=env)

    def __enter__(self) -> Kernel:
        self._setup.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._setup.__exit__(*exc)

    def run(self, source: str, fails: bool = False) -> Cell:
        """Execute one cell; unless ``fails``, a cell that raised fails the test."""
        cell = nbformat.v4.new_code_cell(source)
        self.notebook.cells.append(cell)
        self.runner.execute_cell(cell, len(self.notebook.cells) - 1)
        result = Cell(cell)
        if not fails:
            assert not result.errors, result.describe()
        return result


class Cell:
    """What a cell showed: its streams, results and displays."""

    def __init__(self, cell: Any) -> None:
        self.outputs = cell.outputs

    def stream(self, name: str) -> str:
        return "".join(o.text for o in self.outputs if o.output_type == "stream" and o.name == name)

    @property
    def stdout(self) -> str:
        return self.stream("stdout")

    @property
    def stderr(self) -> str:
        return self.stream("stderr")

    @property
    def errors(self) -> list[Any]:
        return [o for o in self.outputs if o.output_type == "error"]

    def data(self, output_type: str = "execute_result") -> list[dict]:
        return [o.data for o in self.outputs if o.output_type == output_type]

    @property
    def result(self) -> dict:
        (found,) = self.data()
        return found

    def describe(self) -> str:
        return json.dumps([dict(o) for o in self.outputs], indent=1, default=str)[:4000]


@pytest.fixture(scope="session")
def kernel(server) -> Iterator[Kernel]:
    """One kernel for the magics tests (they start no state another one relies on),
    told its server through NAGELFLUH_URL/NAGELFLUH_TOKEN, magics loaded."""
    with Kernel(clean_env(NAGELFLUH_URL=server.url, NAGELFLUH_TOKEN=server.token)) as running:
        running.run("%load_ext nagelfluh_magics")
        yield running
