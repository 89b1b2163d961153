"""Resource requests in Kubernetes' own notation (``0.5``/``"500m"`` CPU, ``"512Mi"`` memory)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import field_error

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?|\.[0-9]+)([A-Za-z]{0,2})$")
MIN_MEMORY = 16 * 2**20
MAX_MEMORY = 2**50  # 1Pi: far beyond any node, well inside the database's 64-bit integers


@dataclass(frozen=True)
class Resources:
    cpu: float
    memory: int
    deadline_seconds: float

    def to_json(self) -> dict:
        return {
            "cpu": self.cpu,
            "memory": format_memory(self.memory),
            "deadline_seconds": self.deadline_seconds,
        }


def parse_cpu(value: Any, path: str = "/resources/cpu") -> float:
    if isinstance(value, bool):
        raise field_error(path, "must be a number of cores or a quantity such as '500m'")
    if isinstance(value, (int, float)):
        cores = value  # float() only once in range: a 400-digit integer overflows it
    elif isinstance(value, str) and (m := _QUANTITY.fullmatch(value)) and m[2] in ("", "m"):
        cores = float(m[1]) / (1000 if m[2] == "m" else 1)
    else:
        raise field_error(path, f"{value!r} is not a CPU quantity (e.g. 0.5 or '500m')")
    # Checked before rounding, as the OpenAPI document states it: 0.0009 is refused too.
    if not 0.001 <= cores <= 1024:
        raise field_error(path, "must be at least 1m (0.001 cores) and at most 1024 cores")
    return round(float(cores), 3)


def parse_memory(value: Any, path: str = "/resources/memory") -> int:
    if isinstance(value, bool):
        raise field_error(path, "must be a memory quantity such as '512Mi'")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (m := _QUANTITY.fullmatch(value)):
        unit = m[2]
        factor = _BINARY.get(unit) or _DECIMAL.get(unit) or (1 if unit == "" else None)
        if factor is None:
            raise field_error(path, f"unknown unit {unit!r}; use Ki, Mi, Gi, Ti, k, M, G or T")
        size = float(m[1]) * factor  # int() only once in range: 400 digits make it inf
    else:
        raise field_error(path, f"{value!r} is not a memory quantity (e.g. '512Mi')")
    if not MIN_MEMORY <= size <= MAX_MEMORY:
        raise field_error(path, "must be at least 16Mi and at most 1Pi")
    return int(size)


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
        raise field_error(f"/resources/{sorted(unknown)[0]}", "unknown resource")
    return Resources(
        cpu=parse_cpu(body["cpu"]) if "cpu" in body else defaults.cpu,
        memory=parse_memory(body["memory"]) if "memory" in body else defaults.memory,
        deadline_seconds=(
            parse_deadline(body["deadline_seconds"])
            if "deadline_seconds" in body
            else defaults.deadline_seconds
        ),
    )
