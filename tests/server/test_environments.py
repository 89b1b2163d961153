"""Environments on the local executor (which cannot run images), and the checks every
registration's output goes through, whatever ran it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from nagelfluh_runner.protocol import CONTRACT_VERSION
from sqlalchemy import select

from nagelfluh_lab.db.models import Environment
from nagelfluh_lab.db.session import Database
from nagelfluh_lab.services import access, catalog
from nagelfluh_lab.services.catalog import parse_schema_output
from nagelfluh_lab.services.serialize import environment_json
from tests.server.conftest import BACKENDS
from tests.server.test_openapi import check_response, load_document


async def test_registering_from_an_image_needs_the_kubernetes_executor(api):
    code, reply = await api.call("POST", "environments", {"name": "geo", "image": "geo:1"})

    assert code == 400
    check_response(load_document(), "/environments", "post", 400, reply)
    [detail] = reply["error"]["details"]
    assert detail["path"] == "/image"
    assert "c.NagelfluhApp.executor = 'kubernetes'" in detail["message"]
    assert "'local' executor" in detail["message"]
    assert [env["name"] for env in (await api.get("environments"))["items"]] == ["bootstrap"]


async def test_the_bootstrap_environment_is_ready_with_the_servers_own_types(api):
    bootstrap = await api.get("environments/bootstrap")

    check_response(load_document(), "/environments/{name}", "get", 200, bootstrap)
    assert bootstrap["state"] == "ready"
    assert bootstrap["image"] == bootstrap["requested_image"] == "nagelfluh-base-runner:latest"
    assert "sleep" in bootstrap["process_types"]


@pytest.fixture
def left_registering(db_url: str) -> None:
    """A registration a Kubernetes server left under way in the database."""
    db = Database(db_url)
    db.run_sync(lambda s: s.add(Environment(
        name="geo", image="geo:1", state="registering", requested_image="geo:2", attempt=2)))
    db.close()


async def test_a_registration_left_under_way_fails_on_a_local_server(left_registering, api):
    geo = await api.get("environments/geo")

    assert (geo["state"], geo["image"], geo["requested_image"]) == ("failed", "geo:1", "geo:2")
    assert "cannot register environments from images" in geo["message"]


# ------------------------------------------------ attempts, in the database


@pytest.fixture
def db(db_url: str):
    database = Database(db_url)
    yield database
    database.close()


def registration(db: Database, image: str) -> int:
    """A new attempt at the installation's environment geo, by an admin."""
    def request(session) -> int:
        admin = access.ensure_user(session, "admin")
        return catalog.request_registration(
            session, "geo", image, catalog.INSTALLATION, admin, admin=True).attempt

    return db.run_sync(request)


def geo(db: Database) -> dict:
    return db.run_sync(
        lambda s: environment_json(s.scalars(select(Environment).filter_by(name="geo")).one()))


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
def test_the_outcome_of_a_superseded_attempt_is_dropped(db):
    first = registration(db, "geo:1")
    second = registration(db, "geo:2")

    assert db.run_sync(lambda s: catalog.complete_registration(
        s, "geo", first, [described("grid")])) is None
    assert db.run_sync(lambda s: catalog.fail_registration(s, "geo", first, "late")) is None
    assert (geo(db)["state"], geo(db)["requested_image"]) == ("registering", "geo:2")
    db.run_sync(lambda s: catalog.complete_registration(s, "geo", second, [described("grid")]))
    assert (geo(db)["state"], geo(db)["image"], geo(db)["process_types"]) == (
        "ready", "geo:2", ["grid"])


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
def test_a_success_overrides_a_failure_of_the_same_attempt_but_not_the_reverse(db):
    attempt = registration(db, "geo:1")

    db.run_sync(lambda s: catalog.fail_registration(s, "geo", attempt, "Job deleted"))
    db.run_sync(lambda s: catalog.complete_registration(s, "geo", attempt, [described("grid")]))
    db.run_sync(lambda s: catalog.fail_registration(s, "geo", attempt, "Job deleted"))

    assert (geo(db)["state"], geo(db)["message"], geo(db)["process_types"]) == (
        "ready", None, ["grid"])


