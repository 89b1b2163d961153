"""Environments registered from images through the API, with ``executor = "kubernetes"``:
the schema Job runs ``python -m nagelfluh_runner schema`` in the image on the simulated
cluster, whose kubelet gives the image's Python the packages the test put in it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from kubernetes import client

from nagelfluh_lab.cluster.manifests import (
    job_name,
    schema_job_manifest,
    schema_job_name,
)
from nagelfluh_lab.db.models import Environment
from nagelfluh_lab.db.session import Database
from nagelfluh_lab.executors.base import RunKey
from tests.kubernetes.conftest import MakeImage
from tests.kubernetes.sim import NAMESPACE, SimCluster
from tests.server.conftest import Api, RuleAuthorizer
from tests.server.test_openapi import check_response, load_document

GRAVITY = """
    import os
    from nagelfluh_runner.sdk import ProcessType, object_schema, parameter

    class GravityGrid(ProcessType):
        name = "gravity-grid"
        title = "Gravity grid"
        description = "Grids gravity stations."
        schema = object_schema(
            {"spacing": parameter("number", "Spacing", "Grid spacing in m.", 10, minimum=1)}
        )

        def run(self, ctx, spacing=10):
            ctx.log(f"gridding at {spacing:g} m in {os.environ['IMAGE_TAG']}")

    class MagneticsGrid(GravityGrid):
        name = "magnetics-grid"
        title = "Magnetics grid"
"""
SLOW_START = """
    import time
    time.sleep(1.5)
