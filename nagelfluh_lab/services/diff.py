"""Structured differences between two parameter snapshots."""

from __future__ import annotations

from typing import Any

from nagelfluh_runner.pointer import join

from ..shapes import Change


def diff(old: Any, new: Any, path: str = "") -> list[Change]:
    """Changes from ``old`` to ``new`` as ``{"path", "op", "old", "new"}``, by JSON pointer."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[Change] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = join(path, key)
            if key not in new:
                changes.append({"path": sub, "op": "removed", "old": old[key], "new": None})
            elif key not in old:
                changes.append({"path": sub, "op": "added", "old": None, "new": new[key]})
            else:
                changes += diff(old[key], new[key], sub)
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            c
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for c in diff(a, b, join(path, i))
        ]
    if _same(old, new):
        return []
    return [{"path": path or "/", "op": "changed", "old": old, "new": new}]


def _same(old: Any, new: Any) -> bool:
    """JSON has one number type: 100 and 100.0 are the same value (a browser form sends
    the one, a schema default may hold the other), but true is not 1."""
    numbers = (int, float)
    if isinstance(old, numbers) and isinstance(new, numbers):
        if not (isinstance(old, bool) or isinstance(new, bool)):
            return old == new
    return old == new and type(old) is type(new)
