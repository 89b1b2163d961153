"""JSON pointers as every Python part of Nagelfluh writes them (nagelfluh_runner.pointer)."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from nagelfluh_runner.pointer import join, located, tokens


@pytest.mark.parametrize(
    ("parts", "pointer"),
    [((), ""), (("a",), "/a"), (("a/b", "m~n"), "/a~1b/m~0n"), (("items", 0), "/items/0"),
     (("",), "/"), (("~1",), "/~01")],
)  # fmt: skip
def test_a_field_name_with_slash_or_tilde_round_trips(parts, pointer):
    assert join("", *parts) == pointer
    assert tokens(pointer) == [str(part) for part in parts]


def test_a_pointer_without_a_leading_slash_is_refused():
    with pytest.raises(ValueError, match="not a JSON pointer"):
        tokens("a/b")


def test_each_missing_required_property_is_located_at_its_own_pointer():
    """Read from the schema and the instance, not from jsonschema's English message."""
    schema = {
        "type": "object",
        "required": ["a/b", "c", "d"],
        "properties": {
            "nested": {"type": "object", "required": ["x~y"]},
            "n": {"type": "integer"},
        },
    }
    errors = Draft202012Validator(schema).iter_errors({"c": 1, "nested": {}, "n": "two"})
    assert sorted(pointer for pointer, _ in located(errors)) == [
        "/a~1b", "/d", "/n", "/nested/x~0y",
    ]  # fmt: skip
