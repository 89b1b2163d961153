"""Property tests: forms for generated schemas (objects of scalars, enums, arrays, nested
objects, with bounds and defaults) start valid and hold any valid value exactly."""

from __future__ import annotations

from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nagelfluh_magics.forms import SchemaForm
from nagelfluh_runner.validation import apply_defaults

NAMES = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-10, 10)
    | st.floats(-10, 10, allow_nan=False)
    | st.text(max_size=5)
)


@st.composite
def numbers(draw: Any) -> dict[str, Any]:
    integer = draw(st.booleans())
    schema: dict[str, Any] = {"type": "integer" if integer else "number"}
    low = draw(st.none() | st.integers(-1000, 1000))
    # A span of 2 or more leaves an integer strictly inside any mix of exclusive bounds.
    high = draw(st.none() | st.integers(2, 1000).map(lambda span: (low or 0) + span))
    if low is not None:
        schema["exclusiveMinimum" if draw(st.booleans()) else "minimum"] = low
    if high is not None:
        schema["exclusiveMaximum" if draw(st.booleans()) else "maximum"] = high
    return schema


@st.composite
def strings(draw: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if draw(st.booleans()):
        schema["minLength"] = draw(st.integers(0, 3))
    if draw(st.booleans()):
        schema["maxLength"] = draw(st.sampled_from([3, 10, 300]))
    return schema


SCALARS = (
    numbers()
    | strings()
    | st.just({"type": "boolean"})
    | st.lists(JSON_SCALARS, min_size=1, max_size=4, unique_by=repr).map(lambda e: {"enum": e})
)


@st.composite
def arrays(draw: Any, items: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": draw(items)}
    low = draw(st.integers(0, 2))
    if low:
        schema["minItems"] = low
    if draw(st.booleans()):
        schema["maxItems"] = low + draw(st.integers(0, 3))
    return schema


@st.composite
def objects(draw: Any, properties: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    members = draw(st.dictionaries(NAMES, properties, min_size=1, max_size=4))
    schema: dict[str, Any] = {"type": "object", "properties": members}
    required = draw(st.lists(st.sampled_from(sorted(members)), unique=True))
    if required:
        schema["required"] = required
    if draw(st.booleans()):
        schema["additionalProperties"] = False
    return schema


def instances(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid under a generated schema."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema["type"]
    if kind in ("number", "integer"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if kind == "integer":
            return st.integers(
                None if low is None else low + ("exclusiveMinimum" in schema),
                None if high is None else high - ("exclusiveMaximum" in schema),
            )
        return st.floats(
            low, high, allow_nan=False, allow_infinity=False,
            exclude_min="exclusiveMinimum" in schema, exclude_max="exclusiveMaximum" in schema,
        )  # fmt: skip
    if kind == "string":
        return st.text(
            st.characters(codec="utf-8"),
            min_size=schema.get("minLength", 0),
            max_size=min(schema.get("maxLength", 12), 12),
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(
            instances(schema["items"]),
            min_size=schema.get("minItems", 0),
            max_size=schema.get("maxItems", schema.get("minItems", 0) + 3),
        )
    required = set(schema.get("required", []))
    members = {name: instances(sub) for name, sub in schema["properties"].items()}
    return st.fixed_dictionaries(
        {k: v for k, v in members.items() if k in required},
        optional={k: v for k, v in members.items() if k not in required},
    )


@st.composite
def with_defaults(draw: Any, schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with defaults drawn for some nodes, and for every string that must not be
    empty: a form starts such a string empty, and only a default can make that valid."""
    if schema.get("type") == "array":
        schema = {**schema, "items": draw(with_defaults(schema["items"]))}
    elif schema.get("type") == "object":
        members = {name: draw(with_defaults(sub)) for name, sub in schema["properties"].items()}
        schema = {**schema, "properties": members}
    if schema.get("minLength", 0) > 0 or draw(st.booleans()):
        schema = {**schema, "default": draw(instances(schema))}
    return schema


SCHEMAS = objects(
    st.recursive(SCALARS, lambda inner: arrays(inner) | objects(inner), max_leaves=6)
).flatmap(with_defaults)

PROPERTIES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTIES
@given(SCHEMAS)
def test_a_new_form_holds_a_valid_value_with_every_default(schema):
    form = SchemaForm(schema)
    jsonschema.Draft202012Validator(schema).validate(form.value)
    assert form.errors() == []
    assert form.value == apply_defaults(schema, form.value)


@PROPERTIES
@given(st.data())
def test_any_valid_value_round_trips_with_defaults_filled_in(data):
    schema = data.draw(SCHEMAS)
    value = data.draw(instances(schema))
    expected = apply_defaults(schema, value)
    form = SchemaForm(schema)
    form.value = value
    assert form.value == expected
    assert form.errors() == []
    assert SchemaForm(schema, form.value).value == expected
