"""Provenance, the cache and exact re-runs with ``executor = "kubernetes"``: an
environment's digest is the one its schema pod's status reports, its runs are pinned by
it, every run records the digest its pod ran, and an exact re-run pins the original's."""

from __future__ import annotations

from kubernetes import client

from nagelfluh_lab.cluster.manifests import job_name
from nagelfluh_lab.executors.base import RunKey
from tests.kubernetes.conftest import MakeImage
from tests.kubernetes.sim import NAMESPACE, SimCluster
from tests.kubernetes.test_environments import wait_environment
from tests.server.conftest import Api

GRID = """
    import os
    from nagelfluh_runner.sdk import ProcessType, object_schema, parameter

    class Grid(ProcessType):
        name = "grid"
        title = "Grid"
        description = "Writes a grid."
        schema = object_schema(
            {"spacing": parameter("number", "Spacing", "Grid spacing in m.", 10, minimum=1)}
        )

        def run(self, ctx, spacing=10):
            made = f"{spacing} by {os.environ['IMAGE_TAG']}"
            ctx.write_bytes("grid.txt", made.encode(), "text/plain")
"""
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


async def _register(api: Api, make_image: MakeImage, cluster: SimCluster, tag: str) -> dict:
    image = make_image("registry.example/geo:1", GRID, {"grid": "Grid"}, env={"IMAGE_TAG": tag})
    cluster.knobs.digests[image] = D1 if tag == "1" else D2
    await api.post("environments", {"name": "geo", "image": image}, expect=202)
    env = await wait_environment(api, "geo")
    assert env["state"] == "ready", env
    return env


async def _run(api: Api, **extra) -> dict:
    created = await api.submit("grid", {"spacing": 25}, **extra)
    done = await api.wait(created["id"])
    assert done["state"] == "completed", done["message"]
    return done


def _job_image(cluster: SimCluster, process: int, version: int) -> str:
    with cluster.api_client() as api_client:
        job = client.BatchV1Api(api_client).read_namespaced_job(
            job_name(RunKey(process, version)), NAMESPACE
        )
    return job.spec.template.spec.containers[0].image


async def test_a_run_records_the_image_digest_its_pod_ran(
    api: Api, make_image: MakeImage, k8s_cluster: SimCluster
):
    env = await _register(api, make_image, k8s_cluster, "1")
    assert env["digest"] == D1
    grid = await api.get("process-types/grid")
    assert grid["version"].startswith("sha256:") and grid["cacheable"] is True

    done = await _run(api)

    record = done["provenance"]
    assert record["executor"] == "kubernetes"
    assert record["environment"] == {
        "name": "geo",
        "image": f"registry.example/geo@{D1}",
        "digest": D1,
        "image_digest": D1,
        "python": None,
    }
    assert record["runner_version"] and record["process_type"]["version"] == grid["version"]
    assert record["exit_code"] == 0
    assert _job_image(k8s_cluster, done["process"], 1) == f"registry.example/geo@{D1}"


async def test_identical_work_in_an_image_is_served_from_the_cache(
    api: Api, make_image: MakeImage, k8s_cluster: SimCluster
):
    await _register(api, make_image, k8s_cluster, "1")
    first = await _run(api)

    again = (await api.submit("grid", {"spacing": 25}))["versions"][0]

    assert again["state"] == "completed"
    assert again["cached_from"] == {"process": first["process"], "version": 1}


async def test_a_pushed_tag_runs_only_once_the_environment_is_registered_again(
    api: Api, make_image: MakeImage, k8s_cluster: SimCluster
):
    await _register(api, make_image, k8s_cluster, "1")
    first = await _run(api)
    k8s_cluster.knobs.digests["registry.example/geo:1"] = D2  # a push moves the tag

    still = (await api.submit("grid", {"spacing": 25}))["versions"][0]
    assert still["cached_from"] == {"process": first["process"], "version": 1}
    await _register(api, make_image, k8s_cluster, "2")
    pushed = await _run(api)

    assert pushed["cached_from"] is None
    assert pushed["provenance"]["environment"]["image_digest"] == D2
    data = await api.fetch("GET", f"dataset/{pushed['outputs'][0]['id']}")
    assert data.body == b"25 by 2"


async def test_an_environment_whose_digest_is_unresolved_is_not_cached(api: Api):
    first = await _run_bootstrap(api)
    second = await _run_bootstrap(api)

    assert second["cached_from"] is None
    cache = second["provenance"]["cache"]
    assert (cache["status"], cache["key"]) == ("uncacheable", None)
    assert "bootstrap" in cache["reason"] and "unresolved" in cache["reason"]
    assert first["provenance"]["environment"]["image_digest"].startswith("sha256:")


async def _run_bootstrap(api: Api) -> dict:
    created = await api.submit("synthetic-signal", {"duration": 1, "sample_rate": 100})
    done = await api.wait(created["id"])
    assert done["state"] == "completed", done["message"]
    return done


async def test_re_run_exactly_pins_the_image_the_original_ran(
    api: Api, make_image: MakeImage, k8s_cluster: SimCluster
):
    await _register(api, make_image, k8s_cluster, "1")
    first = await _run(api)
    await _register(api, make_image, k8s_cluster, "2")  # the environment moved on since

    rerun = await api.post(f"process/{first['process']}/versions/1/rerun")
    done = await api.wait(first["process"], 2)

    assert done["state"] == "completed", done["message"]
    assert _job_image(k8s_cluster, first["process"], 2) == f"registry.example/geo@{D1}"
    assert rerun["provenance"]["environment"]["image"] == f"registry.example/geo@{D1}"
    assert done["provenance"]["environment"]["image_digest"] == D1
    assert done["reproducibility"] == {"state": "identical", "differing": []}
