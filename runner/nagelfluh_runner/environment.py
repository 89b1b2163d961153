"""What an environment is, for the provenance of its runs and the cache keys of their results.

The server asks it of its own Python (local runs use that interpreter) and the
``schema`` command reports it from an image. Only ``schema`` and the server import
it: ``importlib.metadata`` costs a run's start more than the run's own imports.
"""

from __future__ import annotations

import hashlib
import platform
from importlib import metadata

RUNNER_DISTRIBUTION = "nagelfluh-runner"


def runner_version() -> str | None:
    """The installed nagelfluh-runner's version; None when run from a source tree."""
    try:
        return metadata.version(RUNNER_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def python() -> str:
    """The interpreter, e.g. ``CPython 3.12.3``."""
    return f"{platform.python_implementation()} {platform.python_version()}"


def distributions_digest() -> str:
    """``sha256:`` of the interpreter and every installed distribution's name and version,
    one per line, sorted: two environments with the same digest run the same packages."""
    names = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            names.add(f"{_normal(name)}=={dist.version}")
    text = "\n".join([python(), *sorted(names)])
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def describe() -> dict[str, str | None]:
    """``{"runner_version", "python", "digest"}``: the ``schema`` command's ``environment`` line."""
    return {
        "runner_version": runner_version(),
        "python": python(),
        "digest": distributions_digest(),
    }


def _normal(name: str) -> str:
    return "".join("-" if c in "_." else c for c in name.lower())
