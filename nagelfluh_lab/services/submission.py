"""Submission: a request to run becomes a stored version, and the spec that runs it.

Everything a version must pass before it exists is checked here, inside the
request's transaction: its fields, its parameters against the type's schema, its
resources against the executor's quota, its input datasets (of the project, and
readable), and the HOLD of its estimated cost. Nothing runs yet: the caller hands
the spec to the run lifecycle once the transaction has committed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from nagelfluh_runner.pointer import join
from nagelfluh_runner.storage import Storage
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import shapes
from ..db.models import (
    Dataset,
    Environment,
    IdempotencyKey,
    Process,
    ProcessTypeRecord,
    ProcessVersion,
    User,
    VersionInput,
)
from ..errors import Conflict, field_error
from ..executors.base import SYSTEM, Executor, LogLine, RunKey, RunSpec
from ..resources import Resources, parse_resources
from . import access, cache, catalog, provenance
from .billing import Billing
from .event_relay import Journal
from .log_store import append_logs

log = logging.getLogger(__name__)

PROCESS_FIELDS = {"project", "type", "name", "parameters", "resources", "cache"}


@dataclass(frozen=True)
class Submission:
    """A stored version and what is left to do once its transaction has committed: run
    it, let it wait for identical work in flight (``waiting``), or announce that it
    completed from the cache (``reused``)."""

    spec: RunSpec
    version_id: int
    project_id: int
    reused: cache.Reused | None = None
    waiting: bool = False
    notes: list[LogLine] = dataclasses.field(default_factory=list)
    first_note: int = 0


@dataclass(frozen=True)
class Submitter:
    """What new versions are checked against and recorded with."""

    billing: Billing
    default_resources: Resources
    executor: Executor  # whose quota bounds what one run may request
    server_id: str  # the server that runs what it submits
    storage: Storage  # where a cache hit's outputs must still be
    journal: Journal  # what a cache hit or a wait is announced to other servers in

    def new_process(
        self, session: Session, user: User, body: dict[str, Any]
    ) -> tuple[Process, Submission]:
        """A process of ``body``'s type in its project (the user's first by default),
        with its version 1."""
        if "project" in body:
            project = access.get_project(session, user, body["project"])
        else:
            project = access.user_projects(session, user)[0]
        record = catalog.get_type(session, body.get("type"), user, "/type", project.id)
        name = body.get("name", record.title or record.name)
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise field_error("/name", "must be a non-empty string of at most 255 characters")
        process = Process(
            project_id=project.id, type_name=record.name, name=name.strip(), created_by=user.id
        )
        session.add(process)
        session.flush()
        return process, self.new_version(session, user, process, record, body)

    def new_version(
        self,
        session: Session,
        user: User,
        process: Process,
        record: ProcessTypeRecord,
        body: dict[str, Any],
        rerun_of: ProcessVersion | None = None,
    ) -> Submission:
        """Validate and store a new version (HOLD placed), decide what the cache makes of
        it, and say what is left to do. ``rerun_of``: the version it re-runs exactly (its
        image pinned, the cache bypassed)."""
        unknown = set(body) - PROCESS_FIELDS
        if unknown:
            raise field_error(join("", sorted(unknown)[0]), "unknown field")
        for name in ("parameters", "resources"):
            if name in body and body[name] is None:  # absent takes defaults; null is no object
                raise field_error(f"/{name}", "must be an object")
        use_cache = body.get("cache", True)
        if not isinstance(use_cache, bool):
            raise field_error("/cache", "must be true or false")
        # A project's type runs the revision its original ran (an exact re-run), else its
        # current one; its schema is that revision's.
        revision = (rerun_of.type_revision if rerun_of is not None else None) or record.current
        schema = revision.schema if revision is not None else record.schema
        parameters = catalog.validate_parameters(schema, body.get("parameters"))
        resources = parse_resources(body.get("resources"), self.default_resources)
        self._check_capacity(resources)
        inputs = resolve_inputs(session, process.project_id, schema, parameters)
        number = (process.versions[-1].number + 1) if process.versions else 1
        version = ProcessVersion(
            process_id=process.id,
            number=number,
            parameters=parameters,
            cpu=resources.cpu,
            memory=resources.memory,
            deadline_seconds=resources.deadline_seconds,
            state="pending",
            cost_estimated=self.billing.estimate(resources),
            created_by=user.id,
            server=self.server_id,
            executor=self.executor.kind,
            inputs=[VersionInput(dataset_id=d.id) for d in inputs],
            type_revision=revision,
        )
        process.versions.append(version)
        session.flush()
        self.billing.hold(session, user, version, process.project_id)
        made, digest = self._provenance(version, record, inputs, rerun_of)
        version.provenance = dict(made)
        if rerun_of is not None:
            version.rerun_of_id = rerun_of.id
            version.reproducibility = {"state": "pending", "differing": []}
        session.flush()
        spec = run_spec(process, version, record.environment, inputs, self.storage.url)
        done = Submission(spec, version.id, process.project_id)
        return self._decide(
            session, version, made, cache.key_of(made, digest), done, use_cache, rerun_of
        )

    def _provenance(
        self,
        version: ProcessVersion,
        record: ProcessTypeRecord,
        inputs: list[Dataset],
        rerun_of: ProcessVersion | None,
    ) -> tuple[shapes.Provenance, str | None]:
        """The new version's provenance, and the environment digest its cache key takes:
        an exact re-run on Kubernetes runs the original's image, pinned by digest, hence
        the original's code and runner, whatever is registered now."""
        env, kind = record.environment, self.executor.kind
        original = provenance.stored(rerun_of) if rerun_of is not None else None
        if original is None:
            image = provenance.run_image(env, kind)
        else:
            image = provenance.rerun_image(original)
        revision = version.type_revision
        schema = revision.schema if revision is not None else record.schema
        references = catalog.dataset_refs(schema, version.parameters)
        made = provenance.record(
            version,
            record,
            env,
            provenance.input_records(references, inputs),
            kind,
            {"status": "miss", "key": None, "reason": None},
            image,
        )
        digest = provenance.environment_digest(env, kind)
        if revision is not None:  # a project's type: the notebook it runs names it
            made["process_type"]["version"] = revision.digest
            made["process_type"]["revision"] = revision.number
        elif kind == provenance.LOCAL:  # what the run will import, re-run or not
            made["process_type"]["version"] = provenance.local_type_version(
                record.name, record.version
            )
        if original is not None and kind != provenance.LOCAL:
            digest = provenance.image_digest(image) or digest
            made["process_type"] = {**original["process_type"], **made["process_type"]}
            if revision is None:  # a packaged type's code is the image's
                made["process_type"]["version"] = original["process_type"]["version"]
            made["runner_version"] = original["runner_version"]
            made["environment"] = {**made["environment"], "digest": digest}
        return made, digest

    def _decide(
        self,
        session: Session,
        version: ProcessVersion,
        record: shapes.Provenance,
        decided: shapes.CacheRecord,
        done: Submission,
        use_cache: bool,
        rerun_of: ProcessVersion | None,
    ) -> Submission:
        """What the cache makes of a new version (``decided``: its key, or why it has
        none): complete it from identical completed work, let it wait for identical work
        in flight, or run it (``done``)."""
        key = version.cache_key = decided["key"]
        project_id = done.project_id
        notes: list[str] = []
        if key is None:
            log.info("%s is not cached: %s", done.spec.key, decided["reason"])
        elif rerun_of is not None or not use_cache:
            why = (
                f"an exact re-run of version {rerun_of.number}"
                if rerun_of is not None
                else "the submission asked not to use the cache"
            )
            decided = {"status": "bypassed", "key": key, "reason": why}
            notes.append(f"Cache bypassed: {why} (key {key})")
        else:
            cache.lock(session, key)
            source = cache.reusable(session, self.storage, key, project_id, version.id)
            if source is not None:
                reused = cache.reuse(session, self.journal, version, source, key)
                self.billing.settle(session, version, 0.0)
                return dataclasses.replace(done, reused=reused)
            first = cache.in_flight(session, key, project_id, version.id)
            if first is not None:
                message = cache.wait_message(first, key)
                version.state, version.message = "queued", message
                version.waiting_for_id = first.id
                self.journal.state(session, version.id, "queued", None, message)
                decided = {"status": "waiting", "key": key, "reason": message}
                done = dataclasses.replace(done, waiting=True)
                notes.append(message)
        if rerun_of is not None:
            notes.insert(0, rerun_note(rerun_of, record))
        provenance.set_cache(version, decided)
        if not notes:
            return done
        lines = [LogLine(time.time(), SYSTEM, note) for note in notes]
        first_seq = append_logs(session, version.id, lines)
        self.journal.log(session, version.id, first_seq, len(lines))
        return dataclasses.replace(done, notes=lines, first_note=first_seq)

    def _check_capacity(self, resources: Resources) -> None:
        capacity = self.executor.capacity()
        if capacity is None:
            return
        cpu, memory = capacity
        if resources.cpu > cpu:
            raise field_error("/resources/cpu", f"{resources.cpu} cores exceed the quota of {cpu}")
        if resources.memory > memory:
            raise field_error(
                "/resources/memory",
                f"{resources.memory} bytes exceed the quota of {memory} bytes",
            )


