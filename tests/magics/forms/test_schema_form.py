"""How a SchemaForm behaves while a user edits it: errors on fields that clear when
fixed, list editing within bounds, optional fields, the dataset picker."""

from __future__ import annotations

from typing import Any

import pytest
from nagelfluh_magics.forms import SchemaForm, validation_errors

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "signal": {"type": "string", "format": "nagelfluh-dataset", "title": "Signal"},
        "depth": {"type": "number", "title": "Depth", "exclusiveMinimum": 0, "default": 10.0},
        "note": {"type": "string", "title": "Note"},
        "components": {
            "type": "array",
            "title": "Components",
            "minItems": 1,
            "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {
                    "frequency": {"type": "number", "minimum": 0, "default": 1.0},
                    "amplitude": {"type": "number", "minimum": 0, "default": 2.0},
                },
            },
            "default": [{"frequency": 5.0, "amplitude": 1.0}],
        },
    },
    "required": ["signal"],
}


def test_an_error_shown_on_a_field_clears_when_the_field_is_fixed(datasets_provider):
    form = SchemaForm(SCHEMA, datasets_provider=datasets_provider)
    form.value = {"signal": "dataset:3", "depth": 0.0}
    form.show_errors(form.errors())
    depth = form.field("/depth")
    assert depth.messages and depth.error.layout.display != "none"

    depth.control.value = -1.0  # still wrong: the message follows the value
    assert depth.messages == ["-1.0 is less than or equal to the minimum of 0"]
    depth.control.value = 2.5
    assert depth.messages == []
    assert depth.error.layout.display == "none"


def test_editing_one_field_leaves_the_errors_of_others(datasets_provider):
    form = SchemaForm(SCHEMA, datasets_provider=datasets_provider)
    form.show_errors(form.errors())
    assert form.field("/signal").messages == ["'signal' is a required property"]
    form.field("/depth").control.value = 3.0
    assert form.field("/signal").messages == ["'signal' is a required property"]
    form.field("/signal").control.value = "dataset:7"
    assert form.field("/signal").messages == []
    assert form.errors() == []


def test_server_errors_map_by_pointer_and_the_rest_is_handed_back(datasets_provider):
    form = SchemaForm(SCHEMA, datasets_provider=datasets_provider)
    rest = form.show_errors(
        [
            {"path": "/parameters/signal", "message": "dataset 3 is not in project 2"},
            {"path": "/parameters/components/7/frequency", "message": "no such item any more"},
            {"path": "/resources/cpu", "message": "too many cores"},
        ],
        prefix="/parameters",
    )
    assert rest == [{"path": "/resources/cpu", "message": "too many cores"}]
    assert form.field("/signal").messages == ["dataset 3 is not in project 2"]
    assert form.field("/components").messages == ["no such item any more"]


def test_list_editor_adds_items_at_their_defaults_within_min_and_max_items():
    form = SchemaForm(SCHEMA)
    components = form.field("/components")
    (only_remove,) = components._removers
    assert only_remove.disabled  # minItems 1
    components.add_button.click()
    components.add_button.click()
    assert form.value["components"][1:] == [{"frequency": 1.0, "amplitude": 2.0}] * 2
    assert components.add_button.disabled  # maxItems 3
    assert [item.label.value for item in components.items] == ["#1", "#2", "#3"]
    assert not any(button.disabled for button in components._removers)


def test_removing_an_item_renumbers_the_rest_and_their_error_pointers():
    form = SchemaForm(SCHEMA)
    components = form.field("/components")
    components.add({"frequency": 7.0})
    components.add({"frequency": -1.0})
    components._removers[1].click()
    assert [c["frequency"] for c in form.value["components"]] == [5.0, -1.0]
    assert [e["path"] for e in validation_errors(SCHEMA, form.value)] == [
        "/components/1/frequency",
        "/signal",
    ]
    form.show_errors(form.errors())
    assert form.field("/components/1/frequency").messages == ["-1.0 is less than the minimum of 0"]
    assert components.add_button.disabled is False


def test_an_optional_field_is_sent_once_edited_and_dropped_when_unticked():
    form = SchemaForm(SCHEMA)
    note = form.field("/note")
    assert "note" not in form.value and note.include.value is False
    note.control.value = "calm day"
    assert note.include.value is True
    assert form.value["note"] == "calm day"
    note.include.value = False
    assert "note" not in form.value


def test_dataset_picker_lists_the_provided_datasets_as_references(datasets_provider):
    form = SchemaForm(SCHEMA, datasets_provider=datasets_provider)
    picker = form.field("/signal").control
    assert [value for _, value in picker.options] == ["", "dataset:3", "dataset:7"]
    picker.value = "dataset:7"
    assert form.value["signal"] == "dataset:7"


def test_reloading_datasets_lists_new_ones_and_keeps_the_choice():
    listed = [{"id": 3, "name": "signal.nc", "process": 1, "version": 1, "variables": []}]
    form = SchemaForm(SCHEMA, {"signal": "dataset:3"}, datasets_provider=lambda: list(listed))
    listed[:] = [{"id": 9, "name": "spectrum.nc", "process": 2, "version": 1, "variables": []}]
    form.field("/signal").reload_button.click()
    picker = form.field("/signal").control
    assert [value for _, value in picker.options] == ["", "dataset:9", "dataset:3"]
    assert picker.label == "dataset:3 (not in the project's datasets)"
    assert form.value["signal"] == "dataset:3"


def test_without_a_provider_a_dataset_field_is_text_checked_for_the_reference_format():
    form = SchemaForm(SCHEMA, {"signal": "dataset:x"})
    assert type(form.field("/signal").control).__name__ == "Text"
    assert form.errors() == [
        {"path": "/signal", "message": "'dataset:x' is not a dataset reference (dataset:<id>)"}
    ]


def test_unparseable_json_in_a_raw_field_is_an_error_on_that_field():
    schema = {"type": "object", "properties": {"metadata": {"type": "object"}}}
    form = SchemaForm(schema)
    form.field("/metadata").control.value = '{"site": '
    (error,) = form.errors()
    assert error["path"] == "/metadata" and error["message"].startswith("not valid JSON")
    form.field("/metadata").control.value = '{"site": "Rigi"}'
    assert form.value == {"metadata": {"site": "Rigi"}} and form.errors() == []


def test_edits_are_reported_with_the_pointer_of_the_edited_field():
    form = SchemaForm(SCHEMA)
    seen: list[str] = []
    form.observe_edits(seen.append)
    form.field("/components/0/amplitude").control.value = 4.0
    form.field("/components").add_button.click()
    form.value = {"signal": "dataset:1"}
    assert seen == ["/components/0/amplitude", "/components", ""]


def test_a_refused_value_leaves_the_form_as_it_was():
    form = SchemaForm(SCHEMA, {"signal": "dataset:1", "components": [{"frequency": 2.0}] * 2})
    before = form.value
    with pytest.raises(ValueError, match=r"^/components/1/frequency: 'fast' is not a number$"):
        form.value = {"signal": "dataset:2", "components": [{}, {"frequency": "fast"}]}
    assert form.value == before
