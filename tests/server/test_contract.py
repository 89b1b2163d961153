"""One contract: the server's models (``nagelfluh_lab.shapes``) and the OpenAPI document
(``nagelfluh_lab/openapi.json``) say the same of every answer and event.

The serializers are typed to return the models, which mypy checks (the last test);
each schema an answer or event uses has the structure of the model of its name (same
properties, required fields, types, nullability and enums); the labextension's types
are generated from the document. So a field added, dropped, renamed or made nullable
on one side only fails here.
"""

from __future__ import annotations

import copy
import pathlib
import subprocess
import sys
from typing import Any

import pytest
from pydantic import TypeAdapter

from nagelfluh_lab import shapes
from tests.openapi_shapes import (
    component,
    load_document,
    named_components,
    response_schemas,
    shape,
)

pytest.importorskip("mypy", reason="the type check needs mypy (the test extra)")

REPO = pathlib.Path(__file__).parents[2]
DOCUMENT = load_document()
TYPED = [
    "nagelfluh_lab/shapes.py",
    "nagelfluh_lab/services/serialize.py",
    "nagelfluh_lab/errors.py",
]


def answered_components(document: dict) -> list[str]:
    """Every schema an answer (a JSON body of any status) or a server event uses."""
    names: set[str] = set()
    for schema in response_schemas(document).values():
        names |= named_components(document, schema)
    return sorted(names | named_components(document, {"$ref": "#/components/schemas/ServerEvent"}))


def model_shape(model: Any) -> Any:
    schema = TypeAdapter(model).json_schema()
    return shape(schema, schema)


@pytest.mark.parametrize("name", answered_components(DOCUMENT))
def test_every_answer_schema_has_the_structure_of_its_model(name):
    model = getattr(shapes, name, None)
    assert model is not None, f"the schema {name} has no model in nagelfluh_lab.shapes"
    assert component(DOCUMENT, name) == model_shape(model)


def test_the_answers_and_events_of_the_contract_are_all_covered():
    covered = set(answered_components(DOCUMENT))
    for name in (
        "Project ProjectList Environment EnvironmentList ProcessType ProcessTypeList "
        "BrokenProcessType Dataset DatasetMeta DatasetList DatasetVariable Version Process "
        "ProcessPage LogLine LogPage Transaction Account Estimate Change Compare Error "
        "ErrorCode ErrorDetails FieldError LogEvent StateEvent ProgressEvent DatasetsEvent "
        "ResyncEvent ErrorEvent ServerEvent DatasetView DatasetGrid ViewColumn"
    ).split():
        assert name in covered, name


@pytest.mark.parametrize(
    ("name", "drift"),
    [
        ("Dataset", lambda s: s["required"].remove("digest")),
        ("Dataset", lambda s: s["properties"]["digest"].update(type="string")),
        ("Dataset", lambda s: s["properties"].pop("title")),
        ("Version", lambda s: s["properties"]["state"]["enum"].append("paused")),
        ("Version", lambda s: s["properties"]["resources"]["required"].pop()),
        ("LogLine", lambda s: s["properties"]["seq"].update(type="number")),
        ("DatasetMeta", lambda s: s["allOf"][1]["properties"]["units"].pop("additionalProperties")),
        ("StateEvent", lambda s: s["required"].append("progress")),
        ("ResyncEvent", lambda s: s["oneOf"].pop()),
    ],
)
def test_a_schema_drifting_from_its_model_is_caught(name, drift):
    drifted = copy.deepcopy(DOCUMENT)
    drift(drifted["components"]["schemas"][name])
    assert component(drifted, name) != model_shape(getattr(shapes, name))


def test_the_models_and_what_builds_them_type_check_under_strict(tmp_path):
    """The serializers build the models field by field (the repository's mypy settings)."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path), *TYPED],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [line for line in result.stdout.splitlines() if line.startswith(tuple(TYPED))]
    assert not errors, "\n".join(errors)
    assert "checked 3 source files" in result.stdout or "in 3 source files" in result.stdout, (
        result.stdout + result.stderr
    )
