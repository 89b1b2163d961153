"""The API session against a real cluster, opt-in: set ``NAGELFLUH_TEST_KUBECONFIG``.

The same tests as on the local executor and the simulated cluster (imported from
their modules, so they cannot drift apart), run by a server with
``executor = "kubernetes"`` against the cluster that kubeconfig names, storing in
``NAGELFLUH_TEST_STORAGE_URL`` (``s3://bucket/prefix``; the pods must reach it
too) through ``NAGELFLUH_TEST_STORAGE_ENDPOINT`` (MinIO's URL; empty for AWS),
with the credentials of ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``. The
cluster needs Kueue, ``deploy/kubernetes/nagelfluh.yaml`` and the image
``nagelfluh-base-runner:latest``: see deploy/README.md, "Tests against a real cluster".
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from nagelfluh_lab.executors.contract import BOOTSTRAP_IMAGE
from tests.kubernetes.test_environments import wait_environment
from tests.kubernetes.test_server import (  # noqa: F401  (collected here, on the real cluster)
    test_sleep_and_synthetic_signal_run_to_completion_with_logs_and_outputs,
)
from tests.server.conftest import Api, HeaderIdentityProvider
from tests.server.test_processes import (  # noqa: F401  (collected here, on the real cluster)
    test_cancel_of_finished_version_is_conflict,
    test_cancel_of_running_version_fails_it_as_cancelled_and_logs_it,
    test_deadline_overrun_fails_with_reason_deadline,
    test_new_version_restore_and_compare,
    test_sleep_runs_to_completion_with_logs_timings_and_defaults,
)

KUBECONFIG = os.environ.get("NAGELFLUH_TEST_KUBECONFIG", "")
STORAGE_URL = os.environ.get("NAGELFLUH_TEST_STORAGE_URL", "")
STORAGE_ENDPOINT = os.environ.get("NAGELFLUH_TEST_STORAGE_ENDPOINT", "")

pytestmark = [
    pytest.mark.skipif(
        not KUBECONFIG,
        reason="real-cluster tests are opt-in: set NAGELFLUH_TEST_KUBECONFIG (see "
        "deploy/README.md, 'Tests against a real cluster')",
    ),
    pytest.mark.skipif(
        bool(KUBECONFIG) and not STORAGE_URL,
        reason="NAGELFLUH_TEST_KUBECONFIG needs NAGELFLUH_TEST_STORAGE_URL (s3://bucket/prefix) "
        "too: the cluster's pods cannot reach this machine's files",
    ),
]


@pytest.fixture
def jp_server_config(tmp_path: Path) -> dict:
    """The real cluster and storage; resources as the local session tests expect them.

    Each test's database is new, so its process ids start at 1 like the last test's
    (or the last test run's): its installation id keeps its Jobs apart from theirs,
    which wait for their TTL in the same namespace, and a prefix of its own its outputs.
    """
    return {
        "ServerApp": {
            "jpserver_extensions": {"nagelfluh_lab": True},
            "identity_provider_class": HeaderIdentityProvider,
        },
        "NagelfluhApp": {
            "db_url": f"sqlite:///{tmp_path / 'nagelfluh.db'}",
            "executor": "kubernetes",
            "kubeconfig": KUBECONFIG,
            "storage_url": f"{STORAGE_URL.rstrip('/')}/{secrets.token_hex(4)}",
            "storage_endpoint": STORAGE_ENDPOINT,
            "default_memory": "512Mi",
        },
        # file:// works only where the pods run on this machine: a dry run of this
        # module against the simulated cluster.
        "KubernetesExecutor": {"allow_local_storage": STORAGE_URL.startswith("file:")},
    }


async def test_registering_the_runner_image_runs_its_schema_job(api: Api):
    """The base image offers only the bootstrap types, which stay bootstrap's: its
    registration fails saying so, after the Job ran and its log was read."""
    await api.post("environments", {"name": "runner-check", "image": BOOTSTRAP_IMAGE},
                   expect=202)

    env = await wait_environment(api, "runner-check", timeout=300)

    assert env["state"] == "failed"
    assert env["message"].startswith(
        f"The image {BOOTSTRAP_IMAGE} offers no process types of its own"), env["message"]
    assert "sleep (bootstrap)" in env["message"]
