"""Resource requests in Kubernetes' own notation (``0.5``/``"500m"`` CPU, ``"512Mi"`` memory).

Quantities are read by the Kubernetes client's own ``parse_quantity``, after a check
against the quantity grammar of Kubernetes (the OpenAPI document's pattern, the same
regular expression), which keeps out what ``decimal.Decimal`` alone would take
(``"NaN"``, ``"Infinity"``, ``" 1"``, ``"1_000"``).
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from nagelfluh_runner.pointer import join

from .errors import field_error
from .shapes import AppliedResources

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
# Kubernetes' <quantity>: a sign, a decimal number, then a binary (Ki...) or decimal SI
# suffix (n, u, m, k, M...) or a decimal exponent (e3, E-2). A minus sign is left out:
# no request is negative. Also in openapi.json (Resources), which a test keeps equal.
QUANTITY_PATTERN = r"^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$"
_QUANTITY = re.compile(QUANTITY_PATTERN.removeprefix("^").removesuffix("$"))
MIN_CPU, MAX_CPU = Decimal("0.001"), Decimal(1024)
MIN_MEMORY = 16 * 2**20
MAX_MEMORY = 2**50  # 1Pi: far beyond any node, well inside the database's 64-bit integers


@cache
def _quantity_module() -> ModuleType:
    """``kubernetes.utils.quantity``. Importing it by name runs ``kubernetes/__init__``,
    which imports the whole API client (1.8-3.8 s here) that a server on the local
    executor never needs; the module itself needs only ``decimal``, so it is loaded
    from its file, unless the client is imported already (the Kubernetes executor)."""
    loaded = sys.modules.get("kubernetes.utils.quantity")
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("kubernetes")
    if package is None or not package.submodule_search_locations:
        raise ImportError("the kubernetes client is not installed")
    path = Path(next(iter(package.submodule_search_locations))) / "utils" / "quantity.py"
    spec = importlib.util.spec_from_file_location("nagelfluh_lab._kubernetes_quantity", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_quantity(value: str) -> Decimal | None:
    """A Kubernetes quantity's exact value, or None if ``value`` is not one (or its
    exponent is beyond what a decimal holds)."""
    if not _QUANTITY.fullmatch(value):
        return None
    try:
        return _quantity_module().parse_quantity(value)
    except (ValueError, ArithmeticError):
        return None


@dataclass(frozen=True)
class Resources:
    cpu: float
    memory: int
    deadline_seconds: float

    def to_json(self) -> AppliedResources:
        return {
            "cpu": self.cpu,
            "memory": format_memory(self.memory),
            "deadline_seconds": self.deadline_seconds,
        }


def parse_cpu(value: Any, path: str = "/resources/cpu") -> float:
    if isinstance(value, bool):
        raise field_error(path, "must be a number of cores or a quantity such as '500m'")
    cores: Decimal | None = None
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        cores = Decimal(value)  # exact: 400 digits do not overflow it as float() would
    elif isinstance(value, str):
        cores = parse_quantity(value)
        if cores is None and _QUANTITY.fullmatch(value):  # an exponent beyond any bound
            raise field_error(path, "must be at least 1m (0.001 cores) and at most 1024 cores")
    if cores is None:
        raise field_error(path, f"{value!r} is not a CPU quantity (e.g. 0.5, '500m' or '1e-1')")
    # Checked before rounding, as the OpenAPI document states it: 0.0009 is refused too.
    if not MIN_CPU <= cores <= MAX_CPU:
        raise field_error(path, "must be at least 1m (0.001 cores) and at most 1024 cores")
    return round(float(cores), 3)


def parse_memory(value: Any, path: str = "/resources/memory") -> int:
    if isinstance(value, bool):
        raise field_error(path, "must be a memory quantity such as '512Mi'")
    size: Decimal | None = None
    if isinstance(value, int):
        size = Decimal(value)
    elif isinstance(value, str):
        size = parse_quantity(value)
        if size is None and _QUANTITY.fullmatch(value):
            raise field_error(path, "must be at least 16Mi and at most 1Pi")
    if size is None:
        raise field_error(
            path,
            f"{value!r} is not a memory quantity (e.g. '512Mi', '1Gi' or '1e9'; units Ki, Mi, "
            "Gi, Ti, Pi, Ei, k, M, G, T, P, E)",
        )
    if not MIN_MEMORY <= size <= MAX_MEMORY:
        raise field_error(path, "must be at least 16Mi and at most 1Pi")
    return math.ceil(size)  # a fraction of a byte counts as a byte, as in Kubernetes


def parse_deadline(value: Any, path: str = "/resources/deadline_seconds") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise field_error(path, "must be a number of seconds")
    if not 0 < value <= 30 * 86400:
        raise field_error(path, "must be more than 0 and at most 30 days")
    return float(value)


def format_memory(size: int) -> str:
    for unit, factor in sorted(_BINARY.items(), key=lambda item: -item[1]):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def parse_resources(body: Any, defaults: Resources) -> Resources:
    """Resources from a request body's ``resources`` object, defaults filling gaps."""
    if body is None:
        return defaults
    if not isinstance(body, dict):
        raise field_error("/resources", "must be an object with cpu, memory, deadline_seconds")
    unknown = set(body) - {"cpu", "memory", "deadline_seconds"}
    if unknown:
        raise field_error(join("/resources", sorted(unknown)[0]), "unknown resource")
    return Resources(
        cpu=parse_cpu(body["cpu"]) if "cpu" in body else defaults.cpu,
        memory=parse_memory(body["memory"]) if "memory" in body else defaults.memory,
        deadline_seconds=(
            parse_deadline(body["deadline_seconds"])
            if "deadline_seconds" in body
            else defaults.deadline_seconds
        ),
    )
