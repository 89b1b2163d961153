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
