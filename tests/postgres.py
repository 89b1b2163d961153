"""A throwaway PostgreSQL cluster for the persistence tests (Debian's postgresql-common).

``initdb`` refuses to run as root; Debian's wrappers switch to the postgres user
for us, so this works both for a developer and for CI (which runs as root).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager


def _installed_version() -> str:
    """The newest PostgreSQL server Debian installed (15 on bookworm)."""
    versions = sorted(
        (p.name for p in pathlib.Path("/usr/lib/postgresql").glob("*") if p.name.isdigit()),
        key=int,
    )
    return versions[-1] if versions else "15"


VERSION = os.environ.get("NAGELFLUH_TEST_PG_VERSION") or _installed_version()


_CLUSTERS: dict[int, str] = {}  # port -> cluster name, of the clusters started here


def available() -> bool:
    return shutil.which("pg_createcluster") is not None and os.geteuid() == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL)


@contextmanager
def cluster() -> Iterator[int]:
    """Start a new cluster on a free port; yields the port; drops it afterwards."""
    name = f"nagelfluh_test_{uuid.uuid4().hex[:8]}"
    port = _free_port()
    _run("pg_createcluster", VERSION, name, "-p", str(port), "--", "--auth=trust")
    _CLUSTERS[port] = name
    try:
        _ctl(port, "start")
        yield port
    finally:
        del _CLUSTERS[port]
        subprocess.run(
            ["pg_dropcluster", "--stop", VERSION, name],
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )


@contextmanager
def stopped(port: int) -> Iterator[None]:
    """The cluster on ``port`` stopped (its connections cut), and started again after."""
    _ctl(port, "stop")
    try:
        yield
    finally:
        _ctl(port, "start")


def _ctl(port: int, action: str) -> None:
    _run("pg_ctlcluster", "--skip-systemctl-redirect", VERSION, _CLUSTERS[port], action)


def create_database(port: int) -> str:
    """A fresh, empty database in the cluster; its SQLAlchemy URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    _run(
        "psql",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-U",
        "postgres",
        "-c",
        f"CREATE DATABASE {name}",
    )
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{name}"
