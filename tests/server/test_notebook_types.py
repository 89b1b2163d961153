"""A notebook registered as a project's process type, through the API of a real server:
registration (sent or from the contents), its schema, revisions, who sees it, and its runs."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from tests.server.conftest import BACKENDS

PARAMETERS = (
    'scale: float = 2.0  # Scale: factor applied to every value; range: 0..10\nlabel = "run"\n'
)
BODY = (
    "import os, pathlib\n"
    "print(f'scale is {scale}')\n"
    "pathlib.Path(nagelfluh_output_dir, 'values.csv').write_text(\n"
    "    'x,y\\n' + ''.join(f'{i},{i * scale}\\n' for i in range(3)))\n"
)


def notebook(
    parameters: str = PARAMETERS, body: str = BODY, title: str = "# Scaled values"
) -> dict:
    cell = new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[new_markdown_cell(title), cell, new_code_cell(body)])
    return json.loads(nbformat.writes(nb))


async def _project(api) -> int:
    return (await api.get("projects"))["items"][0]["id"]


async def _register(api, expect: int = 201, **body) -> dict:
    body.setdefault("project", await _project(api))
    if "path" not in body:
        body.setdefault("notebook", notebook())
    return await api.post("process-types", body, expect=expect)


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_a_registered_notebook_is_a_type_of_its_project_with_an_inferred_schema(api):
    project = await _project(api)
    registered = await _register(api, name="scaled")

    assert registered["name"] == "scaled"
    assert registered["title"] == "Scaled values"  # the first markdown heading
    assert (registered["project"], registered["kind"], registered["revision"]) == (
        project,
        "notebook",
        1,
    )
    assert registered["environment"] == "bootstrap"
    assert registered["version"] == registered["source"]["digest"]
    assert registered["version"].startswith("sha256:")
    scale = registered["schema"]["properties"]["scale"]
    assert scale["type"] == "number" and scale["default"] == 2.0
    assert (scale["minimum"], scale["maximum"], scale["title"]) == (0, 10, "Scale")
    assert registered["revisions"][0]["revision"] == 1

    listed = await api.get("process-types", project=project)
    assert "scaled" in [t["name"] for t in listed["items"]]
    assert "fft" in [t["name"] for t in listed["items"]]  # the installation's too
    fetched = await api.get("process-types/scaled", project=project)
    assert fetched["schema"] == registered["schema"]


async def test_another_user_neither_sees_nor_runs_a_projects_type(api):
    await _register(api, name="private-analysis")
    bob = api.as_user("bob")

    listed = await bob.get("process-types")
    assert "private-analysis" not in [t["name"] for t in listed["items"]]
    code, _ = await bob.call("GET", "process-types/private-analysis")
    assert code == 404
    code, body = await bob.call("POST", "process", {"type": "private-analysis"})
    assert code == 400 and body["error"]["details"][0]["path"] == "/type"


async def test_a_user_cannot_register_into_anothers_project(api):
    project = await _project(api)
    code, body = await api.as_user("bob").call(
        "POST", "process-types", {"project": project, "notebook": notebook(), "name": "x"}
    )
    assert code == 404, body


async def test_two_projects_may_each_have_a_type_of_one_name(api):
    first = await _project(api)
    second = (await api.post("projects", {"name": "second"}))["id"]
    one = await _register(api, project=first, name="analysis")
    two = await _register(
        api, project=second, name="analysis", notebook=notebook(parameters="scale: float = 5.0\n")
    )
    assert one["schema"] != two["schema"]
    fetched = await api.get("process-types/analysis", project=second)
    assert fetched["schema"]["properties"]["scale"]["default"] == 5.0


async def test_registering_from_a_path_in_the_contents_names_the_type_after_the_file(
    api, jp_root_dir: Path
):
    (jp_root_dir / "work").mkdir()
    (jp_root_dir / "work" / "My analysis.ipynb").write_text(json.dumps(notebook()))
    registered = await _register(api, path="work/My analysis.ipynb")
    assert registered["name"] == "My-analysis"
    assert registered["source"]["path"] == "work/My analysis.ipynb"

    code, body = await api.call(
        "POST", "process-types", {"project": await _project(api), "path": "work/none.ipynb"}
    )
    assert code == 404 and body["error"]["details"][0]["path"] == "/path"


async def test_a_syntax_error_in_the_parameters_cell_is_refused_naming_the_line(api):
    code, body = await api.call(
        "POST",
        "process-types",
        {
            "project": await _project(api),
            "name": "broken",
            "notebook": notebook(parameters="scale = 1.0\nlabel = 'unclosed\n"),
        },
    )
    assert code == 400, body
    detail = body["error"]["details"][0]
    assert detail["path"] == "/notebook"
    assert "line 2" in detail["message"]
    code, _ = await api.call("GET", "process-types/broken")
    assert code == 404  # nothing was registered


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"notebook": {"cells": []}}, "/notebook"),
        ({"notebook": notebook(), "path": "a.ipynb"}, "/notebook"),
        ({}, "/notebook"),
        ({"notebook": notebook(), "name": "no spaces"}, "/name"),
        ({"notebook": notebook(), "environment": "nowhere"}, None),
        ({"notebook": notebook(), "extra": 1}, "/extra"),
    ],
)
async def test_a_bad_registration_names_its_field(api, body, path):
    code, answer = await api.call(
        "POST", "process-types", {"project": await _project(api), "name": "t", **body}
    )
    assert code in (400, 404), answer
    if path is not None:
        assert answer["error"]["details"][0]["path"] == path


async def test_an_installed_types_name_cannot_be_taken(api):
    code, body = await api.call(
        "POST",
        "process-types",
        {"project": await _project(api), "name": "fft", "notebook": notebook()},
    )
    assert code == 409 and body["error"]["details"][0]["path"] == "/name"


async def test_the_notebook_is_stored_content_addressed_without_its_outputs(api, tmp_path):
    project = await _project(api)
    original = notebook()
    registered = await _register(api, name="stored", notebook=original)
    digest = registered["version"]
    stored = tmp_path / "storage" / str(project) / "types" / f"{digest.replace(':', '-')}.ipynb"
    data = stored.read_bytes()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest

    executed = copy.deepcopy(original)  # the same file, its cells run in the Lab
    executed["cells"][2]["outputs"] = [new_output("stream", name="stdout", text="scale is 2.0\n")]
    executed["cells"][2]["execution_count"] = 7
    again = await _register(api, name="stored", notebook=executed, expect=200)
    assert (again["revision"], again["version"]) == (1, digest)


async def test_registering_changed_code_makes_a_new_revision_and_keeps_the_old(api):
    first = await _register(api, name="evolving")
    second = await _register(
        api, name="evolving", notebook=notebook(parameters="scale: float = 3.0\n")
    )
    assert second["revision"] == 2
    assert second["version"] != first["version"]
    history = (await api.get("process-types/evolving"))["revisions"]
    assert [(r["revision"], r["version"]) for r in history] == [
        (2, second["version"]),
        (1, first["version"]),
    ]


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_concurrent_registrations_of_one_new_name_each_make_a_revision(api):
    project = await _project(api)
    bodies = [
        {"project": project, "name": "raced", "notebook": notebook(parameters=f"x: int = {n}\n")}
        for n in range(4)
    ]
    answers = await asyncio.gather(*(api.call("POST", "process-types", b) for b in bodies))

    assert [code for code, _ in answers] == [201] * 4, answers
    assert sorted(body["revision"] for _, body in answers) == [1, 2, 3, 4]
    history = (await api.get("process-types/raced", project=project))["revisions"]
    assert [r["revision"] for r in history] == [4, 3, 2, 1]


async def _log(api, process: int, version: int = 1) -> list[str]:
    body = await api.get(f"process/{process}/versions/{version}/logs")
    return [line["line"] for line in body["items"]]


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_a_run_executes_the_notebook_with_its_parameters(api):
    await _register(api, name="scaled")
    created = await api.submit("scaled", {"scale": 4.0})
    done = await api.wait(created["id"], timeout=120)

    assert done["state"] == "completed", (done, await _log(api, created["id"]))
    assert "scale is 4.0" in await _log(api, created["id"])
    names = {o["name"]: o for o in done["outputs"]}
    assert "values.csv" in names
    executed = names["scaled.executed.ipynb"]
    assert executed["mime_type"] == "application/x-ipynb+json"
    code, data = await api.call("GET", f"dataset/{names['values.csv']['id']}")
    assert code == 200 and b"2,8.0" in data
    record = done["provenance"]["process_type"]
    assert (record["kind"], record["revision"]) == ("notebook", 1)


async def test_a_failing_cell_fails_the_version_naming_the_cell_and_keeps_the_executed_notebook(
    api,
):
    await _register(api, name="failing", notebook=notebook(body="print('before')\n1 / 0\n"))
    created = await api.submit("failing", {})
    done = await api.wait(created["id"], timeout=120)

    assert done["state"] == "failed"
    assert "cell" in done["message"] and "ZeroDivisionError" in done["message"], done
    assert [o["name"] for o in done["outputs"]] == ["failing.executed.ipynb"]


async def test_versions_keep_the_revision_they_were_submitted_with(api):
    await _register(api, name="evolving")
    first = await api.submit("evolving", {"scale": 1.0})
    assert (await api.wait(first["id"], timeout=120))["state"] == "completed"
    await _register(
        api,
        name="evolving",
        notebook=notebook(body="print('revision two', scale)\n"),
    )

    again = await api.post(f"process/{first['id']}/versions/1/rerun")
    rerun = await api.wait(first["id"], again["version"], timeout=120)
    assert rerun["provenance"]["process_type"]["revision"] == 1
    assert rerun["reproducibility"]["state"] == "identical", rerun["reproducibility"]
    assert "revision two 1.0" not in await _log(api, first["id"], again["version"])

    newer = await api.post(f"process/{first['id']}/versions", {"parameters": {"scale": 1.0}})
    latest = await api.wait(first["id"], newer["version"], timeout=120)
    assert latest["provenance"]["process_type"]["revision"] == 2
    assert "revision two 1.0" in await _log(api, first["id"], newer["version"])


async def test_an_identical_submission_of_a_notebook_type_is_a_cache_hit(api):
    await _register(api, name="cached")
    first = await api.submit("cached", {"scale": 2.0})
    assert (await api.wait(first["id"], timeout=120))["state"] == "completed"
    second = await api.submit("cached", {"scale": 2.0})
    hit = await api.wait(second["id"], timeout=30)
    assert hit["cached_from"] == {"process": first["id"], "version": 1}


async def _retire(api, name: str, expect: int = 200, **params) -> dict:
    params.setdefault("project", await _project(api))
    code, body = await api.call("DELETE", f"process-types/{name}", **params)
    assert code == expect, (code, body)
    return body


async def test_a_retired_type_takes_no_new_work_and_everything_it_made_stays(api):
    await _register(api, name="retiring")
    made = await api.submit("retiring", {"scale": 3.0})
    done = await api.wait(made["id"], timeout=120)
    assert done["state"] == "completed"

    retired = await _retire(api, "retiring")
    assert retired["retired"] is not None and retired["revision"] == 1

    project = await _project(api)
    listed = await api.get("process-types", project=project)
    assert "retiring" not in [t["name"] for t in listed["items"]]
    shown = await api.get("process-types/retiring", project=project)
    assert shown["retired"] == retired["retired"] and shown["revisions"][0]["revision"] == 1

    code, body = await api.call("POST", "process", {"type": "retiring", "parameters": {}})
    assert code == 400 and body["error"]["details"][0]["path"] == "/type"
    assert "retired" in body["error"]["message"]
    for route in ("versions", "versions/1/restore", "versions/1/rerun"):
        code, body = await api.call("POST", f"process/{made['id']}/{route}", {})
        assert code == 409 and "retired" in body["error"]["message"], (route, body)

    kept = await api.get(f"process/{made['id']}/versions/1")
    assert kept["outputs"] == done["outputs"] and kept["state"] == "completed"
    assert "scale is 3.0" in await _log(api, made["id"])
    for output in done["outputs"]:
        code, _ = await api.call("GET", f"dataset/{output['id']}")
        assert code == 200


@pytest.mark.parametrize("nagelfluh_config", [{"local_quota_cpu": 1.0}])
async def test_a_version_queued_before_its_type_was_retired_still_runs(api):
    blocker = await api.submit("sleep", {"seconds": 60}, resources={"cpu": 1})
    await api.wait(blocker["id"], states=("running",))
    await _register(api, name="queued-then-retired")
    waiting = await api.submit("queued-then-retired", {"scale": 5.0}, resources={"cpu": 1})
    await api.wait(waiting["id"], states=("queued",))

    await _retire(api, "queued-then-retired")
    await api.post(f"process/{blocker['id']}/versions/1/cancel", expect=200)

    done = await api.wait(waiting["id"], timeout=120)
    assert done["state"] == "completed", (done, await _log(api, waiting["id"]))
    assert done["provenance"]["process_type"]["revision"] == 1
    assert "scale is 5.0" in await _log(api, waiting["id"])


async def test_registering_a_retired_name_brings_the_type_back(api):
    document = notebook()  # each new one has new cell ids: other content
    await _register(api, name="comeback", notebook=document)
    await _retire(api, "comeback")

    same = await _register(api, name="comeback", notebook=document)
    assert (same["retired"], same["revision"]) == (None, 1)
    assert await _register(api, expect=200, name="comeback", notebook=document) == same

    await _retire(api, "comeback")
    changed = await _register(api, name="comeback", notebook=notebook(body="print(scale)\n"))
    assert (changed["retired"], changed["revision"]) == (None, 2)
    ran = await api.wait((await api.submit("comeback", {"scale": 1.5}))["id"], timeout=120)
    assert ran["provenance"]["process_type"]["revision"] == 2


async def test_retiring_twice_keeps_the_first_retirement(api):
    await _register(api, name="twice")
    first = await _retire(api, "twice")
    assert await _retire(api, "twice") == first


@pytest.mark.parametrize(
    ("name", "params", "status", "user"),
    [
        ("fft", {}, 409, "tester"),  # an installed type is not the project's
        ("no-such-type", {}, 404, "tester"),
        ("mine", {}, 404, "bob"),  # another user's project, as if it were not there
        ("mine", {"project": None}, 400, "tester"),
        ("mine", {"project": "one"}, 400, "tester"),
    ],
)
async def test_retiring_needs_a_type_of_a_project_of_ones_own(api, name, params, status, user):
    await _register(api, name="mine")
    params = {"project": await _project(api), **params}
    caller = api if user == "tester" else api.as_user(user)
    code, body = await caller.call(
        "DELETE", f"process-types/{name}", **{k: v for k, v in params.items() if v is not None}
    )
    assert code == status, body
    shown = await api.get("process-types/mine", project=await _project(api))
    assert shown["retired"] is None


async def test_a_name_means_the_type_in_use_before_a_retired_one_of_another_project(api):
    first = await _project(api)
    second = (await api.post("projects", {"name": "second"}))["id"]
    await _register(api, project=first, name="shared-name")
    await _register(api, project=second, name="shared-name")
    await _retire(api, "shared-name", project=first)

    assert (await api.get("process-types/shared-name"))["project"] == second
    created = await api.submit("shared-name", {"scale": 1.0}, project=second)
    assert created["project"] == second
