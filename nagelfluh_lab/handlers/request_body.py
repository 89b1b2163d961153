"""A request body's JSON, refused with a 400 naming the field unless it is plain JSON
text: what Python's ``json`` accepts beyond JSON, and strings that are no text."""

from __future__ import annotations

import json
import math
from typing import Any

from nagelfluh_runner.pointer import join

from ..errors import BadRequest, ValidationFailed, field_error


def parse_json(body: bytes) -> Any:
    """The body's JSON (``{}`` if it is empty): a 400 unless it is JSON text, naming the
    field that holds a lone UTF-16 surrogate (``"\\ud800"`` is valid JSON but no text:
    storing it fails). Python's extensions are refused too: ``NaN`` and numbers beyond a
    float (``1e999`` would be stored as ``Infinity``, which no answer may carry)."""
    if not body:
        return {}
    try:
        parsed = json.loads(body, parse_constant=_not_json, parse_float=_finite_float)
    except (ValueError, RecursionError) as error:  # also bytes that are not UTF-8
        raise BadRequest(f"the body is not valid JSON: {error}", {"path": "/"}) from error
    path = _lone_surrogate(parsed)
    if path is not None:
        raise field_error(path, "holds a lone UTF-16 surrogate, which is not text")
    return parsed


def json_object(parsed: Any) -> dict[str, Any]:
    """``parsed``, which must be a JSON object."""
    if not isinstance(parsed, dict):
        raise ValidationFailed(
            "the body must be a JSON object", [{"path": "/", "message": "must be an object"}]
        )
    return parsed


def _lone_surrogate(value: Any) -> str | None:
    """The JSON pointer of a key or string in ``value`` holding a lone UTF-16 surrogate,
    its surrogates escaped so that the answer and the log stay text; walked without
    recursion, as deep as ``json.loads`` went."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str) and not _is_text(node):
            return _escaped(path)
        if isinstance(node, dict):
            for key, child in node.items():
                pointer = join(path, key)
                if not _is_text(key):
                    return _escaped(pointer)
                stack.append((pointer, child))
        elif isinstance(node, list):
            stack.extend((join(path, index), child) for index, child in enumerate(node))
    return None


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text} is beyond a 64-bit float")
    return value


def _is_text(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _escaped(value: str) -> str:
    return value.encode(errors="backslashreplace").decode()
