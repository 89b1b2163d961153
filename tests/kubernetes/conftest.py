"""Fixtures for the Kubernetes tests: a simulated cluster (``tests/kubernetes/sim``)
that the official client talks to over HTTP, and a kubeconfig pointing at it.

Knobs at start: ``k8s_cluster_factory(quota=..., time_scale=..., ttl_scale=...,
history_size=..., bookmark_seconds=...)``, or parametrize ``k8s_cluster`` indirectly
with a dict of them. Knobs while it runs: ``evict(job)``, ``cut_watches()``,
``cut_log_streams()``, ``compact_history()``, ``missing_images``, ``images``, ``knobs``.

``api`` is a started Jupyter server with ``executor = "kubernetes"`` on that cluster
(``nagelfluh_config`` overrides its NagelfluhApp settings)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from sqlalchemy.orm import Session

from nagelfluh_lab.db.models import Process, ProcessVersion, Project, ProjectMember, User
from tests.kubernetes.sim import SimCluster
from tests.server.conftest import Api, HeaderIdentityProvider

# The installation (database id) of executors and extractors made without a database.
INSTALLATION = "3f9a1c0e7b2d4a65"


def seed_version(session: Session, user_name: str = "tester", **fields: Any) -> ProcessVersion:
    """Version 1 of a new ``sleep`` process of a new user (``user_name``) in a new project,
    0.5 CPU and 256 MiB for at most 60 s, with ``fields`` (its ``state`` and
    ``parameters`` at least) and, made by it, ``version.process``."""
    user, project = User(name=user_name), Project(name="Seeded")
    session.add_all([user, project])
    session.flush()
    project.members.append(ProjectMember(user_id=user.id))
    process = Process(project_id=project.id, type_name="sleep", name="seeded",
                      created_by=user.id)
    session.add(process)
    session.flush()
    version = ProcessVersion(process_id=process.id, number=1, cpu=0.5, memory=256 << 20,
                             deadline_seconds=60, created_by=user.id, **fields)
    version.process = process
    session.add(version)
    session.flush()
    return version


@pytest.fixture
def k8s_cluster_factory() -> Iterator[Callable[..., SimCluster]]:
    """Start simulated clusters with the given knobs; all are stopped afterwards
    (stopping re-raises any failure inside the simulator)."""
    with ExitStack() as clusters:

        def start(**knobs: object) -> SimCluster:
            cluster = SimCluster(**knobs).start()
            clusters.callback(cluster.stop)
            return cluster

        yield start


@pytest.fixture
def k8s_cluster(request: pytest.FixtureRequest,
                k8s_cluster_factory: Callable[..., SimCluster]) -> SimCluster:
    """A simulated cluster: quota 4 CPUs / 8 GiB for the LocalQueue ``nagelfluh-queue``,
    real time, unless parametrized (indirectly) with other knobs."""
    return k8s_cluster_factory(**getattr(request, "param", {}))


@pytest.fixture
def kubeconfig(k8s_cluster: SimCluster, tmp_path: Path) -> Path:
    """A kubeconfig file for ``k8s_cluster`` (token auth, namespace ``nagelfluh-jobs``)."""
    return k8s_cluster.write_kubeconfig(tmp_path / "kubeconfig")


MakeImage = Callable[..., str]


@pytest.fixture
def make_image(k8s_cluster: SimCluster, tmp_path: Path) -> MakeImage:
    """``make_image(image, module, types, startup="", env=None)``: an image of the
    simulated cluster whose Python has one more package, ``geotools``, besides this
    venv's: ``module`` is its source and ``types`` its process types' entry points
    (name -> attribute of the module). ``startup`` runs whenever the image's Python
    starts (its sitecustomize); ``env`` is more of the image's environment."""
    count = 0

    def make(
        image: str,
        module: str,
        types: dict[str, str],
        startup: str = "",
        env: dict[str, str] | None = None,
    ) -> str:
        nonlocal count
        count += 1
        root = tmp_path / "images" / str(count)
        dist = root / "geotools-1.0.dist-info"
        dist.mkdir(parents=True)
        (root / "geotools.py").write_text(dedent(module))
        points = "".join(f"{name} = geotools:{attr}\n" for name, attr in types.items())
        (dist / "entry_points.txt").write_text(f"[nagelfluh.process_types]\n{points}")
        if startup:
            (root / "sitecustomize.py").write_text(dedent(startup))
        k8s_cluster.images[image] = {"PYTHONPATH": str(root), **(env or {})}
        return image

    return make


# -- a server with executor = "kubernetes" on the simulated cluster


@pytest.fixture
def nagelfluh_config() -> dict:
    return {}


@pytest.fixture
def jp_server_config(tmp_path: Path, kubeconfig: Path, nagelfluh_config: dict) -> dict:
    """File storage, which the simulated kubelet's pods reach since they run here."""
    return {
        "ServerApp": {
            "jpserver_extensions": {"nagelfluh_lab": True},
            "identity_provider_class": HeaderIdentityProvider,
        },
        "NagelfluhApp": {
            "db_url": f"sqlite:///{tmp_path / 'nagelfluh.db'}",
            "storage_url": (tmp_path / "storage").as_uri(),
            "executor": "kubernetes",
            "kubeconfig": str(kubeconfig),
            "default_cpu": "0.5",
            "default_memory": "256Mi",
            **nagelfluh_config,
        },
        "KubernetesExecutor": {
            "allow_local_storage": True,
            "watch_backoff_seconds": 0.05,
            "watch_backoff_max_seconds": 0.5,
        },
        "KubernetesSchemaExtractor": {"poll_seconds": 0.05, "image_pull_grace_seconds": 0.5},
    }


@pytest.fixture
def api(jp_serverapp, jp_asyncio_loop, jp_fetch) -> Api:
    """The API of a started server (pytest-jupyter never runs the start hook itself)."""
    jp_asyncio_loop.run_until_complete(
        jp_serverapp.extension_manager.start_extension("nagelfluh_lab")
    )
    return Api(jp_fetch)
