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
    return _load(name, points[name])


def _load(name: str, value: str) -> type[ProcessType]:
    from importlib import import_module

    from nagelfluh_runner.sdk import ProcessType

    module, _, attr = value.partition(":")
    target: Any = import_module(module.strip())
    for part in attr.strip().split(".") if attr.strip() else ():
        target = getattr(target, part)
    if not (isinstance(target, type) and issubclass(target, ProcessType)):
        raise TypeError(f"entry point {name!r} ({value}) is not a ProcessType subclass")
    if target.name != name:
        raise TypeError(
            f"entry point {name!r} names {target.__name__}, whose name is {target.name!r}"
        )
    return target


def describe_all() -> list[dict[str, Any]]:
    """Every installed type as ``{"name", "title", "description", "schema"}``, by name.
    Raises the first error of a type that cannot be loaded or described."""
    return [load(name).describe() for name in names()]


def error_text(error: BaseException) -> str:
    """``"ModuleNotFoundError: No module named 'x'"``: an error as one line for a user."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def discover() -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Every installed type, each on its own: ``(described, broken)``.

    ``described`` is as ``describe_all`` gives it, of the types that load and
    describe themselves; ``broken`` holds ``{"name", "entry_point", "error"}`` of
    every other entry point (its module fails to import, it names no ProcessType,
    ``describe`` raises or returns no object), so that one broken distribution
    leaves the others usable.
    """
    described: list[dict[str, Any]] = []
    broken: list[dict[str, str]] = []
    for name, value in sorted(entry_points().items()):
        try:
            item = _load(name, value).describe()
            if not isinstance(item, dict):
                raise TypeError(f"describe() returned {type(item).__name__}, not a dict")
        except (Exception, SystemExit) as error:  # an import may well call sys.exit
            broken.append({"name": name, "entry_point": value, "error": error_text(error)})
        else:
            described.append(item)
    return described, broken
