"""Provenance: what exactly produced a version, so a surprising result can be explained
and re-run.

The record is made with the version, from what the server knows at submit (the
type and its version, the environment and its digest, the validated parameters,
the inputs' content digests, the resources, the executor), and completed when the
run ends (its exit status, the image digest its pod ran, its outputs' digests).
It is stored whole on the version's row (``ProcessVersion.provenance``): later
changes to the type, the environment or the datasets never rewrite what ran.
"""

from __future__ import annotations

import functools
from typing import cast

from nagelfluh_runner import environment as runner_environment
from nagelfluh_runner import registry
from nagelfluh_runner.sdk import ProcessType

from .. import shapes
from ..db.models import Dataset, Environment, ProcessTypeRecord, ProcessVersion
from ..executors.base import RunOutcome
from .catalog import Identity

LOCAL = "local"
OUTPUTS_LISTED = 100
DIGEST_PREFIX = "@sha256:"


@functools.cache
def local_identity() -> Identity:
    """The server's own Python, which local runs use: computed once (it lists every
    installed distribution), as the interpreter does not change under a running server."""
    described = runner_environment.describe()
    return Identity(described["digest"], described["runner_version"])


def local_type_version(name: str, discovered: str | None) -> str | None:
    """The version of a type of the server's own Python as its code is now. A local run
    imports the type's module afresh, so a module edited under a running server (an
    editable install) is new code whose version must not be the one read at start-up:
    an old result would be reused for it. ``type_version`` hashes the module file as it
    is now; a declared ``version`` stays the author's word."""
    try:
        return _local_type(name).type_version()
    except Exception:  # gone or broken since start-up: the run will say so
        return discovered


@functools.cache
def _local_type(name: str) -> type[ProcessType]:
    """The class ``name`` means, found once: looking it up scans every distribution on
    ``sys.path`` (milliseconds, inside the submission's transaction), while only the
    module file's contents, which ``type_version`` reads each time, change under a server."""
    return registry.load(name)


def image_digest(pinned: str | None) -> str | None:
    """``sha256:...`` of an image reference pinned by digest (``name@sha256:...``)."""
    if pinned is None or DIGEST_PREFIX not in pinned:
        return None
    return pinned.rpartition("@")[2]


def pinned(image: str, digest: str) -> str:
    """``image`` (tagged, or pinned already) pinned by ``digest``: ``name@sha256:...``."""
    name = image.partition("@")[0]
    last = name.rpartition("/")[2]
    if ":" in last:  # a tag, not a registry's port
        name = name[: len(name) - len(last)] + last.partition(":")[0]
    return f"{name}@{digest}"


def environment_digest(env: Environment, executor: str) -> str | None:
    """The digest cache keys name the environment by: locally this server's Python (servers
    sharing a database may each have their own), else the image's, resolved when the
    environment was registered."""
    return local_identity().digest if executor == LOCAL else env.digest


def record(
    version: ProcessVersion,
    type_record: ProcessTypeRecord,
    env: Environment,
    inputs: list[shapes.ProvenanceInput],
    executor: str,
    cache: shapes.CacheRecord,
    image: str | None,
) -> shapes.Provenance:
    """The record of ``version`` as it is submitted (``image``: what a pod is to run)."""
    local = executor == LOCAL
    identity = local_identity() if local else Identity(env.digest, env.runner_version)
    return {
        "process_type": {
            "name": type_record.name,
            "version": type_record.version,
            "cacheable": type_record.cacheable,
            "kind": cast(shapes.ProcessTypeKind, type_record.kind),
            "revision": None,
        },
        "runner_version": identity.runner_version,
        "environment": {
            "name": env.name,
            "image": None if local else image,
            "digest": identity.digest,
            "image_digest": None,
            "python": runner_environment.python() if local else None,
        },
        "parameters": version.parameters,
        "inputs": inputs,
        "resources": version.resources.to_json(),
        "executor": executor,
        "started": None,
        "finished": None,
        "exit_code": None,
        "outputs": [],
        "cache": cache,
    }


def input_records(
    references: list[tuple[str, int]], datasets: list[Dataset]
) -> list[shapes.ProvenanceInput]:
    """Each reference (parameter pointer, dataset id) with its dataset's name and digest."""
    by_id = {d.id: d for d in datasets}
    return [
        {
            "parameter": path,
            "dataset": dataset_id,
            "name": by_id[dataset_id].name,
            "digest": by_id[dataset_id].digest,
        }
        for path, dataset_id in references
    ]


def stored(version: ProcessVersion) -> shapes.Provenance | None:
    return cast(shapes.Provenance | None, version.provenance)


def finish(version: ProcessVersion, outcome: RunOutcome | None, outputs: list[Dataset]) -> None:
    """Complete the record of a version that ended: its exit status, the image its pod
    ran (by digest) and its outputs' digests."""
    current = stored(version)
    if current is None:
        return
    environment = current["environment"]
    if outcome is not None and outcome.image is not None:
        environment = {**environment, "image_digest": image_digest(outcome.image)}
    version.provenance = {
        **current,
        "environment": environment,
        "exit_code": None if outcome is None else outcome.exit_code,
        "outputs": [
            {"name": d.name, "dataset": d.id, "digest": d.digest} for d in outputs[:OUTPUTS_LISTED]
        ],
    }


def set_cache(version: ProcessVersion, cache: shapes.CacheRecord) -> None:
    current = stored(version)
    if current is not None:
        version.provenance = {**current, "cache": cache}


def run_image(env: Environment, executor: str) -> str | None:
    """The image a new version of ``env`` runs: the one it was registered from, pinned by
    the digest its schema pod ran, so that what runs is what its types (and cache keys)
    were taken from, whatever its tag names by now; its image as named where no digest
    was resolved (then nothing is cached). None locally."""
    if executor == LOCAL:
        return None
    if env.image is None or env.digest is None:
        return env.image
    return pinned(env.image, env.digest)


def rerun_image(original: shapes.Provenance) -> str | None:
    """The image an exact re-run of ``original`` runs: the one its pod ran, pinned by
    digest; else its environment's digest; None where it ran locally (or nothing pins it)."""
    environment = original["environment"]
    image = environment["image"]
    digest = environment["image_digest"] or environment["digest"]
    if image is None or digest is None or original["executor"] == LOCAL:
        return image
    return pinned(image, digest)


def compare(original: dict[str, str | None], rerun: dict[str, str | None]) -> list[str]:
    """The output names whose digests differ between two versions (or that one lacks)."""
    names = original.keys() | rerun.keys()
    return sorted(
        name
        for name in names
        if name not in original
        or name not in rerun
        or original[name] is None
        or original[name] != rerun[name]
    )