def resolve_inputs(
    session: Session, project_id: int, schema: dict[str, Any], parameters: dict[str, Any]
) -> list[Dataset]:
    """The datasets the parameters name, each once: a 400 naming the parameter unless
    it is of the project and readable as its field asks."""
    inputs: dict[int, Dataset] = {}
    for path, dataset_id, field in catalog.dataset_fields(schema, parameters):
        dataset = session.get(Dataset, dataset_id)
        if dataset is None or dataset.project_id != project_id:
            raise field_error(
                path, f"dataset {dataset_id} does not exist in this process's project"
            )
        why = catalog.unreadable_reason(field, dataset.meta)
        if why is not None:
            raise field_error(
                path,
                f"dataset {dataset_id} ({dataset.name!r}) is not a readable NetCDF/CSV "
                f"file or Zarr store: {why}",
            )
        inputs[dataset.id] = dataset
    return list(inputs.values())


def rerun_note(original: ProcessVersion, record: shapes.Provenance) -> str:
    """The first log line of an exact re-run: what it repeats, and what differs from then."""
    then = provenance.stored(original)
    note = f"Exact re-run of version {original.number}: its parameters, inputs and resources"
    if record["environment"]["image"]:
        note += f", image {record['environment']['image']}"
    if then is None:
        return note
    changed = [
        f"{what} was {old}, is {new}"
        for what, old, new in (
            (
                "the process type's version",
                then["process_type"]["version"],
                record["process_type"]["version"],
            ),
            (
                "the environment's digest",
                then["environment"]["digest"],
                record["environment"]["digest"],
            ),
        )
        if old != new and record["executor"] == provenance.LOCAL
    ]
    return note + (f" (note: {'; '.join(changed)})" if changed else "")


