"""The lean validator must accept exactly what jsonschema accepts, without importing it."""

from __future__ import annotations

import math
import subprocess
import sys

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nagelfluh_runner import registry
from nagelfluh_runner.validation import Issue, apply_defaults, is_lean, resolve, validate

BOOTSTRAP = ["fft", "inversion", "sleep", "synthetic-signal", "synthetic-survey"]

# A schema exercising the rest of the subset: $ref/$defs, const, nested arrays, type lists.
EXTRA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "point": {
            "type": "object",
            "properties": {"x": {"type": "number"}, "tag": {"const": "p"}},
            "required": ["x"],
            "additionalProperties": {"type": "integer"},
        }
    },
    "properties": {
        "points": {"type": "array", "items": {"$ref": "#/$defs/point"}, "maxItems": 3},
        "mode": {"type": ["string", "null"], "enum": ["a", "b", None, 1]},
        "code": {"type": "string", "pattern": "^[A-Z]{2}[0-9]?$", "minLength": 2},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "level": {"enum": [0, 1.5, [1, True]]},
        "off": {"const": False},
        "nothing": False,
        "anything": True,
    },
}

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _numbers(schema: dict, integer: bool) -> st.SearchStrategy:
    """Values in, at and just beyond the schema's bounds, as ints and floats."""
    edges = [
        schema[k]
        for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
        if k in schema
    ]
    low = min(edges, default=-100)
    high = max(edges, default=100)
    near = [v + d for v in edges for d in (-1, -0.5, 0, 0.5, 1)]
    strategies = [
        st.integers(math.floor(low) - 1, math.ceil(high) + 1),
        st.integers(math.floor(low) - 1, math.ceil(high) + 1).map(float),
    ]
    if not integer:
        strategies.append(st.floats(low - 1, high + 1))
    if near:
        strategies.append(st.sampled_from(near))
    return st.one_of(strategies)


def _strings(schema: dict) -> st.SearchStrategy:
    low = schema.get("minLength", 0)
    high = schema.get("maxLength", 8)
    strategies = [st.text(min_size=max(0, low - 1), max_size=min(high + 1, 12))]
    if schema.get("pattern", "").startswith("^dataset:"):
        strategies.append(st.integers(0, 99).map(lambda i: f"dataset:{i}"))
    if "pattern" in schema:
        strategies.append(st.from_regex(schema["pattern"], fullmatch=True))
    return st.one_of(strategies)


def instances(schema, root) -> st.SearchStrategy:
    """Instances near the schema: mostly shaped like it, valid or just off, plus any JSON."""
    schema = resolve(schema, root)
    if not isinstance(schema, dict):
        return ANY_JSON
    options = [ANY_JSON]
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
        options.append(st.sampled_from([True, False, 1, 0, 1.0, [True, 1], [1, 1]]))
    if "const" in schema:
        options.append(st.just(schema["const"]))
    kinds = schema.get("type", [])
    for kind in [kinds] if isinstance(kinds, str) else kinds:
        if kind in ("number", "integer"):
            options.append(_numbers(schema, kind == "integer"))
        elif kind == "string":
            options.append(_strings(schema))
        elif kind == "boolean":
            options.append(st.booleans())
        elif kind == "array":
            high = min(schema.get("maxItems", 3) + 1, 4)
            low = max(schema.get("minItems", 0) - 1, 0)
            options.append(
                st.lists(instances(schema.get("items", True), root), min_size=low, max_size=high)
            )
        elif kind == "object" or "properties" in schema:
            properties = schema.get("properties", {})
            shaped = st.fixed_dictionaries(
                {}, optional={name: instances(sub, root) for name, sub in properties.items()}
            )
            extra = st.dictionaries(st.sampled_from(["extra", *properties]), ANY_JSON, max_size=1)
            options.append(st.builds(lambda a, b: {**b, **a}, shaped, extra))
    return st.one_of(options)


def _schema(name: str) -> dict:
    return EXTRA if name == "extra" else registry.load(name).schema