"""
BOOTSTRAP_TYPES = ("fft", "inversion", "sleep", "synthetic-signal", "synthetic-survey")


async def wait_environment(api: Api, name: str, timeout: float = 30) -> dict:
    """The environment once its registration is over."""
    deadline = time.monotonic() + timeout
    while (env := await api.get(f"environments/{name}"))["state"] == "registering":
        assert time.monotonic() < deadline, f"{name} still registering after {timeout} s"
        await asyncio.sleep(0.05)
    return env


def schema_jobs(cluster: SimCluster) -> list[str]:
    with cluster.api_client() as api_client:
        jobs = client.BatchV1Api(api_client).list_namespaced_job(
            NAMESPACE, label_selector="nagelfluh.app=schema"
        )
    return [job.metadata.name for job in jobs.items]


async def wait_no_schema_jobs(cluster: SimCluster, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while await asyncio.to_thread(schema_jobs, cluster):
        assert time.monotonic() < deadline, "the schema Job was not deleted"
        await asyncio.sleep(0.05)


async def test_registering_an_image_makes_its_process_types_ready_with_their_schemas(
    api: Api, make_image: MakeImage, k8s_cluster: SimCluster
):
    document = load_document()
    image = make_image("geo:1", GRAVITY, {"gravity-grid": "GravityGrid"})

    accepted = await api.post("environments", {"name": "geo", "image": image}, expect=202)

    check_response(document, "/environments", "post", 202, accepted)
    assert accepted == {
        "name": "geo",
        "image": None,
        "process_types": [],
        "state": "registering",
        "message": None,
        "requested_image": "geo:1",
        "owner": {"user": "tester"},
        "digest": None,
    }
    ready = await wait_environment(api, "geo")
    check_response(document, "/environments/{name}", "get", 200, ready)
    assert (ready["state"], ready["image"], ready["process_types"]) == (
        "ready",
        "geo:1",
        ["gravity-grid"],
    )
    # The runner in the image offers the bootstrap types too: they stay bootstrap's.
    assert all(f"{name} (bootstrap)" in ready["message"] for name in BOOTSTRAP_TYPES)
    grid = await api.get("process-types/gravity-grid")
    assert grid["environment"] == "geo"
    assert grid["title"] == "Gravity grid"
    assert grid["schema"]["properties"]["spacing"]["minimum"] == 1
    assert (await api.get("process-types/sleep"))["environment"] == "bootstrap"
    listed = await api.get("environments")
    assert [env["name"] for env in listed["items"]] == ["bootstrap", "geo"]
    await wait_no_schema_jobs(k8s_cluster)


async def test_a_process_of_a_registered_type_runs_in_the_environments_image(
    api: Api, make_image: MakeImage, k8s_cluster: SimCluster
):
    image = make_image("geo:1", GRAVITY, {"gravity-grid": "GravityGrid"}, env={"IMAGE_TAG": "1"})
    await api.post("environments", {"name": "geo", "image": image}, expect=202)
    ready = await wait_environment(api, "geo")
    assert ready["state"] == "ready" and ready["digest"].startswith("sha256:")

    created = await api.submit("gravity-grid", {"spacing": 25})
    done = await api.wait(created["id"])

    assert done["state"] == "completed", done
    lines = [item["line"] for item in (await api.get(f"process/{created['id']}/versions/1/logs"))[
        "items"
    ]]
    assert "gridding at 25 m in 1" in lines
    with k8s_cluster.api_client() as api_client:
        job = client.BatchV1Api(api_client).read_namespaced_job(
            job_name(RunKey(created["id"], 1)), NAMESPACE
        )
    # Pinned by the digest the schema pod ran (the simulated kubelet's for "geo:1").
    assert job.spec.template.spec.containers[0].image == f"geo@{ready['digest']}"


async def test_registering_a_bad_image_fails_with_the_pull_message(
    api: Api, k8s_cluster: SimCluster
):
    k8s_cluster.missing_images.add("registry.example/nope:1")

    await api.post("environments", {"name": "nope", "image": "registry.example/nope:1"},
                   expect=202)
    failed = await wait_environment(api, "nope")

    assert (failed["state"], failed["image"], failed["process_types"]) == ("failed", None, [])
    assert failed["requested_image"] == "registry.example/nope:1"
    assert failed["message"].startswith("The image registry.example/nope:1 cannot be pulled:")
    assert "ErrImagePull" in failed["message"] and "not found" in failed["message"]
    await wait_no_schema_jobs(k8s_cluster)


async def test_re_registering_keeps_the_old_types_until_the_new_ones_land(
    api: Api, make_image: MakeImage, k8s_cluster: SimCluster
):
    first = make_image("geo:1", GRAVITY, {"gravity-grid": "GravityGrid"}, env={"IMAGE_TAG": "1"})
    await api.post("environments", {"name": "geo", "image": first}, expect=202)
    assert (await wait_environment(api, "geo"))["state"] == "ready"
    k8s_cluster.missing_images.add("geo:broken")

    await api.post("environments", {"name": "geo", "image": "geo:broken"}, expect=202)
    failed = await wait_environment(api, "geo")

    assert (failed["state"], failed["image"], failed["process_types"]) == (
        "failed", "geo:1", ["gravity-grid"])
    assert "cannot be pulled" in failed["message"]

    second = make_image(
        "geo:2",
        GRAVITY,
        {"gravity-grid": "GravityGrid", "magnetics-grid": "MagneticsGrid"},
        startup=SLOW_START,
        env={"IMAGE_TAG": "2"},
    )
    pending = await api.post("environments", {"name": "geo", "image": second}, expect=202)
    assert (pending["state"], pending["image"], pending["process_types"]) == (
        "registering", "geo:1", ["gravity-grid"])
    assert pending["requested_image"] == "geo:2"
    # Meanwhile the old type is still there, and runs in the old image.
    assert (await api.get("process-types/gravity-grid"))["environment"] == "geo"
    created = await api.submit("gravity-grid", {"spacing": 5})
    ready = await wait_environment(api, "geo")

    assert (ready["state"], ready["image"], ready["process_types"]) == (
        "ready", "geo:2", ["gravity-grid", "magnetics-grid"])
    assert (await api.wait(created["id"]))["state"] == "completed"
    lines = [item["line"] for item in (await api.get(f"process/{created['id']}/versions/1/logs"))[
        "items"
    ]]
    assert "gridding at 5 m in 1" in lines
    await wait_no_schema_jobs(k8s_cluster)


async def test_an_image_whose_schema_command_fails_reports_what_it_said_last(
    api: Api, make_image: MakeImage
):
    crash = "import nagelfluh_runner.registry as r\nr.discover = None\n"
    image = make_image("geo:crash", GRAVITY, {"gravity-grid": "GravityGrid"}, startup=crash)

    await api.post("environments", {"name": "geo", "image": image}, expect=202)
    failed = await wait_environment(api, "geo")

    assert failed["state"] == "failed"
    first, _, output = failed["message"].partition("\n\n")
    assert first.startswith(
        "python -m nagelfluh_runner schema exited with code 1: TypeError: 'NoneType' object is "
        "not callable"
    )
    assert output.startswith("Traceback (most recent call last):")


async def test_an_image_with_a_broken_entry_point_offers_its_other_types_and_lists_it(
    api: Api, make_image: MakeImage
):
    image = make_image(
        "geo:typo", GRAVITY, {"gravity-grid": "GravityGrid", "gravity-grid-2": "GravityGird"}
    )

    await api.post("environments", {"name": "geo", "image": image}, expect=202)
    ready = await wait_environment(api, "geo")

    assert ready["state"] == "ready", ready
    assert "gravity-grid" in ready["process_types"]
    [broken] = ready["broken"]
    assert (broken["name"], broken["entry_point"]) == ("gravity-grid-2", "geotools:GravityGird")
    assert broken["error"].startswith("AttributeError: module 'geotools' has no attribute")
    listed = await api.get("process-types")
    assert [b["name"] for b in listed["broken"]] == ["gravity-grid-2"]


async def test_an_image_whose_only_own_type_has_no_json_schema_fails_naming_it(
    api: Api, make_image: MakeImage
):
    broken = GRAVITY + '\n    GravityGrid.schema = {"type": "object", "minProperties": -1}\n'
    image = make_image("geo:bad-schema", broken, {"gravity-grid": "GravityGrid"})

    await api.post("environments", {"name": "geo", "image": image}, expect=202)
    failed = await wait_environment(api, "geo")

    assert failed["state"] == "failed"
    assert failed["message"].startswith(
        "The image geo:bad-schema offers no process types of its own")
    assert "Unusable: gravity-grid: its schema is not a valid JSON Schema at /minProperties:" in (
        failed["message"])
    code, _ = await api.call("GET", "process-types/gravity-grid")
    assert code == 404


async def test_an_image_offering_only_types_of_other_environments_fails(api: Api):
    await api.post("environments", {"name": "base", "image": "nagelfluh-base-runner:2"},
                   expect=202)
    failed = await wait_environment(api, "base")

    assert (failed["state"], failed["process_types"]) == ("failed", [])
    assert failed["message"].startswith(
        "The image nagelfluh-base-runner:2 offers no process types of its own")


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"name": "Geo_Tools", "image": "geo:1"}, "/name"),
        ({"name": "", "image": "geo:1"}, "/name"),
        ({"name": "g" * 64, "image": "geo:1"}, "/name"),
        ({"name": "-geo", "image": "geo:1"}, "/name"),
        ({"image": "geo:1"}, "/name"),
        ({"name": "geo"}, "/image"),
        ({"name": "geo", "image": " "}, "/image"),
        ({"name": "geo", "image": "geo 1"}, "/image"),
        ({"name": "geo", "image": 1}, "/image"),
        ({"name": "geo", "image": "geo:1", "python": "/usr/bin/python3"}, "/python"),
        (["geo", "geo:1"], "/"),
    ],
)
async def test_bad_registrations_name_the_field_and_register_nothing(api: Api, body, path):
    code, reply = await api.call("POST", "environments", body)

    assert code == 400, reply
    check_response(load_document(), "/environments", "post", 400, reply)
    assert reply["error"]["details"][0]["path"] == path
    assert [env["name"] for env in (await api.get("environments"))["items"]] == ["bootstrap"]


async def test_the_bootstrap_environment_cannot_be_registered_from_an_image(api: Api):
    code, reply = await api.call(
        "POST", "environments", {"name": "bootstrap", "image": "nagelfluh-base-runner:2"}
    )

    assert code == 409
    check_response(load_document(), "/environments", "post", 409, reply)
    assert reply["error"]["details"][0]["path"] == "/name"
    bootstrap = await api.get("environments/bootstrap")
    assert (bootstrap["state"], bootstrap["image"]) == ("ready", "nagelfluh-base-runner:latest")


async def test_an_unknown_environment_is_a_json_404(api: Api):
    code, reply = await api.call("GET", "environments/nope")

    assert code == 404
    check_response(load_document(), "/environments/{name}", "get", 404, reply)


@pytest.fixture
def left_registering(tmp_path: Path, make_image: MakeImage, k8s_cluster: SimCluster) -> str:
    """What a server stopped mid-registration leaves: the environment registering
    (attempt 1 of geo:1) and that attempt's schema Job in the cluster."""
    image = make_image("geo:1", GRAVITY, {"gravity-grid": "GravityGrid"})
    db = Database(f"sqlite:///{tmp_path / 'nagelfluh.db'}")
    db.run_sync(lambda s: s.add(Environment(
        name="geo", image=None, state="registering", requested_image=image, attempt=1)))
    db.close()
    name = schema_job_name("geo", image, 1, db.installation)
    with k8s_cluster.api_client() as api_client:
        client.BatchV1Api(api_client).create_namespaced_job(
            NAMESPACE, schema_job_manifest(name, "geo", image, deadline_seconds=60,
                                           installation=db.installation))
    return name


