"""Whatever JSON a client sends as parameters or resources, the server answers with the
stored, valid snapshot or a 400 naming fields, never anything else."""

from __future__ import annotations

import re

import jsonschema
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from nagelfluh_runner.registry import describe_all

from nagelfluh_lab.errors import ValidationFailed
from nagelfluh_lab.resources import QUANTITY_PATTERN, Resources, parse_resources
from nagelfluh_lab.services.catalog import validate_parameters
from tests.server.test_openapi import check_component, load_document

SCHEMAS = {t["name"]: t["schema"] for t in describe_all()}
DEFAULTS = Resources(1.0, 2**30, 3600.0)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def _near_valid(schema: dict) -> st.SearchStrategy:
    """Objects using the schema's own property names with arbitrary values."""
    names = sorted(schema.get("properties", {})) or ["x"]
    return st.dictionaries(st.sampled_from(names), json_values, max_size=len(names))


@pytest.mark.parametrize("type_name", sorted(SCHEMAS))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_parameters_are_stored_valid_or_refused_with_field_paths(type_name, data):
    schema = SCHEMAS[type_name]
    parameters = data.draw(st.one_of(_near_valid(schema), json_values))
    try:
        stored = validate_parameters(schema, parameters)
    except ValidationFailed as error:
        assert error.status == 400
        assert error.details and all(d["path"].startswith("/parameters") for d in error.details)
        return
    jsonschema.validate(stored, schema)
    assert set(stored) >= {k for k, v in schema["properties"].items() if "default" in v}


@settings(max_examples=300, deadline=None)
@given(
    body=st.one_of(
        json_values,
        st.dictionaries(
            st.sampled_from(["cpu", "memory", "deadline_seconds", "gpu"]), json_values, max_size=3
        ),
    )
)
def test_resources_parse_or_are_refused_with_the_field(body):
    try:
        resources = parse_resources(body, DEFAULTS)
    except ValidationFailed as error:
        assert error.details[0]["path"].startswith("/resources")
        return
    assert resources.cpu > 0 and resources.memory >= 16 * 2**20
    assert 0 < resources.deadline_seconds <= 30 * 86400


@pytest.mark.parametrize(("cpu", "cores"), [(0.5, 0.5), ("500m", 0.5), ("2", 2.0), (1e-3, 0.001)])
def test_cpu_accepts_cores_and_millicores(cpu, cores):
    assert parse_resources({"cpu": cpu}, DEFAULTS).cpu == cores


def test_cpu_below_one_millicore_is_refused_not_rounded_to_zero():
    with pytest.raises(ValidationFailed) as error:
        parse_resources({"cpu": 0.0001}, DEFAULTS)
    assert error.value.details[0]["path"] == "/resources/cpu"


def test_cpu_is_bounded_before_rounding_as_the_document_states():
    for cpu in (0.0009995, 1024.0004, 10**400):  # round to 0.001 and 1024; overflow a float
        with pytest.raises(ValidationFailed):
            parse_resources({"cpu": cpu}, DEFAULTS)
    assert parse_resources({"cpu": 1024}, DEFAULTS).cpu == 1024


@pytest.mark.parametrize(
    "memory", ["9" * 400, "9Ei", 2**63, "2Pi"], ids=["400 digits", "9Ei", "2**63", "2Pi"]
)
def test_memory_beyond_1pi_is_refused_not_a_crash(memory):
    """Past a float (``int(inf)``) or the database's 64-bit integers these were 500s."""
    with pytest.raises(ValidationFailed) as error:
        parse_resources({"memory": memory}, DEFAULTS)
    assert error.value.details[0]["path"] == "/resources/memory"


@pytest.mark.parametrize("resources", [{"cpu": " 1"}, {"cpu": "500m\n"}, {"memory": "512Mi "}])
def test_quantities_are_read_exactly_as_the_document_patterns_say(resources):
    with pytest.raises(ValidationFailed):
        parse_resources(resources, DEFAULTS)


@pytest.mark.parametrize(
    ("resources", "parsed"),
    [
        ({"cpu": "1e3"}, (1000.0, DEFAULTS.memory)),
        ({"cpu": "+500m"}, (0.5, DEFAULTS.memory)),
        ({"cpu": "1e-1"}, (0.1, DEFAULTS.memory)),
        ({"cpu": "2."}, (2.0, DEFAULTS.memory)),
        ({"memory": "+1Gi"}, (DEFAULTS.cpu, 2**30)),
        ({"memory": "1e9"}, (DEFAULTS.cpu, 10**9)),
        ({"memory": "1.5Gi"}, (DEFAULTS.cpu, 3 * 2**29)),
        ({"memory": "0.1Gi"}, (DEFAULTS.cpu, 107374183)),  # a byte's fraction is a byte
    ],
)
def test_kubernetes_quantity_notation_is_accepted(resources, parsed):
    got = parse_resources(resources, DEFAULTS)
    assert (got.cpu, got.memory) == parsed
    check_component(load_document(), "Resources", resources)


def test_the_document_states_the_quantity_grammar_the_server_reads():
    properties = load_document()["components"]["schemas"]["Resources"]["properties"]
    assert properties["cpu"]["anyOf"][1]["pattern"] == QUANTITY_PATTERN
    assert properties["memory"]["anyOf"][0]["pattern"] == QUANTITY_PATTERN


@settings(max_examples=300, deadline=None)
@given(text=st.from_regex(QUANTITY_PATTERN, fullmatch=True))
def test_a_string_of_the_documents_pattern_is_a_quantity_in_or_out_of_range(text):
    for field in ("cpu", "memory"):
        try:
            parse_resources({field: text}, DEFAULTS)
        except ValidationFailed as error:
            [detail] = error.details
            assert detail["path"] == f"/resources/{field}"
            assert detail["message"].startswith("must be at least"), detail


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=12))
def test_a_string_off_the_documents_pattern_is_refused(text):
    assume(not re.fullmatch(QUANTITY_PATTERN[1:-1], text))
    for field in ("cpu", "memory"):
        with pytest.raises(ValidationFailed) as error:
            parse_resources({field: text}, DEFAULTS)
        assert "is not a" in error.value.details[0]["message"]


@pytest.mark.parametrize("text", ["NaN", "Infinity", "1_000", "-1", "1K", "1ki", "1e", "1e3m"])
def test_what_decimal_would_take_but_kubernetes_does_not_is_refused(text):
    with pytest.raises(ValidationFailed):
        parse_resources({"cpu": text}, DEFAULTS)
