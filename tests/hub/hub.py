"""A real JupyterHub for the tests: ``jupyterhub`` from PyPI behind its own proxy
(configurable-http-proxy from npm, installed by scripts/install-hub-proxy.sh), a
fixed-password authenticator, and every user's single-user server (``jupyter lab``
with this extension) spawned as a local process against one shared database.

SimpleLocalProcessSpawner runs each user's server as the Hub's own OS user in a home
of its own: LocalProcessSpawner would need a system account per user (``useradd`` on
the machine, as root), which a test run must not leave behind on a developer's machine
or CI's. Users are told apart by the Hub's identity, which is what the extension
authorizes by; the OS user is the same for all, as it is for every pod under z2jh.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import websocket

from tests.servers import Server, clean_env
from tests.ui.browser import lab_config

PROXY = Path(__file__).resolve().parent / "node_modules" / ".bin" / "configurable-http-proxy"
USERS = ("alice", "bob")  # users who may run processes (the Hub grants them the scope)
READER = "carol"  # a user without that scope: she may look, not run
SCOPES_CONFIG = Path(__file__).resolve().parent / "scopes_config.py"
# the top-level README's JupyterHub example: custom scopes for what a user may do
CUSTOM_SCOPES = {
    "custom:nagelfluh:execute:nagelfluh:processes": {"description": "run processes"},
    "custom:nagelfluh:write:nagelfluh:datasets": {"description": "upload files"},
    "custom:nagelfluh:write:nagelfluh:projects": {"description": "create projects"},
    "custom:nagelfluh:write:nagelfluh:environments": {"description": "own environments"},
    "custom:nagelfluh:write:nagelfluh:admin": {"description": "installation environments"},
}
# what alice and bob are granted, each on their own server
RUN_SCOPES = [
    "custom:nagelfluh:execute:nagelfluh:processes!user",
    "custom:nagelfluh:write:nagelfluh:datasets!user",
    "custom:nagelfluh:write:nagelfluh:projects!user",
]
PASSWORD = "nagelfluh-hub-tests"  # the authenticator's one password for every user
ACTIVITY_SECONDS = 2  # how often a single-user server tells the Hub when it was last active
READY_SECONDS = 120
HARNESS = "harness"  # the Hub service whose token the tests administer the Hub with
CULLER = "idle-culler"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)
    return value


@dataclass
class Hub:
    """A running Hub: ``url`` is the proxy's public address, where users go."""

    root: Path
    url: str
    api_url: str
    tokens: dict[str, str]  # service name -> its API token
    db_url: str  # the database every user's server shares
    storage: Path  # and the storage
    pids: set[int] = field(default_factory=set)  # single-user servers it spawned

    @property
    def log_path(self) -> Path:
        return self.root / "hub.log"

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"token {self.tokens[HARNESS]}"}
        return requests.request(method, self.api_url + path, headers=headers, timeout=30, **kwargs)

    def user_model(self, name: str) -> dict:
        response = self.api("GET", f"users/{name}")
        response.raise_for_status()
        return response.json()

    def server_model(self, name: str, server: str = "") -> dict | None:
        """The user's server (default: her default server) as the Hub sees it, or None
        when it does not run."""
        return self.user_model(name)["servers"].get(server)

    def login(self, name: str) -> str:
        """A new API token of ``name``'s own, as the user would make on the token page."""
        response = self.api("POST", f"users/{name}/tokens", json={"note": "tests/hub"})
        response.raise_for_status()
        return response.json()["token"]

    def home(self, name: str, server: str = "") -> Path:
        """Where the user's server keeps its config, data and work: a named server has a
        home of its own inside its user's, as a pod of its own would."""
        home = self.root / "users" / name
        return home / "servers" / server if server else home

    def configure_server(self, name: str, server: str, **settings: dict[str, Any]) -> None:
        """Configure the user's named server ``server`` (before it starts) as every server
        on the Hub, with ``settings`` (a config section each) on top."""
        _configure(self.home(name, server), self.db_url, self.storage, settings)

    def start_server(self, name: str, server: str = "") -> None:
        """Start the user's server unless it runs; return once it answers through the proxy."""
        _wait(
            lambda: (self.server_model(name, server) or {}).get("pending") != "stop",
            60,
            f"{name}'s server to finish stopping",
        )  # a culled one may be on its way out
        if not self.server_model(name, server):
            response = self.api("POST", _server_path(name, server))
            assert response.status_code in (201, 202), response.text
        model = _wait(
            lambda: (s := self.server_model(name, server)) and s["ready"] and s,
            READY_SECONDS,
            f"{name}'s server {server!r}",
        )
        self.pids.add(model["state"]["pid"])

    def stop_server(self, name: str, server: str = "") -> None:
        response = self.api("DELETE", _server_path(name, server))
        assert response.status_code in (202, 204, 400), response.text  # 400: not running
        _wait(lambda: self.server_model(name, server) is None, 60, f"{name}'s server to stop")

    def user_server(self, name: str, token: str, server: str = "") -> Server:
        """The user's running server as tests/servers.py's ``Server``, reached through the
        proxy with the user's own token (so page objects and API helpers work as is)."""
        model = self.server_model(name, server)
        assert model is not None and model["ready"], f"{name} has no running server {server!r}"
        return Server(
            self.url.rstrip("/") + model["url"],
            token,
            model["state"]["pid"],
            self.home(name, server),
        )

    def start_culler(self, timeout: int, every: int, max_age: int = 0) -> subprocess.Popen:
        """jupyterhub-idle-culler as the Hub's ``idle-culler`` service, started by the test
        (not the Hub), so servers are at risk only while a test means them to be. It
        culls servers idle for ``timeout`` seconds, and any older than ``max_age``."""
        env = clean_env(
            JUPYTERHUB_API_TOKEN=self.tokens[CULLER], JUPYTERHUB_API_URL=self.api_url.rstrip("/")
        )  # the culler adds the /
        with open(self.root / "culler.log", "ab") as log:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jupyterhub_idle_culler",
                    f"--timeout={timeout}",
                    f"--cull-every={every}",
                    f"--max-age={max_age}",
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )


