"""A version's provenance as a user reads it: what produced it, whether it came from the
cache, and whether an exact re-run reproduced its original.

The API's records (``provenance``, ``cached_from``, ``rerun_of``, ``reproducibility``
of a version) stay the data; this only words them. Digests are shortened for the eye
(the first 12 hex digits tell outputs apart); the whole ones stay in the data.
"""

from __future__ import annotations

import html
import json
from typing import Any

from .states import state_text
from .table import Table, pairs_html, pairs_text, when

SHORT_DIGEST = 12
DIGEST_PREFIX = "sha256:"


def short_digest(digest: str | None) -> str:
    """``sha256:0123456789ab``; a type's own version (``"2.1"``) as it is."""
    if not digest:
        return "unknown"
    if digest.startswith(DIGEST_PREFIX):
        return digest[: len(DIGEST_PREFIX) + SHORT_DIGEST]
    return digest


def version_ref(ref: dict[str, Any]) -> str:
    return f"process {ref['process']} v{ref['version']}"


def reproducibility_text(result: dict[str, Any] | None) -> str:
    """``identical``, ``differs: a.nc, b.nc``, or why there is no verdict (yet)."""
    if result is None:
        return ""
    state = result["state"]
    if state == "differs":
        return "differs: " + ", ".join(result["differing"])
    if state == "pending":
        return "pending (the re-run has not ended)"
    if state == "failed":
        return "failed (the re-run did not complete: nothing to compare)"
    return str(state)


def origin(version: dict[str, Any]) -> str:
    """Where a version's outputs came from, when not simply from its own run."""
    cached = version.get("cached_from")
    if cached:
        return f"cached from {version_ref(cached)}"
    original = version.get("rerun_of")
    if original:
        verdict = reproducibility_text(version.get("reproducibility"))
        return f"re-run of {version_ref(original)}" + (f": {verdict}" if verdict else "")
    return ""


def _cache_text(version: dict[str, Any], cache: dict[str, Any]) -> str:
    """What the cache made of the version; the server's reason where it says why
    (bypassed, waiting, uncacheable), the source version of a hit."""
    status, reason = cache["status"], cache["reason"]
    if status == "hit" and version.get("cached_from"):
        return f"hit: cached from {version_ref(version['cached_from'])}"
    if status == "miss" and cache["key"]:
        return f"miss (key {short_digest(cache['key'])})"
    return status + (f": {reason}" if reason and status != "hit" else "")


def _environment_text(environment: dict[str, Any]) -> str:
    parts = [environment["name"]]
    if environment.get("image"):
        parts.append(f"image {environment['image']}")
    parts.append(f"digest {short_digest(environment['digest'])}")
    if environment.get("image_digest") and environment["image_digest"] != environment["digest"]:
        parts.append(f"ran {short_digest(environment['image_digest'])}")
    if environment.get("python"):
        parts.append(environment["python"])
    return ", ".join(parts)


def _resources_text(resources: dict[str, Any]) -> str:
    return (
        f"cpu {resources['cpu']}, memory {resources['memory']}, "
        f"deadline {resources['deadline_seconds']:g} s"
    )


def _exit_text(version: dict[str, Any], record: dict[str, Any]) -> str:
    if record["exit_code"] is not None:
        return str(record["exit_code"])
    if version.get("cached_from"):
        return "none: nothing ran (cache hit)"
    return "none seen"


def _outputs_text(version: dict[str, Any], record: dict[str, Any]) -> str:
    outputs = record["outputs"]
    lines = [f"{o['name']} (dataset {o['dataset']}) {short_digest(o['digest'])}" for o in outputs]
    more = version.get("output_count", len(outputs)) - len(outputs)
    if more > 0:
        lines.append(f"and {more} more (all with digests in %nagel datasets --process)")
    return "\n".join(lines) or "none"


def provenance_rows(version: dict[str, Any]) -> list[tuple[str, str]]:
    """A version's provenance as labelled lines; a version from before provenance was
    recorded says so rather than showing nothing."""
    rows = [("state", state_text(version["state"], version.get("reason")))]
    record = version.get("provenance")
    if record is None:
        return [*rows, ("provenance", "none recorded (the version predates provenance)")]
    kind = record["process_type"]
    inputs = [
        f"{i['parameter']}: dataset {i['dataset']} {i['name']} {short_digest(i['digest'])}"
        for i in record["inputs"]
    ]
    rows += [
        ("process type", f"{kind['name']} {short_digest(kind['version'])}"),
        ("runner", record["runner_version"] or "unknown"),
        ("environment", _environment_text(record["environment"])),
        ("executor", record["executor"] or "unknown"),
        ("parameters", json.dumps(record["parameters"], separators=(",", ":"), sort_keys=True)),
        ("inputs", "\n".join(inputs) or "none"),
        ("resources", _resources_text(record["resources"])),
        ("started", when(record["started"]) or "not yet"),
        ("finished", when(record["finished"]) or "not yet"),
        ("exit status", _exit_text(version, record)),
        ("outputs", _outputs_text(version, record)),
        ("cache", _cache_text(version, record["cache"])),
    ]
    if version.get("rerun_of"):
        rows.append(("re-run of", version_ref(version["rerun_of"])))
        rows.append(("reproducibility", reproducibility_text(version.get("reproducibility"))))
    return rows


def _cost(version: dict[str, Any]) -> Any:
    cost = version["cost"]
    return cost["actual"] if cost["actual"] is not None else cost["estimated"]


class VersionHistory:
    """``%nagel versions``: a row per version (state, cost, origin, parameters), then
    each version's provenance; ``items`` keeps the versions as the API gave them."""

    def __init__(self, process: int, versions: list[dict[str, Any]]) -> None:
        self.process = process
        self.items = versions
        rows = [
            (
                v["version"],
                state_text(v["state"], v.get("reason")),
                when(v["created"]),
                _cost(v),
                origin(v),
                json.dumps(v["parameters"], separators=(",", ":")),
            )
            for v in versions
        ]
        columns = ["version", "state", "created", "cost", "origin", "parameters"]
        self.summary = Table(columns, rows, versions, caption=f"process {process}")
        self._blocks = [(v["version"], provenance_rows(v)) for v in versions]

    def __repr__(self) -> str:
        blocks = [f"v{number} provenance\n{pairs_text(rows)}" for number, rows in self._blocks]
        return "\n\n".join([repr(self.summary), *blocks])

    def _repr_html_(self) -> str:
        details = "".join(
            f"<details><summary>v{number} provenance</summary>{pairs_html(rows)}</details>"
            for number, rows in self._blocks
        )
        title = html.escape(f"Provenance of process {self.process}'s versions")
        return f"{self.summary._repr_html_()}<p><b>{title}</b></p>{details}"
