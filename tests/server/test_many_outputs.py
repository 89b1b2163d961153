"""A run may write thousands of outputs: its version stays small (the first ones and a
count), the dataset list pages through all of them, and the events stream carries
them in batches rather than one message each."""

from __future__ import annotations

import json
import sys

import pytest
from sqlalchemy import func, select, update

from nagelfluh_lab.db.models import Dataset, ProcessVersion
from nagelfluh_lab.services import version_outputs
from nagelfluh_lab.services.outputs import read_outputs
from tests.server.conftest import ws_recv

COUNT = 1205  # two registration batches, and more than a version shows inline
PROGRAM = r"""
import json, os, sys
count = int(sys.argv[1])
prefix = "{}/processes/{}/v{}/".format(
    os.environ["PROJECT_ID"], os.environ["PROCESS_ID"], os.environ["VERSION"])
root = os.path.join(os.environ["STORAGE_BASE"][len("file://"):], prefix)
os.makedirs(root, exist_ok=True)
entries = []
for i in range(count):
    name = "part-%05d.txt" % i
    with open(os.path.join(root, name), "w") as handle:
        handle.write(str(i))
    entries.append({"path": prefix + name, "key": name, "mime_type": "text/plain"})
with open(os.path.join(root, "_manifest.json"), "w") as handle:
    json.dump({"datasets": entries}, handle)
"""


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config["LocalExecutor"]["command"] = [sys.executable, "-c", PROGRAM, str(COUNT)]
    return jp_server_config


def _app(jp_serverapp):
    return next(iter(jp_serverapp.extension_manager.extension_apps["nagelfluh_lab"]))


async def _run(api) -> dict:
    created = await api.submit("sleep", {"seconds": 1}, resources={"deadline_seconds": 120})
    done = await api.wait(created["id"], timeout=120)
    assert done["state"] == "completed", done
    return done


async def test_a_version_with_many_outputs_shows_its_first_hundred_and_their_count(api):
    done = await _run(api)

    response = await api.fetch("GET", f"process/{done['process']}/versions/1")
    assert len(response.body) < 100_000
    version = json.loads(response.body)
    assert version["output_count"] == COUNT
    assert [d["name"] for d in version["outputs"]] == [f"part-{i:05d}.txt" for i in range(100)]
    process = await api.get(f"process/{done['process']}")
    assert process["versions"][0]["outputs"] == version["outputs"]


async def test_the_dataset_list_pages_through_every_output_of_a_version(api):
    done = await _run(api)

    seen: list[dict] = []
    cursor = None
    while True:
        params = {"process": done["process"], "version": 1, "limit": 500}
        page = await api.get("dataset", **params, **({"cursor": cursor} if cursor else {}))
        seen += page["items"]
        cursor = page["next"]
        if cursor is None:
            break
    ids = [d["id"] for d in seen]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == COUNT
    assert {d["name"] for d in seen} == {f"part-{i:05d}.txt" for i in range(COUNT)}
    assert all(d["version"] == 1 and d["process"] == done["process"] for d in seen)


async def test_a_version_without_its_process_in_the_dataset_list_is_400(api):
    code, body = await api.call("GET", "dataset", version=1)

    assert code == 400 and body["error"]["details"][0]["path"] == "/version"


async def test_outputs_reach_the_events_stream_in_batches(api, ws_connect):
    ws = await ws_connect()
    [project] = (await api.get("projects"))["items"]
    ws.write_message(json.dumps({"subscribe": {"project": project["id"]}}))
    created = await api.submit("sleep", {"seconds": 1}, resources={"deadline_seconds": 120})

    batches: list[list[dict]] = []
    while True:
        event = await ws_recv(ws, timeout=120)
        if event["type"] == "datasets":
            assert event["process"] == created["id"] and event["version"] == 1
            batches.append(event["datasets"])
        if event["type"] == "state" and event["state"] in ("completed", "failed"):
            break
    ws.close()
    assert [len(b) for b in batches] == [version_outputs.BATCH, COUNT - version_outputs.BATCH]
    assert len({d["id"] for b in batches for d in b}) == COUNT


async def test_a_run_finished_again_registers_each_output_once(api, jp_serverapp):
    """A server killed half-way through registering a run's outputs finishes the run
    again after its restart: what it had registered is not registered twice."""
    done = await _run(api)
    app = _app(jp_serverapp)
    version_id = await app.database.run(
        lambda s: s.scalar(
            select(ProcessVersion.id).where(ProcessVersion.process_id == done["process"])
        )
    )
    await app.database.run(
        lambda s: s.execute(
            update(ProcessVersion).where(ProcessVersion.id == version_id).values(state="running")
        )
    )
    project = (await api.get(f"process/{done['process']}"))["project"]
    outputs = read_outputs(app.storage, project, done["process"], 1)

    registered = await version_outputs.register(
        app.database, version_id, project, outputs, lambda _: None
    )

    assert registered
    count = await app.database.run(
        lambda s: s.scalar(select(func.count()).where(Dataset.version_id == version_id))
    )
    assert count == COUNT