def _property_targets() -> list[tuple[str, str]]:
    return [(name, prop) for name in [*BOOTSTRAP, "extra"] for prop in _schema(name)["properties"]]


def _agreement(schema: dict, examples: int) -> dict[bool, int]:
    """Validity counts over generated instances, failing on the first disagreement."""
    assert is_lean(schema)
    reference = jsonschema.Draft202012Validator(schema)
    seen = {True: 0, False: 0}

    @settings(max_examples=examples, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(instances(schema, schema))
    def agree(instance):
        expected = reference.is_valid(instance)
        assert (validate(schema, instance) == []) == expected, instance
        seen[expected] += 1

    agree()
    return seen


@pytest.mark.parametrize("name", [*BOOTSTRAP, "extra"])
def test_lean_validator_accepts_exactly_what_jsonschema_accepts(name):
    seen = _agreement(_schema(name), 300)
    assert seen[True] > 0
    assert seen[False] > 0


@pytest.mark.parametrize(("name", "prop"), _property_targets())
def test_lean_validator_agrees_with_jsonschema_on_each_parameter(name, prop):
    """Whole objects are rarely valid but for one field; each parameter alone is probed harder."""
    root = _schema(name)
    target = {
        "$ref": "#/$defs/target",
        "$defs": {**root.get("$defs", {}), "target": root["properties"][prop]},
    }
    seen = _agreement(target, 150)
    assert sum(seen.values()) > 0


@pytest.mark.parametrize("name", BOOTSTRAP)
def test_bootstrap_defaults_are_valid_and_every_parameter_is_documented(name):
    schema = registry.load(name).schema
    jsonschema.Draft202012Validator.check_schema(schema)
    for prop, sub in schema["properties"].items():
        assert sub.get("title") and sub.get("description"), prop
        assert "default" in sub or sub.get("format") == "nagelfluh-dataset", prop
    datasets = {p: "dataset:1" for p in schema.get("required", [])}
    assert validate(schema, apply_defaults(schema, datasets)) == []


def test_issues_carry_json_paths_of_the_offending_values():
    schema = registry.load("synthetic-signal").schema
    params = apply_defaults(
        schema, {"components": [{"frequency": 5}, {"frequency": -1, "colour": "red"}]}
    )
    params["seconds"] = 3
    assert validate(schema, params) == [
        Issue("/components/1/frequency", "-1 is less than the minimum of 0"),
        Issue("/components/1", "Additional properties are not allowed ('colour' was unexpected)"),
        Issue("", "Additional properties are not allowed ('seconds' was unexpected)"),
    ]


def test_missing_required_property_is_reported_at_its_own_path():
    schema = registry.load("fft").schema
    assert validate(schema, apply_defaults(schema, {})) == [
        Issue("/signal", "'signal' is a required property")
    ]


def test_defaults_fill_nested_objects_without_touching_given_values():
    schema = registry.load("synthetic-signal").schema
    params = apply_defaults(schema, {"components": [{"frequency": 7}], "units": "nm"})
    assert params["components"] == [{"frequency": 7, "amplitude": 1.0, "phase": 0.0}]
    assert params["units"] == "nm"
    assert params["duration"] == 10.0
    params["components"].append({})
    assert len(schema["properties"]["components"]["default"]) == 3


def test_schemas_beyond_the_subset_fall_back_to_jsonschema_with_the_same_paths():
    schema = {
        "type": "object",
        "properties": {
            "n": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "m": {"multipleOf": 3},
        },
        "required": ["k"],
    }
    assert not is_lean(schema)
    assert validate(schema, {"n": 1, "k": 0}) == []
    issues = validate(schema, {"n": "x", "m": 4})
    assert {issue.path for issue in issues} == {"/n", "/m", "/k"}


def test_lean_schemas_validate_without_importing_jsonschema():
    code = (
        "import sys\n"
        "from nagelfluh_runner import registry, validation\n"
        "schema = registry.load('sleep').schema\n"
        "assert validation.validate(schema, {'seconds': -1})\n"
        "assert 'jsonschema' not in sys.modules, 'jsonschema was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
