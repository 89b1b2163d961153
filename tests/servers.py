"""A real Jupyter server with the extension in a subprocess, as users run it: its own
SQLite database, file storage and Jupyter dirs, under a base_url so URL joining is
exercised. The magics tests run ``jupyter server``; the UI tests ``jupyter lab``."""

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

import requests

BASE_URL = "/user/tester/"
READY_SECONDS = 90


@dataclass
class Server:
    url: str
    token: str
    pid: int
    root: Path

    @property
    def runtime_dir(self) -> Path:
        return self.root / "runtime"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    @property
    def api_url(self) -> str:
        return self.url + "nagelfluh/api/"

    @property
    def events_url(self) -> str:
        return "ws" + self.api_url.removeprefix("http") + f"events?token={self.token}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}


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
def running_server(
    root: Path,
    lab: bool = False,
    app_config: dict | None = None,
    local_executor: dict | None = None,
    base_url: str = BASE_URL,
    **settings: Any,
) -> Iterator[Server]:
    """``jupyter server`` (or ``jupyter lab`` if ``lab``) with the extension under
    ``root``; ``settings`` override NagelfluhApp's, ``local_executor`` LocalExecutor's,
    ``app_config`` adds whole config sections. Stopped (killed if it must be) on exit.
    The tests and the benchmarks both run their servers through this."""
    port, token = _free_port(), secrets.token_hex(16)
    dirs = {name: root / name for name in ("config", "data", "runtime", "work", "storage")}
    for path in dirs.values():  # kept, so a server can be started again on the same root
        path.mkdir(parents=True, exist_ok=True)
    config = {
        "ServerApp": {
            "ip": "127.0.0.1",
            "port": port,
            "port_retries": 0,
            "base_url": base_url,
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
        "LocalExecutor": {
            "work_dir": str(dirs["work"]),
            "kill_grace_seconds": 1.0,
            "stop_runs_on_shutdown": True,  # no test leaves runs behind when it ends
            **(local_executor or {}),
        },
        **(app_config or {}),
    }
    (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps(config))
    env = clean_env(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
    )
    with open(root / "server.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab" if lab else "jupyter_server"],
            env=env,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}{base_url}", token, process.pid, root)
    try:
        _wait_until_ready(server, process)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(server: Server, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(requests.RequestException):
            response = requests.get(
                server.api_url + "process-types", headers=server.headers, timeout=2
            )
            if response.status_code == 200:
                return
        time.sleep(0.1)
    tail = server.log_path.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"the server did not start; its log ends:\n{tail}")
