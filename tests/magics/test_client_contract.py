"""The kernel's ``Client`` keeps to the OpenAPI document (``nagelfluh_lab/openapi.json``).

The client cannot import the server's models (it runs in the kernel's environment), so it
is checked against the document instead, by watching it work: a scenario calls every
method of ``Client`` and ``ProcessHandle``, then the ``%nagel`` commands, against a real
server, with the client's HTTP session and events socket wrapped. Each request must be
a documented operation (method and path, query parameters, headers, a JSON body that
fits the request schema); each message sent on the events socket a ``ClientMessage``;
and every answer and event hands the client JSON objects that note each field read from
them, which must be a property of the schema the document gives for that answer. A
field the client reads that the server does not document (renamed, dropped, misspelt)
fails here, wherever the client, the handle or the magics read it.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import nbformat
import numpy as np
import pytest
import websocket
from IPython.core.error import UsageError
from nagelfluh_magics import Client, NagelfluhError, ProcessHandle
from nagelfluh_magics.magics import NagelMagics
from nagelfluh_runner.netcdf import write_netcdf
from nbformat.v4 import new_code_cell, new_notebook

from tests.magics.conftest import wait_until_ended
from tests.openapi_shapes import component, load_document, lookup, response_schemas, shape
from tests.server.test_openapi import validator

DOCUMENT = load_document()
PLACEHOLDER = re.compile(r"\{[^}/]+\}")
# Headers that are no operation's parameters: the body's media type, and the token.
TRANSPORT_HEADERS = {"content-type", "authorization"}
# Operations a kernel has no use for.
NOT_FOR_KERNELS = {("get", "/openapi.json")}


@dataclass
class Recording:
    operations: list[tuple[str, str]] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)  # requests and messages off the document
    unknown_reads: list[str] = field(default_factory=list)
    reads: int = 0


class ReadJson(dict):
    """A JSON object of an answer that checks every field read from it against the
    structure (``tests.openapi_shapes.shape``) the document gives it."""

    def __init__(self, value: dict, structure: Any, where: str, recording: Recording) -> None:
        super().__init__(
            {
                key: reading(item, child(structure, key), f"{where}/{key}", recording)
                for key, item in value.items()
            }
        )
        self._structure = structure
        self._where = where
        self._recording = recording

    def _read(self, key: Any) -> None:
        self._recording.reads += 1
        if not has_field(self._structure, key):
            self._recording.unknown_reads.append(f"{self._where}: {key!r}")

    def __getitem__(self, key: Any) -> Any:
        self._read(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._read(key)
        return super().__contains__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._read(key)
        return super().get(key, default)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self._read(key)
        return super().setdefault(key, default)


def reading(value: Any, structure: Any, where: str, recording: Recording) -> Any:
    if isinstance(value, dict):
        return ReadJson(value, structure, where, recording)
    if isinstance(value, list):
        items = alternatives({"anyOf": [s.get("items", {}) for s in alternatives(structure)]})
        return [reading(v, {"anyOf": items}, f"{where}/-", recording) for v in value]
    return value


def alternatives(structure: Any) -> list[Any]:
    found = []
    for one in structure.get("anyOf", [structure]):
        found += alternatives(one) if "anyOf" in one else [one]
    return found


def objects(structure: Any) -> list[Any]:
    return [s for s in alternatives(structure) if s == {} or s.get("type") == "object"]


def free_form(structure: Any) -> bool:
    """An object whose fields the document leaves open (parameters, metadata, ...)."""
    return any("properties" not in s for s in objects(structure))


def has_field(structure: Any, key: Any) -> bool:
    return free_form(structure) or any(key in s.get("properties", {}) for s in objects(structure))


def child(structure: Any, key: str) -> Any:
    if free_form(structure):
        return {}
    found = [
        s.get("properties", {}).get(key, s.get("additionalProperties", {}))
        for s in objects(structure)
    ]
    return {"anyOf": found} if found else {}


def operation(method: str, path: str) -> str | None:
    """The document's path template of a request, literal segments before placeholders."""
    templates = [
        template
        for template, item in DOCUMENT["paths"].items()
        if method in item
        and re.fullmatch("[^/]+".join(map(re.escape, PLACEHOLDER.split(template))), path)
    ]
    return min(templates, key=lambda t: len(PLACEHOLDER.findall(t)), default=None)


