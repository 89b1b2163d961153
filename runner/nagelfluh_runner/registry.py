"""Process types discovered from entry points of group ``nagelfluh.process_types``.

The entry points are read straight from the ``entry_points.txt`` files of the
installed distributions instead of through ``importlib.metadata``, whose
import alone (email, zipfile, csv, ...) costs about 25 ms, three times a bare
Python start: that is paid on every process run. Resolution follows
importlib.metadata: ``sys.path`` order, the first distribution of a name wins,
and within it the first entry point of a name. ``load`` imports only the
module of the type asked for.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from nagelfluh_runner.sdk import ProcessType

GROUP = "nagelfluh.process_types"


class UnknownProcessType(LookupError):
    """No installed distribution offers a process type of this name."""

    def __str__(self) -> str:
        return str(self.args[0])


def _normalise(name: str) -> str:
    return "".join("_" if c in "-." else c for c in name.lower())


def _metadata_dirs() -> list[str]:
    """The dist-info/egg-info directories on sys.path, first distribution of a name first."""
    found = []
    seen = set()
    for entry in sys.path:
        directory = entry or os.getcwd()
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            stem, dot, suffix = name.rpartition(".")
            if not dot or suffix not in ("dist-info", "egg-info"):
                continue
            dist = _normalise(stem.partition("-")[0])
            if dist not in seen:
                seen.add(dist)
                found.append(os.path.join(directory, name))
    return found


def _parse(text: str, group: str) -> list[tuple[str, str]]:
    """``(name, "module:attr")`` pairs of ``group`` in an entry_points.txt."""
    pairs = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            pairs.append((name.strip(), value.partition("[")[0].strip()))
    return pairs


def entry_points(group: str = GROUP) -> dict[str, str]:
    """Process type name -> ``"module:attr"`` of every installed type."""
    points: dict[str, str] = {}
    for directory in _metadata_dirs():
        try:
            with open(os.path.join(directory, "entry_points.txt"), encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            continue
        for name, value in _parse(text, group):
            points.setdefault(name, value)
    return points


def names() -> list[str]:
    return sorted(entry_points())


def load(name: str) -> type[ProcessType]:
    """The ProcessType subclass registered as ``name``, importing only its module."""
    points = entry_points()
    if name not in points:
        known = ", ".join(sorted(points)) or "none installed"
        raise UnknownProcessType(f"unknown process type {name!r} (known: {known})")
    from importlib import import_module

    from nagelfluh_runner.sdk import ProcessType

    module, _, attr = points[name].partition(":")
    target: Any = import_module(module.strip())
    for part in attr.strip().split(".") if attr.strip() else ():
        target = getattr(target, part)
    if not (isinstance(target, type) and issubclass(target, ProcessType)):
        raise TypeError(f"entry point {name!r} ({points[name]}) is not a ProcessType subclass")
    if target.name != name:
        raise TypeError(
            f"entry point {name!r} names {target.__name__}, whose name is {target.name!r}"
        )
    return target


def describe_all() -> list[dict[str, Any]]:
    """Every installed type as ``{"name", "title", "description", "schema"}``, by name."""
    return [load(name).describe() for name in names()]
