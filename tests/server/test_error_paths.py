"""Every field an error answer names is a JSON pointer (RFC 6901) to it: a name from the
request holding ``/`` or ``~`` comes back escaped, so that unescaping the path (as the
kernel's forms and the labextension do) finds that very field."""

from __future__ import annotations

import pytest
from nagelfluh_runner.pointer import tokens

NAME = "a/b~c"


def unescaped(where: str) -> pytest.MarkDecorator:
    """A call site that still writes ``f"/{name}"``: strict, so that its fix is noticed."""
    return pytest.mark.xfail(strict=True, reason=f"{where} does not escape the name")


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        pytest.param(
            "process",
            {"type": "sleep", NAME: 1},
            [NAME],
            marks=unescaped("services/submission.py (unknown field)"),
        ),
        pytest.param(
            "process/{process}/versions",
            {NAME: 1},
            [NAME],
            marks=unescaped("services/processes.py add_version (unknown field)"),
        ),
        pytest.param(
            "process",
            {"type": "sleep", "resources": {NAME: 1}},
            ["resources", NAME],
            marks=unescaped("resources.py parse_resources (unknown resource)"),
        ),
        pytest.param(
            "estimate",
            {"resources": {}, NAME: 1},
            [NAME],
            marks=unescaped("handlers/account.py (unknown field)"),
        ),
        pytest.param("environments", {"name": "geo", "image": "geo:1", NAME: 1}, [NAME]),
    ],
)
async def test_an_unknown_field_is_named_by_its_escaped_pointer(api, route, body, field):
    process = (await api.submit("sleep", {"seconds": 0}))["id"]
    code, answer = await api.call("POST", route.format(process=process), body)
    assert code == 400, answer
    [detail] = answer["error"]["details"]
    assert tokens(detail["path"]) == field, detail
