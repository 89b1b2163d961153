"""The Kubernetes schema extractor on its own against the simulated cluster: how its
Job ends (or does not), and that it always cleans up after itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from nagelfluh_runner.protocol import CONTRACT_VERSION

from nagelfluh_lab.cluster.manifests import schema_job_manifest, schema_job_name
from nagelfluh_lab.cluster.schema import KubernetesSchemaExtractor
from nagelfluh_lab.executors.schema import SchemaExtractionFailed
from tests.kubernetes.conftest import INSTALLATION, MakeImage
from tests.kubernetes.sim import NAMESPACE, SimCluster
from tests.kubernetes.test_environments import GRAVITY, schema_jobs

SLEEPY = """
    import time
    time.sleep(30)
"""

Make = Callable[..., Awaitable[KubernetesSchemaExtractor]]


@pytest.fixture
def make_extractor(kubeconfig: Path, started: Callable) -> Make:
    """``await make_extractor(**traits)``: a started extractor on the simulated cluster,
    looking often; stopped afterwards."""

    async def make(**traits: Any) -> KubernetesSchemaExtractor:
        settings = {"kubeconfig": str(kubeconfig), "poll_seconds": 0.05,
                    "installation": INSTALLATION, **traits}
        return await started(KubernetesSchemaExtractor(**settings))

    return make


async def test_output_is_what_schema_printed_in_the_image(
    make_extractor: Make, make_image: MakeImage, k8s_cluster: SimCluster
):
    extractor = await make_extractor()
    image = make_image("geo:1", GRAVITY, {"gravity-grid": "GravityGrid"})

    output, _ = await extractor.extract("geo", image, 1)

    described, end = json.JSONDecoder().raw_decode(output)
    names = [d["name"] for d in described]
    assert "gravity-grid" in names and "sleep" in names
    contract, environment = output[end:].strip().splitlines()
    assert json.loads(contract) == {"contract_version": CONTRACT_VERSION}
    assert set(json.loads(environment)["environment"]) == {"runner_version", "python", "digest"}
    assert schema_jobs(k8s_cluster) == []


async def test_the_image_the_schema_pod_ran_is_resolved_to_its_digest(
    make_extractor: Make, make_image: MakeImage, k8s_cluster: SimCluster
):
    extractor = await make_extractor()
    image = make_image("registry.example:5000/geo:1", GRAVITY, {"gravity-grid": "GravityGrid"})
    k8s_cluster.knobs.digests[image] = "sha256:" + "ab" * 32

    _, pinned = await extractor.extract("geo", image, 1)

    assert pinned == "registry.example:5000/geo@sha256:" + "ab" * 32


async def test_a_queue_name_queues_the_job_through_kueue(
    make_extractor: Make, make_image: MakeImage
):
    extractor = await make_extractor(queue_name="nagelfluh-queue")
    image = make_image("geo:1", GRAVITY, {"gravity-grid": "GravityGrid"})

    assert "gravity-grid" in (await extractor.extract("geo", image, 1)).output


async def test_a_job_kueue_never_admits_fails_saying_it_waits_for_kueue(
    make_extractor: Make, k8s_cluster: SimCluster
):
    extractor = await make_extractor(
        queue_name="no-such-queue",
        deadline_seconds=1,
        image_pull_grace_seconds=0,
        start_margin_seconds=0.5,
    )

    with pytest.raises(SchemaExtractionFailed) as failed:
        await extractor.extract("geo", "geo:1", 1)

    name = schema_job_name("geo", "geo:1", 1, INSTALLATION)
    assert str(failed.value) == (
        f"The schema Job {name} did not finish within 1.5 s "
        "(its Job is suspended, waiting for Kueue)"
    )
    assert schema_jobs(k8s_cluster) == []


async def test_a_schema_command_past_its_deadline_fails_and_is_stopped(
    make_extractor: Make, make_image: MakeImage, k8s_cluster: SimCluster
):
    extractor = await make_extractor(deadline_seconds=1)
    image = make_image("geo:slow", GRAVITY, {"gravity-grid": "GravityGrid"}, startup=SLEEPY)

    with pytest.raises(SchemaExtractionFailed) as failed:
        await extractor.extract("geo", image, 1)
    assert str(failed.value) == "python -m nagelfluh_runner schema did not finish within 1 s"
    assert schema_jobs(k8s_cluster) == []


async def test_a_job_deleted_by_someone_else_fails_the_extraction(
    make_extractor: Make, make_image: MakeImage, k8s_cluster: SimCluster
):
    extractor = await make_extractor()
    image = make_image("geo:slow", GRAVITY, {"gravity-grid": "GravityGrid"}, startup=SLEEPY)
    extraction = asyncio.create_task(extractor.extract("geo", image, 1))
    while not await asyncio.to_thread(schema_jobs, k8s_cluster):
        await asyncio.sleep(0.05)

    with k8s_cluster.api_client() as api_client:
        client.BatchV1Api(api_client).delete_namespaced_job(
            schema_job_name("geo", image, 1, INSTALLATION), NAMESPACE,
            propagation_policy="Background"
        )

    with pytest.raises(SchemaExtractionFailed, match="was deleted before it ended"):
        await extraction


async def test_a_job_of_that_name_made_for_something_else_is_left_alone(
    make_extractor: Make, k8s_cluster: SimCluster
):
    extractor = await make_extractor()
    name = schema_job_name("geo", "geo:1", 1, INSTALLATION)
    with k8s_cluster.api_client() as api_client:
        client.BatchV1Api(api_client).create_namespaced_job(
            NAMESPACE, schema_job_manifest(name, "other", "geo:1", deadline_seconds=60,
                                           installation=INSTALLATION)
        )

    with pytest.raises(SchemaExtractionFailed, match=f"A Job named {name} exists already"):
        await extractor.extract("geo", "geo:1", 1)
    assert schema_jobs(k8s_cluster) == [name]
