"""Every field an error answer names is a JSON pointer (RFC 6901) to it: a name from the
request holding ``/`` or ``~`` comes back escaped, so that unescaping the path (as the
kernel's forms and the labextension do) finds that very field."""

from __future__ import annotations

import pytest
from nagelfluh_runner.pointer import tokens

NAME = "a/b~c"


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("process", {"type": "sleep", NAME: 1}, [NAME]),
        ("process/{process}/versions", {NAME: 1}, [NAME]),
        ("process", {"type": "sleep", "resources": {NAME: 1}}, ["resources", NAME]),
        ("estimate", {"resources": {}, NAME: 1}, [NAME]),
        ("environments", {"name": "geo", "image": "geo:1", NAME: 1}, [NAME]),
    ],
    ids=["process", "version", "resource", "estimate", "environment"],
)
async def test_an_unknown_field_is_named_by_its_escaped_pointer(api, route, body, field):
    process = (await api.submit("sleep", {"seconds": 0}))["id"]
    code, answer = await api.call("POST", route.format(process=process), body)
    assert code == 400, answer
    [detail] = answer["error"]["details"]
    assert tokens(detail["path"]) == field, detail


async def test_a_missing_parameter_is_named_at_its_own_pointer_not_its_parent(api):
    """Where a form has the field to mark; no client reads jsonschema's English for it."""
    code, answer = await api.call("POST", "process", {"type": "fft", "parameters": {}})
    assert code == 400, answer
    assert [d["path"] for d in answer["error"]["details"]] == ["/parameters/signal"]
    assert answer["error"]["details"][0]["schema_path"] == "/required"
