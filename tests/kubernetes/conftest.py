"""Fixtures for the Kubernetes tests: a simulated cluster (``tests/kubernetes/sim``)
that the official client talks to over HTTP, and a kubeconfig pointing at it.

Knobs at start: ``k8s_cluster_factory(quota=..., time_scale=..., ttl_scale=...,
history_size=..., bookmark_seconds=...)``, or parametrize ``k8s_cluster`` indirectly
with a dict of them. Knobs while it runs: ``evict(job)``, ``cut_watches()``,
``cut_log_streams()``, ``compact_history()``, ``missing_images``, ``knobs``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.kubernetes.sim import SimCluster


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