# ------------------------------------------------ what `schema` printed, checked


def described(name: str = "grid", schema: object = None) -> dict:
    return {
        "name": name,
        "title": "Grid",
        "description": "Grids.",
        "schema": {"type": "object"} if schema is None else schema,
    }


def test_the_runners_own_schema_output_is_accepted():
    output = subprocess.run(
        [sys.executable, "-m", "nagelfluh_runner", "schema"],
        check=True, capture_output=True, text=True,
    ).stdout

    types, broken = parse_schema_output(output)
    assert {"sleep", "fft"} <= {t["name"] for t in types}
    assert broken == []


def test_an_image_whose_runner_speaks_a_newer_job_contract_is_refused_saying_what_to_upgrade():
    output = json.dumps([described()]) + f'\n{{"contract_version": {CONTRACT_VERSION + 1}}}\n'
    with pytest.raises(ValueError) as refused:
        parse_schema_output(output)
    assert str(refused.value) == (
        f"the server (nagelfluh-lab) speaks job contract version {CONTRACT_VERSION} and the "
        f"runner (nagelfluh-runner in the environment's image) version {CONTRACT_VERSION + 1}: "
        "upgrade the server (nagelfluh-lab)"
    )


@pytest.mark.parametrize("line", ['{"contract_version": 1', '{"contract_version": "one"}'])
def test_a_contract_version_line_that_is_no_version_is_refused(line):
    with pytest.raises(ValueError, match="contract version"):
        parse_schema_output(json.dumps([described()]) + "\n" + line + "\n")


def test_an_image_whose_runner_predates_contract_versions_speaks_contract_1():
    types, broken = parse_schema_output(json.dumps([described()]))
    assert [t["name"] for t in types] == ["grid"] and broken == []


def test_lines_before_the_list_are_skipped():
    output = "Warning: something at import\n" + json.dumps([described()], indent=2) + "\n"

    assert parse_schema_output(output) == ([described()], [])


@pytest.mark.parametrize(
    ("output", "says"),
    [
        ("", "holds no JSON list"),
        ("Traceback ...\nImportError: no numpy", "holds no JSON list"),
        ('[{"name": "grid",', "is not valid JSON"),
        ('{"name": "grid"}', "holds no JSON list"),
        (json.dumps([described(), described()]), "'grid' is listed twice"),
        (json.dumps([]) + '\n{"broken": [{"name": 1}]}', "broken process types is malformed"),
    ],
)
def test_output_that_is_no_list_of_types_is_refused_saying_why(output, says):
    with pytest.raises(ValueError) as refused:
        parse_schema_output(output)

    assert says in str(refused.value)


@pytest.mark.parametrize(
    ("item", "says"),
    [
        (1, "is not a JSON object"),
        (described("a/b"), "name 'a/b' is not letters"),
        (described(schema=[]), "schema is not a JSON object"),
        ({**described(), "title": 3}, "title is not a string"),
        ({**described(), "title": "t" * 256}, "title is longer than 255"),
        (
            described(schema={"properties": {"n": {"type": "integr"}}}),
            "its schema is not a valid JSON Schema at /properties/n/type:",
        ),
    ],
)
def test_an_unusable_type_in_an_image_is_broken_and_the_others_stay_usable(item, says):
    types, [broken] = parse_schema_output(json.dumps([described("fine"), item]))

    assert [t["name"] for t in types] == ["fine"]
    assert says in broken["error"], broken


def test_entry_points_the_runner_could_not_load_are_listed_broken():
    report = {"broken": [{"name": "seis", "entry_point": "seis:Type", "error": "ImportError: x"}]}
    output = json.dumps([described()], indent=2) + "\nsome warning\n" + json.dumps(report)

    assert parse_schema_output(output) == ([described()], report["broken"])


def test_a_huge_output_is_shown_only_in_part():
    with pytest.raises(ValueError) as refused:
        parse_schema_output("x" * 100_000)

    assert len(str(refused.value)) < 400
