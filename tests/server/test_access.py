"""Every request acts as Jupyter's current user and sees only that user's projects."""

from __future__ import annotations

import json

import pytest
from jupyter_server.auth.identity import PasswordIdentityProvider

from tests.server.conftest import ws_recv


async def test_first_time_user_gets_a_personal_default_project(api):
    projects = await api.as_user("ada").get("projects")
    assert [p["name"] for p in projects["items"]] == ["My project"]
    assert projects["items"][0]["members"] == [{"user": "ada", "role": "owner"}]


@pytest.mark.parametrize("identity_provider", [PasswordIdentityProvider], indirect=True)
@pytest.mark.parametrize("nagelfluh_config", [{"owner_name": "geologist"}])
async def test_token_clients_of_a_single_user_server_all_act_as_its_owner(api):
    """Jupyter invents a new anonymous user per cookie-less token request; a kernel's
    client and the browser must still see the same projects and processes."""
    created = await api.submit("sleep", {"seconds": 0})
    again = await api.get(f"process/{created['id']}")
    assert again["id"] == created["id"]
    projects = await api.get("projects")
    assert projects["items"][0]["members"] == [{"user": "geologist", "role": "owner"}]
    await api.wait(created["id"])


async def test_user_creates_projects_and_submits_into_them(api):
    ada = api.as_user("ada")
    project = await ada.post("projects", {"name": "Alps survey"})
    created = await ada.submit("sleep", {"seconds": 0}, project=project["id"])
    assert created["project"] == project["id"]
    code, body = await ada.call("POST", "projects", {"name": "  "})
    assert code == 400 and body["error"]["details"][0]["path"] == "/name"


async def test_other_users_work_is_invisible_everywhere(api):
    ada, bob = api.as_user("ada"), api.as_user("bob")
    created = await ada.submit("synthetic-signal", {"duration": 1, "sample_rate": 100})
    done = await ada.wait(created["id"])
    assert done["state"] == "completed", done
    dataset = done["outputs"][0]["id"]
    ada_project = created["project"]
    for path in (
        f"process/{created['id']}",
        f"process/{created['id']}/versions/1",
        f"process/{created['id']}/versions/1/logs",
        f"process/{created['id']}/versions/compare?v1=1&v2=1",
        f"dataset/{dataset}",
        f"dataset/{dataset}/meta",
    ):
        path, _, query = path.partition("?")
        params = dict(p.split("=") for p in query.split("&")) if query else {}
        code, body = await bob.call("GET", path, **params)
        assert code == 404, path
        assert body["error"]["code"] == "not_found"
    for path in (
        f"process/{created['id']}/versions",
        f"process/{created['id']}/versions/1/cancel",
        f"process/{created['id']}/versions/1/restore",
    ):
        code, _ = await bob.call("POST", path, {})
        assert code == 404, path
    assert (await bob.get("process"))["items"] == []
    assert (await bob.get("dataset"))["items"] == []
    code, _ = await bob.call("GET", "process", project=ada_project)
    assert code == 404
    code, body = await bob.call(
        "POST", "process", {"type": "fft", "parameters": {"signal": f"dataset:{dataset}"}}
    )
    assert code == 400 and body["error"]["details"][0]["path"] == "/parameters/signal"
    code, _ = await bob.call("POST", "dataset", b"x", project=ada_project, name="x.bin")
    assert code == 404


async def test_other_users_process_cannot_be_subscribed(api, ws_connect):
    created = await api.as_user("ada").submit("sleep", {"seconds": 0})
    ws = await ws_connect("bob")
    ws.write_message(json.dumps({"subscribe": {"process": created["id"]}}))
    reply = await ws_recv(ws)
    assert reply["type"] == "error" and reply["code"] == "not_found"
    ws.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "environments"),
        ("GET", "process-types"),
        ("GET", "projects"),
        ("POST", "process"),
        ("GET", "process"),
        ("GET", "process/1"),
        ("POST", "process/1/versions/1/cancel"),
        ("GET", "process/1/versions/1/logs"),
        ("GET", "dataset"),
        ("POST", "dataset"),
        ("GET", "dataset/1"),
        ("POST", "estimate"),
        ("GET", "account"),
        ("GET", "openapi.json"),
        ("GET", "no/such/route"),
    ],
)
async def test_requests_without_a_token_are_refused_with_json(api, method, path):
    code, body = await api.call(method, path, headers={"Authorization": ""})
    assert code == 403
    assert body["error"]["code"] == "forbidden"


async def test_websocket_without_a_token_is_refused(jp_ws_fetch):
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as error:
        await jp_ws_fetch("nagelfluh", "api", "events", headers={"Authorization": ""})
    assert error.value.code == 403