async def test_a_registration_left_by_a_stopped_server_is_taken_up_when_it_starts(
    left_registering: str, api: Api, k8s_cluster: SimCluster
):
    ready = await wait_environment(api, "geo")

    assert (ready["state"], ready["process_types"]) == ("ready", ["gravity-grid"])
    await wait_no_schema_jobs(k8s_cluster)


# ------------------------------------------------ who owns an environment


def add_member(db_path: Path, project: int, user: str) -> None:
    from nagelfluh_lab.db.models import ProjectMember
    from nagelfluh_lab.services import access

    db = Database(f"sqlite:///{db_path}")
    db.run_sync(lambda s: s.add(ProjectMember(
        project_id=project, user_id=access.ensure_user(s, user).id, role="member")))
    db.close()


async def test_a_users_environment_is_seen_and_used_by_that_user_alone(
    api: Api, make_image: MakeImage
):
    image = make_image("geo:1", GRAVITY, {"gravity-grid": "GravityGrid"}, env={"IMAGE_TAG": "1"})
    await api.post("environments", {"name": "geo", "image": image}, expect=202)
    assert (await wait_environment(api, "geo"))["owner"] == {"user": "tester"}
    bob = api.as_user("bob")

    listed = [env["name"] for env in (await bob.get("environments"))["items"]]
    seen, _ = await bob.call("GET", "environments/geo")
    types = [t["name"] for t in (await bob.get("process-types"))["items"]]
    typed, _ = await bob.call("GET", "process-types/gravity-grid")
    run, refused = await bob.call("POST", "process", {"type": "gravity-grid"})
    swap, swapped = await bob.call("POST", "environments", {"name": "geo", "image": "evil:1"})

    assert listed == ["bootstrap"] and "gravity-grid" not in types
    assert (seen, typed) == (404, 404)
    assert run == 400 and refused["error"]["details"][0]["path"] == "/type"
    assert swap == 403 and swapped["error"]["details"][0]["path"] == "/name"
    check_response(load_document(), "/environments", "post", 403, swapped)
    geo = await api.get("environments/geo")
    assert (geo["image"], geo["requested_image"], geo["state"]) == ("geo:1", "geo:1", "ready")
    assert (await api.wait((await api.submit("gravity-grid"))["id"]))["state"] == "completed"


