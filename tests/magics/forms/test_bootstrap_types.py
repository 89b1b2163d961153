"""Forms for the process types the runner really offers (``python -m nagelfluh_runner
schema`` prints the same descriptions): what users get from ``%nagel new TYPE``."""

from __future__ import annotations

import pytest
from nagelfluh_magics.forms import SchemaForm
from nagelfluh_magics.forms.fields import ArrayField, DatasetField, ObjectField
from nagelfluh_runner.registry import describe_all
from nagelfluh_runner.validation import validate

TYPES = describe_all()


@pytest.mark.parametrize("process_type", TYPES, ids=[t["name"] for t in TYPES])
def test_every_type_form_is_valid_for_the_runner_once_its_inputs_are_chosen(
    process_type, datasets_provider
):
    schema = process_type["schema"]
    form = SchemaForm(schema, datasets_provider=datasets_provider)
    pickers = [f for f in form.fields() if isinstance(f, DatasetField)]
    missing = {e["path"] for e in form.errors()}
    assert missing == {f.pointer for f in pickers if f.pointer[1:] in schema.get("required", [])}
    for picker in pickers:
        picker.control.value = "dataset:3"
    assert form.errors() == []
    assert validate(schema, form.value) == []


def test_dataset_inputs_are_pickers_of_the_project_datasets(datasets_provider):
    types = {t["name"]: t for t in TYPES}
    for name, pointer in [("fft", "/signal"), ("inversion", "/survey")]:
        form = SchemaForm(types[name]["schema"], datasets_provider=datasets_provider)
        picker = form.field(pointer)
        assert isinstance(picker, DatasetField)
        assert [value for _, value in picker.control.options] == ["", "dataset:3", "dataset:7"]
        form.show_errors(form.errors())
        assert picker.messages == [f"'{pointer[1:]}' is a required property"]


def test_synthetic_signal_components_are_a_list_of_sub_forms():
    schema = next(t for t in TYPES if t["name"] == "synthetic-signal")["schema"]
    form = SchemaForm(schema)
    components = form.field("/components")
    assert isinstance(components, ArrayField)
    assert all(isinstance(item, ObjectField) for item in components.items)
    assert form.value["components"] == schema["properties"]["components"]["default"]
    phase = form.field("/components/1/phase").control
    assert type(phase).__name__ == "BoundedFloatText"
    assert (phase.min, phase.max, phase.value) == (-6.283185307179586, 6.283185307179586, 0.785)
    components.add()
    assert form.value["components"][-1] == {"frequency": 1.0, "amplitude": 1.0, "phase": 0.0}
    assert validate(schema, form.value) == []
