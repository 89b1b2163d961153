"""Parameter validation at run start, without paying for jsonschema.

``import jsonschema`` costs 0.1-1.4 s (TOOLCHAIN.md), which would dominate
every short process. Parameter schemas use a small common subset of draft
2020-12; this module validates that subset itself, with jsonschema's
semantics (bools are not numbers, 1.0 is an integer, ``enum`` compares 1 and
True as different), and hands any schema using more to jsonschema, imported
only then. A property test keeps the two in agreement.
"""

from __future__ import annotations

import re

from .pointer import join, located, tokens

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Keywords the lean validator asserts.
ASSERTIONS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "enum", "const",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
        "maxLength", "pattern", "items", "minItems", "maxItems", "$ref",
    }
)  # fmt: skip
# Keywords draft 2020-12 never asserts (format neither, without a format checker).
ANNOTATIONS = frozenset(
    {
        "title", "description", "default", "examples", "$comment", "$schema", "$defs",
        "definitions", "format", "readOnly", "writeOnly", "deprecated",
        "contentMediaType", "contentEncoding",
    }
)  # fmt: skip
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})


class Issue:
    """One validation failure: the JSON pointer of the offending value and what is wrong."""

    __slots__ = ("message", "path")

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message

    def __repr__(self) -> str:
        return f"Issue({self.path!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Issue) and (self.path, self.message) == (other.path, other.message)

    def __hash__(self) -> int:
        return hash((self.path, self.message))

    def __str__(self) -> str:
        return f"{self.path or '/'}: {self.message}"

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


def resolve(schema: Any, root: Any) -> Any:
    """``schema`` with a local ``$ref`` followed (siblings of $ref are not merged)."""
    seen = set()
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        if ref in seen:
            raise ValueError(f"circular $ref {ref!r}")
        seen.add(ref)
        schema = _follow(root, ref)
    return schema


def _follow(root: Any, ref: object) -> Any:
    if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
        raise ValueError(f"only local $ref pointers are supported: {ref!r}")
    target = root
    for token in tokens(ref[1:]):
        target = target[int(token)] if isinstance(target, list) else target[token]
    return target


