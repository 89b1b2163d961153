"""Authorization per action through jupyter_server's authorizer: every operation asks
for the one permission its OpenAPI entry names, a denied one answers a JSON 403, and
no operation needs any other (so a deployment can grant them one by one)."""

from __future__ import annotations

import pytest
from tornado.httpclient import HTTPClientError

from tests.server.conftest import USER_HEADER, RuleAuthorizer
from tests.server.test_openapi import load_document

EXAMPLES = {"process_id": "1", "version": "1", "dataset_id": "1", "name": "sleep"}


def operations() -> list[tuple[str, str, tuple[str, str]]]:
    """(method, path, (action, resource)) of every documented operation."""
    found = []
    for path, item in load_document()["paths"].items():
        for method, operation in item.items():
            if method in ("options", "parameters"):
                continue
            permission = operation["x-nagelfluh-permission"]
            found.append((method.upper(), path, (permission["action"], permission["resource"])))
    return found


OPERATIONS = operations()


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config["ServerApp"]["authorizer_class"] = RuleAuthorizer
    return jp_server_config


@pytest.fixture
def rules(started) -> RuleAuthorizer:
    authorizer = started.authorizer
    authorizer.denied, authorizer.only = set(), None
    return authorizer


async def _request(api, jp_ws_fetch, method: str, path: str) -> tuple[int, dict | None]:
    route = path.strip("/").format(**EXAMPLES)
    if route == "events":
        try:
            ws = await jp_ws_fetch("nagelfluh", "api", "events", headers={USER_HEADER: "tester"})
        except HTTPClientError as error:
            return error.code, None
        ws.close()
        return 101, None
    if (method, route) == ("POST", "dataset"):
        code, body = await api.call("POST", route, b"bytes", project=1, name="a.bin")
    else:
        code, body = await api.call(method, route, {} if method == "POST" else None)
    return code, body if isinstance(body, dict) else None


@pytest.mark.parametrize(("method", "path", "permission"), OPERATIONS,
                         ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
async def test_an_operation_whose_permission_is_denied_answers_a_json_403(
        api, jp_ws_fetch, rules, method, path, permission):
    rules.denied = {permission}

    code, body = await _request(api, jp_ws_fetch, method, path)

    assert code == 403, (code, body)
    if path != "/events":  # a refused WebSocket upgrade has no body to read
        assert body["error"]["code"] == "forbidden"
        assert permission[1] in body["error"]["message"]


@pytest.mark.parametrize(("method", "path", "permission"), OPERATIONS,
                         ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
async def test_an_operation_needs_no_permission_but_its_own(
        api, jp_ws_fetch, rules, method, path, permission):
    rules.only = permission

    code, body = await _request(api, jp_ws_fetch, method, path)

    assert code != 403, (code, body)


async def test_a_user_may_run_processes_yet_be_denied_uploads_and_environments(api, rules):
    rules.denied = {("write", "nagelfluh:datasets"), ("write", "nagelfluh:environments")}

    created = await api.submit("sleep", {"seconds": 0})
    done = await api.wait(created["id"])
    code, upload = await api.call("POST", "dataset", b"x" * 2**20, project=1, name="big.bin")
    refused, env = await api.call("POST", "environments", {"name": "geo", "image": "geo:1"})

    assert done["state"] == "completed"
    assert (code, upload["error"]["code"]) == (403, "forbidden")
    assert (refused, env["error"]["code"]) == (403, "forbidden")
    assert (await api.get("dataset"))["items"] == []


async def test_read_only_users_see_their_work_but_cannot_start_or_cancel_any(api, rules):
    created = await api.submit("sleep", {"seconds": 30})
    rules.denied = {("execute", "nagelfluh:processes")}

    seen = await api.get(f"process/{created['id']}")
    cancel, _ = await api.call("POST", f"process/{created['id']}/versions/1/cancel")
    again, _ = await api.call("POST", "process", {"type": "sleep"})

    assert seen["versions"][0]["state"] in ("pending", "queued", "running")
    assert (cancel, again) == (403, 403)
    rules.denied = set()
    await api.post(f"process/{created['id']}/versions/1/cancel", expect=200)


def test_every_documented_permission_names_a_known_resource_and_action():
    resources = {"nagelfluh:processes", "nagelfluh:datasets", "nagelfluh:environments",
                 "nagelfluh:projects", "nagelfluh:account", "nagelfluh:api"}
    for _, _, (action, resource) in OPERATIONS:
        assert action in ("read", "write", "execute") and resource in resources
