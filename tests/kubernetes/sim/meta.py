"""Object-metadata helpers shared by the API server and the controllers: timestamps
in the API's formats, conditions as ``meta.SetStatusCondition`` sets them, owner
references, quantities."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from kubernetes.utils import parse_quantity

NANOS = 1_000_000_000


def clone(obj: Any) -> Any:
    """A deep copy of a JSON object (faster than ``copy.deepcopy`` for plain dicts)."""
    return json.loads(json.dumps(obj))


def timestamp(seconds: float | None = None) -> str:
    """A ``metav1.Time``: RFC 3339 in UTC at second precision, as every API timestamp."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def timestamp_nano(nanos: int) -> str:
    """The kubelet's log timestamp: RFC 3339 with a fixed nine-digit fraction
    (``RFC3339NanoFixed``), so that timestamps sort as strings."""
    return f"{timestamp(nanos // NANOS)[:-1]}.{nanos % NANOS:09d}Z"


def condition(obj: dict, kind: str) -> dict | None:
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind), None)


def is_true(obj: dict, kind: str) -> bool:
    found = condition(obj, kind)
    return found is not None and found["status"] == "True"


def set_condition(
    status: dict, kind: str, value: bool, reason: str, message: str, **extra: Any
) -> None:
    """Set a condition in ``status``; lastTransitionTime moves only when the status
    flips, and an unchanged condition is left alone (controllers stay idempotent)."""
    text = "True" if value else "False"
    conditions = status.setdefault("conditions", [])
    found = next((c for c in conditions if c["type"] == kind), None)
    if found is None:
        conditions.append({"type": kind, "status": text, "reason": reason, "message": message,
                           "lastTransitionTime": timestamp(), **extra})
    elif (found["status"], found["reason"], found["message"]) != (text, reason, message):
        if found["status"] != text:
            found["lastTransitionTime"] = timestamp()
        found.update(status=text, reason=reason, message=message, **extra)


def controller_reference(owner: dict) -> dict:
    """The ownerReference a controller puts on what it creates."""
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def controller_uid(obj: dict) -> str | None:
    refs = obj["metadata"].get("ownerReferences", [])
    return next((ref["uid"] for ref in refs if ref.get("controller")), None)


def requests(pod_spec: dict) -> dict[str, Decimal]:
    """What a pod requests in total (its containers' requests, defaulted from limits)."""
    total: dict[str, Decimal] = {}
    for container in pod_spec.get("containers", []):
        resources = container.get("resources", {})
        wanted = {**resources.get("limits", {}), **resources.get("requests", {})}
        for name, quantity in wanted.items():
            total[name] = total.get(name, Decimal(0)) + parse_quantity(quantity)
    return total


def format_quantity(value: Decimal) -> str:
    """A quantity as the API prints it: ``1``, ``500m``, ``256Mi``."""
    if value != value.to_integral_value():
        return f"{int(value * 1000)}m"
    number = int(value)
    for suffix, factor in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if number and number % factor == 0:
            return f"{number // factor}{suffix}"
    return str(number)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (null deletes). Strategic merge patches are applied
    this way too: they differ only for lists with merge keys."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged
