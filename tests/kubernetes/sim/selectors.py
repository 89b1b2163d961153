"""Label and field selectors as the API server parses them (``labels.Parse``,
``fields.ParseSelector``): a comma is AND, ``!=`` and ``notin`` also match objects
without the label."""

from __future__ import annotations

import re
from collections.abc import Callable

from .errors import ApiError

Predicate = Callable[[dict], bool]

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_VALUE = r"[-A-Za-z0-9_.]*"
_LABEL = re.compile(
    rf"^\s*(?:(?P<absent>!)\s*(?P<absent_key>{_KEY})"
    rf"|(?P<key>{_KEY})\s*(?:(?P<op>==|=|!=)\s*(?P<value>{_VALUE})"
    rf"|\s+(?P<set_op>in|notin)\s*\((?P<values>[^)]*)\))?)\s*$"
)
_FIELD = re.compile(r"^\s*(?P<path>[A-Za-z0-9.]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^,]*?)\s*$")


def _requirements(text: str) -> list[str]:
    """Split on the commas that are not inside ``in (...)`` sets."""
    return [part for part in re.split(r",(?![^(]*\))", text) if part.strip()]


def _label_requirement(text: str) -> Predicate:
    match = _LABEL.match(text)
    if match is None:
        raise ApiError.bad_request(f"unable to parse requirement: {text!r}")
    if match["absent"]:
        key = match["absent_key"]
        return lambda labels: key not in labels
    key = match["key"]
    if match["op"]:
        value, equal = match["value"], match["op"] != "!="
        return lambda labels: (labels.get(key) == value) == equal
    if match["set_op"]:
        values = {v.strip() for v in match["values"].split(",")}
        inside = match["set_op"] == "in"
        return lambda labels: (key in labels and labels[key] in values) == inside
    return lambda labels: key in labels


def _field(obj: dict, path: str) -> str:
    value: object = obj
    for part in path.split("."):
        value = value.get(part, "") if isinstance(value, dict) else ""
    return "" if value is None else str(value)


def _field_requirement(text: str) -> Predicate:
    match = _FIELD.match(text)
    if match is None:
        raise ApiError.bad_request(f"invalid field selector: {text!r}")
    path, value, equal = match["path"], match["value"], match["op"] != "!="
    return lambda obj: (_field(obj, path) == value) == equal


def selector(labels: str | None = None, fields: str | None = None) -> Predicate:
    """One predicate for a ``labelSelector`` and a ``fieldSelector`` (any dotted path)."""
    label_tests = [_label_requirement(part) for part in _requirements(labels or "")]
    field_tests = [_field_requirement(part) for part in _requirements(fields or "")]

    def matches(obj: dict) -> bool:
        object_labels = obj["metadata"].get("labels") or {}
        return all(test(object_labels) for test in label_tests) and all(
            test(obj) for test in field_tests
        )

    return matches
