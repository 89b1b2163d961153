"""Forms generated for the schemas in schemas/*.json, each with its valid and invalid values.

Each file holds ``schema``, the ``controls`` expected for some pointers,
``valid`` values (they round-trip, defaults filled in as the server does, and
have no errors), ``invalid`` values with the pointers of their errors (shown
on those fields) and ``unrepresentable`` values the widgets cannot hold
(refused with ValueError rather than silently changed).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest
from nagelfluh_magics.forms import SchemaForm
from nagelfluh_magics.forms.fields import Field
from nagelfluh_runner.validation import apply_defaults

CASES = sorted((Path(__file__).parent / "schemas").glob("*.json"))


@pytest.fixture(params=CASES, ids=[case.stem for case in CASES])
def case(request) -> dict[str, Any]:
    return json.loads(request.param.read_text())


def _check_control(field: Field, expected: dict[str, Any]) -> None:
    widget = field.control if hasattr(field, "control") else field
    assert type(widget).__name__ == expected["widget"]
    if "label" in expected:
        assert field.label.value == expected["label"]
    if "description" in expected:
        if expected["description"]:
            assert expected["description"] in field.help.value
            assert field.label.tooltip == expected["description"]
        else:
            assert field.help.layout.display == "none"
    if "value" in expected:
        assert widget.value == expected["value"]
    if "selected" in expected:
        assert widget.label == expected["selected"]
    if "options" in expected:
        assert [label for label, _ in widget.options] == expected["options"]
    if "min" in expected:
        assert (widget.min, widget.max) == (expected["min"], expected["max"])
    if "items" in expected:
        assert len(field.items) == expected["items"]
        assert len(field.rows.children) == expected["items"]
    if "include" in expected:
        state = None if field.include is None else field.include.value
        assert state == expected["include"]


def test_controls_show_titles_descriptions_defaults_bounds_and_options(case, datasets_provider):
    form = SchemaForm(case["schema"], datasets_provider=datasets_provider)
    for pointer, expected in case["controls"].items():
        _check_control(form.field(pointer), expected)


def test_default_value_is_what_the_server_would_fill_in(case, datasets_provider):
    form = SchemaForm(case["schema"], datasets_provider=datasets_provider)
    assert form.value == apply_defaults(case["schema"], form.value)


def test_valid_values_round_trip_without_errors(case, datasets_provider):
    form = SchemaForm(case["schema"], datasets_provider=datasets_provider)
    for value in case["valid"]:  # one form for all: setting a value leaves nothing behind
        form.value = value
        assert form.value == apply_defaults(case["schema"], value)
        assert form.errors() == []
        fresh = SchemaForm(case["schema"], value, datasets_provider=datasets_provider)
        assert fresh.value == form.value


def test_invalid_values_show_their_errors_on_the_offending_fields(case, datasets_provider):
    form = SchemaForm(case["schema"], datasets_provider=datasets_provider)
    for invalid in case["invalid"]:
        form.value = invalid["value"]
        errors = form.errors()
        assert sorted({e["path"] for e in errors}) == sorted(invalid["errors"])
        form.show_errors(errors)
        for field in form.fields():
            expected = [e["message"] for e in errors if e["path"] == field.pointer]
            assert field.messages == expected
            assert (field.error.layout.display != "none") == bool(expected)
            assert field.error in field.widget.children
            for message in expected:
                assert html.escape(message) in field.error.value


def test_values_the_widgets_cannot_hold_are_refused(case, datasets_provider):
    form = SchemaForm(case["schema"], datasets_provider=datasets_provider)
    for value in case.get("unrepresentable", []):
        with pytest.raises(ValueError):
            form.value = value