def call(
    server: Server, method: str, path: str, token: str | None = None, **kwargs: Any
) -> requests.Response:
    """The extension's API on ``server`` through the Hub's proxy, with the user's token
    (or ``token``, someone else's)."""
    headers = {"Authorization": f"token {token or server.token}"}
    return requests.request(
        method, server.api_url + path, headers=headers, timeout=30, allow_redirects=False, **kwargs
    )


def events_socket(server: Server) -> websocket.WebSocket:
    """The extension's events WebSocket through the Hub's proxy, with the user's token."""
    url = "ws" + server.api_url.removeprefix("http") + "events"
    header = [f"Authorization: token {server.token}"]
    return websocket.create_connection(url, header=header, timeout=30)


def messages_until(
    events: websocket.WebSocket, last: Callable[[dict], bool]
) -> list[tuple[float, dict]]:
    """The messages received (with the monotonic time each arrived) up to and including
    the first for which ``last`` holds."""
    received = [(time.monotonic(), json.loads(events.recv()))]
    while not last(received[-1][1]):
        received.append((time.monotonic(), json.loads(events.recv())))
    return received


def submit_sleep(server: Server, name: str, seconds: float) -> dict:
    response = call(
        server,
        "POST",
        "process",
        json={
            "type": "sleep",
            "name": name,
            "parameters": {"seconds": seconds},
            "resources": {"cpu": 1, "deadline_seconds": 120},
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def wait_state(server: Server, process: int, *states: str, timeout: float = 60) -> dict:
    """Version 1 of ``process`` once it is in one of ``states``."""
    path = f"process/{process}/versions/1"
    return _wait(
        lambda: (v := call(server, "GET", path).json())["state"] in states and v,
        timeout,
        f"process {process} to be {' or '.join(states)}",
    )


def _server_path(name: str, server: str) -> str:
    return f"users/{name}/servers/{server}" if server else f"users/{name}/server"


def _configure(home: Path, db_url: str, storage: Path, settings: dict[str, dict]) -> None:
    """Write the config of the server living in ``home``: ``_user_config`` with
    ``settings`` merged in, section by section, and the README's scope authorizer."""
    config = _user_config(home, db_url, storage)
    for section, values in settings.items():
        config[section] = {**config.get(section, {}), **values}
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
    shutil.copy(SCOPES_CONFIG, home / "config" / "jupyter_server_config.py")


def _user_config(home: Path, db_url: str, storage: Path) -> dict:
    """Every user's server: the extension on the one shared database and storage."""
    return {
        "ServerApp": {
            "allow_root": True,  # the tests and CI run as root; the spawner keeps that user
            "root_dir": str(home),
            "jpserver_extensions": {"nagelfluh_lab": True},
        },
        "NagelfluhApp": {
            "db_url": db_url,
            "storage_url": storage.as_uri(),
            "local_quota_cpu": 2.0,
            "local_quota_memory": "4Gi",
            "default_memory": "512Mi",
        },
        "LocalExecutor": {
            "work_dir": str(home / "work"),
            "kill_grace_seconds": 1.0,
            "stop_runs_on_shutdown": True,
        },
        **lab_config(home),
    }


def _hub_config(root: Path, ports: dict[str, int], tokens: dict[str, str]) -> str:
    users = root / "users"
    settings = {
        "JupyterHub": {
            "bind_url": f"http://127.0.0.1:{ports['public']}",
            "hub_bind_url": f"http://127.0.0.1:{ports['hub']}",
            "db_url": f"sqlite:///{root / 'jupyterhub.sqlite'}",
            "cookie_secret_file": str(root / "cookie_secret"),
            "pid_file": str(root / "hub.pid"),
            "authenticator_class": "shared-password",
            "spawner_class": "simple",
            "allow_named_servers": True,  # a user's second server, on the same database
            "activity_resolution": 1,  # keep every activity report (default: 30 s apart)
            "last_activity_interval": ACTIVITY_SECONDS,
            "services": [{"name": name, "api_token": token} for name, token in tokens.items()],
            "custom_scopes": CUSTOM_SCOPES,
            "load_roles": [
                {"name": "admin", "services": [HARNESS]},
                {
                    "name": "nagelfluh-users",
                    "users": list(USERS),
                    "scopes": RUN_SCOPES,
                },
                {
                    "name": CULLER,
                    "services": [CULLER],
                    "scopes": [
                        "list:users",
                        "read:users:activity",
                        "read:servers",
                        "delete:servers",
                    ],
                },
            ],
        },
        "ConfigurableHTTPProxy": {
            "command": [str(PROXY)],
            "api_url": f"http://127.0.0.1:{ports['proxy_api']}",
            "pid_file": str(root / "proxy.pid"),
        },
        "Authenticator": {"allowed_users": [*USERS, READER]},
        "SharedPasswordAuthenticator": {"user_password": PASSWORD},
        "Spawner": {
            "cmd": [sys.executable, "-m", "jupyterhub.singleuser"],
            "default_url": "/lab",
            # a browser's login token carries them too, not only access to the server
            "oauth_client_allowed_scopes": RUN_SCOPES,
            "start_timeout": READY_SECONDS,
            "http_timeout": READY_SECONDS,
        },
        "SimpleLocalProcessSpawner": {"home_dir_template": f"{users}/{{username}}"},
    }
    lines = [
        f"c.{section}.{name} = {value!r}"
        for section, values in settings.items()
        for name, value in values.items()
    ]
    # per user: a callable of the spawner, which the Hub calls at every spawn
    # per server: a callable of the spawner, which the Hub calls at every spawn (the
    # home is Hub.home's)
    home = f"'{users}/' + spawner.user.name + ('/servers/' + spawner.name if spawner.name else '')"
    lines.append(
        "c.Spawner.environment = {"
        f"'JUPYTERHUB_ACTIVITY_INTERVAL': '{ACTIVITY_SECONDS}', "
        + ", ".join(
            f"'JUPYTER_{kind.upper()}_DIR': lambda spawner: {home} + '/{kind}'"
            for kind in ("config", "data", "runtime")
        )
        + "}"
    )
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def running_hub(root: Path, db_url: str) -> Iterator[Hub]:
    """The Hub and its proxy on free ports, its users' homes under ``root``; on exit the
    Hub stops its servers and proxy, and whatever outlived it is killed."""
    if not PROXY.exists():
        raise RuntimeError(f"{PROXY} is missing: run scripts/install-hub-proxy.sh")
    storage = root / "storage"
    storage.mkdir(parents=True)
    for name in (*USERS, READER):
        _configure(root / "users" / name, db_url, storage, {})
    ports = {name: _free_port() for name in ("public", "hub", "proxy_api")}
    tokens = {HARNESS: secrets.token_hex(16), CULLER: secrets.token_hex(16)}
    (root / "jupyterhub_config.py").write_text(_hub_config(root, ports, tokens))
    with open(root / "hub.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(root / "jupyterhub_config.py")],
            cwd=root,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    hub = Hub(
        root,
        f"http://127.0.0.1:{ports['public']}/",
        f"http://127.0.0.1:{ports['public']}/hub/api/",
        tokens,
        db_url,
        storage,
    )
    try:
        _wait_until_ready(hub, process)
        yield hub
    finally:
        _stop(hub, process)


def _wait_until_ready(hub: Hub, process: subprocess.Popen) -> None:
    def answers() -> bool:
        if process.poll() is not None:
            tail = hub.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the Hub exited; its log ends:\n{tail}")
        with contextlib.suppress(requests.RequestException):
            return hub.api("GET", "users").status_code == 200
        return False

    _wait(answers, READY_SECONDS, "the Hub behind its proxy")


def _stop(hub: Hub, process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)  # the Hub stops its servers and its proxy
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    proxy = hub.root / "proxy.pid"
    leftovers = set(hub.pids)
    if proxy.exists():
        leftovers.add(int(proxy.read_text()))
    for pid in leftovers:
        with contextlib.suppress(OSError):  # gone already, as it should be
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"jupyterhub" in command or b"configurable-http-proxy" in command:
                os.kill(pid, signal.SIGKILL)
