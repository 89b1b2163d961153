"""What a form reads from a JSON Schema node: which widget edits it, its bounds, its
first value, how a dataset is labelled; and MISSING, the value of a field left out."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from nagelfluh_runner.pointer import tokens

from .validation import DATASET_FORMAT


class _Missing:
    """No value: an optional field left out, or a dataset not chosen yet."""

    def __repr__(self) -> str:
        return "MISSING"

    def __deepcopy__(self, memo: dict[int, Any]) -> _Missing:
        return self  # a singleton: fields test for it with ``is``


MISSING: Any = _Missing()


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def same_json(one: object, two: object) -> bool:
    """JSON equality: ``True`` is not ``1``, although Python says so."""
    return one == two and isinstance(one, bool) == isinstance(two, bool)


def resolve_node(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with local ``$ref``s followed; ``{}`` (edited as raw JSON) for the rest.

    Keywords beside a ``$ref`` win over the target's: ``{"$ref": ..., "title":
    "Start"}`` is how generators title a shared definition.
    """
    seen = set()
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        ref = schema["$ref"]
        if ref in seen or not ref.startswith("#"):
            return {}
        seen.add(ref)
        target: Any = root
        for token in tokens(ref[1:]):
            target = target[int(token)] if isinstance(target, list) else target.get(token)
        if not isinstance(target, dict):
            return {}
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema if isinstance(schema, dict) else {}


def widget_kind(schema: dict[str, Any]) -> str:
    """Which field edits ``schema``; ``"json"`` when no dedicated widget fits."""
    if "enum" in schema or "const" in schema:
        return "enum"
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    if kind == "string" and schema.get("format") == DATASET_FORMAT:
        return "dataset"
    if kind == "object" and not schema.get("properties"):
        return "json"
    if kind == "array" and (not isinstance(schema.get("items"), dict) or "prefixItems" in schema):
        return "json"
    return kind if kind in ("string", "number", "integer", "boolean", "object", "array") else "json"


def number_bounds(schema: dict[str, Any]) -> tuple[float | None, float | None]:
    """The tightest lower and upper bound, inclusive or not (the widget's range)."""
    lows = [schema[k] for k in ("minimum", "exclusiveMinimum") if is_number(schema.get(k))]
    highs = [schema[k] for k in ("maximum", "exclusiveMaximum") if is_number(schema.get(k))]
    return (max(lows) if lows else None, min(highs) if highs else None)


def fits_bounds(schema: dict[str, Any], value: float) -> bool:
    checks: dict[str, Callable[[float], bool]] = {
        "minimum": lambda bound: value >= bound,
        "exclusiveMinimum": lambda bound: value > bound,
        "maximum": lambda bound: value <= bound,
        "exclusiveMaximum": lambda bound: value < bound,
    }
    return all(check(schema[k]) for k, check in checks.items() if is_number(schema.get(k)))


def initial_number(schema: dict[str, Any], integer: bool) -> float:
    """A number the bounds accept, for a required number without a default: 0 if allowed."""
    low, high = number_bounds(schema)
    candidates = [0.0]
    if low is not None:
        candidates += [low, low + 1]
    if high is not None:
        candidates += [high, high - 1]
    if low is not None and high is not None:
        candidates.append((low + high) / 2)
    for candidate in candidates:
        for value in (math.ceil(candidate), math.floor(candidate)) if integer else (candidate,):
            if fits_bounds(schema, value):
                return value
    return 0 if integer else 0.0


def dataset_label(dataset: dict[str, Any]) -> str:
    """How a dataset reads in a picker: name, id, producer and its first variables."""
    origin = (
        f"process {dataset['process']} v{dataset['version']}"
        if dataset.get("process") is not None
        else "upload"
    )
    variables = [v["name"] for v in dataset.get("variables") or [] if v.get("name")]
    shown = (
        f": {', '.join(variables[:4])}{', ...' if len(variables) > 4 else ''}" if variables else ""
    )
    return f"{dataset.get('name') or dataset['id']} (#{dataset['id']}, {origin}{shown})"
