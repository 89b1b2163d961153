"""A notebook's parameters cell gives the JSON Schema of a process type.

The table in ``notebook_schemas/`` is the specification: each file holds a parameters
cell (as nbformat stores it, a list of lines), an optional metadata override, and
either the schema it must give or the error (a substring of the message, and the line
of the cell it names, null for errors of the override).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from nagelfluh_runner.notebook_schema import (
    NotebookSchemaError,
    infer_schema,
    notebook_schema,
    parameters_cell,
)
from nagelfluh_runner.protocol import DATASET_FORMAT
from nagelfluh_runner.sdk import ProcessType
from nagelfluh_runner.validation import apply_defaults, is_lean, validate

from nagelfluh_lab.services.catalog import split_described

TABLE = Path(__file__).parent / "notebook_schemas"
CASES = {path.stem: json.loads(path.read_text()) for path in sorted(TABLE.glob("*.json"))}
SCHEMAS = {name: case for name, case in CASES.items() if "schema" in case}
ERRORS = {name: case for name, case in CASES.items() if "error" in case}
# A value of each JSON type, for the required parameters a user would fill in.
SAMPLES = {"integer": 1, "number": 1.5, "string": "a", "boolean": True, "array": [], "object": {}}


def cell(case: dict[str, Any]) -> str:
    return "".join(case["cell"])


def notebook(cells: list[dict[str, Any]], metadata: dict[str, Any] | None = None) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": metadata or {}, "cells": cells}


def code(source: str | list[str], *tags: str) -> dict[str, Any]:
    metadata = {"tags": list(tags)} if tags else {}
    return {"cell_type": "code", "metadata": metadata, "source": source, "outputs": []}


def test_the_table_covers_every_rule_with_schemas_and_errors():
    assert len(SCHEMAS) >= 25
    assert len(ERRORS) >= 15


@pytest.mark.parametrize("name", SCHEMAS)
def test_a_parameters_cell_gives_the_schema_of_its_table_entry(name):
    case = SCHEMAS[name]
    assert infer_schema(cell(case), case.get("overrides")) == case["schema"]


@pytest.mark.parametrize("name", ERRORS)
def test_a_cell_without_a_schema_is_an_error_naming_its_line_and_problem(name):
    case = ERRORS[name]
    with pytest.raises(NotebookSchemaError) as raised:
        infer_schema(cell(case), case.get("overrides"))
    assert case["error"] in raised.value.message
    assert raised.value.line == case["line"]
    if case["line"] is not None:
        assert str(raised.value).startswith(f"line {case['line']}: ")


def required_values(schema: dict[str, Any]) -> dict[str, Any]:
    """What a user would give for the required parameters: a dataset, or a sample value."""
    values = {}
    for name in schema.get("required", []):
        prop = schema["properties"][name]
        if prop.get("format") == DATASET_FORMAT:
            values[name] = "dataset:1"
        else:
            values[name] = SAMPLES[prop["type"]]
    return values


@pytest.mark.parametrize("name", SCHEMAS)
def test_an_inferred_schema_is_accepted_like_any_process_types(name):
    schema = infer_schema(cell(SCHEMAS[name]), SCHEMAS[name].get("overrides"))
    notebook_type = type(
        "NotebookType",
        (ProcessType,),
        {"name": "notebook", "title": "A notebook", "description": "From a notebook.",
         "schema": schema},
    )  # fmt: skip

    types, broken = split_described([notebook_type.describe()], {})
    assert broken == []
    assert [t["name"] for t in types] == ["notebook"]
    jsonschema.Draft202012Validator.check_schema(schema)
    for prop, sub in schema["properties"].items():
        assert sub["title"] and sub["description"], prop
        assert "default" in sub or prop in schema.get("required", []), prop
    assert validate(schema, apply_defaults(schema, required_values(schema))) == []


@pytest.mark.parametrize("name", SCHEMAS)
def test_an_inferred_schema_stays_within_the_lean_validator_used_at_run_start(name):
    assert is_lean(infer_schema(cell(SCHEMAS[name]), SCHEMAS[name].get("overrides")))


def test_an_annotated_float_with_an_integer_default_is_a_number_with_a_float_default():
    prop = infer_schema("x: float = 1\n")["properties"]["x"]
    assert prop["type"] == "number"
    assert isinstance(prop["default"], float)
    assert json.dumps(prop["default"]) == "1.0"


def test_the_cell_is_parsed_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    source = f"x = open({str(marker)!r}, 'w').write('ran')\n"
    with pytest.raises(NotebookSchemaError, match="is not a literal"):
        infer_schema(source)
    assert not marker.exists()


def test_the_parameters_cell_is_the_first_code_cell_tagged_parameters():
    cells = [
        {"cell_type": "markdown", "metadata": {"tags": ["parameters"]}, "source": "# Title"},
        code("import numpy as np"),
        code(["alpha = 0.6\n", "ratio = 0.1\n"], "setup", "parameters"),
        code("alpha = 1.0\n", "parameters"),
    ]
    assert parameters_cell(notebook(cells)) == "alpha = 0.6\nratio = 0.1\n"


def test_a_notebook_without_a_parameters_cell_has_none():
    assert parameters_cell(notebook([code("x = 1\n", "injected-parameters")])) is None
    with pytest.raises(NotebookSchemaError, match="no code cell is tagged 'parameters'"):
        notebook_schema(notebook([code("x = 1\n")]))


def test_a_notebook_of_another_format_version_is_refused():
    with pytest.raises(NotebookSchemaError, match="not an nbformat 4 notebook"):
        parameters_cell({"nbformat": 3, "worksheets": []})


def test_the_notebooks_metadata_overrides_the_inferred_schema():
    metadata = {"nagelfluh": {"schema": {"properties": {"ratio": {"maximum": 1}}}}}
    schema = notebook_schema(notebook([code("ratio = 0.1  # the ratio\n", "parameters")], metadata))
    assert schema["properties"]["ratio"] == {
        "title": "Ratio",
        "description": "the ratio",
        "type": "number",
        "default": 0.1,
        "maximum": 1,
    }


def test_an_override_that_is_not_an_object_is_an_error():
    with pytest.raises(NotebookSchemaError, match="override is not a JSON object"):
        infer_schema("x = 1\n", ["x"])  # type: ignore[arg-type]
