"""One real JupyterHub for the suite (tests/hub/hub.py) on one throwaway PostgreSQL,
with alice and bob logged in through the Hub's API, each with a token of their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import postgres
from tests.hub.hub import READER, USERS, Hub, running_hub
from tests.kubernetes.conftest import (  # noqa: F401  (the simulated cluster)
    k8s_cluster,
    k8s_cluster_factory,
    kubeconfig,
)
from tests.server.conftest import pg_port  # noqa: F401  (the session's PostgreSQL cluster)
from tests.servers import Server
from tests.ui.conftest import jp_asyncio_loop, jp_server_cleanup  # noqa: F401  (as tests/ui)


@pytest.fixture(scope="session")
def hub(tmp_path_factory, pg_port) -> Iterator[Hub]:  # noqa: F811
    with running_hub(tmp_path_factory.mktemp("hub"), postgres.create_database(pg_port)) as hub:
        yield hub


@pytest.fixture(scope="session")
def tokens(hub: Hub) -> dict[str, str]:
    return {name: hub.login(name) for name in (*USERS, READER)}


@pytest.fixture
def servers(hub: Hub, tokens: dict[str, str]) -> dict[str, Server]:
    """The servers of the users who may run processes, started (again, if a test stopped
    or culled one)."""
    for name in USERS:
        hub.start_server(name)
    return {name: hub.user_server(name, tokens[name]) for name in USERS}


@pytest.fixture
def second(hub: Hub, tokens: dict[str, str], servers: dict[str, Server]) -> Server:
    """alice's second server (a named server of her own, in a home of its own), as she
    would open it in another tab: configured as every server on the Hub."""
    hub.configure_server("alice", "second")
    hub.start_server("alice", "second")
    return hub.user_server("alice", tokens["alice"], "second")
