"""A project's notebook type with ``executor = "kubernetes"``: its Job runs the runner of the
environment's image, which reads the registered notebook from the project's storage
(``NAGELFLUH_NOTEBOOK``) and executes it on a kernel in the pod."""

from __future__ import annotations

from kubernetes import client

from nagelfluh_lab.cluster.manifests import job_name
from nagelfluh_lab.executors.base import RunKey
from tests.kubernetes.conftest import MakeImage
from tests.kubernetes.sim import NAMESPACE, SimCluster
from tests.kubernetes.test_environments import wait_environment
from tests.server.conftest import Api
from tests.server.test_notebook_types import notebook

NOTHING = """
    from nagelfluh_runner.sdk import ProcessType, object_schema

    class Nothing(ProcessType):
        name = "nothing"
        schema = object_schema({})

        def run(self, ctx):
            pass
"""


def _job_env(cluster: SimCluster, process: int) -> dict[str, str]:
    with cluster.api_client() as api_client:
        job = client.BatchV1Api(api_client).read_namespaced_job(
            job_name(RunKey(process, 1)), NAMESPACE
        )
    container = job.spec.template.spec.containers[0]
    return {"image": container.image, **{e.name: e.value for e in container.env if e.value}}


async def test_a_notebook_type_runs_in_its_environments_image(
    api: Api, make_image: MakeImage, k8s_cluster: SimCluster
):
    image = make_image("registry.example/geo:1", NOTHING, {"nothing": "Nothing"})
    await api.post("environments", {"name": "geo", "image": image}, expect=202)
    assert (await wait_environment(api, "geo"))["state"] == "ready"
    project = (await api.get("projects"))["items"][0]["id"]
    registered = await api.post(
        "process-types",
        {"project": project, "name": "scaled", "notebook": notebook(), "environment": "geo"},
    )
    assert registered["environment"] == "geo"

    created = await api.submit("scaled", {"scale": 3.0})
    done = await api.wait(created["id"], timeout=120)

    assert done["state"] == "completed", done["message"]
    env = _job_env(k8s_cluster, created["id"])
    digest = registered["version"].replace(":", "-")
    assert env["NAGELFLUH_NOTEBOOK"] == f"{project}/types/{digest}.ipynb"
    assert env["image"].startswith("registry.example/geo")
    lines = [
        item["line"]
        for item in (await api.get(f"process/{created['id']}/versions/1/logs"))["items"]
    ]
    assert "scale is 3.0" in lines
    assert any(line.startswith("[cell ") for line in lines)
    assert {o["name"] for o in done["outputs"]} == {"values.csv", "scaled.executed.ipynb"}
    assert done["provenance"]["process_type"]["revision"] == 1
