"""The OpenAPI document (nagelfluh_lab/openapi.json) stays true to the routes and their answers."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from tornado.web import RequestHandler

from nagelfluh_lab import errors
from nagelfluh_lab.handlers import ROUTES, base
from tests.openapi_shapes import load_document, lookup
from tests.server.conftest import ws_recv

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Route groups and the type of the path parameter they become in the document.
GROUPS = {r"(\d+)": "integer", r"([^/]+)": "string"}
GROUP = re.compile("|".join(re.escape(g) for g in GROUPS))
PLACEHOLDER = re.compile(r"\{([^}/]+)\}")
DOCUMENT_URI = "urn:nagelfluh-openapi"


def implemented_methods(handler: type) -> set[str]:
    """HTTP methods a handler class overrides compared to tornado's ``RequestHandler``.

    A WebSocket handler answers ``get``; jupyter_server's ``APIHandler`` answers
    ``options`` (CORS preflight), so every REST path documents it too.
    """
    return {
        method.lower()
        for method in handler.SUPPORTED_METHODS
        if getattr(handler, method.lower()) is not getattr(RequestHandler, method.lower())
    }


def route_shape(route: str) -> tuple[str, list[str]]:
    """``process/(\\d+)/versions`` -> (``/process/{}/versions``, [``(\\d+)``])."""
    shape = "/" + GROUP.sub("{}", route)
    assert "(" not in shape, f"route {route!r} has a group this test cannot map"
    return shape, GROUP.findall(route)


def path_shape(path: str) -> tuple[str, list[str]]:
    """``/process/{process_id}/versions`` -> (``/process/{}/versions``, [``process_id``])."""
    return PLACEHOLDER.sub("{}", path), PLACEHOLDER.findall(path)


def documented_paths(document: dict) -> dict[str, str]:
    """Document paths by their shape (placeholders unnamed)."""
    shapes: dict[str, str] = {}
    for path in document["paths"]:
        shape, _ = path_shape(path)
        assert shape not in shapes, f"{path} and {shapes[shape]} are the same route"
        shapes[shape] = path
    return shapes


def path_parameters(document: dict, path: str, method: str) -> dict[str, dict]:
    item = document["paths"][path]
    declared = [
        resolve(document, p)
        for p in item.get("parameters", []) + item[method].get("parameters", [])
    ]
    return {p["name"]: p for p in declared if p["in"] == "path"}


def resolve(document: dict, node: Any) -> Any:
    """Follow a local ``$ref`` (``#/a/b``) to what it names; anything else as it is."""
    while isinstance(node, dict) and "$ref" in node:
        node = lookup(document, node["$ref"])
    return node


def keys(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [*node, *(k for value in node.values() for k in keys(value))]
    if isinstance(node, list):
        return [k for value in node for k in keys(value)]
    return []


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def validator(document: dict, schema: dict) -> jsonschema.Draft202012Validator:
    """A validator of ``schema`` whose ``#/components/schemas/...`` refs resolve in the document."""
    registry = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    return jsonschema.Draft202012Validator(rebase(schema), registry=registry)


def rebase(node: Any) -> Any:
    """Local refs of a schema taken out of the document, made to point back into it."""
    if isinstance(node, dict):
        return {
            key: DOCUMENT_URI + value if key == "$ref" else rebase(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [rebase(value) for value in node]
    return node


def check_component(document: dict, name: str, instance: Any) -> None:
    validator(document, {"$ref": f"#/components/schemas/{name}"}).validate(instance)


def check_response(
    document: dict,
    path: str,
    method: str,
    status: int,
    body: Any,
    content: str = "application/json",
) -> None:
    """``body`` fits the schema the document gives for that answer of that operation."""
    responses = document["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} does not document a {status}"
    response = resolve(document, responses[str(status)])
    validator(document, response["content"][content]["schema"]).validate(body)


# ------------------------------------------------------------ the document itself


def test_document_file_is_a_valid_openapi_3_1_document():
    document = load_document()
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "nagelfluh-lab"
    OpenAPIV31SpecValidator(document).validate()


async def test_server_serves_the_document_with_its_own_api_url(api, jp_base_url):
    served = await api.get("openapi.json")
    OpenAPIV31SpecValidator(served).validate()
    [server] = served["servers"]
    assert server["url"] == jp_base_url.rstrip("/") + "/nagelfluh/api"
    assert server["url"].endswith("/nagelfluh/api")
    assert {**served, "servers": None} == {**load_document(), "servers": None}


def test_every_ref_resolves_and_servers_point_at_the_api():
    document = load_document()
    found = refs(document)
    assert found, "the document uses no $ref at all"
    for ref in found:
        lookup(document, ref)
    assert all(s["url"].endswith("/nagelfluh/api") for s in document["servers"])


@pytest.mark.parametrize(("route", "handler"), ROUTES, ids=[r for r, _ in ROUTES])
def test_every_route_is_documented_with_exactly_its_methods(route, handler):
    document = load_document()
    shape, groups = route_shape(route)
    paths = documented_paths(document)
    assert shape in paths, f"route {route!r} is not in the document"
    path = paths[shape]
    methods = set(document["paths"][path]) & HTTP_METHODS
    assert methods == implemented_methods(handler), path
    names = path_shape(path)[1]
    for method in methods:
        declared = path_parameters(document, path, method)
        assert set(declared) == set(names), f"{method.upper()} {path} path parameters"
        for name, group in zip(names, groups, strict=True):
            assert declared[name]["required"] is True
            assert declared[name]["schema"]["type"] == GROUPS[group], f"{path}: {name}"


def test_no_documented_path_lacks_a_route():
    routed = {route_shape(route)[0] for route, _ in ROUTES}
    for shape, path in documented_paths(load_document()).items():
        assert shape in routed, f"{path} is documented but no route serves it"


def test_every_error_code_the_server_emits_is_documented():
    def subclasses(cls: type) -> list[type]:
        return [cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))]

    emitted = {cls.code for cls in subclasses(errors.ApiError)}
    emitted |= set(base._CODES.values()) | {"http_error", "internal"}
    documented = set(load_document()["components"]["schemas"]["ErrorCode"]["enum"])
    assert emitted <= documented, emitted - documented


def test_every_schema_named_in_the_contract_exists():
    schemas = load_document()["components"]["schemas"]
    for name in (
        "Project Environment ProcessType Process Version Resources Dataset DatasetMeta LogLine "
        "LogPage Transaction Account Estimate Compare Change Error ClientMessage ServerEvent "
        "LogEvent StateEvent ProgressEvent DatasetsEvent ResyncEvent ErrorEvent"
    ).split():
        assert name in schemas, name
    extensions = [key for key in keys(schemas) if key.startswith("x-")]
    assert not extensions, "the schemas are plain JSON Schema, without x- extensions"


def test_resources_schema_accepts_what_the_server_parses():
    document = load_document()
    for good in ({"cpu": 0.5, "memory": "512Mi"}, {"cpu": "500m", "deadline_seconds": 60}, {}):
        check_component(document, "Resources", good)
    for bad in ({"cpu": 0}, {"memory": "12Qi"}, {"gpu": 1}, {"deadline_seconds": -1}):
        with pytest.raises(jsonschema.ValidationError):
            check_component(document, "Resources", bad)


# ------------------------------------------------- live answers fit the document


async def test_catalog_account_and_lists_fit_their_schemas(api):
    document = load_document()
    for path, route in [
        ("/environments", "environments"),
        ("/process-types", "process-types"),
        ("/projects", "projects"),
        ("/account", "account"),
        ("/process", "process"),
        ("/dataset", "dataset"),
        ("/openapi.json", "openapi.json"),
    ]:
        check_response(document, path, "get", 200, await api.get(route))
    types = await api.get("process-types")
    assert types["items"], "no process types are registered"
    for item in types["items"]:
        check_component(document, "ProcessType", item)
        named = await api.get(f"process-types/{item['name']}")
        check_response(document, "/process-types/{name}", "get", 200, named)
    project = await api.post("projects", {"name": "survey"})
    check_response(document, "/projects", "post", 201, project)
    estimate = await api.post("estimate", {"resources": {"cpu": "500m"}}, expect=200)
    check_response(document, "/estimate", "post", 200, estimate)


async def test_error_answers_fit_the_error_schema(api):
    document = load_document()
    code, body = await api.call("GET", "process-types/no-such-type")
    assert code == 404
    check_response(document, "/process-types/{name}", "get", 404, body)
    code, body = await api.call("POST", "process", {"type": "sleep", "parameters": {"seconds": -1}})
    assert code == 400 and body["error"]["code"] == "validation_failed", body
    check_response(document, "/process", "post", 400, body)
    code, body = await api.call("POST", "estimate", {"resources": {"memory": "1Qi"}})
    assert code == 400
    check_response(document, "/estimate", "post", 400, body)
    code, body = await api.call("GET", "process", limit="0")
    assert code == 400
    check_response(document, "/process", "get", 400, body)


async def test_a_process_run_and_its_events_fit_their_schemas(api, ws_connect):
    document = load_document()
    ws = await ws_connect()
    created = await api.post(
        "process",
        {
            "type": "synthetic-signal",
            "parameters": {"duration": 1, "sample_rate": 100},
            "resources": {"cpu": "500m", "memory": "256Mi"},
        },
        headers={"Idempotency-Key": "openapi-run"},
    )
    check_response(document, "/process", "post", 201, created)
    process = created["id"]
    ws.write_message(json.dumps({"subscribe": {"process": process, "version": 1}, "since": 0}))
    ws.write_message(json.dumps({"subscribe": {"nothing": 1}}))
    events: list[dict] = []

    def ended() -> bool:
        return any(e["type"] == "state" and e["state"] in ("completed", "failed") for e in events)

    while not ended() or not any(e["type"] == "error" for e in events):
        events.append(await ws_recv(ws))
    ws.close()
    assert {"state", "log", "error"} <= {e["type"] for e in events}, events
    for message in events:
        check_component(document, "ServerEvent", message)
    check_component(document, "ClientMessage", {"subscribe": {"project": 1}})

    done = await api.wait(process)
    assert done["state"] == "completed", done
    version_path = "/process/{process_id}/versions/{version}"
    check_response(document, version_path, "get", 200, done)
    whole = await api.get(f"process/{process}")
    check_response(document, "/process/{process_id}", "get", 200, whole)
    logs = await api.get(f"process/{process}/versions/1/logs", since=0, limit=5)
    check_response(document, version_path + "/logs", "get", 200, logs)
    [dataset] = done["outputs"]
    meta = await api.get(f"dataset/{dataset['id']}/meta")
    check_response(document, "/dataset/{dataset_id}/meta", "get", 200, meta)
    listed = await api.get("dataset", process=process, version=1)
    check_response(document, "/dataset", "get", 200, listed)

    second = await api.post(f"process/{process}/versions", {"resources": {"cpu": 1}})
    check_response(document, "/process/{process_id}/versions", "post", 201, second)
    compare = await api.get(f"process/{process}/versions/compare", v1=1, v2=2)
    check_response(document, "/process/{process_id}/versions/compare", "get", 200, compare)
    assert compare["resources"] and not compare["equal"]
    await api.wait(process, 2)
    code, body = await api.call("POST", f"process/{process}/versions/1/cancel")
    assert code == 409
    check_response(document, version_path + "/cancel", "post", 409, body)
    restored = await api.post(f"process/{process}/versions/1/restore")
    check_response(document, version_path + "/restore", "post", 201, restored)
    await api.wait(process, 3)
    account = await api.get("account")
    check_response(document, "/account", "get", 200, account)
    assert {t["kind"] for t in account["transactions"]} == {"HOLD", "DEBIT", "RELEASE"}


async def test_an_upload_fits_the_dataset_schema(api):
    document = load_document()
    project = (await api.get("projects"))["items"][0]["id"]
    code, body = await api.call(
        "POST",
        "dataset",
        b"a,b\n1,2\n",
        headers={"Content-Type": "text/csv"},
        project=project,
        name="table.csv",
    )
    assert code == 201, body
    check_response(document, "/dataset", "post", 201, body)
    code, again = await api.call(
        "POST",
        "dataset",
        b"x",
        headers={"Content-Type": "text/csv"},
        project=project,
        name="table.csv",
    )
    assert code == 409
    check_response(document, "/dataset", "post", 409, again)
    code, _ = await api.call("GET", f"dataset/{body['id']}", headers={"Range": "bytes=0-2"})
    assert code == 206 and "206" in document["paths"]["/dataset/{dataset_id}"]["get"]["responses"]
    code, unsatisfiable = await api.call(
        "GET", f"dataset/{body['id']}", headers={"Range": "bytes=100-"}
    )
    assert code == 416
    check_response(document, "/dataset/{dataset_id}", "get", 416, unsatisfiable)


@pytest.mark.parametrize("route", [route for route, _ in ROUTES])
async def test_a_method_a_path_does_not_list_is_405_with_allow_naming_those_it_does(api, route):
    document = load_document()
    path = documented_paths(document)[route_shape(route)[0]]
    listed = {method.upper() for method in document["paths"][path]} & {
        method.upper() for method in HTTP_METHODS
    }
    url = PLACEHOLDER.sub("1", path).lstrip("/")
    for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} - listed):
        response = await api.fetch(method, url, b"" if method in ("PUT", "PATCH") else None)
        assert response.code == 405, (method, path)
        assert set(response.headers["Allow"].split(", ")) == listed, (method, path)
        assert json.loads(response.body)["error"]["code"] == "method_not_allowed"
