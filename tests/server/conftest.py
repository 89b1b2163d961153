"""A real Jupyter server with the extension, on SQLite (or PostgreSQL) and file storage."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import IdentityProvider, User
from tornado.httpclient import HTTPClientError, HTTPResponse

from nagelfluh_lab.db import models
from tests import postgres

USER_HEADER = "X-Test-User"


class HeaderIdentityProvider(IdentityProvider):
    """Token auth as usual, as user "tester" or whoever the test names in a header."""

    def get_user(self, handler):  # type: ignore[override]
        user = super().get_user(handler)
        name = handler.request.headers.get(USER_HEADER, "tester")

        async def resolve() -> User | None:
            resolved = await user if asyncio.iscoroutine(user) else user
            return User(username=name) if resolved is not None else None

        return resolve()


class RuleAuthorizer(Authorizer):
    """Jupyter's authorizer as a deployment could configure it: allows everything but
    the (action, resource) pairs in ``denied`` or, if ``only`` is set, all but that one
    nagelfluh permission. Tests change the rules on the running server's instance."""

    denied: set[tuple[str, str]] = set()
    only: tuple[str, str] | None = None

    def is_authorized(self, handler, user, action, resource):  # type: ignore[override]
        if not resource.startswith("nagelfluh"):
            return True  # Jupyter's own resources: not what these tests are about
        if self.only is not None:
            return (action, resource) == self.only
        return (action, resource) not in self.denied


@pytest.fixture(scope="session")
def pg_port():
    if not postgres.available():
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL tests: install Debian's postgresql")
        pytest.skip("PostgreSQL tests need Debian's postgresql and root (as in CI)")
    with postgres.cluster() as port:
        yield port


@pytest.fixture
def db_url(request, tmp_path) -> str:
    """SQLite by default; ``@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)``
    runs a test against PostgreSQL too."""
    if getattr(request, "param", "sqlite") == "postgres":
        return postgres.create_database(request.getfixturevalue("pg_port"))
    return f"sqlite:///{tmp_path / 'nagelfluh.db'}"


BACKENDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def nagelfluh_config() -> dict:
    """Per-test overrides of NagelfluhApp settings."""
    return {}


@pytest.fixture
def identity_provider(request) -> type:
    """The test provider by default; parametrize indirectly to try Jupyter's own."""
    return getattr(request, "param", HeaderIdentityProvider)


@pytest.fixture
def jp_server_config(tmp_path, db_url, nagelfluh_config, identity_provider):
    return {
        "ServerApp": {
            "jpserver_extensions": {"nagelfluh_lab": True},
            "identity_provider_class": identity_provider,
        },
        "NagelfluhApp": {
            "db_url": db_url,
            "storage_url": (tmp_path / "storage").as_uri(),
            "local_quota_cpu": 2.0,
            "local_quota_memory": "4Gi",
            "default_memory": "512Mi",
            **nagelfluh_config,
        },
        "LocalExecutor": {
            "work_dir": str(tmp_path / "work"),
            "kill_grace_seconds": 1.0,
            "stop_runs_on_shutdown": True,
        },
    }


class Api:
    """A small client over ``jp_fetch`` that returns parsed JSON (or the error body)."""

    def __init__(self, jp_fetch: Callable[..., Awaitable[Any]], user: str | None = None) -> None:
        self._fetch = jp_fetch
        self.user = user

    def as_user(self, user: str) -> Api:
        return Api(self._fetch, user)

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict | None = None, **params: Any
    ) -> tuple[int, Any]:
        response = await self.fetch(method, path, body, headers, **params)
        content_type = response.headers.get("Content-Type", "")
        data = json.loads(response.body) if "json" in content_type else response.body
        return response.code, data

    async def fetch(
        self, method: str, path: str, body: Any = None, headers: dict | None = None, **params: Any
    ) -> HTTPResponse:
        """The whole response, headers included, whatever its status."""
        headers = dict(headers or {})
        if self.user:
            headers["X-Test-User"] = self.user
        kwargs: dict[str, Any] = {"method": method, "headers": headers}
        if params:
            kwargs["params"] = [  # a list value repeats its parameter (?y=a&y=b)
                (k, str(item))
                for k, v in params.items()
                for item in (v if isinstance(v, list) else [v])
            ]
        if body is not None:
            kwargs["body"] = body if isinstance(body, bytes) else json.dumps(body)
        elif method == "POST":
            kwargs["body"] = b""
        try:
            return await self._fetch("nagelfluh", "api", *path.split("/"), **kwargs)
        except HTTPClientError as error:
            return error.response

    async def get(self, path: str, **params: Any) -> Any:
        code, body = await self.call("GET", path, **params)
        assert code == 200, (code, body)
        return body

    async def post(self, path: str, body: Any = None, expect: int = 201, **kw: Any) -> Any:
        code, data = await self.call("POST", path, body, **kw)
        assert code == expect, (code, data)
        return data

    async def submit(self, type_name: str, parameters: dict | None = None, **extra: Any) -> dict:
        return await self.post(
            "process", {"type": type_name, "parameters": parameters or {}, **extra}
        )

    async def wait(
        self,
        process: int,
        version: int = 1,
        states: tuple = ("completed", "failed"),
        timeout: float = 60,
    ) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            body = await self.get(f"process/{process}/versions/{version}")
            if body["state"] in states:
                return body
            assert time.monotonic() < deadline, f"still {body['state']} after {timeout} s"
            await asyncio.sleep(0.05)


@pytest.fixture
def started(jp_serverapp, jp_asyncio_loop):
    """Run the extension's start hook, as a real server does once its loop runs
    (pytest-jupyter initialises the server but never calls ``start``)."""
    jp_asyncio_loop.run_until_complete(
        jp_serverapp.extension_manager.start_extension("nagelfluh_lab")
    )
    return jp_serverapp


@pytest.fixture
def api(started, jp_fetch) -> Api:
    return Api(jp_fetch)


@pytest.fixture
def ws_connect(started, jp_ws_fetch):
    async def connect(user: str | None = None):
        headers = {USER_HEADER: user} if user else {}
        return await jp_ws_fetch("nagelfluh", "api", "events", headers=headers)

    return connect


async def ws_recv(ws, timeout: float = 20) -> dict:
    message = await asyncio.wait_for(ws.read_message(), timeout)
    assert message is not None, "the server closed the WebSocket"
    return json.loads(message)


def stored_files(root: Path) -> list[str]:
    """Every file under ``root`` (a file storage), as sorted relative paths."""
    return sorted(
        os.path.relpath(os.path.join(folder, name), root)
        for folder, _, names in os.walk(root)
        for name in names
    )


def seed_version(session) -> int:
    """A user, project, process and its version 1 straight in the database (for tests
    of what the services store without a server); the version's row id."""
    user, project = models.User(name="u"), models.Project(name="p")
    session.add_all([user, project])
    session.flush()
    process = models.Process(
        project_id=project.id, type_name="sleep", name="x", created_by=user.id
    )
    session.add(process)
    session.flush()
    version = models.ProcessVersion(
        process_id=process.id,
        number=1,
        parameters={},
        cpu=1,
        memory=2**30,
        deadline_seconds=60,
        created_by=user.id,
    )
    session.add(version)
    session.flush()
    return version.id