def parameters(method: str, template: str, where: str) -> set[str]:
    item = DOCUMENT["paths"][template]
    declared = item.get("parameters", []) + item[method].get("parameters", [])
    return {p["name"].lower() for p in map(resolved, declared) if p["in"] == where}


def resolved(node: dict) -> dict:
    return lookup(DOCUMENT, node["$ref"]) if "$ref" in node else node


def check_request(recording: Recording, method: str, url: str, kwargs: dict) -> str:
    """The request's operation, noting where it strays from the document."""
    path = "/" + urlsplit(url).path.split("/nagelfluh/api/", 1)[1]
    template = operation(method, path)
    if template is None:
        recording.strays.append(f"{method.upper()} {path}: no such operation")
        return path
    recording.operations.append((method, template))
    label = f"{method.upper()} {template}"
    for name in set(kwargs.get("params") or {}) - parameters(method, template, "query"):
        recording.strays.append(f"{label}: query parameter {name!r} is not documented")
    headers = {h.lower() for h in kwargs.get("headers") or {}} - TRANSPORT_HEADERS
    for name in headers - parameters(method, template, "header"):
        recording.strays.append(f"{label}: header {name!r} is not documented")
    body = kwargs.get("json")
    if body is not None:
        schema = DOCUMENT["paths"][template][method]["requestBody"]["content"]
        for error in validator(DOCUMENT, schema["application/json"]["schema"]).iter_errors(body):
            recording.strays.append(f"{label}: its body {body} does not fit: {error.message}")
    return template


