"""The structured diff behind ``compare``: what a user sees as changed."""

from __future__ import annotations

from nagelfluh_lab.services.diff import diff


def test_an_integer_and_the_same_float_are_not_a_change():
    assert diff({"rate": 100.0, "n": 3}, {"rate": 100, "n": 3.0}) == []


def test_a_boolean_is_not_the_same_as_a_number():
    assert diff({"flag": True}, {"flag": 1}) == [
        {"path": "/flag", "op": "changed", "old": True, "new": 1}
    ]


def test_nested_changes_are_addressed_by_json_pointer():
    old = {"components": [{"frequency": 5.0}], "window": "hann"}
    new = {"components": [{"frequency": 7}], "units": "nm", "window": "hann"}
    assert diff(old, new) == [
        {"path": "/components/0/frequency", "op": "changed", "old": 5.0, "new": 7},
        {"path": "/units", "op": "added", "old": None, "new": "nm"},
    ]


def test_a_parameter_name_with_slash_or_tilde_is_escaped_in_the_change_path():
    """So that a client unescaping the pointer finds that very parameter."""
    assert diff({"a/b": 1, "m~n": {"x": 1}}, {"a/b": 2, "m~n": {"x": 2}}) == [
        {"path": "/a~1b", "op": "changed", "old": 1, "new": 2},
        {"path": "/m~0n/x", "op": "changed", "old": 1, "new": 2},
    ]
