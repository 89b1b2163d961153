"""The structure of JSON Schemas, to compare the OpenAPI document with the types of the
code that speaks the API: the server's models (``nagelfluh_lab.shapes``) and what the
kernel client reads.

``shape`` reduces a schema to what a value's type and fields are: objects with their
properties and required names, arrays with their items, scalar types, enums, and
unions (``anyOf``, ``oneOf`` and type lists alike, flattened and sorted), every
``$ref`` and ``allOf`` inlined. Annotations and bounds (descriptions, examples,
minimum, pattern, ...) are left out: the document says those, and types cannot.
"""

from __future__ import annotations

import json
import pathlib
from functools import reduce
from typing import Any

from nagelfluh_runner.pointer import tokens

import nagelfluh_lab

DOCUMENT_FILE = pathlib.Path(nagelfluh_lab.__file__).parent / "openapi.json"
# Keywords that say nothing about a value's structure when beside a $ref.
ANNOTATIONS = {"description", "title", "examples", "default", "deprecated"}


def load_document() -> dict:
    return json.loads(DOCUMENT_FILE.read_text())


def lookup(root: dict, ref: str) -> Any:
    """What a local ``#/...`` reference names in ``root``."""
    assert ref.startswith("#/"), f"{ref} is not a local reference"
    node: Any = root
    for part in tokens(ref[1:]):
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def shape(schema: Any, root: dict) -> Any:
    """The structure of ``schema``, its references resolved in ``root``."""
    if schema is True or schema == {}:
        return {}
    parts = [shape(lookup(root, schema["$ref"]), root)] if "$ref" in schema else []
    parts += [shape(part, root) for part in schema.get("allOf", ())]
    return reduce(_merge, parts, _own(schema, root))


def _own(schema: dict, root: dict) -> Any:
    """The structure ``schema`` gives by its own keywords (not $ref nor allOf)."""
    if "const" in schema or "enum" in schema:
        values = [schema["const"]] if "const" in schema else schema["enum"]
        return {"enum": sorted(json.dumps(value) for value in values)}
    alternatives = schema.get("anyOf", schema.get("oneOf"))
    if alternatives is not None:
        return _union([shape(alternative, root) for alternative in alternatives])
    kind = schema.get("type")
    if isinstance(kind, list):
        return _union([_own({**schema, "type": one}, root) for one in kind])
    if kind == "array":
        return {"type": "array", "items": shape(schema.get("items", {}), root)}
    if kind == "object" or "properties" in schema or "required" in schema:
        found: dict[str, Any] = {"type": "object"}
        if schema.get("properties"):
            found["properties"] = {k: shape(v, root) for k, v in schema["properties"].items()}
        if schema.get("required"):
            found["required"] = sorted(schema["required"])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            found["additionalProperties"] = shape(extra, root)
        return found
    return {"type": kind} if kind else {}


def _union(members: list[Any]) -> Any:
    flat: dict[str, Any] = {}
    for member in members:
        for one in member["anyOf"] if "anyOf" in member else [member]:
            flat[json.dumps(one, sort_keys=True)] = one
    if len(flat) == 1:
        return next(iter(flat.values()))
    return {"anyOf": [flat[key] for key in sorted(flat)]}


def _merge(one: Any, other: Any) -> Any:
    """Both structures at once (``allOf``, or a ``$ref`` refined beside it)."""
    if not one or not other:
        return one or other
    assert one.get("type") == other.get("type") == "object", (one, other)
    properties = {**one.get("properties", {}), **other.get("properties", {})}
    required = sorted({*one.get("required", ()), *other.get("required", ())})
    return {
        **one,
        **other,
        **({"properties": properties} if properties else {}),
        **({"required": required} if required else {}),
    }


def component(document: dict, name: str) -> Any:
    return shape(document["components"]["schemas"][name], document)


def response_schemas(document: dict) -> dict[tuple[str, str, str], Any]:
    """The JSON body schema of every documented answer, by (method, path, status)."""
    found = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, response in operation["responses"].items():
                if "$ref" in response:
                    response = lookup(document, response["$ref"])
                body = response.get("content", {}).get("application/json")
                if body is not None:
                    found[method, path, status] = body["schema"]
    return found


def named_components(document: dict, schema: Any) -> set[str]:
    """The components ``schema`` uses as they are, and those they use in turn: not one
    refined beside its ``$ref`` (``{"$ref": Resources, "required": [...]}``), which is
    another shape; the components inside it count."""
    found: set[str] = set()
    followed: set[str] = set()
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                if set(node) - ANNOTATIONS == {"$ref"}:
                    found.add(ref.rsplit("/", 1)[1])
                if ref not in followed:
                    followed.add(ref)
                    pending.append(lookup(document, ref))
            pending.extend(value for key, value in node.items() if key != "$ref")
    return found