class RecordingSocket:
    """The events socket: what the client sends must be a ClientMessage."""

    messages = validator(DOCUMENT, {"$ref": "#/components/schemas/ClientMessage"})

    def __init__(self, connection: websocket.WebSocket, recording: Recording) -> None:
        self._connection = connection
        self._recording = recording
        recording.operations.append(("get", "/events"))

    def send(self, message: str) -> None:
        for error in self.messages.iter_errors(json.loads(message)):
            self._recording.strays.append(f"events: {message} is no ClientMessage: {error}")
        self._connection.send(message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


@pytest.fixture(scope="module")
def recorded(server) -> Iterator[Recording]:
    """What a scenario of every Client and ProcessHandle method and %nagel command did
    and read."""
    recording = Recording()
    answers = response_schemas(DOCUMENT)
    events = component(DOCUMENT, "ServerEvent")
    client = Client(server.url, server.token)
    send = client.session.request

    def request(method: str, url: str, **kwargs: Any) -> Any:
        template = check_request(recording, method.lower(), url, kwargs)
        response = send(method, url, **kwargs)
        schema = answers.get((method.lower(), template, str(response.status_code)))
        if schema is not None:
            where = f"{method} {template} {response.status_code}"
            body = json.loads(response.content)
            response.json = lambda: reading(body, shape(schema, DOCUMENT), where, recording)
        return response

    receive = client._receive
    connect = client._connect
    client.session.request = request
    client._receive = lambda socket: reading(receive(socket), events, "event", recording)
    client._connect = lambda timeout: RecordingSocket(connect(timeout), recording)
    scenario(client)
    yield recording


def _notebook() -> dict:
    """A notebook with a parameters cell, to register as a type."""
    cell = new_code_cell("scale: float = 1.0\n", metadata={"tags": ["parameters"]})
    return json.loads(nbformat.writes(new_notebook(cells=[cell, new_code_cell("print(scale)")])))


def scenario(client: Client) -> None:
    environment = client.environments()[0]["name"]
    client.environment(environment)
    with pytest.raises(NagelfluhError):  # a local server registers no images
        client.register_environment("geo", "registry.example/geo:1", wait=False)
    client.type_listing()
    client.process_type(client.types()[0]["name"])
    project = client.create_project(f"contract {uuid.uuid4().hex[:6]}")["id"]
    client.projects()
    registered = client.register(_notebook(), project=project, name="contract-nb")
    client.register(_notebook(), project=project, name="contract-nb")  # unchanged: 200
    client.process_type(registered["name"], project=project)
    client.retire(registered["name"], project=project)
    client.estimate({"cpu": "500m"})
    created = client.submit("synthetic-signal", {"duration": 1}, project=project)
    process = created["id"]
    handle = ProcessHandle.of(client, created["versions"][-1])
    handle.wait(show=False)
    handle.logs()
    assert handle.provenance is not None and handle.cached_from is None
    dataset = handle.outputs[0]["id"]
    repr(handle)
    handle._repr_html_()
    client.process_page(project, limit=1)
    client.processes(project)
    client.process(process)
    client.logs(process, 1, limit=1)
    list(client.follow(process, 1))
    list(client.follow_logs(process, 1, since=1))
    client.dataset_meta(dataset)
    client.dataset_bytes(dataset, 0, 3)
    client.download(dataset, io.BytesIO())
    client.dataset_view(dataset, y=["amplitude"], points=10)
    client.datasets(project=project)
    client.new_version(process, {"duration": 1}, {"memory": "256Mi"})
    wait_until_ended(client, process, 2)
    client.compare(process, 1, 2)
    client.restore(process, 1)
    with pytest.raises(NagelfluhError):  # version 1 has ended
        client.cancel(process, 1)
    stream = client.events({"project": project}, timeout=30)
    wait_until_ended(client, process, 3)
    next(stream)
    stream.close()
    rerun = handle.rerun(wait=True, show=False)
    assert rerun.reproducibility is not None
    repr(rerun)
    client.new_version(process, {"duration": 1}, cache=False)
    wait_until_ended(client, process, 5)
    grid = io.BytesIO()
    write_netcdf(grid, None, {"z": (("y", "x"), np.arange(6.0).reshape(2, 3), {"units": "m"})})
    grid.seek(0)
    upload = client.upload(project, f"grid-{uuid.uuid4().hex[:6]}.nc", grid, "application/x-netcdf")
    client.dataset_grid(upload["id"], "z")
    client.account()
    survey = client.submit("synthetic-survey", {"nx": 3, "ny": 2}, project=project)["id"]
    stations = wait_until_ended(client, survey)["outputs"][0]["id"]
    magics(NagelMagics(client=client), project, process, dataset, stations)


def magics(nagel: NagelMagics, project: int, process: int, dataset: int, stations: int) -> None:
    """The %nagel commands, each reading the client's answers its own way."""
    for line in [
        "types",
        f"ls --project {project}",
        f"datasets --project {project}",
        f"datasets --process {process}/1",
        f"versions {process}",
        f"diff {process} 1 2",
        f"logs {process}/1",
        f"logs {process} --follow",
        f"load {dataset}",
        f"plot {dataset}",
        f"map {stations}",
        f"new sleep --project {project}",
        f"restore {process} 1 --wait",
        f"restore {process} 1 --wait --no-cache",
        f"rerun {process} --wait",
    ]:
        nagel.nagel(line)
    nagel.nagel(f"run sleep --project {project} --wait --no-cache", "seconds: 0")
    with pytest.raises(UsageError):  # its latest version has ended: a 409 error answer
        nagel.nagel(f"cancel {process}")


def test_every_request_and_message_of_the_client_is_documented(recorded):
    assert not recorded.strays


def test_every_field_the_client_reads_from_an_answer_or_event_is_documented(recorded):
    assert recorded.reads > 100, "the answers were not read through their schemas"
    assert not recorded.unknown_reads


def test_the_client_calls_every_documented_operation(recorded):
    documented = {
        (method, path)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert documented - NOT_FOR_KERNELS - set(recorded.operations) == set()


def test_a_field_read_that_the_schema_lacks_is_noted():
    recording = Recording()
    version = component(DOCUMENT, "Version")
    body = reading({"state": "failed", "parameters": {"seconds": 1}}, version, "v", recording)
    assert body["state"] == "failed" and body["parameters"]["seconds"] == 1
    assert body.get("status") is None and "cause" not in body
    assert recording.unknown_reads == ["v: 'status'", "v: 'cause'"]


def test_a_request_off_the_document_is_noted():
    recording = Recording()
    api = "http://host/base/nagelfluh/api/"
    check_request(recording, "get", api + "process/1/history", {})
    check_request(recording, "get", api + "process", {"params": {"page": 2}})
    check_request(recording, "post", api + "estimate", {"json": {"resources": {"gpu": 1}}})
    check_request(recording, "get", api + "dataset/1", {"headers": {"If-Match": "x"}})
    assert len(recording.strays) == 4, recording.strays