@pytest.fixture
def nagelfluh_config() -> dict:
    return {"admin_users": ["admin"]}


@pytest.fixture
def jp_server_config(jp_server_config: dict) -> dict:
    jp_server_config["ServerApp"]["authorizer_class"] = RuleAuthorizer
    return jp_server_config


async def test_only_an_admin_registers_an_environment_for_every_user(
    api: Api, make_image: MakeImage
):
    image = make_image("geo:1", GRAVITY, {"gravity-grid": "GravityGrid"})
    body = {"name": "geo", "image": image, "installation": True}

    refused, reply = await api.call("POST", "environments", body)
    await api.as_user("admin").post("environments", body, expect=202)
    ready = await wait_environment(api, "geo")
    again, _ = await api.call("POST", "environments", {"name": "geo", "image": image})
    swap, _ = await api.call("POST", "environments", body)

    assert refused == 403 and reply["error"]["details"][0]["path"] == "/installation"
    assert (ready["state"], ready["owner"]) == ("ready", None)
    assert (again, swap) == (403, 403)
    for user in ("tester", "bob"):
        names = [t["name"] for t in (await api.as_user(user).get("process-types"))["items"]]
        assert "gravity-grid" in names
    await api.as_user("admin").post("environments", body, expect=202)


async def test_a_projects_environment_is_its_members_and_keeps_its_owner(
    api: Api, make_image: MakeImage, tmp_path: Path
):
    [project] = (await api.get("projects"))["items"]
    image = make_image("geo:1", GRAVITY, {"gravity-grid": "GravityGrid"})
    body = {"name": "geo", "image": image, "project": project["id"]}
    await api.post("environments", body, expect=202)
    assert (await wait_environment(api, "geo"))["owner"] == {"project": project["id"]}
    add_member(tmp_path / "nagelfluh.db", project["id"], "bob")

    bob_sees = (await api.as_user("bob").get("environments/geo"))["process_types"]
    carol_sees, _ = await api.as_user("carol").call("GET", "environments/geo")
    member = await api.as_user("bob").post("environments", body, expect=202)
    moved, reply = await api.call("POST", "environments", {"name": "geo", "image": image})
    elsewhere, _ = await api.as_user("carol").call("POST", "environments", body)

    assert bob_sees == ["gravity-grid"] and carol_sees == 404
    assert member["state"] == "registering"
    assert moved == 409 and "keeps its owner" in reply["error"]["message"]
    assert elsewhere == 404  # carol is no member of the project she names
    await wait_environment(api, "geo")


async def test_an_admin_the_authorizer_denies_registers_nothing_for_everyone(
    api: Api, make_image: MakeImage, jp_serverapp
):
    image = make_image("geo:1", GRAVITY, {"gravity-grid": "GravityGrid"})
    jp_serverapp.authorizer.denied = {("write", "nagelfluh:admin")}

    code, _ = await api.as_user("admin").call(
        "POST", "environments", {"name": "geo", "image": image, "installation": True})

    assert code == 403
    assert [e["name"] for e in (await api.get("environments"))["items"]] == ["bootstrap"]
