"""Submission: a request to run becomes a stored version, and the spec that runs it.

Everything a version must pass before it exists is checked here, inside the
request's transaction: its fields, its parameters against the type's schema, its
resources against the executor's quota, its input datasets (of the project, and
readable), and the HOLD of its estimated cost. Nothing runs yet: the caller hands
the spec to the run lifecycle once the transaction has committed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from nagelfluh_runner.pointer import join
from sqlalchemy import select
from sqlalchemy.orm import Session

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
from ..executors.base import Executor, RunKey, RunSpec
from ..resources import Resources, parse_resources
from . import access, catalog
from .billing import Billing

Submission = tuple[RunSpec, int]  # what to run, and the version's row id

PROCESS_FIELDS = {"project", "type", "name", "parameters", "resources"}


@dataclass(frozen=True)
class Submitter:
    """What new versions are checked against and recorded with."""

    billing: Billing
    default_resources: Resources
    executor: Executor  # whose quota bounds what one run may request
    server_id: str  # the server that runs what it submits
    storage_url: str

    def new_process(
        self, session: Session, user: User, body: dict[str, Any]
    ) -> tuple[Process, Submission]:
        """A process of ``body``'s type in its project (the user's first by default),
        with its version 1."""
        if "project" in body:
            project = access.get_project(session, user, body["project"])
        else:
            project = access.user_projects(session, user)[0]
        record = catalog.get_type(session, body.get("type"), user, "/type")
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
    ) -> Submission:
        """Validate and store a new version (HOLD placed); the spec to run it with, and
        the version's row id."""
        unknown = set(body) - PROCESS_FIELDS
        if unknown:
            raise field_error(join("", sorted(unknown)[0]), "unknown field")
        for field in ("parameters", "resources"):
            if field in body and body[field] is None:  # absent takes defaults; null is no object
                raise field_error(f"/{field}", "must be an object")
        parameters = catalog.validate_parameters(record.schema, body.get("parameters"))
        resources = parse_resources(body.get("resources"), self.default_resources)
        self._check_capacity(resources)
        inputs = resolve_inputs(session, process.project_id, record.schema, parameters)
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
        )
        process.versions.append(version)
        session.flush()
        self.billing.hold(session, user, version, process.project_id)
        session.flush()
        spec = run_spec(process, version, record.environment, inputs, self.storage_url)
        return spec, version.id

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


def run_spec(
    process: Process,
    version: ProcessVersion,
    environment: Environment,
    inputs: list[Dataset],
    storage_url: str,
) -> RunSpec:
    """What the executor needs to run ``version``, but its storage credentials: those
    are minted just before it starts (they could expire while it waits in a queue)."""
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
        image=environment.image,
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