def is_lean(schema: Any, root: Any = None) -> bool:
    """Whether the lean validator covers ``schema`` entirely (else jsonschema is used)."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict):
        return False
    root = schema if root is None else root
    for key, value in schema.items():
        if key not in ASSERTIONS and key not in ANNOTATIONS and not key.startswith("x-"):
            return False
        if key == "$schema" and value != DRAFT_2020_12:
            return False
        if key == "$ref" and not (
            isinstance(value, str) and (value == "#" or value.startswith("#/"))
        ):
            return False
        if key == "type" and not _known_types(value):
            return False
    children: list[Any] = []
    for key in ("properties", "$defs", "definitions"):
        if isinstance(schema.get(key), dict):
            children += schema[key].values()
    for key in ("items", "additionalProperties"):
        if key in schema:
            children.append(schema[key])
    return all(is_lean(child, root) for child in children)


def _known_types(value: Any) -> bool:
    types = [value] if isinstance(value, str) else value
    return isinstance(types, list) and all(isinstance(t, str) and t in _TYPES for t in types)


def _is_type(instance: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(instance, dict)
    if kind == "array":
        return isinstance(instance, list)
    if kind == "string":
        return isinstance(instance, str)
    if kind == "boolean":
        return isinstance(instance, bool)
    if kind == "null":
        return instance is None
    if isinstance(instance, bool):
        return False
    if kind == "integer":
        return isinstance(instance, int) or (isinstance(instance, float) and instance.is_integer())
    return isinstance(instance, (int, float))


def _unbool(value: Any) -> Any:
    return ("bool", value) if isinstance(value, bool) else value


def _equal(one: Any, two: Any) -> bool:
    """JSON equality as jsonschema has it: 1 == 1.0, but True != 1."""
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, (list, tuple)) and isinstance(two, (list, tuple)):
        return len(one) == len(two) and all(map(_equal, one, two))
    if isinstance(one, dict) and isinstance(two, dict):
        return len(one) == len(two) and all(k in two and _equal(v, two[k]) for k, v in one.items())
    return _unbool(one) == _unbool(two)


def _check_number(schema: dict[str, Any], instance: Any, path: str, out: list[Issue]) -> None:
    if "minimum" in schema and instance < schema["minimum"]:
        out.append(Issue(path, f"{instance!r} is less than the minimum of {schema['minimum']!r}"))
    if "maximum" in schema and instance > schema["maximum"]:
        out.append(
            Issue(path, f"{instance!r} is greater than the maximum of {schema['maximum']!r}")
        )
    if "exclusiveMinimum" in schema and instance <= schema["exclusiveMinimum"]:
        limit = schema["exclusiveMinimum"]
        out.append(Issue(path, f"{instance!r} is less than or equal to the minimum of {limit!r}"))
    if "exclusiveMaximum" in schema and instance >= schema["exclusiveMaximum"]:
        limit = schema["exclusiveMaximum"]
        out.append(
            Issue(path, f"{instance!r} is greater than or equal to the maximum of {limit!r}")
        )


def _check_sized(
    schema: dict[str, Any],
    instance: str | list[Any],
    path: str,
    out: list[Issue],
    words: tuple[str, str],
) -> None:
    low, high = words
    if low in schema and len(instance) < schema[low]:
        text = "should be non-empty" if schema[low] == 1 else "is too short"
        out.append(Issue(path, f"{instance!r} {text}"))
    if high in schema and len(instance) > schema[high]:
        text = "is expected to be empty" if schema[high] == 0 else "is too long"
        out.append(Issue(path, f"{instance!r} {text}"))


def _check_object(
    schema: dict[str, Any], instance: dict[str, Any], path: str, root: Any, out: list[Issue]
) -> None:
    for name in schema.get("required", ()):
        if name not in instance:
            out.append(Issue(join(path, name), f"{name!r} is a required property"))
    properties = schema.get("properties", {})
    for name, subschema in properties.items():
        if name in instance:
            _check(subschema, instance[name], join(path, name), root, out)
    extra = schema.get("additionalProperties", True)
    if extra is True:
        return
    extras = [name for name in instance if name not in properties]
    if extra is False and extras:
        names = ", ".join(repr(name) for name in sorted(extras))
        verb = "was" if len(extras) == 1 else "were"
        out.append(
            Issue(path, f"Additional properties are not allowed ({names} {verb} unexpected)")
        )
    elif isinstance(extra, dict):
        for name in extras:
            _check(extra, instance[name], join(path, name), root, out)


def _check(schema: Any, instance: Any, path: str, root: Any, out: list[Issue]) -> None:
    if schema is True:
        return
    if schema is False:
        out.append(Issue(path, f"False schema does not allow {instance!r}"))
        return
    if "$ref" in schema:
        _check(_follow(root, schema["$ref"]), instance, path, root, out)
    if "type" in schema:
        types = schema["type"]
        types = [types] if isinstance(types, str) else types
        if not any(_is_type(instance, kind) for kind in types):
            out.append(Issue(path, f"{instance!r} is not of type {', '.join(map(repr, types))}"))
    if "enum" in schema and not any(_equal(value, instance) for value in schema["enum"]):
        out.append(Issue(path, f"{instance!r} is not one of {schema['enum']!r}"))
    if "const" in schema and not _equal(schema["const"], instance):
        out.append(Issue(path, f"{schema['const']!r} was expected"))
    if _is_type(instance, "number"):
        _check_number(schema, instance, path, out)
    elif isinstance(instance, str):
        _check_sized(schema, instance, path, out, ("minLength", "maxLength"))
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            out.append(Issue(path, f"{instance!r} does not match {schema['pattern']!r}"))
    elif isinstance(instance, list):
        _check_sized(schema, instance, path, out, ("minItems", "maxItems"))
        if "items" in schema:
            for index, item in enumerate(instance):
                _check(schema["items"], item, join(path, index), root, out)
    elif isinstance(instance, dict):
        _check_object(schema, instance, path, root, out)


def _jsonschema_issues(schema: Any, instance: Any) -> list[Issue]:
    from jsonschema import Draft202012Validator

    return [
        Issue(pointer, error.message)
        for pointer, error in located(Draft202012Validator(schema).iter_errors(instance))
    ]


def validate(schema: Any, instance: Any) -> list[Issue]:
    """Everything wrong with ``instance`` under the draft 2020-12 ``schema`` (empty: valid).

    A missing required property is reported at its own path (``/signal``), so a
    form can mark the field; other issues at the offending value's path.
    """
    if not is_lean(schema):
        return _jsonschema_issues(schema, instance)
    issues: list[Issue] = []
    _check(schema, instance, "", schema, issues)
    return issues


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def apply_defaults(schema: Any, params: Any, root: Any = None) -> Any:
    """A copy of ``params`` with every absent property that has a default filled in.

    Recurses into nested objects and arrays of objects, so a partially given
    component (``{"frequency": 5}``) gets its other fields' defaults too.
    """
    root = schema if root is None else root
    schema = resolve(schema, root)
    if not isinstance(schema, dict):
        return _copy(params)
    if isinstance(params, dict):
        properties = schema.get("properties", {})
        filled = {}
        for name, value in params.items():
            filled[name] = apply_defaults(properties.get(name, True), value, root)
        for name, subschema in properties.items():
            subschema = resolve(subschema, root)
            if name not in filled and isinstance(subschema, dict) and "default" in subschema:
                filled[name] = apply_defaults(subschema, _copy(subschema["default"]), root)
        return filled
    if isinstance(params, list):
        return [apply_defaults(schema.get("items", True), item, root) for item in params]
    return params