def run_spec(
    process: Process,
    version: ProcessVersion,
    environment: Environment,
    inputs: list[Dataset],
    storage_url: str,
) -> RunSpec:
    """What the executor needs to run ``version``, but its storage credentials: those
    are minted just before it starts (they could expire while it waits in a queue).
    Its image is the one its provenance recorded (pinned by digest for an exact re-run),
    else its environment's."""
    recorded = provenance.stored(version)
    image = recorded["environment"]["image"] if recorded else None
    return RunSpec(
        key=RunKey(process.id, version.number),
        project_id=process.project_id,
        process_type=process.type_name,
        parameters=version.parameters,
        input_datasets={
            str(d.id): {"key": d.key, "mime_type": d.mime_type, "name": d.name} for d in inputs
        },
        cpu=version.cpu,
        memory=version.memory,
        deadline_seconds=version.deadline_seconds,
        storage_base=storage_url,
        image=image or environment.image,
        notebook=version.type_revision.key if version.type_revision is not None else None,
    )


def request_hash(body: dict[str, Any]) -> str:
    """What tells a retried request from another one sent with the same Idempotency-Key."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def idempotent_process(session: Session, user: User, key: str, digest: str) -> Process | None:
    """The process an earlier request with Idempotency-Key ``key`` created, if any; a 409
    if that request was a different one (``digest`` is this request's hash)."""
    seen = session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user.id, IdempotencyKey.key == key)
    )
    if seen is None:
        return None
    if seen.request_hash != digest:
        raise Conflict(
            "this Idempotency-Key was already used for a different request",
            {"idempotency_key": key, "process": seen.process_id},
        )
    return session.get_one(Process, seen.process_id)


def remember_key(session: Session, user: User, key: str, digest: str, process: Process) -> None:
    """Record that Idempotency-Key ``key`` created ``process``."""
    session.add(
        IdempotencyKey(user_id=user.id, key=key, request_hash=digest, process_id=process.id)
    )
